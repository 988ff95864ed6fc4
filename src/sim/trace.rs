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

/// One thing that happened. Its text lives in the trace's text store: read it with
/// [`Trace::text`] or [`Trace::payload`].
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// When it happened (a transmission: when it was sent), in virtual milliseconds.
    pub t_ms: u64,
    /// When a transmission arrives; equal to `t_ms` for anything else.
    pub arrive_ms: u64,
    pub kind: EventKind,
    pub protocol: Option<Protocol>,
    // The hosts, connection and message as 32-bit numbers, `NONE` for none: a run keeps tens of
    // millions of events, and these take 16 bytes instead of 48. Read them with the methods.
    from: u32,
    to: u32,
    conn: u32,
    message: u32,
    /// Where its payload is kept.
    payload: PayloadRef,
}

/// The stored form of `None` in an event's 32-bit fields.
const NONE: u32 = u32::MAX;

fn pack(v: Option<u32>) -> u32 {
    match v {
        Some(v) => {
            debug_assert!(v != NONE, "an id too large for a trace event");
            v
        }
        None => NONE,
    }
}

fn unpack(v: u32) -> Option<u32> {
    (v != NONE).then_some(v)
}

fn pack_host(h: Option<HostId>) -> u32 {
    pack(h.map(|h| u32::try_from(h).expect("fewer than 4 billion hosts")))
}

impl TraceEvent {
    /// The host it happened at or was sent from.
    pub fn from(&self) -> Option<HostId> {
        unpack(self.from).map(|h| h as HostId)
    }

    /// The host a transmission goes to.
    pub fn to(&self) -> Option<HostId> {
        unpack(self.to).map(|h| h as HostId)
    }

    /// The connection (or DNS exchange) it belongs to.
    pub fn conn(&self) -> Option<u32> {
        unpack(self.conn)
    }

    /// The message it concerns: an index into [`Trace::messages`].
    pub fn message(&self) -> Option<u32> {
        unpack(self.message)
    }
}

/// The content of an event, borrowed from the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<'t> {
    /// Protocol text as it travelled (lines joined by CRLF), or a summary in words.
    Text(&'t str),
    /// A DNS message in its wire form; shown rendered like `dig`.
    Dns(&'t [u8]),
}

/// Where an event's payload is kept: `start..start + len` of chunk `chunk` of the text store,
/// or (with the [`PayloadRef::DNS`] bit set in `chunk`) of the DNS store. A transmission on its
/// way holds one, to read its text back on arrival without touching the event again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PayloadRef {
    chunk: u32,
    start: u32,
    len: u32,
}

impl PayloadRef {
    /// Marks a DNS message; the rest of `chunk` is the chunk's number.
    const DNS: u32 = 1 << 31;

    fn is_dns(self) -> bool {
        self.chunk & Self::DNS != 0
    }
}

/// The size of one chunk of the text store. A megabyte holds about twenty thousand events'
/// texts; a longer text gets a chunk of its own.
const CHUNK: usize = 1 << 20;

/// The chunk that `len` more bytes go into, and its number: the last one if they fit, else a
/// new one. Chunks are never reallocated, so what was put stays where it was put.
fn chunk_for<C>(
    chunks: &mut Vec<C>,
    len: usize,
    room: impl Fn(&C) -> usize,
    new: impl Fn(usize) -> C,
) -> (usize, &mut C) {
    if chunks.last().is_none_or(|c| room(c) < len) {
        chunks.push(new(CHUNK.max(len)));
    }
    let n = chunks.len() - 1;
    (n, &mut chunks[n])
}

/// The events' texts and DNS messages, back to back in large chunks: a run of millions of events
/// makes a few thousand allocations for them instead of one per event, and keeps no per-payload
/// header or spare capacity.
#[derive(Clone, Debug, Default, PartialEq)]
struct TextStore {
    chunks: Vec<String>,
    /// DNS messages in wire form, in chunks of their own (a text chunk holds only text).
    dns: Vec<Vec<u8>>,
}

