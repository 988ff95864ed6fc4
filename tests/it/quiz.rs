//! The lesson layer: teachers' captions replace the automatic ones, predictions are asked
//! before their moment and scored, and a lesson that no longer fits its run is reported.

use std::io::Cursor;

use mailsim::lesson::{pin, run_quiz, shows_answer};
use mailsim::scenario::load_file;
use mailsim::sim::{report, run};

use crate::lessons::lesson_files;

#[test]
fn every_prediction_answer_is_what_the_trace_shows() {
    let mut questions = 0;
    for path in lesson_files() {
        let scenario = load_file(&path).unwrap();
        let outcome = run(&scenario);
        let pinned = pin(&scenario, &outcome.trace);
        assert!(
            pinned.problems.is_empty(),
            "{}: {:?}",
            path.display(),
            pinned.problems
        );
        for (i, p) in &pinned.predictions {
            assert!(
                shows_answer(&outcome.trace, &outcome.trace.events[*i], &p.answer),
                "{}: {}",
                path.display(),
                p.question
            );
            questions += 1;
        }
    }
    assert!(questions >= 3, "the lessons ask questions");
}

/// Lesson 1's quiz with these typed answers: (right, asked) and what it printed.
fn lesson_1_quiz(answers: &str) -> ((usize, usize), String) {
    let scenario = load_file("scenarios/01-alice-writes-to-bob.ron".as_ref()).unwrap();
    let outcome = run(&scenario);
    let pinned = pin(&scenario, &outcome.trace);
    let mut out = Vec::new();
    let score = run_quiz(
        &scenario,
        &outcome.trace,
        &pinned,
        &mut Cursor::new(answers.to_string()),
        &mut out,
        false,
        true,
    )
    .unwrap();
    ((score.right, score.asked), String::from_utf8(out).unwrap())
}

#[test]
fn the_quiz_asks_before_the_moment_and_scores_the_answers() {
    // By number, by name, and a wrong one.
    let (score, text) = lesson_1_quiz("3\nlaptop.beta.example\n250\n");
    assert_eq!(score, (2, 3));
    let question = text.find("?? Question 1 of 3").unwrap();
    let query = text.find("smtp.alpha.example -> ns.example  DNS").unwrap();
    assert!(
        question < query,
        "the question comes before the moment it asks about"
    );
    assert!(text.contains("Not quite: it is mx.beta.example, not laptop.beta.example."));
    assert!(text.contains("# score: 2 of 3 predictions right"));
    // The teacher's caption replaces the automatic one at its moment.
    assert!(text.contains("-- smtp.alpha.example has the message but not the way to Bob"));
}

#[test]
fn a_choice_number_that_is_not_offered_is_asked_again() {
    // 9 is no choice; 3 is the third; "250" is a choice's text (question 3 offers four).
    let (score, text) = lesson_1_quiz("9\n3\nlaptop.beta.example\n250\n");
    assert_eq!(score, (2, 3));
    assert!(text.contains("There is no choice 9"), "{text}");
    assert!(!text.contains("not 9"), "{text}");
}

#[test]
fn teacher_mode_shows_the_answers_without_asking() {
    let scenario = load_file("scenarios/01-alice-writes-to-bob.ron".as_ref()).unwrap();
    let outcome = run(&scenario);
    let pinned = pin(&scenario, &outcome.trace);
    let mut out = Vec::new();
    let score = run_quiz(
        &scenario,
        &outcome.trace,
        &pinned,
        &mut Cursor::new(""),
        &mut out,
        true,
        false,
    )
    .unwrap();
    assert_eq!(score.asked, 0);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("answer: ns.example"));
    assert!(text.contains("answer: 250"));
}

#[test]
fn a_lesson_whose_moment_is_gone_fails_its_check() {
    let mut scenario = load_file("scenarios/01-alice-writes-to-bob.ron".as_ref()).unwrap();
    // Bob's server now refuses everyone: the 250 the third question is about never comes.
    let bob = scenario
        .users
        .iter()
        .position(|u| u.address.local() == "bob")
        .unwrap();
    scenario.users[bob].address = mailsim::mail::Address::parse("robert@beta.example").unwrap();
    let outcome = run(&scenario);
    let verdicts = report::check(&scenario, &outcome);
    let lesson = verdicts
        .iter()
        .find(|v| v.text.contains("fit this run"))
        .unwrap();
    assert!(!lesson.ok);
    assert!(
        lesson.detail.contains("this run does not have"),
        "{}",
        lesson.detail
    );
}
