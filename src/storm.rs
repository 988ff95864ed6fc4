//! `mailsim storm`: random worlds under random faults, and the check that no mail is lost or
//! duplicated in them.
//!
//! A [`Storm`] describes one world: a few providers (some with a backup MX, some with one host for
//! submission and mailboxes, sometimes one DNS server for everyone), users, messages to several
//! recipients (some unknown, some at a domain that does not exist or takes no mail), and faults:
//! hosts down and up (or down for good), cut links, lossy links, greylisting, DNS changes, full
//! mailboxes, mail programs downloading with POP3. [`Storm::random`] draws one from a seed;
//! [`Storm::build`] makes the [`Scenario`]; [`check`] judges a run.
//!
//! Conservation: every (message, recipient) the sender's first server accepted ends exactly one
//! way: delivered once (in the mailbox, or downloaded by the recipient's mail program), still
//! queued with a reason, or bounced. Every bounce is itself delivered once to the sender, queued,
//! or (its sender being `<>`) discarded (RFC 5321 section 6.1). No message reaches anyone who was
//! not a recipient. And nothing is forgotten in a queue: on a host that is up at the end, a
//! queued message has its next attempt ahead or under way.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mail::{Address, Message};
use crate::scenario::{
    Action, ActionKind, Domain, Fault, FaultKind, Host, Link, LinkSpec, RecordChange, Retry, Role,
    Scenario, Send, User,
};
use crate::sim::{Outcome, format_time};

/// Users per domain.
pub const USERS_PER_DOMAIN: usize = 3;

/// One recipient of a generated message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcpt {
    /// A user of the world, by index (taken modulo the number of users).
    User(usize),
    /// A mailbox that does not exist at a domain of the world (5.1.1).
    Unknown(usize),
    /// A domain nobody has registered (NXDOMAIN).
    NoSuchDomain,
    /// A domain that publishes the null MX of RFC 7505.
    NullMx,
}

/// A message of the storm: when, from whom, to whom (each recipient in To, Cc or Bcc).
#[derive(Clone, Debug, PartialEq)]
pub struct Mail {
    pub at_ms: u64,
    pub from: usize,
    /// The recipient and its header: 0 To, 1 Cc, 2 Bcc.
    pub to: Vec<(Rcpt, u8)>,
}

/// A DNS change of the storm, at one domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsFault {
    /// The MX host's A record points at an address where nobody answers.
    StaleA,
    /// The MX record names only the backup MX (or, without one, another domain's MX).
    MxElsewhere(usize),
    /// The MX records are removed: senders fall back to the domain's A record (RFC 5321 5.1).
    RemoveMx,
    /// The A record of the MX host is put back.
    RestoreA,
}

/// One generated world and its faults. Host, user and domain indexes are taken modulo the
/// numbers the world has, so any values describe a valid world (the proptest relies on it).
#[derive(Clone, Debug, PartialEq)]
pub struct Storm {
    pub seed: u64,
    pub domains: usize,
    /// Domains with a backup MX (`mx2`, preference 20) that relays to the primary.
    pub backup_mx: Vec<usize>,
    /// Domains whose submission server also keeps the mailboxes (one host for everything).
    pub merged: Vec<usize>,
    /// One DNS server (the first domain's) holds every zone.
    pub shared_dns: bool,
    pub mails: Vec<Mail>,
    /// Loss on every link without its own.
    pub loss: f64,
    /// Links with their own loss: (host, host, loss).
    pub lossy_links: Vec<(usize, usize, f64)>,
    /// Hosts down: (host, at, for how long; None: for good).
    pub downs: Vec<(usize, u64, Option<u64>)>,
    /// Links cut: (host, host, at, for how long).
    pub cuts: Vec<(usize, usize, u64, u64)>,
    /// Greylisting MX hosts from the start: (host, delay).
    pub greylist: Vec<(usize, u64)>,
    /// Greylisting switched on later: (host, at, delay, for how long).
    pub greylist_later: Vec<(usize, u64, u64, u64)>,
    /// Full mailboxes: (user, at, for how long; None: never freed).
    pub full: Vec<(usize, u64, Option<u64>)>,
    /// DNS changes: (domain, at, what).
    pub dns: Vec<(usize, u64, DnsFault)>,
    /// POP3 downloads that delete what they fetched: (user, at).
    pub fetches: Vec<(usize, u64)>,
    pub retry_schedule_ms: Vec<u64>,
    pub give_up_ms: u64,
    /// Stop here (None: long after the give-up time, when every queue has drained).
    pub run_until_ms: Option<u64>,
}

