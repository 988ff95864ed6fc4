//! The scenario file exactly as a teacher writes it (RON). Every field a lesson can leave out has
//! a default, so a small lesson stays short. See the README for a complete, commented example.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Millis;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Seeds the random latencies, losses and the order of equal-preference MX hosts.
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub domains: Vec<DomainFile>,
    pub hosts: Vec<HostFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserFile>,
    /// Links with their own latency and loss; any other pair of hosts uses `default_link`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkFile>,
    #[serde(default)]
    pub default_link: LinkSpec,
    #[serde(default)]
    pub retry: RetryFile,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<ActionFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<ExpectFile>,
    /// Stop the simulation here even if mail is still queued (default: 6 days, past the give-up time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_until: Option<Millis>,
    /// The teacher's own captions and prediction questions, pinned to moments of the trace.
    #[serde(default, skip_serializing_if = "LessonFile::is_empty")]
    pub lesson: LessonFile,
}

/// The lesson layer of a scenario file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LessonFile {
    /// Captions that replace the automatic ones at chosen moments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captions: Vec<CaptionFile>,
    /// Questions asked just before a moment is shown; playback waits for the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictions: Vec<PredictionFile>,
}

impl LessonFile {
    pub fn is_empty(&self) -> bool {
        self.captions.is_empty() && self.predictions.is_empty()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaptionFile {
    pub at: MomentFile,
    pub text: String,
}

/// A moment of the trace: the `nth` event (from 1) that matches every field given.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MomentFile {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_file_name"
    )]
    pub kind: Option<crate::sim::EventKind>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_file_name"
    )]
    pub protocol: Option<crate::sim::Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Text the event contains (its wire text, or the words of a note), in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<usize>,
}

/// Something a file names by a variant of its own spelling (`DnsQuery`), where JSON output
/// spells it in snake case (`dns_query`).
pub trait FileName: Copy {
    fn file_name(self) -> &'static str;
}

impl FileName for crate::sim::EventKind {
    fn file_name(self) -> &'static str {
        crate::sim::EventKind::file_name(self)
    }
}

impl FileName for crate::sim::Protocol {
    fn file_name(self) -> &'static str {
        crate::sim::Protocol::file_name(self)
    }
}

fn as_file_name<T: FileName, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    /// A unit variant by name: how RON writes `DnsQuery`.
    struct Variant(&'static str);
    impl Serialize for Variant {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_unit_variant("Variant", 0, self.0)
        }
    }
    match value {
        Some(v) => serializer.serialize_some(&Variant(v.file_name())),
        None => serializer.serialize_none(),
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionFile {
    /// The moment that reveals the answer; the question comes just before it.
    pub at: MomentFile,
    pub question: String,
    pub answer: AnswerFile,
    /// The options offered for a `Text` answer (they must include it). A `Host` answer is given
    /// by clicking a host, or by choosing from the hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Why, shown after the answer whether it was right or not.
    #[serde(default)]
    pub explain: String,
}

/// The right answer, as the moment shows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub enum AnswerFile {
    /// The moment's event goes to this host (or comes from it, for a note at one host).
    Host(String),
    /// The moment's event contains this text (a reply code, a command).
    Text(String),
}

fn is_false(b: &bool) -> bool {
    !b
}

fn default_seed() -> u64 {
    1
}

/// A DNS domain (a zone) and its records. Hosts whose names end in the domain get their A
/// records automatically; `a` adds or overrides records (a stale A record, say).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DomainFile {
    pub name: String,
    /// MX records as (preference, exchange host name). Empty: no MX, so senders fall back to
    /// the domain's own A record (the implicit MX of RFC 5321 section 5.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mx: Vec<(u16, String)>,
    /// Publish the null MX `MX 0 .` of RFC 7505: this domain receives no mail.
    #[serde(default, skip_serializing_if = "is_false")]
    pub null_mx: bool,
    /// A records by owner name (the domain itself or any name inside it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub a: BTreeMap<String, String>,
    /// CNAME records: alias name to canonical name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cname: BTreeMap<String, String>,
    /// The TTL of every record of the domain, in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// The authoritative DNS host (default: the only host with the `Dns` role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<String>,
}

fn default_ttl() -> u32 {
    3600
}

/// What a host runs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A mail program (MUA) that users send and fetch with.
    Client,
    /// A submission server (port 587, AUTH required, RFC 6409).
    Submission,
    /// An SMTP server that receives mail from other servers (port 25).
    Mx,
    /// A DNS server, authoritative for the domains that name it.
    Dns,
    /// POP3 access to the mailboxes stored here (port 110).
    Pop3,
    /// IMAP access to the mailboxes stored here (port 143).
    Imap,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    pub name: String,
    pub ip: String,
    pub roles: Vec<Role>,
    /// The domain whose mail this host handles (default: the domain its name ends in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Where the window draws it, in the diagram's units (default: laid out automatically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<(f32, f32)>,
    /// Greylisting (an MX): refuse a new (client, sender, recipient) with 451 until this much
    /// time has passed since the first try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greylist: Option<Millis>,
    /// Largest message accepted, in octets (the SIZE extension, RFC 1870).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<usize>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    pub address: String,
    pub password: String,
    /// The host of the user's mail program (default: the only client host of the user's domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Latency range and loss of a link.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way latency, drawn uniformly from (low, high) milliseconds for each transmission.
    #[serde(default = "default_latency")]
    pub latency_ms: (u64, u64),
    /// The chance that a packet is lost (TCP resends it after a timeout; a DNS query times out).
    #[serde(default)]
    pub loss: f64,
}

