//! Scenario files: the RON a teacher writes ([`file`]), and the validated [`Scenario`] the
//! simulation runs, with every name resolved to an id ([`load`]); and back ([`to_ron`]).

mod duration;
pub mod file;
mod load;
mod model;
mod save;

pub use duration::Millis;
pub use load::{LoadError, load_file, load_str};
pub use model::*;
pub use save::{to_file, to_ron};
