//! mailsim: an educational mail-delivery simulator.

pub mod mail;
pub mod proto;
pub mod scenario;

#[cfg(feature = "gui")]
pub mod gui;
