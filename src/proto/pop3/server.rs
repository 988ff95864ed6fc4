//! The POP3 server engine (RFC 1939), sans-IO: lines in, responses out, the mail store passed in.

use super::wire::{Command, apop_digest, byte_stuff};
use crate::mail::MailStore;
use crate::proto::Response;

/// RFC 1939 section 3: the three states of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for USER and PASS, or APOP; `user` holds the name after USER.
    Authorization { user: Option<String> },
    /// Logged in: the mailbox key and the session's view of the maildrop.
    Transaction { key: String, drop: Vec<Entry> },
    /// After QUIT: nothing more.
    Done,
}

/// One message as the session numbers it: fixed at login (section 4, "the maildrop is locked").
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    uid: u32,
    size: usize,
    deleted: bool,
}

/// After this many failed logins the server hangs up.
const MAX_FAILED_LOGINS: u32 = 3;

/// A POP3 session.
pub struct Pop3Server {
    hostname: String,
    /// The greeting's timestamp for APOP (section 7), supplied by the host: no clock here.
    timestamp: String,
    state: State,
    failed_logins: u32,
}

fn ok(text: impl Into<String>) -> Response {
    Response::line(format!("+OK {}", text.into()))
}

fn err(text: impl Into<String>) -> Response {
    Response::line(format!("-ERR {}", text.into()))
}

impl Pop3Server {
    pub fn new(hostname: &str, apop_timestamp: String) -> Pop3Server {
        Pop3Server {
            hostname: hostname.to_string(),
            timestamp: apop_timestamp,
            state: State::Authorization { user: None },
            failed_logins: 0,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Done
    }

    pub fn greeting(&mut self) -> Response {
        ok(format!(
            "{} POP3 server ready {}",
            self.hostname, self.timestamp
        ))
    }

    /// Handles one command line.
    pub fn on_line(&mut self, line: &str, store: &mut MailStore, _now_ms: u64) -> Response {
        if self.state == State::Done {
            return Response::default();
        }
        let command = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => return err(e.to_string()),
        };
        match std::mem::replace(&mut self.state, State::Done) {
            State::Authorization { user } => self.authorization(command, user, store),
            State::Transaction { key, drop } => self.transaction(command, key, drop, store),
            State::Done => Response::default(),
        }
    }

    fn authorization(
        &mut self,
        command: Command,
        user: Option<String>,
        store: &mut MailStore,
    ) -> Response {
        self.state = State::Authorization { user: None };
        match command {
            Command::User(name) => {
                self.state = State::Authorization {
                    user: Some(name.clone()),
                };
                ok(format!("send the password for {name}"))
            }
            Command::Pass(password) => match user {
                None => err("send USER first"),
                Some(name) => match store.authenticate(&name, &password) {
                    Some(key) => self.login(key, store),
                    None => self.failed(),
                },
            },
            Command::Apop { name, digest } => {
                let key = store.login_key(&name);
                let good = key
                    .as_ref()
                    .and_then(|k| store.get(k))
                    .is_some_and(|mb| apop_digest(&self.timestamp, &mb.password) == digest);
                match (good, key) {
                    (true, Some(key)) => self.login(key, store),
                    _ => self.failed(),
                }
            }
            Command::Capa => capabilities(),
            Command::Quit => {
                self.state = State::Done;
                Response::closing(format!("+OK {} POP3 server signing off", self.hostname))
            }
            Command::Noop => err("log in first"),
            _ => err("command not valid before login"),
        }
    }

    fn login(&mut self, key: String, store: &MailStore) -> Response {
        let drop: Vec<Entry> = store
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
        let (n, size) = (drop.len(), drop.iter().map(|e| e.size).sum::<usize>());
        self.state = State::Transaction {
            key: key.clone(),
            drop,
        };
        ok(format!("{key}'s maildrop has {n} messages ({size} octets)"))
    }

    fn failed(&mut self) -> Response {
        self.failed_logins += 1;
        if self.failed_logins >= MAX_FAILED_LOGINS {
            self.state = State::Done;
            return Response::closing("-ERR too many failed logins, goodbye");
        }
        err("invalid user name or password")
    }

