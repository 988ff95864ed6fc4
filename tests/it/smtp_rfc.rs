//! The SMTP examples of RFC 5321 appendix D, replayed against the server engine, compared on
//! commands and reply codes (never on the free text).

use mailsim::mail::{Address, Message};
use mailsim::proto::smtp::{
    Accepted, ClientJob, Envelope, RcptDecision, RcptOutcome, Reply, ReplyCode, ReversePath,
    ServerConfig, SessionInfo, SmtpClient, SmtpPolicy, SmtpServer,
};

/// foo.com from the RFC: Jones, Brown and Crispin exist; Green does not.
#[derive(Default)]
struct FooCom {
    delivered: Vec<(Envelope, Message)>,
}

impl SmtpPolicy for FooCom {
    fn authenticate(&mut self, login: &str, password: &str) -> bool {
        login == "alice" && password == "secret"
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        domain == "foo.com" || domain == "localhost"
    }
    fn check_recipient(
        &mut self,
        _: &SessionInfo,
        _: &ReversePath,
        rcpt: &Address,
        _: u64,
    ) -> RcptDecision {
        if !self.is_local_domain(rcpt.domain()) {
            // Only reached after AUTH: the engine itself refuses to relay for strangers.
            return RcptDecision::Accept;
        }
        if ["jones", "brown", "postmaster"].contains(&rcpt.local().to_ascii_lowercase().as_str()) {
            RcptDecision::Accept
        } else {
            RcptDecision::Reject(Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                "5.1.1 No such user here",
            ))
        }
    }
    fn verify(&mut self, name: &str) -> Reply {
        if name.eq_ignore_ascii_case("crispin") {
            Reply::new(ReplyCode::OK, "Mark Crispin <Admin.MRC@foo.com>")
        } else {
            Reply::new(ReplyCode::CANNOT_VERIFY, "Cannot VRFY user")
        }
    }
    fn accept_message(
        &mut self,
        _: &SessionInfo,
        envelope: Envelope,
        message: Message,
        _: u64,
    ) -> Result<Accepted, Reply> {
        self.delivered.push((envelope, message));
        Ok(Accepted {
            queue_id: format!("Q{}", self.delivered.len()),
        })
    }
}

fn server(submission: bool) -> SmtpServer {
    SmtpServer::new(
        ServerConfig {
            hostname: "foo.com".into(),
            submission,
            max_message_size: 10_000,
        },
        "192.0.2.1",
    )
}

/// Sends each line and returns the reply code of the last line of each response.
fn codes(s: &mut SmtpServer, policy: &mut FooCom, lines: &[&str]) -> Vec<u16> {
    let mut out = vec![code_of(&wire_lines(&s.greeting()))];
    for l in lines {
        let r = s.on_line(l, policy, 0);
        if !r.lines.is_empty() {
            out.push(code_of(&wire_lines(&r)));
        }
    }
    out
}

