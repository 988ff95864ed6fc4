//! Packets and envelopes: every transmission in flight as a small picture moving along its
//! link, and every message waiting in a queue as an envelope parked beside its server.
//!
//! All of them are one mesh: a textured quad for each picture, tinted by its vertices' colour,
//! rebuilt only when what is on show changes and drawn in a single call: one entity however
//! many packets fly, and no work at all while playback is paused. (Outlines drawn anew every
//! frame were tens of thousands of line vertices for a thousand packets. A sprite each cost the
//! same as this mesh in the busy benchmark scene, within the noise; see BENCHMARKS.md.) The
//! pictures are drawn once, at start-up, side by side in one small texture.

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::NoFrustumCulling;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use super::diagram::{Diagram, palette, protocol_color};
use super::index::Look;
use super::inspector::Queues;
use super::{GuiSet, Loaded, Playback};
use crate::scenario::Role;
use crate::sim::Trace;

pub struct PacketsPlugin;

impl Plugin for PacketsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, draw_pictures).add_systems(
            Update,
            (
                show_packets,
                spawn_countdowns.run_if(resource_exists_and_changed::<Diagram>),
                show_countdowns,
            )
                .chain()
                .in_set(GuiSet::Draw),
        );
    }
}

/// The pictures, white on transparent, tinted by the sprites' colours: side by side in one
/// texture, so that every packet on screen is drawn in a single batch.
#[derive(Resource)]
struct Pictures {
    /// The texture's size in texels, to turn the rectangles below into texture coordinates.
    atlas_size: Vec2,
    /// An SMTP line: a ring.
    ring: Rect,
    /// DNS: a diamond.
    diamond: Rect,
    /// POP3 and IMAP: a square.
    square: Rect,
    /// The message on its way: an envelope with a border inside it.
    envelope: Rect,
    /// A bounce on its way back: the envelope crossed out.
    bounce: Rect,
    /// Waiting in a queue: a plain envelope, and a plain crossed-out one.
    parked: Rect,
    parked_bounce: Rect,
}

/// Texels per world unit: sharp at the lessons' zoom, where a world unit is about a pixel.
const TEXELS: f32 = 3.0;
/// The width of an outline, in world units: three pixels at full size, like the links' ends.
const LINE: f32 = 2.5;

/// A picture of line segments (in world units, centred on the origin) the size of `size` world
/// units plus a line's width around it: its width and height in texels, and its texels' alpha,
/// opaque where the lines are, with soft edges.
fn picture(size: Vec2, segments: &[(Vec2, Vec2)]) -> (u32, u32, Vec<u8>) {
    let extent = size + Vec2::splat(LINE * 2.0);
    let (w, h) = (
        (extent.x * TEXELS).ceil() as u32,
        (extent.y * TEXELS).ceil() as u32,
    );
    let mut alpha = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            // The texel's centre in world units, y up.
            let p = Vec2::new(
                (x as f32 + 0.5) / TEXELS - extent.x / 2.0,
                extent.y / 2.0 - (y as f32 + 0.5) / TEXELS,
            );
            let distance = segments
                .iter()
                .map(|&(a, b)| super::distance_to_segment(p, a, b))
                .fold(f32::INFINITY, f32::min);
            let coverage = ((LINE / 2.0 - distance) * TEXELS + 0.5).clamp(0.0, 1.0);
            alpha.push((coverage * 255.0).round() as u8);
        }
    }
    (w, h, alpha)
}

