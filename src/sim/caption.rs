//! Captions: each trace event said in plain words for a student. They are derived from the
//! trace when shown, not stored, so a run costs nothing for words nobody reads.

use super::trace::{EventKind, Protocol, Trace, TraceEvent};
use crate::scenario::Scenario;
use crate::text::counted;

/// The caption of event `i`.
pub fn caption(scenario: &Scenario, trace: &Trace, i: usize) -> String {
    let ev = &trace.events[i];
    // No host: a real program talking to live mode.
    let name = |h: Option<usize>| {
        h.map(|h| scenario.hosts[h].name.as_str())
            .unwrap_or("the real client")
    };
    let (from, to) = (name(ev.from()), name(ev.to()));
    match ev.kind {
        EventKind::ClientLine | EventKind::ServerLine => {
            let previous = previous_client_line(trace, i).map(|p| trace.text(p));
            let previous = previous.as_deref();
            match ev.protocol {
                Some(Protocol::Smtp | Protocol::Submission) if ev.kind == EventKind::ClientLine => {
                    smtp_command(from, to, &trace.text(ev))
                }
                Some(Protocol::Smtp | Protocol::Submission) => {
                    smtp_reply(from, to, &trace.text(ev), previous)
                }
                Some(Protocol::Pop3) if ev.kind == EventKind::ClientLine => {
                    pop3_command(from, &trace.text(ev))
                }
                Some(Protocol::Pop3) => pop3_reply(from, &trace.text(ev), previous),
                // A client line right after a `+` is the rest of a command: a literal's octets,
                // or the answer to AUTHENTICATE's challenge.
                Some(Protocol::Imap) if ev.kind == EventKind::ClientLine => {
                    match imap_continued(trace, i) {
                        Some(head) => imap_continuation(from, &trace.text(head), previous),
                        None => imap_command(from, &trace.text(ev)),
                    }
                }
                Some(Protocol::Imap) => {
                    let head = imap_head(trace, i).map(|h| trace.text(h));
                    imap_reply(from, &trace.text(ev), previous, head.as_deref())
                }
                _ => trace.text(ev).into_owned(),
            }
        }
        EventKind::DnsQuery => {
            let (qname, qtype) = dns_question(&trace.text(ev));
            format!("{from} asks the DNS server {to}: what are the {qtype} records of {qname}?")
        }
        EventKind::DnsAnswer => dns_answer(from, &trace.text(ev)),
        EventKind::DnsCacheHit => {
            let text = trace.text(ev);
            let q = text.lines().next().unwrap_or("");
            format!(
                "{from} already knows the answer to \"{q}\" from its cache: no DNS query is needed until the TTL runs out"
            )
        }
        EventKind::Connect => format!("{}: the TCP connection is being set up", trace.text(ev)),
        _ => trace.text(ev).into_owned(),
    }
}

/// The most recent client line on the same connection before event `i`.
fn previous_client_line(trace: &Trace, i: usize) -> Option<&TraceEvent> {
    let conn = trace.events[i].conn()?;
    trace.events[..i]
        .iter()
        .rev()
        .take(64)
        .find(|e| e.conn() == Some(conn) && e.kind == EventKind::ClientLine)
}

/// The events on event `i`'s connection before it, newest first (a connection's few dozen).
fn earlier_on_conn(trace: &Trace, i: usize) -> impl Iterator<Item = (usize, &TraceEvent)> {
    let conn = trace.events[i].conn();
    trace.events[..i]
        .iter()
        .enumerate()
        .rev()
        .take(256)
        .filter(move |(_, e)| conn.is_some() && e.conn() == conn)
}

/// If IMAP client line `i` follows the server's `+`, the line of the command it continues.
fn imap_continued(trace: &Trace, i: usize) -> Option<&TraceEvent> {
    let (j, before) = earlier_on_conn(trace, i).next()?;
    let invited = before.kind == EventKind::ServerLine && trace.text(before).starts_with('+');
    invited.then(|| imap_head(trace, j)).flatten()
}

