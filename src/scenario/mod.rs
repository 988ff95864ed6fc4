//! Scenario files: the RON a teacher writes ([`file`]), and the validated [`Scenario`] the
//! simulation runs, with every name resolved to an id ([`load`]).

mod duration;
pub mod file;
mod load;
mod model;

pub use duration::Millis;
pub use load::{LoadError, load_file, load_str};
pub use model::*;
