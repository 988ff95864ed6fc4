//! The IMAP server engine (RFC 3501), sans-IO.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::wire::{Command, FetchAttr, SearchKey, StoreMode, quote};
use crate::mail::{MailStore, Message, StoredMessage, rfc5322_date};
use crate::proto::Response;

/// RFC 3501 section 3: the session states.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    NotAuthenticated,
    Authenticated {
        key: String,
    },
    Selected {
        key: String,
        folder: String,
        read_only: bool,
    },
    Logout,
}

/// After this many failed logins the server hangs up.
const MAX_FAILED_LOGINS: u32 = 3;

/// What the server says it can do; Python's imaplib insists on IMAP4rev1 (RFC-NOTES).
const CAPABILITIES: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ID";

/// An IMAP session.
pub struct ImapServer {
    hostname: String,
    state: State,
    failed_logins: u32,
    /// A tag waiting for the client's AUTHENTICATE PLAIN response after `+ `.
    pending_auth: Option<String>,
}

impl ImapServer {
    pub fn new(hostname: &str) -> ImapServer {
        ImapServer {
            hostname: hostname.to_string(),
            state: State::NotAuthenticated,
            failed_logins: 0,
            pending_auth: None,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Logout
    }

    pub fn greeting(&mut self) -> Response {
        Response::line(format!(
            "* OK [CAPABILITY {CAPABILITIES}] {} IMAP4rev1 Service Ready",
            self.hostname
        ))
    }

    /// Handles one line from the client.
    pub fn on_line(&mut self, line: &str, store: &mut MailStore, _now_ms: u64) -> Response {
        if self.state == State::Logout {
            return Response::default();
        }
        if let Some(tag) = self.pending_auth.take() {
            return self.finish_plain(&tag, line, store);
        }
        match Command::parse(line) {
            Ok((tag, command)) => self.on_command(&tag, command, store),
            Err(e) => match e.tag {
                Some(tag) => Response::line(format!("{tag} BAD {}", e.message)),
                None => Response::line(format!("* BAD {}", e.message)),
            },
        }
    }

    fn on_command(&mut self, tag: &str, command: Command, store: &mut MailStore) -> Response {
        let ok = |text: &str| Response::line(format!("{tag} OK {text}"));
        let no = |text: &str| Response::line(format!("{tag} NO {text}"));
        let wrong_state = || Response::line(format!("{tag} BAD command not valid in this state"));
        match command {
            Command::Capability => {
                let mut r = Response::line(format!("* CAPABILITY {CAPABILITIES}"));
                r.push(format!("{tag} OK CAPABILITY completed"));
                r
            }
            Command::Noop => ok("NOOP completed"),
            Command::Logout => {
                self.state = State::Logout;
                let mut r = Response::line(format!(
                    "* BYE {} IMAP4rev1 server logging out",
                    self.hostname
                ));
                r.push(format!("{tag} OK LOGOUT completed"));
                r.close = true;
                r
            }
            Command::Login { user, password } => {
                if self.state != State::NotAuthenticated {
                    return wrong_state();
                }
                self.login(tag, store.authenticate(&user, &password))
            }
            Command::Authenticate { mechanism, initial } => {
                if self.state != State::NotAuthenticated {
                    return wrong_state();
                }
                if mechanism != "PLAIN" {
                    return no("unsupported authentication mechanism");
                }
                match initial {
                    Some(response) => self.finish_plain(tag, &response, store),
                    None => {
                        self.pending_auth = Some(tag.to_string());
                        Response::line("+ ")
                    }
                }
            }
            Command::List { pattern, .. } => {
                let Some(key) = self.key() else {
                    return wrong_state();
                };
                let mut r = Response::default();
                if pattern.is_empty() {
                    r.push("* LIST (\\Noselect) \"/\" \"\"");
                } else if let Some(mb) = store.get(&key) {
                    for f in &mb.folders {
                        if wildcard_match(&pattern, &f.name) {
                            r.push(format!("* LIST () \"/\" {}", quote(&f.name)));
                        }
                    }
                }
                r.push(format!("{tag} OK LIST completed"));
                r
            }
            Command::Select(folder) | Command::Examine(folder) if self.key().is_none() => {
                let _ = folder;
                wrong_state()
            }
            Command::Select(folder) => self.select(tag, &folder, false, store),
            Command::Examine(folder) => self.select(tag, &folder, true, store),
            Command::Status { mailbox, items } => {
                let Some(key) = self.key() else {
                    return wrong_state();
                };
                let Some(f) = store.get(&key).and_then(|mb| mb.folder(&mailbox)) else {
                    return no("no such mailbox");
                };
                let values: Vec<String> = items
                    .iter()
                    .filter_map(|i| {
                        let v = match i.as_str() {
                            "MESSAGES" => f.messages.len() as u32,
                            "RECENT" => f.messages.iter().filter(|m| m.flags.recent).count() as u32,
                            "UIDNEXT" => f.uid_next,
                            "UIDVALIDITY" => f.uid_validity,
                            "UNSEEN" => f.messages.iter().filter(|m| !m.flags.seen).count() as u32,
                            _ => return None,
                        };
                        Some(format!("{i} {v}"))
                    })
                    .collect();
                let mut r = Response::line(format!(
                    "* STATUS {} ({})",
                    quote(&f.name),
                    values.join(" ")
                ));
                r.push(format!("{tag} OK STATUS completed"));
                r
            }
            Command::Fetch { set, attrs, uid } => {
                let State::Selected {
                    key,
                    folder,
                    read_only,
                } = self.state.clone()
                else {
                    return wrong_state();
                };
                let Some(f) = store.get_mut(&key).and_then(|mb| mb.folder_mut(&folder)) else {
                    return no("mailbox gone");
                };
                let max = if uid {
                    f.uid_next.saturating_sub(1)
                } else {
                    f.messages.len() as u32
                };
                let mut r = Response::default();
                for (i, m) in f.messages.iter_mut().enumerate() {
                    let seq = i as u32 + 1;
                    if !set.contains(if uid { m.uid } else { seq }, max.max(1)) {
                        continue;
                    }
                    r.push(fetch_response(seq, m, &attrs, uid, read_only));
                }
                r.push(format!(
                    "{tag} OK {}FETCH completed",
                    if uid { "UID " } else { "" }
                ));
                r
            }
            Command::Store {
                set,
                mode,
                silent,
                flags,
                uid,
            } => {
                let State::Selected {
                    key,
                    folder,
                    read_only,
                } = self.state.clone()
                else {
                    return wrong_state();
                };
                if read_only {
                    return no("mailbox is read-only");
                }
                let Some(f) = store.get_mut(&key).and_then(|mb| mb.folder_mut(&folder)) else {
                    return no("mailbox gone");
                };
                let max = if uid {
                    f.uid_next.saturating_sub(1)
                } else {
                    f.messages.len() as u32
                };
                let mut r = Response::default();
                for (i, m) in f.messages.iter_mut().enumerate() {
                    let seq = i as u32 + 1;
                    if !set.contains(if uid { m.uid } else { seq }, max.max(1)) {
                        continue;
                    }
                    if mode == StoreMode::Replace {
                        let recent = m.flags.recent;
                        m.flags = Default::default();
                        m.flags.recent = recent;
                    }
                    for flag in &flags {
                        m.flags.set_by_name(flag, mode != StoreMode::Remove);
                    }
                    if !silent {
                        let uid_part = if uid {
                            format!("UID {} ", m.uid)
                        } else {
                            String::new()
                        };
                        r.push(format!(
                            "* {seq} FETCH ({uid_part}FLAGS ({}))",
                            m.flags.to_imap()
                        ));
                    }
                }
                r.push(format!("{tag} OK STORE completed"));
                r
            }
            Command::Search { keys, uid } => {
                let State::Selected { key, folder, .. } = self.state.clone() else {
                    return wrong_state();
                };
                let Some(f) = store.get(&key).and_then(|mb| mb.folder(&folder)) else {
                    return no("mailbox gone");
                };
                let max_uid = f.uid_next.saturating_sub(1).max(1);
                let max_seq = (f.messages.len() as u32).max(1);
                let hits: Vec<String> = f
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(i, m)| {
                        keys.iter()
                            .all(|k| matches(k, *i as u32 + 1, m, max_seq, max_uid))
                    })
                    .map(|(i, m)| if uid { m.uid } else { i as u32 + 1 }.to_string())
                    .collect();
                let mut r = Response::line(if hits.is_empty() {
                    "* SEARCH".to_string()
                } else {
                    format!("* SEARCH {}", hits.join(" "))
                });
                r.push(format!("{tag} OK SEARCH completed"));
                r
            }
            Command::Expunge => {
                let State::Selected {
                    key,
                    folder,
                    read_only,
                } = self.state.clone()
                else {
                    return wrong_state();
                };
                if read_only {
                    return no("mailbox is read-only");
                }
                let removed = store
                    .get_mut(&key)
                    .and_then(|mb| mb.folder_mut(&folder))
                    .map(|f| f.expunge())
                    .unwrap_or_default();
                let mut r = Response::default();
                // RFC 3501 section 7.4.1: each EXPUNGE renumbers the ones after it, and
                // Folder::expunge already counts that way.
                for seq in removed {
                    r.push(format!("* {seq} EXPUNGE"));
                }
                r.push(format!("{tag} OK EXPUNGE completed"));
                r
            }
            Command::Close => {
                let State::Selected {
                    key,
                    folder,
                    read_only,
                } = self.state.clone()
                else {
                    return wrong_state();
                };
                if !read_only {
                    // RFC 3501 section 6.4.2: CLOSE expunges silently.
                    if let Some(f) = store.get_mut(&key).and_then(|mb| mb.folder_mut(&folder)) {
                        f.expunge();
                    }
                }
                self.state = State::Authenticated { key };
                ok("CLOSE completed")
            }
        }
    }

