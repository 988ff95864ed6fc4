//! What-if: take the selected host down (or bring it back) at the moment on show. The
//! simulation runs again from the start with that fault added, which is cheap and
//! deterministic; the view keeps its place in time, and every change is listed and can be undone.

use bevy::prelude::*;

use super::{Loaded, Playback, SelectedHost};
use crate::scenario::{Fault, FaultKind, HostId, Scenario};
use crate::sim::{EventKind, Trace, run};

/// The user's changes on top of the scenario file, in the order they were made.
#[derive(Resource, Default, Clone, Debug, PartialEq, Eq)]
pub struct WhatIf {
    /// (when, what, down): the host or link goes down (true) or comes back up (false) then.
    pub changes: Vec<(u64, Target, bool)>,
    /// Set when the list changed and the run must be redone.
    pub dirty: bool,
}

/// The state of every host at the moment on show, replayed when a host that keeps mailboxes is
/// selected and the moment changes.
#[derive(Resource, Default)]
pub struct Replay {
    pub at_ms: Option<u64>,
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
    let at = playback.now_ms as u64;
    if !wanted {
        replay.state = None;
        replay.at_ms = None;
        return;
    }
    if replay.at_ms != Some(at) || loaded.is_changed() {
        replay.state = Some(crate::sim::run_until(&loaded.scenario, at).state);
        replay.at_ms = Some(at);
    }
}

pub struct WhatIfPlugin;

impl Plugin for WhatIfPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<WhatIf>()
            .init_resource::<Replay>()
            .add_systems(Update, (toggle_key, rerun, replay_to_cursor).chain());
    }
}

/// What a what-if change acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Host(HostId),
    /// A link, its two ends in ascending order.
    Link(HostId, HostId),
}

/// Whether a link is cut at the cursor, by the trace's LinkDown and LinkUp events.
pub fn link_is_down(trace: &Trace, (a, b): (HostId, HostId), cursor: Option<usize>) -> bool {
    let Some(c) = cursor else { return false };
    trace
        .events
        .iter()
        .take(c + 1)
        .fold(false, |down, e| match (e.kind, e.from, e.to) {
            (EventKind::LinkDown, Some(x), Some(y)) if (x.min(y), x.max(y)) == (a, b) => true,
            (EventKind::LinkUp, Some(x), Some(y)) if (x.min(y), x.max(y)) == (a, b) => false,
            _ => down,
        })
}

/// Whether a host is down at the cursor, by the trace's HostDown and HostUp events.
pub fn is_down(trace: &Trace, host: HostId, cursor: Option<usize>) -> bool {
    let Some(c) = cursor else { return false };
    trace
        .events
        .iter()
        .take(c + 1)
        .filter(|e| e.from == Some(host))
        .fold(false, |down, e| match e.kind {
            EventKind::HostDown => true,
            EventKind::HostUp => false,
            _ => down,
        })
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
) {
    if keys.just_pressed(KeyCode::KeyU) && whatif.changes.pop().is_some() {
        whatif.dirty = true;
    }
    if !keys.just_pressed(KeyCode::KeyD) {
        return;
    }
    let trace = &loaded.outcome.trace;
    let (target, down) = match (selected.0, link.0) {
        (Some(h), _) => (Target::Host(h), !is_down(trace, h, playback.cursor)),
        (None, Some(l)) => (
            Target::Link(l.0, l.1),
            !link_is_down(trace, l, playback.cursor),
        ),
        (None, None) => return,
    };
    whatif.changes.push((playback.now_ms as u64, target, down));
    whatif.dirty = true;
}

fn rerun(mut whatif: ResMut<WhatIf>, mut loaded: ResMut<Loaded>, mut playback: ResMut<Playback>) {
    if !whatif.dirty {
        return;
    }
    whatif.dirty = false;
    let scenario = with_changes(&loaded.base, &whatif.changes);
    loaded.outcome = run(&scenario);
    loaded.scenario = scenario;
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
        assert!(!link_is_down(trace, link, Some(cut - 1)));
        assert!(link_is_down(trace, link, Some(cut)));
        assert!(
            trace.events.iter().any(|e| e.kind == EventKind::Deferred),
            "the relay cannot get through and waits"
        );
    }
}
