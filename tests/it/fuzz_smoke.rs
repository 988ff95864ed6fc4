//! A short run of every fuzz target (`fuzz/run.sh`, see fuzz/README.md): a crash fails the test.
//!
//! It needs cargo-fuzz and takes a few minutes, so it runs only when asked:
//! `MAILSIM_REQUIRE_FUZZ=1` (CI sets it once `.ci/run` has installed cargo-fuzz) or
//! `MAILSIM_FUZZ_SECONDS=N`. Only the `--no-default-features` pass of the test command runs it,
//! so CI fuzzes once, not twice.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn every_fuzz_target_survives_a_short_run() {
    let required = std::env::var("MAILSIM_REQUIRE_FUZZ").is_ok_and(|v| v == "1");
    let seconds = std::env::var("MAILSIM_FUZZ_SECONDS").ok();
    if !required && seconds.is_none() {
        eprintln!("skipped: set MAILSIM_FUZZ_SECONDS=20 (or MAILSIM_REQUIRE_FUZZ=1) to fuzz");
        return;
    }
    let have_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_cargo_fuzz {
        assert!(
            !required,
            "MAILSIM_REQUIRE_FUZZ=1 but cargo-fuzz is missing: cargo install cargo-fuzz --locked --version 0.13.2"
        );
        eprintln!("skipped: cargo-fuzz is not installed");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The fuzz build gets a directory of its own, apart from the build running this test.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("fuzz");
    let status = Command::new("bash")
        .arg(root.join("fuzz/run.sh"))
        .arg(seconds.as_deref().unwrap_or("20"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("bash runs fuzz/run.sh");
    assert!(
        status.success(),
        "a fuzz target crashed: see fuzz/artifacts/ and fuzz/logs/"
    );
}
