//! The window in live mode (`mailsim serve --gui`): the trace grows while real mail programs
//! talk to the servers, and the view follows the newest event unless the student has stepped
//! back to look at something; stepping forward to the end follows again.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError};

use bevy::prelude::*;

use super::{Loaded, Playback, TraceIndex, app};
use crate::live::LiveUpdate;
use crate::scenario::Scenario;
use crate::sim::World;

/// New events from the world's thread. While it exists, nothing reruns the simulation: a
/// reload or a what-if would throw away what the real clients did.
#[derive(Resource)]
pub struct LiveFeed(Mutex<Receiver<LiveUpdate>>);

pub struct LivePlugin;

impl Plugin for LivePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PreUpdate, receive);
    }
}

/// Opens the window on a live trace; returns when the window closes.
pub fn open_live(scenario: Scenario, path: PathBuf, feed: Receiver<LiveUpdate>) -> ExitCode {
    // The window starts with what the world holds before anyone connects: empty mailboxes.
    let outcome = World::new(&scenario).finish();
    let index = TraceIndex::new(&outcome.trace, scenario.hosts.len());
    let loaded = Loaded {
        path,
        base: scenario.clone(),
        scenario,
        outcome,
        index,
    };
    let mut app = app(loaded, (1600, 900), false);
    app.insert_resource(LiveFeed(Mutex::new(feed)))
        .add_plugins(LivePlugin);
    app.run();
    ExitCode::SUCCESS
}

fn receive(
    feed: Res<LiveFeed>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    let Ok(rx) = feed.0.lock() else { return };
    let mut updates = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(u) => updates.push(u),
            Err(TryRecvError::Empty) => break,
            // The servers stopped (Ctrl-C at the terminal): the window goes with them.
            Err(TryRecvError::Disconnected) => {
                exit.write(AppExit::Success);
                break;
            }
        }
    }
    if updates.is_empty() {
        return;
    }
    let before = loaded.outcome.trace.len();
    let following = playback.cursor.is_none_or(|c| c + 1 >= before);
    let loaded = &mut *loaded;
    let trace = &mut loaded.outcome.trace;
    for update in updates {
        trace.append(&update.events);
        trace.messages = update.messages;
    }
    // The index is rebuilt for the grown trace: live traces stay small enough for that.
    loaded.index = TraceIndex::new(trace, loaded.scenario.hosts.len());
    if following && !trace.is_empty() {
        let last = trace.len() - 1;
        playback.go_to(trace, last);
        playback.playing = false;
    }
}
