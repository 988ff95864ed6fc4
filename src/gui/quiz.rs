//! Prediction questions in the window: playback stops just before a question's moment, the
//! student answers by choosing an option or by clicking a host on the diagram, the window says
//! whether it was right and why, and the score adds up. With `--teacher` the answers show.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::diagram::{Diagram, host_footprint};
use super::{Loaded, Margins, Playback, SelectedHost};
use crate::lesson::{Pinned, answer_text, is_right, options, pin};
use crate::scenario::Answer;

/// The lesson on the run on show, and the student's answers so far.
#[derive(Resource, Default)]
pub struct Quiz {
    pub pinned: Pinned,
    /// Prediction number to (the answer given, whether it was right).
    pub answers: BTreeMap<usize, (String, bool)>,
    /// The prediction waiting for an answer, or whose feedback is showing.
    pub open: Option<usize>,
    /// Show the right answers (teacher mode).
    pub teacher: bool,
    /// No questions at all: pictures for `mailsim shot` and exports show the run as it is.
    pub off: bool,
    /// The host selected when the question opened: a new click answers a host question.
    selected_then: Option<usize>,
}

impl Quiz {
    pub fn score(&self) -> (usize, usize) {
        let right = self.answers.values().filter(|(_, ok)| *ok).count();
        (right, self.answers.len())
    }

    /// Stops playback before the moment of a question not answered yet: the cursor may reach
    /// the event just before it, not the event itself. Returns the question's number.
    /// An open question not answered yet keeps holding: stepping or scrubbing cannot pass it.
    pub fn hold(&mut self, playback: &mut Playback, trace: &crate::sim::Trace) -> Option<usize> {
        if self.off {
            return None;
        }
        let cursor = playback.cursor?;
        let unanswered = |k: &usize| !self.answers.contains_key(k);
        let (k, event) = match self.open {
            Some(k) if unanswered(&k) => (k, self.pinned.predictions[k].0),
            // Nothing open, or an answer's feedback showing (the student may go on, but not past
            // the next question's moment): the first unanswered question the cursor reached.
            _ => self
                .pinned
                .predictions
                .iter()
                .enumerate()
                .find(|(k, (e, _))| *e <= cursor && unanswered(k))
                .map(|(k, (e, _))| (k, *e))?,
        };
        if cursor < event {
            return None;
        }
        let newly = self.open != Some(k);
        match event.checked_sub(1) {
            Some(before) => playback.go_to(trace, before),
            None => {
                playback.cursor = None;
                playback.now_ms = 0.0;
            }
        }
        playback.playing = false;
        self.open = Some(k);
        newly.then_some(k)
    }

    /// Where the event list stops, so that it does not give away the answers: the moment of
    /// the first question not answered yet. Teacher mode and `off` show everything.
    pub fn hides_from(&self) -> Option<usize> {
        if self.off || self.teacher {
            return None;
        }
        self.pinned
            .predictions
            .iter()
            .enumerate()
            .filter(|(k, _)| !self.answers.contains_key(k))
            .map(|(_, (event, _))| *event)
            .min()
    }

    /// Records an answer to the open question.
    pub fn answer(&mut self, scenario: &crate::scenario::Scenario, chosen: &str) {
        let Some(k) = self.open else { return };
        if self.answers.contains_key(&k) {
            return;
        }
        let right = is_right(scenario, &self.pinned.predictions[k].1, chosen);
        self.answers.insert(k, (chosen.to_string(), right));
    }
}

pub struct QuizPlugin {
    pub teacher: bool,
}

impl Plugin for QuizPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Quiz {
            teacher: self.teacher,
            ..Quiz::default()
        })
        // After the cursor moves and before anything is drawn: the moment stays hidden.
        .add_systems(
            Update,
            (repin, hold)
                .chain()
                .after(super::playback::tick)
                .before(super::inspector::follow_queues)
                .in_set(super::GuiSet::Cursor),
        )
        .add_systems(EguiPrimaryContextPass, question_window);
    }
}

/// A new run (a reload, a what-if, live events) gets the lesson laid on it again; answers
/// already given stay.
fn repin(loaded: Res<Loaded>, mut quiz: ResMut<Quiz>) {
    if loaded.is_changed() {
        quiz.pinned = pin(&loaded.scenario, &loaded.outcome.trace);
    }
}

