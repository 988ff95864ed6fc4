//! The server engines fed arbitrary lines: every line a server reads (outside SMTP's DATA and
//! AUTH exchanges) gets a protocol reply: an SMTP reply line (RFC 5321 section 4.2), a POP3
//! status indicator (RFC 1939 section 3), an IMAP tagged, untagged or continuation response
//! (RFC 3501 section 2.2.2). Never a panic.
//!
//! The first byte picks the engine; the rest is the client's text, split into lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::mail::{Address, MailStore, Mailbox, Message};
use mailsim::proto::imap::ImapServer;
use mailsim::proto::pop3::Pop3Server;
use mailsim::proto::smtp::{
    Accepted, Envelope, RcptDecision, Reply, ReplyCode, ReversePath, ServerConfig, SessionInfo,
    SmtpPolicy, SmtpServer,
};
use mailsim::proto::{Response, split_lines};

/// A host that knows one user, takes mail for one domain and keeps what it accepts.
struct Policy {
    accepted: usize,
}

impl SmtpPolicy for Policy {
    fn authenticate(&mut self, login: &str, password: &str) -> bool {
        login == "alice" && password == "pw"
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        domain.eq_ignore_ascii_case("beta.example")
    }
    fn check_recipient(
        &mut self,
        _: &SessionInfo,
        _: &ReversePath,
        rcpt: &Address,
        _: u64,
    ) -> RcptDecision {
        match rcpt.local() {
            "full" => RcptDecision::Reject(Reply::new(ReplyCode(452), "4.2.2 Mailbox full")),
            "nobody" => RcptDecision::Reject(Reply::new(ReplyCode(550), "5.1.1 No such user")),
            _ => RcptDecision::Accept,
        }
    }
    fn verify(&mut self, _: &str) -> Reply {
        Reply::new(ReplyCode::CANNOT_VERIFY, "2.5.2 Cannot VRFY user")
    }
    fn accept_message(
        &mut self,
        _: &SessionInfo,
        _: Envelope,
        _: Message,
        _: u64,
    ) -> Result<Accepted, Reply> {
        self.accepted += 1;
        Ok(Accepted {
            queue_id: format!("Q{}", self.accepted),
        })
    }
}

fn store() -> MailStore {
    let mut store = MailStore::default();
    let mut mb = Mailbox::new("bob@beta.example", "pw");
    for i in 0..3 {
        let m = Message::build(
            &[
                ("From", "alice@alpha.example"),
                ("To", "bob@beta.example"),
                ("Subject", &format!("Message {i}")),
                ("Message-ID", &format!("<m{i}@alpha.example>")),
            ],
            "Hello,\r\n.leading dot\r\nBob\r\n",
        );
        mb.inbox_mut().append(m, i * 1000);
    }
    store.add(mb);
    store
}

/// The first line of each element (an element may carry a block after CRLF).
fn heads(r: &Response) -> impl Iterator<Item = &str> {
    r.lines.iter().map(|l| l.split("\r\n").next().unwrap_or(""))
}

fn smtp(lines: &[&str], submission: bool) {
    let config = ServerConfig {
        hostname: "mx.beta.example".into(),
        submission,
        max_message_size: 4096,
    };
    let mut server = SmtpServer::new(config, "192.0.2.1");
    let mut policy = Policy { accepted: 0 };
    let greeting = server.greeting();
    assert!(greeting.wire_lines().all(|l| Reply::parse_line(l).is_ok()));
    for (i, line) in lines.iter().enumerate() {
        if server.is_closed() {
            break;
        }
        let in_data = server.in_data();
        let r = server.on_line(line, &mut policy, i as u64 * 1000);
        for l in r.wire_lines() {
            let (code, _, _) = Reply::parse_line(l)
                .unwrap_or_else(|e| panic!("line {i} {line:?}: the reply {l:?} is not SMTP: {e}"));
            assert!((200..600).contains(&code.0));
        }
        // Section 4.2: every command gets a reply; only DATA's text lines are answered
        // together, after the final dot (section 4.1.1.4).
        if !in_data {
            assert!(!r.lines.is_empty(), "line {i} {line:?} got no reply");
        }
    }
    let _ = server.on_timeout();
}

fn pop3(lines: &[&str]) {
    let mut server = Pop3Server::new("mx.beta.example", "<1.2@mx.beta.example>".into());
    let mut store = store();
    let _ = server.greeting();
    for (i, line) in lines.iter().enumerate() {
        if server.is_closed() {
            break;
        }
        let r = server.on_line(line, &mut store, i as u64);
        let first = heads(&r).next();
        assert!(
            first.is_some_and(|l| l == "+OK" || l.starts_with("+OK ") || l.starts_with("-ERR")),
            "line {i} {line:?} got {:?}",
            r.lines
        );
    }
}

fn imap(lines: &[&str]) {
    let mut server = ImapServer::new("mx.beta.example");
    let mut store = store();
    let _ = server.greeting();
    // After a continuation request the next line is the client's response, and the reply to
    // it carries the tag of the command that asked (RFC 3501 section 7.5).
    let mut pending: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if server.is_closed() {
            break;
        }
        let tag = pending
            .take()
            .unwrap_or_else(|| line.split(' ').next().unwrap_or("").to_string());
        let r = server.on_line(line, &mut store, i as u64);
        if heads(&r).any(|h| h == "+" || h.starts_with("+ ")) {
            pending = Some(tag.clone());
        }
        assert!(!r.lines.is_empty(), "line {i} {line:?} got no reply");
        for head in heads(&r) {
            assert!(
                head.starts_with("* ")
                    || head.starts_with("+ ")
                    || head == "+"
                    || (!tag.is_empty() && head.starts_with(&format!("{tag} "))),
                "line {i} {line:?} got {head:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<&str> = split_lines(&text).collect();
    match which % 4 {
        0 => smtp(&lines, false),
        1 => smtp(&lines, true),
        2 => pop3(&lines),
        _ => imap(&lines),
    }
});
