//! IMAP4rev1 (RFC 3501) for a mail client's needs: the mail stays on the server, in folders,
//! with flags.

mod client;
mod server;
mod wire;

pub use client::ImapClient;
pub use server::ImapServer;
pub use wire::{Command, FetchAttr, ParseError, SearchKey, SeqSet, StoreMode, Token, tokenize};
