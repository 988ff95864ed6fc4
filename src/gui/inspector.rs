//! What the panels show at the cursor, found through the trace's index: the message inspector
//! (its envelope beside its headers as they last travelled, so that the Received stamps visibly
//! grow per hop), the resolver's cache, and the queues. The queues are kept as running state
//! that follows the cursor forward event by event and is replayed only when it jumps back.

use bevy::prelude::*;

use super::Loaded;
use super::index::{Exchange, TraceIndex};
use super::playback::Playback;
use crate::proto::dns::{DnsCache, DnsMessage, RecordType};
use crate::sim::{EventKind, Payload, Protocol, Trace};

/// What the inspector shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The scenario's name for the message (`m1`, `bounce of m1`).
    pub name: String,
    /// The hop that last carried it: (from, to) host indexes.
    pub hop: (usize, usize),
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The header block as it travelled on that hop, dot-stuffing undone.
    pub headers: String,
    pub received: usize,
}

/// Inspects the message of the latest event at or before `cursor` that concerns one.
pub fn inspect(trace: &Trace, index: &TraceIndex, cursor: usize) -> Option<Inspection> {
    let cursor = cursor.min(trace.len().checked_sub(1)?);
    // A download on its way is about the message it brings down, whatever came before it, as
    // the mailbox gave it: with every Received stamp and the Return-Path, without an envelope.
    if let Some(m) = being_downloaded(trace, cursor) {
        return downloaded(trace, m, cursor);
    }
    let message = index.message_at(cursor)?;
    // The latest hop on which its text travelled: the lines after DATA.
    let Some(&i) = index.data_of(message, cursor + 1).last() else {
        // A bounce its own server delivered travels no SMTP hop: it is seen when downloaded.
        return downloaded(trace, message, cursor);
    };
    let i = i as usize;
    let carrier = &trace.events[i];
    let Payload::Text(data) = trace.payload(carrier) else {
        return None;
    };
    // The envelope: the MAIL FROM and RCPT TO of that transaction on the same connection.
    let (mut mail_from, mut rcpt_to) = (String::new(), Vec::new());
    let exchange = Exchange {
        id: carrier.conn()?,
        dns: false,
    };
    for &j in index.exchange_lines(exchange, i) {
        let e = &trace.events[j as usize];
        if j as usize >= i || e.kind != EventKind::ClientLine || e.protocol != carrier.protocol {
            continue;
        }
        let Payload::Text(t) = trace.payload(e) else {
            continue;
        };
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("MAIL FROM:") {
            mail_from = t[10..].split_whitespace().next().unwrap_or("").to_string();
            rcpt_to.clear();
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(t[8..].trim().to_string());
        }
    }
    let headers = header_block(data.split("\r\n"));
    Some(Inspection {
        name: trace.messages[message as usize].name.clone(),
        hop: (carrier.from()?, carrier.to()?),
        mail_from,
        rcpt_to,
        received: received_count(&headers),
        headers,
    })
}

/// The header lines up to the empty line, dot-stuffing (SMTP, POP3) undone, one per line.
fn header_block<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut headers = String::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        headers.push_str(line.strip_prefix('.').unwrap_or(line));
        headers.push('\n');
    }
    headers
}

fn received_count(headers: &str) -> usize {
    headers
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("received:"))
        .count()
}

/// The message a POP3 or IMAP response at the cursor brings down (the first, if several): the
/// one whose Message-ID its header block holds.
fn being_downloaded(trace: &Trace, cursor: usize) -> Option<u32> {
    let e = &trace.events[cursor];
    if e.kind != EventKind::ServerLine
        || !matches!(e.protocol, Some(Protocol::Pop3 | Protocol::Imap))
    {
        return None;
    }
    let Payload::Text(text) = trace.payload(e) else {
        return None;
    };
    let id = text.split("\r\n").find_map(|l| {
        l.split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("message-id"))
            .map(|(_, v)| v.trim())
    })?;
    trace
        .messages
        .iter()
        .position(|m| m.message_id == id)
        .map(|m| m as u32)
}

