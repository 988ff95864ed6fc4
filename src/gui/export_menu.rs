//! The window's Export menu: the same exports as `mailsim export`, written beside the scenario
//! file, for a teacher preparing a handout or a slide.

use std::path::PathBuf;

use bevy::prelude::Resource;
use bevy_egui::egui;

use super::Loaded;
use crate::export::{Kind, render};

/// What the last export wrote, or why it could not.
#[derive(Resource, Default, Debug, Clone, PartialEq, Eq)]
pub struct ExportStatus(pub Option<String>);

/// The file an export goes to: the scenario's name with the export's extension.
fn target(loaded: &Loaded, kind: Kind) -> PathBuf {
    let extension = match kind {
        Kind::TranscriptMarkdown => "md",
        Kind::TranscriptText => "txt",
        Kind::SequenceMermaid => "mmd",
        Kind::SequenceSvg => "svg",
        Kind::TraceJsonl => "jsonl",
    };
    loaded.path.with_extension(extension)
}

/// The menu button; writes the chosen export of the run on show (what-if changes included).
pub fn menu(ui: &mut egui::Ui, loaded: &Loaded, status: &mut ExportStatus) {
    ui.menu_button("Export", |ui| {
        for kind in [
            Kind::TranscriptMarkdown,
            Kind::TranscriptText,
            Kind::SequenceSvg,
            Kind::SequenceMermaid,
            Kind::TraceJsonl,
        ] {
            if ui.button(kind.describe()).clicked() {
                let path = target(loaded, kind);
                let text = render(kind, &loaded.scenario, &loaded.outcome);
                status.0 = Some(match std::fs::write(&path, text) {
                    Ok(()) => format!("wrote {}", path.display()),
                    Err(e) => format!("cannot write {}: {e}", path.display()),
                });
                ui.close();
            }
        }
    });
    if let Some(s) = &status.0 {
        ui.small(s);
    }
}
