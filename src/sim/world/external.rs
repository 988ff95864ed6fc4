//! Live mode's door into the world: sessions with real mail programs, driven line by line from
//! outside. The server engines and host policies are the simulation's own, so a message that
//! `smtplib` submits travels on through the simulated DNS, relays and queues.
//!
//! A real program connects to one port per protocol, so each session starts at a default
//! server and moves to the one its account belongs to: the submission server of the login's
//! domain after AUTH, the MX of the first recipient's domain on port 25, the mailbox store of
//! the login's domain for POP3 and IMAP.

use std::cell::Cell;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;

/// What live mode keeps across a restart (`--state DIR`): the clock, every mailbox, and every
/// message still in a queue, so that nothing accepted is lost.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub now_ms: u64,
    /// Each store by its host's name.
    pub stores: BTreeMap<String, MailStore>,
    pub queue: Vec<SavedEntry>,
}

/// A queue entry as saved: names instead of ids, so that it survives an edit of the file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedEntry {
    pub host: String,
    pub id: String,
    /// The reverse path without brackets; empty for `<>`.
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub domain: String,
    pub message: Message,
    pub arrival_ms: u64,
    pub failures: u32,
    pub reason: String,
}

/// Which of the scenario's services a live port fronts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// Submission with AUTH (RFC 6409): Alice's mail program handing over a message.
    Submission,
    /// SMTP between servers (port 25): the real program plays a foreign MTA.
    Smtp,
    Pop3,
    Imap,
}

impl Front {
    pub const ALL: [Front; 4] = [Front::Submission, Front::Smtp, Front::Pop3, Front::Imap];

    pub fn protocol(self) -> Protocol {
        match self {
            Front::Submission => Protocol::Submission,
            Front::Smtp => Protocol::Smtp,
            Front::Pop3 => Protocol::Pop3,
            Front::Imap => Protocol::Imap,
        }
    }

    fn role(self) -> Role {
        match self {
            Front::Submission => Role::Submission,
            Front::Smtp => Role::Mx,
            Front::Pop3 => Role::Pop3,
            Front::Imap => Role::Imap,
        }
    }
}

/// One session with a real client.
pub(super) struct External {
    front: Front,
    /// The trace's connection id.
    conn: u32,
    /// The simulated server it speaks for now.
    host: HostId,
    /// SMTP: set once the login (submission) or the first recipient (port 25) chose the
    /// server. POP3 and IMAP go by the engine's login instead.
    bound: bool,
    engine: ServerEngine,
    /// IMAP `AUTHENTICATE PLAIN` without an initial response: the next line carries the login.
    auth_pending: bool,
}

