//! `--state DIR`: the queues and mailboxes saved when live mode stops and read back when it
//! starts, as JSON that a curious student can open.

use std::path::Path;

use crate::sim::{Snapshot, World};

const FILE: &str = "mailsim-state.json";

/// A saved state, ready to restore.
pub struct SavedState(Snapshot);

impl SavedState {
    /// Reads the state in `dir`; `None` when there is none yet.
    pub fn load(dir: &Path) -> Result<Option<SavedState>, String> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(|s| Some(SavedState(s)))
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
    }

    pub fn capture(world: &World<'_>) -> SavedState {
        SavedState(world.snapshot())
    }

    /// Puts the state into a new world; returns how many queue entries came back.
    pub fn restore(self, world: &mut World<'_>) -> Result<usize, String> {
        world.restore(self.0)
    }

    /// Writes the state, through a temporary file so that a crash never leaves half a file.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let json = serde_json::to_string_pretty(&self.0).expect("plain data");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}
