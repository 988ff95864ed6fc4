//! The IMAP server engine (RFC 3501), sans-IO: one value per connection, lines in, responses out.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::fetch::{body_structure, envelope, internal_date, literal, string};
use super::wire::{
    Command, FetchAttr, FetchItems, SearchKey, Section, SeqSet, StatusItem, StoreMode,
};
use crate::mail::{Flags, Folder, MailStore, Mailbox, Message, StoredMessage, fields_where};
use crate::proto::Response;

/// What the server can do (RFC 3501 section 6.1.1). Python's imaplib insists on IMAP4rev1;
/// SASL-IR (RFC 4959) lets curl put its AUTHENTICATE PLAIN response on the command line.
const CAPABILITIES: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR";

/// The flags a client may set (RFC 3501 section 2.3.2); `\Recent` belongs to the server.
const SETTABLE_FLAGS: &str = r"\Answered \Flagged \Deleted \Seen \Draft";

/// After this many failed logins the server says BYE and hangs up.
const MAX_FAILED_LOGINS: u32 = 3;
/// The longest command line taken (RFC 7162 section 4: a server "SHOULD NOT impose a limit of
/// less than 8192 octets").
pub const MAX_LINE: usize = 8192;

/// The session states (RFC 3501 section 3).
enum State {
    NotAuthenticated,
    Authenticated { key: String },
    Selected { key: String, view: View },
    Logout,
}

/// The selected mailbox as this session sees it. Sequence numbers belong to the session
/// (RFC 3501 section 2.3.1.2): they change only as the session is told of EXPUNGE and EXISTS,
/// even if another session or a delivery changes the folder meanwhile.
struct View {
    folder: String,
    read_only: bool,
    /// The UID of each message, by sequence number.
    uids: Vec<u32>,
    /// The messages that are `\Recent` for this session: it was the first to see them.
    recent: BTreeSet<u32>,
}

impl View {
    fn open(folder: &mut Folder, read_only: bool) -> View {
        let mut view = View {
            folder: folder.name.clone(),
            read_only,
            uids: Vec::new(),
            recent: BTreeSet::new(),
        };
        view.take_new(folder);
        view
    }

    /// Adds the messages that arrived since the view last looked; false if there were none.
    fn take_new(&mut self, folder: &mut Folder) -> bool {
        let last = self.uids.last().copied().unwrap_or(0);
        let mut any = false;
        for m in folder.messages.iter_mut().filter(|m| m.uid > last) {
            any = true;
            self.uids.push(m.uid);
            if m.flags.recent {
                self.recent.insert(m.uid);
                // Section 2.3.2: one session only sees a message as \Recent; a read-only one
                // leaves it for the next (section 6.3.2).
                if !self.read_only {
                    m.flags.recent = false;
                }
            }
        }
        any
    }

    /// Untagged news of changes made elsewhere (section 5.2): messages gone (EXPUNGE, which
    /// must wait while a FETCH, STORE or SEARCH is answered, section 7.4.1) and new ones
    /// (EXISTS and RECENT, section 7.3).
    fn sync(&mut self, folder: &mut Folder, may_expunge: bool) -> Vec<String> {
        let mut out = Vec::new();
        if may_expunge {
            let mut i = 0;
            while i < self.uids.len() {
                let uid = self.uids[i];
                if find(folder, uid).is_some() {
                    i += 1;
                } else {
                    self.uids.remove(i);
                    self.recent.remove(&uid);
                    out.push(format!("* {} EXPUNGE", i + 1));
                }
            }
        }
        if self.take_new(folder) {
            out.push(format!("* {} EXISTS", self.uids.len()));
            out.push(format!("* {} RECENT", self.recent.len()));
        }
        out
    }

    /// The (sequence number, UID) of each message a set names. A UID set may name UIDs that
    /// do not exist; a sequence number beyond the last message is an error (section 9,
    /// `seq-number`).
    fn targets(&self, set: &SeqSet, by_uid: bool) -> Result<Vec<(u32, u32)>, String> {
        let exists = self.uids.len() as u32;
        let largest = if by_uid {
            self.uids.last().copied().unwrap_or(0)
        } else {
            if set.exceeds(exists) {
                return Err(format!("no such message: the mailbox holds {exists}"));
            }
            exists
        };
        Ok(self
            .uids
            .iter()
            .zip(1..)
            .filter(|&(&uid, seq)| set.contains(if by_uid { uid } else { seq }, largest))
            .map(|(&uid, seq)| (seq, uid))
            .collect())
    }
}

/// Where the message with this UID sits; UIDs ascend through a folder (section 2.3.1.1).
fn find(folder: &Folder, uid: u32) -> Option<usize> {
    folder.messages.binary_search_by_key(&uid, |m| m.uid).ok()
}

/// An IMAP session, from greeting to LOGOUT.
pub struct ImapServer {
    hostname: String,
    state: State,
    failed_logins: u32,
    /// The tag of an AUTHENTICATE PLAIN waiting for its response after `+ `.
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

    /// Whether a login has succeeded (and the session has not ended).
    pub fn logged_in(&self) -> bool {
        matches!(
            self.state,
            State::Authenticated { .. } | State::Selected { .. }
        )
    }