/// Greets, sends each line to a fresh server, and returns the first line of each response
/// (the greeting's not included).
fn first_lines(submission: bool, lines: &[&str]) -> Vec<String> {
    let (mut p, mut s) = (FooCom::default(), server(submission));
    s.greeting();
    lines
        .iter()
        .map(|l| {
            s.on_line(l, &mut p, 0)
                .lines
                .first()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// A response's single lines (a multi-line reply travels as one block).
fn wire_lines(r: &mailsim::proto::Response) -> Vec<String> {
    r.wire_lines().map(str::to_string).collect()
}

fn code_of(lines: &[String]) -> u16 {
    lines
        .last()
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn appendix_d1_typical_transaction() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let got = codes(
        &mut s,
        &mut p,
        &[
            "EHLO bar.com",
            "MAIL FROM:<Smith@bar.com>",
            "RCPT TO:<Jones@foo.com>",
            "RCPT TO:<Green@foo.com>",
            "RCPT TO:<Brown@foo.com>",
            "DATA",
            "Blah blah blah...",
            "...etc. etc. etc.",
            ".",
            "QUIT",
        ],
    );
    assert_eq!(got, [220, 250, 250, 250, 550, 250, 354, 250, 221]);
    let (envelope, message) = &p.delivered[0];
    assert_eq!(
        envelope.rcpt_to.len(),
        2,
        "Green was refused, Jones and Brown accepted"
    );
    // Section 4.5.2: the extra leading dot is removed.
    assert!(
        message.text().contains("\r\n..etc. etc. etc.\r\n") || message.text().contains("..etc.")
    );
    assert!(s.is_closed());
}

#[test]
fn appendix_d1_ehlo_lists_extensions() {
    let mut p = FooCom::default();
    let mut s = server(false);
    s.greeting();
    let lines = wire_lines(&s.on_line("EHLO bar.com", &mut p, 0));
    assert!(lines[0].starts_with("250-foo.com"));
    for ext in ["SIZE 10000", "8BITMIME", "PIPELINING"] {
        assert!(lines.iter().any(|l| l[4..] == *ext), "missing {ext}");
    }
    assert!(lines.last().unwrap().starts_with("250 "));
    assert!(
        !lines.iter().any(|l| l.contains("AUTH")),
        "port 25 offers no AUTH"
    );
}

#[test]
fn appendix_d2_aborted_transaction() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let got = codes(
        &mut s,
        &mut p,
        &[
            "EHLO bar.com",
            "MAIL FROM:<Smith@bar.com>",
            "RCPT TO:<Jones@foo.com>",
            "RCPT TO:<Green@foo.com>",
            "RSET",
            "QUIT",
        ],
    );
    assert_eq!(got, [220, 250, 250, 250, 550, 250, 221]);
    assert!(p.delivered.is_empty());
}

#[test]
fn appendix_d4_verifying() {
    let mut p = FooCom::default();
    let mut s = server(false);
    assert_eq!(
        codes(
            &mut s,
            &mut p,
            &["EHLO bar.com", "VRFY Crispin", "VRFY Nobody"]
        ),
        [220, 250, 250, 252]
    );
}

#[test]
fn commands_out_of_order_are_503() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let got = codes(
        &mut s,
        &mut p,
        &[
            "MAIL FROM:<a@bar.com>",
            "EHLO bar.com",
            "RCPT TO:<Jones@foo.com>",
            "DATA",
            "MAIL FROM:<a@bar.com>",
            "MAIL FROM:<a@bar.com>",
            "DATA",
        ],
    );
    assert_eq!(got, [220, 503, 250, 503, 503, 250, 503, 503]);
}

#[test]
fn postmaster_without_domain_is_accepted() {
    let mut p = FooCom::default();
    let mut s = server(false);
    assert_eq!(
        codes(
            &mut s,
            &mut p,
            &[
                "HELO bar.com",
                "MAIL FROM:<a@bar.com>",
                "RCPT TO:<Postmaster>"
            ]
        ),
        [220, 250, 250, 250]
    );
}

/// Section 3.6.2: "If it declines to relay mail to a particular address for policy reasons, a
/// 550 response SHOULD be returned."
#[test]
fn relaying_for_strangers_is_refused_with_550_5_7_1() {
    let r = first_lines(
        false,
        &[
            "EHLO spam.example",
            "MAIL FROM:<x@spam.example>",
            "RCPT TO:<victim@elsewhere.example>",
        ],
    );
    assert!(r[2].starts_with("550 5.7.1"), "{r:?}");
}

#[test]
fn submission_requires_auth_then_relays() {
    let mut p = FooCom::default();
    let mut s = server(true);
    let got = codes(
        &mut s,
        &mut p,
        &[
            "EHLO laptop",
            "MAIL FROM:<alice@foo.com>",
            "AUTH PLAIN AGFsaWNlAHdyb25n",     // \0alice\0wrong
            "AUTH PLAIN AGFsaWNlAHNlY3JldA==", // \0alice\0secret
            "MAIL FROM:<alice@foo.com>",
            "RCPT TO:<anyone@elsewhere.example>",
        ],
    );
    assert_eq!(got, [220, 250, 530, 535, 235, 250, 250]);
}

#[test]
fn auth_login_takes_two_prompts() {
    let mut p = FooCom::default();
    let mut s = server(true);
    assert_eq!(
        codes(
            &mut s,
            &mut p,
            &["EHLO laptop", "AUTH LOGIN", "YWxpY2U=", "c2VjcmV0"]
        ),
        [220, 250, 334, 334, 235]
    );
}

#[test]
fn over_long_lines_and_garbage_get_500_and_the_session_survives() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let long = format!("NOOP {}", "x".repeat(600));
    assert_eq!(
        codes(
            &mut s,
            &mut p,
            &[&long, "\u{1}\u{2}garbage", "EHLO bar.com"]
        ),
        [220, 500, 500, 250]
    );
}