impl World<'_> {
    /// The virtual time now.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// When the next scheduled event is due, if any (scenario actions and faults included).
    pub fn next_due(&self) -> Option<u64> {
        let queued = self.events.peek_time();
        let fault = self.sc.faults.get(self.next_fault).map(|f| f.at_ms);
        let action = self.sc.script.get(self.next_action).map(|a| a.at_ms);
        [queued, fault, action].into_iter().flatten().min()
    }

    /// Runs everything due up to `t` and sets the clock to `t`: virtual time follows the wall
    /// clock in live mode.
    pub fn advance_to(&mut self, t: u64) {
        self.run_to(t);
        self.now = self.now.max(t.min(self.sc.run_until_ms));
    }

    /// Forgets the oldest events of the trace, keeping the last `keep` of the first `upto`
    /// (the ones already printed), and never one whose text is still on its way. A server that
    /// runs for days keeps its memory flat so. Returns how many events were forgotten.
    pub fn forget_trace(&mut self, upto: usize, keep: usize) -> usize {
        let upto = upto.min(self.trace.events.len()).saturating_sub(keep);
        let now = self.now;
        let n = self.trace.events[..upto]
            .iter()
            .position(|e| e.arrive_ms > now)
            .unwrap_or(upto);
        self.trace.forget_first(n);
        n
    }

    /// Whether the scenario has a server for this front door.
    pub fn fronts(&self, front: Front) -> bool {
        self.default_host(front).is_some()
    }

    fn default_host(&self, front: Front) -> Option<HostId> {
        self.sc.hosts.iter().position(|h| h.has(front.role()))
    }

    /// A real client connected from `peer`: returns the session id and the greeting to send.
    pub fn open_external(&mut self, front: Front, peer: &str) -> Option<(u32, Response)> {
        let host = self.default_host(front)?;
        let protocol = front.protocol();
        let conn = self.conns.len() as u32;
        self.conns.push(Conn {
            client: host,
            server: host,
            protocol,
            client_engine: None,
            server_engine: None,
            purpose: Purpose::External,
            state: ConnState::Closed,
            last_arrival: [self.now; 2],
            message: None,
        });
        // The Received stamp names the client's address, without its port.
        let ip = peer
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| peer.to_string());
        let (engine, greeting) = self.server_engine(protocol, host, conn, &ip);
        let text = format!(
            "a real mail program at {peer} connects to {} port {} ({})",
            self.name(host),
            protocol.port(),
            protocol.name()
        );
        self.trace_external(EventKind::Connect, conn, protocol, host, true, text);
        self.trace_external_reply(conn, protocol, host, &greeting);
        let id = self.external.len() as u32;
        self.external.push(Some(Box::new(External {
            front,
            conn,
            host,
            bound: false,
            engine,
            auth_pending: false,
        })));
        Some((id, greeting))
    }

    /// One line from the real client (without its CRLF); returns what the server answers.
    /// A session that has ended answers nothing.
    pub fn external_line(&mut self, id: u32, line: &str) -> Response {
        self.external_line_after(id, line, 0)
    }

    /// [`World::external_line`] for a command whose first `traced` bytes are in the trace
    /// already (an IMAP command's head, before the `+` that invited its literal).
    pub fn external_line_after(&mut self, id: u32, line: &str, traced: usize) -> Response {
        let Some(mut session) = self.external.get_mut(id as usize).and_then(Option::take) else {
            return Response::default();
        };
        let protocol = session.front.protocol();
        let now = self.now;
        let text = line.get(traced..).unwrap_or(line).to_string();
        let (conn, host) = (session.conn, session.host);
        self.trace_external(EventKind::ClientLine, conn, protocol, host, true, text);
        let r = match session.front {
            Front::Submission | Front::Smtp => self.external_smtp(&mut session, line),
            Front::Pop3 | Front::Imap => {
                // Until a login succeeds, each login line (re)binds the session to the host of
                // the user it names: a failed login must not keep it on another user's host.
                let logged_in = match &session.engine {
                    ServerEngine::Pop3(s) => s.logged_in(),
                    ServerEngine::Imap(s) => s.logged_in(),
                    ServerEngine::Smtp(_) => true,
                };
                if !logged_in {
                    self.bind_by_login(&mut session, line);
                }
                let store = &mut self.hosts[session.host].store;
                match &mut session.engine {
                    ServerEngine::Pop3(s) => s.on_line(line, store, now),
                    ServerEngine::Imap(s) => s.on_line(line, store, now),
                    ServerEngine::Smtp(_) => {
                        unreachable!("POP3 and IMAP fronts hold their engines")
                    }
                }
            }
        };
        self.trace_external_reply(session.conn, protocol, session.host, &r);
        if r.close {
            self.end_external(&mut session, "closes the connection");
        } else {
            self.external[id as usize] = Some(session);
        }
        r
    }

    /// Traces an exchange that live mode's reader had without the engine: the head of a command
    /// and the `+` that invites its literal (RFC 3501 section 7.5), or a command refused as it
    /// came in. The client's part, then the server's line.
    pub fn external_exchange(&mut self, id: u32, part: &str, invitation: &str) {
        let Some(Some(session)) = self.external.get(id as usize) else {
            return;
        };
        let (protocol, host, conn) = (session.front.protocol(), session.host, session.conn);
        let client = part.trim_end_matches("\r\n").to_string();
        if !client.is_empty() {
            self.trace_external(EventKind::ClientLine, conn, protocol, host, true, client);
        }
        self.trace_external_reply(conn, protocol, host, &Response::line(invitation));
    }

    /// The real client went away (or timed out): an unfinished transaction is dropped, as a
    /// server drops a message whose DATA never ended (RFC 5321 section 4.1.1.4).
    pub fn close_external(&mut self, id: u32, why: &str) {
        if let Some(mut session) = self.external.get_mut(id as usize).and_then(Option::take) {
            self.end_external(&mut session, why);
        }
    }

    /// Sessions still open.
    pub fn external_open(&self) -> usize {
        self.external.iter().filter(|s| s.is_some()).count()
    }

    /// The session's end; a POP3 session lets go of its maildrop's lock (RFC 1939 section 4).
    fn end_external(&mut self, session: &mut External, why: &str) {
        if let ServerEngine::Pop3(s) = &mut session.engine {
            s.release(&mut self.hosts[session.host].store);
        }
        let text = format!("{} {why}", self.name(session.host));
        let protocol = session.front.protocol();
        let (conn, host) = (session.conn, session.host);
        self.trace_external(EventKind::Close, conn, protocol, host, false, text);
    }

    /// Traces, now, what passed between a real client and the server at `host`, towards the
    /// server or from it: the real client is no simulated host, so the event names only the
    /// server.
    fn trace_external(
        &mut self,
        kind: EventKind,
        conn: u32,
        protocol: Protocol,
        host: HostId,
        to_server: bool,
        text: String,
    ) {
        let (from, to) = if to_server {
            (None, Some(host))
        } else {
            (Some(host), None)
        };
        let now = self.now;
        self.emit(kind, Some(protocol), from, to, Some(conn), None, now, text);
    }

    fn trace_external_reply(&mut self, conn: u32, protocol: Protocol, host: HostId, r: &Response) {
        if !r.lines.is_empty() {
            let text = r.lines.join("\r\n");
            self.trace_external(EventKind::ServerLine, conn, protocol, host, false, text);
        }
    }

    fn external_smtp(&mut self, session: &mut External, line: &str) -> Response {
        let ServerEngine::Smtp(engine) = &mut session.engine else {
            unreachable!("SMTP fronts hold an SMTP engine");
        };
        let mut policy = LivePolicy {
            sc: self.sc,
            index: &self.index,
            hosts: &mut self.hosts,
            front: session.front,
            host: Cell::new(session.host),
            bound: Cell::new(session.bound),
            next_queue_id: &mut self.next_queue_id,
            accepted: Vec::new(),
        };
        let r = engine.on_line(line, &mut policy, self.now);
        if policy.host.get() != session.host {
            // The server the session now speaks for has its own SIZE limit (RFC 1870).
            engine.set_max_message_size(self.sc.hosts[policy.host.get()].max_message_size);
        }
        session.host = policy.host.get();
        session.bound = policy.bound.get();
        for (host, taken) in std::mem::take(&mut policy.accepted) {
            let message_ref = self.trace_live_message(&taken.message);
            self.take_in(None, host, taken, Some(message_ref));
        }
        r
    }

    /// A message from a real client joins the trace's list of messages, so that the window
    /// and the report follow it like a scripted one.
    fn trace_live_message(&mut self, message: &Message) -> u32 {
        let message_id = message.header("Message-ID").unwrap_or_default();
        if let Some(i) = self.message_ids.find(&self.trace.messages, &message_id) {
            return i;
        }
        let idx = self.trace.messages.len() as u32;
        self.trace.messages.push(TracedMessage {
            name: format!("live {}", idx + 1),
            message_id,
        });
        idx
    }

    /// POP3 and IMAP: the login names the account, and so the store that keeps its mail.
    fn bind_by_login(&mut self, session: &mut External, line: &str) {
        let login = match session.front {
            Front::Pop3 => pop3_login(line),
            _ => imap_login(line, &mut session.auth_pending),
        };
        let Some(login) = login else { return };
        let store = user_by_login(self.sc, &self.index, &login)
            .and_then(|u| self.sc.domains[self.sc.users[u].domain].store)
            .filter(|&h| self.sc.hosts[h].has(session.front.role()));
        if let Some(host) = store {
            session.host = host;
        }
    }

    /// The state to save: the clock, the mailboxes, the queues.
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            now_ms: self.now,
            ..Snapshot::default()
        };
        for (h, host) in self.hosts.iter().enumerate() {
            let name = &self.sc.hosts[h].name;
            if !host.store.mailboxes.is_empty() {
                snap.stores.insert(name.clone(), host.store.clone());
            }
            for e in host.queue.iter().filter(|e| !e.done && !e.rcpts.is_empty()) {
                snap.queue.push(SavedEntry {
                    host: name.clone(),
                    id: e.id.clone(),
                    mail_from: match &e.mail_from {
                        ReversePath::Null => String::new(),
                        ReversePath::Address(a) => a.to_string(),
                    },
                    rcpts: e.rcpts.iter().map(Address::to_string).collect(),
                    domain: e.domain.clone(),
                    message: e.message.clone(),
                    arrival_ms: e.arrival_ms,
                    failures: e.failures,
                    reason: e.reason.clone(),
                });
            }
        }
        snap
    }

    /// Gives every folder the UIDVALIDITY `value`. Live mode without a saved state starts its
    /// mailboxes afresh, UIDs from 1 again: a mail program that remembers UIDs from an earlier
    /// run must see that they no longer hold (RFC 3501 section 2.3.1.1, a MUST).
    pub fn renew_uid_validity(&mut self, value: u32) {
        for host in &mut self.hosts {
            for mailbox in host.store.mailboxes.values_mut() {
                for folder in &mut mailbox.folders {
                    folder.uid_validity = value;
                }
            }
        }
    }

    /// Carries on from a saved state: the clock resumes where it stopped (scripted sends from
    /// before then are not sent again), the mailboxes come back, and every queued message is
    /// tried again at once. Returns how many queue entries came back; entries or stores whose
    /// host is no longer in the scenario are reported and skipped.
    pub fn restore(&mut self, snap: Snapshot) -> Result<usize, String> {
        let host_id = |name: &str| self.sc.hosts.iter().position(|h| h.name == name);
        let mut missing = Vec::new();
        for (name, store) in snap.stores {
            match host_id(&name) {
                Some(h) => self.hosts[h].store = store,
                None => missing.push(name),
            }
        }
        self.now = self.now.max(snap.now_ms);
        while self
            .sc
            .script
            .get(self.next_action)
            .is_some_and(|a| a.at_ms < self.now)
        {
            self.next_action += 1;
        }
        let mut restored = 0;
        for e in snap.queue {
            let Some(h) = host_id(&e.host) else {
                missing.push(e.host);
                continue;
            };
            let parse = |a: &str| Address::parse(a).map_err(|err| format!("{a}: {err}"));
            let mail_from = if e.mail_from.is_empty() {
                ReversePath::Null
            } else {
                ReversePath::Address(parse(&e.mail_from)?)
            };
            let rcpts = e
                .rcpts
                .iter()
                .map(|r| parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            let message_ref = Some(self.trace_live_message(&e.message));
            let entry = self.hosts[h].queue.len() as u32;
            self.hosts[h].queue.push(QueueEntry {
                id: e.id,
                message_ref,
                mail_from,
                rcpts,
                domain: e.domain,
                message: e.message,
                arrival_ms: e.arrival_ms,
                failures: e.failures,
                next_attempt_ms: self.now,
                reason: e.reason,
                attempt: None,
                done: false,
            });
            self.schedule(self.now, Ev::QueueRun { host: h, entry });
            restored += 1;
        }
        if missing.is_empty() {
            Ok(restored)
        } else {
            Err(format!(
                "the saved state names hosts this scenario does not have: {}",
                missing.join(", ")
            ))
        }
    }

    /// A DNS query from a real resolver or `dig`: the authoritative server of the zone the name
    /// is in answers it, as the simulation's resolvers would be answered.
    pub fn answer_dns(&mut self, query: &[u8]) -> Option<Vec<u8>> {
        let name = DnsMessage::decode(query)
            .ok()
            .and_then(|m| m.questions.first().map(|q| q.name.clone()))
            .unwrap_or_default();
        let server = self
            .index
            .enclosing_domain(name.trim_end_matches('.'))
            .map(|d| self.domains[d].ns)
            .or(self.index.root_dns)?;
        if !self.up.get(server) {
            return None;
        }
        let answer = self.authorities.get(&server)?.answer_bytes(query)?;
        let now = self.now;
        for (kind, from, to, bytes) in [
            (EventKind::DnsQuery, None, Some(server), query.to_vec()),
            (EventKind::DnsAnswer, Some(server), None, answer.clone()),
        ] {
            self.emit(
                kind,
                Some(Protocol::Dns),
                from,
                to,
                None,
                None,
                now,
                super::DnsBytes(bytes),
            );
        }
        Some(answer)
    }
}

