//! The simulation: the scheduler and world that drive the engines over simulated links, and
//! the trace they leave.

mod agenda;
mod dns_setup;
pub mod trace;
mod world;

pub use trace::{EventHead, EventKind, Payload, Protocol, Trace, TraceEvent, TracedMessage};
pub use world::{
    BouncedMail, FinalState, Front, Outcome, QueuedMail, SavedEntry, Snapshot, World, run,
    run_until,
};

/// A virtual time as `d+hh:mm:ss.mmm`, the way the transcript prints it.
pub fn format_time(ms: u64) -> String {
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    if d > 0 {
        format!("{d}d+{h:02}:{m:02}:{s:02}.{milli:03}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{milli:03}")
    }
}

pub mod caption;
pub mod render;
pub mod report;