    fn key(&self) -> Option<String> {
        match &self.state {
            State::Authenticated { key } | State::Selected { key, .. } => Some(key.clone()),
            _ => None,
        }
    }

    fn login(&mut self, tag: &str, key: Option<String>) -> Response {
        match key {
            Some(key) => {
                self.state = State::Authenticated { key };
                Response::line(format!(
                    "{tag} OK [CAPABILITY {CAPABILITIES}] LOGIN completed"
                ))
            }
            None => {
                self.failed_logins += 1;
                if self.failed_logins >= MAX_FAILED_LOGINS {
                    self.state = State::Logout;
                    let mut r = Response::line(format!(
                        "{tag} NO [AUTHENTICATIONFAILED] invalid credentials"
                    ));
                    r.push("* BYE too many failed logins");
                    r.close = true;
                    return r;
                }
                Response::line(format!(
                    "{tag} NO [AUTHENTICATIONFAILED] invalid credentials"
                ))
            }
        }
    }

    /// AUTHENTICATE PLAIN: base64 of `authzid NUL authcid NUL password` (RFC 4616).
    fn finish_plain(&mut self, tag: &str, response: &str, store: &MailStore) -> Response {
        if response == "*" {
            return Response::line(format!("{tag} BAD authentication cancelled"));
        }
        let decoded = BASE64
            .decode(response.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some(decoded) = decoded else {
            return Response::line(format!("{tag} BAD invalid base64"));
        };
        let parts: Vec<&str> = decoded.split('\0').collect();
        let key = match parts.as_slice() {
            [_, user, password] => store.authenticate(user, password),
            _ => None,
        };
        self.login(tag, key)
    }

    fn select(
        &mut self,
        tag: &str,
        folder: &str,
        read_only: bool,
        store: &mut MailStore,
    ) -> Response {
        let key = self.key().expect("checked by the caller");
        let Some(f) = store.get_mut(&key).and_then(|mb| mb.folder_mut(folder)) else {
            // RFC 3501 section 6.3.1: a failed SELECT leaves no mailbox selected.
            self.state = State::Authenticated { key };
            return Response::line(format!("{tag} NO no such mailbox"));
        };
        let exists = f.messages.len();
        let recent = f.messages.iter().filter(|m| m.flags.recent).count();
        let first_unseen = f.messages.iter().position(|m| !m.flags.seen);
        let mut r = Response::line(format!("* {exists} EXISTS"));
        r.push(format!("* {recent} RECENT"));
        r.push("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        r.push("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] Limited");
        if let Some(i) = first_unseen {
            r.push(format!("* OK [UNSEEN {}] first unseen", i + 1));
        }
        r.push(format!("* OK [UIDVALIDITY {}] UIDs valid", f.uid_validity));
        r.push(format!("* OK [UIDNEXT {}] predicted next UID", f.uid_next));
        if !read_only {
            // This session has seen them: they are no longer \Recent for the next one.
            f.messages.iter_mut().for_each(|m| m.flags.recent = false);
        }
        let name = f.name.clone();
        self.state = State::Selected {
            key,
            folder: name,
            read_only,
        };
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        r.push(format!(
            "{tag} OK [{mode}] {} completed",
            if read_only { "EXAMINE" } else { "SELECT" }
        ));
        r
    }
}

/// `*` matches anything, `%` anything but the hierarchy delimiter (RFC 3501 section 6.3.8).
fn wildcard_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('%') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| go(&p[1..], &n[i..])),
            Some(c) => n.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(&p[1..], &n[1..]),
        }
    }
    go(
        &pattern.chars().collect::<Vec<_>>(),
        &name.chars().collect::<Vec<_>>(),
    )
}