fn ip(n: usize) -> Ipv4Addr {
    let n = n as u32 + 1;
    Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// The name of the domain that publishes a null MX.
const NULL_MX_DOMAIN: &str = "nomail.example";

impl Storm {
    /// A storm drawn from a seed: the same seed gives the same storm.
    pub fn random(seed: u64) -> Storm {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let r = &mut rng;
        let domains = r.random_range(2..=5usize);
        let some_domains = |r: &mut ChaCha8Rng, p: f64| -> Vec<usize> {
            (0..domains).filter(|_| r.random_bool(p)).collect()
        };
        let backup_mx = some_domains(r, 0.3);
        let merged = some_domains(r, 0.2);
        let shared_dns = r.random_bool(0.2);
        // Each domain has 4 or 5 hosts; indexes beyond are taken modulo the real count.
        let hosts = domains * 4;
        let users = domains * USERS_PER_DOMAIN;
        let window = 3_600_000;
        let n_mails = r.random_range(1..=12usize);
        let mails = (0..n_mails)
            .map(|_| Mail {
                at_ms: r.random_range(0..window),
                from: r.random_range(0..users),
                to: (0..r.random_range(1..=4usize))
                    .map(|_| {
                        let rc = match r.random_range(0..20) {
                            0 => Rcpt::Unknown(r.random_range(0..domains)),
                            1 => Rcpt::NoSuchDomain,
                            2 => Rcpt::NullMx,
                            _ => Rcpt::User(r.random_range(0..users)),
                        };
                        (rc, r.random_range(0..3u8))
                    })
                    .collect(),
            })
            .collect();
        let time = |r: &mut ChaCha8Rng| r.random_range(0..window + 2 * 3_600_000);
        let span = |r: &mut ChaCha8Rng| r.random_range(60_000..30 * 3_600_000u64);
        let loss = if r.random_bool(0.5) {
            0.0
        } else {
            r.random_range(0.0..0.3)
        };
        let count = |r: &mut ChaCha8Rng, max: usize| r.random_range(0..=max);
        let lossy_links = (0..count(r, 2))
            .map(|_| {
                (
                    r.random_range(0..hosts),
                    r.random_range(0..hosts),
                    r.random_range(0.0..0.6),
                )
            })
            .collect();
        let downs = (0..count(r, 4))
            .map(|_| {
                let h = r.random_range(0..hosts);
                let at = time(r);
                let len = if r.random_bool(0.1) {
                    None
                } else {
                    Some(span(r))
                };
                (h, at, len)
            })
            .collect();
        let cuts = (0..count(r, 2))
            .map(|_| {
                (
                    r.random_range(0..hosts),
                    r.random_range(0..hosts),
                    time(r),
                    span(r),
                )
            })
            .collect();
        let greylist = (0..count(r, 2))
            .map(|_| (r.random_range(0..hosts), r.random_range(1..3_600_000)))
            .collect();
        let greylist_later = (0..count(r, 1))
            .map(|_| {
                (
                    r.random_range(0..hosts),
                    time(r),
                    r.random_range(1..3_600_000),
                    span(r),
                )
            })
            .collect();
        let full = (0..count(r, 3))
            .map(|_| {
                let u = r.random_range(0..users);
                let at = time(r);
                let len = if r.random_bool(0.2) {
                    None
                } else {
                    Some(span(r))
                };
                (u, at, len)
            })
            .collect();
        let dns = (0..count(r, 2))
            .flat_map(|_| {
                let d = r.random_range(0..domains);
                let at = time(r);
                let change = match r.random_range(0..3) {
                    0 => DnsFault::StaleA,
                    1 => DnsFault::MxElsewhere(r.random_range(0..domains)),
                    _ => DnsFault::RemoveMx,
                };
                let mut v = vec![(d, at, change)];
                if change == DnsFault::StaleA && r.random_bool(0.5) {
                    v.push((d, at + span(r), DnsFault::RestoreA));
                }
                v
            })
            .collect();
        let fetches = (0..count(r, 3))
            .map(|_| (r.random_range(0..users), r.random_range(0..window * 3)))
            .collect();
        let (retry_schedule_ms, give_up_ms) = match r.random_range(0..3) {
            0 => (vec![5 * 60_000, 10 * 60_000, 30 * 60_000], 2 * 3_600_000),
            1 => (vec![30 * 60_000, 3_600_000], 86_400_000),
            _ => (
                vec![30 * 60_000, 3_600_000, 2 * 3_600_000, 4 * 3_600_000],
                5 * 86_400_000,
            ),
        };
        let run_until_ms = if r.random_bool(0.3) {
            Some(window + 3_600_000 + r.random_range(0..2 * 86_400_000))
        } else {
            None
        };
        let mut storm = Storm {
            seed,
            domains,
            backup_mx,
            merged,
            shared_dns,
            mails,
            loss,
            lossy_links,
            downs,
            cuts,
            greylist,
            greylist_later,
            full,
            dns,
            fetches,
            retry_schedule_ms,
            give_up_ms,
            run_until_ms,
        };
        if r.random_bool(0.5) {
            storm.strike_in_flight(r);
        }
        storm
    }

    /// Random faults at random times rarely catch a line on the wire. This runs the storm
    /// once, picks a few protocol lines of the run, and takes a host down (or cuts the link)
    /// while each is in flight: the run is the same up to that moment, so the fault lands there.
    /// A reply lost after the server took the message is the classic way to duplicate mail.
    fn strike_in_flight(&mut self, r: &mut ChaCha8Rng) {
        let sc = self.build();
        let out = crate::sim::run(&sc);
        let lines: Vec<_> = out
            .trace
            .events
            .iter()
            .filter(|e| {
                e.message().is_some()
                    && matches!(
                        e.kind,
                        crate::sim::EventKind::ClientLine | crate::sim::EventKind::ServerLine
                    )
            })
            .collect();
        if lines.is_empty() {
            return;
        }
        for _ in 0..r.random_range(1..=3) {
            let e = lines[r.random_range(0..lines.len())];
            let (Some(from), Some(to)) = (e.from(), e.to()) else {
                continue;
            };
            let at = r.random_range(e.t_ms..=e.arrive_ms);
            let len = r.random_range(1_000..10 * 3_600_000u64);
            match r.random_range(0..3) {
                0 => self.downs.push((from, at, Some(len))),
                1 => self.downs.push((to, at, Some(len))),
                _ => self.cuts.push((from, to, at, len)),
            }
        }
    }

    /// The scenario of this storm.
    pub fn build(&self) -> Scenario {
        let n_domains = self.domains.max(1);
        let mut hosts: Vec<Host> = Vec::new();
        let mut domains: Vec<Domain> = Vec::new();
        let mut users: Vec<User> = Vec::new();
        let add_host = |hosts: &mut Vec<Host>, name: String, roles: &[Role], d: usize| {
            let mut roles = roles.to_vec();
            roles.sort();
            hosts.push(Host {
                ip: ip(hosts.len()),
                name,
                roles,
                domain: Some(d),
                position: None,
                greylist_ms: None,
                max_message_size: crate::scenario::DEFAULT_MAX_MESSAGE_SIZE,
            });
            hosts.len() - 1
        };
        for d in 0..n_domains {
            let name = format!("d{d}.example");
            let ns = if self.shared_dns && d > 0 {
                domains[0].ns
            } else {
                add_host(&mut hosts, format!("ns.{name}"), &[Role::Dns], d)
            };
            let (submission, store) = if self.merged.contains(&d) {
                let h = add_host(
                    &mut hosts,
                    format!("mx.{name}"),
                    &[Role::Submission, Role::Mx, Role::Pop3, Role::Imap],
                    d,
                );
                (h, h)
            } else {
                let s = add_host(&mut hosts, format!("smtp.{name}"), &[Role::Submission], d);
                let m = add_host(
                    &mut hosts,
                    format!("mx.{name}"),
                    &[Role::Mx, Role::Pop3, Role::Imap],
                    d,
                );
                (s, m)
            };
            let mut mx = vec![(10, format!("mx.{name}"))];
            if self.backup_mx.contains(&d) {
                add_host(&mut hosts, format!("mx2.{name}"), &[Role::Mx], d);
                mx.push((20, format!("mx2.{name}")));
            }
            let client = add_host(&mut hosts, format!("pc.{name}"), &[Role::Client], d);
            domains.push(Domain {
                name: name.clone(),
                mx,
                null_mx: false,
                a: BTreeMap::new(),
                cname: BTreeMap::new(),
                ttl: 300,
                ns,
                store: Some(store),
                submission: Some(submission),
            });
            users.extend(crate::bench::numbered_users(
                &name,
                d,
                client,
                USERS_PER_DOMAIN,
            ));
        }
        for (i, h) in hosts.iter().enumerate() {
            if let Some(d) = h.domain {
                domains[d].a.insert(h.name.clone(), ip(i));
            }
        }
        // A domain without hosts that publishes `MX 0 .`, served by the first DNS server.
        domains.push(Domain {
            name: NULL_MX_DOMAIN.into(),
            mx: Vec::new(),
            null_mx: true,
            a: BTreeMap::new(),
            cname: BTreeMap::new(),
            ttl: 300,
            ns: domains[0].ns,
            store: None,
            submission: None,
        });
        let n_hosts = hosts.len();
        let h = |i: usize| i % n_hosts;
        let u = |i: usize| i % users.len();
        let d = |i: usize| i % n_domains;

        let mut script = Vec::new();
        for (i, m) in self.mails.iter().enumerate() {
            let mut lists: [Vec<Address>; 3] = Default::default();
            for &(rc, field) in &m.to {
                let address = match rc {
                    Rcpt::User(x) => users[u(x)].address.clone(),
                    Rcpt::Unknown(x) => Address::parse(&format!("nobody@d{}.example", d(x)))
                        .expect("generated addresses are valid"),
                    Rcpt::NoSuchDomain => Address::parse("someone@nowhere.example")
                        .expect("generated addresses are valid"),
                    Rcpt::NullMx => Address::parse(&format!("someone@{NULL_MX_DOMAIN}"))
                        .expect("generated addresses are valid"),
                };
                lists[usize::from(field.min(2))].push(address);
            }
            if lists.iter().all(Vec::is_empty) {
                lists[0].push(users[0].address.clone());
            }
            let [to, cc, bcc] = lists;
            script.push(Action {
                at_ms: m.at_ms,
                kind: ActionKind::Send(Box::new(Send {
                    id: format!("m{}", i + 1),
                    from: u(m.from),
                    to,
                    cc,
                    bcc,
                    subject: format!("Message {}", i + 1),
                    body: "Hello from the storm.\n".into(),
                    header_from: None,
                    via: None,
                })),
            });
        }
        for &(user, at) in &self.fetches {
            script.push(Action {
                at_ms: at,
                kind: ActionKind::FetchPop3 {
                    user: u(user),
                    keep: false,
                },
            });
        }
        script.sort_by_key(|a| a.at_ms);

        let mut faults = Vec::new();
        let mut fault = |at_ms: u64, kind: FaultKind| faults.push(Fault { at_ms, kind });
        for &(x, at, len) in &self.downs {
            fault(at, FaultKind::HostDown(h(x)));
            if let Some(len) = len {
                fault(at + len, FaultKind::HostUp(h(x)));
            }
        }
        for &(a, b, at, len) in &self.cuts {
            if h(a) != h(b) {
                fault(at, FaultKind::LinkDown(h(a), h(b)));
                fault(at + len, FaultKind::LinkUp(h(a), h(b)));
            }
        }
        for &(x, at, delay, len) in &self.greylist_later {
            fault(at, FaultKind::Greylist(h(x), Some(delay)));
            fault(at + len, FaultKind::Greylist(h(x), None));
        }
        for &(x, at, len) in &self.full {
            fault(at, FaultKind::MailboxFull(u(x)));
            if let Some(len) = len {
                fault(at + len, FaultKind::MailboxFreed(u(x)));
            }
        }
        for &(x, at, change) in &self.dns {
            let dom = d(x);
            let mx_host = format!("mx.d{dom}.example");
            let record = match change {
                DnsFault::StaleA => (mx_host, RecordChange::A(Ipv4Addr::new(10, 255, 255, 1))),
                DnsFault::RestoreA => {
                    let real = domains[dom].a[&mx_host];
                    (mx_host, RecordChange::A(real))
                }
                DnsFault::MxElsewhere(other) => {
                    let target = if self.backup_mx.contains(&dom) {
                        format!("mx2.d{dom}.example")
                    } else {
                        format!("mx.d{}.example", d(other))
                    };
                    (
                        format!("d{dom}.example"),
                        RecordChange::Mx(vec![(10, target)]),
                    )
                }
                DnsFault::RemoveMx => (format!("d{dom}.example"), RecordChange::Remove),
            };
            fault(
                at,
                FaultKind::DnsChange {
                    domain: dom,
                    name: record.0,
                    record: record.1,
                },
            );
        }
        faults.sort_by_key(|f| f.at_ms);

        for &(x, delay) in &self.greylist {
            if hosts[h(x)].has(Role::Mx) {
                hosts[h(x)].greylist_ms = Some(delay);
            }
        }
        let mut links: Vec<Link> = Vec::new();
        for &(a, b, loss) in &self.lossy_links {
            let (a, b) = (h(a), h(b));
            let dup = links
                .iter()
                .any(|l| (l.a, l.b) == (a, b) || (l.a, l.b) == (b, a));
            if a != b && !dup {
                links.push(Link {
                    a,
                    b,
                    spec: LinkSpec {
                        latency_ms: (5, 80),
                        loss: loss.clamp(0.0, 0.9),
                    },
                });
            }
        }
        let retry = Retry {
            schedule_ms: if self.retry_schedule_ms.is_empty() {
                vec![30 * 60_000]
            } else {
                self.retry_schedule_ms.iter().map(|&w| w.max(1)).collect()
            },
            give_up_ms: self.give_up_ms,
        };
        // Like a file without run_until.
        let run_until_ms = self
            .run_until_ms
            .unwrap_or_else(|| retry.default_end(&faults, &script));
        Scenario {
            title: format!("storm {}", self.seed),
            description: format!(
                "A generated world under random faults (mailsim storm --seed {}).",
                self.seed
            ),
            seed: self.seed,
            domains,
            hosts,
            users,
            links,
            default_link: LinkSpec {
                latency_ms: (5, 80),
                loss: self.loss.clamp(0.0, 0.9),
            },
            retry,
            faults,
            script,
            expectations: Vec::new(),
            run_until_ms,
            lesson: Default::default(),
        }
    }
}

/// One (message, recipient) that did not end exactly one way, or a copy where none belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The message's name in the script (`m3`, `bounce of m3`).
    pub message: String,
    pub recipient: String,
    /// What was found.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}: {}", self.message, self.recipient, self.detail)
    }
}

