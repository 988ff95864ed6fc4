//! A sequence diagram of all hosts: one participant per host, one arrow per protocol line
//! (client and server lines, DNS questions and answers; a multi-line reply is one arrow labelled
//! with its first line), notes for what happens at a host (queued, delivered, bounced, the MX
//! choice), and a note where virtual time jumps ahead. [`diagram`] builds it once; [`mermaid`]
//! writes it as Mermaid text, [`svg`] draws it.

use std::fmt::Write as _;

use super::{dns_answer_summary, dns_message, dns_questions, shorten, span};
use crate::scenario::{HostId, Role, Scenario};
use crate::sim::{EventKind, Protocol, Trace, TraceEvent};

/// The longest arrow label, in characters.
pub const LABEL_MAX: usize = 44;
/// The longest note, in characters.
pub const NOTE_MAX: usize = 60;
/// A pause at least this long between two rows gets a note of its own ("2 min later").
pub const GAP_MS: u64 = 10_000;

/// A host's lifeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub host: HostId,
    pub name: String,
    /// Its domain's name, if it belongs to one.
    pub domain: Option<String>,
    /// Its roles in words: `client`, `submission, MX, IMAP`.
    pub roles: String,
}

/// What a note is about, for its colour in the SVG (the words say the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Something went wrong or must wait: a bounce, a refusal, a host down.
    Trouble,
    /// The mail got through: a hop completed, a delivery, a download.
    Success,
    /// Anything else.
    Plain,
}

/// One row of the diagram.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A protocol line: `from` and `to` index [`Diagram::participants`].
    Arrow {
        from: usize,
        to: usize,
        protocol: Protocol,
        /// A server's answer (drawn dashed), not a client's command or a DNS question.
        reply: bool,
        label: String,
    },
    /// Something that happened at one host (`first == last`) or across several.
    Note {
        first: usize,
        last: usize,
        text: String,
        tone: Tone,
    },
    /// Virtual time jumps ahead by this many milliseconds.
    Gap { ms: u64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub t_ms: u64,
    /// The trace event the row shows; `None` for a gap.
    pub event: Option<usize>,
    pub item: Item,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagram {
    pub title: String,
    pub participants: Vec<Participant>,
    pub rows: Vec<Row>,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Client => "client",
        Role::Submission => "submission",
        Role::Mx => "MX",
        Role::Dns => "DNS",
        Role::Pop3 => "POP3",
        Role::Imap => "IMAP",
    }
}

/// Hosts by domain (in the file's order; hosts of no domain last), clients first in each.
fn participants(scenario: &Scenario) -> Vec<Participant> {
    let mut order: Vec<HostId> = (0..scenario.hosts.len()).collect();
    let rank = |h: HostId| {
        let host = &scenario.hosts[h];
        let domain = host.domain.unwrap_or(usize::MAX);
        let role = host.roles.iter().min().copied();
        (domain, role != Some(Role::Client), role, h)
    };
    order.sort_by_key(|&h| rank(h));
    order
        .into_iter()
        .map(|h| {
            let host = &scenario.hosts[h];
            let roles: Vec<&str> = host.roles.iter().map(|&r| role_name(r)).collect();
            Participant {
                host: h,
                name: host.name.clone(),
                domain: host.domain.map(|d| scenario.domains[d].name.clone()),
                roles: roles.join(", "),
            }
        })
        .collect()
}

/// An arrow's label: the first line, shortened; a DNS message in a few words.
pub fn arrow_label(ev: &TraceEvent) -> String {
    match ev.kind {
        EventKind::DnsQuery => {
            if let Some(m) = dns_message(ev) {
                return shorten(&format!("{}?", dns_questions(&m)), LABEL_MAX);
            }
        }
        EventKind::DnsAnswer => {
            if let Some(m) = dns_message(ev) {
                return shorten(&dns_answer_summary(&m), LABEL_MAX);
            }
        }
        _ => {}
    }
    let text = ev.text();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let rest = lines.count();
    let is_smtp = matches!(ev.protocol, Some(Protocol::Smtp | Protocol::Submission));
    if ev.kind == EventKind::ClientLine && is_smtp && rest > 0 {
        // The message itself, after DATA.
        return format!("the message, {} lines", rest + 1);
    }
    let label = shorten(first, LABEL_MAX);
    if rest > 0 && !label.ends_with('…') {
        format!("{label} …")
    } else {
        label
    }
}

