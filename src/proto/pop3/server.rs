//! The POP3 server engine (RFC 1939), sans-IO: command lines in, responses out, the mail store
//! passed in. A session serves the INBOX of the mailbox that logs in.

use super::wire::{Command, apop_digest, byte_stuff};
use crate::mail::{MailStore, StoredMessage};
use crate::proto::Response;

/// After this many failed logins the server hangs up, to slow down password guessing.
const MAX_FAILED_LOGINS: u32 = 3;

/// The session states of RFC 1939 section 3. UPDATE (section 6) has no variant: it is the work
/// QUIT does in TRANSACTION just before the connection closes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Section 4: waiting for USER then PASS, or APOP; `user` holds the name a USER just gave.
    Authorization { user: Option<String> },
    /// Section 5: logged in.
    Transaction(Maildrop),
    /// After QUIT, or too many failed logins: nothing more is answered.
    Closed,
}

/// The session's view of the INBOX, taken at login. Section 5 keeps message numbers and sizes
/// fixed for the whole session, and DELE only marks a message, so the marks live here and not
/// in the store until UPDATE.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Maildrop {
    key: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    uid: u32,
    size: usize,
    deleted: bool,
}

/// A POP3 session.
pub struct Pop3Server {
    hostname: String,
    /// The greeting's timestamp for APOP (section 7), supplied by the host: no clock here.
    timestamp: String,
    state: State,
    failed_logins: u32,
}

fn ok(text: impl AsRef<str>) -> Response {
    Response::line(format!("+OK {}", text.as_ref()))
}

fn err(text: impl AsRef<str>) -> Response {
    Response::line(format!("-ERR {}", text.as_ref()))
}

/// A multi-line response whose lines never start with "." (listings), so need no stuffing.
fn multi_line(first: Response, lines: impl IntoIterator<Item = String>) -> Response {
    let mut r = first;
    r.lines.extend(lines);
    r.push(".");
    r
}

/// RFC 2449 section 5: what this server can do, in both states.
fn capabilities() -> Response {
    let caps = [
        "USER",
        "UIDL",
        "TOP",
        "PIPELINING",
        "RESP-CODES",
        "IMPLEMENTATION mailsim",
    ];
    multi_line(
        ok("Capability list follows"),
        caps.into_iter().map(String::from),
    )
}

impl Pop3Server {
    /// `apop_timestamp` is the `<process-ID.clock@hostname>` of section 7, unique per session.
    pub fn new(hostname: &str, apop_timestamp: String) -> Pop3Server {
        Pop3Server {
            hostname: hostname.to_string(),
            timestamp: apop_timestamp,
            state: State::Authorization { user: None },
            failed_logins: 0,
        }
    }

    /// Whether a login has succeeded (the session is in TRANSACTION).
    pub fn logged_in(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    /// True once the session has ended and the connection should be gone.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Section 4: the greeting carries the APOP timestamp.
    pub fn greeting(&mut self) -> Response {
        ok(format!(
            "{} POP3 server ready {}",
            self.hostname, self.timestamp
        ))
    }

    /// Handles one command line (without CRLF). A line that does not parse gets -ERR and the
    /// session goes on.
    pub fn on_line(&mut self, line: &str, store: &mut MailStore, _now_ms: u64) -> Response {
        if self.is_closed() {
            return Response::default();
        }
        let command = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => return err(e.to_string()),
        };
        match &mut self.state {
            State::Authorization { user } => {
                let user = user.take();
                self.authorization(command, user, store)
            }
            State::Transaction(maildrop) => {
                let r = maildrop
                    .transaction(command, store, &self.hostname)
                    .unwrap_or_else(|e| e);
                if r.close {
                    // QUIT: the UPDATE is done, and the lock goes with the session.
                    self.release(store);
                }
                r
            }
            State::Closed => Response::default(),
        }
    }

