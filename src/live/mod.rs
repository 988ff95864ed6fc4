//! Live mode (`mailsim serve`): the scenario's servers on loopback ports, so that real mail
//! programs submit and fetch while the simulated network does the rest.
//!
//! One thread owns the [`World`] and moves its virtual clock along with the wall clock
//! (`speed` times faster); every other thread talks to it through a channel. Each TCP
//! connection has a small thread of its own that reads lines (bounded in length), hands them
//! to the world's server engines, and writes back what they answer. The DNS port answers
//! datagrams from the scenario's zones.

mod net;
mod state;

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::proto::Response;
use crate::scenario::Scenario;
use crate::sim::{Front, QueuedMail, Trace, TracedMessage, World, render};

pub use state::SavedState;

/// Once this many events are printed, the oldest are forgotten: memory stays flat however
/// long the server runs.
const FORGET_AFTER: usize = 100_000;
/// The most recent printed events are kept: captions look back at the line a reply answers.
const KEEP_FOR_CAPTIONS: usize = 1_000;

/// With `--state`, the state is saved this often while mail moves (and at the end).
const STATE_EVERY: Duration = Duration::from_secs(1);

/// How the trace is printed while serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    Text,
    Jsonl,
    /// Nothing: for benchmarks.
    Quiet,
}

/// The ports to listen on; 0 picks a free port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub submission: u16,
    pub smtp: u16,
    pub pop3: u16,
    pub imap: u16,
    pub dns: u16,
}

impl Default for Ports {
    /// The well-known ports plus 2000 (587, 25, 110, 143 and 53 need root).
    fn default() -> Ports {
        Ports {
            submission: 2587,
            smtp: 2525,
            pop3: 2110,
            imap: 2143,
            dns: 2053,
        }
    }
}

impl Ports {
    fn of(&self, front: Front) -> u16 {
        match front {
            Front::Submission => self.submission,
            Front::Smtp => self.smtp,
            Front::Pop3 => self.pop3,
            Front::Imap => self.imap,
        }
    }
}

/// Everything `mailsim serve` can be told.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub bind: IpAddr,
    pub ports: Ports,
    pub ports_file: Option<PathBuf>,
    /// Virtual milliseconds per wall millisecond.
    pub speed: f64,
    pub format: TraceFormat,
    /// Connections served at once; more get a "try again later" reply (421, -ERR, BYE).
    pub max_connections: usize,
    /// Overrides each protocol's idle timeout.
    pub idle_timeout: Option<Duration>,
    /// Where queues and mailboxes are kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// The window's copy of the trace as it grows (`--gui`).
    pub feed: Option<mpsc::Sender<LiveUpdate>>,
    /// Set to stop serving (the window closing); Ctrl-C sets it too.
    pub stop: Arc<AtomicBool>,
    /// Catch Ctrl-C here (the window catches it itself).
    pub catch_ctrl_c: bool,
}

/// New trace events for the window, in order, with the messages they name.
#[derive(Clone, Debug)]
pub struct LiveUpdate {
    /// The new events (with their texts).
    pub events: Trace,
    /// The trace's whole list of messages so far.
    pub messages: Vec<TracedMessage>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            bind: IpAddr::from([127, 0, 0, 1]),
            ports: Ports::default(),
            ports_file: None,
            speed: 60.0,
            format: TraceFormat::Text,
            max_connections: 100,
            idle_timeout: None,
            state_dir: None,
            feed: None,
            stop: Arc::new(AtomicBool::new(false)),
            catch_ctrl_c: true,
        }
    }
}

/// What a connection thread or the DNS thread asks of the world.
enum Request {
    Open {
        front: Front,
        peer: String,
        reply: SyncSender<Option<(u32, Response)>>,
    },
    /// Commands, each with how much of its text the trace already has (see `Continue`).
    Lines {
        session: u32,
        lines: Vec<(String, usize)>,
        reply: SyncSender<Response>,
    },
    /// An exchange the connection's reader had on its own, to be traced: the head of an IMAP
    /// command and the `+` that invites its literal, or a command it refused.
    Exchange {
        session: u32,
        client: String,
        server: String,
    },
    Close {
        session: u32,
        why: &'static str,
    },
    Dns {
        query: Vec<u8>,
        reply: SyncSender<Option<Vec<u8>>>,
    },
    Shutdown,
}

/// The ports file: where a script or a test finds the servers and the accounts.
#[derive(Serialize)]
struct PortsFile {
    submission: Option<u16>,
    smtp: Option<u16>,
    pop3: Option<u16>,
    imap: Option<u16>,
    dns: Option<u16>,
    accounts: Vec<Account>,
}

#[derive(Serialize)]
struct Account {
    address: String,
    login: String,
    password: String,
}

