//! The lesson layer: a teacher's captions and prediction questions, pinned to moments of the
//! trace. A moment names an event by what it is (kind, protocol, hosts, some of its text), so
//! a lesson file never counts events by hand, and a run that no longer has the moment (the
//! teacher changed the topology) is reported instead of asking a question about nothing.

mod quiz;

use std::collections::BTreeMap;

pub use quiz::{QuizScore, run_quiz};

use crate::scenario::{Answer, Moment, Prediction, Scenario};
use crate::sim::{Trace, TraceEvent};

impl Moment {
    /// Whether an event is of this kind, protocol, hosts and text.
    pub fn matches(&self, trace: &Trace, ev: &TraceEvent) -> bool {
        self.kind.is_none_or(|k| k == ev.kind)
            && self.protocol.is_none_or(|p| Some(p) == ev.protocol)
            && self.from.is_none_or(|h| Some(h) == ev.from())
            && self.to.is_none_or(|h| Some(h) == ev.to())
            && self
                .text
                .as_ref()
                .is_none_or(|t| trace.text(ev).to_lowercase().contains(t.as_str()))
    }

    /// The index of the event this moment names, if the run has it.
    pub fn find(&self, trace: &Trace) -> Option<usize> {
        trace
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| self.matches(trace, e))
            .nth(self.nth - 1)
            .map(|(i, _)| i)
    }

    /// The moment in words, for errors: `the 2nd ServerLine from mx.beta.example containing "451"`.
    pub fn describe(&self, scenario: &Scenario) -> String {
        let mut out = format!("the {} ", ordinal(self.nth));
        match self.kind {
            Some(k) => out.push_str(&format!("{k:?} event")),
            None => out.push_str("event"),
        }
        if let Some(p) = self.protocol {
            out.push_str(&format!(" ({})", p.name()));
        }
        if let Some(h) = self.from {
            out.push_str(&format!(" from {}", scenario.hosts[h].name));
        }
        if let Some(h) = self.to {
            out.push_str(&format!(" to {}", scenario.hosts[h].name));
        }
        if let Some(t) = &self.text {
            out.push_str(&format!(" containing {t:?}"));
        }
        out
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A lesson laid on one run's trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pinned {
    /// The teacher's caption for an event, replacing the automatic one.
    pub captions: BTreeMap<usize, String>,
    /// Each prediction with the event that reveals its answer, in trace order.
    pub predictions: Vec<(usize, Prediction)>,
    /// Moments this run does not have, and predictions whose answer the trace contradicts.
    pub problems: Vec<String>,
}

impl Pinned {
    /// The prediction to ask before the cursor reaches event `i`, if any.
    pub fn prediction_at(&self, i: usize) -> Option<(usize, &Prediction)> {
        self.predictions
            .iter()
            .position(|(e, _)| *e == i)
            .map(|k| (k, &self.predictions[k].1))
    }
}

/// Lays the scenario's lesson on a trace, and checks each prediction's answer against it.
pub fn pin(scenario: &Scenario, trace: &Trace) -> Pinned {
    let mut pinned = Pinned::default();
    for c in &scenario.lesson.captions {
        match c.at.find(trace) {
            Some(i) => {
                pinned.captions.insert(i, c.text.clone());
            }
            None => pinned.problems.push(format!(
                "the caption \"{}\" is pinned to {}, which this run does not have",
                shorten(&c.text),
                c.at.describe(scenario)
            )),
        }
    }
    for p in &scenario.lesson.predictions {
        let Some(i) = p.at.find(trace) else {
            pinned.problems.push(format!(
                "the question \"{}\" is pinned to {}, which this run does not have",
                shorten(&p.question),
                p.at.describe(scenario)
            ));
            continue;
        };
        if !shows_answer(trace, &trace.events[i], &p.answer) {
            pinned.problems.push(format!(
                "the question \"{}\": the trace does not show the answer {} at {}",
                shorten(&p.question),
                answer_text(scenario, &p.answer),
                p.at.describe(scenario)
            ));
        }
        // A wrong choice the moment also shows would make the question unfair.
        if let Answer::Text(right) = &p.answer {
            let text = trace.text(&trace.events[i]).to_lowercase();
            for c in p.choices.iter().filter(|c| *c != right) {
                if text.contains(&c.to_lowercase()) {
                    pinned.problems.push(format!(
                        "the question \"{}\": its moment also shows the wrong choice {c:?}",
                        shorten(&p.question)
                    ));
                }
            }
        }
        if pinned.predictions.iter().any(|(e, _)| *e == i) {
            pinned.problems.push(format!(
                "the question \"{}\" is pinned to the same moment as another; only one is asked",
                shorten(&p.question)
            ));
        }
        pinned.predictions.push((i, p.clone()));
    }
    pinned.predictions.sort_by_key(|(i, _)| *i);
    pinned
}

/// Whether the revealing event shows this answer: a host it goes to (or, for a note at one
/// host, the host itself), or text it contains.
pub fn shows_answer(trace: &Trace, ev: &TraceEvent, answer: &Answer) -> bool {
    match answer {
        Answer::Host(h) => ev.to() == Some(*h) || (ev.to().is_none() && ev.from() == Some(*h)),
        Answer::Text(t) => trace.text(ev).to_lowercase().contains(&t.to_lowercase()),
    }
}

/// The right answer in words.
pub fn answer_text(scenario: &Scenario, answer: &Answer) -> String {
    match answer {
        Answer::Host(h) => scenario.hosts[*h].name.clone(),
        Answer::Text(t) => t.clone(),
    }
}

/// The options a student chooses from: the teacher's, or every host for a host answer.
pub fn options(scenario: &Scenario, p: &Prediction) -> Vec<String> {
    match (&p.answer, p.choices.is_empty()) {
        (Answer::Host(_), true) => scenario.hosts.iter().map(|h| h.name.clone()).collect(),
        _ => p.choices.clone(),
    }
}

/// Whether a chosen option is the right answer.
pub fn is_right(scenario: &Scenario, p: &Prediction, chosen: &str) -> bool {
    answer_text(scenario, &p.answer).eq_ignore_ascii_case(chosen.trim())
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}
