//! The discrete-event simulation: a virtual clock, an event queue ordered by (time, sequence),
//! the hosts with their engines, and the links between them. Same scenario and seed, same trace.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod external;

pub use external::{Front, SavedEntry, Snapshot};

use super::agenda::Agenda;
use super::dns_setup;
use super::trace::{EventHead, EventKind, Payload, PayloadRef, Protocol, Trace, TracedMessage};
use crate::mail::{Address, DateCache, MailStore, Mailbox, Message, rfc5322_date};
use crate::node::dsn::{FailedRecipient, RemoteReply, build_bounce};
use crate::node::mx::{MxPlan, plan_exchangers};
use crate::proto::dns::{
    Authority, CachedAnswer, DnsCache, DnsMessage, Lessons, Name, RData, Rcode, RecordType,
};
use crate::proto::imap::{ImapClient, ImapServer};
use crate::proto::pop3::{FetchMode, Pop3Client, Pop3Server};
use crate::proto::smtp::{
    Accepted, ClientJob, ClientOutcome, Envelope, RcptDecision, RcptOutcome, Reply, ReplyCode,
    ReversePath, ServerConfig, SessionInfo, SmtpClient, SmtpPolicy, SmtpServer,
};
use crate::proto::{Response, split_lines};
use crate::scenario::{
    ActionKind, Domain, DomainId, FaultKind, HostId, RecordChange, Role, Scenario, Send, UserId,
};

/// A TCP connection attempt to a host that does not answer gives up after this long.
const CONNECT_TIMEOUT_MS: u64 = 30_000;
/// A broken connection is noticed by the surviving side after this long.
const BROKEN_CONNECTION_NOTICE_MS: u64 = 30_000;
/// The first TCP retransmission timeout; it doubles per loss (RFC 6298 section 5.5).
const TCP_RTO_MS: u64 = 200;
/// A DNS query gets this long before the resolver tries again.
const DNS_TIMEOUT_MS: u64 = 2_000;
/// Tries per DNS query (the first and two retries).
const DNS_TRIES: u8 = 3;
/// RFC 5321 section 6.3: this many `Received:` lines means the message is looping.
const MAX_RECEIVED: usize = 100;
/// How many different answers an authoritative server keeps for the next time they are asked.
const ANSWERS_KEPT: usize = 4096;

/// Runs a scenario up to a moment (events at that moment included) and returns the state then:
/// the window shows mailboxes at its cursor this way. Deterministic, so it agrees with `run`.
pub fn run_until(scenario: &Scenario, t_ms: u64) -> Outcome {
    let mut until = scenario.clone();
    until.run_until_ms = until.run_until_ms.min(t_ms);
    run(&until)
}

/// Runs a scenario to the end and returns what happened.
pub fn run(scenario: &Scenario) -> Outcome {
    let mut world = World::new(scenario);
    world.run();
    world.finish()
}

/// What a run leaves behind: the trace and the final state of every host.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub trace: Trace,
    pub state: FinalState,
}

/// The final state, for reports and expectations.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Each host's mailboxes (empty for hosts that keep none).
    pub stores: Vec<MailStore>,
    /// Mail still waiting in queues.
    pub queued: Vec<QueuedMail>,
    /// Recipients that bounced, per traced message.
    pub bounced: Vec<BouncedMail>,
    /// Recipients the sender's first server refused.
    pub rejected: Vec<(u32, Address, String)>,
    /// Messages each user's mail program downloaded, by user id.
    pub downloaded: Vec<Vec<Message>>,
    /// Every query a resolver sent to the network, one record each however often it was
    /// retransmitted, as the run kept them. Only a lesson's expectation counts them
    /// ([`FinalState::dns_queries_sent`]); a table of counts kept during the run cost every
    /// query a copied name and a probe into a table that reached 632,000 (host, name, type)
    /// entries at a million messages.
    dns_queries: Vec<DnsQuery>,
    /// Bounces that could not be sent because their own sender was `<>` (RFC 5321 section 6.1).
    pub discarded: Vec<u32>,
    /// When the run stopped.
    pub end_ms: u64,
}

impl FinalState {
    /// How many DNS queries `host`'s resolver sent over the network for `name` and `qtype`
    /// (answers from its cache are not counted, nor a query's retransmissions).
    pub fn dns_queries_sent(&self, host: HostId, name: &str, qtype: RecordType) -> usize {
        self.dns_queries
            .iter()
            .filter(|q| q.host == host && q.qtype == qtype && &*q.name == name)
            .count()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    pub host: HostId,
    pub queue_id: String,
    pub message: Option<u32>,
    pub recipient: Address,
    pub reason: String,
    pub next_attempt_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BouncedMail {
    pub message: Option<u32>,
    pub recipient: Address,
    pub status: String,
    pub reporter: HostId,
}

/// Something scheduled to happen.
#[derive(Debug)]
enum Ev {
    /// The connection request reaches the server.
    ConnArrive(u32),
    /// The connection attempt ends without a connection.
    ConnFail {
        conn: u32,
        refused: bool,
    },
    /// Text arrives at one end of a connection; `at` is where the trace keeps it.
    Deliver {
        conn: u32,
        to_server: bool,
        at: PayloadRef,
    },
    /// The client notices that its connection is gone.
    ConnLost(u32),
    /// A DNS message arrives (`to_server`: the query; otherwise the answer); `at` is where
    /// the trace keeps it.
    DnsArrive {
        query: u32,
        to_server: bool,
        at: PayloadRef,
    },
    DnsTimeout {
        query: u32,
        attempt: u8,
    },
    /// A queue entry is due for a delivery attempt.
    QueueRun {
        host: HostId,
        entry: u32,
    },
}

enum ClientEngine {
    Smtp(SmtpClient),
    Pop3(Pop3Client),
    Imap(ImapClient),
}

enum ServerEngine {
    Smtp(SmtpServer),
    Pop3(Pop3Server),
    Imap(ImapServer),
}

/// Why a connection was opened.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Submit {
        message: u32,
        user: UserId,
    },
    Relay {
        host: HostId,
        entry: u32,
    },
    Fetch {
        user: UserId,
    },
    /// A real client in live mode; its server engine is driven from outside.
    External,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    Connecting,
    Open,
    Closed,
}

struct Conn {
    client: HostId,
    server: HostId,
    protocol: Protocol,
    /// Boxed, so that the many closed connections a long run keeps are small.
    client_engine: Option<Box<ClientEngine>>,
    server_engine: Option<Box<ServerEngine>>,
    purpose: Purpose,
    state: ConnState,
    /// The latest arrival time so far in each direction (client to server, server to client):
    /// TCP delivers in order, so no line overtakes the one before.
    last_arrival: [u64; 2],
    message: Option<u32>,
}

/// One attempt to deliver a queue entry, in progress.
#[derive(Clone, Debug, Default)]
struct Attempt {
    /// Exchangers still to try, best first.
    exchangers: Vec<Name>,
    /// The exchanger being tried now.
    current: Option<Name>,
    /// The most recent reason an exchanger failed.
    last_error: Option<String>,
}

struct QueueEntry {
    id: String,
    message_ref: Option<u32>,
    mail_from: ReversePath,
    rcpts: Vec<Address>,
    domain: String,
    message: Message,
    arrival_ms: u64,
    failures: u32,
    next_attempt_ms: u64,
    reason: String,
    attempt: Option<Attempt>,
    done: bool,
}

#[derive(Clone, Debug)]
struct DnsQuery {
    host: HostId,
    server: HostId,
    entry: u32,
    /// Shared with every other query for the same name ([`World::query_name`]): a run keeps
    /// all its queries, and asks for the same few names again and again (a million messages
    /// among 1,000 domains: 632,000 queries for 1,000 names).
    name: Name,
    qtype: RecordType,
    id: u16,
    answered: bool,
}

#[derive(Default)]
struct HostState {
    store: MailStore,
    queue: Vec<QueueEntry>,
    cache: DnsCache,
    /// How long a new sender is greylisted, when the host greylists.
    greylist_ms: Option<u64>,
    /// Greylisting: (client ip, sender, recipient) to the time of the first try.
    greylist: BTreeMap<(String, String, String), u64>,
}

/// The lookups made on every hop. HashMaps are only looked up here, never iterated, so they
/// cannot make a run depend on hashing order.
struct Index {
    domain: HashMap<String, DomainId>,
    host_by_ip: HashMap<Ipv4Addr, HostId>,
    /// A user by whole address in lower case.
    user: HashMap<String, UserId>,
    /// The first DNS host: the stand-in for the root servers.
    root_dns: Option<HostId>,
}

