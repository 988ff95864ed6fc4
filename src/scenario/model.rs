//! The validated scenario: names resolved to ids, defaults filled in, times sorted.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::mail::Address;

pub use super::file::{LinkSpec, Role};

/// Index of a host in [`Scenario::hosts`].
pub type HostId = usize;
/// Index of a domain in [`Scenario::domains`].
pub type DomainId = usize;
/// Index of a user in [`Scenario::users`].
pub type UserId = usize;

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub title: String,
    pub description: String,
    pub seed: u64,
    pub domains: Vec<Domain>,
    pub hosts: Vec<Host>,
    pub users: Vec<User>,
    pub links: Vec<Link>,
    pub default_link: LinkSpec,
    pub retry: Retry,
    /// Sorted by time (stable: file order breaks ties).
    pub faults: Vec<Fault>,
    /// Sorted by time (stable).
    pub script: Vec<Action>,
    pub expectations: Vec<Expectation>,
    pub run_until_ms: u64,
    pub lesson: Lesson,
}

/// The teacher's layer over the trace: captions of their own and prediction questions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lesson {
    pub captions: Vec<TeacherCaption>,
    pub predictions: Vec<Prediction>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TeacherCaption {
    pub at: Moment,
    pub text: String,
}

/// A moment of the trace: the `nth` (from 1) event that matches every field that is set.
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    pub kind: Option<crate::sim::EventKind>,
    pub protocol: Option<crate::sim::Protocol>,
    pub from: Option<HostId>,
    pub to: Option<HostId>,
    /// Lower case; matched against the event's text in lower case.
    pub text: Option<String>,
    pub nth: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub at: Moment,
    pub question: String,
    pub answer: Answer,
    pub choices: Vec<String>,
    pub explain: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Host(HostId),
    Text(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub name: String,
    /// (preference, exchange name) as published.
    pub mx: Vec<(u16, String)>,
    pub null_mx: bool,
    /// Every A record of the zone, automatic ones from host names included.
    pub a: BTreeMap<String, Ipv4Addr>,
    pub cname: BTreeMap<String, String>,
    pub ttl: u32,
    /// The authoritative DNS host.
    pub ns: HostId,
    /// The host that keeps this domain's mailboxes, if any.
    pub store: Option<HostId>,
    /// The submission server users of this domain send through, if any.
    pub submission: Option<HostId>,
}

/// The largest message a server takes when the file does not say (the SIZE extension, RFC 1870).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    pub roles: Vec<Role>,
    pub domain: Option<DomainId>,
    pub position: Option<(f32, f32)>,
    pub greylist_ms: Option<u64>,
    pub max_message_size: usize,
}

impl Host {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Runs an SMTP server of some kind (and so an MTA with a queue).
    pub fn is_mta(&self) -> bool {
        self.has(Role::Mx) || self.has(Role::Submission)
    }

    /// Keeps mailboxes (POP3 or IMAP access).
    pub fn is_store(&self) -> bool {
        self.has(Role::Imap) || self.has(Role::Pop3)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub address: Address,
    pub password: String,
    pub domain: DomainId,
    /// The host of the user's mail program.
    pub client: HostId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub a: HostId,
    pub b: HostId,
    pub spec: LinkSpec,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub schedule_ms: Vec<u64>,
    pub give_up_ms: u64,
}

impl Retry {
    /// When a scenario without `run_until` ends: a day past the give-up time after its last
    /// fault or action, so that every queued message has met its fate by then.
    pub fn default_end(&self, faults: &[Fault], script: &[Action]) -> u64 {
        let last = faults
            .iter()
            .map(|f| f.at_ms)
            .chain(script.iter().map(|a| a.at_ms))
            .max()
            .unwrap_or(0);
        last + self.give_up_ms + 86_400_000
    }

    /// The wait after the given number of failed attempts (1 for the first failure).
    pub fn wait_after(&self, failures: u32) -> u64 {
        let i = (failures.max(1) as usize - 1).min(self.schedule_ms.len().saturating_sub(1));
        self.schedule_ms.get(i).copied().unwrap_or(30 * 60_000)
    }
}

/// A DNS record installed by a fault.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordChange {
    A(Ipv4Addr),
    Mx(Vec<(u16, String)>),
    Cname(String),
    Remove,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    HostDown(HostId),
    HostUp(HostId),
    LinkDown(HostId, HostId),
    LinkUp(HostId, HostId),
    DnsChange {
        domain: DomainId,
        name: String,
        record: RecordChange,
    },
    MailboxFull(UserId),
    MailboxFreed(UserId),
    /// Greylisting starts (with its delay) or stops (None) at this host.
    Greylist(HostId, Option<u64>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at_ms: u64,
    pub kind: FaultKind,
}

/// A message the script sends.
#[derive(Clone, Debug, PartialEq)]
pub struct Send {
    pub id: String,
    pub from: UserId,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub subject: String,
    pub body: String,
    pub header_from: Option<String>,
    /// Hand it to this host's port 25 without AUTH instead of the submission server.
    pub via: Option<HostId>,
}

impl Send {
    /// Every envelope recipient: To, Cc and Bcc.
    pub fn recipients(&self) -> Vec<Address> {
        let mut all: Vec<Address> = Vec::new();
        for a in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !all.iter().any(|b| b.key() == a.key()) {
                all.push(a.clone());
            }
        }
        all
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Send(Box<Send>),
    FetchPop3 { user: UserId, keep: bool },
    FetchImap { user: UserId },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub at_ms: u64,
    pub kind: ActionKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    Delivered {
        message: String,
        to: UserId,
        folder: String,
    },
    NotDelivered {
        message: String,
        to: UserId,
    },
    Bounced {
        message: String,
    },
    Queued {
        message: String,
    },
    Rejected {
        message: String,
    },
    MailboxCount {
        user: UserId,
        folder: String,
        count: usize,
    },
    DnsQueries {
        host: HostId,
        name: String,
        qtype: String,
        count: usize,
    },
    Downloaded {
        user: UserId,
        count: usize,
    },
    /// The copy that reached `to` has exactly `count` header fields called `name`.
    HeaderCount {
        message: String,
        to: UserId,
        name: String,
        count: usize,
    },
}

impl Scenario {
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
    }

    pub fn host_by_ip(&self, ip: Ipv4Addr) -> Option<HostId> {
        self.hosts.iter().position(|h| h.ip == ip)
    }

    pub fn user_by_address(&self, address: &str) -> Option<UserId> {
        let key = address.to_ascii_lowercase();
        self.users.iter().position(|u| u.address.key() == key)
    }

    pub fn domain_by_name(&self, name: &str) -> Option<DomainId> {
        self.domains
            .iter()
            .position(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The domain a name belongs to: the longest domain it ends in.
    pub fn domain_of_name(&self, name: &str) -> Option<DomainId> {
        let name = name.to_ascii_lowercase();
        self.domains
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                name == d.name
                    || name
                        .strip_suffix(d.name.as_str())
                        .is_some_and(|p| p.ends_with('.'))
            })
            .max_by_key(|(_, d)| d.name.len())
            .map(|(i, _)| i)
    }

    /// The link spec between two hosts: an explicit link or the default.
    pub fn link_between(&self, a: HostId, b: HostId) -> &LinkSpec {
        self.links
            .iter()
            .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
            .map(|l| &l.spec)
            .unwrap_or(&self.default_link)
    }

    /// The message ids the script sends, in order.
    pub fn message_ids(&self) -> Vec<&str> {
        self.script
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::Send(s) => Some(s.id.as_str()),
                _ => None,
            })
            .collect()
    }
}