    /// Whether the session is over (after LOGOUT or too many failed logins).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Logout)
    }

    /// The greeting, which already lists the capabilities (RFC 3501 section 7.1.1).
    pub fn greeting(&mut self) -> Response {
        Response::line(format!(
            "* OK [CAPABILITY {CAPABILITIES}] {} IMAP4rev1 Service Ready",
            self.hostname
        ))
    }

    /// Handles one line from the client (without CRLF).
    pub fn on_line(&mut self, line: &str, store: &mut MailStore, now_ms: u64) -> Response {
        if self.is_closed() {
            return Response {
                lines: Vec::new(),
                close: true,
            };
        }
        // A command with a literal holds CRLFs and the literal's octets: its first line is what
        // the limit is about (live mode's reader holds each further line to it).
        let first = line.split("\r\n").next().unwrap_or(line);
        if first.len() > MAX_LINE {
            // Its end is lost, so it is not run. An AUTHENTICATE waiting for this line ends with
            // its own tag; otherwise the line's own tag, when it is whole (a client waits for
            // it), and untagged when it is not (section 7.1.3).
            let tag = self
                .pending_auth
                .take()
                .or_else(|| super::wire::tag_of(first).map(str::to_string))
                .unwrap_or_else(|| "*".into());
            return Response::line(format!(
                "{tag} BAD line too long (the limit is {MAX_LINE} octets)"
            ));
        }
        if let Some(tag) = self.pending_auth.take() {
            return self.plain(&tag, line.trim(), store);
        }
        match Command::parse(line) {
            Ok((tag, command)) => self.command(&tag, command, store, now_ms),
            // Section 7.1.3: BAD, tagged when the tag could be read; the session goes on.
            Err(e) => Response::line(format!(
                "{} BAD {}",
                e.tag.as_deref().unwrap_or("*"),
                e.message
            )),
        }
    }

    fn command(
        &mut self,
        tag: &str,
        command: Command,
        store: &mut MailStore,
        now_ms: u64,
    ) -> Response {
        if let Some(why) = self.refusal(&command) {
            return Response::line(format!("{tag} BAD {why}"));
        }
        let mut news = Vec::new();
        if let Some((view, folder)) = self.selected(store)
            && !matches!(
                command,
                Command::Select(_) | Command::Examine(_) | Command::Close | Command::Logout
            )
        {
            let may_expunge = !matches!(
                command,
                Command::Fetch { .. } | Command::Store { .. } | Command::Search { .. }
            );
            news = view.sync(folder, may_expunge);
        }
        let appended = matches!(command, Command::Append { .. });
        let mut r = self.run(tag, command, store, now_ms);
        // Section 6.3.11: a message appended to the selected folder is announced (EXISTS)
        // before the command completes.
        if appended && let Some((view, folder)) = self.selected(store) {
            news.append(&mut view.sync(folder, false));
        }
        news.append(&mut r.lines);
        r.lines = news;
        r
    }

    /// Why a command is not allowed in this state, if it is not (RFC 3501 sections 6.1 to 6.4).
    fn refusal(&self, command: &Command) -> Option<&'static str> {
        use Command::*;
        let authenticated = matches!(
            self.state,
            State::Authenticated { .. } | State::Selected { .. }
        );
        let selected = matches!(self.state, State::Selected { .. });
        match command {
            Capability | Noop | Logout => None,
            Login { .. } | Authenticate { .. } => authenticated.then_some("already logged in"),
            List { .. }
            | Lsub { .. }
            | Select(_)
            | Examine(_)
            | Status { .. }
            | Create(_)
            | Subscribe(_)
            | Unsubscribe(_)
            | Append { .. } => (!authenticated).then_some("log in first"),
            Check | Close | Expunge | Search { .. } | Fetch { .. } | Store { .. } => {
                if !authenticated {
                    Some("log in first")
                } else {
                    (!selected).then_some("SELECT a mailbox first")
                }
            }
        }
    }

    fn key(&self) -> Option<&str> {
        match &self.state {
            State::Authenticated { key } | State::Selected { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The selected view and its folder, if a mailbox is selected and still there.
    fn selected<'a>(
        &'a mut self,
        store: &'a mut MailStore,
    ) -> Option<(&'a mut View, &'a mut Folder)> {
        let State::Selected { key, view } = &mut self.state else {
            return None;
        };
        let folder = store.get_mut(key)?.folder_mut(&view.folder)?;
        Some((view, folder))
    }

    fn run(&mut self, tag: &str, command: Command, store: &mut MailStore, now_ms: u64) -> Response {
        match command {
            Command::Capability => Response {
                lines: vec![
                    format!("* CAPABILITY {CAPABILITIES}"),
                    format!("{tag} OK CAPABILITY completed"),
                ],
                close: false,
            },
            Command::Noop => ok(tag, "NOOP completed"),
            Command::Check => ok(tag, "CHECK completed"),
            Command::Logout => {
                self.state = State::Logout;
                Response {
                    lines: vec![
                        format!("* BYE {} IMAP4rev1 server logging out", self.hostname),
                        format!("{tag} OK LOGOUT completed"),
                    ],
                    close: true,
                }
            }
            Command::Login { user, password } => {
                let key = store.authenticate(&user, &password);
                self.login(tag, key)
            }
            Command::Authenticate { mechanism, initial } => {
                if mechanism != "PLAIN" {
                    return no(tag, "only AUTHENTICATE PLAIN is supported");
                }
                match initial {
                    Some(response) => self.plain(tag, &response, store),
                    None => {
                        self.pending_auth = Some(tag.to_string());
                        Response::line("+ ")
                    }
                }
            }
            Command::List { reference, pattern } => {
                self.list(tag, "LIST", &reference, &pattern, store)
            }
            Command::Lsub { reference, pattern } => {
                self.list(tag, "LSUB", &reference, &pattern, store)
            }
            Command::Select(name) => self.select(tag, &name, false, store),
            Command::Examine(name) => self.select(tag, &name, true, store),
            Command::Create(name) => self.create(tag, &name, store),
            Command::Subscribe(_) => ok(tag, "SUBSCRIBE completed"),
            Command::Unsubscribe(_) => ok(tag, "UNSUBSCRIBE completed"),
            Command::Append {
                mailbox,
                flags,
                message,
                ..
            } => {
                let Some(mb) = self.key().and_then(|k| store.get_mut(k)) else {
                    return no(tag, "the mailbox is gone");
                };
                // TRYCREATE: the client may CREATE the folder and try again (section 6.3.11).
                let Some(folder) = mb.folder_mut(&mailbox) else {
                    return no(tag, "[TRYCREATE] no such mailbox");
                };
                // The date-time, if given, is not kept: a message's INTERNALDATE is the
                // virtual moment it arrived, here the moment of the APPEND.
                let uid = folder.append(Message::from_text(&message), now_ms);
                if let Some(stored) = folder.messages.iter_mut().find(|m| m.uid == uid) {
                    for flag in &flags {
                        stored.flags.set_by_name(flag, true);
                    }
                }
                ok(tag, "APPEND completed")
            }
            Command::Status { mailbox, items } => {
                let Some(mb) = self.key().and_then(|k| store.get(k)) else {
                    return no(tag, "the mailbox is gone");
                };
                match mb.folder(&mailbox) {
                    Some(folder) => status(tag, folder, &items),
                    None => no(tag, "no such mailbox"),
                }
            }
            Command::Close => {
                // Section 6.4.2: CLOSE expunges without EXPUNGE responses, unless read-only.
                if let Some((view, folder)) = self.selected(store)
                    && !view.read_only
                {
                    folder.expunge();
                }
                if let Some(key) = self.key().map(str::to_string) {
                    self.state = State::Authenticated { key };
                }
                ok(tag, "CLOSE completed")
            }
            Command::Expunge => match self.selected(store) {
                Some((view, folder)) => expunge(tag, view, folder),
                None => no(tag, "the selected mailbox is gone"),
            },
            Command::Search { keys, uid } => match self.selected(store) {
                Some((view, folder)) => search(tag, view, folder, &keys, uid),
                None => no(tag, "the selected mailbox is gone"),
            },
            Command::Fetch { set, items, uid } => match self.selected(store) {
                Some((view, folder)) => fetch(tag, view, folder, &set, &items, uid),
                None => no(tag, "the selected mailbox is gone"),
            },
            Command::Store {
                set,
                mode,
                silent,
                flags,
                uid,
            } => match self.selected(store) {
                Some((view, folder)) => {
                    let change = FlagChange {
                        mode,
                        silent,
                        flags,
                    };
                    store_flags(tag, view, folder, &set, &change, uid)
                }
                None => no(tag, "the selected mailbox is gone"),
            },
        }
    }

    fn login(&mut self, tag: &str, key: Option<String>) -> Response {
        if let Some(key) = key {
            self.state = State::Authenticated { key };
            return ok(tag, &format!("[CAPABILITY {CAPABILITIES}] logged in"));
        }
        self.failed_logins += 1;
        // AUTHENTICATIONFAILED is the response code of RFC 5530 section 3.
        let refusal = format!("{tag} NO [AUTHENTICATIONFAILED] invalid user name or password");
        if self.failed_logins < MAX_FAILED_LOGINS {
            return Response::line(refusal);
        }
        self.state = State::Logout;
        Response {
            lines: vec!["* BYE too many failed logins".to_string(), refusal],
            close: true,
        }
    }

    /// The AUTHENTICATE PLAIN response: base64 of `authzid NUL authcid NUL password` (RFC 4616
    /// section 2), or `*` to cancel, which is a BAD (RFC 3501 section 6.2.2).
    fn plain(&mut self, tag: &str, response: &str, store: &MailStore) -> Response {
        if response == "*" {
            return bad(tag, "AUTHENTICATE cancelled");
        }
        // RFC 4959 section 3: `=` is an empty initial response.
        let decoded = if response == "=" {
            Ok(Vec::new())
        } else {
            BASE64.decode(response)
        };
        let Ok(decoded) = decoded else {
            return bad(tag, "the response is not base64");
        };
        let key = String::from_utf8(decoded).ok().and_then(|text| {
            let mut parts = text.split('\0');
            let (authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let key = store.authenticate(user, password)?;
            // Acting as another user (a different authzid) is not offered.
            let same = authzid.is_empty() || store.login_key(authzid).as_deref() == Some(&key);
            same.then_some(key)
        });
        self.login(tag, key)
    }

    /// LIST and LSUB (sections 6.3.8 and 6.3.9): every folder counts as subscribed.
    fn list(
        &self,
        tag: &str,
        verb: &str,
        reference: &str,
        pattern: &str,
        store: &MailStore,
    ) -> Response {
        let Some(mb) = self.key().and_then(|k| store.get(k)) else {
            return no(tag, "the mailbox is gone");
        };
        let mut r = Response::default();
        if pattern.is_empty() {
            // An empty pattern asks for the hierarchy delimiter.
            if verb == "LIST" {
                r.push(r#"* LIST (\Noselect) "/" """#);
            }
        } else {
            for name in matching_folders(mb, &format!("{reference}{pattern}")) {
                r.push(format!("* {verb} () \"/\" {}", string(name)));
            }
        }
        r.push(format!("{tag} OK {verb} completed"));
        r
    }

    /// CREATE (section 6.3.3): a new, empty folder. INBOX and existing names are refused; a
    /// trailing hierarchy delimiter is dropped, as the section asks.
    fn create(&self, tag: &str, name: &str, store: &mut MailStore) -> Response {
        let Some(mb) = self.key().and_then(|k| store.get_mut(k)) else {
            return no(tag, "the mailbox is gone");
        };
        let name = name.strip_suffix('/').unwrap_or(name);
        if name.is_empty() || name.eq_ignore_ascii_case("INBOX") || mb.folder(name).is_some() {
            return no(tag, "[ALREADYEXISTS] that mailbox already exists");
        }
        // A new folder starts its UIDs at 1 under the mailbox's own UIDVALIDITY.
        let validity = mb.inbox().uid_validity;
        mb.folders.push(Folder::new(name, validity));
        ok(tag, "CREATE completed")
    }

    /// SELECT and EXAMINE (sections 6.3.1 and 6.3.2).
    fn select(
        &mut self,
        tag: &str,
        name: &str,
        read_only: bool,
        store: &mut MailStore,
    ) -> Response {
        let Some(key) = self.key().map(str::to_string) else {
            return bad(tag, "log in first");
        };
        // Selecting leaves the selected mailbox first, so a failed SELECT leaves none.
        self.state = State::Authenticated { key: key.clone() };
        let Some(folder) = store.get_mut(&key).and_then(|mb| mb.folder_mut(name)) else {
            return no(tag, "no such mailbox");
        };
        let view = View::open(folder, read_only);
        let mut r = Response::line(format!("* {} EXISTS", view.uids.len()));
        r.push(format!("* {} RECENT", view.recent.len()));
        if let Some(seq) = folder.messages.iter().position(|m| !m.flags.seen) {
            r.push(format!("* OK [UNSEEN {}] first unseen message", seq + 1));
        }
        r.push(format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            folder.uid_validity
        ));
        r.push(format!(
            "* OK [UIDNEXT {}] predicted next UID",
            folder.uid_next
        ));
        r.push(format!("* FLAGS ({SETTABLE_FLAGS})"));
        // A read-only session can change no flag at all.
        let permanent = if read_only { "" } else { SETTABLE_FLAGS };
        r.push(format!("* OK [PERMANENTFLAGS ({permanent})] flags kept"));
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        r.push(format!("{tag} OK [{code}] {verb} completed"));
        self.state = State::Selected { key, view };
        r
    }
}

fn ok(tag: &str, text: &str) -> Response {
    Response::line(format!("{tag} OK {text}"))
}

fn no(tag: &str, text: &str) -> Response {
    Response::line(format!("{tag} NO {text}"))
}

fn bad(tag: &str, text: &str) -> Response {
    Response::line(format!("{tag} BAD {text}"))
}

fn uid_prefix(by_uid: bool) -> &'static str {
    if by_uid { "UID " } else { "" }
}

/// The flags as a session shows them: `\Recent` only where this session took the message.
fn flag_list(flags: Flags, recent: bool) -> String {
    Flags { recent, ..flags }.to_imap()
}

/// The names of the folders a LIST pattern matches, INBOX first.
fn matching_folders<'a>(mb: &'a Mailbox, pattern: &str) -> impl Iterator<Item = &'a str> {
    mb.folders
        .iter()
        .map(|f| f.name.as_str())
        .filter(move |name| {
            // INBOX is INBOX in any case (section 5.1); other names match exactly.
            let inbox = name.eq_ignore_ascii_case("INBOX");
            wildcard_match(pattern, name, inbox)
        })
}

