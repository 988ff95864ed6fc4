//! `mailsim export --frames DIR` and `--gif OUT`: the window rendered at step after step, as
//! `mailsim shot` renders one moment, and the PNGs joined into an animated GIF for slides.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};

use super::{Loaded, Playback, app};
use crate::scenario::Scenario;

/// Frames of layout before the first picture (fonts, the egui panels) and between pictures.
const FIRST_WAIT: u32 = 12;
const STEP_WAIT: u32 = 5;
/// Frames after a screenshot is requested before the cursor moves on, so that it shows the
/// moment it was taken for.
const CAPTURE_FRAMES: u32 = 3;
/// Frames for the last pictures to reach the disk before the app exits.
const DRAIN_FRAMES: u32 = 30;

/// The steps still to render, and where.
#[derive(Resource)]
pub(crate) struct FrameShots {
    steps: Vec<usize>,
    dir: PathBuf,
    next: usize,
    frame: u32,
}

/// The file of the `n`th frame.
pub fn frame_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("frame-{n:04}.png"))
}

/// The steps a frames export shows: every `every`th event, and always the last.
pub fn steps(events: usize, every: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = (0..events).step_by(every.max(1)).collect();
    if events > 0 && steps.last() != Some(&(events - 1)) {
        steps.push(events - 1);
    }
    steps
}

/// Renders the chosen steps of a scenario to `dir/frame-0000.png`, ... and returns how many.
pub fn render_frames(
    scenario: Scenario,
    path: PathBuf,
    dir: &Path,
    every: usize,
    size: (u32, u32),
) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let loaded = Loaded::new(path, scenario);
    let steps = steps(loaded.outcome.trace.len(), every);
    let count = steps.len();
    let mut app = app(loaded, size, false);
    app.world_mut().resource_mut::<super::quiz::Quiz>().off = true;
    app.insert_resource(FrameShots {
        steps,
        dir: dir.to_path_buf(),
        next: 0,
        frame: 0,
    })
    .add_systems(Update, take_frames);
    if let AppExit::Error(_) = app.run() {
        return Err("the window could not render the frames".into());
    }
    let missing: Vec<_> = (0..count)
        .map(|n| frame_path(dir, n))
        .filter(|p| !p.exists())
        .collect();
    match missing.first() {
        Some(p) => Err(format!(
            "{} frame(s) were not saved, first {}",
            missing.len(),
            p.display()
        )),
        None => Ok(count),
    }
}

fn take_frames(
    mut commands: Commands,
    loaded: Res<Loaded>,
    mut shots: ResMut<FrameShots>,
    mut playback: ResMut<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    shots.frame += 1;
    let trace = &loaded.outcome.trace;
    let Some(&step) = shots.steps.get(shots.next) else {
        if shots.frame >= DRAIN_FRAMES {
            exit.write(AppExit::Success);
        }
        return;
    };
    let wait = if shots.next == 0 {
        FIRST_WAIT
    } else {
        STEP_WAIT
    };
    if shots.frame == 1 {
        super::show_step(&mut playback, trace, step);
        playback.playing = false;
    } else if shots.frame == wait {
        let path = frame_path(&shots.dir, shots.next);
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(path));
    } else if shots.frame >= wait + CAPTURE_FRAMES {
        shots.next += 1;
        shots.frame = 0;
    }
}

/// Joins frames into an animated GIF that loops: each frame shows for `delay_ms`, the last
/// one three times as long.
pub fn write_gif(frames: &[PathBuf], out: &Path, delay_ms: u32) -> Result<(), String> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 20);
    encoder
        .set_repeat(Repeat::Infinite)
        .map_err(|e| e.to_string())?;
    for (n, path) in frames.iter().enumerate() {
        let picture = image::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .to_rgba8();
        let ms = if n + 1 == frames.len() {
            delay_ms * 3
        } else {
            delay_ms
        };
        let frame = Frame::from_parts(picture, 0, 0, Delay::from_numer_denom_ms(ms, 1));
        encoder.encode_frame(frame).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `mailsim export --frames DIR --gif OUT`: either or both.
pub fn export(
    scenario: Scenario,
    path: PathBuf,
    frames_dir: Option<PathBuf>,
    gif: Option<PathBuf>,
    every: usize,
    size: (u32, u32),
) -> ExitCode {
    // A GIF alone still needs its frames somewhere: a directory beside it.
    let dir = match (&frames_dir, &gif) {
        (Some(d), _) => d.clone(),
        (None, Some(g)) => g.with_extension("frames"),
        (None, None) => return ExitCode::SUCCESS,
    };
    let count = match render_frames(scenario, path, &dir, every, size) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if frames_dir.is_some() {
        eprintln!("wrote {count} frames to {}", dir.display());
    }
    if let Some(out) = gif {
        let frames: Vec<PathBuf> = (0..count).map(|n| frame_path(&dir, n)).collect();
        if let Err(e) = write_gif(&frames, &out, 800) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        if frames_dir.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        eprintln!(
            "wrote an animated GIF of {count} frames to {}",
            out.display()
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::steps;

    #[test]
    fn frames_show_every_nth_step_and_the_last() {
        assert_eq!(steps(10, 4), [0, 4, 8, 9]);
        assert_eq!(steps(9, 4), [0, 4, 8]);
        assert_eq!(steps(3, 1), [0, 1, 2]);
        assert!(steps(0, 5).is_empty());
    }
}
