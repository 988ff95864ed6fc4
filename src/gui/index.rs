//! An index over the trace, built once per run, so that what the window shows at the cursor is
//! found without scanning the trace from its start on every frame: the transmissions in flight
//! by time, what each event's context is (the message, the connection, the resolver), the
//! events of each connection, and where hosts and links go down and up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scenario::HostId;
use crate::sim::{EventKind, Payload, Protocol, Trace, TraceEvent};

/// Flights longer than this (a connection attempt that times out, say) are few; they are kept
/// apart, so that the search for what is in flight among the many short ones (a link's
/// latency) looks back only as far as the longest of those.
const SHORT_FLIGHT_MS: u64 = 250;
const NONE: u32 = u32::MAX;

/// How a transmission is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// It carries a message (the text after DATA, or a download); a bounce is a returned one.
    Envelope { bounce: bool },
    /// A DNS query or answer.
    Dns,
    /// A POP3 or IMAP line.
    Mailbox,
    /// An SMTP line or a connection being set up.
    Line,
}

/// Something that takes time between two hosts: a transmission on a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flight {
    pub event: usize,
    pub t0: u64,
    pub t1: u64,
    /// Drawn as a packet: it has both ends and a protocol, and is not a close.
    pub drawn: Option<Drawn>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drawn {
    pub from: HostId,
    pub to: HostId,
    pub protocol: Protocol,
    pub look: Look,
}

/// A connection, or a DNS exchange (their numbers are counted apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exchange {
    pub id: u32,
    pub dns: bool,
}

impl Exchange {
    pub fn contains(&self, e: &TraceEvent) -> bool {
        e.conn() == Some(self.id) && (e.protocol == Some(Protocol::Dns)) == self.dns
    }

    fn key(self) -> u32 {
        self.id & 0x7fff_ffff | if self.dns { 0x8000_0000 } else { 0 }
    }

    fn from_key(k: u32) -> Exchange {
        Exchange {
            id: k & 0x7fff_ffff,
            dns: k & 0x8000_0000 != 0,
        }
    }
}

