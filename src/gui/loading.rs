//! Loading scenarios while the window is open: the file-open dialog (the "Open…" button or
//! Ctrl+O), a path typed into the window, a file dropped on the window, and the open file
//! reloaded when it changes on disk. A bad file shows its line:column error in the window and
//! the last good scenario stays on show.
//!
//! The dialog is the desktop's own, through rfd: the XDG desktop portal over D-Bus, or zenity.
//! It runs on a task, so the window keeps drawing while it is open. Where there is neither (a
//! bare X server, say), the window says so and offers a field to type the path into.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bevy::prelude::*;
use bevy::tasks::{IoTaskPool, Task, block_on, poll_once};
use bevy::window::FileDragAndDrop;

use super::{Loaded, Playback};
use crate::scenario::load_file;

/// The last error from loading, shown over the diagram until a good file loads.
#[derive(Resource, Default, Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem(pub Option<String>);

/// A file to show in place of the current one: chosen in the dialog, typed, or dropped.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct OpenFile(pub PathBuf);

/// The file-open dialog and what the window says about it.
#[derive(Resource, Default)]
pub struct OpenDialog {
    /// Set by the button and by Ctrl+O: the dialog opens on the next frame.
    pub requested: bool,
    /// The desktop's dialog, while it is open.
    task: Option<Task<Option<PathBuf>>>,
    /// Shown in the window when no dialog can open, or it came back without a file; the
    /// window then offers a field to type a path into.
    pub message: Option<String>,
    /// What the user typed into that field.
    pub typed: String,
    /// The field takes the keyboard when it first shows.
    pub focus: bool,
}

impl OpenDialog {
    /// Whether the desktop's dialog is open now.
    pub fn is_open(&self) -> bool {
        self.task.is_some()
    }

    /// Opens the window's own "type a path" box, with a message.
    pub fn offer_typing(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
        self.focus = true;
    }
}

/// When the file on show was last modified, to notice a save.
#[derive(Resource, Default)]
struct Watched {
    modified: Option<SystemTime>,
    checked_at: f64,
}

pub struct LoadingPlugin;

impl Plugin for LoadingPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<LoadProblem>()
            .init_resource::<Watched>()
            .init_resource::<OpenDialog>()
            .add_message::<OpenFile>()
            .add_message::<FileDragAndDrop>()
            .add_systems(
                Update,
                (
                    (dropped_files, open_shortcut, run_dialog),
                    // Live mode shows what real clients do now: another file would lose it.
                    (open_files, watch_file).run_if(not(resource_exists::<super::LiveFeed>)),
                )
                    .chain()
                    .in_set(super::GuiSet::Input),
            )
            .add_systems(
                Update,
                title_follows_scenario.run_if(resource_changed::<Loaded>),
            );
    }
}

/// The window's title names the scenario on show, also after another file is opened.
fn title_follows_scenario(loaded: Res<Loaded>, mut windows: Query<&mut Window>) {
    let title = window_title(&loaded.scenario);
    for mut window in &mut windows {
        if window.title != title {
            window.title.clone_from(&title);
        }
    }
}

