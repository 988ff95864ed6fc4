//! The client engines fed arbitrary server lines: never a panic, and the SMTP client accounts
//! for every recipient exactly once when its session ends (delivered, deferred or failed:
//! mail conservation at the engine), whether the server hangs up or the lines run out.
//!
//! The first byte picks the engine (SMTP submission, SMTP relay, POP3, IMAP); the rest is
//! what the server says, split into lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::mail::{Address, Message};
use mailsim::proto::imap::ImapClient;
use mailsim::proto::pop3::{FetchMode, Pop3Client};
use mailsim::proto::smtp::{ClientJob, ClientOutcome, ReversePath, SmtpClient};
use mailsim::proto::split_lines;

fn addr(s: &str) -> Address {
    Address::parse(s).expect("a valid address")
}

fn check_smtp(rcpts: &[Address], outcome: &ClientOutcome) {
    for r in rcpts {
        let n = outcome
            .results
            .iter()
            .filter(|(a, _)| a.key() == r.key())
            .count();
        assert_eq!(n, 1, "{r} is accounted for {n} times: {outcome:?}");
    }
    assert_eq!(outcome.results.len(), rcpts.len(), "{outcome:?}");
}

fn smtp(lines: &[&str], submission: bool) {
    let rcpts = vec![
        addr("bob@beta.example"),
        addr("carol@gamma.example"),
        addr("dave@beta.example"),
    ];
    let job = ClientJob {
        ehlo_name: "smtp.alpha.example".into(),
        auth: submission.then(|| ("alice".to_string(), "pw".to_string())),
        mail_from: ReversePath::Address(addr("alice@alpha.example")),
        rcpt_to: rcpts.clone(),
        message: Message::build(
            &[("From", "alice@alpha.example"), ("Subject", "hi")],
            ".leading dot\r\nbody\r\n",
        ),
    };
    let mut client = SmtpClient::new(job);
    for line in lines {
        let step = client.on_line(line);
        if let Some(outcome) = step.done {
            check_smtp(&rcpts, &outcome);
            return;
        }
    }
    let outcome = client.on_connection_lost();
    check_smtp(&rcpts, &outcome);
}

fn pop3(lines: &[&str], keep: bool) {
    let mode = if keep {
        FetchMode::KeepOnServer
    } else {
        FetchMode::DeleteAfterRetrieve
    };
    let mut client = Pop3Client::new("bob", "pw", mode);
    for line in lines {
        if client.on_line(line).done.is_some() {
            return;
        }
    }
    let _ = client.on_connection_lost();
}

fn imap(lines: &[&str]) {
    let mut client = ImapClient::new("bob", "pw");
    for line in lines {
        if client.on_line(line).done.is_some() {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<&str> = split_lines(&text).collect();
    match which % 5 {
        0 => smtp(&lines, true),
        1 => smtp(&lines, false),
        2 => pop3(&lines, false),
        3 => pop3(&lines, true),
        _ => imap(&lines),
    }
});