fn matches(key: &SearchKey, seq: u32, m: &StoredMessage, max_seq: u32, max_uid: u32) -> bool {
    let header = |name: &str, needle: &str| {
        m.message.header(name).is_some_and(|v| {
            v.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
    };
    match key {
        SearchKey::All => true,
        SearchKey::Seen => m.flags.seen,
        SearchKey::Unseen => !m.flags.seen,
        SearchKey::Deleted => m.flags.deleted,
        SearchKey::From(s) => header("From", s),
        SearchKey::To(s) => header("To", s),
        SearchKey::Subject(s) => header("Subject", s),
        SearchKey::Uid(set) => set.contains(m.uid, max_uid),
        SearchKey::Seq(set) => set.contains(seq, max_seq),
    }
}

/// A literal: `{n}` then CRLF and exactly n octets (RFC 3501 section 4.3).
fn literal(text: &str) -> String {
    format!("{{{}}}\r\n{text}", text.len())
}

fn nstring(v: Option<String>) -> String {
    v.map(|s| quote(&s)).unwrap_or_else(|| "NIL".into())
}

/// An address list for ENVELOPE (RFC 3501 section 7.4.2): ((name adl mailbox host) ...).
fn addresses(v: Option<String>) -> String {
    let Some(v) = v else { return "NIL".into() };
    let parts: Vec<String> = v
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let p = p.trim();
            let (name, addr) = match (p.find('<'), p.rfind('>')) {
                (Some(a), Some(b)) if b > a => (
                    Some(p[..a].trim().trim_matches('"').to_string()).filter(|n| !n.is_empty()),
                    &p[a + 1..b],
                ),
                _ => (None, p),
            };
            let (mailbox, host) = addr.split_once('@').unwrap_or((addr, ""));
            format!("({} NIL {} {})", nstring(name), quote(mailbox), quote(host))
        })
        .collect();
    if parts.is_empty() {
        "NIL".into()
    } else {
        format!("({})", parts.join(""))
    }
}