    fn transaction(
        &mut self,
        command: Command,
        key: String,
        mut drop: Vec<Entry>,
        store: &mut MailStore,
    ) -> Response {
        let live = |drop: &[Entry], n: u32| -> Option<usize> {
            let i = (n as usize).checked_sub(1)?;
            drop.get(i).filter(|e| !e.deleted).map(|_| i)
        };
        let text_of = |store: &MailStore, uid: u32| -> String {
            store
                .get(&key)
                .and_then(|mb| mb.inbox().messages.iter().find(|m| m.uid == uid))
                .map(|m| m.message.text().to_string())
                .unwrap_or_default()
        };
        let response = match command {
            Command::Stat => {
                let live: Vec<&Entry> = drop.iter().filter(|e| !e.deleted).collect();
                ok(format!(
                    "{} {}",
                    live.len(),
                    live.iter().map(|e| e.size).sum::<usize>()
                ))
            }
            Command::List(None) | Command::Uidl(None) => {
                let uidl = matches!(command, Command::Uidl(_));
                let live: Vec<(usize, &Entry)> = drop
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.deleted)
                    .collect();
                let mut r = ok(format!("{} messages", live.len()));
                for (i, e) in live {
                    r.push(if uidl {
                        format!("{} {}", i + 1, e.uid)
                    } else {
                        format!("{} {}", i + 1, e.size)
                    });
                }
                r.push(".");
                r
            }
            Command::List(Some(n)) => match live(&drop, n) {
                Some(i) => ok(format!("{n} {}", drop[i].size)),
                None => err(format!("no such message {n}")),
            },
            Command::Uidl(Some(n)) => match live(&drop, n) {
                Some(i) => ok(format!("{n} {}", drop[i].uid)),
                None => err(format!("no such message {n}")),
            },
            Command::Retr(n) => match live(&drop, n) {
                Some(i) => {
                    let uid = drop[i].uid;
                    let mut r = ok(format!("{} octets", drop[i].size));
                    r.lines.extend(byte_stuff(&text_of(store, uid)));
                    // Like Dovecot, a retrieved message counts as read for IMAP too.
                    if let Some(m) = store
                        .get_mut(&key)
                        .and_then(|mb| mb.inbox_mut().messages.iter_mut().find(|m| m.uid == uid))
                    {
                        m.flags.seen = true;
                        m.flags.recent = false;
                    }
                    r
                }
                None => err(format!("no such message {n}")),
            },
            Command::Top { msg, lines } => match live(&drop, msg) {
                Some(i) => {
                    let text = text_of(store, drop[i].uid);
                    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                    let mut part = format!("{head}\r\n\r\n");
                    for l in body.split_inclusive("\r\n").take(lines as usize) {
                        part.push_str(l);
                    }
                    let mut r = ok("top of message follows");
                    r.lines.extend(byte_stuff(&part));
                    r
                }
                None => err(format!("no such message {msg}")),
            },
            Command::Dele(n) => match live(&drop, n) {
                Some(i) => {
                    drop[i].deleted = true;
                    ok(format!("message {n} deleted"))
                }
                None => err(format!("no such message {n}")),
            },
            Command::Rset => {
                drop.iter_mut().for_each(|e| e.deleted = false);
                ok(format!("maildrop has {} messages", drop.len()))
            }
            Command::Noop => ok(""),
            Command::Capa => capabilities(),
            Command::Quit => {
                // Section 6, the UPDATE state: only now are the marked messages removed.
                let gone: Vec<u32> = drop.iter().filter(|e| e.deleted).map(|e| e.uid).collect();
                let left = if let Some(mb) = store.get_mut(&key) {
                    let inbox = mb.inbox_mut();
                    inbox.messages.retain(|m| !gone.contains(&m.uid));
                    inbox.messages.len()
                } else {
                    0
                };
                self.state = State::Done;
                let tail = if left == 0 {
                    "(maildrop empty)".to_string()
                } else {
                    format!("({left} messages left)")
                };
                return Response::closing(format!(
                    "+OK {} POP3 server signing off {tail}",
                    self.hostname
                ));
            }
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } => err("already logged in"),
        };
        self.state = State::Transaction { key, drop };
        response
    }
}

