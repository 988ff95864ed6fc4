//! Every lesson in scenarios/ loads, runs, and meets its own expectations.

use std::path::PathBuf;

use mailsim::scenario::load_file;
use mailsim::sim::{report, run};

pub fn lesson_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

#[test]
fn there_are_lessons_in_teaching_order() {
    let files = lesson_files();
    assert!(files.len() >= 13, "found {} lessons", files.len());
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with(&format!("{:02}-", i + 1)),
            "{name} is out of order"
        );
    }
}

#[test]
fn every_lesson_meets_its_expectations() {
    for file in lesson_files() {
        let scenario = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !scenario.description.is_empty(),
            "{} has no description",
            file.display()
        );
        assert!(
            !scenario.expectations.is_empty(),
            "{} has no expectations",
            file.display()
        );
        let outcome = run(&scenario);
        for v in report::check(&scenario, &outcome) {
            assert!(
                v.ok,
                "{}: {} ({}); seed {}",
                file.display(),
                v.text,
                v.detail,
                scenario.seed
            );
        }
    }
}