fn hold(
    loaded: Res<Loaded>,
    selected: Res<SelectedHost>,
    mut quiz: ResMut<Quiz>,
    mut playback: ResMut<Playback>,
) {
    if quiz.hold(&mut playback, &loaded.outcome.trace).is_some() {
        quiz.selected_then = selected.0;
    }
    // A click on a host answers a host question.
    let Some(k) = quiz.open else { return };
    if quiz.answers.contains_key(&k) || selected.0 == quiz.selected_then {
        return;
    }
    if let (Some(h), Answer::Host(_)) = (selected.0, &quiz.pinned.predictions[k].1.answer) {
        let name = loaded.scenario.hosts[h].name.clone();
        quiz.answer(&loaded.scenario, &name);
    }
}

/// Where the question window goes: the first of the diagram area's corners and edge middles
/// (bottom middle first) where a window of `size` covers no host, as the answer may be one
/// of them; failing those, the same heights from the window's left edge, over the event list
/// (which hides what comes after the question anyway); or else the place that covers the
/// fewest hosts. `area` is the diagram's part of the window; window coordinates, top left.
fn question_spot(area: Rect, size: Vec2, hosts: &[Rect]) -> Vec2 {
    const GAP: f32 = 8.0;
    let (left, right) = (area.min.x + GAP, area.max.x - GAP - size.x);
    let middle = area.center().x - size.x / 2.0;
    let (top, bottom) = (area.min.y + GAP, area.max.y - GAP - size.y);
    let spots = [
        (middle, bottom),
        (middle, top),
        (left, bottom),
        (right, bottom),
        (left, top),
        (right, top),
        (GAP, top),
        (GAP, bottom),
    ];
    let covered = |&(x, y): &(f32, f32)| {
        let window = Rect::from_corners(Vec2::new(x, y), Vec2::new(x, y) + size);
        hosts
            .iter()
            .filter(|h| !h.intersect(window).is_empty())
            .count()
    };
    // `min_by_key` keeps the first of equals, so the order above is the preference.
    let (x, y) = spots
        .iter()
        .min_by_key(|s| covered(s))
        .copied()
        .unwrap_or((middle, bottom));
    Vec2::new(x.max(GAP), y.max(area.min.y))
}

/// The hosts' footprints on screen, in window coordinates.
fn hosts_on_screen(
    loaded: &Loaded,
    diagram: &Diagram,
    camera: &Camera,
    transform: &GlobalTransform,
) -> Vec<Rect> {
    diagram
        .layout
        .hosts
        .iter()
        .zip(&loaded.scenario.hosts)
        .filter_map(|(&at, host)| {
            let f = host_footprint(at, &host.name);
            // World y grows upwards, window y downwards: the corners swap.
            let a = camera
                .world_to_viewport(transform, f.min.extend(0.0))
                .ok()?;
            let b = camera
                .world_to_viewport(transform, f.max.extend(0.0))
                .ok()?;
            Some(Rect::from_corners(a, b))
        })
        .collect()
}

/// The question window's size before it has been shown once (it is then measured).
const QUESTION_SIZE: Vec2 = Vec2::new(540.0, 150.0);

/// How much larger the question's text is in presentation mode (not as large as the caption:
/// the window must still find room beside the hosts).
const PRESENT_SCALE: f32 = 1.3;