#[test]
fn declared_size_over_the_limit_is_552() {
    let mut p = FooCom::default();
    let mut s = server(false);
    assert_eq!(
        codes(
            &mut s,
            &mut p,
            &["EHLO bar.com", "MAIL FROM:<a@bar.com> SIZE=20000"]
        ),
        [220, 250, 552]
    );
}

#[test]
fn oversize_data_is_552_at_the_end_and_nothing_is_stored() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let mut lines = vec![
        "EHLO bar.com",
        "MAIL FROM:<a@bar.com>",
        "RCPT TO:<Jones@foo.com>",
        "DATA",
    ];
    let big = "y".repeat(900);
    lines.extend(std::iter::repeat_n(big.as_str(), 20));
    lines.extend([".", "NOOP"]);
    assert_eq!(
        codes(&mut s, &mut p, &lines),
        [220, 250, 250, 250, 354, 552, 250]
    );
    assert!(p.delivered.is_empty());
}

#[test]
fn client_and_server_talk_to_completion() {
    let mut p = FooCom::default();
    let mut s = server(false);
    let job = ClientJob {
        ehlo_name: "bar.com".into(),
        auth: None,
        mail_from: ReversePath::Address(Address::parse("Smith@bar.com").unwrap()),
        rcpt_to: ["Jones@foo.com", "Green@foo.com"]
            .iter()
            .map(|a| Address::parse(a).unwrap())
            .collect(),
        message: Message::from_text("Subject: hi\n\n.starts with a dot\nend\n"),
    };
    let mut c = SmtpClient::new(job);
    let mut to_client = wire_lines(&s.greeting());
    let outcome = loop {
        let mut to_server = Vec::new();
        let mut done = None;
        for line in &to_client {
            let step = c.on_line(line);
            to_server.extend(step.send);
            if step.done.is_some() {
                done = step.done;
            }
        }
        if let Some(d) = done {
            break d;
        }
        to_client.clear();
        for chunk in to_server {
            for line in chunk.split("\r\n") {
                to_client.extend(wire_lines(&s.on_line(line, &mut p, 0)));
            }
        }
    };
    assert!(matches!(outcome.results[0].1, RcptOutcome::Accepted(_)));
    assert!(
        matches!(&outcome.results[1].1, RcptOutcome::Failed(r) if r.code == ReplyCode::MAILBOX_UNAVAILABLE)
    );
    assert_eq!(
        p.delivered[0].1.text(),
        "Subject: hi\r\n\r\n.starts with a dot\r\nend\r\n"
    );
}

/// Section 4.1.1.11: "If the server SMTP does not recognize or cannot implement one or more of
/// the parameters associated with a particular MAIL FROM or RCPT TO command, it will return
/// code 555."
#[test]
fn unknown_mail_and_rcpt_parameters_are_555() {
    let r = first_lines(
        false,
        &[
            "EHLO bar.com",
            "MAIL FROM:<a@bar.com> FOO=bar",
            "MAIL FROM:<a@bar.com> SIZE=100 BODY=8BITMIME",
            "RCPT TO:<Jones@foo.com> NOTIFY=NEVER",
            "RCPT TO:<Jones@foo.com>",
        ],
    );
    assert!(r[1].starts_with("555 5.5.4"), "{r:?}");
    assert!(r[2].starts_with("250"), "{r:?}");
    assert!(r[3].starts_with("555 5.5.4"), "{r:?}");
    assert!(r[4].starts_with("250"), "{r:?}");
}

/// RFC 4616 section 2: the server decides whether the login may act as the authorization
/// identity; here only as itself.
#[test]
fn auth_plain_as_someone_else_fails() {
    let r = first_lines(
        true,
        &[
            "EHLO laptop",
            "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==", // bob\0alice\0secret
            "AUTH PLAIN YWxpY2UAYWxpY2UAc2VjcmV0", // alice\0alice\0secret
        ],
    );
    assert!(r[1].starts_with("535") && r[2].starts_with("235"), "{r:?}");
    // The whole address and its local part are the same login: alice@foo.com\0alice\0secret.
    let r = first_lines(
        true,
        &[
            "EHLO laptop",
            "AUTH PLAIN YWxpY2VAZm9vLmNvbQBhbGljZQBzZWNyZXQ=",
        ],
    );
    assert!(r[1].starts_with("235"), "{r:?}");
}