/// How the (message, recipient) pairs of a run ended, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub messages: usize,
    pub pairs: usize,
    pub delivered: usize,
    pub queued: usize,
    pub bounced: usize,
    /// Refused by the sender's first server (or never handed over): not the world's to keep.
    pub refused: usize,
    /// The mail program saw an error, but the first server had already taken the message (its
    /// reply was lost with the connection, RFC 1047): it still ends exactly one way.
    pub refused_but_taken: usize,
    pub bounces: usize,
    pub bounces_discarded: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.messages += o.messages;
        self.pairs += o.pairs;
        self.delivered += o.delivered;
        self.queued += o.queued;
        self.bounced += o.bounced;
        self.refused += o.refused;
        self.refused_but_taken += o.refused_but_taken;
        self.bounces += o.bounces;
        self.bounces_discarded += o.bounces_discarded;
    }
}

/// The summary both `mailsim storm` forms print.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages to {} (message, recipient) pairs: delivered {}, queued {}, bounced {}, \
             refused by the first server {} (of which {} taken anyway, RFC 1047); \
             {} bounces ({} discarded)",
            self.messages,
            self.pairs,
            self.delivered,
            self.queued,
            self.bounced,
            self.refused,
            self.refused_but_taken,
            self.bounces,
            self.bounces_discarded
        )
    }
}

