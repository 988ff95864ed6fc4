//! Loading scenarios while the window is open: a file dropped on the window, and the open file
//! reloaded when it changes on disk. A bad file shows its line:column error in the window and
//! the last good scenario stays on show.

use std::path::Path;
use std::time::SystemTime;

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;

use super::{Loaded, Playback};
use crate::scenario::load_file;
use crate::sim::run;

/// The last error from loading, shown over the diagram until a good file loads.
#[derive(Resource, Default, Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem(pub Option<String>);

/// When the file on show was last modified, to notice a save.
#[derive(Resource, Default)]
struct Watched {
    modified: Option<SystemTime>,
    checked_at: f64,
}

pub struct LoadingPlugin;

impl Plugin for LoadingPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<LoadProblem>()
            .init_resource::<Watched>()
            .add_systems(Update, (dropped_files, watch_file));
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads a file into the window, keeping the playback time; or reports why it cannot.
fn load_into(path: &Path, loaded: &mut Loaded, playback: &mut Playback, problem: &mut LoadProblem) {
    match load_file(path) {
        Ok(scenario) => {
            let outcome = run(&scenario);
            *loaded = Loaded {
                path: path.to_path_buf(),
                base: scenario.clone(),
                scenario,
                outcome,
            };
            playback.keep_time(&loaded.outcome.trace);
            problem.0 = None;
        }
        Err(e) => problem.0 = Some(e.to_string()),
    }
}

fn dropped_files(
    mut whatif: ResMut<super::whatif::WhatIf>,
    mut drops: MessageReader<FileDragAndDrop>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut problem: ResMut<LoadProblem>,
    mut watched: ResMut<Watched>,
) {
    for drop in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            playback.restart();
            load_into(path_buf, &mut loaded, &mut playback, &mut problem);
            watched.modified = modified(path_buf);
            // A new file starts without the previous one's what-if changes.
            whatif.changes.clear();
        }
    }
}

/// Twice a second, reloads the file if it was saved since.
fn watch_file(
    mut whatif: ResMut<super::whatif::WhatIf>,
    time: Res<Time>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut problem: ResMut<LoadProblem>,
    mut watched: ResMut<Watched>,
) {
    let now = time.elapsed_secs_f64();
    if now - watched.checked_at < 0.5 {
        return;
    }
    watched.checked_at = now;
    let path = loaded.path.clone();
    let current = modified(&path);
    if watched.modified.is_none() {
        watched.modified = current;
        return;
    }
    if current != watched.modified {
        watched.modified = current;
        load_into(
            &path,
            loaded.bypass_change_detection(),
            &mut playback,
            &mut problem,
        );
        if problem.0.is_none() {
            loaded.set_changed();
            // Keep the user's what-if changes on the edited file.
            whatif.dirty = !whatif.changes.is_empty();
        }
    }
}
