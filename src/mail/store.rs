//! Mailboxes: where delivered mail waits for POP3 or IMAP to fetch it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Message;

/// IMAP system flags (RFC 3501 section 2.3.2). POP3 only uses `deleted`, and only for the
/// length of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    /// `\Recent`: the message arrived since the last session that selected the folder.
    pub recent: bool,
}

impl Flags {
    /// The flags as IMAP writes them, e.g. `\Seen \Deleted`.
    pub fn to_imap(&self) -> String {
        let mut names = Vec::new();
        if self.seen {
            names.push("\\Seen");
        }
        if self.answered {
            names.push("\\Answered");
        }
        if self.flagged {
            names.push("\\Flagged");
        }
        if self.deleted {
            names.push("\\Deleted");
        }
        if self.draft {
            names.push("\\Draft");
        }
        if self.recent {
            names.push("\\Recent");
        }
        names.join(" ")
    }

    /// Sets or clears one flag by its IMAP name; false for a name mailsim does not know.
    pub fn set_by_name(&mut self, name: &str, on: bool) -> bool {
        let slot = match name.to_ascii_lowercase().as_str() {
            "\\seen" => &mut self.seen,
            "\\answered" => &mut self.answered,
            "\\flagged" => &mut self.flagged,
            "\\deleted" => &mut self.deleted,
            "\\draft" => &mut self.draft,
            _ => return false,
        };
        *slot = on;
        true
    }
}

/// One message in a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// IMAP UID (RFC 3501 section 2.3.1.1), also used as the POP3 UIDL.
    pub uid: u32,
    pub flags: Flags,
    pub message: Message,
    /// Virtual time of delivery (the IMAP INTERNALDATE).
    pub delivered_ms: u64,
}

/// A named folder of one mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    pub name: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: Vec<StoredMessage>,
}

impl Folder {
    pub fn new(name: &str, uid_validity: u32) -> Folder {
        Folder {
            name: name.to_string(),
            uid_validity,
            uid_next: 1,
            messages: Vec::new(),
        }
    }

    /// Appends a message with the next UID; returns that UID.
    pub fn append(&mut self, message: Message, delivered_ms: u64) -> u32 {
        let uid = self.uid_next;
        self.uid_next += 1;
        self.messages.push(StoredMessage {
            uid,
            flags: Flags {
                recent: true,
                ..Flags::default()
            },
            message,
            delivered_ms,
        });
        uid
    }

    /// Removes the messages flagged `\Deleted`; returns the sequence number of each as IMAP's
    /// EXPUNGE responses report them, one after the other, each counted after the removals
    /// before it (RFC 3501 section 7.4.1: deleting 2 and 3 of 4 reports 2, then 2).
    pub fn expunge(&mut self) -> Vec<u32> {
        let mut removed = Vec::new();
        let mut seq = 1u32;
        self.messages.retain(|m| {
            if m.flags.deleted {
                removed.push(seq);
                false
            } else {
                seq += 1;
                true
            }
        });
        removed
    }

    pub fn total_size(&self) -> usize {
        self.messages.iter().map(|m| m.message.len()).sum()
    }
}

/// One user's mail: an INBOX and any other folders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// The address in its key form (lower case).
    pub address: String,
    pub password: String,
    /// Folders, INBOX first, in creation order.
    pub folders: Vec<Folder>,
    /// A full mailbox refuses new mail with 452 4.2.2 (RFC 3463 section 3.3).
    pub full: bool,
    /// A POP3 session holds the maildrop's exclusive lock (RFC 1939 section 4). Not saved: a
    /// lock lives only as long as its session.
    #[serde(skip)]
    pub pop3_locked: bool,
}

impl Mailbox {
    pub fn new(address: &str, password: &str) -> Mailbox {
        Mailbox {
            address: address.to_ascii_lowercase(),
            password: password.to_string(),
            folders: vec![Folder::new("INBOX", 1)],
            full: false,
            pop3_locked: false,
        }
    }

    /// A folder by name; `INBOX` matches in any case (RFC 3501 section 5.1).
    pub fn folder(&self, name: &str) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| folder_name_matches(&f.name, name))
    }

    pub fn folder_mut(&mut self, name: &str) -> Option<&mut Folder> {
        self.folders
            .iter_mut()
            .find(|f| folder_name_matches(&f.name, name))
    }

    pub fn inbox(&self) -> &Folder {
        &self.folders[0]
    }

    pub fn inbox_mut(&mut self) -> &mut Folder {
        &mut self.folders[0]
    }
}

fn folder_name_matches(stored: &str, asked: &str) -> bool {
    if stored.eq_ignore_ascii_case("INBOX") {
        asked.eq_ignore_ascii_case("INBOX")
    } else {
        stored == asked
    }
}

/// The mailboxes one server keeps, keyed by address in lower case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailStore {
    pub mailboxes: BTreeMap<String, Mailbox>,
}

impl MailStore {
    pub fn add(&mut self, mailbox: Mailbox) {
        self.mailboxes.insert(mailbox.address.clone(), mailbox);
    }

    /// Finds the mailbox a login names: the whole address, or its local part when that is
    /// unambiguous in this store (real clients log in both ways).
    pub fn login_key(&self, login: &str) -> Option<String> {
        let login = login.to_ascii_lowercase();
        if self.mailboxes.contains_key(&login) {
            return Some(login);
        }
        let mut matches = self
            .mailboxes
            .keys()
            .filter(|k| k.split('@').next() == Some(login.as_str()));
        let first = matches.next()?;
        matches.next().is_none().then(|| first.clone())
    }

    /// Checks a login and password; returns the mailbox key.
    pub fn authenticate(&self, login: &str, password: &str) -> Option<String> {
        let key = self.login_key(login)?;
        (self.mailboxes[&key].password == password).then_some(key)
    }

    pub fn get(&self, key: &str) -> Option<&Mailbox> {
        self.mailboxes.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Mailbox> {
        self.mailboxes.get_mut(key)
    }
}
