//! The IMAP client engine: a mail program that fetches the unseen messages of the INBOX and
//! leaves them on the server, marked `\Seen`.

use super::wire::{ResponseReader, Value, parse_values, quote};
use crate::mail::Message;
use crate::proto::{FetchOutcome, FetchStep};

/// What the client waits for.
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

/// An IMAP fetch session: LOGIN, SELECT INBOX, UID SEARCH UNSEEN, UID FETCH, LOGOUT.
pub struct ImapClient {
    login: String,
    password: String,
    state: State,
    /// The number of the last tag sent (`a1`, `a2`, ...).
    tag: u32,
    /// The command waiting for its tagged answer, for error messages.
    pending: String,
    reader: ResponseReader,
    unseen: Vec<u32>,
    outcome: FetchOutcome,
}

impl ImapClient {
    pub fn new(login: &str, password: &str) -> ImapClient {
        ImapClient {
            login: login.to_string(),
            password: password.to_string(),
            state: State::Greeting,
            tag: 0,
            pending: String::new(),
            reader: ResponseReader::default(),
            unseen: Vec::new(),
            outcome: FetchOutcome::default(),
        }
    }

    /// Handles one line from the server (without CRLF); literals arrive over several lines.
    pub fn on_line(&mut self, line: &str) -> FetchStep {
        if self.state == State::Done {
            return FetchStep::default();
        }
        match self.reader.push(line) {
            Some(response) => self.on_response(&response),
            None => FetchStep::default(),
        }
    }

    fn on_response(&mut self, response: &str) -> FetchStep {
        let (first, rest) = response.split_once(' ').unwrap_or((response, ""));
        if first == "*" {
            return self.on_untagged(rest);
        }
        if first != format!("a{}", self.tag) {
            // A continuation request or someone else's tag: not for this client.
            return FetchStep::default();
        }
        if self.state == State::Logout {
            return self.finish();
        }
        if !rest.starts_with("OK") {
            // A failed login speaks for itself; other failures say which command failed.
            let error = if self.state == State::Login {
                rest.to_string()
            } else {
                format!("{}: {rest}", self.pending)
            };
            self.outcome.error = Some(error);
            return self.send(State::Logout, "LOGOUT".into());
        }
        match self.state {
            State::Login => self.send(State::Select, "SELECT INBOX".into()),
            State::Select => self.send(State::Search, "UID SEARCH UNSEEN".into()),
            State::Search if self.unseen.is_empty() => self.send(State::Logout, "LOGOUT".into()),
            State::Search => {
                // BODY[] rather than BODY.PEEK[]: fetching marks the messages \Seen, so the
                // next run does not download them again.
                let set = uid_set(&self.unseen);
                self.send(State::Fetch, format!("UID FETCH {set} (UID FLAGS BODY[])"))
            }
            State::Fetch => self.send(State::Logout, "LOGOUT".into()),
            State::Greeting | State::Logout | State::Done => FetchStep::default(),
        }
    }

    fn on_untagged(&mut self, rest: &str) -> FetchStep {
        let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
        match (self.state, word) {
            (State::Greeting, "OK") => {
                let login = format!("LOGIN {} {}", quote(&self.login), quote(&self.password));
                self.send(State::Login, login)
            }
            // Already logged in by the connection itself (RFC 3501 section 7.1.4).
            (State::Greeting, "PREAUTH") => self.send(State::Select, "SELECT INBOX".into()),
            (State::Greeting, _) => {
                self.outcome.error = Some(rest.to_string());
                self.finish()
            }
            (State::Logout, "BYE") => FetchStep::default(),
            (_, "BYE") => {
                // The server is hanging up (RFC 3501 section 7.1.5); the tagged answer may
                // still come, else the connection simply ends.
                self.outcome.error.get_or_insert_with(|| rest.to_string());
                FetchStep::default()
            }
            (State::Search, "SEARCH") => {
                self.unseen = text
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                FetchStep::default()
            }
            (State::Fetch, _) => {
                if let Some(message) = fetched_message(rest) {
                    self.outcome.messages.push(message);
                }
                FetchStep::default()
            }
            _ => FetchStep::default(),
        }
    }

