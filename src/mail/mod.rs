//! Mail as data: addresses, envelopes, RFC 5322 messages and the mailboxes they end in.

mod address;
mod message;
mod store;

pub use address::{Address, AddressError};
pub use message::{DateCache, Message, fields_where, header_value, rfc5322_date};
pub use store::{Flags, Folder, MailStore, Mailbox, StoredMessage};