    /// Section 4 and section 7 (USER, PASS, APOP). Any command but USER forgets a pending name:
    /// PASS must come right after USER.
    fn authorization(
        &mut self,
        command: Command,
        user: Option<String>,
        store: &mut MailStore,
    ) -> Response {
        match command {
            // Section 7: USER may be accepted for any name, so that it tells nobody which
            // mailboxes exist.
            Command::User(name) => {
                let r = ok(format!("send the password for {name}"));
                self.state = State::Authorization { user: Some(name) };
                r
            }
            Command::Pass(password) => match user {
                None => err("send USER first"),
                Some(name) => match store.authenticate(&name, &password) {
                    Some(key) => self.login(key, store),
                    None => self.failed(),
                },
            },
            Command::Apop { name, digest } => {
                let key = store.login_key(&name).filter(|key| {
                    store
                        .get(key)
                        .is_some_and(|mb| apop_digest(&self.timestamp, &mb.password) == digest)
                });
                match key {
                    Some(key) => self.login(key, store),
                    None => self.failed(),
                }
            }
            Command::Capa => capabilities(),
            // Section 6: QUIT before login closes without an UPDATE.
            Command::Quit => {
                self.state = State::Closed;
                Response::closing(format!("+OK {} POP3 server signing off", self.hostname))
            }
            other => err(format!("{} is not allowed before login", other.verb())),
        }
    }

    /// Enters TRANSACTION with a snapshot of the INBOX, holding the maildrop's exclusive lock
    /// (section 4): a second session of the same user is refused until this one ends, so that
    /// neither removes what the other is numbering. Refused with the IN-USE response code of
    /// RFC 2449 section 8.1.2; the session stays in AUTHORIZATION.
    fn login(&mut self, key: String, store: &mut MailStore) -> Response {
        match store.get_mut(&key) {
            Some(mb) if mb.pop3_locked => {
                return err("[IN-USE] the maildrop is locked by another POP3 session");
            }
            Some(mb) => mb.pop3_locked = true,
            None => {}
        }
        let entries: Vec<Entry> = store
            .get(&key)
            .map(|mb| {
                mb.inbox()
                    .messages
                    .iter()
                    .map(|m| Entry {
                        uid: m.uid,
                        size: m.message.len(),
                        deleted: false,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let maildrop = Maildrop { key, entries };
        let (count, octets) = maildrop.summary();
        let r = ok(format!(
            "{}'s maildrop has {} ({octets} octets)",
            maildrop.key,
            messages(count)
        ));
        self.state = State::Transaction(maildrop);
        r
    }

    /// Ends the session and lets go of the maildrop's lock, if it holds it: after QUIT, and when
    /// the connection goes away without one (its deletions are forgotten, section 6).
    pub fn release(&mut self, store: &mut MailStore) {
        if let State::Transaction(maildrop) = &self.state
            && let Some(mb) = store.get_mut(&maildrop.key)
        {
            mb.pop3_locked = false;
        }
        self.state = State::Closed;
    }

    fn failed(&mut self) -> Response {
        self.failed_logins += 1;
        if self.failed_logins >= MAX_FAILED_LOGINS {
            self.state = State::Closed;
            return Response::closing("-ERR too many failed logins, goodbye");
        }
        err("invalid user name or password")
    }
}

impl Maildrop {
    /// The messages not marked deleted, with their message numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        (1..).zip(&self.entries).filter(|(_, e)| !e.deleted)
    }

    /// Count and octets of the messages not marked deleted.
    fn summary(&self) -> (usize, usize) {
        self.live().fold((0, 0), |(count, octets), (_, e)| {
            (count + 1, octets + e.size)
        })
    }

    /// Section 5: a message-number may not refer to a message marked as deleted.
    fn entry(&mut self, n: u32) -> Result<&mut Entry, Response> {
        let count = self.entries.len();
        match (n as usize)
            .checked_sub(1)
            .and_then(|i| self.entries.get_mut(i))
        {
            None => Err(err(format!(
                "no such message {n}: the maildrop holds {count}"
            ))),
            Some(e) if e.deleted => Err(err(format!("message {n} is already deleted"))),
            Some(e) => Ok(e),
        }
    }

    /// The stored message for a live message number.
    fn stored<'s>(
        &mut self,
        n: u32,
        store: &'s mut MailStore,
    ) -> Result<&'s mut StoredMessage, Response> {
        let uid = self.entry(n)?.uid;
        store
            .get_mut(&self.key)
            .and_then(|mb| mb.inbox_mut().messages.iter_mut().find(|m| m.uid == uid))
            .ok_or_else(|| err(format!("message {n} is no longer in the mailbox")))
    }

    /// One command in TRANSACTION (section 5), and QUIT's UPDATE (section 6).
    fn transaction(
        &mut self,
        command: Command,
        store: &mut MailStore,
        hostname: &str,
    ) -> Result<Response, Response> {
        Ok(match command {
            Command::Stat => {
                let (count, octets) = self.summary();
                ok(format!("{count} {octets}"))
            }
            Command::List(None) => {
                let (count, octets) = self.summary();
                multi_line(
                    ok(format!("{} ({octets} octets)", messages(count))),
                    self.live().map(|(n, e)| format!("{n} {}", e.size)),
                )
            }
            Command::List(Some(n)) => ok(format!("{n} {}", self.entry(n)?.size)),
            // The store's UID is unique and never reused in the folder: a fine unique-id.
            Command::Uidl(None) => multi_line(
                ok("unique-id listing follows"),
                self.live().map(|(n, e)| format!("{n} {}", e.uid)),
            ),
            Command::Uidl(Some(n)) => ok(format!("{n} {}", self.entry(n)?.uid)),
            Command::Retr(n) => {
                let size = self.entry(n)?.size;
                let stored = self.stored(n, store)?;
                // As Dovecot does: a message read over POP3 counts as \Seen for IMAP too.
                stored.flags.seen = true;
                let mut r = ok(format!("{size} octets"));
                r.lines.extend(byte_stuff(stored.message.text()));
                r
            }
            // Section 7: the header, the empty line, then at most `lines` lines of the body.
            Command::Top { msg, lines } => {
                let message = &self.stored(msg, store)?.message;
                let mut text = message.header_block().to_string();
                text.extend(message.body().split_inclusive("\r\n").take(lines as usize));
                let mut r = ok("top of message follows");
                r.lines.extend(byte_stuff(&text));
                r
            }
            Command::Dele(n) => {
                self.entry(n)?.deleted = true;
                ok(format!("message {n} deleted"))
            }
            Command::Rset => {
                self.entries.iter_mut().for_each(|e| e.deleted = false);
                let (count, octets) = self.summary();
                ok(format!(
                    "maildrop has {} ({octets} octets)",
                    messages(count)
                ))
            }
            Command::Noop => Response::line("+OK"),
            Command::Capa => capabilities(),
            Command::Quit => {
                let tail = match self.update(store) {
                    0 => "maildrop empty".to_string(),
                    left => format!("{} left", messages(left)),
                };
                Response::closing(format!("+OK {hostname} POP3 server signing off ({tail})"))
            }
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } => err("already logged in"),
        })
    }