fn capabilities() -> Response {
    let mut r = ok("Capability list follows");
    for c in [
        "USER",
        "UIDL",
        "TOP",
        "PIPELINING",
        "RESP-CODES",
        "IMPLEMENTATION mailsim",
    ] {
        r.push(c);
    }
    r.push(".");
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Mailbox, Message};

    fn store(password: &str, sizes: &[usize]) -> MailStore {
        let mut mb = Mailbox::new("mrose@dbc.mtview.ca.us", password);
        for (i, s) in sizes.iter().enumerate() {
            let head = format!("Subject: {i}\r\n\r\n");
            let body = "x".repeat(s.saturating_sub(head.len() + 2));
            mb.inbox_mut()
                .append(Message::from_text(&format!("{head}{body}\r\n")), 0);
        }
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn status(r: &Response) -> &str {
        if r.lines.first().is_some_and(|l| l.starts_with("+OK")) {
            "+OK"
        } else {
            "-ERR"
        }
    }

    #[test]
    fn rfc1939_section_10_example_session() {
        let stamp = "<1896.697170952@dbc.mtview.ca.us>";
        let mut st = store("tanstaaf", &[120, 200]);
        let mut s = Pop3Server::new("dbc.mtview.ca.us", stamp.into());
        assert!(s.greeting().lines[0].ends_with(stamp));
        let digest = apop_digest(stamp, "tanstaaf");
        let r = s.on_line(&format!("APOP mrose {digest}"), &mut st, 0);
        assert_eq!(status(&r), "+OK");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 2 320"]);
        let list = s.on_line("LIST", &mut st, 0);
        assert_eq!(&list.lines[1..], ["1 120", "2 200", "."]);
        let retr = s.on_line("RETR 1", &mut st, 0);
        assert_eq!(status(&retr), "+OK");
        assert_eq!(retr.lines.last().unwrap(), ".");
        assert_eq!(status(&s.on_line("DELE 1", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("RETR 2", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("DELE 2", &mut st, 0)), "+OK");
        let quit = s.on_line("QUIT", &mut st, 0);
        assert!(quit.close);
        assert!(quit.lines[0].starts_with("+OK") && quit.lines[0].contains("maildrop empty"));
        assert!(
            st.get("mrose@dbc.mtview.ca.us")
                .unwrap()
                .inbox()
                .messages
                .is_empty()
        );
    }

    #[test]
    fn deletions_wait_for_quit_and_rset_undoes_them() {
        let mut st = store("pw", &[100, 100]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        s.on_line("USER mrose", &mut st, 0);
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "+OK");
        s.on_line("DELE 1", &mut st, 0);
        assert_eq!(status(&s.on_line("RETR 1", &mut st, 0)), "-ERR");
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 1 100"]);
        assert_eq!(
            st.get("mrose@dbc.mtview.ca.us")
                .unwrap()
                .inbox()
                .messages
                .len(),
            2,
            "nothing is removed before QUIT"
        );
        s.on_line("RSET", &mut st, 0);
        assert_eq!(s.on_line("STAT", &mut st, 0).lines, ["+OK 2 200"]);
        // The connection drops without QUIT: the store is untouched.
        s.on_line("DELE 2", &mut st, 0);
        drop(s);
        assert_eq!(
            st.get("mrose@dbc.mtview.ca.us")
                .unwrap()
                .inbox()
                .messages
                .len(),
            2
        );
    }

    #[test]
    fn wrong_state_and_garbage_get_err_and_the_session_goes_on() {
        let mut st = store("pw", &[100]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        assert_eq!(status(&s.on_line("STAT", &mut st, 0)), "-ERR");
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "-ERR");
        assert_eq!(status(&s.on_line("\u{7}garbage", &mut st, 0)), "-ERR");
        assert_eq!(status(&s.on_line("RETR x", &mut st, 0)), "-ERR");
        s.on_line("USER mrose@dbc.mtview.ca.us", &mut st, 0);
        assert_eq!(status(&s.on_line("PASS pw", &mut st, 0)), "+OK");
        assert_eq!(status(&s.on_line("RETR 2", &mut st, 0)), "-ERR");
        let top = s.on_line("TOP 1 0", &mut st, 0);
        assert_eq!(top.lines[1], "Subject: 0");
        assert_eq!(top.lines.last().unwrap(), ".");
        let capa = Pop3Server::new("h", "<1@h>".into()).on_line("CAPA", &mut st, 0);
        assert!(capa.lines.contains(&"UIDL".to_string()));
    }

    #[test]
    fn three_bad_passwords_close_the_connection() {
        let mut st = store("pw", &[]);
        let mut s = Pop3Server::new("h", "<1@h>".into());
        for i in 0..3 {
            s.on_line("USER mrose", &mut st, 0);
            let r = s.on_line("PASS nope", &mut st, 0);
            assert_eq!(r.close, i == 2);
        }
        assert!(s.is_closed());
    }
}
