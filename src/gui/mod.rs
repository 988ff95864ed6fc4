//! The window (feature `gui`): a Bevy app that plays a scenario's trace. It only reads the
//! trace; one plugin per concern: the diagram, the time cursor, the panels, the camera, and
//! the screenshot used by `mailsim shot`.

pub mod bench;
pub(crate) mod diagram;
pub mod editor;
mod export_menu;
mod frames;
mod index;
mod inspector;
mod layout;
mod live;
mod loading;
mod packets;
mod panels;
mod playback;
pub(crate) mod quiz;
mod whatif;

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::gilrs::GilrsPlugin;
use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use bevy::window::{PrimaryWindow, WindowResolution};
use bevy_egui::EguiPlugin;

pub use frames::export as export_frames;
pub use index::TraceIndex;
pub use layout::{Layout, layout};
pub use live::{LiveFeed, open_live};
pub use playback::Playback;

use crate::scenario::Scenario;
use crate::sim::{Outcome, run};

/// The scenario on show and the run it produced.
#[derive(Resource)]
pub struct Loaded {
    pub path: PathBuf,
    /// The scenario as the file has it; `scenario` adds the what-if changes.
    pub base: Scenario,
    pub scenario: Scenario,
    pub outcome: Outcome,
    /// The trace indexed, so that each frame finds what it shows without a scan from the start.
    pub index: TraceIndex,
}

impl Loaded {
    /// Runs a scenario (the file's, with no what-if changes yet) and indexes its trace.
    pub fn new(path: PathBuf, scenario: Scenario) -> Loaded {
        let outcome = run(&scenario);
        let index = TraceIndex::new(&outcome.trace, scenario.hosts.len());
        Loaded {
            path,
            base: scenario.clone(),
            scenario,
            outcome,
            index,
        }
    }

    /// Runs a changed scenario (the file's with what-if changes) in place of the current one.
    pub fn rerun(&mut self, scenario: Scenario) {
        self.outcome = run(&scenario);
        self.index = TraceIndex::new(&self.outcome.trace, scenario.hosts.len());
        self.scenario = scenario;
    }
}

/// The order of the window's work in each frame: input (keys, loading, what-if changes), then
/// the cursor and what follows it, then the drawing.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuiSet {
    Input,
    Cursor,
    Draw,
}

/// What `mailsim shot` asks for: the moment to render and where to save it.
#[derive(Resource, Clone, Debug)]
pub struct ShotRequest {
    /// Show the state just after this event (0-based), halfway through its flight.
    pub step: Option<usize>,
    /// Or show this virtual time.
    pub t_ms: Option<u64>,
    pub out: PathBuf,
    frames: u32,
}

fn app(loaded: Loaded, size: (u32, u32), present: bool) -> App {
    let title = loading::window_title(&loaded.scenario);
    let mut app = App::new();
    app.add_plugins(bevy_plugins().set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: WindowResolution::new(size.0, size.1),
            ..default()
        }),
        ..default()
    }));
    add_window_plugins(&mut app, loaded, present);
    app
}

/// Why no window can open here, if none can: on Linux the window needs an X11 or Wayland
/// display, and without one winit would panic while it starts. Checked before any window
/// opens, so that a machine without a screen gets a sentence that says what to do.
pub fn no_display() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") || set("WAYLAND_SOCKET") {
        return None;
    }
    Some(
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); \
         on a machine without a screen, run it under Xvfb: \
         xvfb-run -a -s \"-screen 0 1600x900x24\" mailsim ..."
            .to_string(),
    )
}

/// Bevy's default plugins as the window uses them: without gamepads (a mail simulator is driven
/// by mouse and keyboard, and gilrs polls for gamepads every frame on threads of its own).
fn bevy_plugins() -> bevy::app::PluginGroupBuilder {
    DefaultPlugins.build().disable::<GilrsPlugin>()
}

/// Everything the window shows and does, on top of Bevy's default plugins (with a window, or
/// rendering into an image for the frame-time benchmark).
fn add_window_plugins(app: &mut App, loaded: Loaded, present: bool) {
    app.add_plugins((EguiPlugin::default(), SingleThreadedSchedulesPlugin))
        .insert_resource(ClearColor(Color::srgb(0.09, 0.10, 0.13)))
        .insert_resource(Margins::for_mode(present))
        .insert_resource(Presentation(present))
        .insert_resource(Playback {
            playing: present,
            present,
            ..Playback::default()
        })
        .insert_resource(loaded)
        .add_plugins((
            playback::PlaybackPlugin,
            diagram::DiagramPlugin,
            packets::PacketsPlugin,
            panels::PanelsPlugin,
            CameraPlugin,
            loading::LoadingPlugin,
            quiz::QuizPlugin { teacher: false },
            whatif::WhatIfPlugin,
            editor::EditorPlugin,
        ));
}