/// How far back from the cursor the inspector looks for a download of the message.
const DOWNLOAD_LOOKBACK: usize = 5_000;

/// The message as a POP3 RETR or an IMAP FETCH brought it down: its header block is the one
/// holding its Message-ID, in the latest server response before the cursor. There is no
/// envelope any more: `Return-Path:` shows what MAIL FROM was (RFC 5321 section 4.4).
fn downloaded(trace: &Trace, message: u32, cursor: usize) -> Option<Inspection> {
    let id = &trace.messages.get(message as usize)?.message_id;
    if id.is_empty() {
        return None;
    }
    let start = cursor.saturating_sub(DOWNLOAD_LOOKBACK);
    let (event, text) = trace.events[start..=cursor].iter().rev().find_map(|e| {
        let fetch = matches!(e.protocol, Some(Protocol::Pop3 | Protocol::Imap));
        match trace.payload(e) {
            Payload::Text(t)
                if fetch && e.kind == EventKind::ServerLine && t.contains(id.as_str()) =>
            {
                Some((e, t))
            }
            _ => None,
        }
    })?;
    let lines: Vec<&str> = text.split("\r\n").collect();
    let id_line = lines.iter().position(|l| {
        l.to_ascii_lowercase().starts_with("message-id:") && l.contains(id.as_str())
    })?;
    // The block begins after the response line that announced it: POP3's `+OK ...` or the
    // IMAP FETCH line that ends in a literal's `{size}`; or after an empty line of a message
    // before it in the same response.
    let first = lines[..id_line]
        .iter()
        .rposition(|l| l.starts_with("+OK") || l.ends_with('}') || l.is_empty())
        .map_or(0, |k| k + 1);
    let headers = header_block(lines[first..].iter().copied());
    let mail_from = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("return-path"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    Some(Inspection {
        name: trace.messages[message as usize].name.clone(),
        hop: (event.from()?, event.to()?),
        mail_from,
        rcpt_to: Vec::new(),
        received: received_count(&headers),
        headers,
    })
}

/// A DNS cache entry as the panel shows it: name, type, seconds left, the answer in short.
pub type CacheEntry = (String, RecordType, u64, String);

/// A host's resolver cache at the cursor, rebuilt by feeding it the DNS answers that reached
/// the host up to then: the same cache the simulation used, so the same entries and TTLs.
/// The cache is kept between frames and rebuilt only when another answer has arrived.
#[derive(Default)]
pub struct CacheAt {
    /// (run, host, how many answers it holds)
    key: Option<(u64, usize, usize)>,
    cache: DnsCache,
}

impl CacheAt {
    pub fn entries(
        &mut self,
        trace: &Trace,
        index: &TraceIndex,
        host: usize,
        cursor: usize,
        now_ms: u64,
    ) -> Vec<CacheEntry> {
        let answers = index.answers_to(host, cursor);
        let arrived = || {
            answers
                .iter()
                .map(|&i| &trace.events[i as usize])
                .filter(move |e| e.arrive_ms <= now_ms)
        };
        let key = (index.generation, host, arrived().count());
        if self.key != Some(key) {
            self.cache = DnsCache::default();
            for e in arrived() {
                if let Payload::Dns(bytes) = trace.payload(e)
                    && let Ok(answer) = DnsMessage::decode(bytes)
                {
                    self.cache.store(&answer, e.arrive_ms);
                }
            }
            self.key = Some(key);
        }
        self.cache.entries(now_ms)
    }
}

/// A host's resolver cache at the cursor (see [`CacheAt`]).
#[cfg(test)]
pub fn resolver_cache(
    trace: &Trace,
    index: &TraceIndex,
    host: usize,
    cursor: usize,
    now_ms: u64,
) -> Vec<CacheEntry> {
    CacheAt::default().entries(trace, index, host, cursor, now_ms)
}

/// One message waiting in a queue at the cursor, as the panel shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub message: String,
    /// Why it waits, and when it is tried again, from the latest deferral (None: not tried yet).
    pub next_attempt_ms: Option<u64>,
    pub reason: String,
}