/// Where copies of each message are: (Message-ID, mailbox address) to places.
fn copies(sc: &Scenario, out: &Outcome) -> BTreeMap<(String, String), Vec<String>> {
    let mut at: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut put = |m: &Message, who: &str, place: String| {
        if let Some(id) = m.header("Message-ID") {
            at.entry((id, who.to_string())).or_default().push(place);
        }
    };
    for (h, store) in out.state.stores.iter().enumerate() {
        for (key, mb) in &store.mailboxes {
            for f in &mb.folders {
                for m in &f.messages {
                    put(
                        &m.message,
                        key,
                        format!("in {}'s {} on {}", key, f.name, sc.hosts[h].name),
                    );
                }
            }
        }
    }
    for (u, list) in out.state.downloaded.iter().enumerate() {
        let key = sc.users[u].address.key();
        for m in list {
            put(m, &key, format!("downloaded by {key}'s mail program"));
        }
    }
    at
}

/// Checks conservation in a run; returns what went wrong (nothing, when all is well).
pub fn check(sc: &Scenario, out: &Outcome) -> (Vec<Violation>, Tally) {
    let mut bad = Vec::new();
    let mut tally = Tally::default();
    let mut found = copies(sc, out);
    let sends: BTreeMap<&str, &Send> = sc
        .script
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Send(s) => Some((s.id.as_str(), &**s)),
            _ => None,
        })
        .collect();
    let last_seen = |mi: usize| -> String {
        out.trace
            .events
            .iter()
            .rev()
            .find(|e| e.message() == Some(mi as u32) && e.from().is_some())
            .map(|e| {
                let text = match out.trace.payload(e) {
                    crate::sim::Payload::Text(t) => t.lines().next().unwrap_or("").to_string(),
                    crate::sim::Payload::Dns(_) => "a DNS message".into(),
                };
                format!("last seen at {}: {text}", format_time(e.t_ms))
            })
            .unwrap_or_else(|| "never seen in the trace".into())
    };
    for (mi, m) in out.trace.messages.iter().enumerate() {
        let idx = Some(mi as u32);
        // A bounce goes to the original's sender, from `<>`.
        let (recipients, is_bounce) = match sends.get(m.name.as_str()) {
            Some(s) => (s.recipients(), false),
            None => {
                let Some(orig) = m.name.strip_prefix("bounce of ").and_then(|n| sends.get(n))
                else {
                    bad.push(Violation {
                        message: m.name.clone(),
                        recipient: String::new(),
                        detail: "a message in the trace that no Send wrote".into(),
                    });
                    continue;
                };
                (vec![sc.users[orig.from].address.clone()], true)
            }
        };
        if is_bounce {
            tally.bounces += 1;
        } else {
            tally.messages += 1;
        }
        for rcpt in &recipients {
            let key = rcpt.key();
            let places = found.remove(&(m.message_id.clone(), key.clone()));
            let delivered = places.as_ref().map_or(0, Vec::len);
            let queued: Vec<_> = out
                .state
                .queued
                .iter()
                .filter(|q| q.message == idx && q.recipient.key() == key)
                .collect();
            let bounced = out
                .state
                .bounced
                .iter()
                .filter(|b| b.message == idx && b.recipient.key() == key)
                .count();
            let refused = out
                .state
                .rejected
                .iter()
                .any(|r| r.0 == mi as u32 && r.1.key() == key);
            let total = delivered + queued.len() + bounced;
            let describe = || {
                let mut parts = vec![format!(
                    "delivered {delivered}, queued {}, bounced {bounced}",
                    queued.len()
                )];
                if refused {
                    parts.push("the mail program was told it failed".into());
                }
                parts.extend(places.iter().flatten().cloned());
                parts.extend(queued.iter().map(|q| {
                    format!(
                        "queued on {} as {}: {}",
                        sc.hosts[q.host].name, q.queue_id, q.reason
                    )
                }));
                if total == 0 {
                    parts.push(last_seen(mi));
                }
                parts.join("; ")
            };
            tally.pairs += 1;
            if refused {
                tally.refused += 1;
                if total == 1 {
                    tally.refused_but_taken += 1;
                }
            }
            let ok = if refused { total <= 1 } else { total == 1 };
            if !ok {
                bad.push(Violation {
                    message: m.name.clone(),
                    recipient: rcpt.to_string(),
                    detail: describe(),
                });
                continue;
            }
            if let Some(q) = queued.iter().find(|q| q.reason.trim().is_empty()) {
                bad.push(Violation {
                    message: m.name.clone(),
                    recipient: rcpt.to_string(),
                    detail: format!("queued on {} without a reason", sc.hosts[q.host].name),
                });
            }
            if is_bounce && bounced == 1 && !out.state.discarded.contains(&(mi as u32)) {
                bad.push(Violation {
                    message: m.name.clone(),
                    recipient: rcpt.to_string(),
                    detail: "a bounce that failed was not discarded".into(),
                });
            }
            tally.delivered += delivered;
            tally.queued += queued.len();
            tally.bounced += bounced;
            if is_bounce && bounced == 1 {
                tally.bounces_discarded += 1;
            }
        }
    }
    // Nothing is stuck: a queued message on a host that is up has its next attempt ahead, or
    // an attempt under way (an hour is far longer than any attempt takes).
    for q in &out.state.queued {
        let up_at_end = sc
            .faults
            .iter()
            .rev()
            .filter(|f| f.at_ms <= out.state.end_ms)
            .find_map(|f| match f.kind {
                FaultKind::HostDown(h) if h == q.host => Some(false),
                FaultKind::HostUp(h) if h == q.host => Some(true),
                _ => None,
            })
            .unwrap_or(true);
        if up_at_end && q.next_attempt_ms + 3_600_000 < out.state.end_ms {
            let name = q
                .message
                .map(|m| out.trace.messages[m as usize].name.clone())
                .unwrap_or_default();
            bad.push(Violation {
                message: name,
                recipient: q.recipient.to_string(),
                detail: format!(
                    "stuck in the queue of {} ({}): its next attempt was due at {}, the run ended at {}; {}",
                    sc.hosts[q.host].name,
                    q.queue_id,
                    format_time(q.next_attempt_ms),
                    format_time(out.state.end_ms),
                    q.reason
                ),
            });
        }
    }
    // Whatever copies are left reached a mailbox that was not a recipient.
    let names: BTreeMap<&str, &str> = out
        .trace
        .messages
        .iter()
        .map(|m| (m.message_id.as_str(), m.name.as_str()))
        .collect();
    for ((id, who), places) in found {
        if let Some(name) = names.get(id.as_str()) {
            bad.push(Violation {
                message: name.to_string(),
                recipient: who,
                detail: format!("not a recipient, yet the message is {}", places.join("; ")),
            });
        }
    }
    (bad, tally)
}