pub(super) fn window_title(scenario: &crate::scenario::Scenario) -> String {
    format!("mailsim: {}", scenario.title)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads a file into the window, keeping the playback time; or reports why it cannot.
fn load_into(path: &Path, loaded: &mut Loaded, playback: &mut Playback, problem: &mut LoadProblem) {
    match load_file(path) {
        Ok(scenario) => {
            *loaded = Loaded::new(path.to_path_buf(), scenario);
            playback.keep_time(&loaded.outcome.trace);
            problem.0 = None;
        }
        Err(e) => problem.0 = Some(e.to_string()),
    }
}

/// Why the desktop's file dialog cannot open here, if it cannot. rfd asks the XDG desktop
/// portal over the D-Bus session bus, and runs zenity when that fails; with neither there is no
/// dialog. `var` reads the environment and `exists` the file system (the tests pass their own).
pub fn why_no_dialog(
    var: impl Fn(&str) -> Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> Option<String> {
    let bus = var("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
        || var("XDG_RUNTIME_DIR").is_some_and(|d| exists(&Path::new(&d).join("bus")));
    let zenity = var("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| exists(&dir.join("zenity"))));
    (!bus && !zenity).then(|| {
        "No file dialog is available here: this desktop has no D-Bus session (for the XDG \
         desktop portal) and no zenity. Type the path of a scenario file below, or drop the \
         file on the window."
            .to_string()
    })
}

/// Ctrl+O opens the dialog.
fn open_shortcut(keys: Res<ButtonInput<KeyCode>>, mut dialog: ResMut<OpenDialog>) {
    if super::held(&keys, super::CTRL) && keys.just_pressed(KeyCode::KeyO) {
        dialog.requested = true;
    }
}

/// Opens the desktop's dialog when asked, on a task, and collects its answer when it comes.
fn run_dialog(
    loaded: Res<Loaded>,
    mut dialog: ResMut<OpenDialog>,
    mut opens: MessageWriter<OpenFile>,
) {
    if std::mem::take(&mut dialog.requested) && dialog.task.is_none() {
        if let Some(why) = why_no_dialog(|k| std::env::var_os(k), Path::exists) {
            dialog.offer_typing(why);
            return;
        }
        let start = loaded
            .path
            .parent()
            .filter(|d| d.is_dir())
            .map(Path::to_path_buf);
        dialog.message = None;
        dialog.task = Some(IoTaskPool::get().spawn(async move {
            let mut picker = rfd::AsyncFileDialog::new()
                .set_title("Open a mailsim scenario")
                .add_filter("mailsim scenario (RON)", &["ron"]);
            if let Some(dir) = start {
                picker = picker.set_directory(dir);
            }
            picker.pick_file().await.map(|f| f.path().to_path_buf())
        }));
    }
    let Some(task) = dialog.task.as_mut() else {
        return;
    };
    let Some(chosen) = block_on(poll_once(task)) else {
        return;
    };
    dialog.task = None;
    match chosen {
        Some(path) => {
            dialog.message = None;
            opens.write(OpenFile(path));
        }
        None => dialog.offer_typing(
            "No file was chosen. If no dialog appeared, this desktop offers none (no XDG \
             desktop portal answered and zenity is missing): type the path of a scenario file \
             below, or drop the file on the window.",
        ),
    }
}

fn dropped_files(mut drops: MessageReader<FileDragAndDrop>, mut opens: MessageWriter<OpenFile>) {
    for drop in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            opens.write(OpenFile(path_buf.clone()));
        }
    }
}

/// Shows the files asked for: from the start, without the previous file's what-if changes.
fn open_files(
    mut opens: MessageReader<OpenFile>,
    mut whatif: ResMut<super::whatif::WhatIf>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut problem: ResMut<LoadProblem>,
    mut watched: ResMut<Watched>,
    mut dialog: ResMut<OpenDialog>,
) {
    for OpenFile(path) in opens.read() {
        playback.restart();
        load_into(path, &mut loaded, &mut playback, &mut problem);
        if problem.0.is_none() {
            dialog.message = None;
            dialog.typed.clear();
        }
        watched.modified = modified(path);
        whatif.changes.clear();
        whatif.dirty = false;
    }
}

/// Twice a second, reloads the file if it was saved since.
fn watch_file(
    mut whatif: ResMut<super::whatif::WhatIf>,
    time: Res<Time>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut problem: ResMut<LoadProblem>,
    mut watched: ResMut<Watched>,
) {
    let now = time.elapsed_secs_f64();
    if now - watched.checked_at < 0.5 {
        return;
    }
    watched.checked_at = now;
    let path = loaded.path.clone();
    let current = modified(&path);
    if watched.modified.is_none() {
        watched.modified = current;
        return;
    }
    if current != watched.modified {
        watched.modified = current;
        load_into(
            &path,
            loaded.bypass_change_detection(),
            &mut playback,
            &mut problem,
        );
        if problem.0.is_none() {
            loaded.set_changed();
            // Keep the user's what-if changes on the edited file.
            whatif.dirty = !whatif.changes.is_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::whatif::{Target, WhatIf};

    fn lesson(name: &str) -> PathBuf {
        format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR")).into()
    }

    /// An app with the loading plugin and what it works on, but no window.
    fn app() -> App {
        let path = lesson("01-alice-writes-to-bob.ron");
        let scenario = load_file(&path).unwrap();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<WhatIf>()
            .init_resource::<Playback>()
            .insert_resource(Loaded::new(path, scenario))
            .add_plugins(LoadingPlugin);
        app.update();
        app
    }

    #[test]
    fn without_a_bus_or_zenity_the_window_says_there_is_no_dialog() {
        let none = |_: &str| None;
        assert!(why_no_dialog(none, |_| true).is_some());
        let bus = |k: &str| (k == "DBUS_SESSION_BUS_ADDRESS").then(|| "unix:path=/b".into());
        assert_eq!(why_no_dialog(bus, |_| false), None);
        let runtime = |k: &str| (k == "XDG_RUNTIME_DIR").then(|| "/run/user/1".into());
        assert_eq!(
            why_no_dialog(runtime, |p| p == Path::new("/run/user/1/bus")),
            None
        );
        assert!(why_no_dialog(runtime, |_| false).is_some());
        let path = |k: &str| (k == "PATH").then(|| "/bin:/usr/bin".into());
        assert_eq!(
            why_no_dialog(path, |p| p == Path::new("/usr/bin/zenity")),
            None
        );
        assert!(why_no_dialog(path, |_| false).is_some());
    }

    #[test]
    fn the_window_title_follows_the_file_opened() {
        let mut app = app();
        // The window opens with the first file's title (see `app`); this one starts untitled.
        let window = app.world_mut().spawn(Window::default()).id();
        let title = |app: &App| app.world().get::<Window>(window).unwrap().title.clone();
        let other = lesson("05-nxdomain.ron");
        let expected = window_title(&load_file(&other).unwrap());
        app.world_mut().write_message(OpenFile(other));
        for _ in 0..3 {
            app.update();
        }
        assert_eq!(title(&app), expected);
    }

    #[test]
    fn ctrl_o_asks_for_the_dialog() {
        let mut app = App::new();
        app.init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<OpenDialog>()
            .add_systems(Update, open_shortcut);
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::KeyO);
        app.update();
        assert!(!app.world().resource::<OpenDialog>().requested, "O alone");
        {
            let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
            keys.release(KeyCode::KeyO);
            keys.clear();
            keys.press(KeyCode::ControlLeft);
            keys.press(KeyCode::KeyO);
        }
        app.update();
        assert!(app.world().resource::<OpenDialog>().requested);
    }

    #[test]
    fn a_chosen_file_loads_from_the_start_without_the_old_what_ifs() {
        let mut app = app();
        {
            let world = app.world_mut();
            let trace = world.resource::<Loaded>().outcome.trace.clone();
            world.resource_mut::<Playback>().go_to(&trace, 10);
            world
                .resource_mut::<WhatIf>()
                .changes
                .push((5, Target::Host(0), true));
            world.resource_mut::<OpenDialog>().typed = "something".into();
        }
        let other = lesson("06-unknown-user.ron");
        app.world_mut().write_message(OpenFile(other.clone()));
        app.update();
        let world = app.world();
        assert_eq!(world.resource::<Loaded>().path, other);
        // From the start: the moment 0, where the first events already happened.
        let trace = &world.resource::<Loaded>().outcome.trace;
        let p = world.resource::<Playback>();
        assert_eq!(p.now_ms, 0.0);
        assert_eq!(p.cursor, trace.events.iter().rposition(|e| e.t_ms == 0));
        assert!(world.resource::<WhatIf>().changes.is_empty());
        assert_eq!(world.resource::<LoadProblem>().0, None);
        assert!(world.resource::<OpenDialog>().typed.is_empty());
    }

    #[test]
    fn a_bad_file_shows_its_error_and_the_last_good_scenario_stays() {
        let mut app = app();
        let dir = std::env::temp_dir().join(format!("mailsim-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.ron");
        std::fs::write(&bad, "(title: \"half a scenario\",\n  seed: oops)\n").unwrap();
        let before = app.world().resource::<Loaded>().path.clone();
        app.world_mut().write_message(OpenFile(bad));
        app.update();
        let problem = app.world().resource::<LoadProblem>().0.clone();
        assert!(
            problem.as_deref().is_some_and(|p| p.contains("bad.ron:")),
            "{problem:?}"
        );
        assert_eq!(app.world().resource::<Loaded>().path, before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