/// A user by whole address, or by local part alone (real programs log in both ways).
fn user_by_login(sc: &Scenario, index: &Index, login: &str) -> Option<UserId> {
    let login = login.to_ascii_lowercase();
    if login.contains('@') {
        return index.user.get(&login).copied();
    }
    sc.users
        .iter()
        .position(|u| u.address.local().eq_ignore_ascii_case(&login))
}

/// The first word after `USER` or `APOP`.
fn pop3_login(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let verb = words.next()?;
    (verb.eq_ignore_ascii_case("USER") || verb.eq_ignore_ascii_case("APOP"))
        .then(|| words.next().map(str::to_string))
        .flatten()
}

/// The login of `LOGIN name password` or of an `AUTHENTICATE PLAIN` response.
fn imap_login(line: &str, auth_pending: &mut bool) -> Option<String> {
    if std::mem::take(auth_pending) {
        return plain_authcid(line.trim());
    }
    let mut words = line.split_whitespace();
    let _tag = words.next()?;
    let command = words.next()?;
    if command.eq_ignore_ascii_case("LOGIN") {
        // Read as the engine reads it: an atom, a quoted string or a literal.
        return match crate::proto::imap::Command::parse(line) {
            Ok((_, crate::proto::imap::Command::Login { user, .. })) => Some(user),
            _ => None,
        };
    }
    if command.eq_ignore_ascii_case("AUTHENTICATE")
        && words
            .next()
            .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN"))
    {
        match words.next() {
            Some(initial) => return plain_authcid(initial),
            None => *auth_pending = true,
        }
    }
    None
}

