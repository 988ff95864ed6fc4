//! The delivery as a transcript in the style of swaks: one section per connection (or DNS
//! exchange), headed by client, server, protocol and port, each line marked with an arrow:
//!
//! ```text
//! 00:00:00.049  -> EHLO laptop.alpha.example
//! 00:00:00.081 <-  250-smtp.alpha.example greets laptop.alpha.example
//!              <-  250 HELP
//! 00:00:00.372  ?? MX beta.example
//! 00:00:00.401 <-  beta.example. 3600 IN MX 10 mx.beta.example.
//! ```
//!
//! ` -> ` is what the client sends, `<-  ` what the server answers (`<** ` when it refuses, as
//! swaks marks errors), ` ?? ` a DNS question, and `=== ` what happened besides (queued,
//! delivered, bounced, the MX choice), in the words of the captions. A caption the teacher pinned
//! to a protocol line follows it, marked `--  `. A section holds all of its
//! connection's lines, so sections start in time order but may overlap in time; every line
//! carries its virtual time.

use std::collections::BTreeMap;

/// The teacher's captions, by event.
type Captions = BTreeMap<usize, String>;
use std::fmt::Write as _;

use super::{dns_message, dns_questions};
use crate::proto::dns::Rcode;
use crate::scenario::Scenario;
use crate::sim::render::{caption_of, host_name};
use crate::sim::report;
use crate::sim::{EventKind, Outcome, Protocol, Trace, format_time};

/// Markdown (headings and fenced blocks, for GitHub) or plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Markdown,
    Text,
}

/// How swaks marks a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// What the client sends.
    Client,
    /// What the server answers.
    Server,
    /// An error answer (SMTP 4xx and 5xx, POP3 -ERR, IMAP NO and BAD, a DNS error status).
    ServerError,
    /// A DNS question.
    Query,
    /// Something that happened, not on the wire.
    Info,
    /// The teacher's caption for a protocol line.
    Teacher,
}

impl Mark {
    fn prefix(self) -> &'static str {
        match self {
            Mark::Client => " -> ",
            Mark::Server => "<-  ",
            Mark::ServerError => "<** ",
            Mark::Query => " ?? ",
            Mark::Info => "=== ",
            Mark::Teacher => "--  ",
        }
    }
}

/// A part of the transcript: all events of one connection or DNS exchange, or one event of its own.
enum Block {
    Connection(Vec<usize>),
    Event(usize),
}

/// The blocks in the order their first events happened.
fn blocks(trace: &Trace) -> Vec<Block> {
    let mut blocks = Vec::new();
    // DNS exchanges and TCP connections are numbered apart.
    let mut open: BTreeMap<(bool, u32), usize> = BTreeMap::new();
    for (i, ev) in trace.events.iter().enumerate() {
        let Some(conn) = ev.conn() else {
            blocks.push(Block::Event(i));
            continue;
        };
        let key = (ev.protocol == Some(Protocol::Dns), conn);
        match open.get(&key) {
            Some(&b) => {
                if let Block::Connection(events) = &mut blocks[b] {
                    events.push(i);
                }
            }
            None => {
                open.insert(key, blocks.len());
                blocks.push(Block::Connection(vec![i]));
            }
        }
    }
    blocks
}

/// The heading of a connection's section: who talks to whom, with which protocol and port.
fn heading(scenario: &Scenario, trace: &Trace, events: &[usize], arrow: &str) -> String {
    let first = &trace.events[events[0]];
    let (client, server, protocol) = events
        .iter()
        .map(|&i| &trace.events[i])
        .find_map(|ev| match ev.kind {
            EventKind::Connect
            | EventKind::ConnectFailed
            | EventKind::ClientLine
            | EventKind::DnsQuery => Some((ev.from(), ev.to(), ev.protocol)),
            EventKind::ServerLine | EventKind::DnsAnswer => Some((ev.to(), ev.from(), ev.protocol)),
            _ => None,
        })
        .unwrap_or((first.from(), first.to(), first.protocol));
    let (client, server) = (host_name(scenario, client), host_name(scenario, server));
    match protocol {
        Some(Protocol::Dns) => {
            format!("{client} asks {server}: DNS, UDP port 53")
        }
        Some(p) => format!("{client} {arrow} {server}: {}, port {}", p.name(), p.port()),
        None => format!("{client} {arrow} {server}"),
    }
}

/// The mark of line `n` of `count` that a server sent. Only status lines count as errors, never
/// the text of a message that a POP3 or IMAP server hands over.
fn server_mark(protocol: Option<Protocol>, line: &str, n: usize, count: usize) -> Mark {
    let error = match protocol {
        Some(Protocol::Smtp | Protocol::Submission) => line.starts_with(['4', '5']),
        Some(Protocol::Pop3) => n == 0 && line.starts_with("-ERR"),
        Some(Protocol::Imap) => {
            let status = line.split_whitespace().nth(1);
            // The tagged status ends the reply; an untagged one stands alone.
            matches!(status, Some("NO" | "BAD"))
                && (n + 1 == count || (n == 0 && line.starts_with("* ")))
        }
        _ => false,
    };
    if error {
        Mark::ServerError
    } else {
        Mark::Server
    }
}