impl TextStore {
    fn push_text(&mut self, text: &str) -> PayloadRef {
        let room = |c: &String| c.capacity() - c.len();
        let (chunk, c) = chunk_for(&mut self.chunks, text.len(), room, String::with_capacity);
        let start = c.len();
        c.push_str(text);
        PayloadRef {
            chunk: chunk as u32,
            start: start as u32,
            len: text.len() as u32,
        }
    }

    /// Like `push_text`, with the text in pieces joined in place: no string of its own.
    fn push_pieces(&mut self, pieces: &[&dyn crate::text::Piece]) -> PayloadRef {
        // At most this long (a number counts its widest).
        let most = pieces.iter().map(|p| p.size()).sum();
        let room = |c: &String| c.capacity() - c.len();
        let (chunk, c) = chunk_for(&mut self.chunks, most, room, String::with_capacity);
        let start = c.len();
        for p in pieces {
            p.push_to(c);
        }
        PayloadRef {
            chunk: chunk as u32,
            start: start as u32,
            len: (c.len() - start) as u32,
        }
    }

    fn push_dns(&mut self, bytes: &[u8]) -> PayloadRef {
        let room = |c: &Vec<u8>| c.capacity() - c.len();
        let (chunk, c) = chunk_for(&mut self.dns, bytes.len(), room, Vec::with_capacity);
        let start = c.len();
        c.extend_from_slice(bytes);
        assert!(chunk < PayloadRef::DNS as usize, "fewer than 2^31 chunks");
        PayloadRef {
            chunk: chunk as u32 | PayloadRef::DNS,
            start: start as u32,
            len: bytes.len() as u32,
        }
    }

    fn get(&self, r: PayloadRef) -> Payload<'_> {
        let range = r.start as usize..(r.start + r.len) as usize;
        if r.is_dns() {
            Payload::Dns(&self.dns[(r.chunk & !PayloadRef::DNS) as usize][range])
        } else {
            Payload::Text(&self.chunks[r.chunk as usize][range])
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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    pub messages: Vec<TracedMessage>,
    texts: TextStore,
}

/// An event to add to a trace, without its payload (see [`Trace::push`]).
#[derive(Clone, Copy, Debug)]
pub struct EventHead {
    pub t_ms: u64,
    pub arrive_ms: u64,
    pub kind: EventKind,
    pub protocol: Option<Protocol>,
    pub from: Option<HostId>,
    pub to: Option<HostId>,
    pub conn: Option<u32>,
    pub message: Option<u32>,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Adds an event whose payload is text; the text is copied into the trace's text store.
    pub fn push(&mut self, head: EventHead, text: &str) {
        let payload = self.texts.push_text(text);
        self.push_with(head, payload);
    }

    /// Adds an event whose text is given in pieces ([`pieces!`](crate::pieces)), joined
    /// straight into the trace's text store.
    pub fn push_pieces(&mut self, head: EventHead, pieces: &[&dyn crate::text::Piece]) {
        let payload = self.texts.push_pieces(pieces);
        self.push_with(head, payload);
    }

    /// Adds an event whose payload is a DNS message in wire form.
    pub fn push_dns(&mut self, head: EventHead, bytes: &[u8]) {
        let payload = self.texts.push_dns(bytes);
        self.push_with(head, payload);
    }

    fn push_with(&mut self, h: EventHead, payload: PayloadRef) {
        self.events.push(TraceEvent {
            t_ms: h.t_ms,
            arrive_ms: h.arrive_ms,
            kind: h.kind,
            protocol: h.protocol,
            from: pack_host(h.from),
            to: pack_host(h.to),
            conn: pack(h.conn),
            message: pack(h.message),
            payload,
        });
    }

    /// The bytes the trace holds: its events, and their texts and DNS messages (for the
    /// benchmark's account of where memory goes).
    pub fn memory_bytes(&self) -> (usize, usize) {
        let events = self.events.capacity() * std::mem::size_of::<TraceEvent>();
        let texts = self
            .texts
            .chunks
            .iter()
            .map(String::capacity)
            .sum::<usize>()
            + self.texts.dns.iter().map(Vec::capacity).sum::<usize>();
        (events, texts)
    }

