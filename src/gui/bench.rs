//! `mailsim bench-window`: the window's frame time on a generated scene. It opens the window on
//! a generated scenario at the moment when the most messages are in flight, plays, times every
//! frame, prints the median and 95th percentile and the time to the first frame, and exits.
//!
//! Three times are kept per frame:
//! - the CPU time of the program's own threads (the main thread, the render thread and Bevy's
//!   task pools), from one `First` to the next, read from each thread's CPU clock: what the
//!   frame costs the CPU, without Mesa's threads, which stand in for a GPU under lavapipe (see
//!   [`ThreadOwner`]);
//! - the main world's update in wall time (from the start of `First` to the end of `Last`: every
//!   system of the window, the panels included); on a small machine it grows when lavapipe's
//!   threads take the cores;
//! - the whole frame in wall time (from one `First` to the next: the update plus handing the
//!   frame to the renderer, which waits for the previous frame to be drawn).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::render::{Render, RenderApp, RenderSystems};
use bevy::window::{PresentMode, PrimaryWindow};

use super::{Loaded, Playback};
use crate::sim::Trace;

/// The stretch of virtual time played in a loop from the busiest moment (at speed 1, two
/// seconds of real time).
const LOOP_MS: f64 = 200.0;

/// What to measure.
#[derive(Clone, Debug)]
pub struct WindowBench {
    pub domains: usize,
    pub messages: usize,
    pub seed: u64,
    /// The sends are spread over this much virtual time.
    pub spread_ms: u64,
    /// Frames timed, after the warm-up.
    pub frames: u32,
    /// Frames left out at the start (shaders, fonts, the first layouts).
    pub warmup: u32,
    /// An empty scene instead: no hosts, no messages (the baseline).
    pub empty: bool,
    pub size: (u32, u32),
    /// Keep the display's vertical sync (off by default, to see the frame's own cost).
    pub vsync: bool,
}

/// The moment when the most messages are in flight (between their first and last event), and
/// how many.
pub fn busiest_moment(trace: &Trace) -> (u64, usize) {
    let mut spans: Vec<Option<(u64, u64)>> = vec![None; trace.messages.len()];
    for e in &trace.events {
        if let Some(span) = e.message().and_then(|m| spans.get_mut(m as usize)) {
            let (first, last) = span.get_or_insert((e.t_ms, e.arrive_ms));
            *first = (*first).min(e.t_ms);
            *last = (*last).max(e.arrive_ms);
        }
    }
    // +1 at each start, -1 at each end; ends sort before starts at the same time.
    let mut edges: Vec<(u64, i64)> = spans
        .iter()
        .flatten()
        .flat_map(|&(a, b)| [(a, 1), (b, -1)])
        .collect();
    edges.sort();
    let (mut best, mut at, mut n) = (0usize, 0u64, 0i64);
    for (t, d) in edges {
        n += d;
        if n as usize > best {
            (best, at) = (n as usize, t);
        }
    }
    (at, best)
}

/// The frame times, as they are taken.
#[derive(Resource)]
struct FrameClock {
    launch: Instant,
    started: Option<Instant>,
    frames: u32,
    warmup: u32,
    wanted: u32,
    updates_ms: Vec<f64>,
    frames_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    /// The program's CPU time (without the rasteriser) at the last frame's start.
    cpu_at_start: Option<u64>,
    first_update_s: Option<f64>,
    /// When the render world first presented a frame (set from the render thread).
    first_present: Arc<Mutex<Option<Instant>>>,
    /// What was measured, printed above the figures.
    header: String,
}

/// Whose a thread is, for the CPU measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadOwner {
    /// The program: the main thread, the render thread, and the threads Bevy starts and names
    /// (its task pools).
    Program,
    /// Mesa, standing in for a GPU: lavapipe's `llvmpipe-*` rasterisers, its queue thread
    /// (unnamed: it executes the command buffers, as a GPU's command processor would) and its
    /// helper queues (named `mailsim:...`, such as the shader cache's).
    Driver,
}

impl ThreadOwner {
    /// Whose thread `tid` named `name` is, in a process named `program`. Mesa's threads are
    /// the rasterisers (`llvmpipe-*`), its helper queues (`program:...`) and the threads it
    /// starts without a name, which carry the program's; the main and render threads carry it
    /// too, and are the program's.
    fn of(tid: i32, name: &str, program: &str, main_thread: i32, render_thread: i32) -> Self {
        let helper_of_mesa = name
            .strip_prefix(program)
            .is_some_and(|rest| rest.starts_with(':'));
        let ours = tid == main_thread
            || tid == render_thread
            || (name != program && !name.starts_with("llvmpipe") && !helper_of_mesa);
        if ours {
            ThreadOwner::Program
        } else {
            ThreadOwner::Driver
        }
    }
}