impl Index {
    fn new(sc: &Scenario) -> Index {
        Index {
            domain: sc
                .domains
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.clone(), i))
                .collect(),
            host_by_ip: sc
                .hosts
                .iter()
                .enumerate()
                .map(|(i, h)| (h.ip, i))
                .collect(),
            user: sc
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.address.key(), i))
                .collect(),
            root_dns: sc.hosts.iter().position(|h| h.has(Role::Dns)),
        }
    }

    fn domain(&self, name: &str) -> Option<DomainId> {
        match self.domain.get(name) {
            Some(d) => Some(*d),
            None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.domain.get(&name.to_ascii_lowercase()).copied()
            }
            None => None,
        }
    }

    /// The domain a name is in: the longest enclosing domain of the scenario.
    fn enclosing_domain(&self, name: &str) -> Option<DomainId> {
        let mut rest = name;
        loop {
            if let Some(d) = self.domain(rest) {
                return Some(d);
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

/// Whether each host is up, a bit a host: 4,000 hosts take eight cache lines, which stay in
/// the first-level cache however many sessions a crowded run has in flight (a byte a host took
/// 63, and cachegrind counted their misses growing with the crowd).
struct UpHosts {
    bits: Vec<u64>,
}

impl UpHosts {
    fn all(hosts: usize) -> UpHosts {
        UpHosts {
            bits: vec![u64::MAX; hosts.div_ceil(64)],
        }
    }

    fn get(&self, host: HostId) -> bool {
        self.bits[host / 64] & (1 << (host % 64)) != 0
    }

    fn set(&mut self, host: HostId, up: bool) {
        let bit = 1 << (host % 64);
        if up {
            self.bits[host / 64] |= bit;
        } else {
            self.bits[host / 64] &= !bit;
        }
    }
}

/// Traced messages by Message-ID. Only a fetch's note and live mode's messages look a message
/// up by its header; the run follows each message by its index. So the table is filled from
/// the trace's list of messages when a lookup comes, not on every send: a run without fetches
/// (a benchmark's million messages) builds no table at all, and one with fetches indexes the
/// messages sent so far at the first lookup after them. Only looked up, never iterated, so
/// hashing order cannot show.
#[derive(Default)]
struct MessageIds {
    by_id: HashMap<String, u32>,
    /// How many of the trace's messages are in `by_id`.
    indexed: usize,
}

impl MessageIds {
    /// The message that took this Message-ID last (sent with it, or given it since). An empty
    /// ID names none.
    fn find(&mut self, messages: &[TracedMessage], id: &str) -> Option<u32> {
        self.catch_up(messages);
        self.by_id.get(id).copied()
    }

    /// Message `m`, sent without a Message-ID, gets the one its submission server added: in the
    /// trace's list, and here, after the messages sent before it took theirs.
    fn rename(&mut self, messages: &mut [TracedMessage], m: u32, id: String) {
        self.catch_up(messages);
        self.by_id.insert(id.clone(), m);
        messages[m as usize].message_id = id;
    }

    fn catch_up(&mut self, messages: &[TracedMessage]) {
        for (i, m) in messages.iter().enumerate().skip(self.indexed) {
            if !m.message_id.is_empty() {
                self.by_id.insert(m.message_id.clone(), i as u32);
            }
        }
        self.indexed = messages.len();
    }
}

/// The simulated world.
pub struct World<'s> {
    sc: &'s Scenario,
    now: u64,
    events: Agenda<Ev>,
    rng: ChaCha8Rng,
    hosts: Vec<HostState>,
    /// Whether each host is up. Every transmission asks it of both ends; kept apart from
    /// `hosts` (136 bytes a host, beside its store, queue and cache), all hosts' flags share a
    /// few cache lines, where in a busy run the two hosts' states are seldom still cached.
    up: UpHosts,
    /// The DNS data as it is now (faults change it).
    domains: Vec<Domain>,
    authorities: BTreeMap<HostId, Authority>,
    /// Answers each authoritative server has given, by the query's bytes after its ID: an
    /// answer depends on nothing else while the zones stay as they are, and the same few
    /// questions come again and again. Emptied when a fault changes the zones.
    answered: HashMap<HostId, HashMap<Vec<u8>, Vec<u8>>>,
    /// The DNS answers resolvers have read, by their bytes after the ID (the ID kept is the
    /// first one's): the same few hundred answers reach thousands of resolvers, and reading one
    /// depends on nothing but its bytes, so each is decoded once, and what it teaches a cache
    /// worked out once (its record sets, shared by every cache that keeps them).
    decoded_answers: HashMap<Vec<u8>, (DnsMessage, Option<Lessons>)>,
    links_down: Vec<(HostId, HostId)>,
    conns: Vec<Conn>,
    queries: Vec<DnsQuery>,
    /// The names the resolvers have asked for, each kept once.
    query_names: HashSet<Name>,
    trace: Trace,
    /// Traced messages by Message-ID, for the few lookups by header.
    message_ids: MessageIds,
    next_queue_id: u32,
    state: FinalState,
    index: Index,
    /// The next scenario fault and user action to happen.
    next_fault: usize,
    next_action: usize,
    /// Live mode's sessions with real clients; `None` once ended.
    external: Vec<Option<Box<external::External>>>,
    /// The text being delivered, copied out of the trace (a buffer kept between deliveries).
    delivering: String,
    /// The same for a DNS message arriving.
    datagram: Vec<u8>,
    /// The `Date:` and `Received:` date of the current second.
    dates: DateCache,
}

/// What an event carries, as `World::emit` takes it: text, copied into the trace's text
/// store, or a DNS message ([`DnsBytes`]).
trait Said {
    fn record(self, trace: &mut Trace, head: EventHead);
}

impl Said for &str {
    fn record(self, trace: &mut Trace, head: EventHead) {
        trace.push(head, self);
    }
}

impl Said for &[&dyn crate::text::Piece] {
    fn record(self, trace: &mut Trace, head: EventHead) {
        trace.push_pieces(head, self);
    }
}

impl Said for String {
    fn record(self, trace: &mut Trace, head: EventHead) {
        trace.push(head, &self);
    }
}

/// A DNS message in wire form, as an event's payload.
struct DnsBytes(Vec<u8>);

impl Said for DnsBytes {
    fn record(self, trace: &mut Trace, head: EventHead) {
        trace.push_dns(head, &self.0);
    }
}

impl<'s> World<'s> {
    pub fn new(sc: &'s Scenario) -> World<'s> {
        let mut hosts: Vec<HostState> = sc
            .hosts
            .iter()
            .map(|h| HostState {
                greylist_ms: h.greylist_ms,
                ..HostState::default()
            })
            .collect();
        for u in &sc.users {
            if let Some(store) = sc.domains[u.domain].store {
                hosts[store]
                    .store
                    .add(Mailbox::new(&u.address.key(), &u.password));
            }
        }
        let domains = sc.domains.clone();
        let authorities = dns_setup::authorities(sc, &domains);
        let index = Index::new(sc);
        let mut world = World {
            sc,
            now: 0,
            events: Agenda::new(),
            rng: ChaCha8Rng::seed_from_u64(sc.seed),
            hosts,
            up: UpHosts::all(sc.hosts.len()),
            domains,
            authorities,
            answered: HashMap::default(),
            decoded_answers: HashMap::default(),
            links_down: Vec::new(),
            conns: Vec::new(),
            queries: Vec::new(),
            query_names: HashSet::default(),
            trace: Trace::default(),
            message_ids: MessageIds::default(),
            next_queue_id: 0,
            state: FinalState {
                downloaded: vec![Vec::new(); sc.users.len()],
                ..FinalState::default()
            },
            index,
            next_fault: 0,
            next_action: 0,
            external: Vec::new(),
            delivering: String::new(),
            datagram: Vec::new(),
            dates: DateCache::default(),
        };
        // About forty events per message: reserving them saves copying a large trace as it grows.
        world.trace.events.reserve(sc.script.len() * 48);
        let sends = sc
            .script
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Send(_)))
            .count();
        world.trace.messages.reserve(sends);
        // A message takes two connections (submission, then relay) and at most one DNS query
        // of its own, for the MX records when they are not cached (the exchanger's address
        // comes with them); a check for mail takes one connection. Reserved now, these lists
        // are not copied as they grow: at a million messages each copy went to fresh memory,
        // which the run's own thread had to fault in.
        let fetches = sc.script.len() - sends;
        world.conns.reserve(2 * sends + fetches);
        world.queries.reserve(sends);
        world
    }

    /// Processes events until none are left or the scenario's end time passes.
    ///
    /// The scenario's faults and actions are already sorted by time, so they are read in order
    /// beside the queue instead of being queued up front: the queue holds only what is in flight.
    /// At equal times a fault comes first, then a user action, then whatever the run scheduled.
    pub fn run(&mut self) {
        self.run_to(u64::MAX);
    }

    /// Processes every event due up to `limit` (and the scenario's end time): live mode moves
    /// the virtual clock along with the wall clock this way. The clock then stands at `limit`.
    pub fn run_to(&mut self, limit: u64) {
        let end = self.sc.run_until_ms.min(limit);
        loop {
            let queued = self.events.peek_time();
            let fault = self.sc.faults.get(self.next_fault).map(|f| f.at_ms);
            let action = self.sc.script.get(self.next_action).map(|a| a.at_ms);
            let never = u64::MAX;
            let t = queued
                .unwrap_or(never)
                .min(fault.unwrap_or(never))
                .min(action.unwrap_or(never));
            if t == never {
                break;
            }
            if t > end {
                self.now = self.now.max(end);
                break;
            }
            self.now = t;
            if fault == Some(t) {
                self.next_fault += 1;
                self.on_fault(self.next_fault - 1);
            } else if action == Some(t) {
                self.next_action += 1;
                self.on_action(self.next_action - 1);
            } else if let Some((_, ev)) = self.events.pop() {
                self.handle(ev);
            }
        }
    }

    /// Collects the final state.
    pub fn finish(mut self) -> Outcome {
        self.state.queued = self.queued_now();
        self.state.stores = self.hosts.into_iter().map(|h| h.store).collect();
        self.state.end_ms = self.now;
        self.state.dns_queries = self.queries;
        Outcome {
            trace: self.trace,
            state: self.state,
        }
    }

    /// The mail waiting in queues now, one row per recipient.
    pub fn queued_now(&self) -> Vec<QueuedMail> {
        let mut queued = Vec::new();
        for (h, host) in self.hosts.iter().enumerate() {
            for e in host.queue.iter().filter(|e| !e.done) {
                for r in &e.rcpts {
                    queued.push(QueuedMail {
                        host: h,
                        queue_id: e.id.clone(),
                        message: e.message_ref,
                        recipient: r.clone(),
                        reason: e.reason.clone(),
                        next_attempt_ms: e.next_attempt_ms,
                    });
                }
            }
        }
        queued
    }

    /// Schedules `ev` at `t`, or now if `t` has passed already (a close whose last line arrived
    /// before this moment, say): the clock never runs backwards.
    fn schedule(&mut self, t: u64, ev: Ev) {
        self.events.push(t.max(self.now), ev);
    }

    fn name(&self, h: HostId) -> &'s str {
        &self.sc.hosts[h].name
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        kind: EventKind,
        protocol: Option<Protocol>,
        from: Option<HostId>,
        to: Option<HostId>,
        conn: Option<u32>,
        message: Option<u32>,
        arrive_ms: u64,
        payload: impl Said,
    ) {
        let head = EventHead {
            t_ms: self.now,
            arrive_ms,
            kind,
            protocol,
            from,
            to,
            conn,
            message,
        };
        payload.record(&mut self.trace, head);
    }

    /// An event at one host with no transmission.
    fn note(
        &mut self,
        kind: EventKind,
        host: Option<HostId>,
        message: Option<u32>,
        text: impl Said,
    ) {
        let now = self.now;
        self.emit(kind, None, host, None, None, message, now, text);
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::ConnArrive(c) => self.on_conn_arrive(c),
            Ev::ConnFail { conn, refused } => self.on_conn_fail(conn, refused),
            Ev::Deliver {
                conn,
                to_server,
                at,
            } => {
                // Copy the text out of the trace while the engines read it (the world changes
                // meanwhile); the buffer is kept for the next delivery.
                let mut text = std::mem::take(&mut self.delivering);
                text.clear();
                match self.trace.payload_at(at) {
                    Payload::Text(t) => text.push_str(t),
                    Payload::Dns(_) => return,
                }
                self.on_deliver(conn, to_server, &text);
                self.delivering = text;
            }
            Ev::ConnLost(c) => self.on_conn_lost(c),
            Ev::DnsArrive {
                query,
                to_server,
                at,
            } => {
                // As for text above: copied out of the trace into a buffer kept for the next.
                let mut bytes = std::mem::take(&mut self.datagram);
                bytes.clear();
                match self.trace.payload_at(at) {
                    Payload::Dns(b) => bytes.extend_from_slice(b),
                    Payload::Text(_) => return,
                }
                self.on_dns_arrive(query, to_server, &bytes);
                self.datagram = bytes;
            }
            Ev::DnsTimeout { query, attempt } => self.on_dns_timeout(query, attempt),
            Ev::QueueRun { host, entry } => self.on_queue_run(host, entry),
        }
    }

    // ----- the network -------------------------------------------------------------------

    fn reachable(&self, a: HostId, b: HostId) -> bool {
        self.up.get(a)
            && self.up.get(b)
            && !self
                .links_down
                .iter()
                .any(|&(x, y)| (x == a && y == b) || (x == b && y == a))
    }

    /// One-way delay for one transmission: the link's latency, plus TCP's resends for each loss.
    fn delay(&mut self, a: HostId, b: HostId, reliable: bool) -> Option<u64> {
        let spec = self.sc.link_between(a, b).clone();
        let (lo, hi) = spec.latency_ms;
        let mut d = if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        };
        if spec.loss > 0.0 {
            let mut rto = TCP_RTO_MS;
            while self.rng.random_bool(spec.loss) {
                if !reliable {
                    return None;
                }
                d += rto;
                rto *= 2;
                if rto > 60_000 {
                    break;
                }
            }
        }
        Some(d)
    }

    fn open_conn(
        &mut self,
        client: HostId,
        server: HostId,
        protocol: Protocol,
        engine: ClientEngine,
        purpose: Purpose,
        message: Option<u32>,
    ) -> u32 {
        let id = self.conns.len() as u32;
        self.conns.push(Conn {
            client,
            server,
            protocol,
            client_engine: Some(Box::new(engine)),
            server_engine: None,
            purpose,
            state: ConnState::Connecting,
            last_arrival: [self.now; 2],
            message,
        });
        let serves = match protocol {
            Protocol::Smtp => self.sc.hosts[server].has(Role::Mx),
            Protocol::Submission => self.sc.hosts[server].has(Role::Submission),
            Protocol::Pop3 => self.sc.hosts[server].has(Role::Pop3),
            Protocol::Imap => self.sc.hosts[server].has(Role::Imap),
            Protocol::Dns => false,
        };
        let delay = self.delay(client, server, true).unwrap_or(0);
        // A relay connects to the address it looked up for an exchanger; when that address is
        // another host's (a stale record, an implicit MX), the note says both names.
        let looked_up = match purpose {
            Purpose::Relay { host, entry } => self.hosts[host].queue[entry as usize]
                .attempt
                .as_ref()
                .and_then(|a| a.current.as_deref())
                // Both are stored in lower case (scenario::load).
                .filter(|n| *n != self.name(server))
                .map(str::to_string),
            _ => None,
        };
        let (target, after) = match &looked_up {
            None => (Cow::Borrowed(self.name(server)), String::new()),
            Some(name) => (
                Cow::Owned(self.sc.hosts[server].ip.to_string()),
                format!(
                    ", the address of {name} (the host there is {})",
                    self.name(server)
                ),
            ),
        };
        self.emit(
            EventKind::Connect,
            Some(protocol),
            Some(client),
            Some(server),
            Some(id),
            message,
            self.now + delay,
            crate::pieces!(
                self.name(client),
                " connects to ",
                target.as_ref(),
                " port ",
                protocol.port(),
                " (",
                protocol.name(),
                ")",
                after.as_str()
            ),
        );
        if !self.reachable(client, server) {
            self.schedule(
                self.now + CONNECT_TIMEOUT_MS,
                Ev::ConnFail {
                    conn: id,
                    refused: false,
                },
            );
        } else if !serves {
            // Nothing listens on that port: the host answers with a reset.
            let back = self.delay(server, client, true).unwrap_or(0);
            self.schedule(
                self.now + delay + back,
                Ev::ConnFail {
                    conn: id,
                    refused: true,
                },
            );
        } else {
            self.schedule(self.now + delay, Ev::ConnArrive(id));
        }
        id
    }

    /// Sends text along a connection, in order, and traces it.
    fn transmit(&mut self, conn: u32, from_server: bool, text: String) {
        let c = &self.conns[conn as usize];
        let (from, to) = if from_server {
            (c.server, c.client)
        } else {
            (c.client, c.server)
        };
        let (protocol, message) = (c.protocol, c.message);
        let dir = usize::from(from_server);
        let delay = self.delay(from, to, true).unwrap_or(0);
        let c = &mut self.conns[conn as usize];
        let arrive = (self.now + delay).max(c.last_arrival[dir]);
        c.last_arrival[dir] = arrive;
        let kind = if from_server {
            EventKind::ServerLine
        } else {
            EventKind::ClientLine
        };
        self.emit(
            kind,
            Some(protocol),
            Some(from),
            Some(to),
            Some(conn),
            message,
            arrive,
            text,
        );
        if self.reachable(from, to) {
            let at = self.trace.last_payload().expect("the line just traced");
            self.schedule(
                arrive,
                Ev::Deliver {
                    conn,
                    to_server: !from_server,
                    at,
                },
            );
        }
    }

    fn send_response(&mut self, conn: u32, r: Response) {
        match r.lines.len() {
            0 => {}
            // Most replies are one line: it goes out as it is, without joining.
            1 => self.transmit(conn, true, r.lines.into_iter().next().expect("one line")),
            _ => self.transmit(conn, true, r.lines.join("\r\n")),
        }
        if r.close {
            self.drop_server_engine(conn);
            let c = &mut self.conns[conn as usize];
            let (at, from, to, protocol, message) =
                (c.last_arrival[1], c.server, c.client, c.protocol, c.message);
            c.state = ConnState::Closed;
            self.emit(
                EventKind::Close,
                Some(protocol),
                Some(from),
                Some(to),
                Some(conn),
                message,
                at,
                crate::pieces!(self.name(from), " closes the connection"),
            );
            // A client still waiting learns of the close when the last line arrives.
            if self.conns[conn as usize].client_engine.is_some() {
                self.schedule(at, Ev::ConnLost(conn));
            }
        }
    }

    /// Takes a connection's server engine away. A POP3 session that ends without QUIT (the
    /// connection broke, the host went down) lets go of its maildrop's lock.
    fn drop_server_engine(&mut self, conn: u32) {
        let c = &mut self.conns[conn as usize];
        let server = c.server;
        if let Some(engine) = c.server_engine.take()
            && let ServerEngine::Pop3(mut s) = *engine
        {
            s.release(&mut self.hosts[server].store);
        }
    }

    fn on_conn_arrive(&mut self, conn: u32) {
        let c = &self.conns[conn as usize];
        let (client, server, protocol) = (c.client, c.server, c.protocol);
        if c.state != ConnState::Connecting {
            return;
        }
        if !self.reachable(client, server) {
            self.schedule(
                self.now + CONNECT_TIMEOUT_MS,
                Ev::ConnFail {
                    conn,
                    refused: false,
                },
            );
            return;
        }
        let client_ip = crate::cat!(self.sc.hosts[client].ip);
        let (engine, greeting) = self.server_engine(protocol, server, conn, &client_ip);
        let c = &mut self.conns[conn as usize];
        c.server_engine = Some(Box::new(engine));
        c.state = ConnState::Open;
        self.send_response(conn, greeting);
    }

    /// A server engine for a new connection, and its greeting.
    fn server_engine(
        &self,
        protocol: Protocol,
        server: HostId,
        conn: u32,
        client_ip: &str,
    ) -> (ServerEngine, Response) {
        let host = &self.sc.hosts[server];
        match protocol {
            Protocol::Smtp | Protocol::Submission => {
                let mut s = SmtpServer::new(
                    ServerConfig {
                        hostname: host.name.clone(),
                        submission: protocol == Protocol::Submission,
                        max_message_size: host.max_message_size,
                    },
                    client_ip,
                );
                let g = s.greeting();
                (ServerEngine::Smtp(s), g)
            }
            Protocol::Pop3 => {
                let stamp = crate::cat!('<', conn + 1000, '.', self.now, '@', host.name, '>');
                let mut s = Pop3Server::new(&host.name, stamp);
                let g = s.greeting();
                (ServerEngine::Pop3(s), g)
            }
            Protocol::Imap => {
                let mut s = ImapServer::new(&host.name);
                let g = s.greeting();
                (ServerEngine::Imap(s), g)
            }
            Protocol::Dns => unreachable!("DNS does not use connections"),
        }
    }

    fn on_conn_fail(&mut self, conn: u32, refused: bool) {
        let c = &mut self.conns[conn as usize];
        if c.state == ConnState::Closed {
            return;
        }
        c.state = ConnState::Closed;
        let (client, server, protocol, message, purpose) =
            (c.client, c.server, c.protocol, c.message, c.purpose);
        c.client_engine = None;
        let why = if refused {
            format!(
                "{} refuses the connection: nothing listens on port {}",
                self.name(server),
                protocol.port()
            )
        } else {
            format!(
                "{} does not answer: no connection after {} s",
                self.name(server),
                CONNECT_TIMEOUT_MS / 1000
            )
        };
        let now = self.now;
        self.emit(
            EventKind::ConnectFailed,
            Some(protocol),
            Some(client),
            Some(server),
            Some(conn),
            message,
            now,
            why.clone(),
        );
        self.client_gave_up(purpose, &why);
    }

    fn on_conn_lost(&mut self, conn: u32) {
        let c = &mut self.conns[conn as usize];
        let Some(engine) = c.client_engine.take() else {
            return;
        };
        let was_closed = c.state == ConnState::Closed;
        c.state = ConnState::Closed;
        let (client, server, protocol, message, purpose) =
            (c.client, c.server, c.protocol, c.message, c.purpose);
        self.drop_server_engine(conn);
        if !was_closed {
            let now = self.now;
            self.emit(
                EventKind::ConnectionLost,
                Some(protocol),
                Some(server),
                Some(client),
                Some(conn),
                message,
                now,
                format!(
                    "the connection between {} and {} is broken",
                    self.name(client),
                    self.name(server)
                ),
            );
        }
        match *engine {
            ClientEngine::Smtp(mut s) => {
                let outcome = s.on_connection_lost();
                self.smtp_done(conn, purpose, outcome);
            }
            ClientEngine::Pop3(_) | ClientEngine::Imap(_) => {
                self.client_gave_up(purpose, "the connection broke");
            }
        }
    }

    /// A connection that never got going: relays try the next exchanger; users give up.
    fn client_gave_up(&mut self, purpose: Purpose, why: &str) {
        match purpose {
            Purpose::Relay { host, entry } => {
                if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                    a.last_error = Some(why.to_string());
                }
                self.next_exchanger(host, entry);
            }
            Purpose::Submit { message, user } => {
                let sender = self.sc.users[user].address.to_string();
                let client = self.sc.users[user].client;
                self.note(
                    EventKind::Rejected,
                    Some(client),
                    Some(message),
                    format!("{sender}'s mail program could not hand over the message: {why}"),
                );
                for s in self.sends_of(message) {
                    for r in s.recipients() {
                        self.state.rejected.push((message, r, why.to_string()));
                    }
                }
            }
            Purpose::External => {}
            Purpose::Fetch { user } => {
                let client = self.sc.users[user].client;
                self.note(
                    EventKind::Fetched,
                    Some(client),
                    None,
                    format!(
                        "{}'s mail program could not check mail: {why}",
                        self.sc.users[user].address
                    ),
                );
            }
        }
    }

    fn sends_of(&self, message: u32) -> Vec<&'s Send> {
        let name = &self.trace.messages[message as usize].name;
        self.sc
            .script
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::Send(s) if &s.id == name => Some(&**s),
                _ => None,
            })
            .collect()
    }

    fn on_deliver(&mut self, conn: u32, to_server: bool, text: &str) {
        if to_server {
            let c = &mut self.conns[conn as usize];
            let Some(mut engine) = c.server_engine.take() else {
                return;
            };
            let (client, server, protocol, message_ref) =
                (c.client, c.server, c.protocol, c.message);
            let mut out = Response::default();
            // A message's text: its plain lines in one go, the rest (the final ".") line by line.
            let text = match &mut *engine {
                ServerEngine::Smtp(s) => &text[s.take_body_lines(text)..],
                _ => text,
            };
            for line in split_lines(text) {
                let r = match &mut *engine {
                    ServerEngine::Smtp(s) => {
                        let mut policy = HostPolicy {
                            sc: self.sc,
                            index: &self.index,
                            host: server,
                            port: protocol,
                            state: &mut self.hosts[server],
                            next_queue_id: &mut self.next_queue_id,
                            accepted: Vec::new(),
                        };
                        let r = s.on_line(line, &mut policy, self.now);
                        let accepted = policy.accepted;
                        for taken in accepted {
                            self.take_in(Some(client), server, taken, message_ref);
                        }
                        r
                    }
                    ServerEngine::Pop3(s) => {
                        s.on_line(line, &mut self.hosts[server].store, self.now)
                    }
                    ServerEngine::Imap(s) => {
                        s.on_line(line, &mut self.hosts[server].store, self.now)
                    }
                };
                // Usually one line came in and one response goes out: keep it as it is.
                if out.lines.is_empty() {
                    out.lines = r.lines;
                } else {
                    out.lines.extend(r.lines);
                }
                if r.close {
                    out.close = true;
                    break;
                }
            }
            self.conns[conn as usize].server_engine = Some(engine);
            self.send_response(conn, out);
        } else {
            let c = &mut self.conns[conn as usize];
            let Some(mut engine) = c.client_engine.take() else {
                return;
            };
            let purpose = c.purpose;
            for line in split_lines(text) {
                match &mut *engine {
                    ClientEngine::Smtp(s) => {
                        let step = s.on_line(line);
                        if let Some(t) = step.send {
                            self.transmit(conn, false, t);
                        }
                        if let Some(outcome) = step.done {
                            self.smtp_done(conn, purpose, outcome);
                            return;
                        }
                    }
                    ClientEngine::Pop3(s) => {
                        let step = s.on_line(line);
                        for t in step.send {
                            self.transmit(conn, false, t);
                        }
                        if let Some(outcome) = step.done {
                            self.fetch_done(purpose, outcome.messages, outcome.error, "POP3");
                            return;
                        }
                    }
                    ClientEngine::Imap(s) => {
                        let step = s.on_line(line);
                        for t in step.send {
                            self.transmit(conn, false, t);
                        }
                        if let Some(outcome) = step.done {
                            self.fetch_done(purpose, outcome.messages, outcome.error, "IMAP");
                            return;
                        }
                    }
                }
            }
            self.conns[conn as usize].client_engine = Some(engine);
        }
    }

    fn fetch_done(
        &mut self,
        purpose: Purpose,
        messages: Vec<Message>,
        error: Option<String>,
        protocol: &str,
    ) {
        let Purpose::Fetch { user } = purpose else {
            return;
        };
        let client = self.sc.users[user].client;
        let address = self.sc.users[user].address.to_string();
        let text = match error {
            Some(e) => format!("{address}'s mail program could not log in with {protocol}: {e}"),
            None => {
                let n = messages.len();
                format!(
                    "{address}'s mail program downloaded {n} new message{} with {protocol}",
                    if n == 1 { "" } else { "s" }
                )
            }
        };
        let first = messages
            .iter()
            .find_map(|m| m.header("Message-ID"))
            .and_then(|id| self.message_ids.find(&self.trace.messages, &id));
        self.note(EventKind::Fetched, Some(client), first, text);
        self.state.downloaded[user].extend(messages);
    }

    // ----- users ----------------------------------------------------------------------------

    fn on_action(&mut self, i: usize) {
        let action = &self.sc.script[i];
        match &action.kind {
            ActionKind::Send(send) => self.user_sends(send),
            ActionKind::FetchPop3 { user, keep } => {
                let mode = if *keep {
                    FetchMode::KeepOnServer
                } else {
                    FetchMode::DeleteAfterRetrieve
                };
                let u = &self.sc.users[*user];
                let engine =
                    ClientEngine::Pop3(Pop3Client::new(&u.address.to_string(), &u.password, mode));
                self.start_fetch(*user, Protocol::Pop3, engine);
            }
            ActionKind::FetchImap { user } => {
                let u = &self.sc.users[*user];
                let engine =
                    ClientEngine::Imap(ImapClient::new(&u.address.to_string(), &u.password));
                self.start_fetch(*user, Protocol::Imap, engine);
            }
        }
    }

    fn start_fetch(&mut self, user: UserId, protocol: Protocol, engine: ClientEngine) {
        let u = &self.sc.users[user];
        let Some(store) = self.sc.domains[u.domain].store else {
            return;
        };
        self.note(
            EventKind::UserAction,
            Some(u.client),
            None,
            crate::pieces!(u.address, " checks mail with ", protocol.name()),
        );
        self.open_conn(
            u.client,
            store,
            protocol,
            engine,
            Purpose::Fetch { user },
            None,
        );
    }

    fn user_sends(&mut self, send: &'s Send) {
        let user = &self.sc.users[send.from];
        let client = user.client;
        let client_name = self.name(client);
        let message_id = crate::cat!('<', send.id, '.', self.now, '@', client_name, '>');
        let from = send
            .header_from
            .clone()
            .unwrap_or_else(|| crate::cat!(user.address));
        let to = Address::list(&send.to);
        let cc = Address::list(&send.cc);
        let date = self.dates.at(self.now);
        let mut headers: Vec<(&str, &str)> = vec![("From", &from)];
        if !to.is_empty() {
            headers.push(("To", &to));
        }
        if !cc.is_empty() {
            headers.push(("Cc", &cc));
        }
        headers.extend([
            ("Subject", send.subject.as_str()),
            ("Date", date),
            ("Message-ID", &message_id),
        ]);
        // Bcc recipients are only in the envelope: the mail program never writes them in the
        // headers it sends (RFC 5322 section 3.6.3 allows either; this is the common practice).
        let message = Message::build(&headers, &send.body);
        let idx = self.trace.messages.len() as u32;
        self.trace.messages.push(TracedMessage {
            name: send.id.clone(),
            message_id,
        });
        let (server, protocol, auth) = match send.via {
            Some(via) => (via, Protocol::Smtp, None),
            None => (
                self.sc.domains[user.domain]
                    .submission
                    .expect("validated: the sender's domain has a submission server"),
                Protocol::Submission,
                Some((user.address.to_string(), user.password.clone())),
            ),
        };
        let rcpt_to = send.recipients();
        // Who is in which field, and whose name the From: line shows when it is not the user's:
        // the envelope has only addresses, and a lesson about Bcc or From: needs to say which.
        let mut whom = Address::list(&send.to);
        for (field, list) in [("Cc ", &send.cc), ("Bcc ", &send.bcc)] {
            if !list.is_empty() {
                if !whom.is_empty() {
                    whom.push_str(", ");
                }
                whom.push_str(field);
                whom.push_str(&Address::list(list));
            }
        }
        let (as_open, as_from, as_close) = match &send.header_from {
            Some(from) => (" (as From: ", from.as_str(), ")"),
            None => ("", "", ""),
        };
        self.note(
            EventKind::UserAction,
            Some(client),
            Some(idx),
            crate::pieces!(
                user.address,
                as_open,
                as_from,
                as_close,
                " writes \"",
                send.subject,
                "\" to ",
                whom
            ),
        );
        let job = ClientJob {
            ehlo_name: client_name.to_string(),
            auth,
            mail_from: ReversePath::Address(user.address.clone()),
            rcpt_to,
            message,
        };
        self.open_conn(
            client,
            server,
            protocol,
            ClientEngine::Smtp(SmtpClient::new(job)),
            Purpose::Submit {
                message: idx,
                user: send.from,
            },
            Some(idx),
        );
    }

    // ----- SMTP outcomes --------------------------------------------------------------------

    fn smtp_done(&mut self, conn: u32, purpose: Purpose, outcome: ClientOutcome) {
        self.conns[conn as usize].client_engine = None;
        match purpose {
            Purpose::Submit { message, user } => {
                let client = self.sc.users[user].client;
                for (rcpt, result) in outcome.results {
                    match result {
                        RcptOutcome::Accepted(_) => {}
                        RcptOutcome::Deferred(r)
                        | RcptOutcome::Unfinished(r)
                        | RcptOutcome::Failed(r) => {
                            let text = format!(
                                "the server refused {rcpt}: {}; {}'s mail program shows the error",
                                r.first_line(),
                                self.sc.users[user].address
                            );
                            self.note(EventKind::Rejected, Some(client), Some(message), text);
                            self.state.rejected.push((message, rcpt, r.first_line()));
                        }
                    }
                }
            }
            Purpose::Relay { host, entry } => self.relay_done(host, entry, conn, outcome),
            Purpose::Fetch { .. } | Purpose::External => {}
        }
    }

    fn relay_done(&mut self, host: HostId, entry: u32, conn: u32, outcome: ClientOutcome) {
        let server = self.conns[conn as usize].server;
        let server_name = self.name(server).to_string();
        let e = &mut self.hosts[host].queue[entry as usize];
        let message = e.message_ref;
        let mut failed = Vec::new();
        // Each recipient's own 4xx: a bounce at the give-up time reports each its own.
        let (mut deferred, mut unfinished) = (Vec::new(), None);
        for (rcpt, result) in outcome.results {
            match result {
                RcptOutcome::Accepted(_) => {
                    e.rcpts.retain(|r| r.key() != rcpt.key());
                }
                RcptOutcome::Failed(r) => {
                    e.rcpts.retain(|x| x.key() != rcpt.key());
                    // As Postfix words it: who said so.
                    failed.push(FailedRecipient {
                        recipient: rcpt,
                        status: r.enhanced_status().unwrap_or("5.0.0").to_string(),
                        diagnostic: format!("host {server_name} said: {}", r.first_line()),
                        remote: Some(Box::new(RemoteReply {
                            mta: server_name.clone(),
                            reply: r.first_line(),
                        })),
                    });
                }
                RcptOutcome::Deferred(r) => {
                    let reply = RemoteReply {
                        mta: server_name.clone(),
                        reply: r.first_line(),
                    };
                    deferred.push((rcpt, Box::new(reply)));
                }
                // The client's own words: the reason, but no server's reply to report.
                RcptOutcome::Unfinished(r) => {
                    unfinished = Some(format!("{server_name}: {}", r.first_line()));
                }
            }
        }
        e.attempt = None;
        if !failed.is_empty() {
            self.bounce(host, entry, failed);
        }
        let e = &self.hosts[host].queue[entry as usize];
        if e.rcpts.is_empty() {
            self.retire(host, entry);
        } else {
            let reason = match (deferred.last(), unfinished) {
                (Some((_, reply)), _) => reply.to_string(),
                (None, Some(why)) => why,
                (None, None) => "delivery did not complete".into(),
            };
            self.defer_with(host, entry, reason, deferred);
        }
        let _ = message;
    }

    // ----- taking mail in -------------------------------------------------------------------

    /// A server has taken a message: deliver what is local, queue the rest.
    /// `from` is `None` for a real client in live mode.
    fn take_in(
        &mut self,
        from: Option<HostId>,
        host: HostId,
        taken: Taken,
        message_ref: Option<u32>,
    ) {
        let Taken {
            session,
            mut envelope,
            mut message,
            queue_id: qid,
            dated_and_identified: [dated, identified],
        } = taken;
        // RFC 5321 section 4.5.1: `RCPT TO:<Postmaster>` without a domain is the postmaster of
        // this server's own domain (the wire reads it as postmaster@localhost).
        if let Some(own) = self.sc.hosts[host].domain {
            for r in &mut envelope.rcpt_to {
                if r.domain() == "localhost" && r.local().eq_ignore_ascii_case("postmaster") {
                    let name = &self.sc.domains[own].name;
                    *r = Address::parse(&crate::cat!("postmaster@", name))
                        .expect("a domain of the scenario makes an address");
                }
            }
        }
        let sc = self.sc;
        let h = &sc.hosts[host];
        let with = match (session.esmtp, session.authenticated.is_some()) {
            (_, true) => "ESMTPSA",
            (true, false) => "ESMTP",
            (false, false) => "SMTP",
        };
        let helo = session.helo.as_deref().unwrap_or("unknown");
        // "for <rcpt>" only when there is one recipient: more would disclose Bcc (section 7.2).
        let (for_open, for_rcpt, for_close): (&str, &dyn crate::text::Piece, &str) =
            match envelope.rcpt_to.as_slice() {
                [one] => ("\r\n\tfor <", one, ">"),
                _ => ("", &"", ""),
            };
        let date = self.dates.at(self.now);
        // RFC 5321 section 4.4: each server that takes the message stamps it on top.
        message.prepend_header_pieces(
            "Received",
            &[
                &"from ",
                &helo,
                &" (",
                &helo,
                &" [",
                &session.client_ip,
                &"])\r\n\tby ",
                &h.name,
                &" with ",
                &with,
                &" id ",
                &qid,
                &for_open,
                for_rcpt,
                &for_close,
                &";\r\n\t",
                &date,
            ],
        );
        if session.authenticated.is_some() {
            // RFC 6409 sections 8.2 and 8.3: a submission server may add what the program left out.
            if !dated {
                message.append_header("Date", &rfc5322_date(self.now));
            }
            if !identified {
                let id = format!("<{qid}.{}@{}>", self.now, h.name);
                message.append_header("Message-ID", &id);
                if let Some(m) = message_ref {
                    self.message_ids.rename(&mut self.trace.messages, m, id);
                }
            }
        }
        self.emit(
            EventKind::Relayed,
            None,
            from,
            Some(host),
            None,
            message_ref,
            self.now,
            crate::pieces!(
                h.name,
                " takes responsibility for the message from ",
                from.map_or("a real mail program", |f| self.name(f)),
                " (queue id ",
                qid,
                ")"
            ),
        );
        self.deliver_or_queue(
            host,
            envelope.mail_from,
            envelope.rcpt_to,
            message,
            message_ref,
            qid,
        );
    }

    fn deliver_or_queue(
        &mut self,
        host: HostId,
        mail_from: ReversePath,
        rcpts: Vec<Address>,
        message: Message,
        message_ref: Option<u32>,
        qid: String,
    ) {
        let mut remote: BTreeMap<String, Vec<Address>> = BTreeMap::new();
        let mut local_failed = Vec::new();
        for r in rcpts {
            if self.is_store_for(host, r.domain()) {
                match self.deliver_local(host, &mail_from, &r, &message, message_ref) {
                    Ok(()) => {}
                    Err(Some(f)) => local_failed.push(f),
                    Err(None) => remote.entry(r.domain().to_string()).or_default().push(r),
                }
            } else {
                remote.entry(r.domain().to_string()).or_default().push(r);
            }
        }
        let several = remote.len() > 1;
        let entries = remote.len();
        // The last holder of the message takes it; only the others need a copy.
        let mut message = Some(message);
        for (n, (domain, rcpts)) in remote.into_iter().enumerate() {
            let held = if n + 1 == entries && local_failed.is_empty() {
                message.take()
            } else {
                message.clone()
            }
            .expect("taken only by the last holder");
            let id = if several {
                format!("{qid}.{}", n + 1)
            } else {
                qid.clone()
            };
            let list = Address::list(&rcpts);
            // The note first, so that the entry can take the id and domain without copies.
            let text = crate::cat!(
                self.name(host),
                " queues ",
                id,
                " for ",
                list,
                " (",
                domain,
                ")"
            );
            let entry = self.hosts[host].queue.len() as u32;
            self.hosts[host].queue.push(QueueEntry {
                id,
                message_ref,
                mail_from: mail_from.clone(),
                rcpts,
                domain,
                message: held,
                arrival_ms: self.now,
                failures: 0,
                next_attempt_ms: self.now,
                reason: "waiting for its first delivery attempt".into(),
                attempt: None,
                done: false,
            });
            self.note(EventKind::Queued, Some(host), message_ref, text);
            self.schedule(self.now, Ev::QueueRun { host, entry });
        }
        if !local_failed.is_empty() {
            // Mail this server took but cannot deliver: it owes the sender a bounce.
            let entry = self.hosts[host].queue.len() as u32;
            self.hosts[host].queue.push(QueueEntry {
                id: qid,
                message_ref,
                mail_from,
                rcpts: Vec::new(),
                domain: String::new(),
                message: message.expect("kept for the bounce"),
                arrival_ms: self.now,
                failures: 0,
                next_attempt_ms: self.now,
                reason: String::new(),
                attempt: None,
                done: true,
            });
            self.bounce(host, entry, local_failed);
        }
    }

    fn is_store_for(&self, host: HostId, domain: &str) -> bool {
        self.index
            .domain(domain)
            .is_some_and(|d| self.sc.domains[d].store == Some(host))
    }

    /// Puts a message into a local mailbox. Err(None): try again later; Err(Some): bounce.
    fn deliver_local(
        &mut self,
        host: HostId,
        mail_from: &ReversePath,
        rcpt: &Address,
        message: &Message,
        message_ref: Option<u32>,
    ) -> Result<(), Option<FailedRecipient>> {
        let key = mailbox_for(self.sc, &self.hosts[host].store, rcpt);
        let store = &mut self.hosts[host].store;
        let Some(key) = key else {
            return Err(Some(FailedRecipient {
                recipient: rcpt.clone(),
                status: "5.1.1".into(),
                diagnostic: format!("there is no mailbox for {rcpt} here (user unknown)"),
                remote: None,
            }));
        };
        let mailbox = store.get_mut(&key).expect("the key came from the store");
        if mailbox.full {
            return Err(None);
        }
        // RFC 5321 section 4.4: final delivery records the reverse path.
        let copy = message.with_header_on_top("Return-Path", &[mail_from]);
        mailbox.inbox_mut().append(copy, self.now);
        let alias = if key.eq_ignore_ascii_case(rcpt.as_str()) {
            String::new()
        } else {
            crate::cat!(" (", rcpt, " is an alias of ", key, ")")
        };
        self.note(
            EventKind::Delivered,
            Some(host),
            message_ref,
            crate::pieces!(
                self.name(host),
                " puts the message into ",
                key,
                "'s INBOX",
                alias
            ),
        );
        Ok(())
    }

    // ----- the queue ------------------------------------------------------------------------

    fn on_queue_run(&mut self, host: HostId, entry: u32) {
        let e = &self.hosts[host].queue[entry as usize];
        if e.done || e.attempt.is_some() || e.next_attempt_ms > self.now {
            return;
        }
        if !self.up.get(host) {
            // A host that is down runs no queue; it tries again once it is back (see HostUp).
            return;
        }
        let domain = e.domain.clone();
        if self.is_store_for(host, &domain) {
            self.retry_local(host, entry);
            return;
        }
        self.hosts[host].queue[entry as usize].attempt = Some(Attempt::default());
        self.lookup(host, entry, &domain, RecordType::Mx);
    }

    /// A queued local delivery (a full mailbox) tried again.
    fn retry_local(&mut self, host: HostId, entry: u32) {
        let e = &mut self.hosts[host].queue[entry as usize];
        let rcpts = std::mem::take(&mut e.rcpts);
        let (mail_from, message, message_ref) =
            (e.mail_from.clone(), e.message.clone(), e.message_ref);
        let mut still = Vec::new();
        let mut failed = Vec::new();
        for r in rcpts {
            match self.deliver_local(host, &mail_from, &r, &message, message_ref) {
                Ok(()) => {}
                Err(None) => still.push(r),
                Err(Some(f)) => failed.push(f),
            }
        }
        let full = !still.is_empty();
        self.hosts[host].queue[entry as usize].rcpts = still;
        if !failed.is_empty() {
            self.bounce(host, entry, failed);
        }
        if full {
            self.defer(host, entry, "452 4.2.2 mailbox full".into());
        } else {
            self.retire(host, entry);
        }
    }

    /// An entry with nothing left to do leaves the queue and lets go of its copy of the message.
    fn retire(&mut self, host: HostId, entry: u32) {
        let e = &self.hosts[host].queue[entry as usize];
        let text = crate::cat!(
            self.name(host),
            " is done with ",
            e.id,
            ": it leaves the queue"
        );
        let message = e.message_ref;
        self.note(EventKind::Dequeued, Some(host), message, text);
        let e = &mut self.hosts[host].queue[entry as usize];
        e.done = true;
        e.attempt = None;
        e.rcpts = Vec::new();
        e.message = Message::from_crlf_text(String::new());
        // Only its place is kept (events in flight name entries by index): a million retired
        // entries held their texts to the end.
        e.id = String::new();
        e.domain = String::new();
        e.reason = String::new();
    }

    /// A delivery attempt failed for now, without a server's reply behind it.
    fn defer(&mut self, host: HostId, entry: u32, reason: String) {
        self.defer_with(host, entry, reason, Vec::new());
    }

    /// A delivery attempt failed for now; `replies` are the remote server's 4xx replies, by
    /// recipient, where one said so. At the give-up time the entry bounces, each recipient with
    /// its own last reply as Remote-MTA and Diagnostic-Code (RFC 3464 sections 2.3.5 and 2.3.6)
    /// when the last attempt ended with one.
    fn defer_with(
        &mut self,
        host: HostId,
        entry: u32,
        reason: String,
        replies: Vec<(Address, Box<RemoteReply>)>,
    ) {
        let give_up = self.sc.retry.give_up_ms;
        let e = &mut self.hosts[host].queue[entry as usize];
        e.attempt = None;
        e.failures += 1;
        e.reason = reason.clone();
        let waited = self.now - e.arrival_ms;
        if waited >= give_up {
            // RFC 5321 section 4.5.4.1: give up, and tell the sender (status 4.4.7).
            let failed = e
                .rcpts
                .drain(..)
                .map(|r| {
                    let own = replies.iter().find(|(a, _)| a.key() == r.key());
                    let last = own.map_or_else(|| reason.clone(), |(_, reply)| reply.to_string());
                    FailedRecipient {
                        recipient: r,
                        status: "4.4.7".into(),
                        diagnostic: format!(
                            "delivery time expired after {} attempts; last error: {last}",
                            e.failures
                        ),
                        remote: own.map(|(_, reply)| reply.clone()),
                    }
                })
                .collect();
            self.bounce(host, entry, failed);
            self.retire(host, entry);
            return;
        }
        let wait = self.sc.retry.wait_after(e.failures);
        let next = (self.now + wait).min(e.arrival_ms + give_up);
        e.next_attempt_ms = next;
        let (id, message) = (e.id.clone(), e.message_ref);
        let text = format!(
            "{} keeps {id} in its queue: {reason}; next attempt at {}",
            self.name(host),
            crate::sim::format_time(next)
        );
        self.note(EventKind::Deferred, Some(host), message, text);
        self.schedule(next, Ev::QueueRun { host, entry });
    }

    /// Sends a DSN for these recipients to the entry's envelope sender.
    fn bounce(&mut self, host: HostId, entry: u32, failed: Vec<FailedRecipient>) {
        let e = &self.hosts[host].queue[entry as usize];
        let message_ref = e.message_ref;
        for f in &failed {
            self.state.bounced.push(BouncedMail {
                message: message_ref,
                recipient: f.recipient.clone(),
                status: f.status.clone(),
                reporter: host,
            });
        }
        let ReversePath::Address(sender) = e.mail_from.clone() else {
            // RFC 5321 section 6.1: never answer a bounce with a bounce.
            let text = format!(
                "{} cannot deliver a bounce and drops it: its sender is <>, so no notice is sent back",
                self.name(host)
            );
            if let Some(m) = message_ref {
                self.state.discarded.push(m);
            }
            self.note(EventKind::Discarded, Some(host), message_ref, text);
            return;
        };
        let (original, arrival) = (e.message.clone(), e.arrival_ms);
        self.next_queue_id += 1;
        let bounce_id = format!(
            "<bounce.{}.{}@{}>",
            self.next_queue_id,
            self.now,
            self.name(host)
        );
        let dsn = build_bounce(
            self.name(host),
            &original,
            &sender,
            &failed,
            arrival,
            self.now,
            &bounce_id,
        );
        let name = match message_ref {
            Some(m) => format!("bounce of {}", self.trace.messages[m as usize].name),
            None => "bounce".to_string(),
        };
        let idx = self.trace.messages.len() as u32;
        self.trace.messages.push(TracedMessage {
            name,
            message_id: bounce_id,
        });
        let list = failed
            .iter()
            .map(|f| format!("{} ({})", f.recipient, f.status))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "{} writes a bounce (a delivery status notification) to {sender}: could not deliver to {list}",
            self.name(host)
        );
        self.note(EventKind::Bounced, Some(host), Some(idx), text);
        let qid = self.new_queue_id();
        self.deliver_or_queue(host, ReversePath::Null, vec![sender], dsn, Some(idx), qid);
    }

    fn new_queue_id(&mut self) -> String {
        self.next_queue_id += 1;
        format!(
            "{:06X}",
            self.next_queue_id.wrapping_mul(2_654_435_761) & 0xFF_FFFF
        )
    }

    // ----- DNS ------------------------------------------------------------------------------

    fn lookup(&mut self, host: HostId, entry: u32, name: &str, qtype: RecordType) {
        if let Some(answer) = self.hosts[host].cache.lookup(name, qtype, self.now) {
            // The question, then the records one a line (or the negative answer), in one string.
            let mut text = crate::cat!(qtype, " ", name, "?");
            match &answer {
                CachedAnswer::Records(rs) => {
                    for r in rs {
                        text.push('\n');
                        crate::text::Piece::push_to(r, &mut text);
                    }
                }
                CachedAnswer::NxDomain => {
                    let _ = write!(text, "\n{name}: NXDOMAIN (cached)");
                }
                CachedAnswer::NoData => {
                    let _ = write!(text, "\n{name}: no {qtype} records (cached)");
                }
            }
            let message = self.hosts[host].queue[entry as usize].message_ref;
            self.emit(
                EventKind::DnsCacheHit,
                Some(Protocol::Dns),
                Some(host),
                None,
                None,
                message,
                self.now,
                text,
            );
            let result = match answer {
                CachedAnswer::Records(rs) => {
                    DnsResult::Records(rs.into_iter().map(|r| r.data).collect())
                }
                CachedAnswer::NxDomain => DnsResult::NxDomain,
                CachedAnswer::NoData => DnsResult::NoData,
            };
            self.on_dns_result(host, entry, name, qtype, result);
            return;
        }
        let server = self
            .index
            .enclosing_domain(name)
            .map(|d| self.domains[d].ns)
            .or(self.index.root_dns);
        let Some(server) = server else {
            self.on_dns_result(
                host,
                entry,
                name,
                qtype,
                DnsResult::Failed("no DNS server".into()),
            );
            return;
        };
        let q = self.queries.len() as u32;
        let id = (self.rng.random::<u16>()).max(1);
        let name = self.query_name(name);
        self.queries.push(DnsQuery {
            host,
            server,
            entry,
            name,
            qtype,
            id,
            answered: false,
        });
        self.send_query(q, 1);
    }

    /// The shared copy of a name asked for: a query's name costs an allocation only the first
    /// time anyone asks for it.
    fn query_name(&mut self, name: &str) -> Name {
        if let Some(known) = self.query_names.get(name) {
            return Arc::clone(known);
        }
        let new: Name = name.into();
        self.query_names.insert(Arc::clone(&new));
        new
    }

    fn send_query(&mut self, q: u32, attempt: u8) {
        let query = &self.queries[q as usize];
        let (host, server, id) = (query.host, query.server, query.id);
        let bytes = DnsMessage::query_bytes(id, &query.name, query.qtype);
        let message = self.hosts[host].queue[query.entry as usize].message_ref;
        self.send_datagram(EventKind::DnsQuery, host, server, q, message, bytes);
        self.schedule(
            self.now + DNS_TIMEOUT_MS,
            Ev::DnsTimeout { query: q, attempt },
        );
    }

    /// Sends a DNS datagram: traced, and delivered unless the path is down or the packet is lost
    /// (UDP does not resend; the resolver's timeout deals with it).
    fn send_datagram(
        &mut self,
        kind: EventKind,
        from: HostId,
        to: HostId,
        q: u32,
        message: Option<u32>,
        bytes: Vec<u8>,
    ) {
        let delay = if self.reachable(from, to) {
            self.delay(from, to, false)
        } else {
            None
        };
        let arrive = self.now + delay.unwrap_or(DNS_TIMEOUT_MS);
        self.emit(
            kind,
            Some(Protocol::Dns),
            Some(from),
            Some(to),
            Some(q),
            message,
            arrive,
            DnsBytes(bytes),
        );
        if let Some(d) = delay {
            let to_server = kind == EventKind::DnsQuery;
            let at = self.trace.last_payload().expect("the query just traced");
            self.schedule(
                self.now + d,
                Ev::DnsArrive {
                    query: q,
                    to_server,
                    at,
                },
            );
        }
    }

    /// What authoritative server `server` answers to a query: from the answers it gave
    /// before when the same question came (only the ID differs), else from its zones.
    fn authoritative_answer(&mut self, server: HostId, query: &[u8]) -> Option<Vec<u8>> {
        let (Some(id), Some(rest)) = (query.get(..2), query.get(2..)) else {
            return None;
        };
        let given = self.answered.entry(server).or_default();
        if let Some(answer) = given.get(rest) {
            let mut answer = answer.clone();
            answer[..2].copy_from_slice(id);
            return Some(answer);
        }
        let answer = self.authorities.get(&server)?.answer_bytes(query)?;
        // Live mode runs for as long as it is left on, and real clients can name any domain:
        // the answers kept stay few.
        if given.len() >= ANSWERS_KEPT {
            given.clear();
        }
        given.insert(rest.to_vec(), answer.clone());
        Some(answer)
    }

    fn on_dns_arrive(&mut self, q: u32, to_server: bool, bytes: &[u8]) {
        let query = &self.queries[q as usize];
        let (host, server, entry) = (query.host, query.server, query.entry);
        if to_server {
            if !self.up.get(server) {
                return;
            }
            let Some(answer) = self.authoritative_answer(server, bytes) else {
                return;
            };
            let message = self.hosts[host].queue[entry as usize].message_ref;
            self.send_datagram(EventKind::DnsAnswer, server, host, q, message, answer);
            return;
        }
        if self.queries[q as usize].answered || !self.up.get(host) {
            return;
        }
        let (Some(&[hi, lo]), Some(rest)) = (bytes.get(..2), bytes.get(2..)) else {
            return;
        };
        if u16::from_be_bytes([hi, lo]) != self.queries[q as usize].id {
            return;
        }
        if !self.decoded_answers.contains_key(rest) {
            let Ok(answer) = DnsMessage::decode(bytes) else {
                return;
            };
            let lessons = Lessons::of(&answer);
            if self.decoded_answers.len() >= ANSWERS_KEPT {
                self.decoded_answers.clear();
            }
            self.decoded_answers
                .insert(rest.to_vec(), (answer, lessons));
        }
        let (answer, lessons) = &self.decoded_answers[rest];
        self.queries[q as usize].answered = true;
        let (name, qtype) = (
            self.queries[q as usize].name.clone(),
            self.queries[q as usize].qtype,
        );
        if let Some(lessons) = lessons {
            self.hosts[host].cache.learn(lessons, self.now);
        }
        let result = match answer.rcode {
            Rcode::NxDomain => DnsResult::NxDomain,
            Rcode::NoError => {
                let data: Vec<RData> = answer
                    .answers
                    .iter()
                    .filter(|r| r.data.rtype() == qtype)
                    .map(|r| r.data.clone())
                    .collect();
                if data.is_empty() {
                    DnsResult::NoData
                } else {
                    DnsResult::Records(data)
                }
            }
            other => DnsResult::Failed(format!("the DNS server answered {other:?}")),
        };
        self.on_dns_result(host, entry, &name, qtype, result);
    }

    fn on_dns_timeout(&mut self, q: u32, attempt: u8) {
        let query = &self.queries[q as usize];
        if query.answered {
            return;
        }
        let (host, server, entry, name, qtype) = (
            query.host,
            query.server,
            query.entry,
            query.name.clone(),
            query.qtype,
        );
        let message = self.hosts[host].queue[entry as usize].message_ref;
        let text = format!(
            "no answer from {} about {qtype} {name} after {} s",
            self.name(server),
            DNS_TIMEOUT_MS / 1000
        );
        self.note(EventKind::DnsTimeout, Some(host), message, text);
        if attempt < DNS_TRIES && self.up.get(host) {
            self.send_query(q, attempt + 1);
        } else {
            self.queries[q as usize].answered = true;
            self.on_dns_result(
                host,
                entry,
                &name,
                qtype,
                DnsResult::Failed(format!("DNS lookup of {qtype} {name} timed out")),
            );
        }
    }

    fn on_dns_result(
        &mut self,
        host: HostId,
        entry: u32,
        name: &str,
        qtype: RecordType,
        result: DnsResult,
    ) {
        if self.hosts[host].queue[entry as usize].attempt.is_none() {
            return;
        }
        let message = self.hosts[host].queue[entry as usize].message_ref;
        match qtype {
            RecordType::Mx => {
                // The domain is named only in the notes about MX answers.
                let domain = self.hosts[host].queue[entry as usize].domain.clone();
                match result {
                    DnsResult::Records(data) => {
                        let records: Vec<(u16, Name)> = data
                            .iter()
                            .filter_map(|d| match d {
                                RData::Mx {
                                    preference,
                                    exchange,
                                } => Some((*preference, exchange.clone())),
                                _ => None,
                            })
                            .collect();
                        let own = self.name(host);
                        match plan_exchangers(&records, &[own], &mut self.rng) {
                            MxPlan::NullMx => {
                                self.note(EventKind::MxChoice, Some(host), message, format!("{domain} publishes a null MX (MX 0 .): it accepts no mail at all (RFC 7505)"));
                                self.fail_entry(host, entry, "5.1.10", format!("{domain} does not accept mail: it publishes a null MX (RFC 7505), so no server was asked"));
                            }
                            MxPlan::LoopsBackToMe => {
                                self.note(EventKind::MxChoice, Some(host), message, format!("{} is itself the best MX for {domain} but does not keep its mail: the mail would loop", self.name(host)));
                                self.fail_entry(
                                    host,
                                    entry,
                                    "5.4.6",
                                    format!("mail for {domain} loops back to this server: it is the best MX for the domain but keeps no mailboxes for it"),
                                );
                            }
                            MxPlan::Exchangers(list) => {
                                let mut text = crate::cat!(self.name(host), " will try ");
                                for (i, (p, n)) in list.iter().enumerate() {
                                    let then = if i == 0 { "" } else { ", then " };
                                    text.push_str(then);
                                    text.push_str(n);
                                    text.push_str(" (preference ");
                                    crate::text::push_decimal(&mut text, u64::from(*p), 1);
                                    text.push(')');
                                }
                                self.note(EventKind::MxChoice, Some(host), message, text);
                                if let Some(a) =
                                    self.hosts[host].queue[entry as usize].attempt.as_mut()
                                {
                                    a.exchangers = list.into_iter().map(|(_, n)| n).collect();
                                }
                                self.next_exchanger(host, entry);
                            }
                        }
                    }
                    DnsResult::NoData => {
                        // RFC 5321 section 5.1: no MX records, so the domain itself is the exchanger.
                        self.note(EventKind::MxChoice, Some(host), message, format!("{domain} has no MX records: {} falls back to the A record of {domain} itself (implicit MX)", self.name(host)));
                        if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                            a.exchangers = vec![Name::from(domain.as_str())];
                        }
                        self.next_exchanger(host, entry);
                    }
                    DnsResult::NxDomain => {
                        self.note(
                            EventKind::MxChoice,
                            Some(host),
                            message,
                            format!(
                                "{domain} does not exist (NXDOMAIN): the mail cannot be delivered"
                            ),
                        );
                        self.fail_entry(host, entry, "5.1.2", format!("the domain {domain} does not exist: DNS answered NXDOMAIN when asked for its MX records"));
                    }
                    DnsResult::Failed(why) => self.defer(host, entry, format!("4.4.3 {why}")),
                }
            }
            _ => match result {
                DnsResult::Records(data) => {
                    let ip = data.iter().find_map(|d| match d {
                        RData::A(ip) => Some(*ip),
                        _ => None,
                    });
                    match ip {
                        Some(ip) => self.connect_relay(host, entry, name, ip),
                        None => self.next_exchanger(host, entry),
                    }
                }
                DnsResult::NoData | DnsResult::NxDomain => {
                    if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                        a.last_error = Some(format!("{name} has no A record"));
                    }
                    self.next_exchanger(host, entry);
                }
                DnsResult::Failed(why) => {
                    if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                        a.last_error = Some(why);
                    }
                    self.next_exchanger(host, entry);
                }
            },
        }
    }

    fn next_exchanger(&mut self, host: HostId, entry: u32) {
        let Some(attempt) = self.hosts[host].queue[entry as usize].attempt.as_mut() else {
            return;
        };
        if attempt.exchangers.is_empty() {
            let reason = attempt
                .last_error
                .clone()
                .unwrap_or_else(|| "no exchanger could be reached".into());
            self.defer(host, entry, reason);
            return;
        }
        let next = attempt.exchangers.remove(0);
        attempt.current = Some(next.clone());
        self.lookup(host, entry, &next, RecordType::A);
    }

    fn connect_relay(&mut self, host: HostId, entry: u32, exchanger: &str, ip: Ipv4Addr) {
        let e = &self.hosts[host].queue[entry as usize];
        let job = ClientJob {
            ehlo_name: self.name(host).to_string(),
            auth: None,
            mail_from: e.mail_from.clone(),
            rcpt_to: e.rcpts.clone(),
            message: e.message.clone(),
        };
        let message = e.message_ref;
        match self.index.host_by_ip.get(&ip).copied() {
            Some(server) if server != host => {
                self.open_conn(
                    host,
                    server,
                    Protocol::Smtp,
                    ClientEngine::Smtp(SmtpClient::new(job)),
                    Purpose::Relay { host, entry },
                    message,
                );
            }
            Some(_) => {
                if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                    a.last_error = Some(format!("{exchanger} ({ip}) is this host itself"));
                }
                self.next_exchanger(host, entry);
            }
            None => {
                // Nobody has that address: the connection attempt goes unanswered.
                let text = format!(
                    "{} tries {exchanger} at {ip}, but no host has that address",
                    self.name(host)
                );
                self.note(EventKind::ConnectFailed, Some(host), message, text);
                if let Some(a) = self.hosts[host].queue[entry as usize].attempt.as_mut() {
                    a.last_error = Some(format!("connection to {exchanger} [{ip}] timed out"));
                }
                self.next_exchanger(host, entry);
            }
        }
    }

    fn fail_entry(&mut self, host: HostId, entry: u32, status: &str, diagnostic: String) {
        let e = &mut self.hosts[host].queue[entry as usize];
        let failed = e
            .rcpts
            .drain(..)
            .map(|r| FailedRecipient {
                recipient: r,
                status: status.to_string(),
                diagnostic: diagnostic.clone(),
                remote: None,
            })
            .collect();
        self.bounce(host, entry, failed);
        self.retire(host, entry);
    }

    // ----- faults ---------------------------------------------------------------------------

    fn on_fault(&mut self, i: usize) {
        let fault = &self.sc.faults[i];
        match &fault.kind {
            FaultKind::HostDown(h) => {
                let h = *h;
                self.up.set(h, false);
                self.note(
                    EventKind::HostDown,
                    Some(h),
                    None,
                    format!("{} goes down", self.name(h)),
                );
                self.break_connections(|c| c.client == h || c.server == h);
            }
            FaultKind::HostUp(h) => {
                let h = *h;
                self.up.set(h, true);
                self.note(
                    EventKind::HostUp,
                    Some(h),
                    None,
                    format!("{} is back up", self.name(h)),
                );
                // Its queue resumes: anything overdue gets an attempt now.
                for (entry, e) in self.hosts[h].queue.iter().enumerate() {
                    if !e.done && e.attempt.is_none() && e.next_attempt_ms <= self.now {
                        self.events.push(
                            self.now,
                            Ev::QueueRun {
                                host: h,
                                entry: entry as u32,
                            },
                        );
                    }
                }
            }
            FaultKind::LinkDown(a, b) => {
                let (a, b) = (*a, *b);
                self.links_down.push((a, b));
                let text = format!(
                    "the link between {} and {} is cut",
                    self.name(a),
                    self.name(b)
                );
                let now = self.now;
                self.emit(
                    EventKind::LinkDown,
                    None,
                    Some(a),
                    Some(b),
                    None,
                    None,
                    now,
                    text,
                );
                self.break_connections(|c| {
                    (c.client == a && c.server == b) || (c.client == b && c.server == a)
                });
            }
            FaultKind::LinkUp(a, b) => {
                let (a, b) = (*a, *b);
                self.links_down
                    .retain(|&(x, y)| !((x == a && y == b) || (x == b && y == a)));
                let text = format!(
                    "the link between {} and {} works again",
                    self.name(a),
                    self.name(b)
                );
                let now = self.now;
                self.emit(
                    EventKind::LinkUp,
                    None,
                    Some(a),
                    Some(b),
                    None,
                    None,
                    now,
                    text,
                );
            }
            FaultKind::DnsChange {
                domain,
                name,
                record,
            } => {
                let d = &mut self.domains[*domain];
                let text = match record {
                    RecordChange::A(ip) => {
                        d.cname.remove(name);
                        d.a.insert(name.clone(), *ip);
                        format!("{name} now has the A record {ip}")
                    }
                    RecordChange::Mx(list) => {
                        d.mx = list.clone();
                        d.null_mx = false;
                        let records: Vec<String> = list
                            .iter()
                            .map(|(preference, exchange)| {
                                format!("{exchange} (preference {preference})")
                            })
                            .collect();
                        format!("{name} now has the MX records {}", records.join(", "))
                    }
                    RecordChange::Cname(t) => {
                        d.a.remove(name);
                        d.cname.insert(name.clone(), t.clone());
                        format!("{name} is now an alias (CNAME) of {t}")
                    }
                    RecordChange::Remove => {
                        d.a.remove(name);
                        d.cname.remove(name);
                        if *name == d.name {
                            d.mx.clear();
                            d.null_mx = false;
                        }
                        format!("the records of {name} are removed")
                    }
                };
                let ns = d.ns;
                self.authorities = dns_setup::authorities(self.sc, &self.domains);
                self.answered.clear();
                self.note(
                    EventKind::DnsChanged,
                    Some(ns),
                    None,
                    format!("{text} (caches keep the old answer until its TTL runs out)"),
                );
            }
            FaultKind::Greylist(h, delay) => {
                let h = *h;
                self.hosts[h].greylist_ms = *delay;
                let text = match delay {
                    Some(d) => format!(
                        "{} starts greylisting: a new sender waits {} before it is accepted",
                        self.name(h),
                        crate::scenario::Millis(*d)
                    ),
                    None => format!("{} stops greylisting", self.name(h)),
                };
                self.note(EventKind::Note, Some(h), None, text);
            }
            FaultKind::MailboxFull(u) | FaultKind::MailboxFreed(u) => {
                let full = matches!(fault.kind, FaultKind::MailboxFull(_));
                let user = &self.sc.users[*u];
                if let Some(store) = self.sc.domains[user.domain].store {
                    if let Some(mb) = self.hosts[store].store.get_mut(&user.address.key()) {
                        mb.full = full;
                    }
                    let (kind, what) = if full {
                        (EventKind::MailboxFull, "is full")
                    } else {
                        (EventKind::MailboxFreed, "has room again")
                    };
                    self.note(
                        kind,
                        Some(store),
                        None,
                        format!("{}'s mailbox {what}", user.address),
                    );
                }
            }
        }
    }

    fn break_connections(&mut self, affected: impl Fn(&Conn) -> bool) {
        let ids: Vec<u32> = (0..self.conns.len() as u32)
            .filter(|&i| {
                let c = &self.conns[i as usize];
                c.state != ConnState::Closed && affected(c)
            })
            .collect();
        for id in ids {
            self.drop_server_engine(id);
            let c = &mut self.conns[id as usize];
            if c.state == ConnState::Connecting {
                // The request is still travelling; it finds the host unreachable on arrival.
                continue;
            }
            c.state = ConnState::Closed;
            let (client, server, protocol, message) = (c.client, c.server, c.protocol, c.message);
            let now = self.now;
            self.emit(
                EventKind::ConnectionLost,
                Some(protocol),
                Some(client),
                Some(server),
                Some(id),
                message,
                now,
                format!(
                    "the connection between {} and {} breaks",
                    self.name(client),
                    self.name(server)
                ),
            );
            self.schedule(now + BROKEN_CONNECTION_NOTICE_MS, Ev::ConnLost(id));
        }
    }
}

