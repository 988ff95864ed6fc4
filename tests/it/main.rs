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