/// What a note says: the event's summary, without the host's name when the note stands on it.
fn note_text(ev: &TraceEvent, host: Option<&str>) -> String {
    let text = ev.text();
    let first = text.lines().next().unwrap_or("");
    let text = match ev.kind {
        EventKind::DnsCacheHit => format!("cache: {first}"),
        _ => host
            .and_then(|h| first.strip_prefix(h))
            .and_then(|t| t.strip_prefix(' '))
            .unwrap_or(first)
            .to_string(),
    };
    shorten(&text, NOTE_MAX)
}

fn tone(kind: EventKind) -> Option<Tone> {
    use EventKind::*;
    Some(match kind {
        Bounced | Discarded | Rejected | ConnectFailed | ConnectionLost | DnsTimeout | Deferred
        | HostDown | LinkDown | MailboxFull => Tone::Trouble,
        Relayed | Delivered | Fetched => Tone::Success,
        UserAction | MxChoice | DnsCacheHit | Queued | HostUp | LinkUp | DnsChanged
        | MailboxFreed | Note => Tone::Plain,
        // Shown by the arrows, or bookkeeping.
        Connect | Close | Dequeued | ClientLine | ServerLine | DnsQuery | DnsAnswer => {
            return None;
        }
    })
}

/// The diagram of a run.
pub fn diagram(scenario: &Scenario, trace: &Trace) -> Diagram {
    let participants = participants(scenario);
    let mut column = vec![0; scenario.hosts.len()];
    for (i, p) in participants.iter().enumerate() {
        column[p.host] = i;
    }
    let col = |h: Option<HostId>| h.map(|h| column[h]);
    let last = participants.len().saturating_sub(1);
    let mut rows: Vec<Row> = Vec::new();
    for (i, ev) in trace.events.iter().enumerate() {
        let item = match ev.kind {
            EventKind::ClientLine
            | EventKind::ServerLine
            | EventKind::DnsQuery
            | EventKind::DnsAnswer => {
                // A real program in live mode has no lifeline; exports run the simulation.
                let (Some(from), Some(to)) = (col(ev.from), col(ev.to)) else {
                    continue;
                };
                Item::Arrow {
                    from,
                    to,
                    protocol: ev.protocol.unwrap_or(Protocol::Smtp),
                    reply: matches!(ev.kind, EventKind::ServerLine | EventKind::DnsAnswer),
                    label: arrow_label(ev),
                }
            }
            kind => {
                let Some(tone) = tone(kind) else { continue };
                // The note stands on the host that acts: the one the text begins with (a
                // hop's `Relayed` names the receiving server, its `to`), else `from`.
                let name = |h: HostId| scenario.hosts[h].name.as_str();
                let actor = ev
                    .to
                    .filter(|&h| ev.text().starts_with(name(h)))
                    .or(ev.from);
                let host = actor.map(name);
                let (first, last) = match (col(actor), col(ev.from), col(ev.to)) {
                    // A connection that failed or broke: across both ends.
                    (_, Some(a), Some(b))
                        if matches!(kind, EventKind::ConnectFailed | EventKind::ConnectionLost) =>
                    {
                        (a.min(b), a.max(b))
                    }
                    (Some(c), _, _) => (c, c),
                    _ => (0, last),
                };
                Item::Note {
                    first,
                    last,
                    text: note_text(ev, host),
                    tone,
                }
            }
        };
        if let Some(prev) = rows.last()
            && ev.t_ms >= prev.t_ms + GAP_MS
        {
            rows.push(Row {
                t_ms: prev.t_ms,
                event: None,
                item: Item::Gap {
                    ms: ev.t_ms - prev.t_ms,
                },
            });
        }
        rows.push(Row {
            t_ms: ev.t_ms,
            event: Some(i),
            item,
        });
    }
    Diagram {
        title: scenario.title.clone(),
        participants,
        rows,
    }
}

