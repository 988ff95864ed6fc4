//! Integration tests: one binary, one module per concern.

mod bad_files;
mod conservation;
mod determinism;
mod export;
mod fidelity;
mod fuzz_smoke;
mod lessons;
mod live;
mod quiz;
mod smtp_rfc;
mod transcripts;
mod window;