/// The client line that began the IMAP command event `i` belongs to (or answers): the latest
/// client line on the connection that continues nothing.
fn imap_head(trace: &Trace, i: usize) -> Option<&TraceEvent> {
    earlier_on_conn(trace, i)
        .filter(|(_, e)| e.kind == EventKind::ClientLine)
        .find(|&(j, _)| {
            earlier_on_conn(trace, j).next().is_none_or(|(_, b)| {
                b.kind != EventKind::ServerLine || !trace.text(b).starts_with('+')
            })
        })
        .map(|(_, e)| e)
}

fn first_word(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn angle(text: &str) -> &str {
    match (text.find('<'), text.find('>')) {
        (Some(a), Some(b)) if b > a => &text[a + 1..b],
        _ => "",
    }
}

/// The caption of a message's text as DATA sends it: header fields, then a blank line and the
/// body, either of which may be missing (RFC 5322 section 2.1), and the lone "." that ends it
/// (RFC 5321 section 4.1.1.4).
fn message_text(from: &str, text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.last() == Some(&".") {
        lines.pop();
    }
    let blank = lines.iter().position(|l| l.is_empty());
    let head = &lines[..blank.unwrap_or(lines.len())];
    // RFC 5322 section 2.2.3: a line that starts with white space continues the field above.
    let fields = head.iter().filter(|l| !l.starts_with([' ', '\t'])).count();
    let folding = if head.len() > fields {
        format!(
            " on {} lines (a line that starts with white space continues the field above)",
            head.len()
        )
    } else {
        String::new()
    };
    let fields = counted(fields, "header field", "header fields");
    let rest = match blank.map(|b| lines.len() - b - 1) {
        None => " and no body".to_string(),
        Some(0) => ", a blank line and no body".to_string(),
        Some(n) => format!(
            ", a blank line and {}",
            counted(n, "line of body", "lines of body")
        ),
    };
    format!(
        "{from} sends the message itself: {fields}{folding}{rest} ({} lines in all), then a lone \".\" to end it",
        lines.len()
    )
}

fn smtp_command(from: &str, to: &str, text: &str) -> String {
    if text.contains("\r\n") {
        return message_text(from, text);
    }
    match first_word(text).as_str() {
        "EHLO" => format!(
            "{from} greets {to} and introduces itself (EHLO): it wants to use ESMTP extensions"
        ),
        "HELO" => format!("{from} greets {to} the old way (HELO)"),
        "AUTH" => format!(
            "{from} logs in (AUTH PLAIN: user name and password in base64, which anyone on the way can read back; real servers ask for TLS first); submission servers require it (RFC 6409)"
        ),
        "MAIL" if angle(text).is_empty() => format!(
            "{from} starts a message with the null sender <>: it is a bounce, and nothing may bounce back to it"
        ),
        "MAIL" => format!(
            "{from} starts a message. The envelope sender (MAIL FROM) is {}: bounces go there, whatever the From: header says",
            angle(text)
        ),
        "RCPT" => format!(
            "{from} names a recipient in the envelope (RCPT TO): {}",
            angle(text)
        ),
        "DATA" => format!("{from} asks to send the message text (DATA)"),
        "QUIT" => format!("{from} says goodbye (QUIT)"),
        "RSET" => format!("{from} cancels the transaction (RSET)"),
        "NOOP" => format!("{from} checks the connection is alive (NOOP)"),
        "VRFY" => format!("{from} asks whether a user exists (VRFY)"),
        "HELP" => format!("{from} asks for help (HELP)"),
        _ => format!("{from} sends {text:?}"),
    }
}

fn smtp_reply(from: &str, to: &str, text: &str, previous: Option<&str>) -> String {
    let last = text.lines().last().unwrap_or(text);
    let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
    let detail = last.get(4..).unwrap_or("");
    let before = previous.unwrap_or_default();
    let verb = if before.contains("\r\n") {
        "BODY".to_string()
    } else {
        first_word(before)
    };
    let rcpt = angle(before);
    match (code, verb.as_str()) {
        (220, _) => format!("{from} answers the connection: ready (220)"),
        (250, "EHLO") => {
            let ext: Vec<&str> = text
                .lines()
                .skip(1)
                .map(|l| l.get(4..).unwrap_or(""))
                .collect();
            format!(
                "{from} answers 250 and lists what it supports: {}",
                ext.join(", ")
            )
        }
        (250, "HELO") => format!("{from} answers 250: hello"),
        (235, _) => format!("{from} answers 235: the login is accepted"),
        (250, "MAIL") => format!("{from} answers 250: the sender is accepted"),
        (250, "RCPT") => format!("{from} answers 250: it accepts the message for {rcpt}"),
        (354, _) => format!("{from} answers 354: go ahead, end the text with a lone \".\""),
        (250, "BODY") => format!(
            "{from} answers 250: it has taken responsibility for the message and will deliver or bounce it ({detail})"
        ),
        (221, _) => format!("{from} answers 221 and closes the connection"),
        (451 | 450, "RCPT") if detail.contains("Greylist") => format!(
            "{from} answers {code}: greylisting. A stranger's first try is refused for a while; a real server comes back later, much spam never does"
        ),
        (452, "RCPT") if detail.contains("full") => {
            format!(
                "{from} answers 452: {rcpt}'s mailbox is full, a temporary failure; {to} keeps the message and tries again later"
            )
        }
        (550 | 554, "RCPT") if detail.contains("5.7.1") => format!(
            "{from} answers {code}: relay access denied. Without a login it takes mail only for its own domains, so it is not an open relay; mail for other domains it takes only from its own users, who log in on the submission port (587)"
        ),
        (550, "RCPT") => format!(
            "{from} answers 550: there is no user {rcpt} here. A permanent failure: a bounce will go to the envelope sender"
        ),
        (530, _) => {
            format!("{from} answers 530: log in first (AUTH); submission is for known users only")
        }
        (535, _) => format!("{from} answers 535: wrong user name or password"),
        (421, _) => format!("{from} answers 421: it is closing the connection; try again later"),
        (c, _) if (200..300).contains(&c) => format!("{from} answers {c}: done ({detail})"),
        (c, _) if (300..400).contains(&c) => format!("{from} answers {c}: go on"),
        (c, _) if (400..500).contains(&c) => {
            format!("{from} answers {c}: a temporary failure ({detail}); {to} will try again later")
        }
        (c, _) => format!("{from} answers {c}: a permanent failure ({detail})"),
    }
}

fn pop3_command(from: &str, text: &str) -> String {
    let arg = text.split_whitespace().nth(1).unwrap_or("");
    match first_word(text).as_str() {
        "USER" => format!("{from} gives the user name {arg} (POP3 USER)"),
        "PASS" => format!("{from} gives the password (POP3 PASS, in clear text)"),
        "APOP" => format!("{from} logs in with APOP: an MD5 digest instead of the password"),
        "STAT" => format!("{from} asks how many messages are waiting (STAT)"),
        "LIST" => format!("{from} asks for the size of each message (LIST)"),
        "UIDL" => format!("{from} asks for each message's unique id (UIDL)"),
        "RETR" => format!("{from} downloads message {arg} (RETR)"),
        "TOP" => format!("{from} asks for the headers of message {arg} (TOP)"),
        "DELE" => format!("{from} marks message {arg} for deletion (DELE); it is removed at QUIT"),
        "QUIT" => format!("{from} says goodbye (QUIT): now the server deletes what was marked"),
        "CAPA" => format!("{from} asks what the server can do (CAPA)"),
        _ => format!("{from} sends {text:?}"),
    }
}

fn pop3_reply(from: &str, text: &str, previous: Option<&str>) -> String {
    let ok = text.starts_with("+OK");
    let verb = previous.map(first_word).unwrap_or_default();
    match (ok, verb.as_str()) {
        (true, "") => format!("{from} is ready (POP3 greeting)"),
        (true, "RETR") => format!("{from} sends the whole message, ended by a lone \".\""),
        (true, "STAT") => {
            // Section 5: "+OK nn mm", the number of messages and their size in octets.
            let mut numbers = text.get(4..).unwrap_or("").split_whitespace();
            match (numbers.next(), numbers.next()) {
                (Some(n), Some(octets)) => format!(
                    "{from} answers {n} {octets}: {}, {octets} octets in all",
                    counted(n.parse().unwrap_or(0), "message", "messages")
                ),
                _ => format!("{from} answers: {}", text.get(4..).unwrap_or("")),
            }
        }
        (true, "QUIT") => format!("{from} deletes the marked messages and says goodbye"),
        (true, "USER") => format!("{from} answers +OK: now the password (PASS)"),
        // Section 4: a good login enters the TRANSACTION state with the maildrop locked.
        (true, "PASS" | "APOP") => format!(
            "{from} answers +OK: the login is accepted, and the mailbox is locked for this session"
        ),
        (true, "DELE") => {
            format!("{from} answers +OK: the message is marked for deletion; it goes only at QUIT")
        }
        (true, "RSET") => format!("{from} answers +OK: the marks for deletion are undone"),
        (true, "LIST") => {
            format!("{from} lists the messages: each one's number and size in octets")
        }
        (true, "UIDL") => format!(
            "{from} lists each message's unique id, which stays the same from one session to the next"
        ),
        (true, "TOP") => format!("{from} sends the header and the first lines of the body"),
        (true, "CAPA") => format!("{from} lists what it supports"),
        (true, _) => format!("{from} answers +OK"),
        (false, _) => format!("{from} answers -ERR: {}", text.get(5..).unwrap_or("")),
    }
}

fn imap_command(from: &str, text: &str) -> String {
    // A command with a literal goes on past its first line; the literal's octets are no words.
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let _tag = words.next();
    let cmd = words.next().unwrap_or("").to_ascii_uppercase();
    let rest: Vec<&str> = words.collect();
    match cmd.as_str() {
        "LOGIN" => format!(
            "{from} logs in{} (IMAP LOGIN; the password travels in clear text, so real servers ask for TLS first)",
            rest.first()
                .filter(|u| !u.starts_with('{'))
                .map(|u| format!(" as {u}"))
                .unwrap_or_default()
        ),
        "CREATE" => format!("{from} makes a new folder {} (CREATE)", rest.join(" ")),
        "SUBSCRIBE" | "UNSUBSCRIBE" => format!(
            "{from} {} the folder {} ({cmd})",
            if cmd == "SUBSCRIBE" {
                "subscribes to"
            } else {
                "unsubscribes from"
            },
            rest.join(" ")
        ),
        "APPEND" => format!(
            "{from} puts a message of its own into the folder {} (APPEND): this is how a mail program keeps a copy of what it sent",
            rest.first().unwrap_or(&"")
        ),
        "AUTHENTICATE" => format!("{from} logs in (IMAP AUTHENTICATE)"),
        "SELECT" => format!("{from} opens the folder {} (SELECT)", rest.join(" ")),
        "EXAMINE" => format!(
            "{from} opens the folder {} read-only (EXAMINE)",
            rest.join(" ")
        ),
        "UID" | "SEARCH" if text.to_ascii_uppercase().contains("SEARCH") => {
            format!("{from} asks which messages match: {}", rest.join(" "))
        }
        "UID" | "FETCH" => format!(
            "{from} fetches messages: {}; they stay on the server",
            rest.join(" ")
        ),
        "STORE" => format!("{from} changes flags: {}", rest.join(" ")),
        "LOGOUT" => format!("{from} logs out; the mail stays on the server"),
        "CAPABILITY" => format!("{from} asks what the server can do (CAPABILITY)"),
        "NOOP" => format!("{from} asks for news without doing anything (NOOP)"),
        "LIST" => format!("{from} lists the folders"),
        "EXPUNGE" => format!("{from} removes the messages flagged \\Deleted"),
        _ => format!("{from} sends {text:?}"),
    }
}

/// The rest of a command, sent after the server's `+` (RFC 3501 section 7.5). `before` is the
/// client's part before the `+`, which ends with the literal's size.
fn imap_continuation(from: &str, head: &str, before: Option<&str>) -> String {
    let verb = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_ascii_uppercase();
    if verb == "AUTHENTICATE" {
        return format!(
            "{from} answers the + with its login in base64: user name and password, which anyone on the way can read back"
        );
    }
    let size = before
        .and_then(|b| crate::proto::imap::literal_at_end(b.trim_end()))
        .map(|(n, _)| n);
    let octets = size.map_or("its octets".to_string(), |n| {
        crate::text::counted(n, "octet", "octets")
    });
    format!(
        "{from} sends what the server invited: the literal ({octets}, exactly as many as it announced, CRLFs and all), then the rest of the {verb} command"
    )
}

fn imap_reply(from: &str, text: &str, previous: Option<&str>, head: Option<&str>) -> String {
    if previous.is_none() {
        return format!("{from} is ready (IMAP greeting)");
    }
    let verb = head
        .and_then(|h| h.split_whitespace().nth(1))
        .unwrap_or("")
        .to_ascii_uppercase();
    if text.starts_with('+') {
        return match verb.as_str() {
            "AUTHENTICATE" => format!(
                "{from} answers with + : go on, send the login (a command continuation request)"
            ),
            _ => format!(
                "{from} answers with + : go on, send the literal (a command continuation request, RFC 3501 section 7.5); a client waits for it before it sends the octets"
            ),
        };
    }
    let last = text.lines().last().unwrap_or("");
    let status = last.split_whitespace().nth(1).unwrap_or("");
    let fetched = text
        .lines()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH "))
        .count();
    let exists = text.lines().find(|l| l.ends_with(" EXISTS"));
    let searched = text.lines().find_map(|l| l.strip_prefix("* SEARCH"));
    match status {
        "OK" if fetched > 0 => {
            format!(
                "{from} sends {}, marked \\Seen but kept on the server",
                counted(fetched, "message", "messages")
            )
        }
        "OK" if verb == "APPEND" => format!("{from} has put the message into the folder"),
        "OK" if exists.is_some() => {
            let n = exists
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("0");
            let plural = if n == "1" { "" } else { "s" };
            match verb.as_str() {
                "SELECT" | "EXAMINE" | "" => {
                    format!("{from} opens the folder; it holds {n} message{plural}")
                }
                _ => format!(
                    "{from} answers OK, and tells of a change first: the folder now holds {n} message{plural}"
                ),
            }
        }
        "OK" if let Some(found) = searched => search_answer(from, found, verb == "UID"),
        "OK" => format!("{from} answers OK"),
        "NO" => format!("{from} answers NO: the command failed ({})", last),
        "BAD" => format!("{from} answers BAD: the command was not understood"),
        _ => format!("{from} answers"),
    }
}

/// What a SEARCH answer (`* SEARCH 2 5`) found: UIDs after a UID SEARCH, sequence numbers after
/// a plain one (RFC 3501 sections 6.4.4 and 6.4.8).
fn search_answer(from: &str, found: &str, by_uid: bool) -> String {
    let (one_is, many_are) = if by_uid {
        ("the message with UID", "the messages with UIDs")
    } else {
        ("message", "messages")
    };
    match found.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] => format!("{from} answers: no message matches"),
        [one] => format!("{from} answers: {one_is} {one} matches"),
        many => format!("{from} answers: {many_are} {} match", many.join(", ")),
    }
}