    /// What the run's transmissions carried, counted as a reader of the wire would: a line of
    /// text each (a multi-line reply, or a message's text, counts every line), a DNS message
    /// one. The benchmark reports it beside the events.
    pub fn wire_lines(&self) -> usize {
        self.events
            .iter()
            .map(|e| match e.kind {
                EventKind::ClientLine | EventKind::ServerLine => match self.payload(e) {
                    Payload::Text(t) => memchr::memchr_iter(b'\n', t.as_bytes()).count() + 1,
                    Payload::Dns(_) => 1,
                },
                EventKind::DnsQuery | EventKind::DnsAnswer => 1,
                _ => 0,
            })
            .sum()
    }

    /// An event's payload: its text, or its DNS message.
    pub fn payload(&self, e: &TraceEvent) -> Payload<'_> {
        self.payload_at(e.payload)
    }

    /// Where the latest event's payload is kept.
    pub(crate) fn last_payload(&self) -> Option<PayloadRef> {
        self.events.last().map(|e| e.payload)
    }

    /// A payload by where it is kept: readable as long as its event is (see
    /// [`Trace::forget_first`]).
    pub(crate) fn payload_at(&self, at: PayloadRef) -> Payload<'_> {
        self.texts.get(at)
    }

    /// An event's text: wire text as sent, a DNS message rendered like `dig`, or a summary.
    pub fn text(&self, e: &TraceEvent) -> Cow<'_, str> {
        match self.payload(e) {
            Payload::Text(t) => Cow::Borrowed(t),
            Payload::Dns(bytes) => Cow::Owned(
                DnsMessage::decode(bytes)
                    .map(|m| m.to_dig_text())
                    .unwrap_or_else(|e| format!("(an unreadable DNS message: {e})")),
            ),
        }
    }

    /// Events `from..` with their texts, as a trace of their own (without the message list):
    /// live mode sends the window these.
    pub fn tail(&self, from: usize) -> Trace {
        let mut tail = Trace::default();
        for e in &self.events[from.min(self.events.len())..] {
            tail.push_copy(self, e);
        }
        tail
    }

    /// Adds another trace's events, with their texts, at the end (its message list is left out).
    pub fn append(&mut self, other: &Trace) {
        for e in &other.events {
            self.push_copy(other, e);
        }
    }

    /// Adds a copy of event `e` of trace `from`.
    fn push_copy(&mut self, from: &Trace, e: &TraceEvent) {
        let head = EventHead {
            t_ms: e.t_ms,
            arrive_ms: e.arrive_ms,
            kind: e.kind,
            protocol: e.protocol,
            from: e.from(),
            to: e.to(),
            conn: e.conn(),
            message: e.message(),
        };
        match from.payload(e) {
            Payload::Text(t) => self.push(head, t),
            Payload::Dns(bytes) => self.push_dns(head, bytes),
        }
    }

    /// How many chunks of texts [`Trace::forget_first`] has freed.
    #[cfg(test)]
    pub(crate) fn texts_freed(&self) -> usize {
        let freed = |c: &String| c.capacity() == 0;
        self.texts.chunks.iter().filter(|c| freed(c)).count()
    }

    /// Forgets the first `n` events, and the texts only they used (live mode keeps its memory
    /// flat so). The texts of the events kept stay where they are.
    pub fn forget_first(&mut self, n: usize) {
        self.events.drain(..n);
        // Payloads are stored in the order of their events, so the first kept event of each
        // store marks the first chunk still used; the last chunk is kept for what comes next.
        let first_chunk = |dns: bool| {
            self.events
                .iter()
                .map(|e| e.payload)
                .find(|p| p.is_dns() == dns)
                .map(|p| (p.chunk & !PayloadRef::DNS) as usize)
        };
        let (first_text, first_dns) = (first_chunk(false), first_chunk(true));
        free_before(&mut self.texts.chunks, first_text);
        free_before(&mut self.texts.dns, first_dns);
    }
}