    /// Section 6, the UPDATE state: only now are the marked messages removed from the store.
    /// Returns how many messages the INBOX still holds.
    fn update(&self, store: &mut MailStore) -> usize {
        let Some(mailbox) = store.get_mut(&self.key) else {
            return 0;
        };
        let inbox = mailbox.inbox_mut();
        inbox
            .messages
            .retain(|m| !self.entries.iter().any(|e| e.deleted && e.uid == m.uid));
        inbox.messages.len()
    }
}

/// "1 message", "2 messages": the counts in the replies, in words (RFC 1939's own examples
/// leave the text free).
fn messages(n: usize) -> String {
    crate::text::counted(n, "message", "messages")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Mailbox, Message};
    use crate::proto::pop3::wire::byte_unstuff_text;

    const MROSE: &str = "mrose@dbc.mtview.ca.us";
    const STAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

    /// A store whose one mailbox holds messages of exactly these sizes in octets.
    fn store(password: &str, sizes: &[usize]) -> MailStore {
        let mut mb = Mailbox::new(MROSE, password);
        for (i, size) in sizes.iter().enumerate() {
            let head = format!("Subject: {i}\r\n\r\n");
            let body = "x".repeat(size - head.len() - 2);
            let message = Message::from_text(&format!("{head}{body}\r\n"));
            assert_eq!(message.len(), *size);
            mb.inbox_mut().append(message, 0);
        }
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn inbox(st: &MailStore) -> &[StoredMessage] {
        &st.get(MROSE).unwrap().inbox().messages
    }

    /// Only the status indicator: the free text of a response is not compared.
    fn status(r: &Response) -> &str {
        match r.lines.first() {
            Some(l) if l == "+OK" || l.starts_with("+OK ") => "+OK",
            Some(l) if l == "-ERR" || l.starts_with("-ERR ") => "-ERR",
            _ => "none",
        }
    }

    /// A server and a store with a session logged in by USER and PASS.
    fn logged_in(sizes: &[usize]) -> (Pop3Server, MailStore) {
        let mut st = store("pw", sizes);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        assert_eq!(status(&s.on_line("USER mrose", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "+OK");
        (s, st)
    }

    #[test]
    fn rfc1939_section_10_example_session() {
        let mut st = store("tanstaaf", &[120, 200]);
        let mut s = Pop3Server::new("dbc.mtview.ca.us", STAMP.into());
        let greeting = s.greeting();
        assert_eq!(status(&greeting), "+OK");
        assert!(greeting.lines[0].ends_with(STAMP));
        let r = s.on_line("APOP mrose c4c9334bac560ecc979e58001b3e22fb", &mut st, 0);
        assert_eq!(status(&r), "+OK");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 2 320"]);
        let list = s.on_line("LIST", &mut st, 0);
        assert_eq!(status(&list), "+OK");
        assert_eq!(&list.lines[1..], ["1 120", "2 200", "."]);
        for n in 1..=2 {
            let retr = s.on_line(&format!("RETR {n}"), &mut st, 0);
            assert_eq!(status(&retr), "+OK");
            let text = byte_unstuff_text(retr.lines[1..].iter().map(String::as_str));
            assert_eq!(text.as_deref(), Some(inbox(&st)[n - 1].message.text()));
            assert_eq!(status(&s.on_line(&format!("DELE {n}"), &mut st, 0)), "+OK");
        }
        let quit = s.on_line("QUIT", &mut st, 0);
        assert_eq!(status(&quit), "+OK");
        assert!(quit.close && quit.lines[0].ends_with("signing off (maildrop empty)"));
        assert!(s.is_closed());
        assert!(inbox(&st).is_empty());
    }

    #[test]
    fn apop_with_the_section_7_vector() {
        let mut st = store("tanstaaf", &[120]);
        let mut s = Pop3Server::new("dbc.mtview.ca.us", STAMP.into());
        s.greeting();
        // The right secret under another greeting's timestamp is refused.
        let stale = apop_digest("<1@elsewhere>", "tanstaaf");
        let r = s.on_line(&format!("APOP mrose {stale}"), &mut st, 0);
        assert_eq!(status(&r), "-ERR");
        let r = s.on_line("APOP nobody c4c9334bac560ecc979e58001b3e22fb", &mut st, 0);
        assert_eq!(status(&r), "-ERR");
        // Hex digits in either case, and the whole address as the name.
        let r = s.on_line(
            &format!("APOP {MROSE} C4C9334BAC560ECC979E58001B3E22FB"),
            &mut st,
            0,
        );
        assert_eq!(status(&r), "+OK");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 1 120"]);
    }

    #[test]
    fn deletions_reach_the_store_only_at_quit() {
        let (mut s, mut st) = logged_in(&[100, 150, 200]);
        assert_eq!(status(&s.on_line("DELE 1", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("DELE 3", &mut st, 0)), "+OK");
        assert_eq!(inbox(&st).len(), 3, "nothing is removed before QUIT");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 1 150"]);
        // Message numbers do not shift within the session (section 5).
        assert_eq!(s.on_line("LIST", &mut st, 0).lines[1..], ["2 150", "."]);
        let quit = s.on_line("QUIT", &mut st, 0);
        assert!(quit.close && quit.lines[0].ends_with("(1 message left)"));
        assert_eq!(inbox(&st).len(), 1);
        assert_eq!(inbox(&st)[0].message.len(), 150);
    }

    /// RFC 1939 section 4: the maildrop is locked while a session is in TRANSACTION. A second
    /// session is refused with RFC 2449's IN-USE code and stays in AUTHORIZATION; it gets in
    /// once the first has ended, by QUIT or by losing its connection.
    #[test]
    fn a_second_session_waits_for_the_maildrop_lock() {
        let (mut first, mut st) = logged_in(&[100, 150]);
        let mut second = Pop3Server::new("h", "<2@h>".into());
        assert_eq!(status(&second.on_line("USER mrose", &mut st, 0)), "+OK");
        let refused = second.on_line("PASS pw", &mut st, 0);
        assert!(
            refused.lines[0].starts_with("-ERR [IN-USE] "),
            "{:?}",
            refused.lines
        );
        assert!(!refused.close);
        assert_eq!(status(&second.on_line("STAT", &mut st, 0)), "-ERR");
        // APOP is refused the same way.
        let digest = apop_digest("<2@h>", "pw");
        let r = second.on_line(&format!("APOP mrose {digest}"), &mut st, 0);
        assert!(r.lines[0].starts_with("-ERR [IN-USE]"));

        assert_eq!(status(&first.on_line("DELE 1", &mut st, 0)), "+OK");
        assert!(first.on_line("QUIT", &mut st, 0).close);
        assert_eq!(status(&second.on_line("USER mrose", &mut st, 0)), "+OK");
        assert_eq!(status(&second.on_line("PASS pw", &mut st, 0)), "+OK");
        assert_eq!(second.on_line("STAT", &mut st, 0).lines, ["+OK 1 150"]);

        // The connection breaks: the lock goes, the deletion is forgotten.
        assert_eq!(status(&second.on_line("DELE 1", &mut st, 0)), "+OK");
        second.release(&mut st);
        assert!(second.is_closed());
        let mut third = Pop3Server::new("h", "<3@h>".into());
        third.on_line("USER mrose", &mut st, 0);
        assert_eq!(status(&third.on_line("PASS pw", &mut st, 0)), "+OK");
        assert_eq!(third.on_line("STAT", &mut st, 0).lines, ["+OK 1 150"]);
    }

    #[test]
    fn a_dropped_session_leaves_the_store_untouched() {
        let (mut s, mut st) = logged_in(&[100, 100]);
        let before = st.clone();
        s.on_line("DELE 1", &mut st, 0);
        s.on_line("DELE 2", &mut st, 0);
        drop(s);
        assert_eq!(st, before);
    }

    #[test]
    fn rset_unmarks_every_deletion() {
        let (mut s, mut st) = logged_in(&[100, 100]);
        s.on_line("DELE 1", &mut st, 0);
        s.on_line("DELE 2", &mut st, 0);
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 0 0"]);
        assert_eq!(status(&s.on_line("RSET", &mut st, 0)), "+OK");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 2 200"]);
        assert_eq!(status(&s.on_line("RETR 1", &mut st, 0)), "+OK");
        let quit = s.on_line("QUIT", &mut st, 0);
        assert!(quit.lines[0].ends_with("(2 messages left)"));
        assert_eq!(inbox(&st).len(), 2);
    }

    #[test]
    fn a_deleted_message_cannot_be_used() {
        let (mut s, mut st) = logged_in(&[100, 100]);
        s.on_line("DELE 1", &mut st, 0);
        for line in ["RETR 1", "LIST 1", "UIDL 1", "TOP 1 0", "DELE 1"] {
            assert_eq!(status(&s.on_line(line, &mut st, 0)), "-ERR", "{line}");
        }
        for line in ["RETR 3", "LIST 3", "UIDL 3", "DELE 3"] {
            assert_eq!(status(&s.on_line(line, &mut st, 0)), "-ERR", "{line}");
        }
        assert_eq!(s.on_line("UIDL", &mut st, 0).lines[1..], ["2 2", "."]);
    }

    #[test]
    fn commands_out_of_state_get_err() {
        let mut st = store("pw", &[100]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        for line in [
            "STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP",
        ] {
            assert_eq!(status(&s.on_line(line, &mut st, 0)), "-ERR", "{line}");
        }
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "-ERR");
        // PASS must follow USER at once.
        s.on_line("USER mrose", &mut st, 0);
        s.on_line("STAT", &mut st, 0);
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "-ERR");
        s.on_line("USER mrose", &mut st, 0);
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "+OK");
        for line in [
            "USER mrose",
            "PASS pw",
            &format!("APOP mrose {}", "0".repeat(32)),
        ] {
            assert_eq!(status(&s.on_line(line, &mut st, 0)), "-ERR", "{line}");
        }
        assert_eq!(s.on_line("NOOP", &mut st, 0).lines, ["+OK"]);
        s.on_line("QUIT", &mut st, 0);
        assert_eq!(s.on_line("STAT", &mut st, 0), Response::default());
    }

    #[test]
    fn garbage_gets_err_and_the_session_goes_on() {
        let mut st = store("pw", &[100]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        let long = format!("USER {}", "m".repeat(300));
        for line in ["", "\u{7}garbage", "HELO there", "RETR x", &long] {
            let r = s.on_line(line, &mut st, 0);
            assert_eq!(status(&r), "-ERR", "{line:?}");
            assert!(!r.close);
        }
        s.on_line("user mrose", &mut st, 0);
        assert_eq!(status(&s.on_line("pass pw", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("TOP 1", &mut st, 0)), "-ERR");
        assert_eq!(s.on_line("stat", &mut st, 0).lines, ["+OK 1 100"]);
    }

    #[test]
    fn quit_before_login_closes_without_update() {
        let mut st = store("pw", &[100]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        let r = s.on_line("QUIT", &mut st, 0);
        assert_eq!(status(&r), "+OK");
        assert!(r.close && s.is_closed());
    }

    #[test]
    fn retr_stuffs_dots_and_marks_the_message_seen() {
        let mut st = store("pw", &[]);
        let text = "Subject: dots\r\n\r\n.hidden\r\n.\r\nend\r\n";
        st.get_mut(MROSE)
            .unwrap()
            .inbox_mut()
            .append(Message::from_text(text), 0);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        s.on_line(&format!("USER {MROSE}"), &mut st, 0);
        s.on_line("PASS pw", &mut st, 0);
        assert!(!inbox(&st)[0].flags.seen);
        let r = s.on_line("RETR 1", &mut st, 0);
        assert_eq!(
            r.lines[1..],
            ["Subject: dots", "", "..hidden", "..", "end", "."]
        );
        assert!(inbox(&st)[0].flags.seen);
        assert!(inbox(&st)[0].flags.recent, "\\Recent is IMAP's business");
    }

    #[test]
    fn top_sends_the_header_and_some_body_lines() {
        let mut st = store("pw", &[]);
        let text = "Subject: t\r\nFrom: a@b\r\n\r\none\r\ntwo\r\nthree\r\n";
        st.get_mut(MROSE)
            .unwrap()
            .inbox_mut()
            .append(Message::from_text(text), 0);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        s.on_line("USER mrose", &mut st, 0);
        s.on_line("PASS pw", &mut st, 0);
        let top = |s: &mut Pop3Server, st: &mut MailStore, n| {
            s.on_line(&format!("TOP 1 {n}"), st, 0).lines[1..].to_vec()
        };
        assert_eq!(
            top(&mut s, &mut st, 0),
            ["Subject: t", "From: a@b", "", "."]
        );
        assert_eq!(
            top(&mut s, &mut st, 2),
            ["Subject: t", "From: a@b", "", "one", "two", "."]
        );
        assert_eq!(top(&mut s, &mut st, 99).len(), 7, "the whole message");
        assert!(!inbox(&st)[0].flags.seen, "TOP is not reading");
    }

    #[test]
    fn uidl_gives_the_stored_uid() {
        let mut st = store("pw", &[100, 100, 100]);
        st.get_mut(MROSE).unwrap().inbox_mut().messages.remove(0);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        s.on_line("USER mrose", &mut st, 0);
        s.on_line("PASS pw", &mut st, 0);
        let r = s.on_line("UIDL", &mut st, 0);
        assert_eq!(status(&r), "+OK");
        assert_eq!(r.lines[1..], ["1 2", "2 3", "."]);
        assert_eq!(s.on_line("UIDL 2", &mut st, 0).lines, ["+OK 2 3"]);
        assert_eq!(s.on_line("LIST 2", &mut st, 0).lines, ["+OK 2 100"]);
    }

    #[test]
    fn capa_answers_in_both_states() {
        let expected = [
            "USER",
            "UIDL",
            "TOP",
            "PIPELINING",
            "RESP-CODES",
            "IMPLEMENTATION mailsim",
            ".",
        ];
        let mut st = store("pw", &[]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        let r = s.on_line("CAPA", &mut st, 0);
        assert_eq!(status(&r), "+OK");
        assert_eq!(r.lines[1..], expected);
        s.on_line("USER mrose", &mut st, 0);
        s.on_line("PASS pw", &mut st, 0);
        assert_eq!(s.on_line("capa", &mut st, 0).lines[1..], expected);
    }

    #[test]
    fn three_failed_logins_close_the_connection() {
        let mut st = store("pw", &[]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        s.on_line("USER mrose", &mut st, 0);
        assert!(!s.on_line("PASS nope", &mut st, 0).close);
        let digest = apop_digest("<1@h>", "nope");
        assert!(!s.on_line(&format!("APOP mrose {digest}"), &mut st, 0).close);
        s.on_line("USER nobody", &mut st, 0);
        let r = s.on_line("PASS pw", &mut st, 0);
        assert_eq!(status(&r), "-ERR");
        assert!(r.close && s.is_closed());
        assert_eq!(s.on_line("USER mrose", &mut st, 0), Response::default());
    }
}