/// The authentication identity of a SASL PLAIN response (RFC 4616: authzid NUL authcid NUL
/// password).
fn plain_authcid(b64: &str) -> Option<String> {
    let bytes = BASE64.decode(b64).ok()?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let authcid = parts.next()?;
    String::from_utf8(authcid.to_vec()).ok()
}

/// The host policy for a live session: it answers for the server the session is bound to,
/// and moves the session to the right server when a login or a recipient names it.
struct LivePolicy<'a> {
    sc: &'a Scenario,
    index: &'a Index,
    hosts: &'a mut [HostState],
    front: Front,
    host: Cell<HostId>,
    bound: Cell<bool>,
    next_queue_id: &'a mut u32,
    accepted: Vec<(HostId, Taken)>,
}

impl LivePolicy<'_> {
    fn inner(&mut self) -> HostPolicy<'_> {
        let host = self.host.get();
        HostPolicy {
            sc: self.sc,
            index: self.index,
            host,
            port: self.front.protocol(),
            state: &mut self.hosts[host],
            next_queue_id: self.next_queue_id,
            accepted: Vec::new(),
        }
    }

    /// The best MX of a domain that the scenario runs, else its mailbox store.
    fn mx_of(&self, domain: &str) -> Option<HostId> {
        let d = &self.sc.domains[self.index.domain(domain)?];
        let mut mx: Vec<&(u16, String)> = d.mx.iter().collect();
        mx.sort_by_key(|(pref, _)| *pref);
        mx.iter()
            .find_map(|(_, name)| {
                self.sc
                    .hosts
                    .iter()
                    .position(|h| h.name.eq_ignore_ascii_case(name) && h.has(Role::Mx))
            })
            .or(d.store)
    }
}