/// `*` matches anything, `%` anything but the hierarchy delimiter `/` (section 6.3.8).
/// Works position by position, so a pattern full of stars costs no more than a plain one.
fn wildcard_match(pattern: &str, name: &str, ignore_case: bool) -> bool {
    let name = name.as_bytes();
    // reach[j]: the pattern read so far can match the first j bytes of the name.
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for p in pattern.bytes() {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                let mut on = false;
                for j in 0..=name.len() {
                    if p == b'%' && j > 0 && name[j - 1] == b'/' {
                        on = false;
                    }
                    on |= reach[j];
                    next[j] = on;
                }
            }
            _ => {
                for j in 0..name.len() {
                    let same = if ignore_case {
                        name[j].eq_ignore_ascii_case(&p)
                    } else {
                        name[j] == p
                    };
                    next[j + 1] = reach[j] && same;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

/// STATUS (section 6.3.10): the counts without selecting the folder.
fn status(tag: &str, folder: &Folder, items: &[StatusItem]) -> Response {
    let count =
        |keep: fn(&StoredMessage) -> bool| folder.messages.iter().filter(|m| keep(m)).count();
    let values: Vec<String> = items
        .iter()
        .map(|item| {
            let v = match item {
                StatusItem::Messages => folder.messages.len(),
                StatusItem::Recent => count(|m| m.flags.recent),
                StatusItem::Unseen => count(|m| !m.flags.seen),
                StatusItem::UidNext => folder.uid_next as usize,
                StatusItem::UidValidity => folder.uid_validity as usize,
            };
            format!("{item} {v}")
        })
        .collect();
    let mut r = Response::line(format!(
        "* STATUS {} ({})",
        string(&folder.name),
        values.join(" ")
    ));
    r.push(format!("{tag} OK STATUS completed"));
    r
}

/// EXPUNGE (section 6.4.3): one `* n EXPUNGE` per removed message, each number counted after
/// the removals before it, as [`Folder::expunge`] reports them.
fn expunge(tag: &str, view: &mut View, folder: &mut Folder) -> Response {
    if view.read_only {
        return no(tag, "the mailbox is read-only (EXAMINE)");
    }
    let mut r = Response::default();
    for seq in folder.expunge() {
        // The view matches the folder here: the sync before the command made it so.
        let i = seq as usize - 1;
        if i < view.uids.len() {
            let uid = view.uids.remove(i);
            view.recent.remove(&uid);
        }
        r.push(format!("* {seq} EXPUNGE"));
    }
    r.push(format!("{tag} OK EXPUNGE completed"));
    r
}

/// SEARCH and UID SEARCH (sections 6.4.4 and 6.4.8): `* SEARCH` and the matching numbers.
fn search(tag: &str, view: &View, folder: &Folder, keys: &[SearchKey], by_uid: bool) -> Response {
    let exists = view.uids.len() as u32;
    let last_uid = view.uids.last().copied().unwrap_or(0);
    let mut line = String::from("* SEARCH");
    for (&uid, seq) in view.uids.iter().zip(1..) {
        let Some(i) = find(folder, uid) else {
            continue;
        };
        let candidate = Candidate {
            seq,
            exists,
            last_uid,
            message: &folder.messages[i],
            recent: view.recent.contains(&uid),
        };
        if keys.iter().all(|k| candidate.matches(k)) {
            line.push_str(&format!(" {}", if by_uid { uid } else { seq }));
        }
    }
    let mut r = Response::line(line);
    r.push(format!("{tag} OK {}SEARCH completed", uid_prefix(by_uid)));
    r
}

/// A message as SEARCH weighs it.
struct Candidate<'a> {
    seq: u32,
    exists: u32,
    last_uid: u32,
    message: &'a StoredMessage,
    recent: bool,
}

impl Candidate<'_> {
    fn matches(&self, key: &SearchKey) -> bool {
        let flags = &self.message.flags;
        // Header keys match a substring in any case (section 6.4.4).
        let header = |name: &str, needle: &str| {
            self.message
                .message
                .header(name)
                .is_some_and(|v| v.to_lowercase().contains(&needle.to_lowercase()))
        };
        match key {
            SearchKey::All => true,
            SearchKey::Answered => flags.answered,
            SearchKey::Deleted => flags.deleted,
            SearchKey::Flagged => flags.flagged,
            SearchKey::New => self.recent && !flags.seen,
            SearchKey::Old => !self.recent,
            SearchKey::Recent => self.recent,
            SearchKey::Seen => flags.seen,
            SearchKey::Unanswered => !flags.answered,
            SearchKey::Undeleted => !flags.deleted,
            SearchKey::Unflagged => !flags.flagged,
            SearchKey::Unseen => !flags.seen,
            SearchKey::From(s) => header("From", s),
            SearchKey::To(s) => header("To", s),
            SearchKey::Cc(s) => header("Cc", s),
            SearchKey::Subject(s) => header("Subject", s),
            SearchKey::Uid(set) => set.contains(self.message.uid, self.last_uid),
            SearchKey::Seq(set) => set.contains(self.seq, self.exists),
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::And(keys) => keys.iter().all(|k| self.matches(k)),
        }
    }
}

/// FETCH and UID FETCH (sections 6.4.5 and 6.4.8).
fn fetch(
    tag: &str,
    view: &View,
    folder: &mut Folder,
    set: &SeqSet,
    items: &FetchItems,
    by_uid: bool,
) -> Response {
    let targets = match view.targets(set, by_uid) {
        Ok(t) => t,
        Err(e) => return bad(tag, &e),
    };
    let mut attrs = items.attrs();
    // Section 6.4.8: a UID FETCH reports the UID whether asked or not.
    if by_uid && !attrs.contains(&FetchAttr::Uid) {
        attrs.insert(0, FetchAttr::Uid);
    }
    let marks_seen = !view.read_only && attrs.iter().any(|a| a.sets_seen());
    let mut r = Response::default();
    for (seq, uid) in targets {
        // A message another session expunged meanwhile: its EXPUNGE comes after this command.
        let Some(i) = find(folder, uid) else {
            continue;
        };
        let m = &mut folder.messages[i];
        let mut shown = attrs.clone();
        if marks_seen && !m.flags.seen {
            m.flags.seen = true;
            // Section 6.4.5: a flag the fetch changed is reported with it.
            if !shown.contains(&FetchAttr::Flags) {
                let at = shown
                    .iter()
                    .position(|a| *a == FetchAttr::Uid)
                    .map_or(0, |u| u + 1);
                shown.insert(at, FetchAttr::Flags);
            }
        }
        let recent = view.recent.contains(&uid);
        let items: Vec<String> = shown.iter().map(|a| fetch_item(a, m, recent)).collect();
        r.push(format!("* {seq} FETCH ({})", items.join(" ")));
    }
    r.push(format!("{tag} OK {}FETCH completed", uid_prefix(by_uid)));
    r
}

/// One data item of a FETCH response (section 7.4.2); message text goes out as a literal.
fn fetch_item(attr: &FetchAttr, m: &StoredMessage, recent: bool) -> String {
    let message = &m.message;
    match attr {
        FetchAttr::Flags => format!("FLAGS ({})", flag_list(m.flags, recent)),
        FetchAttr::Uid => format!("UID {}", m.uid),
        FetchAttr::Rfc822Size => format!("RFC822.SIZE {}", message.len()),
        FetchAttr::InternalDate => format!("INTERNALDATE {}", internal_date(m.delivered_ms)),
        FetchAttr::Envelope => format!("ENVELOPE {}", envelope(message.header_block())),
        FetchAttr::Body => format!("BODY {}", body_structure(message.text())),
        FetchAttr::BodyStructure => format!("BODYSTRUCTURE {}", body_structure(message.text())),
        FetchAttr::Rfc822 => format!("RFC822 {}", literal(message.text())),
        FetchAttr::Rfc822Header => format!("RFC822.HEADER {}", literal(message.header_block())),
        FetchAttr::Rfc822Text => format!("RFC822.TEXT {}", literal(message.body())),
        FetchAttr::Section {
            section, partial, ..
        } => {
            let fields;
            let text = match section {
                Section::Full => message.text(),
                Section::Header => message.header_block(),
                Section::Text => message.body(),
                Section::HeaderFields { names, not } => {
                    fields = header_fields(message.header_block(), names, *not);
                    &fields
                }
            };
            // The response names the section without .PEEK, and of a partial fetch only the
            // first octet (section 7.4.2).
            match partial {
                None => format!("BODY[{section}] {}", literal(text)),
                Some((origin, count)) => {
                    let start = text.floor_char_boundary(*origin as usize);
                    let end = text.floor_char_boundary(start.saturating_add(*count as usize));
                    format!("BODY[{section}]<{origin}> {}", literal(&text[start..end]))
                }
            }
        }
    }
}

/// The fields of a header block whose names are among `names` (upper case), or with `not` those
/// that are not, each with its folded lines, then the empty line (section 6.4.5).
fn header_fields(block: &str, names: &[String], not: bool) -> String {
    let mut out = fields_where(block, |n| {
        names.iter().any(|w| w.eq_ignore_ascii_case(n)) != not
    });
    // The empty line ends the subset, also of a message that has no body and so no empty line.
    if !(out.ends_with("\r\n\r\n") || out == "\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// What a STORE does to each message's flags.
struct FlagChange {
    mode: StoreMode,
    silent: bool,
    flags: Vec<String>,
}

/// STORE and UID STORE (section 6.4.6): an untagged FETCH with the new flags unless .SILENT.
/// Keywords are not kept (PERMANENTFLAGS has no `\*`), so unknown flags are ignored.
fn store_flags(
    tag: &str,
    view: &View,
    folder: &mut Folder,
    set: &SeqSet,
    change: &FlagChange,
    by_uid: bool,
) -> Response {
    if view.read_only {
        return no(tag, "the mailbox is read-only (EXAMINE)");
    }
    let targets = match view.targets(set, by_uid) {
        Ok(t) => t,
        Err(e) => return bad(tag, &e),
    };
    let mut r = Response::default();
    for (seq, uid) in targets {
        let Some(i) = find(folder, uid) else {
            continue;
        };
        let m = &mut folder.messages[i];
        if change.mode == StoreMode::Replace {
            m.flags = Flags {
                recent: m.flags.recent,
                ..Flags::default()
            };
        }
        for flag in &change.flags {
            m.flags.set_by_name(flag, change.mode != StoreMode::Remove);
        }
        if !change.silent {
            let uid_item = if by_uid {
                format!("UID {uid} ")
            } else {
                String::new()
            };
            let flags = flag_list(m.flags, view.recent.contains(&uid));
            r.push(format!("* {seq} FETCH ({uid_item}FLAGS ({flags}))"));
        }
    }
    r.push(format!("{tag} OK {}STORE completed", uid_prefix(by_uid)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Message;
    use crate::proto::imap::wire::{ResponseReader, Value, parse_values};

    const MRC: &str = "mrc@foo.example";

    /// A mailbox like the one of RFC 3501 section 8: `n` messages, the last two new.
    fn store(n: usize) -> MailStore {
        let mut mb = Mailbox::new(MRC, "secret");
        for i in 1..=n {
            let from = if i % 2 == 0 {
                "Alice <alice@alpha.example>"
            } else {
                "bob@beta.example"
            };
            let m = Message::build(
                &[
                    ("Date", "Mon, 2 Mar 2026 09:00:00 +0000"),
                    ("From", from),
                    ("To", MRC),
                    ("Subject", &format!("note {i}")),
                    ("Message-ID", &format!("<{i}@x>")),
                ],
                &format!("text of note {i}\n"),
            );
            let inbox = mb.inbox_mut();
            inbox.append(m, i as u64 * 1000);
            if i + 2 <= n {
                let flags = &mut inbox.messages[i - 1].flags;
                flags.seen = true;
                flags.recent = false;
            }
        }
        mb.folders.push(Folder::new("Sent", 7));
        mb.folders.push(Folder::new("Archive/2026", 8));
        let mut st = MailStore::default();
        st.add(mb);
        st
    }

    fn inbox(st: &MailStore) -> &Folder {
        st.get(MRC).unwrap().inbox()
    }

    fn inbox_mut(st: &mut MailStore) -> &mut Folder {
        st.get_mut(MRC).unwrap().inbox_mut()
    }

    /// A session with its store, answering one line at a time.
    struct Session {
        server: ImapServer,
        store: MailStore,
    }

    impl Session {
        fn new(store: MailStore) -> Session {
            let mut server = ImapServer::new("foo.example");
            assert!(server.greeting().lines[0].starts_with("* OK [CAPABILITY IMAP4rev1 "));
            Session { server, store }
        }

        fn logged_in(store: MailStore) -> Session {
            let mut s = Session::new(store);
            s.expect_ok("l1 LOGIN mrc secret");
            s
        }

        fn send(&mut self, line: &str) -> Response {
            self.server.on_line(line, &mut self.store, 0)
        }

        fn lines(&mut self, line: &str) -> Vec<String> {
            self.send(line).lines
        }

        /// The untagged responses of a command that must end in a tagged OK.
        fn expect_ok(&mut self, line: &str) -> Vec<String> {
            let mut lines = self.lines(line);
            let tag = line.split(' ').next().unwrap();
            let last = lines.pop().unwrap_or_default();
            assert!(last.starts_with(&format!("{tag} OK")), "{line} -> {last}");
            lines
        }

        /// The tagged status word of a command: OK, NO or BAD.
        fn status(&mut self, line: &str) -> String {
            let lines = self.lines(line);
            let last = lines.last().cloned().unwrap_or_default();
            last.split(' ').nth(1).unwrap_or("").to_string()
        }
    }

    /// A response with the free text left out: `18 EXISTS`, `OK [UNSEEN]`, `FLAGS`,
    /// `a002 OK [READ-WRITE]`.
    fn shape(line: &str) -> String {
        let words: Vec<&str> = line.split(' ').collect();
        // The name of the response code, if the third word opens one.
        let code = words
            .get(2)
            .filter(|w| w.starts_with('['))
            .map(|w| format!(" [{}]", w.trim_matches(['[', ']'])))
            .unwrap_or_default();
        match words[..] {
            ["*", n, kind, ..] if n.parse::<u32>().is_ok() => format!("{n} {kind}"),
            ["*", status @ ("OK" | "NO" | "BAD" | "BYE"), ..] => format!("{status}{code}"),
            ["*", kind, ..] => kind.to_string(),
            [tag, status, ..] => format!("{tag} {status}{code}"),
            _ => line.to_string(),
        }
    }

    /// The values of a FETCH response, read the way a client reads them.
    fn fetch_values(response: &str) -> Vec<Value> {
        let mut reader = ResponseReader::default();
        let mut whole = None;
        for line in response.split("\r\n") {
            whole = reader.push(line);
        }
        let whole = whole.expect("the response ends with its last line");
        match parse_values(&whole).unwrap().pop() {
            Some(Value::List(items)) => items,
            other => panic!("no FETCH list: {other:?}"),
        }
    }

    /// The value of one FETCH data item.
    fn item(values: &[Value], name: &str) -> Option<Value> {
        values
            .chunks(2)
            .find(|pair| pair[0] == Value::Atom(name.into()))
            .map(|pair| pair[1].clone())
    }

    #[test]
    fn rfc3501_section_8_example() {
        let mut s = Session::new(store(18));
        s.expect_ok("a001 login mrc secret");
        let select = s.lines("a002 select inbox");
        let shapes: Vec<String> = select.iter().map(|l| shape(l)).collect();
        assert_eq!(
            shapes,
            [
                "18 EXISTS",
                "2 RECENT",
                "OK [UNSEEN]",
                "OK [UIDVALIDITY]",
                "OK [UIDNEXT]",
                "FLAGS",
                "OK [PERMANENTFLAGS]",
                "a002 OK [READ-WRITE]"
            ]
        );
        assert!(select[2].starts_with("* OK [UNSEEN 17]"));

        let full = s.expect_ok("a003 fetch 12 full");
        assert_eq!(full.len(), 1);
        assert!(full[0].starts_with("* 12 FETCH ("));
        let values = fetch_values(&full[0]);
        let names: Vec<&Value> = values.iter().step_by(2).collect();
        let full_items = ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"];
        assert_eq!(names, full_items.map(|n| Value::Atom(n.into())).each_ref());
        let Some(Value::List(envelope)) = item(&values, "ENVELOPE") else {
            panic!("ENVELOPE is a list");
        };
        assert_eq!(envelope.len(), 10);
        assert_eq!(envelope[1], Value::Str("note 12".into()));
        let size = inbox(&s.store).messages[11].message.len();
        assert_eq!(
            item(&values, "RFC822.SIZE"),
            Some(Value::Atom(size.to_string()))
        );

        let header = s.expect_ok("a004 fetch 12 body[header]");
        let expected = inbox(&s.store).messages[11]
            .message
            .header_block()
            .to_string();
        assert!(header[0].contains(&format!("BODY[HEADER] {{{}}}\r\n", expected.len())));
        assert_eq!(
            item(&fetch_values(&header[0]), "BODY[HEADER]"),
            Some(Value::Str(expected))
        );

        let stored = s.expect_ok(r"a005 store 12 +flags \deleted");
        assert_eq!(stored, [r"* 12 FETCH (FLAGS (\Seen \Deleted))"]);

        let bye = s.send("a006 logout");
        let shapes: Vec<String> = bye.lines.iter().map(|l| shape(l)).collect();
        assert_eq!(shapes, ["BYE", "a006 OK"]);
        assert!(bye.close && s.server.is_closed());
    }

    #[test]
    fn header_fields_and_partial_fetches_as_mail_programs_ask_for_them() {
        let mut s = Session::new(store(2));
        s.expect_ok("a1 LOGIN mrc secret");
        s.expect_ok("a2 SELECT INBOX");
        let block = inbox(&s.store).messages[0]
            .message
            .header_block()
            .to_string();
        // Thunderbird lists a folder with BODY.PEEK[HEADER.FIELDS (...)].
        let f = s.expect_ok("a3 FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (From Subject X-None)])");
        let values = fetch_values(&f[0]);
        let name = "BODY[HEADER.FIELDS (FROM SUBJECT X-NONE)]";
        let Some(Value::Str(fields)) = item(&values, name) else {
            panic!("{} has no {name}", f[0]);
        };
        let wanted: String = block
            .split_inclusive("\r\n")
            .filter(|l| l.starts_with("From:") || l.starts_with("Subject:"))
            .chain(["\r\n"])
            .collect();
        assert_eq!(fields, wanted);
        let not = s.expect_ok("a4 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From Subject)]");
        let Some(Value::Str(rest)) = item(
            &fetch_values(&not[0]),
            "BODY[HEADER.FIELDS.NOT (FROM SUBJECT)]",
        ) else {
            panic!("{}", not[0]);
        };
        assert!(!rest.contains("\r\nFrom:") && !rest.starts_with("From:"));
        assert_eq!(
            rest.len() + fields.len(),
            block.len() + 2,
            "each field in one of them"
        );
        // A partial fetch: the octets asked for, and the response names the first only.
        let part = s.expect_ok("a5 FETCH 1 BODY.PEEK[]<0.10>");
        let whole = inbox(&s.store).messages[0].message.text().to_string();
        assert_eq!(
            item(&fetch_values(&part[0]), "BODY[]<0>"),
            Some(Value::Str(whole[..10].to_string()))
        );
        // Peeking set no flag.
        assert!(!inbox(&s.store).messages[0].flags.seen);
    }

    #[test]
    fn a_line_over_the_limit_is_refused_and_not_run() {
        let mut s = Session::new(store(2));
        // Run, this line would log in: its tail is only spaces.
        let long = format!("a1 LOGIN mrc secret{}", " ".repeat(MAX_LINE));
        let r = s.send(&long);
        assert_eq!(r.lines, ["a1 BAD line too long (the limit is 8192 octets)"]);
        assert!(!r.close);
        // A line whose tag itself is cut gets an untagged BAD.
        let r = s.send(&"t".repeat(MAX_LINE + 1));
        assert_eq!(r.lines, ["* BAD line too long (the limit is 8192 octets)"]);
        // Not logged in: the cut line was not taken as a LOGIN.
        let select = s.send("a2 SELECT INBOX");
        assert!(select.lines[0].starts_with("a2 BAD"), "{:?}", select.lines);
        // An AUTHENTICATE waiting for its response ends with its own tag, and the next command
        // is a command again.
        s.send("a3 AUTHENTICATE PLAIN");
        let r = s.send(&"x".repeat(MAX_LINE + 1));
        assert!(
            r.lines[0].starts_with("a3 BAD line too long"),
            "{:?}",
            r.lines
        );
        assert_eq!(
            s.send("a4 NOOP").lines.last().unwrap(),
            "a4 OK NOOP completed"
        );
    }

    #[test]
    fn imaplib_habits() {
        let mut s = Session::new(store(2));
        let caps = s.expect_ok("ABCD1 CAPABILITY");
        assert!(caps[0].contains(" IMAP4rev1") && caps[0].contains(" AUTH=PLAIN"));
        s.expect_ok("ABCD2 LOGIN mrc@foo.example \"secret\"");
        s.expect_ok("ABCD3 SELECT INBOX");
        let f = s.expect_ok("ABCD4 FETCH 1 (BODY[])");
        let values = fetch_values(&f[0]);
        let text = inbox(&s.store).messages[0].message.text().to_string();
        assert_eq!(item(&values, "BODY[]"), Some(Value::Str(text)));
        s.expect_ok("ABCD5 LOGOUT");
    }

    #[test]
    fn curl_habits() {
        // AUTHENTICATE PLAIN with the initial response on the line (SASL-IR).
        let mut s = Session::new(store(2));
        s.expect_ok("A001 CAPABILITY");
        s.expect_ok(&format!(
            "A002 AUTHENTICATE PLAIN {}",
            BASE64.encode("\0mrc\0secret")
        ));
        s.expect_ok("A003 SELECT INBOX");
        let f = s.expect_ok("A004 UID FETCH 2 BODY[]");
        assert!(
            f[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) BODY[] {"),
            "{}",
            f[0]
        );

        // The continuation form, a cancel, and a refusal.
        let mut s = Session::new(store(1));
        assert_eq!(s.lines("B1 AUTHENTICATE PLAIN"), ["+ "]);
        assert_eq!(s.status("*"), "BAD");
        assert_eq!(s.lines("B2 AUTHENTICATE plain"), ["+ "]);
        assert_eq!(s.status(&BASE64.encode("\0mrc\0wrong")), "NO");
        assert_eq!(s.lines("B3 AUTHENTICATE PLAIN"), ["+ "]);
        assert_eq!(s.status("not base64!"), "BAD");
        assert_eq!(s.status("B4 AUTHENTICATE CRAM-MD5"), "NO");
        assert_eq!(
            s.status(&format!(
                "B5 AUTHENTICATE PLAIN {}",
                BASE64.encode("bob\0mrc\0secret")
            )),
            "NO"
        );
        assert_eq!(s.lines("B6 AUTHENTICATE PLAIN"), ["+ "]);
        let ok = s.lines(&BASE64.encode("mrc@foo.example\0mrc\0secret"));
        assert!(ok[0].starts_with("B6 OK"), "{ok:?}");
    }

    #[test]
    fn uids_are_stable_and_uidnext_grows() {
        let mut s = Session::logged_in(store(3));
        let select = s.expect_ok("a SELECT INBOX");
        assert!(select.iter().any(|l| l.starts_with("* OK [UIDNEXT 4]")));
        let uid = inbox_mut(&mut s.store).append(Message::from_text("Subject: late\n\nnews\n"), 9);
        assert_eq!(uid, 4);
        // The session hears of the new message with its next command (section 7.3.1).
        assert_eq!(s.expect_ok("b NOOP"), ["* 4 EXISTS", "* 3 RECENT"]);
        assert_eq!(
            s.expect_ok("c STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"),
            ["* STATUS \"INBOX\" (MESSAGES 4 UIDNEXT 5 UNSEEN 3)"]
        );
        s.expect_ok("d STORE 1 +FLAGS.SILENT (\\Deleted)");
        assert_eq!(s.expect_ok("e EXPUNGE"), ["* 1 EXPUNGE"]);
        assert_eq!(
            s.expect_ok("f FETCH 1:* (UID)"),
            [
                "* 1 FETCH (UID 2)",
                "* 2 FETCH (UID 3)",
                "* 3 FETCH (UID 4)"
            ]
        );
        assert_eq!(s.expect_ok("g UID SEARCH SUBJECT late"), ["* SEARCH 4"]);
        assert!(
            s.expect_ok("h UID FETCH 1 (FLAGS)").is_empty(),
            "UID 1 is gone for good"
        );
        assert!(
            s.expect_ok("i SELECT INBOX")
                .contains(&"* OK [UIDNEXT 5] predicted next UID".to_string())
        );
    }

    #[test]
    fn body_sets_seen_but_peek_and_examine_do_not() {
        let mut s = Session::logged_in(store(4));
        s.expect_ok("a SELECT INBOX");
        let peek = s.expect_ok("b FETCH 3 (BODY.PEEK[] FLAGS)");
        assert!(peek[0].contains("FLAGS (\\Recent)"), "{}", peek[0]);
        assert!(!inbox(&s.store).messages[2].flags.seen);
        let text = s.expect_ok("c FETCH 3 BODY[TEXT]");
        assert!(text[0].starts_with("* 3 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {"));
        assert!(inbox(&s.store).messages[2].flags.seen);
        let again = s.expect_ok("d FETCH 3 RFC822");
        assert!(
            !again[0].contains("FLAGS"),
            "no change, no FLAGS: {}",
            again[0]
        );

        let mut e = Session::logged_in(store(4));
        let select = e.expect_ok("a EXAMINE INBOX");
        assert!(select.contains(&"* OK [PERMANENTFLAGS ()] flags kept".to_string()));
        e.expect_ok("b FETCH 4 BODY[]");
        assert!(
            !inbox(&e.store).messages[3].flags.seen,
            "EXAMINE is read-only"
        );
        assert_eq!(e.status("c STORE 4 +FLAGS (\\Seen)"), "NO");
        assert_eq!(e.status("d EXPUNGE"), "NO");
        assert!(
            inbox(&e.store).messages[3].flags.recent,
            "EXAMINE leaves \\Recent"
        );
    }

    #[test]
    fn recent_goes_to_the_first_session_only() {
        let mut s = Session::logged_in(store(4));
        assert!(
            s.expect_ok("a SELECT INBOX")
                .contains(&"* 2 RECENT".to_string())
        );
        assert_eq!(s.expect_ok("b SEARCH RECENT"), ["* SEARCH 3 4"]);
        let mut again = Session::logged_in(s.store.clone());
        assert!(
            again
                .expect_ok("a SELECT INBOX")
                .contains(&"* 0 RECENT".to_string())
        );
        assert_eq!(again.expect_ok("b SEARCH NEW"), ["* SEARCH"]);
    }

    #[test]
    fn search_keys() {
        let mut s = Session::logged_in(store(5));
        s.expect_ok("a SELECT INBOX");
        assert_eq!(s.expect_ok("b SEARCH UNSEEN"), ["* SEARCH 4 5"]);
        assert_eq!(s.expect_ok("c SEARCH SEEN"), ["* SEARCH 1 2 3"]);
        assert_eq!(s.expect_ok("d SEARCH FROM ALICE"), ["* SEARCH 2 4"]);
        assert_eq!(s.expect_ok("e SEARCH SUBJECT \"note 3\""), ["* SEARCH 3"]);
        assert_eq!(s.expect_ok("f SEARCH UNSEEN FROM alice"), ["* SEARCH 4"]);
        assert_eq!(s.expect_ok("g SEARCH OR 1 NOT 2:*"), ["* SEARCH 1"]);
        assert_eq!(s.expect_ok("h SEARCH TO nobody"), ["* SEARCH"]);
        s.expect_ok("i STORE 1:2 +FLAGS.SILENT (\\Deleted)");
        assert_eq!(s.expect_ok("j UID SEARCH DELETED"), ["* SEARCH 1 2"]);
        assert_eq!(
            s.expect_ok("k UID SEARCH UID 2:* UNDELETED"),
            ["* SEARCH 3 4 5"]
        );
        assert_eq!(s.expect_ok("l SEARCH ALL"), ["* SEARCH 1 2 3 4 5"]);
    }

    #[test]
    fn store_modes() {
        let mut s = Session::logged_in(store(3));
        s.expect_ok("a SELECT INBOX");
        assert_eq!(
            s.expect_ok("b STORE 1 FLAGS (\\Flagged \\Answered)"),
            ["* 1 FETCH (FLAGS (\\Answered \\Flagged))"]
        );
        assert_eq!(
            s.expect_ok("c UID STORE 1 -FLAGS \\Answered"),
            ["* 1 FETCH (UID 1 FLAGS (\\Flagged))"]
        );
        assert!(
            s.expect_ok("d STORE 1 +FLAGS.SILENT (\\Seen $Junk)")
                .is_empty()
        );
        assert!(inbox(&s.store).messages[0].flags.seen);
        assert_eq!(s.status("e STORE 9 +FLAGS (\\Seen)"), "BAD", "no message 9");
        assert_eq!(s.status("f STORE 1 +FLAGS (\\Recent)"), "OK");
    }

    #[test]
    fn expunge_numbers_count_after_earlier_removals() {
        let mut s = Session::logged_in(store(4));
        s.expect_ok("a SELECT INBOX");
        s.expect_ok("b STORE 2:3 +FLAGS (\\Deleted)");
        assert_eq!(s.expect_ok("c EXPUNGE"), ["* 2 EXPUNGE", "* 2 EXPUNGE"]);
        assert_eq!(
            s.expect_ok("d FETCH 1:* UID"),
            ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)"]
        );
        // CLOSE expunges without a word, and leaves the selected state.
        s.expect_ok("e STORE 1 +FLAGS (\\Deleted)");
        assert!(s.expect_ok("f CLOSE").is_empty());
        assert_eq!(inbox(&s.store).messages.len(), 1);
        assert_eq!(s.status("g FETCH 1 FLAGS"), "BAD");
    }

    #[test]
    fn another_session_changes_are_reported_in_turn() {
        let mut a = Session::logged_in(store(3));
        a.expect_ok("a SELECT INBOX");
        // Another session deletes message 2 and expunges.
        let mut b = Session::logged_in(a.store.clone());
        b.expect_ok("a SELECT INBOX");
        b.expect_ok("b STORE 2 +FLAGS (\\Deleted)");
        b.expect_ok("c EXPUNGE");
        a.store = b.store.clone();
        // No EXPUNGE during FETCH (section 7.4.1): numbers stay as session a knows them.
        assert_eq!(
            a.expect_ok("b FETCH 1:3 (UID)"),
            ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"]
        );
        assert_eq!(a.expect_ok("c NOOP"), ["* 2 EXPUNGE"]);
        assert_eq!(a.expect_ok("d FETCH 2 (UID)"), ["* 2 FETCH (UID 3)"]);
    }

    #[test]
    fn wrong_state_is_bad() {
        let mut s = Session::new(store(1));
        assert_eq!(s.status("a SELECT INBOX"), "BAD");
        assert_eq!(s.status("b FETCH 1 FLAGS"), "BAD");
        assert_eq!(s.status("c LIST \"\" *"), "BAD");
        s.expect_ok("d LOGIN mrc secret");
        assert_eq!(s.status("e LOGIN mrc secret"), "BAD");
        assert_eq!(s.status("f FETCH 1 FLAGS"), "BAD");
        assert_eq!(s.status("g EXPUNGE"), "BAD");
        assert_eq!(s.status("h SELECT Nowhere"), "NO");
        s.expect_ok("i NOOP");
    }

    #[test]
    fn garbage_is_bad_and_the_session_goes_on() {
        let mut s = Session::new(store(1));
        for (line, answer) in [
            ("", "* BAD"),
            ("\u{1}\u{2}", "* BAD"),
            ("* LOGIN a b", "* BAD"),
            ("a FROBNICATE", "a BAD"),
            ("b LOGIN {6}", "b BAD"),
            ("c LOGIN \"mrc", "c BAD"),
            ("d FETCH 1 (FLAGS", "d BAD"),
            ("e LOGIN mrc", "e BAD"),
        ] {
            let r = s.send(line);
            assert!(!r.close, "{line:?}");
            assert_eq!(r.lines.len(), 1);
            assert!(r.lines[0].starts_with(answer), "{line:?} -> {:?}", r.lines);
        }
        s.expect_ok("f LOGIN mrc secret");
        s.expect_ok("g SELECT INBOX");
        assert_eq!(s.status("h FETCH 2 FLAGS"), "BAD", "only one message");
        assert_eq!(s.status("i FETCH * BODY[1]"), "BAD");
        assert!(s.expect_ok("j UID FETCH 7:9 FLAGS").is_empty());
    }

    #[test]
    fn three_failed_logins_end_the_session() {
        let mut s = Session::new(store(1));
        assert_eq!(s.status("a LOGIN mrc nope"), "NO");
        assert_eq!(s.status("b LOGIN nobody secret"), "NO");
        let r = s.send("c LOGIN mrc guess");
        assert_eq!(
            r.lines.iter().map(|l| shape(l)).collect::<Vec<_>>(),
            ["BYE", "c NO [AUTHENTICATIONFAILED]"]
        );
        assert!(r.close);
        assert!(s.send("d LOGIN mrc secret").lines.is_empty());
    }

    /// What a mail program does with what it has sent (RFC 3501 sections 6.3.3 and 6.3.11):
    /// APPEND to a missing folder gets TRYCREATE; CREATE makes it; APPEND puts the message in
    /// with its flags; the folder then holds it, and the selected folder announces it at once.
    #[test]
    fn create_then_append_a_copy_of_what_was_sent() {
        let mut s = Session::logged_in(store(1));
        let message = "Subject: copy\r\n\r\nwhat I sent\r\n";
        let append = |tag: &str, folder: &str| {
            format!(
                "{tag} APPEND {folder} (\\Seen) \"04-Dec-2026 22:00:00 +0000\" {{{}}}\r\n{message}",
                message.len()
            )
        };
        let r = s.lines(&append("a1", "Drafts"));
        assert_eq!(r, ["a1 NO [TRYCREATE] no such mailbox"]);
        s.expect_ok("a2 CREATE Drafts/");
        assert_eq!(
            s.status("a3 CREATE drafts"),
            "OK",
            "names other than INBOX keep their case"
        );
        assert_eq!(s.status("a4 CREATE Drafts"), "NO");
        assert_eq!(s.status("a5 CREATE inbox"), "NO");
        s.expect_ok("a6 SUBSCRIBE Drafts");
        s.expect_ok(&append("a7", "Drafts"));
        assert!(
            s.expect_ok("a8 LIST \"\" *")
                .contains(&"* LIST () \"/\" \"Drafts\"".to_string())
        );
        let selected = s.expect_ok("a9 SELECT Drafts");
        assert!(selected.contains(&"* 1 EXISTS".to_string()), "{selected:?}");
        let fetched = s.expect_ok("b1 FETCH 1 (FLAGS BODY.PEEK[])");
        assert!(
            fetched[0].starts_with("* 1 FETCH (FLAGS (\\Seen"),
            "{fetched:?}"
        );
        assert!(fetched.concat().contains("what I sent"), "{fetched:?}");
        // Appended to the selected folder: EXISTS before the tagged OK. A literal's size
        // counts its octets, so the line parses with UTF-8 in it too.
        let utf8 = "Subject: caf\u{e9}\r\n\r\n\u{263a}\r\n";
        let r = s.lines(&format!("b2 APPEND Drafts {{{}}}\r\n{utf8}", utf8.len()));
        assert_eq!(r, ["* 2 EXISTS", "* 2 RECENT", "b2 OK APPEND completed"]);
        // Literals carry other strings too: a LOGIN's password, say.
        let mut t = Session::new(store(0));
        t.expect_ok("c1 LOGIN {3}\r\nmrc {6}\r\nsecret");
        assert_eq!(t.status("c2 APPEND INBOX {5}\r\nab"), "BAD", "cut short");
    }

    #[test]
    fn list_and_lsub() {
        let mut s = Session::logged_in(store(1));
        let all = s.expect_ok("a LIST \"\" *");
        assert_eq!(
            all,
            [
                "* LIST () \"/\" \"INBOX\"",
                "* LIST () \"/\" \"Sent\"",
                "* LIST () \"/\" \"Archive/2026\""
            ]
        );
        assert_eq!(s.expect_ok("b LIST \"\" %").len(), 2, "% stops at /");
        assert_eq!(
            s.expect_ok("c LIST \"\" inbox"),
            ["* LIST () \"/\" \"INBOX\""]
        );
        assert!(
            s.expect_ok("d LIST \"\" sent").is_empty(),
            "only INBOX ignores case"
        );
        assert_eq!(
            s.expect_ok("e LIST \"\" \"\""),
            ["* LIST (\\Noselect) \"/\" \"\""]
        );
        assert_eq!(
            s.expect_ok("f LIST Archive/ *"),
            ["* LIST () \"/\" \"Archive/2026\""]
        );
        assert_eq!(s.expect_ok("g LSUB \"\" *").len(), 3);
        assert_eq!(s.status("h STATUS Nowhere (MESSAGES)"), "NO");
        let stars = format!("i LIST \"\" \"{}q\"", "*".repeat(400)); // no name ends in q
        assert!(s.expect_ok(&stars).is_empty());
    }
}
