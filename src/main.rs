//! The `mailsim` command: parse the arguments, hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mailsim::cli::main(mailsim::cli::Cli::parse())
}
