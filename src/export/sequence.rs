//! A sequence diagram of all hosts: one participant per host, one arrow per protocol line
//! (client and server lines, DNS questions and answers; a multi-line reply is one arrow labelled
//! with its first line), notes for what happens at a host (queued, delivered, bounced, the MX
//! choice) and for the teacher's captions, and a note where virtual time jumps ahead. [`diagram`] builds it once; [`mermaid`]
//! writes it as Mermaid text, [`svg`] draws it.

use std::fmt::Write as _;

use super::{dns_answer_summary, dns_message, dns_questions, shorten, span};
use crate::scenario::{HostId, Role, Scenario};
use crate::sim::{EventKind, Protocol, Trace, TraceEvent};

/// The longest arrow label, in characters.
pub const LABEL_MAX: usize = 44;
/// The longest note, in characters.
pub const NOTE_MAX: usize = 60;
/// The teacher's captions are wrapped to lines this long, at most this many.
pub const TEACHER_WIDTH: usize = 64;
pub const TEACHER_LINES: usize = 5;
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
    /// The teacher's caption for the event above.
    Teacher,
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
    /// Something that happened at one host (`first == last`) or across several; the text may
    /// have several lines.
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
pub fn arrow_label(trace: &Trace, ev: &TraceEvent) -> String {
    match ev.kind {
        EventKind::DnsQuery => {
            if let Some(m) = dns_message(trace, ev) {
                return shorten(&format!("{}?", dns_questions(&m)), LABEL_MAX);
            }
        }
        EventKind::DnsAnswer => {
            if let Some(m) = dns_message(trace, ev) {
                return shorten(&dns_answer_summary(&m), LABEL_MAX);
            }
        }
        _ => {}
    }
    let text = trace.text(ev);
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
fn note_text(trace: &Trace, ev: &TraceEvent, host: Option<&str>) -> String {
    let text = trace.text(ev);
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
    let columns = Columns {
        of_host: column,
        last: participants.len().saturating_sub(1),
    };
    let captions = crate::lesson::pin(scenario, trace).captions;
    let mut rows: Vec<Row> = Vec::new();
    for (i, ev) in trace.events.iter().enumerate() {
        let mut items: Vec<Item> = event_item(scenario, trace, ev, &columns)
            .into_iter()
            .collect();
        if let Some(text) = captions.get(&i) {
            let (first, last) = columns.span(ev.from(), ev.to());
            items.push(Item::Note {
                first,
                last,
                text: wrap(text, TEACHER_WIDTH, TEACHER_LINES).join("\n"),
                tone: Tone::Teacher,
            });
        }
        if items.is_empty() {
            continue;
        }
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
        rows.extend(items.into_iter().map(|item| Row {
            t_ms: ev.t_ms,
            event: Some(i),
            item,
        }));
    }
    Diagram {
        title: scenario.title.clone(),
        participants,
        rows,
    }
}

/// Each host's column, and the last column.
struct Columns {
    of_host: Vec<usize>,
    last: usize,
}

impl Columns {
    fn of(&self, h: Option<HostId>) -> Option<usize> {
        h.map(|h| self.of_host[h])
    }

    /// The columns from one host to another; one host's alone; or all of them.
    fn span(&self, a: Option<HostId>, b: Option<HostId>) -> (usize, usize) {
        match (self.of(a), self.of(b)) {
            (Some(a), Some(b)) => (a.min(b), a.max(b)),
            (Some(c), None) | (None, Some(c)) => (c, c),
            (None, None) => (0, self.last),
        }
    }
}

/// The arrow or note that shows an event, if the diagram shows it.
fn event_item(
    scenario: &Scenario,
    trace: &Trace,
    ev: &TraceEvent,
    columns: &Columns,
) -> Option<Item> {
    match ev.kind {
        EventKind::ClientLine
        | EventKind::ServerLine
        | EventKind::DnsQuery
        | EventKind::DnsAnswer => {
            // A real program in live mode has no lifeline; exports run the simulation.
            let (Some(from), Some(to)) = (columns.of(ev.from()), columns.of(ev.to())) else {
                return None;
            };
            Some(Item::Arrow {
                from,
                to,
                protocol: ev.protocol.unwrap_or(Protocol::Smtp),
                reply: matches!(ev.kind, EventKind::ServerLine | EventKind::DnsAnswer),
                label: arrow_label(trace, ev),
            })
        }
        kind => {
            let tone = tone(kind)?;
            // The note stands on the host that acts: the one the text begins with (a hop's
            // `Relayed` names the receiving server, its `to`), else `from`; a connection that
            // failed or broke spans both ends.
            let name = |h: HostId| scenario.hosts[h].name.as_str();
            let actor = ev
                .to()
                .filter(|&h| trace.text(ev).starts_with(name(h)))
                .or(ev.from());
            let (first, last) =
                if matches!(kind, EventKind::ConnectFailed | EventKind::ConnectionLost) {
                    columns.span(ev.from(), ev.to())
                } else {
                    columns.span(actor, None)
                };
            Some(Item::Note {
                first,
                last,
                text: note_text(trace, ev, actor.map(name)),
                tone,
            })
        }
    }
}

/// Words in lines of at most `width` characters, at most `max_lines` of them (the last cut).
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        let rest = lines.split_off(max_lines - 1).join(" ");
        lines.push(shorten(&rest, width));
    }
    lines.iter().map(|l| shorten(l, width)).collect()
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
                let lines: Vec<String> = text.lines().map(mermaid_escape).collect();
                let _ = writeln!(out, "    Note over {over}: {}", lines.join("<br/>"));
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
    fn wrap_breaks_at_words_and_cuts_the_last_line() {
        assert_eq!(wrap("a bb ccc dddd", 6, 5), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("a bb ccc dddd", 6, 2), ["a bb", "ccc d…"]);
        assert!(wrap("", 6, 2).is_empty());
    }

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
