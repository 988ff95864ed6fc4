//! The time cursor: the window is a player over the trace. Stepping back moves the cursor;
//! nothing is undone. Keys: space, right, left, +, -, Home, ?.

use bevy::prelude::*;

pub use super::index::Exchange;
use super::{GuiSet, Loaded, TraceIndex};
use crate::sim::Trace;

/// Virtual milliseconds that pass per real second at speed 1.
const VIRTUAL_MS_PER_SECOND: f64 = 100.0;
pub const SPEEDS: [f32; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// Where the player stands.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct Playback {
    /// The virtual time shown.
    pub now_ms: f64,
    /// The latest event at or before `now_ms`; None before the first.
    pub cursor: Option<usize>,
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    pub help: bool,
    /// Presentation mode: dwell on each event's caption long enough to read it.
    pub present: bool,
    /// Real seconds left to dwell on the current caption.
    pub dwell: f64,
}

impl Default for Playback {
    fn default() -> Playback {
        Playback {
            now_ms: 0.0,
            cursor: None,
            playing: false,
            speed: 2,
            help: false,
            present: false,
            dwell: 0.0,
        }
    }
}

impl Playback {
    /// Back to the start, keeping the speed and the mode.
    pub fn restart(&mut self) {
        *self = Playback {
            speed: self.speed,
            present: self.present,
            playing: self.present,
            ..Playback::default()
        };
    }

    /// After the trace was replaced (a reload, a what-if, an edit), stays at the same moment:
    /// the cursor becomes the last event at or before it.
    pub fn keep_time(&mut self, trace: &Trace) {
        let now = self.now_ms;
        self.cursor = trace.events.iter().rposition(|e| e.t_ms as f64 <= now);
    }

    /// Moves to event `i`: the moment it happens.
    pub fn go_to(&mut self, trace: &Trace, i: usize) {
        if trace.is_empty() {
            return;
        }
        let i = i.min(trace.len() - 1);
        self.now_ms = trace.events[i].t_ms as f64;
        self.cursor = Some(i);
    }

    pub fn step_forward(&mut self, trace: &Trace) {
        let next = self.cursor.map_or(0, |c| c + 1);
        if next < trace.len() {
            self.go_to(trace, next);
        }
        self.playing = false;
    }

    pub fn step_back(&mut self, trace: &Trace) {
        match self.cursor {
            Some(0) | None => {
                *self = Playback {
                    speed: self.speed,
                    ..Playback::default()
                }
            }
            Some(c) => self.go_to(trace, c - 1),
        }
        self.playing = false;
    }

    /// Advances the clock while playing; idle stretches (nothing in flight) are skipped.
    pub fn advance(&mut self, trace: &Trace, index: &TraceIndex, real_seconds: f64) {
        if !self.playing || trace.is_empty() {
            return;
        }
        if self.dwell > 0.0 {
            self.dwell -= real_seconds;
            return;
        }
        let before = self.cursor;
        let next_event = self.cursor.map_or(0, |c| c + 1);
        let mut target =
            self.now_ms + real_seconds * VIRTUAL_MS_PER_SECOND * SPEEDS[self.speed] as f64;
        if let (false, Some(e)) = (index.busy(self.now_ms), trace.events.get(next_event)) {
            target = target.max(e.t_ms as f64);
        }
        let end = index.end_ms as f64;
        self.now_ms = target.min(end);
        while let Some(e) = trace.events.get(self.cursor.map_or(0, |c| c + 1)) {
            if e.t_ms as f64 <= self.now_ms {
                self.cursor = Some(self.cursor.map_or(0, |c| c + 1));
            } else {
                break;
            }
        }
        if self.now_ms >= end {
            self.playing = false;
        }
        if self.present && self.cursor != before {
            // Stop on the newest event: about a second and a half plus reading time.
            if let Some(c) = self.cursor {
                self.now_ms = trace.events[c].t_ms as f64;
                self.dwell = 1.5 + trace.text(&trace.events[c]).len().min(200) as f64 / 40.0;
            }
        }
    }

    /// The exchange the cursor is on, for the transcript: a connection, or a DNS query and its
    /// answer (their numbers are counted apart, so the protocol tells them apart).
    pub fn current_exchange(&self, index: &TraceIndex) -> Option<Exchange> {
        index.exchange_at(self.cursor?)
    }

