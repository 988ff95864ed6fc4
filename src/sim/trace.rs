//! The trace: everything that happened, in order, with its virtual time. The window, the CLI
//! and the tests all read it; captions in plain words are derived from it on demand.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::proto::dns::DnsMessage;

use crate::scenario::HostId;

/// Which protocol a transmission belongs to.
/// Written `Smtp`, `Dns`, ... in scenario files; `smtp`, `dns`, ... in JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all(serialize = "lowercase"))]
pub enum Protocol {
    /// SMTP between servers, port 25.
    Smtp,
    /// SMTP submission with AUTH, port 587 (RFC 6409).
    Submission,
    Dns,
    Pop3,
    Imap,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Submission,
        Protocol::Smtp,
        Protocol::Dns,
        Protocol::Pop3,
        Protocol::Imap,
    ];

    pub fn port(self) -> u16 {
        match self {
            Protocol::Smtp => 25,
            Protocol::Submission => 587,
            Protocol::Dns => 53,
            Protocol::Pop3 => 110,
            Protocol::Imap => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Submission => "submission",
            Protocol::Dns => "DNS",
            Protocol::Pop3 => "POP3",
            Protocol::Imap => "IMAP",
        }
    }
}

/// What kind of thing happened. Written `DnsQuery`, `ServerLine`, ... in scenario files (a
/// lesson pins its captions and questions to them) and `dns_query`, ... in JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all(serialize = "snake_case"))]
pub enum EventKind {
    /// A client opens a TCP connection.
    Connect,
    /// Nobody answered the connection attempt, or it was refused.
    ConnectFailed,
    /// A line (or block of lines) from the client side of a connection.
    ClientLine,
    /// A line (or block of lines) from the server side.
    ServerLine,
    /// The connection ended.
    Close,
    /// The connection broke (a host went down or a link was cut).
    ConnectionLost,
    DnsQuery,
    DnsAnswer,
    /// The resolver answered from its cache, without asking the network.
    DnsCacheHit,
    /// A DNS query got no answer in time.
    DnsTimeout,
    /// An MTA decided where to deliver: the sorted MX list, or why there is none.
    MxChoice,
    /// A message waits in an MTA's queue.
    Queued,
    /// A delivery attempt failed temporarily; the next attempt is scheduled.
    Deferred,
    /// A queue entry is finished (handed over, delivered or bounced) and leaves the queue.
    Dequeued,
    /// A server took responsibility for the message on the way (a hop completed).
    Relayed,
    /// The message was put in a mailbox.
    Delivered,
    /// A delivery status notification was created for the sender.
    Bounced,
    /// A message could not be delivered and no bounce is possible (its sender is `<>`).
    Discarded,
    /// The sender's first server refused the message; the sender's program shows the error.
    Rejected,
    /// A mail program downloaded mail.
    Fetched,
    HostDown,
    HostUp,
    LinkDown,
    LinkUp,
    DnsChanged,
    MailboxFull,
    MailboxFreed,
    /// A user's action begins (writing a message, checking mail).
    UserAction,
    /// A change of a server's settings (greylisting on or off).
    Note,
}

/// The name of each variant as a scenario file spells it (`DnsQuery`), for writing lessons back;
/// the match is exhaustive, so a new kind cannot be forgotten here.
macro_rules! file_names {
    ($ty:ident: $($variant:ident),* $(,)?) => {
        impl $ty {
            pub fn file_name(self) -> &'static str {
                match self {
                    $($ty::$variant => stringify!($variant),)*
                }
            }
        }
    };
}

file_names!(Protocol: Smtp, Submission, Dns, Pop3, Imap);
file_names!(EventKind:
    Connect, ConnectFailed, ClientLine, ServerLine, Close, ConnectionLost, DnsQuery, DnsAnswer,
    DnsCacheHit, DnsTimeout, MxChoice, Queued, Deferred, Dequeued, Relayed, Delivered, Bounced,
    Discarded, Rejected, Fetched, HostDown, HostUp, LinkDown, LinkUp, DnsChanged, MailboxFull,
    MailboxFreed, UserAction, Note,
);

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEvent {
    /// When it happened (a transmission: when it was sent), in virtual milliseconds.
    pub t_ms: u64,
    /// When a transmission arrives; equal to `t_ms` for anything else.
    pub arrive_ms: u64,
    pub kind: EventKind,
    pub protocol: Option<Protocol>,
    pub from: Option<HostId>,
    pub to: Option<HostId>,
    /// The connection (or DNS exchange) it belongs to.
    pub conn: Option<u32>,
    /// The message it concerns: an index into [`Trace::messages`].
    pub message: Option<u32>,
    /// What was said: the wire text, a DNS message, or a summary of what happened.
    pub payload: Payload,
}

/// The content of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// Protocol text as it travelled (lines joined by CRLF), or a summary in words.
    Text(String),
    /// A DNS message in its wire form; shown rendered like `dig`.
    Dns(Vec<u8>),
}

impl TraceEvent {
    /// The event's text: wire text as sent, a DNS message rendered like `dig`, or a summary.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.payload {
            Payload::Text(t) => Cow::Borrowed(t),
            Payload::Dns(bytes) => Cow::Owned(
                DnsMessage::decode(bytes)
                    .map(|m| m.to_dig_text())
                    .unwrap_or_else(|e| format!("(an unreadable DNS message: {e})")),
            ),
        }
    }
}

/// A message the trace follows (sent by a user, or a bounce).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TracedMessage {
    /// The scenario's name for it (`m1`), or `bounce of m1`.
    pub name: String,
    pub message_id: String,
}

/// The whole trace of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    pub messages: Vec<TracedMessage>,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Payload {
        Payload::Text(text)
    }
}
