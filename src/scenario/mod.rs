//! Scenario files: the RON a teacher writes ([`file`]), and the validated [`Scenario`] the
//! simulation runs, with every name resolved to an id ([`load`]); and back ([`to_ron`]); and the
//! topology editor's drafts ([`edit`]).

mod duration;
pub mod edit;
pub mod file;
mod load;
mod locate;
mod model;
mod save;

pub use duration::Millis;
pub use edit::{Draft, Edit, EditError};
pub use load::{LoadError, load_file, load_str};
pub use model::*;
pub use save::{file_to_ron, to_file, to_ron};

/// Lesson 1's file, which many tests play.
#[cfg(test)]
pub(crate) const LESSON_ONE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/01-alice-writes-to-bob.ron"
);

/// Lesson 1, loaded (for tests).
#[cfg(test)]
pub(crate) fn lesson_one() -> Scenario {
    load_file(std::path::Path::new(LESSON_ONE)).expect("lesson 1 loads")
}
