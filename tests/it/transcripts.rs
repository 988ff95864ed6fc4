//! Snapshots of narrated transcripts: any change to what a student reads shows up in review.

use mailsim::scenario::load_file;
use mailsim::sim::{render, run};

use super::lessons::lesson_files;

fn transcript(n: usize) -> String {
    let scenario = load_file(&lesson_files()[n]).unwrap();
    render::render_text(&scenario, &run(&scenario).trace)
}

#[test]
fn lesson_1_alice_writes_to_bob() {
    insta::assert_snapshot!(transcript(0));
}

#[test]
fn lesson_6_unknown_user_bounces() {
    insta::assert_snapshot!(transcript(5));
}