/// The render thread's id, noted by the render world (0 until then).
static RENDER_THREAD: AtomicI32 = AtomicI32::new(0);

/// Notes which thread runs the render world (with pipelined rendering, a thread of its own).
fn note_render_thread() {
    // SAFETY: gettid has no preconditions.
    RENDER_THREAD.store(unsafe { libc::gettid() }, Ordering::Relaxed);
}

/// A thread of the process, as the measure sees it.
struct Thread {
    tid: i32,
    /// `main` and `render` for the two threads that carry the program's name.
    name: String,
    owner: ThreadOwner,
}

/// The process's threads, listed once (the warm-up's end lists them again, when every thread
/// has started and named itself): a frame's measure then costs one system call a thread, where
/// reading `/proc` for every thread each frame cost about half a millisecond of the main
/// thread's CPU, counted in the very frame it measured.
static THREADS: Mutex<Option<Vec<Thread>>> = Mutex::new(None);

fn forget_threads() {
    if let Ok(mut threads) = THREADS.lock() {
        *threads = None;
    }
}

/// Lists the threads of the process and whose each is.
fn list_threads() -> Vec<Thread> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let read = |path: std::path::PathBuf| {
        let mut text = std::fs::read_to_string(path).unwrap_or_default();
        text.truncate(text.trim_end().len());
        text
    };
    let program = read("/proc/self/comm".into());
    let main_thread = std::process::id() as i32;
    let render_thread = RENDER_THREAD.load(Ordering::Relaxed);
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse::<i32>().ok()?;
            let name = read(task.path().join("comm"));
            let owner = ThreadOwner::of(tid, &name, &program, main_thread, render_thread);
            let name = match tid {
                t if t == main_thread => "main".to_string(),
                t if t == render_thread => "render".to_string(),
                _ => name,
            };
            Some(Thread { tid, name, owner })
        })
        .collect()
}

/// The CPU time a thread of this process has run, in nanoseconds, from its CPU-time clock
/// (clock_gettime(2); the clock id is Linux's encoding of a thread's scheduler clock, as
/// `pthread_getcpuclockid` makes it). None once the thread has ended.
fn thread_cpu_ns(tid: i32) -> Option<u64> {
    const PER_THREAD_SCHED_CLOCK: libc::clockid_t = 6;
    let clock = (!(tid as libc::clockid_t) << 3) | PER_THREAD_SCHED_CLOCK;
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    let read = unsafe { libc::clock_gettime(clock, &mut time) } == 0;
    read.then(|| time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64)
}

/// Calls `each(name, owner, CPU time in nanoseconds)` for every thread whose owner `want`
/// chooses. False where Linux does not tell (no `/proc`).
fn for_each_thread(
    want: impl Fn(ThreadOwner) -> bool,
    mut each: impl FnMut(&str, ThreadOwner, u64),
) -> bool {
    let Ok(mut threads) = THREADS.lock() else {
        return false;
    };
    let threads = threads.get_or_insert_with(list_threads);
    for t in threads.iter().filter(|t| want(t.owner)) {
        if let Some(ns) = thread_cpu_ns(t.tid) {
            each(&t.name, t.owner, ns);
        }
    }
    !threads.is_empty()
}

/// The CPU time the program's threads have run, in nanoseconds, leaving out Mesa's threads,
/// which stand in for a GPU (see [`ThreadOwner`]); None where Linux does not tell.
pub fn own_cpu_ns() -> Option<u64> {
    let mut sum = 0;
    let known = for_each_thread(|owner| owner == ThreadOwner::Program, |_, _, ns| sum += ns);
    known.then_some(sum)
}