/// The index of one run's trace.
#[derive(Clone, Debug, Default)]
pub struct TraceIndex {
    /// Changes with every run indexed, so that caches know when to start again.
    pub generation: u64,
    /// When the last transmission arrives.
    pub end_ms: u64,
    /// Short flights, by start time, and the longest of them.
    short: Vec<Flight>,
    short_max_ms: u64,
    /// Long flights (few), by start time, and the longest of them.
    long: Vec<Flight>,
    long_max_ms: u64,
    /// Per event: the latest message, exchange and resolving host at or before it.
    message_at: Vec<u32>,
    exchange_at: Vec<u32>,
    resolver_at: Vec<u32>,
    /// Per exchange: its transcript events (lines, DNS queries and answers).
    exchange_lines: HashMap<u32, Vec<u32>>,
    /// Per message: the events that carried its text after DATA.
    data_of: Vec<Vec<u32>>,
    /// Per host: the DNS answers sent to it.
    answers_to: Vec<Vec<u32>>,
    /// Per message: whether it is a bounce.
    pub bounce: Vec<bool>,
    host_changes: Vec<u32>,
    link_changes: Vec<u32>,
    /// Queued, Deferred and Dequeued events.
    pub(super) queue_events: Vec<u32>,
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Whether an event carries the message itself (the text after DATA, or a download).
fn carries_message(trace: &Trace, e: &TraceEvent) -> bool {
    match trace.payload(e) {
        Payload::Text(t) => {
            (e.kind == EventKind::ClientLine && t.contains("\r\n") && t.ends_with("\r\n."))
                || (e.kind == EventKind::ServerLine
                    && (t.contains(" FETCH (") && t.contains("BODY[]")
                        || t.starts_with("+OK") && t.contains("octets")))
        }
        _ => false,
    }
}

/// The Message-IDs in a block of text (the headers of downloaded messages), without brackets.
fn message_ids(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n").filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("message-id")
            .then(|| value.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

fn opt(v: u32) -> Option<usize> {
    (v != NONE).then_some(v as usize)
}

impl TraceIndex {
    pub fn new(trace: &Trace, hosts: usize) -> TraceIndex {
        let n = trace.len();
        let bounce: Vec<bool> = trace
            .messages
            .iter()
            .map(|m| m.name.starts_with("bounce"))
            .collect();
        let by_id: HashMap<&str, usize> = trace
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let id = m.message_id.trim();
                (id.trim_start_matches('<').trim_end_matches('>'), i)
            })
            .collect();
        let mut index = TraceIndex {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            message_at: Vec::with_capacity(n),
            exchange_at: Vec::with_capacity(n),
            resolver_at: Vec::with_capacity(n),
            data_of: vec![Vec::new(); trace.messages.len()],
            answers_to: vec![Vec::new(); hosts],
            bounce,
            ..TraceIndex::default()
        };
        let (mut message, mut exchange, mut resolver) = (NONE, NONE, NONE);
        for (i, e) in trace.events.iter().enumerate() {
            let i32 = i as u32;
            if let Some(m) = e.message() {
                message = m;
            }
            if let (Some(conn), Some(p)) = (e.conn(), e.protocol) {
                let x = Exchange {
                    id: conn,
                    dns: p == Protocol::Dns,
                };
                exchange = x.key();
                if matches!(
                    e.kind,
                    EventKind::ClientLine
                        | EventKind::ServerLine
                        | EventKind::DnsQuery
                        | EventKind::DnsAnswer
                ) {
                    index.exchange_lines.entry(x.key()).or_default().push(i32);
                }
            }
            match e.kind {
                EventKind::DnsQuery | EventKind::DnsCacheHit => {
                    if let Some(h) = e.from() {
                        resolver = h as u32;
                    }
                }
                EventKind::DnsAnswer => {
                    if let Some(h) = e.to() {
                        resolver = h as u32;
                        if let Some(list) = index.answers_to.get_mut(h) {
                            list.push(i32);
                        }
                    }
                }
                EventKind::HostDown | EventKind::HostUp => index.host_changes.push(i32),
                EventKind::LinkDown | EventKind::LinkUp => index.link_changes.push(i32),
                EventKind::Queued | EventKind::Deferred | EventKind::Dequeued => {
                    index.queue_events.push(i32)
                }
                _ => {}
            }
            index.message_at.push(message);
            index.exchange_at.push(exchange);
            index.resolver_at.push(resolver);
            let carries = carries_message(trace, e);
            if carries
                && e.kind == EventKind::ClientLine
                && matches!(e.protocol, Some(Protocol::Smtp | Protocol::Submission))
                && let Some(m) = e.message()
                && let Some(list) = index.data_of.get_mut(m as usize)
            {
                list.push(i32);
            }
            index.end_ms = index.end_ms.max(e.arrive_ms);
            if e.arrive_ms <= e.t_ms {
                continue;
            }
            let drawn = match (e.from(), e.to(), e.protocol) {
                (Some(from), Some(to), Some(protocol)) if e.kind != EventKind::Close => {
                    let look = if carries {
                        let bounce = match e.message() {
                            Some(m) => index.bounce.get(m as usize).copied().unwrap_or(false),
                            // A download: the Message-IDs it holds tell which messages.
                            None => message_ids(&trace.text(e))
                                .filter_map(|id| by_id.get(id))
                                .any(|&m| index.bounce[m]),
                        };
                        Look::Envelope { bounce }
                    } else if protocol == Protocol::Dns {
                        Look::Dns
                    } else if matches!(protocol, Protocol::Pop3 | Protocol::Imap) {
                        Look::Mailbox
                    } else {
                        Look::Line
                    };
                    Some(Drawn {
                        from,
                        to,
                        protocol,
                        look,
                    })
                }
                _ => None,
            };
            let flight = Flight {
                event: i,
                t0: e.t_ms,
                t1: e.arrive_ms,
                drawn,
            };
            let duration = e.arrive_ms - e.t_ms;
            if duration <= SHORT_FLIGHT_MS {
                index.short.push(flight);
                index.short_max_ms = index.short_max_ms.max(duration);
            } else {
                index.long.push(flight);
                index.long_max_ms = index.long_max_ms.max(duration);
            }
        }
        // The trace is in time order; stable sorts keep it so if it ever is not.
        index.short.sort_by_key(|f| f.t0);
        index.long.sort_by_key(|f| f.t0);
        index
    }

    /// What is on its way at `now`: every flight with `t0 <= now < t1`.
    pub fn in_flight(&self, now: f64) -> impl Iterator<Item = &Flight> {
        // Only flights that started at most the longest flight's time ago can still be on
        // their way: a binary search for both ends of that stretch.
        let started = |list: &[Flight], longest: u64| {
            let from = list.partition_point(|f| ((f.t0 + longest) as f64) < now);
            let to = list.partition_point(|f| f.t0 as f64 <= now);
            from..to.max(from)
        };
        let short = started(&self.short, self.short_max_ms);
        let long = started(&self.long, self.long_max_ms);
        self.short[short]
            .iter()
            .chain(&self.long[long])
            .filter(move |f| now < f.t1 as f64)
    }

    /// A stretch of time from `start` and the flights that can be on their way within it: those
    /// on their way at `start`, then the ones leaving after it in order, up to `ahead` ms later
    /// and at most `most` of them. Returns the stretch's end and the flights; every flight with
    /// `t0 <= now < t1` for a `now` in `start..end` is among them, and the end is after `start`.
    pub fn flights_from(&self, start: u64, ahead: u64, most: usize) -> (u64, Vec<&Flight>) {
        let mut flights: Vec<&Flight> = self.in_flight(start as f64).collect();
        let later = |list: &[Flight]| list.partition_point(|f| f.t0 <= start);
        let (mut short, mut long) = (later(&self.short), later(&self.long));
        let mut end = start.saturating_add(ahead.max(1));
        let mut taken = 0;
        loop {
            // The two lists merged by departure.
            let next = match (self.short.get(short), self.long.get(long)) {
                (Some(s), Some(l)) if l.t0 < s.t0 => Some((l, false)),
                (Some(s), _) => Some((s, true)),
                (None, Some(l)) => Some((l, false)),
                (None, None) => None,
            };
            let Some((flight, is_short)) = next else {
                break;
            };
            if flight.t0 >= end {
                break;
            }
            if taken == most {
                // Every flight taken left before this one, which leaves after `start`.
                end = flight.t0;
                break;
            }
            flights.push(flight);
            taken += 1;
            if is_short {
                short += 1;
            } else {
                long += 1;
            }
        }
        (end, flights)
    }

    /// The message the cursor is on: the latest event at or before it that concerns one.
    pub fn message_at(&self, cursor: usize) -> Option<u32> {
        self.message_at
            .get(cursor)
            .and_then(|&m| (m != NONE).then_some(m))
    }

    /// The exchange the cursor is on: the latest connection or DNS exchange at or before it.
    pub fn exchange_at(&self, cursor: usize) -> Option<Exchange> {
        self.exchange_at
            .get(cursor)
            .and_then(|&k| (k != NONE).then(|| Exchange::from_key(k)))
    }

    /// The host whose resolver matters at the cursor: the one that asked or is being answered.
    pub fn resolver_at(&self, cursor: usize) -> Option<HostId> {
        self.resolver_at.get(cursor).copied().and_then(opt)
    }

    /// The transcript of an exchange up to the cursor: its lines, queries and answers.
    pub fn exchange_lines(&self, x: Exchange, cursor: usize) -> &[u32] {
        let lines = self
            .exchange_lines
            .get(&x.key())
            .map_or(&[][..], |v| v.as_slice());
        &lines[..lines.partition_point(|&i| i as usize <= cursor)]
    }

    /// The events up to `before` (excluded) that carried a message's text after DATA.
    pub fn data_of(&self, message: u32, before: usize) -> &[u32] {
        let list = self
            .data_of
            .get(message as usize)
            .map_or(&[][..], |v| v.as_slice());
        &list[..list.partition_point(|&i| (i as usize) < before)]
    }

    /// The DNS answers sent to a host, up to the cursor.
    pub fn answers_to(&self, host: HostId, cursor: usize) -> &[u32] {
        let list = self.answers_to.get(host).map_or(&[][..], |v| v.as_slice());
        &list[..list.partition_point(|&i| i as usize <= cursor)]
    }

    /// The queue events up to the cursor, after `after` (excluded; None: from the start).
    pub fn queue_events(&self, after: Option<usize>, cursor: usize) -> &[u32] {
        let start = after.map_or(0, |a| {
            self.queue_events.partition_point(|&i| i as usize <= a)
        });
        let end = self.queue_events.partition_point(|&i| i as usize <= cursor);
        &self.queue_events[start..end.max(start)]
    }

    /// Whether anything is on its way at `now` (a transmission, a connection being set up).
    pub fn busy(&self, now: f64) -> bool {
        self.in_flight(now).next().is_some()
    }

    /// The hosts down at the cursor, by the trace's HostDown and HostUp events.
    pub fn hosts_down(&self, trace: &Trace, hosts: usize, cursor: Option<usize>) -> Vec<bool> {
        let mut down = vec![false; hosts];
        let Some(c) = cursor else { return down };
        for &i in &self.host_changes[..self.host_changes.partition_point(|&i| i as usize <= c)] {
            let e = &trace.events[i as usize];
            if let Some(h) = e.from().filter(|&h| h < hosts) {
                down[h] = e.kind == EventKind::HostDown;
            }
        }
        down
    }

    /// Whether a host is down at the cursor.
    pub fn host_is_down(&self, trace: &Trace, host: HostId, cursor: Option<usize>) -> bool {
        let Some(c) = cursor else { return false };
        self.host_changes[..self.host_changes.partition_point(|&i| i as usize <= c)]
            .iter()
            .map(|&i| &trace.events[i as usize])
            .rfind(|e| e.from() == Some(host))
            .is_some_and(|e| e.kind == EventKind::HostDown)
    }

    /// The links cut at the cursor (their ends in ascending order), by LinkDown and LinkUp.
    pub fn links_down(&self, trace: &Trace, cursor: Option<usize>) -> Vec<(HostId, HostId)> {
        let mut down = Vec::new();
        let Some(c) = cursor else { return down };
        for &i in &self.link_changes[..self.link_changes.partition_point(|&i| i as usize <= c)] {
            let e = &trace.events[i as usize];
            if let (Some(a), Some(b)) = (e.from(), e.to()) {
                let pair = (a.min(b), a.max(b));
                down.retain(|p| *p != pair);
                if e.kind == EventKind::LinkDown {
                    down.push(pair);
                }
            }
        }
        down
    }

    /// Whether a link (its ends in ascending order) is cut at the cursor.
    pub fn link_is_down(
        &self,
        trace: &Trace,
        link: (HostId, HostId),
        cursor: Option<usize>,
    ) -> bool {
        self.links_down(trace, cursor).contains(&link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    fn lesson(name: &str) -> (crate::scenario::Scenario, Trace) {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let sc = load_file(std::path::Path::new(&path)).unwrap();
        let trace = run(&sc).trace;
        (sc, trace)
    }

    #[test]
    fn in_flight_agrees_with_a_scan_of_the_whole_trace() {
        let (sc, trace) = lesson("08-server-down-queued.ron");
        let index = TraceIndex::new(&trace, sc.hosts.len());
        let mut moments: Vec<f64> = trace
            .events
            .iter()
            .flat_map(|e| [e.t_ms as f64, e.arrive_ms as f64 - 0.5, e.t_ms as f64 + 1.0])
            .collect();
        moments.push(0.0);
        for now in moments {
            let mut fast: Vec<usize> = index.in_flight(now).map(|f| f.event).collect();
            fast.sort();
            let slow: Vec<usize> = (0..trace.len())
                .filter(|&i| {
                    let e = &trace.events[i];
                    e.t_ms as f64 <= now && now < e.arrive_ms as f64
                })
                .collect();
            assert_eq!(fast, slow, "at {now}");
        }
    }

    #[test]
    fn a_stretch_holds_every_flight_on_its_way_within_it_however_few_it_may_take() {
        // Lesson 13: many lines at the same moments; lesson 8: connections nobody answers for
        // half a minute among lines of a few ms (both of the index's lists).
        for name in ["13-several-recipients-bcc.ron", "08-server-down-queued.ron"] {
            let (sc, trace) = lesson(name);
            stretches_hold_every_flight(&trace, &TraceIndex::new(&trace, sc.hosts.len()));
        }
    }

    fn stretches_hold_every_flight(trace: &Trace, index: &TraceIndex) {
        let times: Vec<u64> = trace.events.iter().map(|e| e.t_ms).collect();
        for &start in times.iter().step_by(3) {
            for most in [0, 1, 5, usize::MAX] {
                let (end, flights) = index.flights_from(start, 2_000, most);
                assert!(end > start, "from {start}, at most {most}");
                let held: Vec<usize> = flights.iter().map(|f| f.event).collect();
                let later = flights.iter().filter(|f| f.t0 > start).count();
                assert!(
                    later <= most,
                    "from {start}: {later} later flights, at most {most}"
                );
                // Every moment within the stretch: each event's, and just before its end.
                let moments = times.iter().map(|&t| t as f64).chain([end as f64 - 0.5]);
                for now in moments.filter(|&t| start as f64 <= t && t < end as f64) {
                    for f in index.in_flight(now) {
                        assert!(held.contains(&f.event), "{} at {now}", f.event);
                    }
                }
            }
        }
    }
    #[test]
    fn context_at_each_event_agrees_with_a_backward_scan() {
        let (sc, trace) = lesson("09-pop3-versus-imap.ron");
        let index = TraceIndex::new(&trace, sc.hosts.len());
        for c in 0..trace.len() {
            let events = &trace.events[..=c];
            assert_eq!(
                index.message_at(c),
                events.iter().rev().find_map(|e| e.message())
            );
            let x = events.iter().rev().find_map(|e| {
                Some(Exchange {
                    id: e.conn()?,
                    dns: e.protocol? == Protocol::Dns,
                })
            });
            assert_eq!(index.exchange_at(c), x);
        }
    }

    #[test]
    fn a_bounce_downloaded_with_imap_is_a_returned_envelope() {
        let (sc, trace) = lesson("06-unknown-user.ron");
        let index = TraceIndex::new(&trace, sc.hosts.len());
        let envelopes: Vec<(Protocol, bool)> = index
            .short
            .iter()
            .filter_map(|f| match f.drawn? {
                Drawn {
                    protocol,
                    look: Look::Envelope { bounce },
                    ..
                } => Some((protocol, bounce)),
                _ => None,
            })
            .collect();
        // Alice's message to the submission server (the MX refuses it at RCPT TO, before any
        // DATA), then the bounce home when her mail program fetches it.
        assert!(envelopes.contains(&(Protocol::Submission, false)));
        assert!(envelopes.contains(&(Protocol::Imap, true)), "{envelopes:?}");
        let (sc, trace) = lesson("09-pop3-versus-imap.ron");
        let index = TraceIndex::new(&trace, sc.hosts.len());
        assert!(
            index
                .short
                .iter()
                .filter_map(|f| f.drawn)
                .filter(|d| matches!(d.protocol, Protocol::Pop3 | Protocol::Imap))
                .all(|d| d.look != Look::Envelope { bounce: true }),
            "an ordinary download is not a bounce"
        );
    }
}
