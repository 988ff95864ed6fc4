//! The window's frame time (issue 3's scene): 200 hosts and about 1,000 messages in flight,
//! against 200 hosts with nothing in flight and an empty scene, at 1600x900. A frame is the
//! update of every system (diagram, panels, playback) and Bevy's rendering through Mesa's
//! lavapipe, waited for. Two measures: the wall time of the frame, and the CPU time of the
//! program's own threads (Mesa's threads left out: lavapipe's `llvmpipe-*` rasterisers and its
//! queue thread stand in for a GPU), which is what issue 3's target is about; and the CPU of
//! the main world's update alone (every system of the window, without the rendering).
//!
//! The camera draws into an image: a winit window's event loop can start only once in a
//! process, and criterion samples a closure many times. `mailsim bench-window` times the real
//! window. Linux only (the threads are listed from /proc; each one's CPU time is its CPU clock).
//!
//!     cargo bench --bench window

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mailsim::gui::bench::{HeadlessWindow, own_cpu_ns};

const SCENES: [(&str, usize, usize); 3] = [
    ("200 hosts, 1,000 messages in flight", 50, 1000),
    ("200 hosts, nothing in flight", 50, 0),
    ("empty", 0, 0),
];

fn window(c: &mut Criterion) {
    for (name, domains, messages) in SCENES {
        let mut window = HeadlessWindow::new(domains, messages, 200, (1600, 900));
        // Shaders, fonts and the first layouts before the timing.
        for _ in 0..30 {
            window.frame();
        }
        let mut group = c.benchmark_group(format!("window frame 1600x900, {name}"));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(15));
        group.bench_function("wall", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                (0..iters).for_each(|_| window.frame());
                start.elapsed()
            })
        });
        group.bench_function("CPU of the program's threads", |b| {
            b.iter_custom(|iters| {
                let start = own_cpu_ns().expect("Linux's /proc/self/task");
                (0..iters).for_each(|_| window.frame());
                Duration::from_nanos(own_cpu_ns().unwrap_or(start) - start)
            })
        });
        // The part that is the window's own logic, without Bevy's rendering and lavapipe's
        // driver (which runs on the rendering thread and stands in for a GPU's command
        // processor).
        group.bench_function("CPU of the main world's update", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| window.frame_in_parts().update).sum())
        });
        group.finish();
    }
}

criterion_group!(benches, window);
criterion_main!(benches);