/// Runs every schedule of the window, and of its render world, on one thread.
///
/// The window's systems are small: with the multi-threaded executor, handing each to a task
/// pool thread and waking the next costs more than the systems themselves, and on a small
/// machine (two cores shared with a software rasteriser) those hand-offs were about a quarter
/// of a frame's CPU (`mailsim bench-window`, with lavapipe's queue thread still counted then:
/// 8.4 to 9.6 ms a frame for the empty scene with the multi-threaded executor, 6.3 to 6.8 ms
/// without). Rendering stays pipelined: the render world still runs on its own thread, beside
/// the next frame's update.
struct SingleThreadedSchedulesPlugin;

impl Plugin for SingleThreadedSchedulesPlugin {
    fn build(&self, _app: &mut App) {}

    /// After every plugin is built (and the plugins added before this one finished), and before
    /// the cleanup in which the render world leaves for its own thread.
    fn finish(&self, app: &mut App) {
        fn single_threaded(world: &mut World) {
            if let Some(mut schedules) = world.get_resource_mut::<Schedules>() {
                for (_, schedule) in schedules.iter_mut() {
                    schedule.set_executor(SingleThreadedExecutor::new());
                }
            }
        }
        single_threaded(app.world_mut());
        if let Some(render) = app.get_sub_app_mut(RenderApp) {
            single_threaded(render.world_mut());
        }
    }
}

/// Opens the window on a scenario; returns when the window closes.
pub fn open(scenario: Scenario, path: PathBuf, present: bool, teacher: bool) -> ExitCode {
    let mut app = app(Loaded::new(path, scenario), (1600, 900), present);
    app.world_mut().resource_mut::<quiz::Quiz>().teacher = teacher;
    app.run();
    ExitCode::SUCCESS
}

/// Renders one moment of a scenario to a PNG and exits (`mailsim shot`).
pub fn shot(
    scenario: Scenario,
    path: PathBuf,
    step: Option<usize>,
    t_ms: Option<u64>,
    out: PathBuf,
    size: (u32, u32),
) -> ExitCode {
    let mut app = app(Loaded::new(path, scenario), size, false);
    app.world_mut().resource_mut::<quiz::Quiz>().off = true;
    app.insert_resource(ShotRequest {
        step,
        t_ms,
        out,
        frames: 0,
    })
    .add_systems(Update, take_shot);
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    }
}

/// Shows event `step` halfway through its flight: the picture `shot --step` and the frames
/// exports take of it.
fn show_step(playback: &mut Playback, trace: &crate::sim::Trace, step: usize) {
    playback.go_to(trace, step);
    if let Some(e) = trace.events.get(step) {
        playback.now_ms = (e.t_ms as f64 + e.arrive_ms as f64) / 2.0;
    }
}

/// Sets the moment, waits for a few frames of layout and fonts, saves, then exits.
fn take_shot(
    mut commands: Commands,
    loaded: Res<Loaded>,
    mut request: ResMut<ShotRequest>,
    mut playback: ResMut<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    let trace = &loaded.outcome.trace;
    request.frames += 1;
    match request.frames {
        1..=3 => {
            if let Some(step) = request.step {
                show_step(&mut playback, trace, step);
            } else if let Some(t) = request.t_ms {
                playback.now_ms = t as f64;
                playback.cursor = trace.events.iter().rposition(|e| e.t_ms <= t);
            }
            playback.playing = false;
        }
        12 => {
            commands
                .spawn(Screenshot::primary_window())
                .observe(save_to_disk(request.out.clone()));
        }
        30 => {
            exit.write(AppExit::Success);
        }
        _ => {}
    }
}

/// Keeps the diagram centred and fitted in the space the panels leave, and lets the user pan
/// (drag with the left button) and zoom (the wheel) it; `0` fits it again.
struct CameraPlugin;

/// The user's zoom and pan on top of the fitted view.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub zoom: f32,
    /// In world units.
    pub pan: Vec2,
}