impl Default for LinkSpec {
    fn default() -> LinkSpec {
        LinkSpec {
            latency_ms: default_latency(),
            loss: 0.0,
        }
    }
}

fn default_latency() -> (u64, u64) {
    (20, 40)
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFile {
    pub between: (String, String),
    #[serde(default = "default_latency")]
    pub latency_ms: (u64, u64),
    #[serde(default)]
    pub loss: f64,
}

/// The retry schedule of every MTA queue (RFC 5321 section 4.5.4.1).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    /// Waits between attempts; the last one repeats.
    #[serde(default = "default_schedule")]
    pub schedule: Vec<Millis>,
    /// After this long in the queue the message bounces (status 4.4.7).
    #[serde(default = "default_give_up")]
    pub give_up: Millis,
}

impl Default for RetryFile {
    fn default() -> RetryFile {
        RetryFile {
            schedule: default_schedule(),
            give_up: default_give_up(),
        }
    }
}

fn default_schedule() -> Vec<Millis> {
    // Section 4.5.4.1: at least 30 minutes between tries, growing.
    [30, 60, 120, 240]
        .iter()
        .map(|m| Millis(m * 60_000))
        .collect()
}

fn default_give_up() -> Millis {
    // Section 4.5.4.1: give up after at least 4 to 5 days.
    Millis(5 * 86_400_000)
}

/// A DNS record a fault can install.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub enum RecordFile {
    A(String),
    Mx(Vec<(u16, String)>),
    Cname(String),
    /// Remove every record of the name.
    Remove,
}

/// Something that happens to the network at a moment.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum FaultFile {
    HostDown {
        at: Millis,
        host: String,
    },
    HostUp {
        at: Millis,
        host: String,
    },
    LinkDown {
        at: Millis,
        between: (String, String),
    },
    LinkUp {
        at: Millis,
        between: (String, String),
    },
    /// Replace the records of one name (and of one type, for A, MX and CNAME).
    DnsChange {
        at: Millis,
        name: String,
        record: RecordFile,
    },
    MailboxFull {
        at: Millis,
        user: String,
    },
    MailboxFreed {
        at: Millis,
        user: String,
    },
    /// The host starts greylisting: a new (client, sender, recipient) gets 451 for `delay`.
    GreylistOn {
        at: Millis,
        host: String,
        delay: Millis,
    },
    GreylistOff {
        at: Millis,
        host: String,
    },
}

/// What a user does.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ActionFile {
    Send(SendFile),
    /// Fetch with POP3; `keep: false` (the default) deletes what was downloaded.
    FetchPop3 {
        at: Millis,
        user: String,
        #[serde(default, skip_serializing_if = "is_false")]
        keep: bool,
    },
    /// Fetch with IMAP: the messages stay on the server, marked \Seen.
    FetchImap {
        at: Millis,
        user: String,
    },
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendFile {
    pub at: Millis,
    /// The name expectations use for this message (default: m1, m2, ... in script order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The sender: the envelope's MAIL FROM and, unless `header_from` says otherwise, From:.
    pub from: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Blind copies: in the envelope, never in the headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    #[serde(default = "default_subject")]
    pub subject: String,
    #[serde(default = "default_body")]
    pub body: String,
    /// A From: header different from the envelope sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_from: Option<String>,
    /// Hand the message to this host on port 25 without AUTH, instead of the sender's
    /// submission server (how a stranger tries an open relay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

fn default_subject() -> String {
    "Hello".to_string()
}

fn default_body() -> String {
    "Hi!\n\nThis message is travelling through mailsim.\n".to_string()
}

/// What must hold when the simulation ends.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ExpectFile {
    /// The message is in this user's folder (default INBOX).
    Delivered {
        message: String,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        folder: Option<String>,
    },
    /// The message never reached this user.
    NotDelivered { message: String, to: String },
    /// A delivery status notification about the message reached its sender's mailbox.
    Bounced { message: String },
    /// The message still waits in a queue for at least one recipient.
    Queued { message: String },
    /// The first server refused the message outright; the sender's program saw the error.
    Rejected { message: String },
    /// A folder holds exactly this many messages.
    MailboxCount {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        folder: Option<String>,
        count: usize,
    },
    /// This host's resolver sent exactly this many queries for (name, type) over the network.
    DnsQueries {
        host: String,
        name: String,
        qtype: String,
        count: usize,
    },
    /// The user's mail program holds this many downloaded messages.
    Downloaded { user: String, count: usize },
    /// The copy of the message that reached this user has exactly this many header fields of
    /// this name: 0 for a Bcc: that must not travel, 2 for the Received: stamps of two hops.
    HeaderCount {
        message: String,
        to: String,
        name: String,
        count: usize,
    },
}
