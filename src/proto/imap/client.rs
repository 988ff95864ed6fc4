//! The IMAP client engine: a mail program that fetches the unseen messages of the INBOX and
//! leaves them on the server.

use super::wire::quote;
use crate::mail::Message;
use crate::proto::{FetchOutcome, FetchStep};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Greeting,
    Login,
    Select,
    Search,
    Fetch,
    Logout,
    Done,
}

/// An IMAP fetch session.
pub struct ImapClient {
    login: String,
    password: String,
    state: State,
    tag: u32,
    uids: Vec<u32>,
    /// Octets of a literal still to read, and the text read so far.
    literal: Option<(usize, String)>,
    outcome: FetchOutcome,
}

impl ImapClient {
    pub fn new(login: &str, password: &str) -> ImapClient {
        ImapClient {
            login: login.to_string(),
            password: password.to_string(),
            state: State::Greeting,
            tag: 0,
            uids: Vec::new(),
            literal: None,
            outcome: FetchOutcome::default(),
        }
    }

    fn send(&mut self, state: State, command: &str) -> FetchStep {
        self.tag += 1;
        self.state = state;
        FetchStep {
            send: vec![format!("a{} {command}", self.tag)],
            done: None,
        }
    }

    fn current_tag(&self) -> String {
        format!("a{}", self.tag)
    }

    /// Handles one line from the server.
    pub fn on_line(&mut self, line: &str) -> FetchStep {
        // Inside a literal: the octets count, line ends included.
        if let Some((left, mut text)) = self.literal.take() {
            let with_crlf = line.len() + 2;
            if with_crlf <= left {
                text.push_str(line);
                text.push_str("\r\n");
                self.literal = if with_crlf == left {
                    None
                } else {
                    Some((left - with_crlf, text.clone()))
                };
                if with_crlf == left {
                    self.outcome.messages.push(Message::from_text(&text));
                }
            } else {
                // The literal ends inside this line; the rest (the closing ")") is not text.
                text.push_str(&line[..left.min(line.len())]);
                self.outcome.messages.push(Message::from_text(&text));
            }
            return FetchStep::default();
        }
        if self.state == State::Greeting {
            return self.send(
                State::Login,
                &format!("LOGIN {} {}", quote(&self.login), quote(&self.password)),
            );
        }
        if let Some(rest) = line.strip_prefix("* ") {
            if self.state == State::Search
                && let Some(nums) = rest.strip_prefix("SEARCH")
            {
                self.uids = nums
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect();
            }
            if let Some(open) = line.rfind('{')
                && line.ends_with('}')
                && let Ok(n) = line[open + 1..line.len() - 1].parse::<usize>()
            {
                self.literal = Some((n, String::new()));
            }
            return FetchStep::default();
        }
        let tag = self.current_tag();
        let Some(rest) = line.strip_prefix(&format!("{tag} ")) else {
            return FetchStep::default();
        };
        let ok = rest.starts_with("OK");
        match self.state {
            State::Logout => {
                self.state = State::Done;
                FetchStep {
                    send: vec![],
                    done: Some(std::mem::take(&mut self.outcome)),
                }
            }
            _ if !ok => {
                self.outcome.error = Some(rest.to_string());
                self.send(State::Logout, "LOGOUT")
            }
            State::Login => self.send(State::Select, "SELECT INBOX"),
            State::Select => self.send(State::Search, "UID SEARCH UNSEEN"),
            State::Search if self.uids.is_empty() => self.send(State::Logout, "LOGOUT"),
            State::Search => {
                let set: Vec<String> = self.uids.iter().map(u32::to_string).collect();
                self.send(
                    State::Fetch,
                    &format!("UID FETCH {} (UID FLAGS BODY[])", set.join(",")),
                )
            }
            State::Fetch => self.send(State::Logout, "LOGOUT"),
            State::Greeting | State::Done => FetchStep::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailStore, Mailbox};
    use crate::proto::imap::ImapServer;

    fn session(st: &mut MailStore, password: &str) -> FetchOutcome {
        let mut server = ImapServer::new("mx");
        let mut client = ImapClient::new("bob@beta.example", password);
        let mut to_client: Vec<String> = server.greeting().lines;
        loop {
            let mut to_server = Vec::new();
            // The world splits what arrives into lines, literals included.
            for chunk in &to_client {
                for line in chunk.split("\r\n") {
                    let step = client.on_line(line);
                    if let Some(done) = step.done {
                        return done;
                    }
                    to_server.extend(step.send);
                }
            }
            to_client = to_server
                .iter()
                .flat_map(|l| server.on_line(l, st, 0).lines)
                .collect();
        }
    }

    #[test]
    fn unseen_mail_is_fetched_once_and_stays_on_the_server() {
        let mut mb = Mailbox::new("bob@beta.example", "builder");
        mb.inbox_mut()
            .append(Message::from_text("Subject: one\n\nfirst\n"), 0);
        mb.inbox_mut()
            .append(Message::from_text("Subject: two\n\nsecond\nline\n"), 0);
        let mut st = MailStore::default();
        st.add(mb);
        let out = session(&mut st, "builder");
        assert_eq!(out.error, None);
        assert_eq!(out.messages.len(), 2);
        assert_eq!(
            out.messages[1].text(),
            "Subject: two\r\n\r\nsecond\r\nline\r\n"
        );
        let inbox = st.get("bob@beta.example").unwrap().inbox();
        assert_eq!(inbox.messages.len(), 2);
        assert!(inbox.messages.iter().all(|m| m.flags.seen));
        assert!(
            session(&mut st, "builder").messages.is_empty(),
            "a second run finds nothing new"
        );
        assert!(session(&mut st, "nope").error.is_some());
    }
}