/// The marked lines of event `i`, and the teacher's caption of a protocol line.
fn event_lines(
    scenario: &Scenario,
    trace: &Trace,
    i: usize,
    captions: &Captions,
) -> Vec<(Mark, String)> {
    let mut lines = wire_lines(trace, i)
        .unwrap_or_else(|| vec![(Mark::Info, caption_of(scenario, trace, i, captions))]);
    if lines[0].0 != Mark::Info
        && let Some(c) = captions.get(&i)
    {
        lines.push((Mark::Teacher, c.clone()));
    }
    lines
}

/// The marked lines of event `i` if it is a protocol line.
fn wire_lines(trace: &Trace, i: usize) -> Option<Vec<(Mark, String)>> {
    let ev = &trace.events[i];
    let text = trace.text(ev);
    let count = text.lines().count();
    let lines_of = |mark: &dyn Fn(&str, usize) -> Mark| -> Vec<(Mark, String)> {
        text.lines()
            .enumerate()
            .map(|(n, l)| (mark(l, n), l.to_string()))
            .collect()
    };
    let lines = match ev.kind {
        EventKind::ClientLine => lines_of(&|_, _| Mark::Client),
        EventKind::ServerLine => lines_of(&|l, n| server_mark(ev.protocol, l, n, count)),
        EventKind::DnsQuery => match dns_message(trace, ev) {
            Some(m) => vec![(Mark::Query, dns_questions(&m))],
            None => lines_of(&|_, _| Mark::Query),
        },
        EventKind::DnsAnswer => match dns_message(trace, ev) {
            Some(m) => {
                let mut out = Vec::new();
                if m.rcode != Rcode::NoError {
                    out.push((
                        Mark::ServerError,
                        format!("{} {}", m.rcode, dns_questions(&m)),
                    ));
                } else if m.answers.is_empty() {
                    out.push((Mark::Server, format!("no records: {}", dns_questions(&m))));
                }
                if m.truncated {
                    out.push((Mark::Server, "(truncated)".into()));
                }
                out.extend(m.answers.iter().map(|r| (Mark::Server, r.to_string())));
                out.extend(
                    m.additional
                        .iter()
                        .map(|r| (Mark::Server, format!("{r}  (additional)"))),
                );
                out
            }
            None => lines_of(&|_, _| Mark::Server),
        },
        _ => return None,
    };
    // Even an empty line is a line.
    Some(if lines.is_empty() {
        let mark = match ev.kind {
            EventKind::ClientLine => Mark::Client,
            EventKind::DnsQuery => Mark::Query,
            _ => Mark::Server,
        };
        vec![(mark, String::new())]
    } else {
        lines
    })
}

