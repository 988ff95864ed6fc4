//! The trace as text: a narrated transcript for people, and JSON lines for programs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::caption::caption;
use super::format_time;
use super::trace::{EventKind, Trace};
use crate::scenario::Scenario;

/// A readable transcript: each event with its time, its hosts, the wire text, and the caption.
pub fn render_text(scenario: &Scenario, trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}", scenario.title);
    if !scenario.description.is_empty() {
        for line in scenario.description.lines() {
            let _ = writeln!(out, "# {line}");
        }
    }
    let _ = writeln!(out, "# seed {}", scenario.seed);
    let captions = crate::lesson::pin(scenario, trace).captions;
    for i in 0..trace.events.len() {
        push_event_text(&mut out, scenario, trace, i, &captions);
    }
    out
}

/// Event `i`'s caption: the teacher's, where the lesson pins one, else the automatic one.
pub fn caption_of(
    scenario: &Scenario,
    trace: &Trace,
    i: usize,
    captions: &BTreeMap<usize, String>,
) -> String {
    match captions.get(&i) {
        Some(c) => c.clone(),
        None => caption(scenario, trace, i),
    }
}

/// The name of a host in a transcript; `None` is a real program in live mode.
pub fn host_name(scenario: &Scenario, h: Option<usize>) -> &str {
    h.map_or("real client", |h| scenario.hosts[h].name.as_str())
}

/// Appends event `i` as the readable transcript shows it.
pub fn push_event_text(
    out: &mut String,
    scenario: &Scenario,
    trace: &Trace,
    i: usize,
    captions: &BTreeMap<usize, String>,
) {
    let ev = &trace.events[i];
    let time = format_time(ev.t_ms);
    let proto = ev.protocol.map(|p| p.name()).unwrap_or("");
    match ev.kind {
        EventKind::ClientLine
        | EventKind::ServerLine
        | EventKind::DnsQuery
        | EventKind::DnsAnswer => {
            let _ = writeln!(
                out,
                "\n[{time}] {} -> {}  {proto}",
                host_name(scenario, ev.from()),
                host_name(scenario, ev.to())
            );
            let prefix = match ev.kind {
                EventKind::ClientLine => "C: ",
                EventKind::ServerLine => "S: ",
                _ => "   ",
            };
            for line in trace.text(ev).lines() {
                let _ = writeln!(out, "    {prefix}{line}");
            }
            let _ = writeln!(out, "    -- {}", caption_of(scenario, trace, i, captions));
        }
        _ => {
            let _ = writeln!(
                out,
                "\n[{time}] {}",
                caption_of(scenario, trace, i, captions)
            );
            // A cache hit shows the records it answers with, their TTLs counting down since
            // they were cached: the lines after its question.
            if ev.kind == EventKind::DnsCacheHit {
                for record in trace.text(ev).lines().skip(1) {
                    let _ = writeln!(out, "       {record}");
                }
            }
        }
    }
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    seq: usize,
    t_ms: u64,
    arrive_ms: u64,
    kind: EventKind,
    protocol: Option<super::trace::Protocol>,
    from: &'a str,
    to: &'a str,
    conn: Option<u32>,
    message: Option<&'a str>,
    text: std::borrow::Cow<'a, str>,
    caption: String,
}

/// One JSON object per event, one per line.
pub fn render_jsonl(scenario: &Scenario, trace: &Trace) -> String {
    let mut out = String::new();
    let captions = crate::lesson::pin(scenario, trace).captions;
    for i in 0..trace.events.len() {
        push_event_json(&mut out, scenario, trace, i, &captions);
    }
    out
}

/// Appends event `i` as one JSON line.
pub fn push_event_json(
    out: &mut String,
    scenario: &Scenario,
    trace: &Trace,
    i: usize,
    captions: &BTreeMap<usize, String>,
) {
    let name = |h: Option<usize>| h.map(|h| scenario.hosts[h].name.as_str()).unwrap_or("");
    let ev = &trace.events[i];
    let j = JsonEvent {
        seq: i,
        t_ms: ev.t_ms,
        arrive_ms: ev.arrive_ms,
        kind: ev.kind,
        protocol: ev.protocol,
        from: name(ev.from()),
        to: name(ev.to()),
        conn: ev.conn(),
        message: ev
            .message()
            .map(|m| trace.messages[m as usize].name.as_str()),
        text: trace.text(ev),
        caption: caption_of(scenario, trace, i, captions),
    };
    out.push_str(&serde_json::to_string(&j).expect("plain data"));
    out.push('\n');
}