/// Pictures side by side in one white texture (their alpha is their shape), a texel apart;
/// returns the texture and each picture's rectangle in it.
fn atlas(pictures: &[(u32, u32, Vec<u8>)]) -> (Image, Vec<Rect>) {
    let width: u32 = pictures.iter().map(|p| p.0 + 1).sum();
    let height = pictures.iter().map(|p| p.1).max().unwrap_or(1);
    let mut data = vec![0u8; (width * height * 4) as usize];
    let mut rects = Vec::new();
    let mut left = 0;
    for (w, h, alpha) in pictures {
        for y in 0..*h {
            for x in 0..*w {
                let i = ((y * width + left + x) * 4) as usize;
                data[i..i + 3].copy_from_slice(&[255, 255, 255]);
                data[i + 3] = alpha[(y * w + x) as usize];
            }
        }
        rects.push(Rect::new(left as f32, 0.0, (left + w) as f32, *h as f32));
        left += w + 1;
    }
    let image = Image::new(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    (image, rects)
}

/// The four sides of a rectangle of this size, centred on the origin.
fn rectangle(size: Vec2) -> [(Vec2, Vec2); 4] {
    let h = size / 2.0;
    let corners = [
        Vec2::new(-h.x, -h.y),
        Vec2::new(h.x, -h.y),
        Vec2::new(h.x, h.y),
        Vec2::new(-h.x, h.y),
    ];
    std::array::from_fn(|i| (corners[i], corners[(i + 1) % 4]))
}

/// An envelope: its outline, the flap folded down to just below the middle, and optionally a
/// border inside the outline and a cross over it (a bounce).
fn envelope(size: Vec2, border: bool, crossed: bool) -> Vec<(Vec2, Vec2)> {
    let h = size / 2.0;
    let fold = Vec2::new(0.0, -h.y / 8.0);
    let mut lines = rectangle(size).to_vec();
    lines.push((Vec2::new(-h.x, h.y), fold));
    lines.push((Vec2::new(h.x, h.y), fold));
    if border {
        lines.extend(rectangle(size - Vec2::splat(6.0)));
    }
    if crossed {
        lines.push((-h, h));
    }
    lines
}

const ENVELOPE: Vec2 = Vec2::new(48.0, 32.0);
const PARKED: Vec2 = Vec2::new(26.0, 17.0);
const SMALL: f32 = 12.0;

fn draw_pictures(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let ring: Vec<(Vec2, Vec2)> = (0..24)
        .map(|i| {
            let at = |k: i32| Vec2::from_angle(k as f32 * std::f32::consts::TAU / 24.0) * 7.0;
            (at(i), at(i + 1))
        })
        .collect();
    let d = SMALL / std::f32::consts::SQRT_2;
    let diamond = [
        Vec2::new(0.0, d),
        Vec2::new(d, 0.0),
        Vec2::new(0.0, -d),
        Vec2::new(-d, 0.0),
    ];
    let diamond: Vec<(Vec2, Vec2)> = (0..4).map(|i| (diamond[i], diamond[(i + 1) % 4])).collect();
    let (image, rects) = atlas(&[
        picture(Vec2::splat(14.0), &ring),
        picture(Vec2::splat(2.0 * d), &diamond),
        picture(Vec2::splat(SMALL), &rectangle(Vec2::splat(SMALL))),
        picture(ENVELOPE, &envelope(ENVELOPE, true, false)),
        picture(ENVELOPE, &envelope(ENVELOPE, true, true)),
        picture(PARKED, &envelope(PARKED, false, false)),
        picture(PARKED, &envelope(PARKED, false, true)),
    ]);
    let [
        ring,
        diamond,
        square,
        envelope,
        bounce,
        parked,
        parked_bounce,
    ] = rects[..].try_into().expect("seven pictures");
    let atlas_size = Vec2::new(image.width() as f32, image.height() as f32);
    // White texture times each vertex's colour (blended, the material's default).
    let material = materials.add(ColorMaterial::from(images.add(image)));
    let mesh = meshes.add(quads(&[Shown::NOTHING], atlas_size));
    let entity = commands
        .spawn((
            Mesh2d(mesh.clone()),
            MeshMaterial2d(material),
            Transform::from_translation(Vec3::Z * Z),
            // The mesh changes as packets move; bounds computed once would go stale.
            NoFrustumCulling,
            Visibility::Hidden,
        ))
        .id();
    commands.insert_resource(Layer { mesh, entity });
    commands.insert_resource(Pictures {
        atlas_size,
        ring,
        diamond,
        square,
        envelope,
        bounce,
        parked,
        parked_bounce,
    });
}

/// The entity that shows every packet, and its mesh.
#[derive(Resource)]
struct Layer {
    mesh: Handle<Mesh>,
    entity: Entity,
}

/// One picture to show this frame.
#[derive(Clone, Copy, PartialEq)]
struct Shown {
    at: Vec2,
    /// Where the picture is in the atlas.
    rect: Rect,
    /// The picture's drawn size in world units (its texture has a line's width around it).
    size: Vec2,
    color: Color,
}

impl Shown {
    /// An invisible picture: the packets' mesh starts with it, as a mesh needs its attributes.
    const NOTHING: Shown = Shown {
        at: Vec2::ZERO,
        rect: Rect {
            min: Vec2::ZERO,
            max: Vec2::ZERO,
        },
        size: Vec2::ZERO,
        color: Color::NONE,
    };
}

/// A mesh of one textured, tinted quad for each picture, in order (a later one on top).
fn quads(shown: &[Shown], atlas_size: Vec2) -> Mesh {
    let n = shown.len();
    let mut positions = Vec::with_capacity(4 * n);
    let mut uvs = Vec::with_capacity(4 * n);
    let mut colors = Vec::with_capacity(4 * n);
    let mut indices = Vec::with_capacity(6 * n);
    // A handful of colours among a thousand pictures: each is turned into linear RGB once.
    let mut linear: Vec<(Color, [f32; 4])> = Vec::new();
    for s in shown {
        // The picture's texture has a line's width around the shape.
        let half = (s.size + Vec2::splat(LINE * 2.0)) / 2.0;
        let (lo, hi) = (s.rect.min / atlas_size, s.rect.max / atlas_size);
        let color = match linear.iter().find(|(c, _)| *c == s.color) {
            Some(&(_, l)) => l,
            None => {
                let l = s.color.to_linear().to_f32_array();
                linear.push((s.color, l));
                l
            }
        };
        let first = positions.len() as u32;
        // Counter-clockwise from the bottom left; the texture's rows run downwards.
        for (corner, uv) in [
            (Vec2::new(-half.x, -half.y), Vec2::new(lo.x, hi.y)),
            (Vec2::new(half.x, -half.y), Vec2::new(hi.x, hi.y)),
            (Vec2::new(half.x, half.y), Vec2::new(hi.x, lo.y)),
            (Vec2::new(-half.x, half.y), Vec2::new(lo.x, lo.y)),
        ] {
            positions.push((s.at + corner).extend(0.0).to_array());
            uvs.push(uv.to_array());
            colors.push(color);
        }
        indices.extend([0, 1, 2, 0, 2, 3].map(|k| first + k));
    }
    // The render world's alone: it takes the vertices over instead of copying them, and the
    // next change builds a new mesh anyway.
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uvs)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colors)
    .with_inserted_indices(Indices::U32(indices))
}