/// Frees the chunks before `first` (all but the last one when `first` is `None`).
fn free_before<C: Default>(chunks: &mut [C], first: Option<usize>) {
    let end = first.unwrap_or(chunks.len().saturating_sub(1));
    for c in &mut chunks[..end] {
        *c = C::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(t_ms: u64) -> EventHead {
        EventHead {
            t_ms,
            arrive_ms: t_ms,
            kind: EventKind::Note,
            protocol: None,
            from: Some(1),
            to: None,
            conn: None,
            message: Some(0),
        }
    }

    #[test]
    fn texts_come_back_as_pushed_across_chunks() {
        let mut trace = Trace::default();
        let long = "x".repeat(CHUNK + 10);
        let texts = ["a", "", long.as_str(), "b\r\nc", &long[..CHUNK - 3], "d"];
        for (i, t) in texts.iter().enumerate() {
            trace.push(head(i as u64), t);
        }
        trace.push_dns(head(9), &[1, 2, 3]);
        trace.push_pieces(head(10), crate::pieces!("port ", 25u16, ' ', long));
        for (e, t) in trace.events.iter().zip(texts) {
            assert_eq!(trace.payload(e), Payload::Text(t));
        }
        assert_eq!(trace.payload(&trace.events[6]), Payload::Dns(&[1, 2, 3]));
        let joined = format!("port 25 {long}");
        assert_eq!(trace.text(&trace.events[7]), joined);
        assert_eq!(trace.events[3].from(), Some(1));
        assert_eq!(
            (trace.events[3].to(), trace.events[3].message()),
            (None, Some(0))
        );
        assert_eq!(std::mem::size_of::<TraceEvent>(), 48);
    }

    #[test]
    fn wire_lines_count_each_line_sent_and_each_dns_message() {
        let mut trace = Trace::default();
        let sent = |kind| EventHead { kind, ..head(0) };
        trace.push(sent(EventKind::ClientLine), "MAIL FROM:<a@b>");
        trace.push(
            sent(EventKind::ServerLine),
            "250-x\r\n250-SIZE\r\n250 8BITMIME",
        );
        trace.push(sent(EventKind::ClientLine), "Subject: hi\r\n\r\nbody\r\n.");
        trace.push_dns(sent(EventKind::DnsQuery), &[1, 2]);
        trace.push_dns(sent(EventKind::DnsAnswer), &[3]);
        trace.push(head(1), "a note: not on the wire");
        trace.push(sent(EventKind::Delivered), "bob's inbox");
        assert_eq!(trace.wire_lines(), 1 + 3 + 4 + 2);
    }

    #[test]
    fn a_tail_appended_elsewhere_reads_the_same() {
        let mut trace = Trace::default();
        for i in 0..5 {
            trace.push(head(i), &format!("event {i}"));
        }
        trace.push_dns(head(5), &[7]);
        let mut copy = Trace::default();
        copy.push(head(0), "first");
        copy.append(&trace.tail(3));
        let texts: Vec<_> = copy.events.iter().map(|e| copy.payload(e)).collect();
        let want = [
            Payload::Text("first"),
            Payload::Text("event 3"),
            Payload::Text("event 4"),
            Payload::Dns(&[7]),
        ];
        assert_eq!(texts, want);
    }

    #[test]
    fn forgetting_keeps_the_texts_of_the_events_kept() {
        let mut trace = Trace::default();
        let big = "y".repeat(CHUNK / 2);
        for i in 0..6 {
            trace.push(head(i), &format!("{i}{big}"));
            trace.push_dns(head(i), &vec![i as u8; CHUNK / 2 + 1]);
        }
        trace.forget_first(7);
        assert_eq!(trace.len(), 5);
        assert!(trace.texts.chunks[0].is_empty(), "the first chunk is freed");
        assert!(trace.texts.chunks[..4].iter().all(String::is_empty));
        assert!(trace.texts.dns[..3].iter().all(Vec::is_empty));
        assert!(
            !trace.texts.dns[3].is_empty(),
            "a DNS chunk still used is kept"
        );
        let first = trace.text(&trace.events[1]);
        assert!(first.starts_with('4') && first.len() == big.len() + 1);
        assert_eq!(
            trace.payload(&trace.events[0]),
            Payload::Dns(&vec![3; CHUNK / 2 + 1])
        );
        // New events still go on.
        trace.push(head(9), "after");
        assert_eq!(trace.text(&trace.events[5]), "after");
    }
}