/// Serves the scenario until Ctrl-C; then reports the mail not yet delivered (and saves it
/// with `state_dir`). Errors are for the person at the terminal.
pub fn serve(mut scenario: Scenario, opts: ServeOptions) -> Result<(), String> {
    // Live mode runs until it is stopped, whatever the lesson's end time says.
    scenario.run_until_ms = u64::MAX;
    crate::alloc::without_huge_pages();
    if !opts.bind.is_loopback() {
        eprintln!(
            "warning: listening on {} lets other machines reach these servers; they have no TLS and \
             the scenario's passwords are in the file",
            opts.bind
        );
    }
    let saved = match &opts.state_dir {
        Some(dir) => SavedState::load(dir)?,
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Request>();
    let shutdown = opts.stop.clone();
    if opts.catch_ctrl_c {
        let tx = tx.clone();
        let shutdown = shutdown.clone();
        ctrlc::set_handler(move || {
            shutdown.store(true, Ordering::SeqCst);
            let _ = tx.send(Request::Shutdown);
        })
        .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }

    // Which fronts the scenario has: a port is opened only for a service the scenario runs.
    let probe = World::new(&scenario);
    let fronts: Vec<Front> = Front::ALL
        .into_iter()
        .filter(|f| probe.fronts(*f))
        .collect();
    let has_dns = scenario
        .hosts
        .iter()
        .any(|h| h.has(crate::scenario::Role::Dns));
    drop(probe);

    let limits = Arc::new(net::Limits::new(opts.max_connections, opts.idle_timeout));
    let mut bound = PortsFile {
        submission: None,
        smtp: None,
        pop3: None,
        imap: None,
        dns: None,
        accounts: scenario
            .users
            .iter()
            .map(|u| Account {
                address: u.address.to_string(),
                login: u.address.to_string(),
                password: u.password.clone(),
            })
            .collect(),
    };
    for front in fronts {
        let addr = SocketAddr::new(opts.bind, opts.ports.of(front));
        let listener = TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} for {:?}: {e}", front))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        match front {
            Front::Submission => bound.submission = Some(port),
            Front::Smtp => bound.smtp = Some(port),
            Front::Pop3 => bound.pop3 = Some(port),
            Front::Imap => bound.imap = Some(port),
        }
        let (tx, limits) = (tx.clone(), limits.clone());
        std::thread::Builder::new()
            .name(format!("accept {front:?}"))
            .spawn(move || net::accept_loop(listener, front, tx, limits))
            .map_err(|e| e.to_string())?;
    }
    if has_dns {
        let addr = SocketAddr::new(opts.bind, opts.ports.dns);
        let socket =
            UdpSocket::bind(addr).map_err(|e| format!("cannot listen on {addr}/udp: {e}"))?;
        bound.dns = Some(socket.local_addr().map_err(|e| e.to_string())?.port());
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("dns".into())
            .spawn(move || net::dns_loop(socket, tx))
            .map_err(|e| e.to_string())?;
    }
    print_banner(&scenario, &bound, &opts);
    if let Some(path) = &opts.ports_file {
        let json = serde_json::to_string_pretty(&bound).expect("plain data");
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    drop(tx);

    let mut world = World::new(&scenario);
    match saved {
        Some(saved) => {
            let n = saved.restore(&mut world)?;
            eprintln!(
                "restored the mailboxes and {} from the saved state",
                crate::text::counted(n, "queued message", "queued messages")
            );
        }
        // The seconds since 1970: a new value at each start (the simulation's own runs keep 1,
        // so that a trace stays the same).
        None => world.renew_uid_validity(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs() as u32),
        ),
    }
    let pending = run_world(&mut world, &scenario, &rx, &opts, &shutdown);
    report_pending(&scenario, &pending);
    if let Some(dir) = &opts.state_dir {
        SavedState::capture(&world).save(dir)?;
        eprintln!("saved the queues and mailboxes in {}", dir.display());
    }
    Ok(())
}

fn print_banner(scenario: &Scenario, bound: &PortsFile, opts: &ServeOptions) {
    let mut out = String::new();
    out.push_str(&format!("mailsim serve: {}\n", scenario.title));
    for (name, port) in [
        ("submission (SMTP with AUTH)", bound.submission),
        ("SMTP (MX)", bound.smtp),
        ("POP3", bound.pop3),
        ("IMAP", bound.imap),
        ("DNS (UDP)", bound.dns),
    ] {
        if let Some(p) = port {
            out.push_str(&format!("  {name:<28} {}:{p}\n", opts.bind));
        }
    }
    out.push_str("  accounts:\n");
    for a in &bound.accounts {
        out.push_str(&format!("    {}  password {}\n", a.address, a.password));
    }
    out.push_str(&format!(
        "  virtual time runs {}x the wall clock; Ctrl-C stops and reports mail not yet delivered\n",
        opts.speed
    ));
    eprint!("{out}");
}