impl Default for View {
    fn default() -> View {
        View {
            zoom: 1.0,
            pan: Vec2::ZERO,
        }
    }
}

/// The camera, with 4x MSAA for smooth circles and links, except in the interactive window on a
/// software rasteriser (Mesa's lavapipe, say): there four samples a pixel make the rasteriser do
/// about three times the work, and the busy benchmark scene drew a frame in 150 ms with MSAA
/// against 65 ms without. Pictures saved to files (`shot`, `export`) keep MSAA.
fn spawn_camera(
    mut commands: Commands,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    shot: Option<Res<ShotRequest>>,
    frames: Option<Res<frames::FrameShots>>,
) {
    let software = adapter.is_some_and(|a| a.device_type == wgpu_types::DeviceType::Cpu);
    let saving = shot.is_some() || frames.is_some();
    let msaa = if software && !saving {
        Msaa::Off
    } else {
        Msaa::Sample4
    };
    commands.spawn((Camera2d, msaa));
}

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<View>()
            .init_resource::<SelectedHost>()
            .init_resource::<SelectedLink>()
            .add_systems(Startup, spawn_camera)
            // After the editor has seen the press, so that a drag on a host moves the host.
            .add_systems(
                Update,
                (click_host, pan_and_zoom, fit_camera)
                    .chain()
                    .after(GuiSet::Input),
            );
    }
}

/// The space the panels take on each side of the window, in logical pixels; the diagram gets
/// the rest. Presentation mode keeps only the caption.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Margins {
    pub left: f32,
    pub right: f32,
    pub top: f32,
    pub bottom: f32,
}

impl Margins {
    pub fn for_mode(present: bool) -> Margins {
        if present {
            Margins {
                left: 0.0,
                right: 0.0,
                top: 0.0,
                bottom: panels::BOTTOM_PRESENT,
            }
        } else {
            Margins {
                left: panels::LEFT,
                right: panels::RIGHT,
                top: panels::TOP,
                bottom: panels::BOTTOM,
            }
        }
    }

    /// Where the diagram is, in window coordinates (from the top left).
    pub fn free_area(&self, window: &Window) -> Rect {
        Rect::new(
            self.left,
            self.top,
            window.width() - self.right,
            window.height() - self.bottom,
        )
    }
}

/// Presentation mode: large text, autoplay that dwells on each caption, little chrome.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Presentation(pub bool);

/// The host the user clicked: the panels show its state and the event list its events.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectedHost(pub Option<usize>);

/// The link the user clicked (its ends in ascending order), when no host was hit.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectedLink(pub Option<(usize, usize)>);

/// Whether the user is typing into a panel's text field (or has a drop-down open): then the
/// window's own keys stay quiet. Without egui (the unit tests) nobody is typing.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Typing<'w> {
    wants: Option<Res<'w, bevy_egui::input::EguiWantsInput>>,
}

impl Typing<'_> {
    pub fn active(&self) -> bool {
        self.wants
            .as_ref()
            .is_some_and(|w| w.wants_any_keyboard_input())
    }
}

/// The Control keys and the Shift keys, for [`held`].
pub(crate) const CTRL: [KeyCode; 2] = [KeyCode::ControlLeft, KeyCode::ControlRight];
pub(crate) const SHIFT: [KeyCode; 2] = [KeyCode::ShiftLeft, KeyCode::ShiftRight];

/// Whether a modifier is held, or was let go within this frame (a quick chord, or a driven
/// window whose key events all arrive in one frame).
pub(crate) fn held(keys: &ButtonInput<KeyCode>, modifier: [KeyCode; 2]) -> bool {
    keys.any_pressed(modifier) || keys.any_just_released(modifier)
}

/// The distance from a point to a segment.
pub(crate) fn distance_to_segment(p: Vec2, a: Vec2, b: Vec2) -> f32 {
    let ab = b - a;
    let t = ((p - a).dot(ab) / ab.length_squared().max(f32::EPSILON)).clamp(0.0, 1.0);
    p.distance(a + ab * t)
}

/// The mouse over the diagram: where it is (when it is over the diagram, not a panel) and its
/// buttons.
#[derive(bevy::ecs::system::SystemParam)]
pub(crate) struct Pointer<'w, 's> {
    margins: Res<'w, Margins>,
    window: Single<'w, 's, &'static Window, With<PrimaryWindow>>,
    buttons: Res<'w, ButtonInput<MouseButton>>,
}

