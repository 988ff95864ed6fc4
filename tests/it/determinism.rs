//! Same scenario and seed, same trace, byte for byte; another seed may differ.

use mailsim::scenario::load_file;
use mailsim::sim::{render, run};

use super::lessons::lesson_files;

#[test]
fn the_same_run_twice_gives_the_same_trace() {
    for file in lesson_files() {
        let scenario = load_file(&file).unwrap();
        let a = render::render_jsonl(&scenario, &run(&scenario).trace);
        let b = render::render_jsonl(&scenario, &run(&scenario).trace);
        assert!(
            a == b,
            "{}: two runs with seed {} differ",
            file.display(),
            scenario.seed
        );
    }
}

#[test]
fn the_seed_changes_the_latencies() {
    let mut scenario = load_file(&lesson_files()[0]).unwrap();
    let a = run(&scenario).trace;
    scenario.seed += 1;
    let b = run(&scenario).trace;
    assert_ne!(
        a.events.iter().map(|e| e.arrive_ms).collect::<Vec<_>>(),
        b.events.iter().map(|e| e.arrive_ms).collect::<Vec<_>>(),
        "seed {} and {} gave the same timing",
        scenario.seed - 1,
        scenario.seed
    );
}

#[test]
fn replaying_up_to_a_moment_agrees_with_the_whole_run() {
    use mailsim::sim::{EventKind, run_until};
    let scenario = load_file(&lesson_files()[0]).unwrap();
    let whole = run(&scenario);
    let delivered = whole
        .trace
        .events
        .iter()
        .find(|e| e.kind == EventKind::Delivered)
        .unwrap()
        .t_ms;
    let mx = scenario.host_by_name("mx.beta.example").unwrap();
    let inbox = |o: &mailsim::sim::Outcome| {
        o.state.stores[mx]
            .get("bob@beta.example")
            .unwrap()
            .inbox()
            .messages
            .len()
    };
    assert_eq!(inbox(&run_until(&scenario, delivered - 1)), 0);
    assert_eq!(inbox(&run_until(&scenario, delivered)), 1);
    let prefix = run_until(&scenario, delivered).trace;
    assert_eq!(
        prefix.events[..],
        whole.trace.events[..prefix.len()],
        "the replay is the start of the run"
    );
}