/// Above the hosts (at 1) and their labels (1 + 2).
const Z: f32 = 10.0;

/// What is in flight and what waits in queues at the moment on show, as pictures.
fn pictures_now(
    pictures: &Pictures,
    diagram: &Diagram,
    loaded: &Loaded,
    playback: &Playback,
    queues: &Queues,
    shown: &mut Vec<Shown>,
) {
    let now = playback.now_ms;
    let hosts = &diagram.layout.hosts;
    // Only what the cursor has reached: an event at the same moment as the one on show but
    // after it (held back by a question, say) has not happened yet.
    let reached = |f: &&crate::gui::index::Flight| playback.cursor.is_some_and(|c| f.event <= c);
    for flight in loaded.index.in_flight(now).filter(reached) {
        let Some(d) = flight.drawn else { continue };
        let (Some(&a), Some(&b)) = (hosts.get(d.from), hosts.get(d.to)) else {
            continue;
        };
        let (t0, t1) = (flight.t0 as f64, flight.t1 as f64);
        let f = ((now - t0) / (t1 - t0)).clamp(0.0, 1.0) as f32;
        let (rect, size, color) = match d.look {
            Look::Envelope { bounce: false } => (pictures.envelope, ENVELOPE, palette::ENVELOPE),
            Look::Envelope { bounce: true } => (pictures.bounce, ENVELOPE, palette::BOUNCE),
            Look::Dns => (
                pictures.diamond,
                Vec2::splat(2.0 * SMALL / std::f32::consts::SQRT_2),
                protocol_color(d.protocol),
            ),
            Look::Mailbox => (
                pictures.square,
                Vec2::splat(SMALL),
                protocol_color(d.protocol),
            ),
            Look::Line => (pictures.ring, Vec2::splat(14.0), protocol_color(d.protocol)),
        };
        shown.push(Shown {
            at: a.lerp(b, f),
            rect,
            size,
            color,
        });
    }
    if !queues.is_for(&loaded.index) {
        return;
    }
    // At most five parked envelopes a host, stacked beside it.
    for (h, queue) in queues.hosts.iter().enumerate() {
        let Some(&home) = hosts.get(h) else { continue };
        for (k, parked) in queue.iter().take(5).enumerate() {
            let bounce = loaded
                .index
                .bounce
                .get(parked.message as usize)
                .copied()
                .unwrap_or(false);
            let (rect, color) = if bounce {
                (pictures.parked_bounce, palette::BOUNCE)
            } else {
                (pictures.parked, palette::ENVELOPE)
            };
            shown.push(Shown {
                at: home + PARKED_AT + Vec2::new(8.0 * k as f32, -6.0 * k as f32),
                rect,
                size: PARKED,
                color,
            });
        }
    }
}

