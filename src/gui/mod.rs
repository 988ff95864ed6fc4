//! The window (feature `gui`): a Bevy app that plays a scenario's trace. This first version
//! shows the scenario and its narrated trace in panels; the animated diagram builds on it.

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::scenario::Scenario;
use crate::sim::{Outcome, caption::caption, format_time, run};

/// The scenario on show and the run it produced.
#[derive(Resource)]
pub struct Loaded {
    pub path: PathBuf,
    pub scenario: Scenario,
    pub outcome: Outcome,
}

/// Opens the window on a scenario; returns when the window closes.
pub fn open(scenario: Scenario, path: PathBuf) -> ExitCode {
    let outcome = run(&scenario);
    let title = format!("mailsim: {}", scenario.title);
    App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window { title, ..default() }),
            ..default()
        }))
        .add_plugins(EguiPlugin::default())
        .insert_resource(Loaded {
            path,
            scenario,
            outcome,
        })
        .add_systems(Startup, spawn_camera)
        .add_systems(EguiPrimaryContextPass, trace_panel)
        .run();
    ExitCode::SUCCESS
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn(Camera2d);
}

/// The scenario's description and its trace, one caption per event.
fn trace_panel(mut contexts: EguiContexts, loaded: Res<Loaded>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let scenario = &loaded.scenario;
    egui::Window::new(scenario.title.as_str())
        .default_pos([16.0, 16.0])
        .default_size([900.0, 640.0])
        .show(ctx, |ui| {
            ui.label(scenario.description.as_str());
            ui.small(loaded.path.display().to_string());
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| {
                let trace = &loaded.outcome.trace;
                for i in 0..trace.len() {
                    ui.horizontal(|ui| {
                        ui.monospace(format_time(trace.events[i].t_ms));
                        ui.label(caption(scenario, trace, i));
                    });
                }
            });
        });
    Ok(())
}