/// A message in a queue: which, and its latest deferral (an event index), if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parked {
    pub message: u32,
    pub deferral: Option<usize>,
}

impl Parked {
    /// When it is tried again, from its latest deferral's note (`None`: not tried yet).
    pub fn next_attempt_ms(&self, trace: &Trace) -> Option<u64> {
        deferral_time(&trace.text(&trace.events[self.deferral?]))
    }

    /// In words, from the deferral's note.
    pub fn waiting(&self, trace: &Trace) -> Waiting {
        let message = trace.messages[self.message as usize].name.clone();
        let Some(d) = self.deferral else {
            return Waiting {
                message,
                next_attempt_ms: None,
                reason: "waiting for its first attempt".into(),
            };
        };
        let text = trace.text(&trace.events[d]);
        let after = text
            .split_once("in its queue: ")
            .map_or(text.as_ref(), |(_, r)| r);
        Waiting {
            message,
            reason: after
                .rsplit_once("; next attempt")
                .map_or(after, |(r, _)| r)
                .to_string(),
            next_attempt_ms: deferral_time(&text),
        }
    }
}

/// Every host's queue at the cursor, from the Queued, Deferred and Dequeued events. It follows
/// the cursor: moving forward applies only the events passed; moving back replays from the start.
#[derive(Resource, Default, Debug, Clone)]
pub struct Queues {
    generation: u64,
    /// The cursor the queues stand at.
    applied: Option<usize>,
    pub hosts: Vec<Vec<Parked>>,
}

impl Queues {
    /// Whether the queues are those of this run.
    pub fn is_for(&self, index: &TraceIndex) -> bool {
        self.generation == index.generation
    }