/// What the pictures of a moment are made from.
#[derive(bevy::ecs::system::SystemParam)]
struct Scene<'w> {
    pictures: Option<Res<'w, Pictures>>,
    diagram: Option<Res<'w, Diagram>>,
    loaded: Res<'w, Loaded>,
    playback: Res<'w, Playback>,
    queues: Res<'w, Queues>,
}

/// Rebuilds the packets' mesh when what is on show changed since the last frame; hides it when
/// nothing is.
fn show_packets(
    scene: Scene,
    layer: Option<Res<Layer>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut visibility: Query<&mut Visibility>,
    mut shown: Local<Vec<Shown>>,
    mut last: Local<Vec<Shown>>,
) {
    let (Some(pictures), Some(diagram), Some(layer)) = (&scene.pictures, &scene.diagram, layer)
    else {
        return;
    };
    shown.clear();
    pictures_now(
        pictures,
        diagram,
        &scene.loaded,
        &scene.playback,
        &scene.queues,
        &mut shown,
    );
    if *shown == *last {
        return;
    }
    if let Ok(mut v) = visibility.get_mut(layer.entity) {
        v.set_if_neq(if shown.is_empty() {
            Visibility::Hidden
        } else {
            Visibility::Visible
        });
    }
    if !shown.is_empty()
        && let Some(mut mesh) = meshes.get_mut(&layer.mesh)
    {
        *mesh = quads(&shown, pictures.atlas_size);
    }
    std::mem::swap(&mut *shown, &mut *last);
}

/// Where the parked envelopes of a host start, from the host's centre (world units); more stack
/// down and to the right.
const PARKED_AT: Vec2 = Vec2::new(44.0, 14.0);

/// The countdown above a server's parked envelopes: how long until its queue's next attempt
/// (issue 3: a queued message waits at its server with a countdown). Hidden while nothing in
/// the queue has been deferred.
#[derive(Component)]
struct QueueCountdown(usize);

/// Gives every host that can keep a queue (a submission server or an MX) a hidden countdown
/// when a diagram is built, in place of the previous diagram's: the labels are this plugin's
/// own, so a reload in two frames running cannot leave a second set behind.
fn spawn_countdowns(
    mut commands: Commands,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    old: Query<Entity, With<QueueCountdown>>,
) {
    for e in &old {
        commands.entity(e).despawn();
    }
    for (h, host) in loaded.scenario.hosts.iter().enumerate() {
        let Some(&at) = diagram.layout.hosts.get(h) else {
            continue;
        };
        if !(host.has(Role::Submission) || host.has(Role::Mx)) {
            continue;
        }
        commands.spawn((
            QueueCountdown(h),
            Text2d::default(),
            TextFont {
                font_size: FontSize::Px(COUNTDOWN_PX),
                ..default()
            },
            TextColor(palette::ENVELOPE),
            // From the first envelope's left edge, rightwards: clear of the links that reach
            // the host from above.
            bevy::sprite::Anchor::CENTER_LEFT,
            Transform::from_translation((at + PARKED_AT + Vec2::new(-13.0, 20.0)).extend(Z)),
            Visibility::Hidden,
        ));
    }
}

