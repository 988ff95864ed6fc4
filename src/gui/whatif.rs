//! What-if: take the selected host down (or bring it back) at the moment on show. The
//! simulation runs again from the start with that fault added, which is cheap and
//! deterministic; the view keeps its place in time, and every change is listed and can be undone.

use bevy::prelude::*;

use super::{GuiSet, Loaded, Playback, SelectedHost};
use crate::scenario::{Fault, FaultKind, HostId, Scenario};
#[cfg(test)]
use crate::sim::{EventKind, run};

/// The user's changes on top of the scenario file, in the order they were made.
#[derive(Resource, Default, Clone, Debug, PartialEq, Eq)]
pub struct WhatIf {
    /// (when, what, down): the host or link goes down (true) or comes back up (false) then.
    pub changes: Vec<(u64, Target, bool)>,
    /// Set when the list changed and the run must be redone.
    pub dirty: bool,
}

impl WhatIf {
    /// Takes a host or link down at the moment on show, or brings it back up if it is down then.
    pub fn toggle(&mut self, loaded: &Loaded, target: Target, playback: &Playback) {
        let (trace, index) = (&loaded.outcome.trace, &loaded.index);
        let down = match target {
            Target::Host(h) => !index.host_is_down(trace, h, playback.cursor),
            Target::Link(a, b) => !index.link_is_down(trace, (a, b), playback.cursor),
        };
        self.changes.push((playback.now_ms as u64, target, down));
        self.dirty = true;
    }

    /// Takes back the last change.
    pub fn undo(&mut self) {
        if self.changes.pop().is_some() {
            self.dirty = true;
        }
    }
}

/// The state of every host at the moment on show, replayed when a host that keeps mailboxes is
/// selected and the moment changes.
#[derive(Resource, Default)]
pub struct Replay {
    /// The cursor and the run it was replayed for.
    pub cursor: Option<usize>,
    pub generation: u64,
    pub state: Option<crate::sim::FinalState>,
}

fn replay_to_cursor(
    selected: Res<SelectedHost>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    mut replay: ResMut<Replay>,
) {
    let wanted = selected
        .0
        .is_some_and(|h| loaded.scenario.hosts[h].is_store());
    if !wanted {
        replay.state = None;
        replay.cursor = None;
        return;
    }
    // Mailboxes change only with events, so the run is redone only when the cursor moves.
    let Some(c) = playback.cursor else {
        replay.state = None;
        replay.cursor = None;
        return;
    };
    if replay.cursor != Some(c) || replay.generation != loaded.index.generation {
        let at = loaded.outcome.trace.events[c].t_ms;
        replay.state = Some(crate::sim::run_until(&loaded.scenario, at).state);
        replay.cursor = Some(c);
        replay.generation = loaded.index.generation;
    }
}

pub struct WhatIfPlugin;

impl Plugin for WhatIfPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<WhatIf>()
            .init_resource::<Replay>()
            // A what-if reruns the simulation from the start; live mode has real clients instead.
            .add_systems(
                Update,
                // While the network is being edited, D and U do nothing: what-if changes sit
                // on top of a finished network.
                (toggle_key.run_if(super::editor::closed), rerun)
                    .chain()
                    .run_if(not(resource_exists::<super::LiveFeed>))
                    .in_set(GuiSet::Input),
            )
            .add_systems(Update, replay_to_cursor.in_set(GuiSet::Cursor));
    }
}

/// What a what-if change acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Host(HostId),
    /// A link, its two ends in ascending order.
    Link(HostId, HostId),
}

/// The scenario with the what-if faults added.
pub fn with_changes(base: &Scenario, changes: &[(u64, Target, bool)]) -> Scenario {
    let mut scenario = base.clone();
    for &(at_ms, target, down) in changes {
        let kind = match (target, down) {
            (Target::Host(h), true) => FaultKind::HostDown(h),
            (Target::Host(h), false) => FaultKind::HostUp(h),
            (Target::Link(a, b), true) => FaultKind::LinkDown(a, b),
            (Target::Link(a, b), false) => FaultKind::LinkUp(a, b),
        };
        scenario.faults.push(Fault { at_ms, kind });
    }
    // Stable: at equal times the file's faults come first, then the changes in the order made.
    scenario.faults.sort_by_key(|f| f.at_ms);
    scenario
}

/// `D` takes the selected host down at the current moment, or brings it back up; `U` undoes the
/// last change.
fn toggle_key(
    keys: Res<ButtonInput<KeyCode>>,
    selected: Res<SelectedHost>,
    link: Res<super::SelectedLink>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    mut whatif: ResMut<WhatIf>,
    typing: super::Typing,
) {
    if typing.active() {
        return;
    }
    if keys.just_pressed(KeyCode::KeyU) {
        whatif.undo();
    }
    if !keys.just_pressed(KeyCode::KeyD) {
        return;
    }
    let target = match (selected.0, link.0) {
        (Some(h), _) => Target::Host(h),
        (None, Some(l)) => Target::Link(l.0, l.1),
        (None, None) => return,
    };
    whatif.toggle(&loaded, target, &playback);
}