fn envelope(m: &Message) -> String {
    let h = |n: &str| m.header(n);
    let from = addresses(h("From"));
    let sender = h("Sender")
        .map(|s| addresses(Some(s)))
        .unwrap_or_else(|| from.clone());
    let reply_to = h("Reply-To")
        .map(|s| addresses(Some(s)))
        .unwrap_or_else(|| from.clone());
    format!(
        "({} {} {from} {sender} {reply_to} {} {} {} {} {})",
        nstring(h("Date")),
        nstring(h("Subject")),
        addresses(h("To")),
        addresses(h("Cc")),
        addresses(h("Bcc")),
        nstring(h("In-Reply-To")),
        nstring(h("Message-ID")),
    )
}

/// One `* n FETCH (...)` response; fetching a body without PEEK sets \Seen (section 6.4.5).
fn fetch_response(
    seq: u32,
    m: &mut StoredMessage,
    attrs: &[FetchAttr],
    uid: bool,
    read_only: bool,
) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut sets_seen = false;
    let mut wants_flags = false;
    if uid && !attrs.contains(&FetchAttr::Uid) {
        items.push(format!("UID {}", m.uid));
    }
    for a in attrs {
        match a {
            FetchAttr::Flags => wants_flags = true,
            FetchAttr::Uid => items.push(format!("UID {}", m.uid)),
            FetchAttr::Rfc822Size => items.push(format!("RFC822.SIZE {}", m.message.len())),
            FetchAttr::InternalDate => items.push(format!(
                "INTERNALDATE {}",
                quote(&rfc5322_date(m.delivered_ms))
            )),
            FetchAttr::Envelope => items.push(format!("ENVELOPE {}", envelope(&m.message))),
            FetchAttr::Rfc822 => {
                sets_seen = true;
                items.push(format!("RFC822 {}", literal(m.message.text())));
            }
            FetchAttr::Body { section, peek } => {
                sets_seen |= !peek;
                let text = match section.as_str() {
                    "HEADER" => m.message.header_block(),
                    "TEXT" => m.message.body(),
                    _ => m.message.text(),
                };
                items.push(format!("BODY[{section}] {}", literal(text)));
            }
        }
    }
    if sets_seen && !read_only && !m.flags.seen {
        m.flags.seen = true;
        wants_flags = true;
    }
    if wants_flags {
        items.insert(0, format!("FLAGS ({})", m.flags.to_imap()));
    }
    format!("* {seq} FETCH ({})", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Mailbox;

    fn store(n: usize) -> MailStore {
        let mut mb = Mailbox::new("mrc@foo.example", "secret");
        for i in 1..=n {
            let from = if i % 2 == 0 {
                "Alice <alice@alpha.example>"
            } else {
                "bob@beta.example"
            };
            let m = Message::build(
                &[
                    ("From", from),
                    ("To", "mrc@foo.example"),
                    ("Subject", &format!("note {i}")),
                    ("Message-ID", &format!("<{i}@x>")),
                ],
                "text\n",
            );
            mb.inbox_mut().append(m, 0);
        }
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn run(s: &mut ImapServer, st: &mut MailStore, line: &str) -> Vec<String> {
        s.on_line(line, st, 0).lines
    }

    fn last(lines: &[String]) -> &str {
        lines.last().map(String::as_str).unwrap_or("")
    }

    #[test]
    fn rfc3501_section_8_example() {
        let mut st = store(18);
        for m in &mut st.get_mut("mrc@foo.example").unwrap().inbox_mut().messages[..16] {
            m.flags.seen = true;
            m.flags.recent = false;
        }
        let mut s = ImapServer::new("foo.example");
        assert!(s.greeting().lines[0].starts_with("* OK"));
        assert!(last(&run(&mut s, &mut st, "a001 login mrc secret")).starts_with("a001 OK"));
        let sel = run(&mut s, &mut st, "a002 select inbox");
        assert_eq!(sel[0], "* 18 EXISTS");
        assert_eq!(sel[1], "* 2 RECENT");
        assert!(sel.iter().any(|l| l == "* OK [UNSEEN 17] first unseen"));
        assert!(sel.iter().any(|l| l.starts_with("* OK [UIDVALIDITY ")));
        assert!(last(&sel).starts_with("a002 OK [READ-WRITE]"));
        let full = run(&mut s, &mut st, "a003 fetch 12 full");
        assert!(
            full[0].starts_with("* 12 FETCH (FLAGS (")
                && full[0].contains("ENVELOPE (")
                && full[0].contains("RFC822.SIZE")
        );
        assert!(last(&full).starts_with("a003 OK"));
        let head = run(&mut s, &mut st, "a004 fetch 12 body[header]");
        let header_len = st.get("mrc@foo.example").unwrap().inbox().messages[11]
            .message
            .header_block()
            .len();
        assert!(
            head[0].contains(&format!("BODY[HEADER] {{{header_len}}}\r\n")),
            "{}",
            head[0]
        );
        assert!(head[0].ends_with("\r\n\r\n)"));
        let store_r = run(&mut s, &mut st, "a005 store 12 +flags \\deleted");
        assert!(store_r[0].starts_with("* 12 FETCH (FLAGS (") && store_r[0].contains("\\Deleted"));
        let bye = s.on_line("a006 logout", &mut st, 0);
        assert!(
            bye.lines[0].starts_with("* BYE") && bye.lines[1].starts_with("a006 OK") && bye.close
        );
    }

    #[test]
    fn imaplib_and_curl_habits() {
        let mut st = store(2);
        let mut s = ImapServer::new("h");
        run(&mut s, &mut st, "ABCD1 LOGIN mrc@foo.example secret");
        run(&mut s, &mut st, "ABCD2 SELECT INBOX");
        let f = run(&mut s, &mut st, "ABCD3 FETCH 1 (BODY[])");
        assert!(f[0].contains("\\Seen"), "BODY[] sets \\Seen: {}", f[0]);
        let mut s2 = ImapServer::new("h");
        // curl: AUTHENTICATE PLAIN with the response inline, then UID FETCH n BODY[].
        let auth = run(&mut s2, &mut st, "B AUTHENTICATE PLAIN AG1yYwBzZWNyZXQ=");
        assert!(last(&auth).starts_with("B OK"), "{auth:?}");
        run(&mut s2, &mut st, "C SELECT INBOX");
        let f = run(&mut s2, &mut st, "D UID FETCH 2 BODY.PEEK[]");
        assert!(f[0].starts_with("* 2 FETCH (UID 2 BODY[] {"));
        assert!(!f[0].contains("\\Seen"), "PEEK leaves the flags alone");
        // The continuation form.
        let mut s3 = ImapServer::new("h");
        assert_eq!(run(&mut s3, &mut st, "E AUTHENTICATE PLAIN"), ["+ "]);
        assert!(last(&run(&mut s3, &mut st, "AG1yYwBzZWNyZXQ=")).starts_with("E OK"));
    }

    #[test]
    fn search_store_and_expunge() {
        let mut st = store(4);
        let mut s = ImapServer::new("h");
        run(&mut s, &mut st, "a LOGIN mrc secret");
        run(&mut s, &mut st, "b SELECT INBOX");
        assert_eq!(
            run(&mut s, &mut st, "c SEARCH FROM alice")[0],
            "* SEARCH 2 4"
        );
        assert_eq!(
            run(&mut s, &mut st, "d SEARCH SUBJECT \"note 3\"")[0],
            "* SEARCH 3"
        );
        run(&mut s, &mut st, "e STORE 1 +FLAGS.SILENT (\\Seen)");
        assert_eq!(
            run(&mut s, &mut st, "f UID SEARCH UNSEEN")[0],
            "* SEARCH 2 3 4"
        );
        run(&mut s, &mut st, "g STORE 2:3 +FLAGS (\\Deleted)");
        let ex = run(&mut s, &mut st, "h EXPUNGE");
        assert_eq!(&ex[..2], ["* 2 EXPUNGE", "* 2 EXPUNGE"]);
        let f = run(&mut s, &mut st, "i FETCH 2 (UID)");
        assert_eq!(f[0], "* 2 FETCH (UID 4)", "UIDs stay with their messages");
    }

    #[test]
    fn uidnext_grows_and_status_reports_it() {
        let mut st = store(1);
        let mut s = ImapServer::new("h");
        run(&mut s, &mut st, "a LOGIN mrc secret");
        assert!(
            run(&mut s, &mut st, "b STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")[0]
                .contains("MESSAGES 1 UIDNEXT 2 UNSEEN 1")
        );
        st.get_mut("mrc@foo.example")
            .unwrap()
            .inbox_mut()
            .append(Message::from_text("Subject: x\n\ny\n"), 0);
        assert!(run(&mut s, &mut st, "c STATUS INBOX (UIDNEXT)")[0].contains("UIDNEXT 3"));
    }

    #[test]
    fn wrong_state_and_garbage_are_bad_and_the_session_goes_on() {
        let mut st = store(1);
        let mut s = ImapServer::new("h");
        assert_eq!(
            last(&run(&mut s, &mut st, "a SELECT INBOX")),
            "a BAD command not valid in this state"
        );
        assert!(last(&run(&mut s, &mut st, "\u{1}\u{2}")).starts_with("* BAD"));
        assert!(last(&run(&mut s, &mut st, "b FROBNICATE")).starts_with("b BAD"));
        assert!(last(&run(&mut s, &mut st, "c LOGIN mrc nope")).starts_with("c NO"));
        assert!(last(&run(&mut s, &mut st, "d LOGIN mrc secret")).starts_with("d OK"));
        assert!(last(&run(&mut s, &mut st, "e FETCH 1 FLAGS")).starts_with("e BAD"));
        assert!(last(&run(&mut s, &mut st, "f SELECT Nowhere")).starts_with("f NO"));
        assert!(
            run(&mut s, &mut st, "g LIST \"\" \"*\"")
                .iter()
                .any(|l| l == "* LIST () \"/\" \"INBOX\"")
        );
    }
}
