//! IMAP4rev1 (RFC 3501) for a mail client's needs: the mail stays on the server, in folders,
//! with flags.
//!
//! - `wire`: command lines as typed [`Command`]s, and response syntax read back.
//! - `fetch`: the message data FETCH returns (ENVELOPE, BODY structure, literals).
//! - [`ImapServer`]: the server engine, over a [`MailStore`](crate::mail::MailStore).
//! - [`ImapClient`]: the simulated mail program that fetches unseen mail.

mod client;
mod fetch;
mod server;
mod wire;

pub use client::ImapClient;
pub use server::{ImapServer, MAX_LINE};
pub use wire::{
    Command, FetchAttr, FetchItems, ParseError, ResponseReader, SearchKey, Section, SeqNum, SeqSet,
    StatusItem, StoreMode, Token, Value, literal_at_end, parse_values, quote, tag_of, tokenize,
};
