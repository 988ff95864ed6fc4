//! Delivery status notifications (RFC 3464): the bounce a sender receives.

use crate::mail::{Address, Message, rfc5322_date};

/// One recipient that could not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRecipient {
    pub recipient: Address,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub status: String,
    /// What went wrong, in the human part's words: who said what (`host mx.beta.example said:
    /// 550 5.1.1 ...`), or what the reporting server decided itself.
    pub diagnostic: String,
    /// The remote server's reply behind it, if one replied; `None` when none did (a null MX,
    /// NXDOMAIN, a mailbox missing here, a server never reached).
    pub remote: Option<Box<RemoteReply>>,
}

/// A reply of a remote SMTP server: the Remote-MTA and Diagnostic-Code of RFC 3464 section
/// 2.3.5 and 2.3.6.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteReply {
    pub mta: String,
    /// The reply's first line, such as `451 4.7.1 Greylisted, please try again`.
    pub reply: String,
}

/// As a queue's reason gives it: `mx.beta.example said 451 4.7.1 Greylisted, ...`.
impl std::fmt::Display for RemoteReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} said {}", self.mta, self.reply)
    }
}

/// Builds a `multipart/report; report-type=delivery-status` message (RFC 3464 section 2)
/// from `MAILER-DAEMON@reporting_mta` to the original envelope sender.
pub fn build_bounce(
    reporting_mta: &str,
    original: &Message,
    sender: &Address,
    failed: &[FailedRecipient],
    arrival_ms: u64,
    now_ms: u64,
    message_id: &str,
) -> Message {
    let boundary = format!("{message_id}/{reporting_mta}").replace(['<', '>', '@'], "");
    let mut human = String::from(
        "This is the mail system at host REPORTER.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n",
    )
    .replace("REPORTER", reporting_mta);
    for f in failed {
        push_wrapped(&mut human, &format!("<{}>: {}", f.recipient, f.diagnostic));
    }
    let mut status = format!(
        "Reporting-MTA: dns; {reporting_mta}\nArrival-Date: {}\n",
        rfc5322_date(arrival_ms)
    );
    for f in failed {
        status.push_str(&format!(
            "\nFinal-Recipient: rfc822; {}\nAction: failed\nStatus: {}\n",
            f.recipient, f.status
        ));
        // RFC 3464 section 2.3.6: the Diagnostic-Code is the code the mail transport issued, so
        // it is given only when a remote server replied; otherwise the human part says why.
        if let Some(remote) = &f.remote {
            status.push_str(&format!("Remote-MTA: dns; {}\n", remote.mta));
            // A field, so its continuation lines start with white space (RFC 3464 section
            // 2.1.1 takes RFC 822's field syntax, folding included).
            push_folded(
                &mut status,
                &format!("Diagnostic-Code: smtp; {}", remote.reply),
            );
        }
    }
    let original_id = original.header("Message-ID").unwrap_or_default();
    let subject = original.header("Subject").unwrap_or_default();
    let body = format!(
        "This is a MIME-encapsulated message.\n\n--{boundary}\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n{status}\n--{boundary}\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n{}\n--{boundary}--\n",
        original.header_block().replace("\r\n", "\n").trim_end()
    );
    let content_type =
        format!("multipart/report; report-type=delivery-status;\n boundary=\"{boundary}\"");
    let to = format!("<{sender}>");
    let from = format!("Mail Delivery System <MAILER-DAEMON@{reporting_mta}>");
    let subject = format!("Undelivered Mail Returned to Sender: {subject}");
    let date = rfc5322_date(now_ms);
    Message::build(
        &[
            ("From", &from),
            ("To", &to),
            ("Subject", &subject),
            ("Date", &date),
            ("Message-ID", message_id),
            ("References", &original_id),
            ("Auto-Submitted", "auto-replied"),
            ("MIME-Version", "1.0"),
            ("Content-Type", &content_type),
        ],
        &body,
    )
}

/// RFC 5322 section 2.1.1: a line SHOULD be at most 78 characters.
const LINE: usize = 78;

/// Appends `line` and a line end, broken at spaces into lines of at most [`LINE`] characters,
/// the later ones indented by four spaces (text for people; a word longer than a line keeps a
/// line of its own).
fn push_wrapped(out: &mut String, line: &str) {
    push_broken(out, line, "    ");
}

/// Appends a header field folded at spaces (RFC 5322 section 2.2.3): each break goes before a
/// space, which stays and starts the next line, so that unfolding (taking the line breaks
/// out) gives back the field exactly.
fn push_folded(out: &mut String, field: &str) {
    push_broken(out, field, " ");
}