fn frame_start(mut clock: ResMut<FrameClock>) {
    if clock.frames == clock.warmup {
        forget_threads();
    }
    let now = Instant::now();
    let cpu = own_cpu_ns();
    if let Some(previous) = clock.started
        && clock.frames > clock.warmup
    {
        clock.frames_ms.push((now - previous).as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (clock.cpu_at_start, cpu) {
            clock.cpu_ms.push(b.saturating_sub(a) as f64 / 1e6);
        }
    }
    clock.cpu_at_start = cpu;
    if clock.first_update_s.is_none() {
        clock.first_update_s = Some((now - clock.launch).as_secs_f64());
    }
    clock.started = Some(now);
}

fn frame_end(
    mut clock: ResMut<FrameClock>,
    playback: Res<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(started) = clock.started else { return };
    clock.frames += 1;
    if clock.frames > clock.warmup {
        clock.updates_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    if clock.frames == clock.warmup + clock.wanted {
        clock.report(&playback);
        exit.write(AppExit::Success);
    }
}

impl FrameClock {
    fn report(&mut self, playback: &Playback) {
        let first_present_s = self
            .first_present
            .lock()
            .ok()
            .and_then(|t| *t)
            .map(|t| (t - self.launch).as_secs_f64());
        let (u50, u95) = (
            quantile(&mut self.updates_ms, 0.5),
            quantile(&mut self.updates_ms, 0.95),
        );
        let (f50, f95) = (
            quantile(&mut self.frames_ms, 0.5),
            quantile(&mut self.frames_ms, 0.95),
        );
        let (c50, c95) = (
            quantile(&mut self.cpu_ms, 0.5),
            quantile(&mut self.cpu_ms, 0.95),
        );
        print!("{}", self.header);
        println!(
            "played to              {:.0} ms (event {:?})",
            playback.now_ms, playback.cursor
        );
        println!("frames timed           {}", self.updates_ms.len());
        println!("CPU per frame median   {c50:.2} ms (the program's threads, not Mesa's)");
        println!("CPU per frame p95      {c95:.2} ms");
        // Where the CPU went over the whole run, by thread (the busiest first).
        let mut threads = Vec::new();
        for_each_thread(
            |_| true,
            |name, owner, ns| threads.push((name.to_string(), owner, ns)),
        );
        threads.sort_by_key(|t| std::cmp::Reverse(t.2));
        let frames = self.frames.max(1) as f64;
        for (owner, heading) in [
            (ThreadOwner::Program, "the program's"),
            (ThreadOwner::Driver, "Mesa's (a GPU's work)"),
        ] {
            let by_thread: Vec<String> = threads
                .iter()
                .filter(|t| t.1 == owner)
                .take(6)
                .map(|(name, _, ns)| format!("{name} {:.1}", *ns as f64 / 1e6 / frames))
                .collect();
            println!(
                "CPU ms a frame, whole run, {heading} threads: {}",
                by_thread.join(", ")
            );
        }
        println!("update (wall) median   {u50:.2} ms");
        println!("update (wall) p95      {u95:.2} ms");
        println!("whole frame median     {f50:.2} ms");
        println!("whole frame p95        {f95:.2} ms");
        if let Some(s) = self.first_update_s {
            println!("first update           {s:.3} s after launch");
        }
        match first_present_s {
            Some(s) => println!("first frame presented  {s:.3} s after launch"),
            None => println!("first frame presented  never"),
        }
    }
}

#[derive(Resource, Clone)]
struct FirstPresent(Arc<Mutex<Option<Instant>>>);

fn note_present(first: Res<FirstPresent>) {
    if let Ok(mut at) = first.0.lock()
        && at.is_none()
    {
        *at = Some(Instant::now());
    }
}

/// The busy moment the benchmark plays through again and again: the cursor jumps back to its
/// start when it reaches its end, so that every timed frame has the messages in flight.
#[derive(Resource)]
struct Busy {
    from_ms: f64,
    to_ms: f64,
}

fn play_in_a_loop(busy: Res<Busy>, loaded: Res<Loaded>, mut playback: ResMut<Playback>) {
    if playback.now_ms >= busy.to_ms || !playback.playing {
        playback.now_ms = busy.from_ms;
        playback.keep_time(&loaded.outcome.trace);
        playback.playing = true;
    }
}

/// A generated scene ready to play from its busiest moment: the run, the player put there,
/// and the stretch it loops over; and how many messages are in flight then.
fn at_busiest(scenario: crate::scenario::Scenario) -> (Loaded, Playback, Busy, usize) {
    let loaded = Loaded::new(PathBuf::from("(generated)"), scenario);
    let (moment, messages_in_flight) = busiest_moment(&loaded.outcome.trace);
    let mut playback = Playback {
        playing: true,
        ..Playback::default()
    };
    playback.now_ms = moment as f64;
    playback.keep_time(&loaded.outcome.trace);
    let busy = Busy {
        from_ms: moment as f64,
        to_ms: moment as f64 + LOOP_MS,
    };
    (loaded, playback, busy, messages_in_flight)
}

/// Plays the scene in a loop over its busy stretch (after the window's plugins are added).
fn play_busy(app: &mut App, playback: Playback, busy: Busy) {
    app.insert_resource(playback)
        .insert_resource(busy)
        .add_systems(PostUpdate, play_in_a_loop);
}

fn no_vsync(mut window: Single<&mut Window, With<PrimaryWindow>>) {
    window.present_mode = PresentMode::AutoNoVsync;
}

/// The `q`-quantile of some times (sorted in place).
fn quantile(times: &mut [f64], q: f64) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_by(f64::total_cmp);
    times[((times.len() - 1) as f64 * q).round() as usize]
}

/// Runs the benchmark; `launch` is when the program started.
pub fn bench_window(opts: &WindowBench, launch: Instant) -> ExitCode {
    let scenario = if opts.empty {
        crate::bench::generate(0, 0, opts.seed)
    } else {
        crate::bench::generate_within(opts.domains, opts.messages, opts.seed, opts.spread_ms)
    };
    let hosts = scenario.hosts.len();
    let (loaded, playback, busy, messages_in_flight) = at_busiest(scenario);
    let moment = busy.from_ms as u64;
    let packets = loaded
        .index
        .in_flight(busy.from_ms)
        .filter(|f| f.drawn.is_some())
        .count();
    let events = loaded.outcome.trace.len();
    let links = super::diagram::Diagram::of(&loaded).links.len();
    let ready_s = launch.elapsed().as_secs_f64();

    let scene = if opts.empty {
        "empty (no hosts, no messages)".to_string()
    } else {
        format!(
            "{} domains, {hosts} hosts, {} messages sent within {} ms",
            opts.domains, opts.messages, opts.spread_ms
        )
    };
    let header = format!(
        "scene                  {scene}\n\
         trace events           {events}; {links} links drawn\n\
         cursor at              {moment} ms: {messages_in_flight} messages in flight, {packets} packets on the links;\n\
         \x20                      played at 1x from there, and back every {LOOP_MS} ms of virtual time\n\
         window                 {}x{}, vsync {}, {} warm-up frames left out\n\
         scenario ready         {ready_s:.3} s after launch (generated and simulated)\n",
        opts.size.0,
        opts.size.1,
        if opts.vsync { "on" } else { "off" },
        opts.warmup,
    );

    let first_present = Arc::new(Mutex::new(None));
    let mut app = super::app(loaded, opts.size, false);
    play_busy(&mut app, playback, busy);
    app.insert_resource(FrameClock {
        launch,
        started: None,
        frames: 0,
        warmup: opts.warmup,
        wanted: opts.frames,
        updates_ms: Vec::new(),
        frames_ms: Vec::new(),
        cpu_ms: Vec::new(),
        cpu_at_start: None,
        first_update_s: None,
        first_present: first_present.clone(),
        header,
    })
    .add_systems(First, frame_start)
    .add_systems(Last, frame_end);
    if !opts.vsync {
        app.add_systems(Startup, no_vsync);
    }
    app.sub_app_mut(RenderApp)
        .insert_resource(FirstPresent(first_present))
        .add_systems(
            Render,
            (note_present, note_render_thread).in_set(RenderSystems::Cleanup),
        );
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    }
}