/// What a DNS lookup came to.
enum DnsResult {
    Records(Vec<RData>),
    NxDomain,
    NoData,
    Failed(String),
}

/// The host's side of SMTP: who its users are, which domains it takes mail for.
/// Whether a host takes mail for a domain without authentication: it keeps the domain's
/// mailboxes or is one of its MX (RFC 5321 section 3.6.2: anything else would be relaying).
/// The mailbox that mail for `rcpt` goes into at a store: its own, or for `postmaster@domain`
/// without a mailbox of that name, the first user's of the domain. RFC 5321 section 4.5.1: a
/// server that delivers mail MUST take mail for postmaster; real ones alias it to a person.
fn mailbox_for(sc: &Scenario, store: &MailStore, rcpt: &Address) -> Option<String> {
    let wanted = rcpt.key();
    if store.get(&wanted).is_some() {
        return Some(wanted);
    }
    if !rcpt.local().eq_ignore_ascii_case("postmaster") {
        return None;
    }
    sc.users
        .iter()
        .find(|u| u.address.domain() == rcpt.domain() && store.get(&u.address.key()).is_some())
        .map(|u| u.address.key())
}

fn local_domain(sc: &Scenario, index: &Index, host: HostId, domain: &str) -> bool {
    if domain == "localhost" {
        return true;
    }
    let h = &sc.hosts[host];
    index.domain(domain).is_some_and(|d| {
        let dom = &sc.domains[d];
        // An MX of its own domain takes that domain's mail even when DNS does not list it (yet):
        // a lesson may move the MX records to it with a DnsChange fault.
        dom.store == Some(host)
            || dom.mx.iter().any(|(_, n)| *n == h.name)
            || (h.domain == Some(d) && h.has(Role::Mx))
    })
}