/// The world's thread: moves the clock, answers requests, prints the trace as it grows.
/// Returns the mail still queued when it stops.
fn run_world(
    world: &mut World<'_>,
    scenario: &Scenario,
    rx: &Receiver<Request>,
    opts: &ServeOptions,
    shutdown: &AtomicBool,
) -> Vec<QueuedMail> {
    let start = Instant::now();
    let origin = world.now();
    let speed = opts.speed.max(0.001);
    let virtual_now =
        |start: Instant| origin + (start.elapsed().as_secs_f64() * 1000.0 * speed) as u64;
    let mut printed = world.trace().len();
    let mut saved_at = Instant::now();
    let mut unsaved = false;
    loop {
        let now = virtual_now(start);
        world.advance_to(now);
        feed_window(world, printed, opts.feed.as_ref());
        let before = printed;
        printed = print_new(world, scenario, printed, opts.format);
        // Something happened: keep the saved state close behind, so that even a killed server
        // loses at most a second of mail.
        unsaved |= printed != before;
        if let Some(dir) = &opts.state_dir
            && unsaved
            && saved_at.elapsed() >= STATE_EVERY
        {
            if let Err(e) = SavedState::capture(world).save(dir) {
                eprintln!("warning: {e}");
            }
            saved_at = Instant::now();
            unsaved = false;
        }
        if printed > FORGET_AFTER && opts.feed.is_none() {
            printed -= world.forget_trace(printed, KEEP_FOR_CAPTIONS);
        }
        if shutdown.load(Ordering::SeqCst) {
            break;
        }
        // Sleep until the next event is due, or a request comes in.
        let wait = match world.next_due() {
            Some(t) if t > now => Duration::from_secs_f64((t - now) as f64 / speed / 1000.0),
            Some(_) => Duration::ZERO,
            None => Duration::from_millis(200),
        }
        .min(Duration::from_millis(200));
        let request = match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        world.advance_to(virtual_now(start));
        let mut next = Some(request);
        while let Some(request) = next.take() {
            if !handle(world, request) {
                shutdown.store(true, Ordering::SeqCst);
                break;
            }
            next = rx.try_recv().ok();
        }
    }
    feed_window(world, printed, opts.feed.as_ref());
    print_new(world, scenario, printed, opts.format);
    world.queued_now()
}

/// Sends the window the events it has not seen (the same ones not yet printed).
fn feed_window(world: &World<'_>, from: usize, feed: Option<&mpsc::Sender<LiveUpdate>>) {
    let trace = world.trace();
    if let Some(feed) = feed
        && from < trace.len()
    {
        let _ = feed.send(LiveUpdate {
            events: trace.tail(from),
            messages: trace.messages.clone(),
        });
    }
}

/// Answers one request; false to stop.
fn handle(world: &mut World<'_>, request: Request) -> bool {
    match request {
        Request::Open { front, peer, reply } => {
            let _ = reply.send(world.open_external(front, &peer));
        }
        Request::Lines {
            session,
            lines,
            reply,
        } => {
            let mut out = Response::default();
            for (line, traced) in &lines {
                let r = world.external_line_after(session, line, *traced);
                out.lines.extend(r.lines);
                if r.close {
                    out.close = true;
                    break;
                }
            }
            let _ = reply.send(out);
        }
        Request::Exchange {
            session,
            client,
            server,
        } => world.external_exchange(session, &client, &server),
        Request::Close { session, why } => world.close_external(session, why),
        Request::Dns { query, reply } => {
            let _ = reply.send(world.answer_dns(&query));
        }
        Request::Shutdown => return false,
    }
    true
}

fn print_new(world: &World<'_>, scenario: &Scenario, from: usize, format: TraceFormat) -> usize {
    let trace = world.trace();
    if format == TraceFormat::Quiet || from >= trace.len() {
        return trace.len();
    }
    let mut out = String::new();
    for i in from..trace.len() {
        match format {
            TraceFormat::Text => {
                render::push_event_text(&mut out, scenario, trace, i, &Default::default())
            }
            TraceFormat::Jsonl => {
                render::push_event_json(&mut out, scenario, trace, i, &Default::default())
            }
            TraceFormat::Quiet => {}
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    trace.len()
}

fn report_pending(scenario: &Scenario, pending: &[QueuedMail]) {
    if pending.is_empty() {
        eprintln!("stopped: every accepted message was delivered or bounced");
        return;
    }
    eprintln!(
        "stopped: {} accepted recipient(s) not yet delivered:",
        pending.len()
    );
    for q in pending {
        eprintln!(
            "  {} queue {} for {}: {} (next attempt at {})",
            scenario.hosts[q.host].name,
            q.queue_id,
            q.recipient,
            q.reason,
            crate::sim::format_time(q.next_attempt_ms)
        );
    }
}
