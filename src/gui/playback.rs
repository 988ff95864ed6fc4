//! The time cursor: the window is a player over the trace. Stepping back moves the cursor;
//! nothing is undone. Keys: space, right, left, +, -, Home, ?.

use bevy::prelude::*;

use super::Loaded;
use crate::sim::{Protocol, Trace};

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

    /// After the trace was replaced (a reload, a what-if), stays at the same moment: the cursor
    /// becomes the last event at or before it.
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
    pub fn advance(&mut self, trace: &Trace, real_seconds: f64) {
        if !self.playing || trace.is_empty() {
            return;
        }
        if self.dwell > 0.0 {
            self.dwell -= real_seconds;
            return;
        }
        let before = self.cursor;
        let in_flight = trace
            .events
            .iter()
            .any(|e| (e.t_ms as f64) <= self.now_ms && self.now_ms < e.arrive_ms as f64);
        let next_event = self.cursor.map_or(0, |c| c + 1);
        let mut target =
            self.now_ms + real_seconds * VIRTUAL_MS_PER_SECOND * SPEEDS[self.speed] as f64;
        if let (false, Some(e)) = (in_flight, trace.events.get(next_event)) {
            target = target.max(e.t_ms as f64);
        }
        let end = trace.events.iter().map(|e| e.arrive_ms).max().unwrap_or(0) as f64;
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
                self.dwell = 1.5 + trace.events[c].text().len().min(200) as f64 / 40.0;
            }
        }
    }

    /// The exchange the cursor is on, for the transcript: a connection, or a DNS query and its
    /// answer (their numbers are counted apart, so the protocol tells them apart).
    pub fn current_exchange(&self, trace: &Trace) -> Option<Exchange> {
        let c = self.cursor?;
        trace.events[..=c].iter().rev().find_map(|e| {
            Some(Exchange {
                id: e.conn?,
                dns: e.protocol? == Protocol::Dns,
            })
        })
    }
}

/// A connection, or a DNS exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub id: u32,
    pub dns: bool,
}

impl Exchange {
    pub fn contains(&self, e: &crate::sim::TraceEvent) -> bool {
        e.conn == Some(self.id) && (e.protocol == Some(Protocol::Dns)) == self.dns
    }
}

/// Keyboard control and the clock.
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Playback>()
            .add_systems(Update, (keyboard, tick).chain());
    }
}

fn keyboard(keys: Res<ButtonInput<KeyCode>>, loaded: Res<Loaded>, mut playback: ResMut<Playback>) {
    let trace = &loaded.outcome.trace;
    if keys.just_pressed(KeyCode::Space) {
        playback.playing = !playback.playing;
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        playback.step_forward(trace);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        playback.step_back(trace);
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        playback.speed = (playback.speed + 1).min(SPEEDS.len() - 1);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        playback.speed = playback.speed.saturating_sub(1);
    }
    if keys.just_pressed(KeyCode::Home) {
        playback.restart();
    }
    if keys.just_pressed(KeyCode::Slash) || keys.just_pressed(KeyCode::F1) {
        playback.help = !playback.help;
    }
}

fn tick(time: Res<Time>, loaded: Res<Loaded>, mut playback: ResMut<Playback>) {
    let dt = time.delta_secs_f64();
    playback.advance(&loaded.outcome.trace, dt);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    fn loaded() -> Loaded {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let scenario = load_file(std::path::Path::new(path)).unwrap();
        let outcome = run(&scenario);
        Loaded {
            path: path.into(),
            base: scenario.clone(),
            scenario,
            outcome,
        }
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
            p.advance(trace, 0.05);
            if !p.playing {
                break;
            }
        }
        assert!(!p.playing);
        assert_eq!(p.cursor, Some(trace.len() - 1));
    }

    #[test]
    fn keys_drive_the_player_in_an_app() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(loaded())
            .init_resource::<ButtonInput<KeyCode>>()
            .add_plugins(PlaybackPlugin);
        app.update();
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::ArrowRight);
        app.update();
        assert_eq!(app.world().resource::<Playback>().cursor, Some(0));
        {
            let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
            keys.release(KeyCode::ArrowRight);
            keys.clear();
            keys.press(KeyCode::Space);
        }
        app.update();
        assert!(app.world().resource::<Playback>().playing);
    }
}
