//! `mailsim bench`: a generated world of many domains, to measure the simulation's speed.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mail::Address;
use crate::scenario::{
    Action, ActionKind, Domain, Host, LinkSpec, Retry, Role, Scenario, Send, User,
};

/// Users per generated domain.
const USERS_PER_DOMAIN: usize = 4;

fn ip(n: usize) -> Ipv4Addr {
    let n = n as u32 + 1;
    Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// A world of `domains` providers, each with a DNS server, a submission server, an MX that
/// keeps the mailboxes, a client host and a few users; `messages` sends spread over an hour
/// between random users of different domains.
pub fn generate(domains: usize, messages: usize, seed: u64) -> Scenario {
    generate_within(domains, messages, seed, 3_600_000)
}

/// Like [`generate`], with the sends spread over `window_ms` of virtual time instead of an hour:
/// a narrow window puts many messages in flight at once (the window's benchmark wants 1,000).
pub fn generate_within(domains: usize, messages: usize, seed: u64, window_ms: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hosts = Vec::new();
    let mut doms = Vec::new();
    let mut users = Vec::new();
    for d in 0..domains {
        let name = format!("d{d}.example");
        let base = hosts.len();
        let role_hosts = [
            ("ns", vec![Role::Dns]),
            ("smtp", vec![Role::Submission]),
            ("mx", vec![Role::Mx, Role::Imap, Role::Pop3]),
            ("pc", vec![Role::Client]),
        ];
        let mut a = BTreeMap::new();
        for (k, (label, roles)) in role_hosts.into_iter().enumerate() {
            let host = format!("{label}.{name}");
            a.insert(host.clone(), ip(base + k));
            hosts.push(Host {
                name: host,
                ip: ip(base + k),
                roles,
                domain: Some(d),
                position: None,
                greylist_ms: None,
                max_message_size: crate::scenario::DEFAULT_MAX_MESSAGE_SIZE,
            });
        }
        doms.push(Domain {
            name: name.clone(),
            mx: vec![(10, format!("mx.{name}"))],
            null_mx: false,
            a,
            cname: BTreeMap::new(),
            ttl: 3600,
            ns: base,
            store: Some(base + 2),
            submission: Some(base + 1),
        });
        users.extend(numbered_users(&name, d, base + 3, USERS_PER_DOMAIN));
    }
    let mut script = Vec::new();
    for m in 0..messages {
        let from = rng.random_range(0..users.len());
        let mut to = rng.random_range(0..users.len());
        if domains > 1 {
            while users[to].domain == users[from].domain {
                to = rng.random_range(0..users.len());
            }
        }
        script.push(Action {
            at_ms: rng.random_range(0..window_ms.max(1)),
            kind: ActionKind::Send(Box::new(Send {
                id: format!("m{}", m + 1),
                from,
                to: vec![users[to].address.clone()],
                cc: vec![],
                bcc: vec![],
                subject: format!("Message {}", m + 1),
                body: "Hello from the benchmark.\n".into(),
                header_from: None,
                via: None,
            })),
        });
    }
    script.sort_by_key(|a| a.at_ms);
    Scenario {
        title: format!("benchmark: {domains} domains, {messages} messages"),
        description: String::new(),
        seed,
        domains: doms,
        hosts,
        users,
        links: Vec::new(),
        default_link: LinkSpec {
            latency_ms: (5, 50),
            loss: 0.0,
        },
        retry: Retry {
            schedule_ms: vec![30 * 60_000],
            give_up_ms: 5 * 86_400_000,
        },
        faults: Vec::new(),
        script,
        expectations: Vec::new(),
        // A week past the last send: time for the queues' retries and their give-up (five days).
        run_until_ms: window_ms.saturating_add(7 * 86_400_000),
        lesson: Default::default(),
    }
}

/// `user0@domain`, `user1@domain`, ... with passwords `pw0`, `pw1`, ...: the users of a
/// generated world (the benchmark's and the fault storm's).
pub fn numbered_users(
    domain_name: &str,
    domain: usize,
    client: usize,
    count: usize,
) -> impl Iterator<Item = User> + '_ {
    (0..count).map(move |u| User {
        address: Address::parse(&format!("user{u}@{domain_name}"))
            .expect("generated addresses are valid"),
        password: format!("pw{u}"),
        domain,
        client,
    })
}

/// The peak resident memory of this process in KiB, where the system tells it.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}
