//! The `mailsim` command: parse the arguments, hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// The simulation makes many small, short-lived strings (protocol lines); mimalloc serves them
/// faster than the system allocator (see the benchmark figures in the README).
#[global_allocator]
static ALLOCATOR: mailsim::alloc::MailsimAlloc = mailsim::alloc::MailsimAlloc;

fn main() -> ExitCode {
    mailsim::cli::main(mailsim::cli::Cli::parse())
}
