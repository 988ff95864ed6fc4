//! POP3 (RFC 1939): download mail, usually deleting it from the server.

mod client;
mod server;
mod wire;

pub use client::{FetchMode, Pop3Client};
pub use server::Pop3Server;
pub use wire::{Command, WireError, apop_digest, byte_stuff, byte_unstuff};
