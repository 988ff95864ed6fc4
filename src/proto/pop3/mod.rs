//! POP3 (RFC 1939, with CAPA from RFC 2449): download mail, usually deleting it from the server.
//!
//! - `wire`: command lines as typed [`Command`]s, the APOP digest, byte-stuffing.
//! - [`Pop3Server`]: the server engine, over the INBOX of a [`MailStore`](crate::mail::MailStore).
//! - [`Pop3Client`]: the simulated mail program that downloads everything.

mod client;
mod server;
mod wire;

pub use client::{FetchMode, Pop3Client};
pub use server::Pop3Server;
pub use wire::{
    Command, MAX_COMMAND_LINE, WireError, apop_digest, byte_stuff, byte_unstuff, byte_unstuff_text,
};
