//! mailsim: an educational mail-delivery simulator.

pub mod mail;
pub mod proto;

#[cfg(feature = "gui")]
pub mod gui;