/// Breaks `line` at its spaces; `start` takes the place of the space that a break falls on.
fn push_broken(out: &mut String, line: &str, start: &str) {
    let mut width = 0;
    for (i, word) in line.split(' ').enumerate() {
        // Never before an empty word (a run of spaces): a line of white space alone is not
        // allowed in a folded field (RFC 5322 section 3.2.2).
        if i > 0 && !word.is_empty() && width + 1 + word.len() > LINE {
            out.push('\n');
            out.push_str(start);
            width = start.len();
        } else if i > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += word.len();
    }
    out.push('\n');
}

/// Whether a message is a delivery status notification.
pub fn is_bounce(message: &Message) -> bool {
    message.header("Content-Type").is_some_and(|c| {
        c.to_ascii_lowercase()
            .contains("report-type=delivery-status")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_has_the_three_parts_of_rfc3464() {
        let original = Message::build(
            &[("Message-ID", "<m1@a.example>"), ("Subject", "Hi")],
            "text",
        );
        let sender = Address::parse("alice@alpha.example").unwrap();
        let failed = [FailedRecipient {
            recipient: Address::parse("nobody@beta.example").unwrap(),
            status: "5.1.1".into(),
            diagnostic: "host mx.beta.example said: 550 5.1.1 <nobody@beta.example>: User unknown"
                .into(),
            remote: Some(Box::new(RemoteReply {
                mta: "mx.beta.example".into(),
                reply: "550 5.1.1 <nobody@beta.example>: User unknown".into(),
            })),
        }];
        let b = build_bounce(
            "smtp.alpha.example",
            &original,
            &sender,
            &failed,
            0,
            60_000,
            "<b1@smtp.alpha.example>",
        );
        assert!(is_bounce(&b));
        assert_eq!(b.header("References").as_deref(), Some("<m1@a.example>"));
        let body = b.body();
        assert!(body.contains("Content-Type: message/delivery-status"));
        assert!(body.contains("Final-Recipient: rfc822; nobody@beta.example"));
        assert!(body.contains("Action: failed"));
        assert!(body.contains("Status: 5.1.1"));
        assert!(body.contains("Content-Type: text/rfc822-headers"));
        assert!(body.contains("Remote-MTA: dns; mx.beta.example"));
    }

    /// RFC 5322 section 2.1.1: no line of a bounce is longer than 78 characters, however long
    /// the remote server's reply; the reply's words all stay, in order.
    #[test]
    fn long_replies_are_folded_within_78_characters() {
        let original = Message::build(
            &[("Message-ID", "<m1@a.example>"), ("Subject", "Hi")],
            "text",
        );
        let reply = "550 5.1.1 <someone.with.a.long.name@beta.example>: Recipient address rejected: User unknown in local recipient table";
        let failed = [FailedRecipient {
            recipient: Address::parse("someone.with.a.long.name@beta.example").unwrap(),
            status: "5.1.1".into(),
            diagnostic: format!("host mx.beta.example said: {reply}"),
            remote: Some(Box::new(RemoteReply {
                mta: "mx.beta.example".into(),
                reply: reply.into(),
            })),
        }];
        let sender = Address::parse("alice@alpha.example").unwrap();
        let b = build_bounce(
            "smtp.alpha.example",
            &original,
            &sender,
            &failed,
            0,
            0,
            "<b@x>",
        );
        for line in b.text().lines() {
            assert!(line.len() <= LINE, "{} characters: {line}", line.len());
        }
        // The field unfolds to the reply exactly (RFC 5322 section 2.2.3: only the line breaks
        // go); the human part is text, indented.
        let body = b.body();
        let field = &body[body.find("Diagnostic-Code:").unwrap()..];
        let field = &field[..field.find("\r\n\r\n").unwrap_or(field.len())];
        let field = field.split("\r\n").next().map(|first| {
            let mut whole = first.to_string();
            for more in field
                .split("\r\n")
                .skip(1)
                .take_while(|l| l.starts_with(' '))
            {
                whole.push_str(more);
            }
            whole
        });
        assert_eq!(field.unwrap(), format!("Diagnostic-Code: smtp; {reply}"));
        let human = body.replace("\r\n    ", " ");
        assert!(human.contains(&format!("host mx.beta.example said: {reply}\r\n")));
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_keeps_a_long_word_whole() {
        let mut out = String::new();
        push_wrapped(&mut out, &format!("a {} b", "x".repeat(90)));
        assert_eq!(out, format!("a\n    {}\n    b\n", "x".repeat(90)));
        let mut out = String::new();
        push_wrapped(&mut out, "short line");
        assert_eq!(out, "short line\n");
    }
}
