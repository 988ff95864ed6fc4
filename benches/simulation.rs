//! The simulation as a whole: the scheduler driving the engines over the simulated network.
//! Throughput is in trace events, the unit `mailsim bench` reports.
//!
//!     cargo bench --no-default-features --bench simulation
//!
//! The 100k- and 1M-message worlds take seconds each, too long to sample many times: BENCHMARKS.md
//! measures them with `mailsim bench`, which also reports peak memory.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailsim::scenario::load_file;
use mailsim::sim::run;

/// The allocator the `mailsim` binary uses, so that the figures match `mailsim bench`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A lesson: a handful of hosts, a few messages, every kind of event.
fn lessons(c: &mut Criterion) {
    let mut g = c.benchmark_group("lesson");
    for name in [
        "01-alice-writes-to-bob",
        "08-server-down-queued",
        "13-several-recipients-bcc",
    ] {
        let path = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
        let scenario = load_file(std::path::Path::new(&path)).expect("a bundled lesson loads");
        let events = run(&scenario).trace.len() as u64;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| b.iter(|| black_box(run(black_box(&scenario)))));
    }
    g.finish();
}

/// Generated worlds of 100 domains (400 hosts) with 1k and 10k messages.
fn generated(c: &mut Criterion) {
    let mut g = c.benchmark_group("generated world, 100 domains");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for messages in [1_000usize, 10_000] {
        let scenario = mailsim::bench::generate(100, messages, 1);
        let events = run(&scenario).trace.len() as u64;
        g.throughput(Throughput::Elements(events));
        g.bench_with_input(BenchmarkId::new("messages", messages), &scenario, |b, s| {
            b.iter(|| black_box(run(black_box(s))))
        });
    }
    g.finish();
}

criterion_group!(benches, lessons, generated);
criterion_main!(benches);