    /// Brings the queues to the cursor.
    pub fn follow(
        &mut self,
        trace: &Trace,
        index: &TraceIndex,
        hosts: usize,
        cursor: Option<usize>,
    ) {
        let back = match (self.applied, cursor) {
            (Some(a), Some(c)) => c < a,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if back || !self.is_for(index) || self.hosts.len() != hosts {
            self.generation = index.generation;
            self.applied = None;
            self.hosts = vec![Vec::new(); hosts];
        }
        let Some(c) = cursor else { return };
        if self.applied == Some(c) {
            return;
        }
        for &i in index.queue_events(self.applied, c) {
            self.apply(trace, i as usize);
        }
        self.applied = Some(c);
    }

    /// Applies one queue event (Queued, Deferred or Dequeued), returning the host whose queue
    /// it changed, if any. [`Queues::follow`] applies them in order and records the cursor.
    pub(super) fn apply(&mut self, trace: &Trace, i: usize) -> Option<usize> {
        let e = &trace.events[i];
        let (h, m) = (e.from()?, e.message()?);
        let queue = self.hosts.get_mut(h)?;
        match e.kind {
            EventKind::Queued => queue.push(Parked {
                message: m,
                deferral: None,
            }),
            EventKind::Deferred => {
                let p = queue.iter_mut().find(|p| p.message == m)?;
                p.deferral = Some(i);
            }
            EventKind::Dequeued => {
                let k = queue.iter().position(|p| p.message == m)?;
                queue.remove(k);
            }
            _ => return None,
        }
        Some(h)
    }
}

/// Every host's queue at the cursor, in words (for the tests).
#[cfg(test)]
pub fn queues_at(
    trace: &Trace,
    index: &TraceIndex,
    cursor: usize,
    hosts: usize,
) -> Vec<Vec<Waiting>> {
    let mut queues = Queues::default();
    queues.follow(trace, index, hosts, Some(cursor));
    queues
        .hosts
        .iter()
        .map(|q| q.iter().map(|p| p.waiting(trace)).collect())
        .collect()
}

/// Keeps [`Queues`] at the cursor.
pub fn follow_queues(loaded: Res<Loaded>, playback: Res<Playback>, mut queues: ResMut<Queues>) {
    let stale = !queues.is_for(&loaded.index) || queues.applied != playback.cursor;
    if stale {
        queues.follow(
            &loaded.outcome.trace,
            &loaded.index,
            loaded.scenario.hosts.len(),
            playback.cursor,
        );
    }
}

/// The "next attempt at HH:MM:SS.mmm" of a deferral note, in milliseconds.
fn deferral_time(text: &str) -> Option<u64> {
    let at = text.rsplit("next attempt at ").next()?;
    let (days, clock) = match at.split_once("d+") {
        Some((d, c)) => (d.parse::<u64>().ok()?, c),
        None => (0, at),
    };
    let mut parts = clock.split([':', '.']);
    let mut next = || parts.next().and_then(|p| p.trim().parse::<u64>().ok());
    let (h, m, s, ms) = (next()?, next()?, next()?, next()?);
    Some(((days * 24 + h) * 60 + m) * 60_000 + s * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Scenario, load_file};
    use crate::sim::run;

    fn lesson(name: &str) -> (Scenario, Trace, TraceIndex) {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let sc = load_file(std::path::Path::new(&path)).unwrap();
        let trace = run(&sc).trace;
        let index = TraceIndex::new(&trace, sc.hosts.len());
        (sc, trace, index)
    }

    #[test]
    fn received_stamps_grow_hop_by_hop() {
        let (_, trace, index) = lesson("02-mx-preference-and-backup.ron");
        let mut seen = Vec::new();
        for c in 0..trace.len() {
            // A download shows the message as the mailbox gives it, without an envelope.
            if let Some(i) = inspect(&trace, &index, c).filter(|i| !i.rcpt_to.is_empty()) {
                if seen.last() != Some(&(i.hop, i.received)) {
                    seen.push((i.hop, i.received));
                }
                assert_eq!(i.mail_from, "<alice@alpha.example>");
                assert_eq!(i.rcpt_to, ["<bob@beta.example>"]);
            }
        }
        let stamps: Vec<usize> = seen.iter().map(|s| s.1).collect();
        // Laptop to submission (none yet), to the backup MX (one), to the primary MX (two).
        assert_eq!(stamps, [0, 1, 2]);
    }

    #[test]
    fn a_bounce_that_only_travels_by_download_is_inspected_there() {
        let mut found = 0;
        for entry in std::fs::read_dir(format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"))).unwrap()
        {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let (_, trace, index) = lesson(&name);
            for (c, e) in trace.events.iter().enumerate() {
                let Some(m) = e.message().filter(|_| e.kind == EventKind::Fetched) else {
                    continue;
                };
                if !trace.messages[m as usize].name.starts_with("bounce")
                    || !index.data_of(m, c + 1).is_empty()
                {
                    continue;
                }
                let i = inspect(&trace, &index, c).expect("the downloaded bounce is shown");
                assert_eq!(i.name, trace.messages[m as usize].name, "{name}");
                assert_eq!(
                    i.mail_from, "<>",
                    "{name}: a bounce has the null reverse path"
                );
                assert!(
                    i.headers.to_ascii_lowercase().contains("message-id:"),
                    "{}",
                    i.headers
                );
                found += 1;
            }
        }
        assert!(
            found > 0,
            "some lesson downloads a bounce that no SMTP hop carried"
        );
    }

    #[test]
    fn a_download_on_its_way_shows_the_message_it_brings() {
        let (_, trace, index) = lesson("06-unknown-user.ron");
        // The IMAP FETCH that brings Alice the bounce, which came to her mailbox over SMTP.
        let fetch = trace
            .events
            .iter()
            .position(|e| {
                e.kind == EventKind::ServerLine
                    && e.protocol == Some(Protocol::Imap)
                    && trace.text(e).contains("FETCH (")
            })
            .unwrap();
        let i = inspect(&trace, &index, fetch).unwrap();
        assert!(i.name.starts_with("bounce"), "{}", i.name);
        assert_eq!(i.mail_from, "<>");
        // As the mailbox gives it, not as it last travelled: stamped by the MX that took it.
        assert!(i.rcpt_to.is_empty());
        assert_eq!(i.received, 1, "{}", i.headers);
        assert!(i.headers.starts_with("Return-Path: <>"), "{}", i.headers);
    }

    #[test]
    fn the_cache_panel_holds_the_mx_until_its_ttl_runs_out() {
        let (sc, trace, index) = lesson("10-dns-caching.ron");
        let smtp = sc.host_by_name("smtp.alpha.example").unwrap();
        let first_answer = trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::DnsAnswer && e.to() == Some(smtp))
            .unwrap();
        let t = trace.events[first_answer].arrive_ms;
        let mut kept = CacheAt::default();
        let mut at = |ms: u64| {
            let fresh = resolver_cache(&trace, &index, smtp, trace.len() - 1, ms);
            let cached = kept.entries(&trace, &index, smtp, trace.len() - 1, ms);
            assert_eq!(fresh, cached, "the kept cache agrees with a fresh one");
            fresh
        };
        let mx = |entries: &[CacheEntry]| {
            entries
                .iter()
                .any(|e| e.0 == "beta.example" && e.1 == RecordType::Mx)
        };
        assert!(
            mx(&at(t + 10 * 60_000)),
            "ten minutes later the MX is cached"
        );
        assert!(!mx(&at(t + 3_600_000)), "after the 3600 s TTL it is gone");
        assert!(!mx(&at(t - 1)), "not before the answer arrives");
        assert_eq!(index.resolver_at(first_answer), Some(smtp));
    }

    #[test]
    fn a_deferred_message_waits_with_its_next_attempt_then_leaves() {
        let (sc, trace, index) = lesson("08-server-down-queued.ron");
        let smtp = sc.host_by_name("smtp.alpha.example").unwrap();
        let deferred = trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::Deferred)
            .unwrap();
        let q = &queues_at(&trace, &index, deferred, sc.hosts.len())[smtp];
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].message, "m1");
        assert_eq!(
            q[0].reason,
            "mx.beta.example does not answer: no connection after 30 s"
        );
        let next = q[0].next_attempt_ms.unwrap();
        assert!(
            next > trace.events[deferred].t_ms,
            "the next attempt lies ahead"
        );
        assert!(
            queues_at(&trace, &index, trace.len() - 1, sc.hosts.len())
                .iter()
                .all(|q| q.is_empty()),
            "delivered: every queue is empty"
        );
    }

    #[test]
    fn queues_that_follow_the_cursor_agree_with_a_replay_from_the_start() {
        let (sc, trace, index) = lesson("08-server-down-queued.ron");
        let hosts = sc.hosts.len();
        let mut queues = Queues::default();
        // Forward one event at a time, then jumps back and forth.
        let mut moments: Vec<usize> = (0..trace.len()).collect();
        moments.extend([3, trace.len() - 1, 0, trace.len() / 2, trace.len() / 3]);
        for c in moments {
            queues.follow(&trace, &index, hosts, Some(c));
            let followed: Vec<Vec<Waiting>> = queues
                .hosts
                .iter()
                .map(|q| q.iter().map(|p| p.waiting(&trace)).collect())
                .collect();
            assert_eq!(followed, queues_at(&trace, &index, c, hosts), "at {c}");
        }
        queues.follow(&trace, &index, hosts, None);
        assert!(queues.hosts.iter().all(|q| q.is_empty()));
    }
}