impl SmtpPolicy for LivePolicy<'_> {
    fn authenticate(&mut self, login: &str, password: &str) -> bool {
        if self.front == Front::Submission {
            let user = user_by_login(self.sc, self.index, login);
            if let Some(server) =
                user.and_then(|u| self.sc.domains[self.sc.users[u].domain].submission)
            {
                self.host.set(server);
                self.bound.set(true);
            }
        }
        self.inner().authenticate(login, password)
    }

    fn is_local_domain(&self, domain: &str) -> bool {
        if self.front == Front::Smtp
            && !self.bound.get()
            && let Some(mx) = self.mx_of(domain)
        {
            self.host.set(mx);
            self.bound.set(true);
        }
        local_domain(self.sc, self.index, self.host.get(), domain)
    }

    fn check_recipient(
        &mut self,
        session: &SessionInfo,
        from: &ReversePath,
        rcpt: &Address,
        now_ms: u64,
    ) -> RcptDecision {
        self.inner().check_recipient(session, from, rcpt, now_ms)
    }

    fn verify(&mut self, name: &str) -> Reply {
        self.inner().verify(name)
    }

    fn accept_message(
        &mut self,
        session: &SessionInfo,
        envelope: Envelope,
        message: Message,
        now_ms: u64,
    ) -> Result<Accepted, Reply> {
        let host = self.host.get();
        let mut inner = self.inner();
        let result = inner.accept_message(session, envelope, message, now_ms);
        let taken = std::mem::take(&mut inner.accepted);
        self.accepted.extend(taken.into_iter().map(|t| (host, t)));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live mode forgets the printed part of the trace as it goes, and a transmission on its way
    /// reads its text from the trace when it arrives: a run that forgets everything it can after
    /// every step ends exactly as one that forgets nothing. The world is large enough that its
    /// texts fill several of the trace's chunks, so chunks are freed on the way.
    #[test]
    fn forgetting_the_trace_as_it_goes_changes_nothing_of_the_run() {
        let sc = crate::bench::generate_within(20, 3000, 7, 60_000);
        let whole = crate::sim::run(&sc);
        let mut world = World::new(&sc);
        let mut forgotten = 0;
        while let Some(due) = world.next_due().filter(|&t| t <= sc.run_until_ms) {
            world.advance_to(due);
            forgotten += world.forget_trace(usize::MAX, 0);
        }
        let rest = world.finish();
        assert!(forgotten > whole.trace.len() / 2, "forgot {forgotten}");
        assert_eq!(forgotten + rest.trace.len(), whole.trace.len());
        let chunks_freed = rest.trace.texts_freed();
        assert!(chunks_freed >= 3, "{chunks_freed} chunks freed");
        for (e, w) in rest
            .trace
            .events
            .iter()
            .zip(&whole.trace.events[forgotten..])
        {
            assert_eq!(rest.trace.text(e), whole.trace.text(w));
        }
        assert_eq!(rest.state.stores, whole.state.stores);
        assert_eq!(rest.state.queued, whole.state.queued);
        assert_eq!(rest.state.bounced, whole.state.bounced);
    }

    #[test]
    fn logins_are_found_in_pop3_and_imap_lines() {
        assert_eq!(pop3_login("user bob").as_deref(), Some("bob"));
        assert_eq!(pop3_login("APOP bob 0123").as_deref(), Some("bob"));
        assert_eq!(pop3_login("STAT"), None);
        let mut pending = false;
        assert_eq!(
            imap_login("a1 LOGIN \"bob@beta.example\" pw", &mut pending).as_deref(),
            Some("bob@beta.example")
        );
        let plain = BASE64.encode("\0bob\0pw");
        assert_eq!(
            imap_login(&format!("a2 AUTHENTICATE PLAIN {plain}"), &mut pending).as_deref(),
            Some("bob")
        );
        assert_eq!(imap_login("a3 AUTHENTICATE PLAIN", &mut pending), None);
        assert!(pending);
        assert_eq!(imap_login(&plain, &mut pending).as_deref(), Some("bob"));
        assert!(!pending);
        // A user name sent as a literal, as live mode's reader hands the whole command over.
        let literal = "a4 LOGIN {16}\r\nbob@beta.example builder";
        assert_eq!(
            imap_login(literal, &mut pending).as_deref(),
            Some("bob@beta.example")
        );
    }
}