fn rerun(mut whatif: ResMut<WhatIf>, mut loaded: ResMut<Loaded>, mut playback: ResMut<Playback>) {
    if !whatif.dirty {
        return;
    }
    whatif.dirty = false;
    let scenario = with_changes(&loaded.base, &whatif.changes);
    loaded.rerun(scenario);
    playback.keep_time(&loaded.outcome.trace);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::report;

    #[test]
    fn taking_the_mx_down_for_good_bounces_after_the_give_up_time_and_undo_restores_the_run() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let base = load_file(std::path::Path::new(path)).unwrap();
        let mx = base.host_by_name("mx.beta.example").unwrap();
        let changed = with_changes(&base, &[(100, Target::Host(mx), true)]);
        let outcome = run(&changed);
        // Down for good: the queue retries for the give-up time, then bounces (RFC 5321 4.5.4.1).
        assert!(
            outcome
                .state
                .bounced
                .iter()
                .any(|b| b.recipient.to_string() == "bob@beta.example" && b.status == "4.4.7")
        );
        assert!(
            report::check(&changed, &outcome).iter().any(|v| !v.ok),
            "the lesson's expectation fails with the MX down"
        );
        let undone = with_changes(&base, &[]);
        assert_eq!(
            format!("{:?}", run(&undone).trace),
            format!("{:?}", run(&base).trace)
        );
    }

    #[test]
    fn cutting_a_link_shows_in_the_trace_and_the_message_waits() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let base = load_file(std::path::Path::new(path)).unwrap();
        let smtp = base.host_by_name("smtp.alpha.example").unwrap();
        let mx = base.host_by_name("mx.beta.example").unwrap();
        let link = (smtp.min(mx), smtp.max(mx));
        let outcome = run(&with_changes(
            &base,
            &[(100, Target::Link(link.0, link.1), true)],
        ));
        let trace = &outcome.trace;
        let cut = trace
            .events
            .iter()
            .position(|e| e.kind == EventKind::LinkDown)
            .unwrap();
        let index = crate::gui::TraceIndex::new(trace, base.hosts.len());
        assert!(!index.link_is_down(trace, link, Some(cut - 1)));
        assert!(index.link_is_down(trace, link, Some(cut)));
        assert!(
            trace.events.iter().any(|e| e.kind == EventKind::Deferred),
            "the relay cannot get through and waits"
        );
    }

    /// What-if in an app with no window: the keys as a resource, a host or link selected.
    fn app() -> App {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let scenario = load_file(std::path::Path::new(path)).unwrap();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<SelectedHost>()
            .init_resource::<super::super::SelectedLink>()
            .insert_resource(Loaded::new(path.into(), scenario))
            .add_plugins((super::super::playback::PlaybackPlugin, WhatIfPlugin));
        app.update();
        app
    }

    fn tap(app: &mut App, key: KeyCode) {
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(key);
        app.update();
        let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        keys.release(key);
        keys.clear();
    }

    fn trace_of(app: &App) -> String {
        format!("{:?}", app.world().resource::<Loaded>().outcome.trace)
    }

    #[test]
    fn d_takes_the_selected_host_down_now_again_brings_it_up_and_u_undoes() {
        let mut app = app();
        let original = trace_of(&app);
        let mx = {
            let l = app.world().resource::<Loaded>();
            l.scenario.host_by_name("mx.beta.example").unwrap()
        };
        // Nothing selected: D does nothing.
        tap(&mut app, KeyCode::KeyD);
        assert!(app.world().resource::<WhatIf>().changes.is_empty());
        // Step to the fifth event, select the MX, press D.
        for _ in 0..5 {
            tap(&mut app, KeyCode::ArrowRight);
        }
        let at = app.world().resource::<Playback>().clone();
        app.world_mut().resource_mut::<SelectedHost>().0 = Some(mx);
        tap(&mut app, KeyCode::KeyD);
        let changes = app.world().resource::<WhatIf>().changes.clone();
        assert_eq!(changes, [(at.now_ms as u64, Target::Host(mx), true)]);
        // The run was redone with the fault, and the view kept its moment.
        assert_ne!(trace_of(&app), original);
        let p = app.world().resource::<Playback>().clone();
        assert_eq!(p.now_ms, at.now_ms);
        let l = app.world().resource::<Loaded>();
        assert!(l.index.host_is_down(&l.outcome.trace, mx, p.cursor));
        assert!(l.scenario.faults.len() > l.base.faults.len());
        // D again at the same moment: it comes back up.
        tap(&mut app, KeyCode::KeyD);
        let changes = app.world().resource::<WhatIf>().changes.clone();
        assert_eq!(changes.len(), 2);
        assert!(!changes[1].2, "the second change brings the host up");
        // U twice: the list is empty and the run is the file's again.
        tap(&mut app, KeyCode::KeyU);
        assert_eq!(app.world().resource::<WhatIf>().changes.len(), 1);
        tap(&mut app, KeyCode::KeyU);
        assert!(app.world().resource::<WhatIf>().changes.is_empty());
        assert_eq!(trace_of(&app), original);
        // U with nothing to undo changes nothing.
        tap(&mut app, KeyCode::KeyU);
        assert!(!app.world().resource::<WhatIf>().dirty);
    }

    #[test]
    fn d_cuts_the_selected_link_when_no_host_is_selected() {
        let mut app = app();
        let link = {
            let l = app.world().resource::<Loaded>();
            let a = l.scenario.host_by_name("smtp.alpha.example").unwrap();
            let b = l.scenario.host_by_name("mx.beta.example").unwrap();
            (a.min(b), a.max(b))
        };
        app.world_mut()
            .resource_mut::<super::super::SelectedLink>()
            .0 = Some(link);
        tap(&mut app, KeyCode::ArrowRight);
        tap(&mut app, KeyCode::KeyD);
        assert_eq!(
            app.world().resource::<WhatIf>().changes[0].1,
            Target::Link(link.0, link.1)
        );
        let l = app.world().resource::<Loaded>();
        assert!(
            l.outcome
                .trace
                .events
                .iter()
                .any(|e| e.kind == EventKind::LinkDown),
            "the cut is in the new run's trace"
        );
    }
}
