//! The POP3 client engine: the mail program that downloads the INBOX with USER, PASS, STAT,
//! then RETR (and DELE) for each message, and QUIT.

use super::wire::{Command, byte_unstuff};
use crate::mail::Message;
use crate::proto::{FetchOutcome, FetchStep};

/// What happens to the messages on the server after download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchMode {
    /// "Leave a copy on the server".
    KeepOnServer,
    /// The classic POP3 habit: RETR then DELE, so the server forgets the mail at QUIT.
    DeleteAfterRetrieve,
}

/// What the client waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Greeting,
    User,
    Pass,
    Stat,
    /// The status line of RETR n.
    Retr(u32),
    /// The lines of message n, up to the lone ".".
    Reading(u32),
    Dele(u32),
    Quit,
    Done,
}

/// A POP3 download session.
pub struct Pop3Client {
    login: String,
    password: String,
    mode: FetchMode,
    state: State,
    /// Messages in the maildrop, from STAT.
    count: u32,
    /// The message being received, un-stuffed.
    text: String,
    outcome: FetchOutcome,
}

/// RFC 1939 section 3: a status indicator is "+OK" or "-ERR", followed by a space or the end.
fn is_ok(line: &str) -> bool {
    line.strip_prefix("+OK")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// The message count of a STAT answer, `+OK nn mm` (RFC 1939 section 5).
fn stat_count(line: &str) -> Option<u32> {
    line.split(' ').nth(1)?.parse().ok()
}

impl Pop3Client {
    pub fn new(login: &str, password: &str, mode: FetchMode) -> Pop3Client {
        Pop3Client {
            login: login.to_string(),
            password: password.to_string(),
            mode,
            state: State::Greeting,
            count: 0,
            text: String::new(),
            outcome: FetchOutcome::default(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Handles one line from the server (without CRLF).
    pub fn on_line(&mut self, line: &str) -> FetchStep {
        match self.state {
            State::Reading(n) => self.read(n, line),
            State::Done => FetchStep::default(),
            // Whatever the answer to QUIT, the session is over.
            State::Quit => self.finish(),
            _ if !is_ok(line) => {
                let reason = line.strip_prefix("-ERR").unwrap_or(line).trim();
                self.fail(reason.to_string())
            }
            State::Greeting => self.send(State::User, Command::User(self.login.clone())),
            State::User => self.send(State::Pass, Command::Pass(self.password.clone())),
            State::Pass => self.send(State::Stat, Command::Stat),
            State::Stat => match stat_count(line) {
                Some(count) => {
                    self.count = count;
                    self.next_after(0)
                }
                None => self.fail(format!("unreadable STAT answer {line:?}")),
            },
            State::Retr(n) => {
                self.state = State::Reading(n);
                FetchStep::default()
            }
            State::Dele(n) => self.next_after(n),
        }
    }

    /// The connection broke before QUIT was answered: what arrived whole is kept, and the
    /// server, which saw no QUIT, keeps every message (RFC 1939 section 6).
    pub fn on_connection_lost(&mut self) -> FetchOutcome {
        if self.state != State::Quit {
            self.outcome.error = Some("the connection broke".into());
        }
        self.state = State::Done;
        std::mem::take(&mut self.outcome)
    }

    /// One line of a RETR answer: the lone "." ends the message (section 3).
    fn read(&mut self, n: u32, line: &str) -> FetchStep {
        if line != "." {
            self.text.push_str(byte_unstuff(line));
            self.text.push_str("\r\n");
            return FetchStep::default();
        }
        let text = std::mem::take(&mut self.text);
        self.outcome.messages.push(Message::from_text(&text));
        match self.mode {
            FetchMode::DeleteAfterRetrieve => self.send(State::Dele(n), Command::Dele(n)),
            FetchMode::KeepOnServer => self.next_after(n),
        }
    }

    fn send(&mut self, state: State, command: Command) -> FetchStep {
        self.state = state;
        FetchStep {
            send: vec![command.to_string()],
            done: None,
        }
    }

    /// The server said -ERR: note why and still say QUIT, so it closes cleanly.
    fn fail(&mut self, reason: String) -> FetchStep {
        self.outcome.error = Some(reason);
        self.send(State::Quit, Command::Quit)
    }

    /// RETR for the message after message `n`, or QUIT after the last one.
    fn next_after(&mut self, n: u32) -> FetchStep {
        if n < self.count {
            self.send(State::Retr(n + 1), Command::Retr(n + 1))
        } else {
            self.send(State::Quit, Command::Quit)
        }
    }

    fn finish(&mut self) -> FetchStep {
        self.state = State::Done;
        FetchStep {
            send: Vec::new(),
            done: Some(std::mem::take(&mut self.outcome)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailStore, Mailbox};
    use crate::proto::pop3::Pop3Server;

    const BOB: &str = "bob@beta.example";

    fn store() -> MailStore {
        let mut mb = Mailbox::new(BOB, "builder");
        mb.inbox_mut()
            .append(Message::from_text("Subject: one\n\n.dot line\n.\n"), 0);
        mb.inbox_mut()
            .append(Message::from_text("Subject: two\n\nbody\n"), 0);
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn inbox(st: &MailStore) -> Vec<Message> {
        let messages = &st.get(BOB).unwrap().inbox().messages;
        messages.iter().map(|m| m.message.clone()).collect()
    }

    /// Wires a client to a server, as the world does: each side's lines go over whole, and a
    /// closing server ends the connection. Returns the outcome and the commands sent.
    fn session(st: &mut MailStore, mode: FetchMode, password: &str) -> (FetchOutcome, Vec<String>) {
        let mut server = Pop3Server::new("mail.beta.example", "<1@mail.beta.example>".into());
        let mut client = Pop3Client::new(BOB, password, mode);
        let mut sent = Vec::new();
        let mut to_client = server.greeting();
        loop {
            let mut to_server = Vec::new();
            for line in &to_client.lines {
                let step = client.on_line(line);
                to_server.extend(step.send);
                if let Some(done) = step.done {
                    assert!(to_server.is_empty());
                    return (done, sent);
                }
            }
            if to_client.close {
                return (client.on_connection_lost(), sent);
            }
            assert!(!to_server.is_empty(), "the client must say something");
            to_client = Default::default();
            for line in to_server {
                let r = server.on_line(&line, st, 0);
                sent.push(line);
                to_client.lines.extend(r.lines);
                to_client.close |= r.close;
            }
        }
    }

    #[test]
    fn delete_mode_empties_the_inbox() {
        let mut st = store();
        let stored = inbox(&st);
        let (out, sent) = session(&mut st, FetchMode::DeleteAfterRetrieve, "builder");
        assert_eq!(out.error, None);
        assert_eq!(out.messages, stored, "un-stuffed back to the stored text");
        assert_eq!(out.messages[0].body(), ".dot line\r\n.\r\n");
        assert_eq!(
            sent,
            [
                format!("USER {BOB}").as_str(),
                "PASS builder",
                "STAT",
                "RETR 1",
                "DELE 1",
                "RETR 2",
                "DELE 2",
                "QUIT"
            ]
        );
        assert!(inbox(&st).is_empty());
    }

    #[test]
    fn keep_mode_leaves_the_mail_there() {
        let mut st = store();
        let stored = inbox(&st);
        let (out, sent) = session(&mut st, FetchMode::KeepOnServer, "builder");
        assert_eq!(out.error, None);
        assert_eq!(out.messages, stored);
        assert!(!sent.iter().any(|l| l.starts_with("DELE")));
        assert_eq!(inbox(&st), stored);
        let seen = &st.get(BOB).unwrap().inbox().messages;
        assert!(seen.iter().all(|m| m.flags.seen));
    }

    #[test]
    fn an_empty_maildrop_goes_straight_to_quit() {
        let mut st = MailStore::default();
        st.add(Mailbox::new(BOB, "builder"));
        let (out, sent) = session(&mut st, FetchMode::DeleteAfterRetrieve, "builder");
        assert_eq!(out, FetchOutcome::default());
        assert_eq!(sent.last().map(String::as_str), Some("QUIT"));
        assert_eq!(sent.len(), 4);
    }

    #[test]
    fn a_bad_password_is_reported_and_the_client_still_quits() {
        let mut st = store();
        let before = st.clone();
        let (out, sent) = session(&mut st, FetchMode::DeleteAfterRetrieve, "wrong");
        assert!(out.error.as_deref().is_some_and(|e| !e.starts_with("-ERR")));
        assert!(out.messages.is_empty());
        assert_eq!(sent.last().map(String::as_str), Some("QUIT"));
        assert_eq!(st, before);
    }

    #[test]
    fn a_broken_connection_keeps_what_arrived() {
        let mut c = Pop3Client::new("bob", "pw", FetchMode::DeleteAfterRetrieve);
        for line in ["+OK ready", "+OK", "+OK in", "+OK 2 40", "+OK 20 octets"] {
            assert!(c.on_line(line).done.is_none());
        }
        for line in ["Subject: a", "", "..x", "."] {
            c.on_line(line);
        }
        c.on_line("+OK deleted");
        c.on_line("+OK 20 octets");
        c.on_line("Subject: b");
        let out = c.on_connection_lost();
        assert!(c.is_done());
        assert_eq!(out.messages.len(), 1);
        assert_eq!(out.messages[0].text(), "Subject: a\r\n\r\n.x\r\n");
        assert!(out.error.is_some());
    }

    #[test]
    fn status_indicators_are_read_exactly() {
        assert!(is_ok("+OK") && is_ok("+OK 2 320"));
        assert!(!is_ok("+OKAY") && !is_ok("-ERR no"));
        let mut c = Pop3Client::new("bob", "pw", FetchMode::KeepOnServer);
        c.on_line("+OK ready");
        c.on_line("+OK");
        c.on_line("+OK");
        let step = c.on_line("+OK lots");
        assert_eq!(step.send, ["QUIT"], "an unreadable STAT gives up");
        let done = c.on_line("+OK bye").done.unwrap();
        assert!(done.error.unwrap().contains("STAT"));
    }
}
