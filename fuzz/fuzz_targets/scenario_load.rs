//! The scenario loader: any text becomes a Scenario or a clean error with a place in the file,
//! never a panic. A scenario that loads is written back as RON (`scenario::to_ron`) and must
//! read back as itself; a small one is also run a simulated day, checked against its
//! expectations and reported, so that whatever the loader lets through the world can take.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::scenario::{Lesson, load_str, to_ron};
use mailsim::sim::{report, run};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_str(text, "fuzz.ron") {
        Ok(mut scenario) => {
            let mut without_lesson = scenario.clone();
            without_lesson.lesson = Lesson::default();
            let saved = to_ron(&without_lesson);
            match load_str(&saved, "saved.ron") {
                // Debug text, so that a NaN position compares equal to itself.
                Ok(back) => assert_eq!(
                    format!("{back:?}"),
                    format!("{without_lesson:?}"),
                    "written as {saved}"
                ),
                Err(e) => panic!("the scenario written back does not load: {e}\n{saved}"),
            }
            if scenario.script.len() <= 16 && scenario.hosts.len() <= 16 {
                scenario.run_until_ms = scenario.run_until_ms.min(86_400_000);
                let outcome = run(&scenario);
                let _ = report::check(&scenario, &outcome);
                let _ = report::report_json(&scenario, &outcome);
            }
        }
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(
                e.line <= lines + 1,
                "{e} points past the end ({lines} lines)"
            );
            assert!(!e.message.is_empty(), "an error without a message");
            let _ = e.to_string();
        }
    }
});
