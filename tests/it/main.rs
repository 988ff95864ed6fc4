//! Integration tests: one binary, one module per concern.

mod bad_files;
mod conservation;
mod determinism;
mod export;
// Once per CI run: the core pass (`--no-default-features`) serves with the same engines.
#[cfg(not(feature = "gui"))]
mod fidelity;
#[cfg(not(feature = "gui"))]
mod fuzz_smoke;
mod lessons;
mod live;
mod quiz;
mod smtp_rfc;
mod transcripts;
mod window;

/// Runs the `mailsim` binary with these arguments, to the end.
fn mailsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(args)
        .output()
        .expect("mailsim runs")
}