#[allow(clippy::too_many_arguments)]
fn question_window(
    mut contexts: EguiContexts,
    loaded: Res<Loaded>,
    mut quiz: ResMut<Quiz>,
    mut playback: ResMut<Playback>,
    diagram: Option<Res<Diagram>>,
    camera: Single<(&Camera, &GlobalTransform), With<Camera2d>>,
    window: Single<&Window, With<PrimaryWindow>>,
    margins: Res<Margins>,
    present: Res<super::Presentation>,
) -> Result {
    let Some(k) = quiz.open else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let scenario = &loaded.scenario;
    let (event, p) = quiz.pinned.predictions[k].clone();
    let total = quiz.pinned.predictions.len();
    let answered = quiz.answers.get(&k).cloned();
    let mut chosen = None;
    let mut go_on = false;
    // Where it hides no host (the answer may be one); the student may move it.
    let title = format!("Question {} of {total}", k + 1);
    let scale = if present.0 { PRESENT_SCALE } else { 1.0 };
    let size = ctx
        .memory(|m| m.area_rect(egui::Id::new(&title)))
        .map_or(QUESTION_SIZE * scale, |r| Vec2::new(r.width(), r.height()));
    let hosts = diagram.as_deref().map_or_else(Vec::new, |d| {
        let (camera, transform) = *camera;
        hosts_on_screen(&loaded, d, camera, transform)
    });
    let spot = question_spot(margins.free_area(&window), size, &hosts);
    egui::Window::new(&title)
        .collapsible(false)
        .default_pos([spot.x, spot.y])
        .show(ctx, |ui| {
            // Presentation mode's larger text, to be read from the back of a room.
            for font in ui.style_mut().text_styles.values_mut() {
                font.size *= scale;
            }
            ui.set_max_width(520.0 * scale);
            ui.label(egui::RichText::new(&p.question).size(18.0 * scale));
            ui.add_space(6.0);
            match &answered {
                None => {
                    if matches!(p.answer, Answer::Host(_)) {
                        ui.label("Click the host on the diagram, or choose:");
                    }
                    ui.horizontal_wrapped(|ui| {
                        for o in options(scenario, &p) {
                            if ui.button(&o).clicked() {
                                chosen = Some(o);
                            }
                        }
                    });
                    if quiz.teacher {
                        ui.label(
                            egui::RichText::new(format!(
                                "answer: {}",
                                answer_text(scenario, &p.answer)
                            ))
                            .italics(),
                        );
                    }
                }
                Some((given, right)) => {
                    let verdict = if *right {
                        egui::RichText::new(format!("Right: {given}."))
                            .color(egui::Color32::from_rgb(120, 220, 140))
                    } else {
                        egui::RichText::new(format!(
                            "Not quite: it is {}, not {given}.",
                            answer_text(scenario, &p.answer)
                        ))
                        .color(egui::Color32::from_rgb(255, 150, 120))
                    };
                    ui.label(verdict.size(16.0 * scale));
                    if !p.explain.is_empty() {
                        ui.label(&p.explain);
                    }
                    let (r, n) = quiz.score();
                    ui.small(format!("score so far: {r} of {n}"));
                    if ui.button("▶ show what happens").clicked() {
                        go_on = true;
                    }
                }
            }
        });
    if let Some(o) = chosen {
        quiz.answer(scenario, &o);
    }
    if go_on {
        quiz.open = None;
        playback.go_to(&loaded.outcome.trace, event);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run;

    #[test]
    fn the_question_goes_where_it_hides_no_host() {
        let area = Rect::new(300.0, 64.0, 1160.0, 804.0);
        let size = Vec2::new(540.0, 150.0);
        // Nothing in the way: the bottom middle.
        let spot = question_spot(area, size, &[]);
        assert_eq!(spot, Vec2::new(460.0, 804.0 - 8.0 - 150.0));
        // A host at the bottom middle: the top middle.
        let low = Rect::new(600.0, 700.0, 700.0, 780.0);
        assert_eq!(question_spot(area, size, &[low]).y, 72.0);
        // Hosts along the top and the bottom middle: a bottom corner.
        let row = [low, Rect::new(300.0, 70.0, 1160.0, 200.0)];
        let spot = question_spot(area, size, &row);
        let window = Rect::from_corners(spot, spot + size);
        assert!(row.iter().all(|h| h.intersect(window).is_empty()), "{spot}");
        // Hosts everywhere along the diagram's top and bottom: over the event list.
        let rows = [
            Rect::new(600.0, 70.0, 1160.0, 200.0),
            Rect::new(300.0, 650.0, 1160.0, 800.0),
        ];
        assert_eq!(question_spot(area, size, &rows), Vec2::new(8.0, 72.0));
    }

    fn lesson_one() -> (crate::scenario::Scenario, crate::sim::Outcome) {
        let scenario = crate::scenario::lesson_one();
        let outcome = run(&scenario);
        (scenario, outcome)
    }

    #[test]
    fn playback_stops_before_an_unanswered_question_and_goes_on_after_it() {
        let (scenario, outcome) = lesson_one();
        let trace = &outcome.trace;
        let mut quiz = Quiz {
            pinned: pin(&scenario, trace),
            ..Quiz::default()
        };
        let first = quiz.pinned.predictions[0].0;
        let mut playback = Playback {
            playing: true,
            ..Playback::default()
        };
        playback.go_to(trace, first + 3);
        assert_eq!(quiz.hold(&mut playback, trace), Some(0));
        assert_eq!(
            playback.cursor,
            Some(first - 1),
            "the moment itself is not shown yet"
        );
        assert!(!playback.playing);
        quiz.answer(&scenario, "ns.example");
        assert_eq!(quiz.score(), (1, 1));
        quiz.open = None;
        playback.go_to(trace, first + 3);
        assert_eq!(
            quiz.hold(&mut playback, trace),
            None,
            "an answered question does not stop again"
        );
    }

    #[test]
    fn the_next_question_holds_even_while_the_last_answer_is_showing() {
        let (scenario, outcome) = lesson_one();
        let trace = &outcome.trace;
        let mut quiz = Quiz {
            pinned: pin(&scenario, trace),
            ..Quiz::default()
        };
        let (first, second) = (quiz.pinned.predictions[0].0, quiz.pinned.predictions[1].0);
        let mut playback = Playback::default();
        playback.go_to(trace, first);
        assert_eq!(quiz.hold(&mut playback, trace), Some(0));
        quiz.answer(&scenario, "ns.example");
        // The feedback of the first is open; the student steps well past the second's moment.
        playback.go_to(trace, second + 5);
        assert_eq!(quiz.hold(&mut playback, trace), Some(1));
        assert_eq!(playback.cursor, Some(second - 1));
        assert_eq!(quiz.open, Some(1));
    }

    #[test]
    fn an_open_question_cannot_be_stepped_past() {
        let (scenario, outcome) = lesson_one();
        let trace = &outcome.trace;
        let mut quiz = Quiz {
            pinned: pin(&scenario, trace),
            ..Quiz::default()
        };
        let first = quiz.pinned.predictions[0].0;
        let mut playback = Playback::default();
        playback.go_to(trace, first);
        assert_eq!(quiz.hold(&mut playback, trace), Some(0));
        playback.go_to(trace, first + 10);
        assert_eq!(quiz.hold(&mut playback, trace), None, "already open");
        assert_eq!(playback.cursor, Some(first - 1), "held before the moment");
        quiz.answer(&scenario, "ns.example");
        // Free to go on, up to the next question's moment.
        let before_second = quiz.pinned.predictions[1].0 - 1;
        playback.go_to(trace, before_second);
        quiz.hold(&mut playback, trace);
        assert_eq!(
            playback.cursor,
            Some(before_second),
            "answered: free to go on"
        );
    }

    #[test]
    fn the_event_list_stops_at_the_next_unanswered_question() {
        let (scenario, outcome) = lesson_one();
        let mut quiz = Quiz {
            pinned: pin(&scenario, &outcome.trace),
            ..Quiz::default()
        };
        let moments: Vec<usize> = quiz.pinned.predictions.iter().map(|(e, _)| *e).collect();
        assert_eq!(quiz.hides_from(), moments.iter().min().copied());
        quiz.answers.insert(0, ("ns.example".into(), true));
        let rest = moments.iter().skip(1).min().copied();
        assert_eq!(
            quiz.hides_from(),
            rest,
            "an answered question no longer hides"
        );
        quiz.teacher = true;
        assert_eq!(quiz.hides_from(), None, "the teacher sees everything");
    }

    #[test]
    fn a_click_on_the_right_host_answers_a_host_question() {
        let (scenario, outcome) = lesson_one();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Quiz {
                pinned: pin(&scenario, &outcome.trace),
                ..Quiz::default()
            })
            .insert_resource(SelectedHost(None))
            .insert_resource(Playback::default())
            .add_systems(Update, hold);
        let first = app.world().resource::<Quiz>().pinned.predictions[0].0;
        drop(outcome);
        app.insert_resource(Loaded::new("lesson.ron".into(), scenario.clone()));
        {
            let loaded = app.world().resource::<Loaded>().outcome.trace.clone();
            app.world_mut()
                .resource_mut::<Playback>()
                .go_to(&loaded, first);
        }
        app.update();
        assert_eq!(app.world().resource::<Quiz>().open, Some(0));
        let ns = scenario
            .hosts
            .iter()
            .position(|h| h.name == "ns.example")
            .unwrap();
        app.world_mut().resource_mut::<SelectedHost>().0 = Some(ns);
        app.update();
        assert_eq!(app.world().resource::<Quiz>().score(), (1, 1));
    }
}
