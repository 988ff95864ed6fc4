//! The simulation as a whole: the scheduler driving the engines over the simulated network.
//! Throughput is in trace events, the unit `mailsim bench` reports.
//!
//!     cargo bench --no-default-features --bench simulation
//!     cargo bench --no-default-features --bench simulation -- large   # only the large worlds
//!
//! The large worlds (1,000 domains, 100,000 and 1,000,000 messages) take seconds a run, so they
//! are sampled ten times, one run a sample; the 1M world alone takes about seven minutes. Each
//! prints its peak memory (the process's high-water mark after its first run).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailsim::scenario::load_file;
use mailsim::sim::run;

/// The allocator the `mailsim` binary uses, so that the figures match `mailsim bench`.
#[global_allocator]
static GLOBAL: mailsim::alloc::MailsimAlloc = mailsim::alloc::MailsimAlloc;

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

/// The process's peak resident memory so far, from Linux's /proc.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Worlds of 1,000 domains (4,000 hosts) with 100k and 1M messages: issue 2's scale.
fn large(c: &mut Criterion) {
    let mut g = c.benchmark_group("large world, 1000 domains");
    g.sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));
    for messages in [100_000usize, 1_000_000] {
        let scenario = mailsim::bench::generate(1_000, messages, 1);
        let events = run(&scenario).trace.len() as u64;
        // Smaller worlds ran first, so the high-water mark now is this world's.
        if let Some(peak) = peak_memory_mib() {
            eprintln!(
                "large world, {messages} messages: {events} events, peak memory {peak:.0} MiB"
            );
        }
        g.throughput(Throughput::Elements(events));
        g.measurement_time(Duration::from_secs(if messages > 100_000 {
            400
        } else {
            40
        }));
        g.bench_with_input(BenchmarkId::new("messages", messages), &scenario, |b, s| {
            b.iter(|| black_box(run(black_box(s))))
        });
    }
    g.finish();
}

criterion_group!(benches, lessons, generated, large);
criterion_main!(benches);