    /// What the player's keys do: space, the arrows, + and -, Home, ? (or F1).
    pub fn keys(&mut self, trace: &Trace, keys: &ButtonInput<KeyCode>) {
        if keys.just_pressed(KeyCode::Space) {
            self.playing = !self.playing;
        }
        if keys.just_pressed(KeyCode::ArrowRight) {
            self.step_forward(trace);
        }
        if keys.just_pressed(KeyCode::ArrowLeft) {
            self.step_back(trace);
        }
        if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
            self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
        }
        if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
            self.speed = self.speed.saturating_sub(1);
        }
        if keys.just_pressed(KeyCode::Home) {
            self.restart();
        }
        if keys.just_pressed(KeyCode::Slash) || keys.just_pressed(KeyCode::F1) {
            self.help = !self.help;
        }
    }
}

/// Keyboard control and the clock.
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Playback>()
            .init_resource::<super::inspector::Queues>()
            .configure_sets(
                Update,
                (GuiSet::Input, GuiSet::Cursor, GuiSet::Draw).chain(),
            )
            .add_systems(Update, keyboard.in_set(GuiSet::Input))
            .add_systems(
                Update,
                (tick, super::inspector::follow_queues)
                    .chain()
                    .in_set(GuiSet::Cursor),
            );
    }
}

fn keyboard(
    keys: Res<ButtonInput<KeyCode>>,
    loaded: Res<Loaded>,
    mut playback: ResMut<Playback>,
    typing: super::Typing,
) {
    if typing.active() {
        return;
    }
    // Only a real change marks the player changed.
    let mut next = playback.clone();
    next.keys(&loaded.outcome.trace, &keys);
    playback.set_if_neq(next);
}

