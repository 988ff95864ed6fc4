//! The window, rendered without a GPU: `mailsim shot` under Xvfb with Mesa's lavapipe, and
//! coarse facts about the pixels. Your own eyes judge the rest (see the README's screenshots).
#![cfg(feature = "gui")]

use std::path::PathBuf;
use std::process::Command;

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether what a window test needs is here; if not, the test is skipped with a word on what
/// to install. CI installs everything and sets MAILSIM_REQUIRE_WINDOW_TEST, so that there a
/// window test can never be skipped.
fn needs(present: bool, missing: &str, install: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var_os("MAILSIM_REQUIRE_WINDOW_TEST").is_none(),
        "{missing}"
    );
    eprintln!("skipped: {missing} ({install})");
    false
}

/// Whether Xvfb is here to render under.
fn can_render() -> bool {
    needs(
        have("xvfb-run"),
        "xvfb-run is not installed",
        "apt-get install xvfb mesa-vulkan-drivers",
    )
}

/// Whether a Vulkan driver is installed (Mesa's lavapipe will do) for rendering without a window.
fn can_render_headless() -> bool {
    needs(
        std::fs::read_dir("/usr/share/vulkan/icd.d").is_ok_and(|mut d| d.next().is_some()),
        "no Vulkan driver in /usr/share/vulkan/icd.d",
        "apt-get install mesa-vulkan-drivers",
    )
}

/// The frame-time benchmark (benches/window.rs) draws the whole window into an image with no
/// window at all; here it draws a few frames of a busy scene.
#[test]
fn the_window_renders_headless_for_the_frame_time_benchmark() {
    if !can_render_headless() {
        return;
    }
    let mut window = mailsim::gui::bench::HeadlessWindow::new(3, 30, 50, (800, 450));
    for _ in 0..3 {
        window.frame();
    }
    assert!(
        window.in_flight() > 0,
        "the busiest moment has packets in flight"
    );
}

#[test]
fn a_lesson_renders_mid_delivery_with_the_envelope_and_panels() {
    if !can_render() {
        return;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson1-step34.png");
    let _ = std::fs::remove_file(&out);
    let lesson = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/01-alice-writes-to-bob.ron"
    );
    // Event 34 is the message text travelling from smtp.alpha.example to mx.beta.example.
    let status = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1600x900x24",
            env!("CARGO_BIN_EXE_mailsim"),
            "shot",
            lesson,
            "--step",
            "34",
            "--out",
        ])
        .arg(&out)
        .env("WGPU_BACKEND", "vulkan")
        .status()
        .expect("xvfb-run starts");
    assert!(status.success(), "mailsim shot failed: {status}");
    let img = image::open(&out).expect("the PNG decodes").to_rgb8();
    assert_eq!(img.dimensions(), (1600, 900));
    let pixels: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let distinct: std::collections::BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 50,
        "the picture is nearly blank: {} colours",
        distinct.len()
    );
    // The envelope's yellow (Okabe-Ito #F0E442), within a little rounding.
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 24);
    let envelope = pixels.iter().filter(|p| near(p, [240, 228, 66])).count();
    assert!(
        envelope > 100,
        "the envelope is not visible ({envelope} yellow pixels)"
    );
    // The panels hold text: many light pixels in the left event list.
    let panel_text = (70..880)
        .flat_map(|y| (0..290).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|v| *v > 150))
        .count();
    assert!(
        panel_text > 500,
        "the event list looks empty ({panel_text} light pixels)"
    );
}

#[test]
fn frames_and_gif_exports_hold_one_picture_per_chosen_step() {
    if !can_render() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson1-frames");
    let gif = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson1.gif");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&gif);
    let lesson = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/01-alice-writes-to-bob.ron"
    );
    let status = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            env!("CARGO_BIN_EXE_mailsim"),
        ])
        .args([
            "export", lesson, "--every", "40", "--size", "640x360", "--frames",
        ])
        .arg(&dir)
        .arg("--gif")
        .arg(&gif)
        .env("WGPU_BACKEND", "vulkan")
        .status()
        .expect("xvfb-run starts");
    assert!(status.success(), "mailsim export failed: {status}");
    let events = mailsim::sim::run(&mailsim::scenario::load_file(lesson.as_ref()).unwrap())
        .trace
        .len();
    // Every 40th event from the first, and the last.
    let expected = events.div_ceil(40) + usize::from(!(events - 1).is_multiple_of(40));
    let pngs = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(pngs, expected);
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .expect("the GIF decodes");
    use image::AnimationDecoder;
    let frames = decoder
        .into_frames()
        .collect_frames()
        .expect("its frames decode");
    assert_eq!(frames.len(), expected, "one GIF frame per PNG");
    assert_eq!(frames[0].buffer().dimensions(), (640, 360));
}

#[test]
fn without_a_display_the_window_commands_say_what_to_do() {
    let lesson = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/01-alice-writes-to-bob.ron"
    );
    for args in [
        vec![lesson],
        vec!["shot", lesson, "--step", "3", "--out", "/dev/null"],
        vec!["serve", lesson, "--gui"],
        vec!["bench-window", "--frames", "1"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailsim"))
            .args(&args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: no display") && stderr.contains("xvfb-run"),
            "{args:?}: {stderr}"
        );
    }
}