/// The question of a dig-style rendering: (name, type).
fn dns_question(text: &str) -> (String, String) {
    for line in text.lines() {
        // dig's question line: `;name. IN TYPE`, after `;; QUESTION SECTION:`.
        if let Some(q) = line.strip_prefix(';').filter(|q| !q.starts_with(';')) {
            let parts: Vec<&str> = q.split_whitespace().collect();
            let name = parts.first().map(|n| n.trim_end_matches('.')).unwrap_or("");
            let qtype = parts.last().copied().unwrap_or("");
            return (
                if name.is_empty() {
                    ".".into()
                } else {
                    name.into()
                },
                qtype.into(),
            );
        }
    }
    ("?".into(), "?".into())
}

fn dns_answer(from: &str, text: &str) -> String {
    let (qname, qtype) = dns_question(text);
    if text.contains("NXDOMAIN") {
        return format!("{from} answers NXDOMAIN: the name {qname} does not exist");
    }
    if text.contains("REFUSED") {
        return format!("{from} refuses: it does not hold {qname}");
    }
    let mut in_answer = false;
    let mut answers = Vec::new();
    for line in text.lines() {
        if line.starts_with(";;") {
            in_answer = line.starts_with(";; ANSWER");
            continue;
        }
        if in_answer && !line.trim().is_empty() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() >= 5 {
                answers.push(format!(
                    "{} {}",
                    parts[3],
                    parts[4..].join(" ").trim_end_matches('.')
                ));
            }
        }
    }
    if answers.is_empty() {
        return format!("{from} answers: {qname} exists but has no {qtype} records (NODATA)");
    }
    if answers.len() == 1 && answers[0].trim_end() == "MX 0" {
        return format!("{from} answers: {qname} has the null MX \"0 .\": it accepts no mail");
    }
    format!("{from} answers for {qname}: {}", answers.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pop3_ok_says_what_it_means_after_each_command() {
        let said = |command: &str| pop3_reply("mx", "+OK", Some(command));
        assert_eq!(said("USER bob"), "mx answers +OK: now the password (PASS)");
        assert!(said("PASS secret").contains("the login is accepted"));
        assert!(said("DELE 1").contains("marked for deletion; it goes only at QUIT"));
        assert!(said("RSET").contains("undone"));
        assert_eq!(said("NOOP"), "mx answers +OK");
    }

    #[test]
    fn a_search_answer_says_which_messages_match() {
        let said = |reply: &str, command: &str| imap_reply("mx", reply, Some("x"), Some(command));
        assert_eq!(
            said("* SEARCH 2 5\r\na3 OK SEARCH completed", "a3 SEARCH UNSEEN"),
            "mx answers: messages 2, 5 match"
        );
        assert_eq!(
            said(
                "* SEARCH 7\r\na3 OK UID SEARCH completed",
                "a3 UID SEARCH UNSEEN"
            ),
            "mx answers: the message with UID 7 matches"
        );
        assert_eq!(
            said("* SEARCH\r\na3 OK SEARCH completed", "a3 SEARCH FROM bob"),
            "mx answers: no message matches"
        );
    }

    #[test]
    fn a_message_caption_counts_its_fields_and_its_body_apart() {
        let said = |text: &str| {
            message_text("pc", text)
                .trim_start_matches("pc sends the message itself: ")
                .trim_end_matches(", then a lone \".\" to end it")
                .to_string()
        };
        assert_eq!(
            said("From: a\r\nTo: b\r\n\r\nHi!\r\n\r\nBye.\r\n."),
            "2 header fields, a blank line and 3 lines of body (6 lines in all)"
        );
        assert_eq!(
            said("Subject: x\r\n\r\nHi!\r\n."),
            "1 header field, a blank line and 1 line of body (3 lines in all)"
        );
        assert_eq!(
            said("From: a\r\nTo: b\r\n\r\n."),
            "2 header fields, a blank line and no body (3 lines in all)"
        );
        // No blank line at all: every line is a header field, and there is no body.
        assert_eq!(
            said("From: a\r\nTo: b\r\n."),
            "2 header fields and no body (2 lines in all)"
        );
        // A folded field counts once, on the lines it takes.
        assert_eq!(
            said("Subject: a\r\n b\r\nTo: c\r\n\r\nHi!\r\n."),
            "2 header fields on 3 lines (a line that starts with white space continues the field \
             above), a blank line and 1 line of body (5 lines in all)"
        );
    }
}