pub(super) fn tick(time: Res<Time>, loaded: Res<Loaded>, mut playback: ResMut<Playback>) {
    if !playback.playing {
        return;
    }
    let dt = time.delta_secs_f64();
    playback.advance(&loaded.outcome.trace, &loaded.index, dt);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bevy::time::TimeUpdateStrategy;

    use super::*;

    fn loaded() -> Loaded {
        let path = crate::scenario::LESSON_ONE;
        Loaded::new(path.into(), crate::scenario::lesson_one())
    }

    /// The player in an app with no window: MinimalPlugins, the keyboard as a resource, and a
    /// clock that moves 100 ms a frame.
    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
                100,
            )))
            .insert_resource(loaded())
            .init_resource::<ButtonInput<KeyCode>>()
            .add_plugins(PlaybackPlugin);
        app.update();
        app
    }

    /// Presses a key for one frame, as the input plugin would.
    fn tap(app: &mut App, key: KeyCode) {
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(key);
        app.update();
        let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        keys.release(key);
        keys.clear();
    }

    fn playback(app: &App) -> Playback {
        app.world().resource::<Playback>().clone()
    }

    #[test]
    fn stepping_forward_and_back_moves_the_cursor_only() {
        let l = loaded();
        let trace = &l.outcome.trace;
        let mut p = Playback::default();
        for _ in 0..5 {
            p.step_forward(trace);
        }
        assert_eq!(p.cursor, Some(4));
        assert_eq!(p.now_ms, trace.events[4].t_ms as f64);
        p.step_back(trace);
        p.step_back(trace);
        assert_eq!(p.cursor, Some(2));
        assert!(!p.playing);
        // Back past the first event: the start, before anything happened.
        for _ in 0..5 {
            p.step_back(trace);
        }
        assert_eq!((p.cursor, p.now_ms), (None, 0.0));
        // Forward past the last event: it stays on the last.
        p.go_to(trace, trace.len() - 1);
        p.step_forward(trace);
        assert_eq!(p.cursor, Some(trace.len() - 1));
    }

    #[test]
    fn playing_reaches_the_end_and_stops() {
        let l = loaded();
        let trace = &l.outcome.trace;
        let mut p = Playback {
            playing: true,
            speed: SPEEDS.len() - 1,
            ..Playback::default()
        };
        for _ in 0..100_000 {
            p.advance(trace, &l.index, 0.05);
            if !p.playing {
                break;
            }
        }
        assert!(!p.playing);
        assert_eq!(p.cursor, Some(trace.len() - 1));
        assert_eq!(p.now_ms, l.index.end_ms as f64);
    }

    #[test]
    fn the_clock_runs_at_the_chosen_speed_while_something_is_in_flight() {
        let l = loaded();
        let trace = &l.outcome.trace;
        // The first transmission that takes a while: its start is a busy moment.
        let busy = trace
            .events
            .iter()
            .position(|e| e.arrive_ms > e.t_ms + 10)
            .unwrap();
        for (speed, factor) in SPEEDS.iter().enumerate() {
            let mut p = Playback {
                playing: true,
                speed,
                ..Playback::default()
            };
            p.go_to(trace, busy);
            p.playing = true;
            let start = p.now_ms;
            p.advance(trace, &l.index, 0.01);
            let moved = p.now_ms - start;
            let expected = 0.01 * VIRTUAL_MS_PER_SECOND * *factor as f64;
            assert!((moved - expected).abs() < 1e-9, "speed {factor}: {moved}");
            assert_eq!(
                p.cursor,
                trace.events.iter().rposition(|e| e.t_ms as f64 <= p.now_ms)
            );
        }
    }

    #[test]
    fn an_idle_stretch_is_skipped_to_the_next_event() {
        let l = loaded();
        let trace = &l.outcome.trace;
        // Nothing is in flight before the first event at time 0 is sent; find an idle gap.
        let gap = (1..trace.len())
            .find(|&i| {
                let before = trace.events[..i].iter().map(|e| e.arrive_ms).max().unwrap();
                trace.events[i].t_ms > before + 1000
            })
            .expect("lesson 1 has a pause (Bob checks his mail later)");
        let mut p = Playback::default();
        p.go_to(trace, gap - 1);
        p.now_ms = trace.events[..gap]
            .iter()
            .map(|e| e.arrive_ms)
            .max()
            .unwrap() as f64;
        p.playing = true;
        p.advance(trace, &l.index, 0.01);
        // The pause takes no time to watch: the clock jumps to the next event (and the cursor
        // to the last event of that moment).
        let next = trace.events[gap].t_ms;
        assert_eq!(p.now_ms, next as f64);
        assert_eq!(p.cursor, trace.events.iter().rposition(|e| e.t_ms <= next));
    }

    #[test]
    fn keys_drive_the_player_in_an_app() {
        let mut app = app();
        let trace = app.world().resource::<Loaded>().outcome.trace.clone();
        tap(&mut app, KeyCode::ArrowRight);
        assert_eq!(playback(&app).cursor, Some(0));
        tap(&mut app, KeyCode::ArrowRight);
        tap(&mut app, KeyCode::ArrowRight);
        assert_eq!(playback(&app).cursor, Some(2));
        assert_eq!(playback(&app).now_ms, trace.events[2].t_ms as f64);
        tap(&mut app, KeyCode::ArrowLeft);
        assert_eq!(playback(&app).cursor, Some(1));
        // Speed: + and - step through 0.25x to 16x and stop at the ends.
        assert_eq!(SPEEDS[playback(&app).speed], 1.0);
        tap(&mut app, KeyCode::Equal);
        assert_eq!(SPEEDS[playback(&app).speed], 2.0);
        for _ in 0..10 {
            tap(&mut app, KeyCode::NumpadAdd);
        }
        assert_eq!(SPEEDS[playback(&app).speed], 16.0);
        for _ in 0..10 {
            tap(&mut app, KeyCode::Minus);
        }
        assert_eq!(SPEEDS[playback(&app).speed], 0.25);
        tap(&mut app, KeyCode::Equal);
        // ? shows and hides the help.
        tap(&mut app, KeyCode::Slash);
        assert!(playback(&app).help);
        tap(&mut app, KeyCode::Slash);
        assert!(!playback(&app).help);
        // Space plays: the clock moves with the frames (100 ms each) at 0.5x.
        tap(&mut app, KeyCode::Space);
        assert!(playback(&app).playing);
        let before = playback(&app).now_ms;
        app.update();
        let after = playback(&app).now_ms;
        assert!(after > before, "playing moves the clock");
        tap(&mut app, KeyCode::Space);
        assert!(!playback(&app).playing);
        let paused = playback(&app).now_ms;
        app.update();
        assert_eq!(playback(&app).now_ms, paused, "paused, the clock stands");
        // Home: back to the start, keeping the speed.
        tap(&mut app, KeyCode::Home);
        let p = playback(&app);
        assert_eq!((p.cursor, p.now_ms, SPEEDS[p.speed]), (None, 0.0, 0.5));
    }

    #[test]
    fn the_queues_follow_the_cursor_in_an_app() {
        let mut app = app();
        let (trace, index, hosts) = {
            let l = app.world().resource::<Loaded>();
            (
                l.outcome.trace.clone(),
                l.index.clone(),
                l.scenario.hosts.len(),
            )
        };
        let queued = trace
            .events
            .iter()
            .position(|e| e.kind == crate::sim::EventKind::Queued)
            .unwrap();
        for _ in 0..=queued {
            tap(&mut app, KeyCode::ArrowRight);
        }
        let queues = app.world().resource::<super::super::inspector::Queues>();
        let expected = super::super::inspector::queues_at(&trace, &index, queued, hosts);
        assert_eq!(queues.hosts.iter().map(Vec::len).sum::<usize>(), 1);
        assert_eq!(expected.iter().map(Vec::len).sum::<usize>(), 1);
        tap(&mut app, KeyCode::Home);
        let queues = app.world().resource::<super::super::inspector::Queues>();
        assert!(queues.hosts.iter().all(Vec::is_empty));
    }
}
