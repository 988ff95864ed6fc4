//! Mail conservation: every message a server accepted ends delivered exactly once to each
//! recipient, still queued with a reason, or bounced; every bounce reaches the sender once, waits
//! in a queue, or (its sender being `<>`) is discarded. None lost, none duplicated.
//!
//! The worlds and the check are `mailsim::storm`'s; `mailsim storm --seeds 10000` runs the same
//! check on many more seeds, and `mailsim storm --seed S --print` replays one.

use mailsim::sim::run;
use mailsim::storm::{DnsFault, Mail, Rcpt, Storm, check};
use proptest::prelude::*;

/// The first event that happens before the one ahead of it: the clock must never run backwards
/// (events are ordered by virtual time, then sequence).
fn clock_runs_back(trace: &mailsim::sim::Trace) -> Option<String> {
    let e = &trace.events;
    (1..e.len()).find(|&i| e[i].t_ms < e[i - 1].t_ms).map(|i| {
        format!(
            "event {i} at {} ms follows one at {} ms",
            e[i].t_ms,
            e[i - 1].t_ms
        )
    })
}

/// Seeds of `mailsim storm`, as CI runs them (the full 10,000 run in release; see the README).
#[test]
fn storm_seeds_0_to_299_conserve_mail() {
    let mut failed = Vec::new();
    for seed in 0..300 {
        // As `run_seed` does, keeping the run for its clock.
        let sc = Storm::random(seed).build();
        let out = run(&sc);
        let (bad, _) = check(&sc, &out);
        if let Some(back) = clock_runs_back(&out.trace) {
            failed.push(format!("seed {seed}: the clock runs back: {back}"));
        }
        if !bad.is_empty() {
            let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
            failed.push(format!(
                "seed {seed} (mailsim storm --seed {seed} --print): {}",
                list.join("; ")
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

fn rcpt() -> impl Strategy<Value = (Rcpt, u8)> {
    (
        prop_oneof![
            8 => (0usize..64).prop_map(Rcpt::User),
            1 => (0usize..8).prop_map(Rcpt::Unknown),
            1 => Just(Rcpt::NoSuchDomain),
            1 => Just(Rcpt::NullMx),
        ],
        0u8..3,
    )
}

fn dns_fault() -> impl Strategy<Value = DnsFault> {
    prop_oneof![
        Just(DnsFault::StaleA),
        Just(DnsFault::RestoreA),
        Just(DnsFault::RemoveMx),
        (0usize..8).prop_map(DnsFault::MxElsewhere),
    ]
}

/// Any storm (indexes are taken modulo what the world has), so proptest can shrink a failure.
fn storm() -> impl Strategy<Value = Storm> {
    let hour = 3_600_000u64;
    let at = 0..3 * hour;
    let span = 1..20 * hour;
    let world = (
        2usize..5,
        prop::collection::vec(0usize..5, 0..3),
        prop::collection::vec(0usize..5, 0..2),
        any::<bool>(),
        any::<u64>(),
        prop::collection::vec(
            (0..hour, 0usize..64, prop::collection::vec(rcpt(), 1..4))
                .prop_map(|(at_ms, from, to)| Mail { at_ms, from, to }),
            1..12,
        ),
    );
    let faults = (
        prop_oneof![Just(0.0), 0.0..0.3f64],
        prop::collection::vec((0usize..64, 0usize..64, 0.0..0.6f64), 0..2),
        prop::collection::vec(
            (
                0usize..64,
                at.clone(),
                prop::option::weighted(0.9, span.clone()),
            ),
            0..4,
        ),
        prop::collection::vec((0usize..64, 0usize..64, at.clone(), span.clone()), 0..2),
        prop::collection::vec((0usize..64, 1..hour), 0..2),
        prop::collection::vec(
            (0usize..64, at.clone(), prop::option::weighted(0.8, span)),
            0..3,
        ),
        prop::collection::vec((0usize..8, at.clone(), dns_fault()), 0..3),
        prop::collection::vec((0usize..64, 0..3 * hour), 0..3),
        prop_oneof![Just(None), (2 * hour..3 * 86_400_000).prop_map(Some)],
    );
    (world, faults).prop_map(
        |(
            (domains, backup_mx, merged, shared_dns, seed, mails),
            (loss, lossy_links, downs, cuts, greylist, full, dns, fetches, run_until_ms),
        )| Storm {
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
            greylist_later: Vec::new(),
            full,
            dns,
            fetches,
            retry_schedule_ms: vec![10 * 60_000, 30 * 60_000],
            give_up_ms: 6 * 3_600_000,
            run_until_ms,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_message_is_lost_or_duplicated(s in storm()) {
        let sc = s.build();
        let out = run(&sc);
        let (bad, _) = check(&sc, &out);
        let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
        prop_assert!(bad.is_empty(), "{}; storm {:?}", list.join("; "), s);
        prop_assert!(clock_runs_back(&out.trace).is_none(), "{:?}; storm {:?}", clock_runs_back(&out.trace), s);
    }
}

/// `mailsim bench` delivers every message of its generated world, whether the sends are
/// spread over an hour, crowd into one second (`--spread`, which puts them all in flight at
/// once) or stretch over eleven days (the run lasts a week past the last send).
#[test]
fn the_benchmark_delivers_every_message_however_close_together_they_are_sent() {
    for spread in ["3600", "1", "1000000"] {
        let out = crate::mailsim(&[
            "bench",
            "--domains",
            "20",
            "--messages",
            "400",
            "--spread",
            spread,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "--spread {spread}: {stdout}");
        for line in [
            format!("messages sent    400, over {spread} s"),
            "messages in mailboxes 400".into(),
            "still queued     0".into(),
        ] {
            assert!(
                stdout.lines().any(|l| l == line),
                "--spread {spread}: no line {line:?} in\n{stdout}"
            );
        }
    }
    // No time at all, or more than a year, is refused.
    for spread in ["0", "31536001"] {
        let out = crate::mailsim(&["bench", "--spread", spread]);
        assert_eq!(out.status.code(), Some(2), "--spread {spread}");
    }
}
