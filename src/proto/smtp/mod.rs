//! SMTP (RFC 5321) with submission (RFC 6409) and AUTH (RFC 4954): the wire grammar, the server
//! engine every MTA runs, and the client engine that submits and relays.

mod client;
mod server;
mod wire;

pub use client::{ClientJob, ClientOutcome, ClientStep, RcptOutcome, SmtpClient};
pub use server::{
    Accepted, Envelope, RcptDecision, ServerConfig, SessionInfo, SmtpPolicy, SmtpServer,
};
pub use wire::{
    Command, MailParam, MailParams, Reply, ReplyCode, ReversePath, WireError, dot_stuff,
};

/// RFC 5321 section 4.5.3.1.4: a command line is at most 512 octets with its CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 5321 section 4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
pub const MAX_TEXT_LINE: usize = 1000;
/// RFC 5321 section 4.5.3.1.8: a server must take at least 100 recipients.
pub const MAX_RECIPIENTS: usize = 100;