impl Pointer<'_, '_> {
    /// The cursor position in window coordinates, if it is over the diagram.
    fn over_diagram(&self) -> Option<Vec2> {
        let at = self.window.cursor_position()?;
        self.margins
            .free_area(&self.window)
            .contains(at)
            .then_some(at)
    }
}

/// A click (press and release without dragging) on a host selects it; on empty space, clears.
fn click_host(
    pointer: Pointer,
    camera: Single<(&Camera, &GlobalTransform), With<Camera2d>>,
    diagram: Option<Res<diagram::Diagram>>,
    mut pressed_at: Local<Option<Vec2>>,
    mut selected: ResMut<SelectedHost>,
    mut link: ResMut<SelectedLink>,
    mut filter: ResMut<panels::EventFilter>,
) {
    let Some(diagram) = diagram else { return };
    if pointer.buttons.just_pressed(MouseButton::Left) {
        *pressed_at = pointer.over_diagram();
    }
    if !pointer.buttons.just_released(MouseButton::Left) {
        return;
    }
    let (Some(start), Some(at)) = (pressed_at.take(), pointer.over_diagram()) else {
        return;
    };
    if start.distance(at) > 4.0 {
        return;
    }
    let (camera, transform) = *camera;
    let Ok(world) = camera.viewport_to_world_2d(transform, at) else {
        return;
    };
    let (host, line) = pick(&diagram, world);
    selected.0 = host;
    filter.host = host;
    link.0 = line;
}

/// What a click at a point of the diagram (world units) hits: the nearest host within its
/// shape, or else the nearest link within a few units of its line, or nothing.
fn pick(diagram: &diagram::Diagram, world: Vec2) -> (Option<usize>, Option<(usize, usize)>) {
    let hosts = &diagram.layout.hosts;
    let hit = hosts
        .iter()
        .enumerate()
        .map(|(h, p)| (h, p.distance(world)))
        .filter(|(_, d)| *d < 34.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(h, _)| h);
    if hit.is_some() {
        return (hit, None);
    }
    let link = diagram
        .links
        .iter()
        .map(|&(a, b)| ((a, b), distance_to_segment(world, hosts[a], hosts[b])))
        .filter(|(_, d)| *d < 8.0)
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(l, _)| l);
    (None, link)
}

fn pan_and_zoom(
    pointer: Pointer,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<bevy::input::mouse::AccumulatedMouseMotion>,
    scroll: Res<bevy::input::mouse::AccumulatedMouseScroll>,
    camera: Single<&Projection, With<Camera2d>>,
    mut view: ResMut<View>,
    editor: Option<Res<editor::Editor>>,
) {
    if keys.just_pressed(KeyCode::Digit0) {
        *view = View::default();
    }
    // The editor is moving a host: the view stays put.
    if editor.is_some_and(|e| e.dragging.is_some()) {
        return;
    }
    // Only over the diagram, not over the panels around it.
    if pointer.over_diagram().is_none() {
        return;
    }
    if scroll.delta.y != 0.0 {
        view.zoom = (view.zoom * 1.1f32.powf(scroll.delta.y.signum())).clamp(0.25, 8.0);
    }
    if pointer.buttons.pressed(MouseButton::Left) && motion.delta != Vec2::ZERO {
        let scale = match *camera {
            Projection::Orthographic(o) => o.scale,
            _ => 1.0,
        };
        view.pan += Vec2::new(-motion.delta.x, motion.delta.y) * scale;
    }
}

