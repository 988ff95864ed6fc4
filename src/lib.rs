//! mailsim: an educational mail-delivery simulator.
//!
//! The layers, from the bottom up (only `gui` knows Bevy; everything else builds with
//! `--no-default-features`):
//!
//! - [`mail`]: addresses, RFC 5322 messages, mailboxes.
//! - [`proto`]: sans-IO protocol engines for SMTP, DNS, POP3 and IMAP: lines in, lines out.
//! - [`node`]: what a host decides on its own: MX choice (RFC 5321 section 5.1), bounces (RFC 3464).
//! - [`scenario`]: the RON lesson files and their validation into a [`scenario::Scenario`].
//! - [`sim`]: the deterministic discrete-event world that drives the engines over simulated
//!   links, and the [`sim::Trace`] it leaves, with captions and reports.
//! - [`lesson`]: a teacher's captions and prediction questions, pinned to moments of a trace.
//! - [`live`]: `mailsim serve`, the scenario's servers on loopback ports for real mail programs.
//! - [`export`]: `mailsim export`: transcripts, sequence diagrams (Mermaid, SVG), JSON lines.
//! - [`cli`]: the `mailsim` command; [`bench`]: the generated benchmark world; [`storm`]: random
//!   worlds under random faults, and the check that no mail is lost or duplicated in them.
//! - `gui` (feature `gui`): the Bevy window that plays a trace.

pub mod alloc;
pub mod bench;
pub mod cli;
pub mod export;
pub mod lesson;
pub mod live;
pub mod mail;
pub mod node;
pub mod proto;
pub mod scenario;
pub mod sim;
pub mod storm;
pub mod text;

#[cfg(feature = "gui")]
pub mod gui;
