//! Mail conservation: every message a server accepted ends delivered exactly once to each
//! recipient, still queued with a reason, or bounced. None lost, none duplicated.

use mailsim::bench::generate;
use mailsim::scenario::{Fault, FaultKind, LinkSpec, RecordChange, Scenario};
use mailsim::sim::{Outcome, run};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Storm {
    domains: usize,
    messages: usize,
    seed: u64,
    loss: f64,
    downs: Vec<(usize, u64, u64)>,
    greylist: Vec<(usize, u64)>,
    full: Vec<(usize, u64, u64)>,
    stale: Vec<(usize, u64)>,
    run_until: u64,
}

fn storm() -> impl Strategy<Value = Storm> {
    (
        2usize..5,
        1usize..12,
        any::<u64>(),
        prop_oneof![Just(0.0), 0.0..0.3f64],
    )
        .prop_flat_map(|(domains, messages, seed, loss)| {
            let hosts = domains * 4;
            let users = domains * 4;
            (
                Just((domains, messages, seed, loss)),
                prop::collection::vec((0..hosts, 0u64..7_200_000, 1u64..20_000_000), 0..4),
                prop::collection::vec((0..domains, 1u64..3_600_000), 0..2),
                prop::collection::vec((0..users, 0u64..3_600_000, 1u64..10_000_000), 0..2),
                prop::collection::vec((0..domains, 0u64..3_600_000), 0..2),
                prop_oneof![Just(u64::MAX), 3_600_000u64..20_000_000],
            )
                .prop_map(
                    |((domains, messages, seed, loss), downs, greylist, full, stale, run_until)| {
                        Storm {
                            domains,
                            messages,
                            seed,
                            loss,
                            downs,
                            greylist,
                            full,
                            stale,
                            run_until,
                        }
                    },
                )
        })
}

fn build(s: &Storm) -> Scenario {
    let mut sc = generate(s.domains, s.messages, s.seed);
    sc.default_link = LinkSpec {
        latency_ms: (5, 80),
        loss: s.loss,
    };
    for &(h, at, len) in &s.downs {
        sc.faults.push(Fault {
            at_ms: at,
            kind: FaultKind::HostDown(h),
        });
        sc.faults.push(Fault {
            at_ms: at + len,
            kind: FaultKind::HostUp(h),
        });
    }
    for &(d, delay) in &s.greylist {
        let mx = sc.domains[d].store.unwrap();
        sc.hosts[mx].greylist_ms = Some(delay);
    }
    for &(u, at, len) in &s.full {
        sc.faults.push(Fault {
            at_ms: at,
            kind: FaultKind::MailboxFull(u),
        });
        sc.faults.push(Fault {
            at_ms: at + len,
            kind: FaultKind::MailboxFreed(u),
        });
    }
    for &(d, at) in &s.stale {
        let name = format!("mx.{}", sc.domains[d].name);
        sc.faults.push(Fault {
            at_ms: at,
            kind: FaultKind::DnsChange {
                domain: d,
                name,
                record: RecordChange::A("10.255.255.1".parse().unwrap()),
            },
        });
    }
    sc.faults.sort_by_key(|f| f.at_ms);
    if s.run_until != u64::MAX {
        sc.run_until_ms = s.run_until;
    }
    sc
}

/// Checks conservation for each (message, recipient) the sender's server accepted.
fn conserved(sc: &Scenario, out: &Outcome) -> Result<(), String> {
    for (mi, m) in out.trace.messages.iter().enumerate() {
        if m.name.starts_with("bounce") {
            continue;
        }
        let send = sc
            .script
            .iter()
            .find_map(|a| match &a.kind {
                mailsim::scenario::ActionKind::Send(s) if s.id == m.name => Some(s),
                _ => None,
            })
            .ok_or("a traced message without a Send")?;
        for rcpt in send.recipients() {
            let rejected = out
                .state
                .rejected
                .iter()
                .any(|r| r.0 == mi as u32 && r.1.key() == rcpt.key());
            if rejected {
                continue;
            }
            let delivered: usize = out
                .state
                .stores
                .iter()
                .filter_map(|s| s.get(&rcpt.key()))
                .flat_map(|mb| mb.folders.iter().flat_map(|f| &f.messages))
                .filter(|sm| {
                    sm.message.header("Message-ID").as_deref() == Some(m.message_id.as_str())
                })
                .count();
            let queued = out
                .state
                .queued
                .iter()
                .filter(|q| q.message == Some(mi as u32) && q.recipient.key() == rcpt.key())
                .count();
            let bounced = out
                .state
                .bounced
                .iter()
                .filter(|b| b.message == Some(mi as u32) && b.recipient.key() == rcpt.key())
                .count();
            if delivered + queued + bounced != 1 {
                return Err(format!(
                    "{} to {rcpt}: delivered {delivered}, queued {queued}, bounced {bounced}",
                    m.name
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_message_is_lost_or_duplicated(s in storm()) {
        let sc = build(&s);
        let out = run(&sc);
        if let Err(e) = conserved(&sc, &out) {
            prop_assert!(false, "{e}; seed {}", sc.seed);
        }
    }
}
