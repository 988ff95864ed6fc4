//! The message inspector: for the message the cursor is on, its envelope (MAIL FROM, RCPT TO)
//! beside its headers as they last travelled, so that the Received stamps visibly grow per hop.

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
pub fn inspect(trace: &Trace, cursor: usize) -> Option<Inspection> {
    let events = &trace.events[..=cursor.min(trace.len().checked_sub(1)?)];
    let message = events.iter().rev().find_map(|e| e.message)?;
    // The latest hop on which its text travelled: the lines after DATA.
    let (i, data) = events
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| match &e.payload {
            Payload::Text(t)
                if e.message == Some(message)
                    && e.kind == EventKind::ClientLine
                    && matches!(e.protocol, Some(Protocol::Smtp | Protocol::Submission))
                    && t.ends_with("\r\n.") =>
            {
                Some((i, t))
            }
            _ => None,
        })?;
    let carrier = &events[i];
    let (mut mail_from, mut rcpt_to) = (String::new(), Vec::new());
    for e in events[..i].iter().filter(|e| {
        e.conn == carrier.conn && e.kind == EventKind::ClientLine && e.protocol == carrier.protocol
    }) {
        let Payload::Text(t) = &e.payload else {
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
    let mut headers = String::new();
    for line in data.split("\r\n") {
        if line.is_empty() {
            break;
        }
        headers.push_str(line.strip_prefix('.').unwrap_or(line));
        headers.push('\n');
    }
    let received = headers
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("received:"))
        .count();
    Some(Inspection {
        name: trace.messages[message as usize].name.clone(),
        hop: (carrier.from?, carrier.to?),
        mail_from,
        rcpt_to,
        headers,
        received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    #[test]
    fn received_stamps_grow_hop_by_hop() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/02-mx-preference-and-backup.ron"
        );
        let sc = load_file(std::path::Path::new(path)).unwrap();
        let trace = run(&sc).trace;
        let mut seen = Vec::new();
        for c in 0..trace.len() {
            if let Some(i) = inspect(&trace, c) {
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
}

/// A host's resolver cache at the cursor, rebuilt by feeding it the DNS answers that reached
/// the host up to then: the same cache the simulation used, so the same entries and TTLs.
pub fn resolver_cache(
    trace: &Trace,
    host: usize,
    cursor: usize,
    now_ms: u64,
) -> Vec<(String, crate::proto::dns::RecordType, u64, String)> {
    let mut cache = crate::proto::dns::DnsCache::default();
    for e in trace.events.iter().take(cursor + 1) {
        if e.kind != EventKind::DnsAnswer || e.to != Some(host) || e.arrive_ms > now_ms {
            continue;
        }
        if let Payload::Dns(bytes) = &e.payload
            && let Ok(answer) = crate::proto::dns::DnsMessage::decode(bytes)
        {
            cache.store(&answer, e.arrive_ms);
        }
    }
    cache.entries(now_ms)
}

/// The host whose resolver matters at the cursor: the one that asked or is being answered.
pub fn resolving_host(trace: &Trace, cursor: usize) -> Option<usize> {
    trace.events[..=cursor.min(trace.len().checked_sub(1)?)]
        .iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKind::DnsQuery | EventKind::DnsCacheHit => e.from,
            EventKind::DnsAnswer => e.to,
            _ => None,
        })
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    #[test]
    fn the_cache_panel_holds_the_mx_until_its_ttl_runs_out() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/10-dns-caching.ron");
        let sc = load_file(std::path::Path::new(path)).unwrap();
        let trace = run(&sc).trace;
        let smtp = sc.host_by_name("smtp.alpha.example").unwrap();
        let first_answer = trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::DnsAnswer && e.to == Some(smtp))
            .unwrap();
        let t = trace.events[first_answer].arrive_ms;
        let at = |ms: u64| resolver_cache(&trace, smtp, trace.len() - 1, ms);
        let mx = |entries: &[(String, crate::proto::dns::RecordType, u64, String)]| {
            entries
                .iter()
                .any(|e| e.0 == "beta.example" && e.1 == crate::proto::dns::RecordType::Mx)
        };
        assert!(
            mx(&at(t + 10 * 60_000)),
            "ten minutes later the MX is cached"
        );
        assert!(!mx(&at(t + 3_600_000)), "after the 3600 s TTL it is gone");
        assert_eq!(resolving_host(&trace, first_answer), Some(smtp));
    }
}

/// One message waiting in a queue at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub message: String,
    /// Why it waits, and when it is tried again, from the latest deferral (None: not tried yet).
    pub next_attempt_ms: Option<u64>,
    pub reason: String,
}

/// Every host's queue at the cursor, replayed from Queued, Deferred and Dequeued events.
pub fn queues_at(trace: &Trace, cursor: usize, hosts: usize) -> Vec<Vec<Waiting>> {
    let mut queues: Vec<Vec<(u32, Waiting)>> = vec![Vec::new(); hosts];
    for e in trace.events.iter().take(cursor + 1) {
        let (Some(h), Some(m)) = (e.from, e.message) else {
            continue;
        };
        match e.kind {
            EventKind::Queued => queues[h].push((
                m,
                Waiting {
                    message: trace.messages[m as usize].name.clone(),
                    next_attempt_ms: None,
                    reason: "waiting for its first attempt".into(),
                },
            )),
            EventKind::Deferred => {
                if let Some((_, w)) = queues[h].iter_mut().find(|(x, _)| *x == m) {
                    let text = e.text();
                    let after = text
                        .split_once("in its queue: ")
                        .map_or(text.as_ref(), |(_, r)| r);
                    w.reason = after
                        .rsplit_once("; next attempt")
                        .map_or(after, |(r, _)| r)
                        .to_string();
                    w.next_attempt_ms = deferral_time(&text);
                }
            }
            EventKind::Dequeued => {
                if let Some(i) = queues[h].iter().position(|(x, _)| *x == m) {
                    queues[h].remove(i);
                }
            }
            _ => {}
        }
    }
    queues
        .into_iter()
        .map(|q| q.into_iter().map(|(_, w)| w).collect())
        .collect()
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
mod queue_tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    #[test]
    fn a_deferred_message_waits_with_its_next_attempt_then_leaves() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/08-server-down-queued.ron"
        );
        let sc = load_file(std::path::Path::new(path)).unwrap();
        let trace = run(&sc).trace;
        let smtp = sc.host_by_name("smtp.alpha.example").unwrap();
        let deferred = trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::Deferred)
            .unwrap();
        let q = &queues_at(&trace, deferred, sc.hosts.len())[smtp];
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
            queues_at(&trace, trace.len() - 1, sc.hosts.len())
                .iter()
                .all(|q| q.is_empty()),
            "delivered: every queue is empty"
        );
    }
}