/// Appends event `i`'s lines: the time on the first, the mark on each.
fn push_event(out: &mut String, scenario: &Scenario, trace: &Trace, i: usize, captions: &Captions) {
    let time = format_time(trace.events[i].t_ms);
    for (n, (mark, line)) in event_lines(scenario, trace, i, captions)
        .into_iter()
        .enumerate()
    {
        let t = if n == 0 { time.as_str() } else { "" };
        let line = format!("{t:<w$} {}{line}", mark.prefix(), w = time.len());
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The whole delivery as a transcript, with the expectations' verdicts at the end.
pub fn transcript(scenario: &Scenario, outcome: &Outcome, style: Style) -> String {
    let trace = &outcome.trace;
    let captions = crate::lesson::pin(scenario, trace).captions;
    let md = style == Style::Markdown;
    let mut out = String::new();
    if md {
        let _ = writeln!(out, "# {}\n", md_escape(&scenario.title));
        for paragraph in paragraphs(&scenario.description) {
            let _ = writeln!(out, "{}\n", md_paragraph(&paragraph));
        }
        let _ = writeln!(
            out,
            "*Seed {}. Times are virtual (hh:mm:ss.mmm from the start). As swaks prints a dialogue: \
             `->` is what the client sends, `<-` what the server answers, `<**` an error answer, \
             `??` a DNS question, `===` what happened, `--` the teacher's caption.*",
            scenario.seed
        );
    } else {
        let _ = writeln!(
            out,
            "{}\n{}\n",
            scenario.title,
            underline(&scenario.title, '=')
        );
        for paragraph in paragraphs(&scenario.description) {
            let _ = writeln!(out, "{}\n", paragraph);
        }
        let _ = writeln!(
            out,
            "Seed {}. Times are virtual (hh:mm:ss.mmm from the start).\n\
             \" -> \" the client sends, \"<-  \" the server answers, \"<** \" an error answer,\n\
             \" ?? \" a DNS question, \"=== \" what happened, \"--  \" the teacher's caption.",
            scenario.seed
        );
    }
    // Between sections: a list of events in Markdown, marked lines in text.
    let mut in_list = false;
    for block in blocks(trace) {
        match block {
            Block::Event(i) if md => {
                if !in_list {
                    out.push('\n');
                    in_list = true;
                }
                let time = format_time(trace.events[i].t_ms);
                let text = caption_of(scenario, trace, i, &captions);
                let _ = writeln!(out, "- **{time}** {}", md_escape(&text));
            }
            Block::Event(i) => {
                if !in_list {
                    out.push('\n');
                    in_list = true;
                }
                push_event(&mut out, scenario, trace, i, &captions);
            }
            Block::Connection(events) => {
                in_list = false;
                let mut body = String::new();
                for &i in &events {
                    push_event(&mut body, scenario, trace, i, &captions);
                }
                if md {
                    let title = heading(scenario, trace, &events, "→");
                    let fence = fence_for(&body);
                    let _ = write!(
                        out,
                        "\n## {}\n\n{fence}text\n{body}{fence}\n",
                        md_escape(&title)
                    );
                } else {
                    let title = heading(scenario, trace, &events, "->");
                    let _ = write!(out, "\n{title}\n{}\n{body}", underline(&title, '-'));
                }
            }
        }
    }
    let verdicts = report::check(scenario, outcome);
    if !verdicts.is_empty() {
        let title = "Expectations";
        if md {
            let _ = writeln!(out, "\n## {title}\n");
        } else {
            let _ = writeln!(out, "\n{title}\n{}", underline(title, '-'));
        }
        for v in &verdicts {
            let mark = if v.ok { "ok" } else { "FAIL" };
            let mut line = v.text.clone();
            if !v.detail.is_empty() {
                let _ = write!(line, " ({})", v.detail);
            }
            if md {
                let _ = writeln!(out, "- **{mark}** {}", md_escape(&line));
            } else {
                let _ = writeln!(out, "{mark:<4} {line}");
            }
        }
    }
    out
}

fn underline(title: &str, c: char) -> String {
    std::iter::repeat_n(c, title.chars().count()).collect()
}

/// The description's paragraphs, each on one line (the file wraps them by hand).
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Text with the characters Markdown would read as markup escaped.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]<>#|~&!".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A paragraph that must not start a list, a heading or a quote.
fn md_paragraph(text: &str) -> String {
    let escaped = md_escape(text);
    let digits = escaped.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && escaped[digits..].starts_with(['.', ')']) {
        format!("{}\\{}", &escaped[..digits], &escaped[digits..])
    } else if escaped.starts_with(['-', '+', '=']) {
        format!("\\{escaped}")
    } else {
        escaped
    }
}

/// A code fence longer than any run of backticks in the body.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_markup_is_escaped() {
        assert_eq!(md_escape("MAIL FROM:<>"), "MAIL FROM:\\<\\>");
        assert_eq!(md_paragraph("1. Alice"), "1\\. Alice");
        assert_eq!(md_paragraph("- not a list"), "\\- not a list");
    }

    #[test]
    fn fences_outgrow_backticks_in_the_body() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }

    #[test]
    fn smtp_errors_are_marked_as_swaks_marks_them() {
        let smtp = Some(Protocol::Smtp);
        assert_eq!(
            server_mark(smtp, "550 5.1.1 no such user", 0, 1),
            Mark::ServerError
        );
        assert_eq!(server_mark(smtp, "250 2.1.5 Ok", 0, 1), Mark::Server);
        assert_eq!(
            server_mark(Some(Protocol::Pop3), "-ERR locked", 0, 1),
            Mark::ServerError
        );
        assert_eq!(
            server_mark(Some(Protocol::Imap), "a1 NO [AUTH] bad", 0, 1),
            Mark::ServerError
        );
        assert_eq!(
            server_mark(Some(Protocol::Imap), "a1 OK done", 0, 1),
            Mark::Server
        );
    }

    #[test]
    fn message_text_handed_over_is_never_an_error() {
        // A body line inside an IMAP literal or a POP3 RETR that happens to read like a status.
        let imap = Some(Protocol::Imap);
        assert_eq!(server_mark(imap, "I NO longer care", 3, 9), Mark::Server);
        assert_eq!(
            server_mark(imap, "a4 NO [TRYCREATE] no", 8, 9),
            Mark::ServerError
        );
        let pop3 = Some(Protocol::Pop3);
        assert_eq!(server_mark(pop3, "-ERR in a body", 4, 9), Mark::Server);
    }
}