fn fit_camera(
    margins: Res<Margins>,
    diagram: Option<Res<diagram::Diagram>>,
    view: Res<View>,
    camera: Single<(&Camera, &mut Transform, &mut Projection), With<Camera2d>>,
) {
    let Some(diagram) = diagram else { return };
    let (camera, mut transform, mut projection) = camera.into_inner();
    // The size of what the camera draws into: the window, or an image without one.
    let Some(size) = camera.logical_target_size() else {
        return;
    };
    let free = Vec2::new(
        size.x - margins.left - margins.right,
        size.y - margins.top - margins.bottom,
    )
    .max(Vec2::splat(100.0));
    let mut bounds = Rect::EMPTY;
    for (_, r) in &diagram.layout.regions {
        bounds = bounds.union(*r);
    }
    for p in &diagram.layout.hosts {
        bounds = bounds.union_point(*p);
    }
    if bounds.min.x > bounds.max.x {
        // A scenario of no hosts: a small square around the origin.
        bounds = Rect::from_center_size(Vec2::ZERO, Vec2::splat(200.0));
    }
    let size = bounds.size() + Vec2::splat(80.0);
    let scale = (size.x / free.x).max(size.y / free.y).max(0.5) / view.zoom;
    // Written only when they change, so that the camera is not marked changed every frame.
    if let Projection::Orthographic(ortho) = projection.bypass_change_detection()
        && ortho.scale != scale
    {
        ortho.scale = scale;
        projection.set_changed();
    }
    // Move the camera so that the diagram's centre lands in the middle of the free space.
    let offset = Vec2::new(
        (margins.right - margins.left) / 2.0,
        // Screen y grows downwards, world y upwards.
        (margins.top - margins.bottom) / 2.0,
    ) * scale;
    let translation = (bounds.center() + offset + view.pan).extend(transform.translation.z);
    if transform.translation != translation {
        transform.translation = translation;
    }
}

/// Time left as a clock reads it, rounded up to the second: `0:42`, `14:59`, `3:05:00`, and
/// `2d+03:00:00` beyond a day, as the window writes times (the retry schedules of RFC 5321
/// section 4.5.4.1 reach days).
pub fn countdown(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, h) => format!("{h}:{m:02}:{s:02}"),
        (d, h) => format!("{d}d+{h:02}:{m:02}:{s:02}"),
    }
}

/// What a server's countdown says at `now_ms`: the time left to its next attempt, or, once that
/// time has come and until the attempt ends (a connection that nobody answers takes half a
/// minute), that it is trying.
pub fn next_attempt_words(next_attempt_ms: u64, now_ms: u64) -> String {
    if next_attempt_ms > now_ms {
        format!("next attempt in {}", countdown(next_attempt_ms - now_ms))
    } else {
        "trying again now".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;

    #[test]
    fn a_countdown_reads_like_a_clock_and_rounds_up() {
        assert_eq!(countdown(0), "0:00");
        assert_eq!(countdown(1), "0:01");
        assert_eq!(countdown(42_000), "0:42");
        // Rounded up as a whole, so the seconds carry into the minutes and hours.
        assert_eq!(countdown(59_500), "1:00");
        assert_eq!(countdown(3_599_500), "1:00:00");
        assert_eq!(countdown(900_709), "15:01");
        assert_eq!(countdown(3 * 3_600_000 + 5 * 60_000), "3:05:00");
        assert_eq!(countdown(2 * 86_400_000 + 3 * 3_600_000), "2d+03:00:00");
        assert_eq!(
            next_attempt_words(1_800_709, 900_000),
            "next attempt in 15:01"
        );
        assert_eq!(next_attempt_words(1_800_709, 1_800_709), "trying again now");
    }

    #[test]
    fn a_click_on_a_host_selects_it_and_filters_the_list_near_a_line_the_link() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let loaded = Loaded::new(path.into(), load_file(std::path::Path::new(path)).unwrap());
        let sc = &loaded.scenario;
        let diagram = diagram::Diagram::of(&loaded);
        let mx = sc.host_by_name("mx.beta.example").unwrap();
        let smtp = sc.host_by_name("smtp.alpha.example").unwrap();
        let at = diagram.layout.hosts[mx];
        assert_eq!(pick(&diagram, at + Vec2::new(10.0, -5.0)), (Some(mx), None));
        // Halfway along the line from the submission server to the MX.
        let link = (smtp.min(mx), smtp.max(mx));
        assert!(diagram.links.contains(&link));
        let middle = diagram.layout.hosts[smtp].lerp(at, 0.5);
        assert_eq!(pick(&diagram, middle), (None, Some(link)));
        // Far from everything: nothing.
        assert_eq!(pick(&diagram, Vec2::splat(1.0e5)), (None, None));

        // A selected host filters the event list to its own events.
        let filter = panels::EventFilter {
            host: pick(&diagram, at).0,
            ..panels::EventFilter::default()
        };
        let shown: Vec<_> = loaded
            .outcome
            .trace
            .events
            .iter()
            .filter(|e| filter.shows(e))
            .collect();
        assert!(!shown.is_empty());
        assert!(
            shown
                .iter()
                .all(|e| e.from() == Some(mx) || e.to() == Some(mx))
        );
    }
}