/// The CPU time of a frame's parts; see [`HeadlessWindow::frame_in_parts`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameParts {
    pub update: Duration,
    pub render: Duration,
    pub wait: Duration,
}

/// The window's app without a window, for criterion (`benches/window.rs`): the camera draws
/// into an image and the caller pumps the frames. Criterion times a closure many times over,
/// and a winit event loop can start only once in a process, so the real window cannot be
/// sampled that way; everything else (the diagram, the panels, Bevy's renderer and lavapipe)
/// is the window's own.
pub struct HeadlessWindow(bevy::app::SubApps);

impl HeadlessWindow {
    /// The `bench-window` scene (or the empty one, with `domains` 0) at its busiest moment,
    /// playing at 1x and jumping back every [`LOOP_MS`] of virtual time.
    pub fn new(domains: usize, messages: usize, spread_ms: u64, size: (u32, u32)) -> Self {
        use bevy::asset::RenderAssetUsages;
        use bevy::camera::RenderTarget;
        use bevy::render::RenderPlugin;
        use bevy::render::render_resource::{
            Extent3d, TextureDimension, TextureFormat, TextureUsages,
        };
        use bevy::window::ExitCondition;
        use bevy::winit::WinitPlugin;

        let scenario = crate::bench::generate_within(domains, messages, 1, spread_ms);
        let (loaded, playback, busy, _) = at_busiest(scenario);

        let mut app = App::new();
        app.add_plugins(
            super::bevy_plugins()
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    ..default()
                })
                .set(RenderPlugin {
                    // Every shader ready for the first frame, not compiled during the timing.
                    synchronous_pipeline_compilation: true,
                    ..default()
                })
                .disable::<WinitPlugin>(),
        );
        super::add_window_plugins(&mut app, loaded, false);
        let mut image = Image::new_uninit(
            Extent3d {
                width: size.0,
                height: size.1,
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            TextureFormat::Rgba8UnormSrgb,
            RenderAssetUsages::RENDER_WORLD,
        );
        image.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT;
        let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        app.add_observer(move |add: On<Add, Camera2d>, mut commands: Commands| {
            commands
                .entity(add.entity)
                .insert(RenderTarget::from(target.clone()));
        });
        play_busy(&mut app, playback, busy);
        // No runner: the caller pumps the frames, so the app is finished here.
        app.finish();
        app.cleanup();
        HeadlessWindow(std::mem::take(app.sub_apps_mut()))
    }

    /// One frame: the update of every system, then the renderer's work, waited for.
    pub fn frame(&mut self) {
        self.frame_in_parts();
    }

    /// One frame, with the CPU time (of the program's threads, lavapipe's rasteriser left out)
    /// of its three parts: the main world's update (every system of the window: the diagram,
    /// the panels, the playback), the renderer's extraction and rendering (Bevy's render world,
    /// and lavapipe's driver on the same thread, which stands in for a GPU's command processor),
    /// and the wait for the rasteriser to finish.
    pub fn frame_in_parts(&mut self) -> FrameParts {
        use bevy::render::render_resource::PollType;
        use bevy::render::renderer::RenderDevice;
        let cpu = || Duration::from_nanos(own_cpu_ns().unwrap_or(0));
        let start = cpu();
        let apps = &mut self.0;
        apps.main.run_default_schedule();
        let updated = cpu();
        for sub_app in apps.sub_apps.values_mut() {
            sub_app.extract(apps.main.world_mut());
            sub_app.update();
        }
        apps.main.world_mut().clear_trackers();
        let rendered = cpu();
        let device = apps.main.world().resource::<RenderDevice>();
        let _ = device.wgpu_device().poll(PollType::Wait {
            submission_index: None,
            timeout: None,
        });
        FrameParts {
            update: updated - start,
            render: rendered - updated,
            wait: cpu() - rendered,
        }
    }

    /// The packets and envelopes drawn in the last frame's moment (to check the scene is busy).
    pub fn in_flight(&self) -> usize {
        let world = self.0.main.world();
        let now = world.resource::<Playback>().now_ms;
        world
            .resource::<Loaded>()
            .index
            .in_flight(now)
            .filter(|f| f.drawn.is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measure_counts_the_programs_threads_and_leaves_mesas_out() {
        let owner = |tid, name| ThreadOwner::of(tid, name, "mailsim", 100, 105);
        use ThreadOwner::{Driver, Program};
        // The main and render threads carry the program's name; so do Mesa's unnamed threads
        // (lavapipe's queue thread), which are not the program's.
        assert_eq!(owner(100, "mailsim"), Program);
        assert_eq!(owner(105, "mailsim"), Program);
        assert_eq!(owner(104, "mailsim"), Driver);
        assert_eq!(owner(101, "Compute Task Pool (0)"), Program);
        assert_eq!(owner(102, "IO Task Pool (0)"), Program);
        assert_eq!(owner(106, "llvmpipe-0"), Driver);
        assert_eq!(owner(107, "mailsim:disk$0"), Driver);
        // Before the render world has run (render thread 0), an unnamed thread is Mesa's.
        assert_eq!(ThreadOwner::of(105, "mailsim", "mailsim", 100, 0), Driver);
    }

    #[test]
    fn a_narrow_window_puts_a_thousand_messages_in_flight_at_once() {
        let scenario = crate::bench::generate_within(50, 1000, 1, 200);
        assert_eq!(scenario.hosts.len(), 200);
        let trace = crate::sim::run(&scenario).trace;
        let (moment, n) = busiest_moment(&trace);
        assert!(n >= 950, "{n} messages in flight at {moment} ms");
    }

    #[test]
    fn quantiles() {
        let mut t = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut t, 0.5), 3.0);
        assert_eq!(quantile(&mut t, 1.0), 5.0);
        assert!(quantile(&mut [], 0.5).is_nan());
    }
}