/// The countdown's font size, in world units.
const COUNTDOWN_PX: f32 = 11.0;

/// The earliest next attempt of each host's queue (`None`: nothing deferred there).
fn next_attempts(queues: &Queues, trace: &Trace) -> Vec<Option<u64>> {
    queues
        .hosts
        .iter()
        .map(|queue| queue.iter().filter_map(|p| p.next_attempt_ms(trace)).min())
        .collect()
}

/// Shows each server's countdown. Runs only when the cursor, the queues or the zoom moved; a
/// label's text is set only when it changes, so that it is laid out again once a second at
/// most. Too small to read when zoomed out, it is hidden like the diagram's other labels.
#[allow(clippy::type_complexity)]
fn show_countdowns(
    scene: Scene,
    camera: Query<Ref<Projection>, With<Camera2d>>,
    mut labels: Query<(&QueueCountdown, &mut Text2d, &mut Visibility)>,
    added: Query<(), Added<QueueCountdown>>,
    mut attempts: Local<Vec<Option<u64>>>,
) {
    let zoom = camera.iter().next();
    let zoomed = zoom.as_ref().is_some_and(|p| p.is_changed());
    if scene.queues.is_changed() || scene.loaded.is_changed() {
        *attempts = if scene.queues.is_for(&scene.loaded.index) {
            next_attempts(&scene.queues, &scene.loaded.outcome.trace)
        } else {
            Vec::new()
        };
    } else if !(scene.playback.is_changed() || zoomed || !added.is_empty()) {
        return;
    }
    let readable = match zoom.as_deref() {
        Some(Projection::Orthographic(o)) => super::diagram::readable(COUNTDOWN_PX, o.scale),
        _ => true,
    };
    let now = scene.playback.now_ms as u64;
    for (QueueCountdown(h), mut text, mut visibility) in &mut labels {
        match attempts.get(*h).copied().flatten() {
            Some(t) if readable => {
                let words = super::next_attempt_words(t, now);
                if text.0 != words {
                    text.0 = words;
                }
                visibility.set_if_neq(Visibility::Inherited);
            }
            _ => {
                visibility.set_if_neq(Visibility::Hidden);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_the_cursor_has_not_reached_is_not_drawn_even_at_the_same_moment() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let loaded = Loaded::new(
            path.into(),
            crate::scenario::load_file(std::path::Path::new(path)).unwrap(),
        );
        let trace = &loaded.outcome.trace;
        // The DNS query leaves at the very moment of the event before it.
        let query = trace
            .events
            .iter()
            .position(|e| e.kind == crate::sim::EventKind::DnsQuery)
            .unwrap();
        assert_eq!(trace.events[query - 1].t_ms, trace.events[query].t_ms);
        let pictures = Pictures {
            atlas_size: Vec2::new(7.0, 1.0),
            ring: Rect::new(0.0, 0.0, 1.0, 1.0),
            diamond: Rect::new(1.0, 0.0, 2.0, 1.0),
            square: Rect::new(2.0, 0.0, 3.0, 1.0),
            envelope: Rect::new(3.0, 0.0, 4.0, 1.0),
            bounce: Rect::new(4.0, 0.0, 5.0, 1.0),
            parked: Rect::new(5.0, 0.0, 6.0, 1.0),
            parked_bounce: Rect::new(6.0, 0.0, 7.0, 1.0),
        };
        let diagram = Diagram::of(&loaded);
        let diamonds = |cursor: usize| {
            let mut playback = Playback::default();
            playback.go_to(trace, cursor);
            let mut shown = Vec::new();
            pictures_now(
                &pictures,
                &diagram,
                &loaded,
                &playback,
                &Queues::default(),
                &mut shown,
            );
            shown.iter().filter(|s| s.rect == pictures.diamond).count()
        };
        assert_eq!(
            diamonds(query - 1),
            0,
            "held before the query: no DNS packet yet"
        );
        assert_eq!(diamonds(query), 1);
    }

    /// The countdown's systems in an app with no window, on lesson 7 (greylisting) with the
    /// cursor at event `at`: each host's label, shown or not.
    fn countdowns_at(app: &mut App, at: impl Fn(&Trace) -> usize) -> Vec<(usize, Option<String>)> {
        let loaded = app.world().resource::<Loaded>();
        let trace = &loaded.outcome.trace;
        let mut playback = Playback::default();
        playback.go_to(trace, at(trace));
        app.insert_resource(playback);
        app.update();
        let world = app.world_mut();
        let mut labels: Vec<_> = world
            .query::<(&QueueCountdown, &Text2d, &Visibility)>()
            .iter(world)
            .map(|(QueueCountdown(h), text, v)| {
                (*h, (*v != Visibility::Hidden).then(|| text.0.clone()))
            })
            .collect();
        labels.sort();
        labels
    }

    #[test]
    fn the_countdown_shows_above_the_deferring_server_and_goes_with_the_retry() {
        use crate::sim::EventKind;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/07-greylisting.ron");
        let loaded = Loaded::new(
            path.into(),
            crate::scenario::load_file(std::path::Path::new(path)).unwrap(),
        );
        let smtp = loaded
            .scenario
            .hosts
            .iter()
            .position(|h| h.name == "smtp.alpha.example")
            .unwrap();
        // The hosts that can keep a queue: smtp.alpha.example and mx.beta.example.
        let queueing = loaded
            .scenario
            .hosts
            .iter()
            .filter(|h| h.has(Role::Submission) || h.has(Role::Mx))
            .count();
        assert_eq!(queueing, 2);
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Diagram::of(&loaded))
            .insert_resource(loaded)
            .init_resource::<Playback>()
            .init_resource::<Queues>()
            .add_systems(
                Update,
                (
                    crate::gui::inspector::follow_queues,
                    spawn_countdowns.run_if(resource_exists_and_changed::<Diagram>),
                    show_countdowns,
                )
                    .chain(),
            );
        let kind =
            |k: EventKind| move |t: &Trace| t.events.iter().position(|e| e.kind == k).unwrap();
        let shown = |labels: &[(usize, Option<String>)]| -> Vec<(usize, String)> {
            labels
                .iter()
                .filter_map(|(h, t)| t.clone().map(|t| (*h, t)))
                .collect()
        };
        // Queued, not yet tried (the event before the deferral): a label for each server that
        // can keep a queue, none shown.
        let deferred = kind(EventKind::Deferred);
        let labels = countdowns_at(&mut app, |t| deferred(t) - 1);
        assert_eq!(labels.len(), queueing);
        assert!(shown(&labels).is_empty());
        // The 451: the retry is half an hour away, at smtp.alpha.example only.
        let labels = countdowns_at(&mut app, deferred);
        assert_eq!(
            shown(&labels),
            [(smtp, "next attempt in 30:00".to_string())]
        );
        // The moment of the retry, until it ends.
        let retry = |t: &Trace| t.events.iter().position(|e| e.t_ms >= 1_800_709).unwrap();
        let labels = countdowns_at(&mut app, retry);
        assert_eq!(shown(&labels), [(smtp, "trying again now".to_string())]);
        // Done with it: the countdown goes.
        let labels = countdowns_at(&mut app, kind(EventKind::Dequeued));
        assert!(shown(&labels).is_empty());
        // The scenario loaded again in two frames running: still one label a server.
        for _ in 0..2 {
            let diagram = Diagram::of(app.world().resource::<Loaded>());
            app.insert_resource(diagram);
            app.update();
        }
        let labels = countdowns_at(&mut app, deferred);
        assert_eq!(labels.len(), queueing, "no second set of labels");
        assert_eq!(
            shown(&labels),
            [(smtp, "next attempt in 30:00".to_string())]
        );
    }

    #[test]
    fn a_picture_is_opaque_on_its_lines_and_clear_elsewhere() {
        let (w, h, data) = picture(ENVELOPE, &envelope(ENVELOPE, false, false));
        let alpha = |x: u32, y: u32| data[(y * w + x) as usize];
        // The middle of the top edge is on the outline; the envelope's middle is empty.
        let edge = (LINE * TEXELS) as u32;
        assert_eq!(alpha(w / 2, edge), 255);
        assert_eq!(alpha(w / 4, h / 2), 0);
        // Nothing outside the outline's width.
        assert_eq!(alpha(0, 0), 0);
    }
}