/// A Mermaid alias for a host: its name with `_` for anything but letters and digits.
fn alias(name: &str, taken: &[String]) -> String {
    const KEYWORDS: &[&str] = &[
        "activate",
        "actor",
        "alt",
        "and",
        "as",
        "autonumber",
        "box",
        "break",
        "create",
        "critical",
        "deactivate",
        "destroy",
        "else",
        "end",
        "left",
        "link",
        "links",
        "loop",
        "note",
        "of",
        "opt",
        "over",
        "par",
        "participant",
        "rect",
        "right",
        "title",
    ];
    let mut a: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if a.is_empty() || a.starts_with(|c: char| c.is_ascii_digit()) || KEYWORDS.contains(&a.as_str())
    {
        a.insert_str(0, "h_");
    }
    let base = a.clone();
    let mut n = 2;
    while taken.contains(&a) {
        a = format!("{base}_{n}");
        n += 1;
    }
    a
}

/// Text for a Mermaid label: the characters Mermaid reads as syntax as entity codes.
pub fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '&' => out.push_str("#38;"),
            '"' => out.push_str("#34;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The run as a Mermaid `sequenceDiagram`, participants boxed by domain.
pub fn mermaid(scenario: &Scenario, trace: &Trace) -> String {
    let d = diagram(scenario, trace);
    let mut out = String::new();
    let title = d.title.replace('\\', "\\\\").replace('"', "\\\"");
    let _ = writeln!(out, "---\ntitle: \"{title}\"\n---");
    let _ = writeln!(out, "%% mailsim export, seed {}", scenario.seed);
    out.push_str("sequenceDiagram\n");
    let mut aliases: Vec<String> = Vec::new();
    let mut open_box: Option<&str> = None;
    for p in &d.participants {
        if open_box != p.domain.as_deref() {
            if open_box.is_some() {
                out.push_str("    end\n");
            }
            if let Some(domain) = &p.domain {
                // `transparent` first, so that the label is never read as a colour.
                let _ = writeln!(out, "    box transparent {}", mermaid_escape(domain));
            }
            open_box = p.domain.as_deref();
        }
        let a = alias(&p.name, &aliases);
        let indent = if open_box.is_some() {
            "        "
        } else {
            "    "
        };
        let _ = writeln!(
            out,
            "{indent}participant {a} as {}",
            mermaid_escape(&p.name)
        );
        aliases.push(a);
    }
    if open_box.is_some() {
        out.push_str("    end\n");
    }
    for row in &d.rows {
        match &row.item {
            Item::Arrow {
                from,
                to,
                reply,
                label,
                ..
            } => {
                let arrow = if *reply { "-->>" } else { "->>" };
                let _ = writeln!(
                    out,
                    "    {}{arrow}{}: {}",
                    aliases[*from],
                    aliases[*to],
                    mermaid_escape(label)
                );
            }
            Item::Note {
                first, last, text, ..
            } => {
                let over = if first == last {
                    aliases[*first].clone()
                } else {
                    format!("{},{}", aliases[*first], aliases[*last])
                };
                let _ = writeln!(out, "    Note over {over}: {}", mermaid_escape(text));
            }
            Item::Gap { ms } if !aliases.is_empty() => {
                let _ = writeln!(
                    out,
                    "    Note over {},{}: … {} later …",
                    aliases[0],
                    aliases[aliases.len() - 1],
                    span(*ms)
                );
            }
            Item::Gap { .. } => {}
        }
    }
    out
}

/// The run as a standalone SVG 1.1 picture.
pub fn svg(scenario: &Scenario, trace: &Trace) -> String {
    super::svg::draw(scenario, trace, &diagram(scenario, trace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_identifiers_and_unique() {
        assert_eq!(alias("mx.beta-1.example", &[]), "mx_beta_1_example");
        assert_eq!(alias("end", &[]), "h_end");
        assert_eq!(alias("9.example", &[]), "h_9_example");
        assert_eq!(alias("a.b", &["a_b".into()]), "a_b_2");
    }

    #[test]
    fn mermaid_syntax_characters_become_entity_codes() {
        assert_eq!(
            mermaid_escape("MAIL FROM:<a@b>; #1"),
            "MAIL FROM:#60;a@b#62;#59; #35;1"
        );
    }
}