struct HostPolicy<'a> {
    sc: &'a Scenario,
    index: &'a Index,
    host: HostId,
    port: Protocol,
    state: &'a mut HostState,
    next_queue_id: &'a mut u32,
    accepted: Vec<Taken>,
}

/// A message a server engine accepted, for the world to deliver or queue.
struct Taken {
    session: SessionInfo,
    envelope: Envelope,
    message: Message,
    queue_id: String,
    /// Whether the message came with a Date and a Message-ID, read in the same pass over its
    /// header block as its Received stamps.
    dated_and_identified: [bool; 2],
}

impl HostPolicy<'_> {
    fn is_store_for(&self, domain: &str) -> bool {
        self.index
            .domain(domain)
            .is_some_and(|d| self.sc.domains[d].store == Some(self.host))
    }
}

impl SmtpPolicy for HostPolicy<'_> {
    fn authenticate(&mut self, login: &str, password: &str) -> bool {
        // The submission server knows the accounts of its own domain, by whole address or by
        // local part (real programs log in both ways).
        let Some(domain) = self.sc.hosts[self.host].domain else {
            return false;
        };
        let login = login.to_ascii_lowercase();
        let key = if login.contains('@') {
            login
        } else {
            format!("{login}@{}", self.sc.domains[domain].name)
        };
        self.index.user.get(&key).is_some_and(|&u| {
            let user = &self.sc.users[u];
            user.domain == domain && user.password == password
        })
    }

    fn is_local_domain(&self, domain: &str) -> bool {
        local_domain(self.sc, self.index, self.host, domain)
    }

    fn check_recipient(
        &mut self,
        session: &SessionInfo,
        from: &ReversePath,
        rcpt: &Address,
        now_ms: u64,
    ) -> RcptDecision {
        if self.is_store_for(rcpt.domain()) {
            let Some(mb) = mailbox_for(self.sc, &self.state.store, rcpt)
                .and_then(|key| self.state.store.get(&key))
            else {
                return RcptDecision::Reject(Reply::new(
                    ReplyCode::MAILBOX_UNAVAILABLE,
                    format!(
                        "5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table"
                    ),
                ));
            };
            if mb.full {
                return RcptDecision::Reject(Reply::new(
                    ReplyCode::INSUFFICIENT_STORAGE,
                    format!("4.2.2 <{rcpt}>: Mailbox full"),
                ));
            }
        }
        if let (Some(delay), Protocol::Smtp) = (self.state.greylist_ms, self.port) {
            let key = (session.client_ip.clone(), from.to_string(), rcpt.key());
            let first = *self.state.greylist.entry(key).or_insert(now_ms);
            if now_ms < first + delay {
                return RcptDecision::Reject(Reply::new(
                    ReplyCode::LOCAL_ERROR,
                    format!(
                        "4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, please try again in {} s",
                        (first + delay - now_ms).div_ceil(1000)
                    ),
                ));
            }
        }
        RcptDecision::Accept
    }

    fn verify(&mut self, name: &str) -> Reply {
        // RFC 5321 section 3.5.3: a server that will not verify answers 252.
        let hit = self
            .state
            .store
            .login_key(name.trim_matches(|c| c == '<' || c == '>'));
        match hit {
            Some(key) => Reply::new(ReplyCode::OK, format!("2.0.0 <{key}>")),
            None => Reply::new(
                ReplyCode::CANNOT_VERIFY,
                "2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            ),
        }
    }

    fn accept_message(
        &mut self,
        session: &SessionInfo,
        envelope: Envelope,
        message: Message,
        _now_ms: u64,
    ) -> Result<Accepted, Reply> {
        let (stamps, dated_and_identified) = message.received_and_present(["Date", "Message-ID"]);
        if stamps >= MAX_RECEIVED {
            return Err(Reply::new(
                ReplyCode::TRANSACTION_FAILED,
                "5.4.6 Too many hops: the message is looping",
            ));
        }
        *self.next_queue_id += 1;
        // Six hex digits, scrambled so that consecutive ids look like a real MTA's.
        let n = self.next_queue_id.wrapping_mul(2_654_435_761) & 0xFF_FFFF;
        let mut queue_id = String::with_capacity(6);
        for i in (0..6).rev() {
            queue_id.push(char::from(
                b"0123456789ABCDEF"[(n >> (4 * i)) as usize & 0xF],
            ));
        }
        self.accepted.push(Taken {
            session: session.clone(),
            envelope,
            message,
            queue_id: queue_id.clone(),
            dated_and_identified,
        });
        Ok(Accepted { queue_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_has_its_own_up_bit() {
        let mut up = UpHosts::all(130);
        assert!((0..130).all(|h| up.get(h)), "every host starts up");
        for h in [0, 63, 64, 129] {
            up.set(h, false);
        }
        let down: Vec<HostId> = (0..130).filter(|&h| !up.get(h)).collect();
        assert_eq!(down, [0, 63, 64, 129]);
        up.set(64, true);
        up.set(64, true);
        assert!(up.get(64) && !up.get(63) && up.get(65));
    }

    #[test]
    fn message_ids_are_indexed_when_asked_and_follow_an_added_id() {
        let traced = |name: &str, id: &str| TracedMessage {
            name: name.into(),
            message_id: id.into(),
        };
        let mut messages = vec![traced("m1", "<a@x>"), traced("live 2", "")];
        let mut ids = MessageIds::default();
        assert_eq!(ids.find(&messages, "<a@x>"), Some(0));
        assert_eq!(
            ids.find(&messages, ""),
            None,
            "an empty ID names no message"
        );
        // Sent after the last lookup: found all the same.
        messages.push(traced("m3", "<c@x>"));
        assert_eq!(ids.find(&messages, "<c@x>"), Some(2));
        // Message 2 had no ID, and its submission server gave it one.
        ids.rename(&mut messages, 1, "<b@x>".into());
        assert_eq!(messages[1].message_id, "<b@x>");
        assert_eq!(ids.find(&messages, "<b@x>"), Some(1));
        // The same for a message sent since the last lookup.
        messages.push(traced("live 4", ""));
        ids.rename(&mut messages, 3, "<d@x>".into());
        assert_eq!(ids.find(&messages, "<d@x>"), Some(3));
        // Two messages with one ID (a real client may send anything): the later one.
        messages.push(traced("live 5", "<a@x>"));
        assert_eq!(ids.find(&messages, "<a@x>"), Some(4));
    }

    #[test]
    fn kept_answers_are_the_authoritys_own_with_the_new_id_and_stay_few() {
        let sc = crate::scenario::lesson_one();
        let mut world = World::new(&sc);
        let ns = sc
            .hosts
            .iter()
            .position(|h| h.has(Role::Dns))
            .expect("lesson 1 has a DNS server");
        let authority = world.authorities[&ns].clone();
        let ask = |world: &mut World, id: u16, name: &str| {
            let query = DnsMessage::query(id, name, RecordType::Mx).encode();
            let answer = world.authoritative_answer(ns, &query);
            (answer, authority.answer_bytes(&query))
        };
        // Asked again with another ID: the kept answer, with that ID, is what the zones give.
        for id in [7, 8, 9] {
            let (kept, fresh) = ask(&mut world, id, "beta.example");
            assert_eq!(kept, fresh);
            assert_eq!(kept.expect("an answer")[..2], id.to_be_bytes());
        }
        // A flood of different questions (live mode's clients may ask anything): few are kept.
        for n in 0..ANSWERS_KEPT + 100 {
            let (kept, fresh) = ask(&mut world, 1, &format!("host{n}.beta.example"));
            assert_eq!(kept, fresh);
        }
        assert!(world.answered[&ns].len() <= ANSWERS_KEPT);
    }
}