/// Section 4.5.1: a server that delivers mail MUST take mail for postmaster; with no mailbox of
/// that name, it reaches the domain's first user.
#[test]
fn mail_for_postmaster_reaches_a_person() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/01-alice-writes-to-bob.ron"
    ))
    .unwrap()
    .replace(
        r#"to: ["bob@beta.example"]"#,
        r#"to: ["Postmaster@beta.example"]"#,
    );
    let scenario = mailsim::scenario::load_str(&text, "postmaster.ron").unwrap();
    let outcome = mailsim::sim::run(&scenario);
    let bob = &outcome.state.stores[scenario.host_by_name("mx.beta.example").unwrap()];
    let inbox = &bob.get("bob@beta.example").unwrap().folders[0];
    assert_eq!(inbox.messages.len(), 1);
    let trace = &outcome.trace;
    assert!(trace.events.iter().any(|e| {
        trace
            .text(e)
            .contains("into bob@beta.example's INBOX (Postmaster@beta.example is an alias")
    }));
}

/// A RCPT out of order is 503 whatever its parameters (section 4.1.4 before 4.1.1.11).
#[test]
fn rcpt_with_parameters_before_mail_is_503() {
    let r = first_lines(
        false,
        &["EHLO bar.com", "RCPT TO:<Jones@foo.com> NOTIFY=NEVER"],
    );
    assert!(r[1].starts_with("503"), "{r:?}");
}

/// A message's text, fed as the simulation feeds it (plain lines taken in one go, the rest line
/// by line), ends as it would line by line: the same replies and the same message stored,
/// whatever its lines (dot-stuffed, empty, too long, with a bare LF, over the size limit).
mod body_lines_in_one_go {
    use super::*;
    use mailsim::proto::split_lines;
    use proptest::prelude::*;

    /// The commands that bring a session to the message's text.
    const TO_DATA: [&str; 4] = [
        "EHLO bar.com",
        "MAIL FROM:<a@bar.com>",
        "RCPT TO:<jones@foo.com>",
        "DATA",
    ];

    /// The replies of a session that sends `text` after DATA (a body line gets none), and what
    /// was delivered.
    fn session(text: &str, in_one_go: bool) -> (Vec<Vec<String>>, Vec<(Envelope, Message)>) {
        let (mut p, mut s) = (FooCom::default(), server(false));
        s.greeting();
        let mut replies = Vec::new();
        for l in TO_DATA {
            replies.push(wire_lines(&s.on_line(l, &mut p, 0)));
        }
        let rest = if in_one_go {
            &text[s.take_body_lines(text)..]
        } else {
            text
        };
        for l in split_lines(rest) {
            replies.push(wire_lines(&s.on_line(l, &mut p, 0)));
        }
        replies.retain(|r| !r.is_empty());
        (replies, p.delivered)
    }

    proptest! {
        #[test]
        fn ends_as_line_by_line(
            lines in prop::collection::vec(
                prop_oneof![
                    "[a-z ]{0,12}\r\n",
                    Just("\r\n".to_string()),
                    Just("..dot-stuffed\r\n".to_string()),
                    Just("bare LF\n".to_string()),
                    Just(format!("{}\r\n", "x".repeat(998))),
                    Just(format!("{}\r\n", "y".repeat(1200))),
                ],
                0..24,
            ),
            end in prop_oneof![Just(".\r\n"), Just("")],
        ) {
            let text = format!("{}{end}", lines.concat());
            prop_assert_eq!(session(&text, true), session(&text, false));
        }
    }

    #[test]
    fn a_text_over_the_size_limit_is_refused_either_way() {
        // Eleven lines of a thousand bytes, over the test server's 10,000.
        let text = format!("{}.\r\n", format!("{}\r\n", "x".repeat(998)).repeat(11));
        let (replies, delivered) = session(&text, true);
        assert_eq!(code_of(replies.last().unwrap()), 552);
        assert!(delivered.is_empty());
        assert_eq!(session(&text, false), (replies, delivered));
    }

    #[test]
    fn plain_lines_are_taken_and_a_dot_stops_them() {
        let mut s = server(false);
        let mut p = FooCom::default();
        s.greeting();
        assert_eq!(s.take_body_lines("Hi\r\n"), 0, "not in DATA yet");
        for l in TO_DATA {
            s.on_line(l, &mut p, 0);
        }
        let text = "Subject: x\r\n\r\nHi\r\n..not the end\r\n.\r\n";
        assert_eq!(s.take_body_lines(text), "Subject: x\r\n\r\nHi\r\n".len());
    }
}
