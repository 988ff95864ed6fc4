//! The POP3 client engine: a mail program that downloads the INBOX.

use super::wire::byte_unstuff;
use crate::mail::Message;
use crate::proto::{FetchOutcome, FetchStep};

/// What happens to the messages on the server after download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchMode {
    /// "Leave a copy on the server".
    KeepOnServer,
    /// The classic POP3 habit: RETR then DELE.
    DeleteAfterRetrieve,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Greeting,
    User,
    Pass,
    Stat,
    /// Waiting for the +OK of RETR n.
    Retr(u32),
    /// Reading the lines of message n.
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
    count: u32,
    current: String,
    outcome: FetchOutcome,
}

impl Pop3Client {
    pub fn new(login: &str, password: &str, mode: FetchMode) -> Pop3Client {
        Pop3Client {
            login: login.to_string(),
            password: password.to_string(),
            mode,
            state: State::Greeting,
            count: 0,
            current: String::new(),
            outcome: FetchOutcome::default(),
        }
    }

    fn send(&mut self, state: State, line: String) -> FetchStep {
        self.state = state;
        FetchStep {
            send: vec![line],
            done: None,
        }
    }

    fn fail(&mut self, line: &str) -> FetchStep {
        self.outcome.error = Some(line.trim_start_matches("-ERR").trim().to_string());
        self.send(State::Quit, "QUIT".into())
    }

    /// The next message to retrieve after message `n`, or QUIT.
    fn after(&mut self, n: u32) -> FetchStep {
        if n < self.count {
            self.send(State::Retr(n + 1), format!("RETR {}", n + 1))
        } else {
            self.send(State::Quit, "QUIT".into())
        }
    }

    /// Handles one line from the server.
    pub fn on_line(&mut self, line: &str) -> FetchStep {
        let ok = line.starts_with("+OK");
        match self.state {
            State::Reading(n) => {
                if line == "." {
                    self.outcome
                        .messages
                        .push(Message::from_text(&std::mem::take(&mut self.current)));
                    return match self.mode {
                        FetchMode::DeleteAfterRetrieve => {
                            self.send(State::Dele(n), format!("DELE {n}"))
                        }
                        FetchMode::KeepOnServer => self.after(n),
                    };
                }
                self.current.push_str(byte_unstuff(line));
                self.current.push_str("\r\n");
                FetchStep::default()
            }
            _ if !ok && self.state != State::Quit && self.state != State::Done => self.fail(line),
            State::Greeting => self.send(State::User, format!("USER {}", self.login)),
            State::User => self.send(State::Pass, format!("PASS {}", self.password)),
            State::Pass => self.send(State::Stat, "STAT".into()),
            State::Stat => {
                self.count = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                self.after(0)
            }
            State::Retr(n) => {
                self.state = State::Reading(n);
                FetchStep::default()
            }
            State::Dele(n) => self.after(n),
            State::Quit => {
                self.state = State::Done;
                FetchStep {
                    send: vec![],
                    done: Some(std::mem::take(&mut self.outcome)),
                }
            }
            State::Done => FetchStep::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailStore, Mailbox};
    use crate::proto::pop3::Pop3Server;

    fn store() -> MailStore {
        let mut mb = Mailbox::new("bob@beta.example", "builder");
        mb.inbox_mut()
            .append(Message::from_text("Subject: one\n\n.dot line\n"), 0);
        mb.inbox_mut()
            .append(Message::from_text("Subject: two\n\nbody\n"), 0);
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn session(st: &mut MailStore, mode: FetchMode, password: &str) -> FetchOutcome {
        let mut server = Pop3Server::new("mx", "<1@mx>".into());
        let mut client = Pop3Client::new("bob@beta.example", password, mode);
        let mut to_client = server.greeting().lines;
        loop {
            let mut to_server = Vec::new();
            for l in &to_client {
                let step = client.on_line(l);
                if let Some(done) = step.done {
                    return done;
                }
                to_server.extend(step.send);
            }
            to_client = to_server
                .iter()
                .flat_map(|l| server.on_line(l, st, 0).lines)
                .collect();
        }
    }

    #[test]
    fn delete_mode_empties_the_inbox() {
        let mut st = store();
        let out = session(&mut st, FetchMode::DeleteAfterRetrieve, "builder");
        assert_eq!(out.messages.len(), 2);
        assert_eq!(out.messages[0].body(), ".dot line\r\n");
        assert!(
            st.get("bob@beta.example")
                .unwrap()
                .inbox()
                .messages
                .is_empty()
        );
    }

    #[test]
    fn keep_mode_leaves_the_mail_there() {
        let mut st = store();
        let out = session(&mut st, FetchMode::KeepOnServer, "builder");
        assert_eq!(out.messages.len(), 2);
        assert_eq!(
            st.get("bob@beta.example").unwrap().inbox().messages.len(),
            2
        );
    }

    #[test]
    fn a_bad_password_is_reported() {
        let mut st = store();
        let out = session(&mut st, FetchMode::KeepOnServer, "wrong");
        assert!(out.error.is_some());
        assert!(out.messages.is_empty());
    }
}
