//! `mailsim run FILE --quiz`: the transcript, stopping before each prediction's moment to ask
//! it; the answer is checked against what the trace then shows, and the score comes at the end.
//! `--teacher` prints the answers instead of asking.

use std::io::{BufRead, Write};

use super::{Pinned, answer_text, is_right, options};
use crate::scenario::Scenario;
use crate::sim::{Trace, render};

/// How the student did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuizScore {
    pub right: usize,
    pub asked: usize,
}

/// Plays the trace as a transcript, asking the lesson's questions on the way. An answer is
/// the number of an option or the option itself; an empty line or the end of input counts
/// as no answer. `echo` writes each answer back, for input that is not typed at a terminal.
pub fn run_quiz(
    scenario: &Scenario,
    trace: &Trace,
    pinned: &Pinned,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    teacher: bool,
    echo: bool,
) -> std::io::Result<QuizScore> {
    let mut score = QuizScore::default();
    let mut text = String::new();
    for i in 0..trace.events.len() {
        if let Some((k, p)) = pinned.prediction_at(i) {
            out.write_all(text.as_bytes())?;
            text.clear();
            let opts = options(scenario, p);
            writeln!(
                out,
                "\n?? Question {} of {}: {}",
                k + 1,
                pinned.predictions.len(),
                p.question
            )?;
            for (n, o) in opts.iter().enumerate() {
                writeln!(out, "   {}. {o}", n + 1)?;
            }
            let right = answer_text(scenario, &p.answer);
            if teacher {
                writeln!(out, "   answer: {right}")?;
            } else {
                let chosen = loop {
                    write!(out, "   your answer: ")?;
                    out.flush()?;
                    let mut line = String::new();
                    let read = input.read_line(&mut line)?;
                    let typed = line.trim();
                    if echo {
                        writeln!(out, "{typed}")?;
                    }
                    // A choice's number; else the answer typed out ("250" when 250 is a
                    // choice); a number that is neither is asked again.
                    match typed.parse::<usize>() {
                        Ok(n) if read > 0 && !opts.is_empty() => {
                            match opts.get(n.wrapping_sub(1)) {
                                Some(o) => break o.clone(),
                                None if opts.iter().any(|o| o == typed) => {
                                    break typed.to_string();
                                }
                                None => writeln!(
                                    out,
                                    "   There is no choice {n}: type 1 to {}, or one of the answers ({}).",
                                    opts.len(),
                                    opts.join(", ")
                                )?,
                            }
                        }
                        _ => break typed.to_string(),
                    }
                };
                score.asked += 1;
                if is_right(scenario, p, &chosen) {
                    score.right += 1;
                    writeln!(out, "   Right: {right}.")?;
                } else if chosen.is_empty() {
                    writeln!(out, "   No answer. It is {right}.")?;
                } else {
                    writeln!(out, "   Not quite: it is {right}, not {chosen}.")?;
                }
            }
            if !p.explain.is_empty() {
                writeln!(out, "   {}", p.explain)?;
            }
        }
        render::push_event_text(&mut text, scenario, trace, i, &pinned.captions);
    }
    out.write_all(text.as_bytes())?;
    if !teacher {
        writeln!(
            out,
            "\n# score: {} of {} predictions right",
            score.right, score.asked
        )?;
    }
    Ok(score)
}