    fn send(&mut self, state: State, command: String) -> FetchStep {
        self.tag += 1;
        self.state = state;
        let line = format!("a{} {command}", self.tag);
        self.pending = command;
        FetchStep {
            send: vec![line],
            done: None,
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

/// The message in an untagged `n FETCH (... BODY[] {size}...)`, if there is one (a FETCH
/// with only FLAGS, for instance, has none).
fn fetched_message(untagged: &str) -> Option<Message> {
    let values = parse_values(untagged).ok()?;
    let [Value::Atom(_), Value::Atom(kind), Value::List(items)] = &values[..] else {
        return None;
    };
    if !kind.eq_ignore_ascii_case("FETCH") {
        return None;
    }
    items.chunks(2).find_map(|pair| match pair {
        [Value::Atom(name), Value::Str(text)]
            if name.eq_ignore_ascii_case("BODY[]") || name.eq_ignore_ascii_case("RFC822") =>
        {
            Some(Message::from_text(text))
        }
        _ => None,
    })
}

/// UIDs as a compact set: `1:3,7`.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        parts.push(if sorted[i] == start {
            start.to_string()
        } else {
            format!("{start}:{}", sorted[i])
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailStore, Mailbox};
    use crate::proto::imap::ImapServer;
    use crate::proto::split_lines;

    const BOB: &str = "bob@beta.example";

    fn store() -> MailStore {
        let mut mb = Mailbox::new(BOB, "builder");
        let inbox = mb.inbox_mut();
        inbox.append(Message::from_text("Subject: old\n\nalready read\n"), 0);
        inbox.messages[0].flags.seen = true;
        inbox.append(Message::from_text("Subject: one\n\nfirst\n"), 0);
        inbox.append(
            Message::from_text("Subject: two\n\nsecond\n)\n* 3 FETCH {4}\n"),
            0,
        );
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    /// Runs a client against a server the way the world does: each response travels as
    /// CRLF-joined text and is split into lines again on arrival.
    fn session(st: &mut MailStore, password: &str) -> (FetchOutcome, Vec<String>) {
        let mut server = ImapServer::new("mx.beta.example");
        let mut client = ImapClient::new(BOB, password);
        let mut sent = Vec::new();
        let mut to_client = server.greeting().wire_text();
        for _ in 0..20 {
            let mut to_server = Vec::new();
            for line in split_lines(&to_client) {
                let step = client.on_line(line);
                if let Some(done) = step.done {
                    return (done, sent);
                }
                to_server.extend(step.send);
            }
            to_client = String::new();
            for line in to_server {
                to_client.push_str(&server.on_line(&line, st, 0).wire_text());
                sent.push(line);
            }
        }
        panic!("the session does not end: {sent:?}");
    }

    #[test]
    fn unseen_mail_is_fetched_once_and_stays_on_the_server() {
        let mut st = store();
        let (out, sent) = session(&mut st, "builder");
        assert_eq!(out.error, None);
        assert_eq!(
            sent,
            [
                "a1 LOGIN \"bob@beta.example\" \"builder\"",
                "a2 SELECT INBOX",
                "a3 UID SEARCH UNSEEN",
                "a4 UID FETCH 2:3 (UID FLAGS BODY[])",
                "a5 LOGOUT"
            ]
        );
        let texts: Vec<&str> = out.messages.iter().map(Message::text).collect();
        assert_eq!(
            texts,
            [
                "Subject: one\r\n\r\nfirst\r\n",
                "Subject: two\r\n\r\nsecond\r\n)\r\n* 3 FETCH {4}\r\n"
            ]
        );
        let inbox = st.get(BOB).unwrap().inbox();
        assert_eq!(
            inbox.messages.len(),
            3,
            "IMAP leaves the mail on the server"
        );
        assert!(inbox.messages.iter().all(|m| m.flags.seen));

        let (again, sent) = session(&mut st, "builder");
        assert!(again.messages.is_empty() && again.error.is_none());
        assert_eq!(sent.last().map(String::as_str), Some("a4 LOGOUT"));
    }

    #[test]
    fn a_refused_login_is_reported_after_logout() {
        let mut st = store();
        let (out, sent) = session(&mut st, "wrong");
        assert!(out.messages.is_empty());
        assert!(out.error.unwrap().starts_with("NO "));
        assert_eq!(sent[1], "a2 LOGOUT");
    }

    #[test]
    fn greetings_and_odd_lines() {
        let mut c = ImapClient::new("u", "p");
        assert_eq!(
            c.on_line("* PREAUTH welcome back").send,
            ["a1 SELECT INBOX"]
        );
        assert!(c.on_line("+ go ahead").send.is_empty());
        assert!(c.on_line("zz OK not mine").send.is_empty());
        assert!(c.on_line("* 3 EXISTS").send.is_empty());
        assert_eq!(
            c.on_line("a1 OK [READ-WRITE] done").send,
            ["a2 UID SEARCH UNSEEN"]
        );
        assert_eq!(c.on_line("* SEARCH 5 6 7 9").send, Vec::<String>::new());
        assert_eq!(
            c.on_line("a2 OK done").send,
            ["a3 UID FETCH 5:7,9 (UID FLAGS BODY[])"]
        );
        assert_eq!(c.on_line("a3 NO [SERVERBUG] oops").send, ["a4 LOGOUT"]);
        let done = c.on_line("a4 OK bye").done.unwrap();
        assert_eq!(
            done.error.as_deref(),
            Some("UID FETCH 5:7,9 (UID FLAGS BODY[]): NO [SERVERBUG] oops")
        );

        let mut c = ImapClient::new("u", "p");
        let step = c.on_line("* BYE too busy");
        assert_eq!(step.done.unwrap().error.as_deref(), Some("BYE too busy"));
    }
}
