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

#[test]
fn a_lesson_renders_mid_delivery_with_the_envelope_and_panels() {
    if !have("xvfb-run") {
        // CI installs Xvfb and sets this, so that there the test can never be skipped.
        assert!(
            std::env::var_os("MAILSIM_REQUIRE_WINDOW_TEST").is_none(),
            "xvfb-run is missing"
        );
        eprintln!("skipped: xvfb-run is not installed (apt-get install xvfb mesa-vulkan-drivers)");
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