/// Runs one seed: the scenario, what went wrong, and the tally.
pub fn run_seed(seed: u64) -> (Scenario, Vec<Violation>, Tally) {
    let sc = Storm::random(seed).build();
    let out = crate::sim::run(&sc);
    let (bad, tally) = check(&sc, &out);
    (sc, bad, tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storms_are_valid_scenarios_and_read_back_as_themselves() {
        for seed in 0..40 {
            let sc = Storm::random(seed).build();
            let text = crate::scenario::to_ron(&sc);
            let back = crate::scenario::load_str(&text, "storm.ron")
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            assert_eq!(back, sc, "seed {seed}");
        }
    }

    /// A seed whose run delivers, and the first delivered copy: (host, mailbox key).
    fn delivered_run() -> (Scenario, Outcome, usize, String) {
        for seed in 0.. {
            let sc = Storm::random(seed).build();
            let out = crate::sim::run(&sc);
            assert!(check(&sc, &out).0.is_empty(), "seed {seed}");
            let found = out.state.stores.iter().enumerate().find_map(|(h, store)| {
                let (key, _) = store
                    .mailboxes
                    .iter()
                    .find(|(_, mb)| !mb.inbox().messages.is_empty())?;
                Some((h, key.clone()))
            });
            if let Some((h, key)) = found {
                return (sc, out, h, key);
            }
        }
        unreachable!()
    }

    #[test]
    fn the_check_sees_a_duplicate_a_loss_a_stray_copy_and_a_stuck_one() {
        let (sc, out, h, key) = delivered_run();
        let first = |o: &mut Outcome| {
            o.state.stores[h].mailboxes.get_mut(&key).unwrap().folders[0]
                .messages
                .remove(0)
        };
        // Duplicated.
        let mut dup = out.clone();
        let copy = dup.state.stores[h].mailboxes[&key].folders[0].messages[0].clone();
        dup.state.stores[h]
            .mailboxes
            .get_mut(&key)
            .unwrap()
            .inbox_mut()
            .messages
            .push(copy);
        let (bad, _) = check(&sc, &dup);
        assert!(bad[0].detail.starts_with("delivered 2,"), "{bad:?}");
        // Lost.
        let mut lost = out.clone();
        first(&mut lost);
        let (bad, _) = check(&sc, &lost);
        assert!(
            bad[0]
                .detail
                .starts_with("delivered 0, queued 0, bounced 0"),
            "{bad:?}"
        );
        assert!(bad[0].detail.contains("last seen at"), "{bad:?}");
        // Moved to someone who is not a recipient.
        let mut stray = out.clone();
        let m = first(&mut stray);
        let other = stray.state.stores[h]
            .mailboxes
            .keys()
            .find(|k| **k != key)
            .unwrap()
            .clone();
        stray.state.stores[h]
            .mailboxes
            .get_mut(&other)
            .unwrap()
            .inbox_mut()
            .messages
            .push(m);
        let (bad, _) = check(&sc, &stray);
        assert!(
            bad.iter().any(|v| v.detail.starts_with("not a recipient")),
            "{bad:?}"
        );
        // Forgotten in a queue: its next attempt long past, on a host that is up.
        let mut stuck = out.clone();
        stuck.state.end_ms += 86_400_000;
        stuck.state.queued.push(crate::sim::QueuedMail {
            host: h,
            queue_id: "Q1".into(),
            message: None,
            recipient: Address::parse(&key).unwrap(),
            reason: "waiting".into(),
            next_attempt_ms: 0,
        });
        let (bad, _) = check(&sc, &stuck);
        assert!(
            bad.iter()
                .any(|v| v.detail.starts_with("stuck in the queue")),
            "{bad:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_storm() {
        assert_eq!(Storm::random(7), Storm::random(7));
        assert_ne!(Storm::random(7), Storm::random(8));
    }
}
