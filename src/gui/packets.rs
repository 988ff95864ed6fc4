//! Packets and envelopes: every transmission in flight as a small picture moving along its
//! link, and every message waiting in a queue as an envelope parked beside its server.
//!
//! All of them are one mesh, drawn in a single call: a textured quad for each picture, tinted
//! by its vertices' colour. The mesh holds a stretch of time: every packet that can be on its
//! way in the next two seconds or so (at most `AHEAD_MOST` leaving), with its link's ends and
//! its times, and every stay of an envelope at a place in a queue's stack. The vertex shader
//! (`packets.wgsl`) places each packet along its link by the moment on show, a uniform that is
//! all that changes from frame to frame; the CPU builds the mesh again only when playback
//! leaves the stretch (or the run or the layout changes). Before, the mesh was built anew for
//! every frame that something moved, and uploaded; that was most of what a busy scene cost
//! over an empty one (see BENCHMARKS.md). The pictures are drawn once, at start-up, side by
//! side in one small texture.

use bevy::asset::{AssetPath, RenderAssetUsages};
use bevy::camera::visibility::NoFrustumCulling;
use bevy::mesh::{
    Indices, MeshVertexAttribute, MeshVertexBufferLayoutRef, PrimitiveTopology, VertexFormat,
};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, Extent3d, RenderPipelineDescriptor, SpecializedMeshPipelineError,
    TextureDimension, TextureFormat,
};
use bevy::shader::ShaderRef;
use bevy::sprite_render::{AlphaMode2d, Material2d, Material2dKey, Material2dPlugin};

use super::diagram::{Diagram, palette, protocol_color};
use super::index::Look;
use super::inspector::Queues;
use super::{GuiSet, Loaded, Playback};
use crate::scenario::Role;
use crate::sim::Trace;

pub struct PacketsPlugin;

impl Plugin for PacketsPlugin {
    fn build(&self, app: &mut App) {
        bevy::asset::embedded_asset!(app, "packets.wgsl");
        app.add_plugins(Material2dPlugin::<PacketMaterial>::default())
            .add_systems(Startup, draw_pictures)
            .add_systems(
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
    mut materials: ResMut<Assets<PacketMaterial>>,
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
    // White texture times each vertex's colour, blended.
    let material = materials.add(PacketMaterial {
        clock: Vec4::ZERO,
        atlas: images.add(image),
    });
    // A mesh needs its attributes from the start: one quad, never on show.
    let nothing = Quad {
        from: Vec2::ZERO,
        to: Vec2::ZERO,
        when: [0.0; 4],
        rect: Rect::default(),
        size: Vec2::ZERO,
        color: Color::NONE,
    };
    let mesh = meshes.add(quads(&[nothing], atlas_size));
    let entity = commands
        .spawn((
            Mesh2d(mesh.clone()),
            MeshMaterial2d(material.clone()),
            Transform::from_translation(Vec3::Z * Z),
            // The mesh's corners sit around the origin and the shader moves them along the
            // links: bounds computed from the vertices would be wrong.
            NoFrustumCulling,
            Visibility::Hidden,
        ))
        .id();
    commands.insert_resource(Layer {
        mesh,
        material,
        entity,
        stretch: None,
    });
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

/// The entity that shows every packet, its mesh and its material, and what the mesh holds.
#[derive(Resource)]
struct Layer {
    mesh: Handle<Mesh>,
    material: Handle<PacketMaterial>,
    entity: Entity,
    /// The stretch of time the mesh's packets cover, none until it is first built.
    stretch: Option<Stretch>,
}

/// What the packets' mesh was built for: a run, and a stretch of its time from the cursor on.
#[derive(Clone, PartialEq, Debug)]
struct Stretch {
    generation: u64,
    /// The diagram's change tick when the mesh was built: hosts that move take their links'
    /// packets with them.
    layout: u32,
    start: u64,
    end: u64,
    /// The cursor when it was built: the mesh holds the queues from there on.
    first_event: Option<usize>,
}

impl Stretch {
    /// An event's number as the shader counts it, from the stretch's first.
    fn event(&self, i: usize) -> f32 {
        (i as f64 - self.first_event.unwrap_or(0) as f64) as f32
    }
}

/// How far ahead of the moment on show the packets' mesh reaches (virtual ms), and how many
/// packets leaving later it holds at most: two seconds of virtual time between rebuilds; with the
/// densest traffic (a thousand messages in flight) about a third of a second, and 5 MB of
/// vertices.
const AHEAD_MS: u64 = 2_000;
const AHEAD_MOST: usize = 16_000;

/// The packets' material: the pictures, and the moment on show, from which the vertex shader
/// (`packets.wgsl`) places every packet along its link each frame. The mesh is built once for
/// a stretch of time; as playback moves, only this small uniform changes.
#[derive(Asset, TypePath, AsBindGroup, Clone)]
struct PacketMaterial {
    /// x: the moment on show, in ms after the stretch's start; y: the cursor, in events after
    /// the stretch's first event (far below zero before the first event); z and w unused.
    #[uniform(0)]
    clock: Vec4,
    #[texture(1)]
    #[sampler(2)]
    atlas: Handle<Image>,
}

/// A packet's two ends on the diagram, the link it travels (world units): x, y from; z, w to.
const ATTRIBUTE_PATH: MeshVertexAttribute =
    MeshVertexAttribute::new("PacketPath", 1_780_512_331, VertexFormat::Float32x4);
/// When a packet is on its way: x leaves, y arrives (ms after the stretch's start); from the
/// cursor at event z until event w (events after the stretch's first).
const ATTRIBUTE_WHEN: MeshVertexAttribute =
    MeshVertexAttribute::new("PacketWhen", 1_780_512_332, VertexFormat::Float32x4);

impl Material2d for PacketMaterial {
    fn vertex_shader() -> ShaderRef {
        Self::shader()
    }

    fn fragment_shader() -> ShaderRef {
        Self::shader()
    }

    fn alpha_mode(&self) -> AlphaMode2d {
        AlphaMode2d::Blend
    }

    fn specialize(
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: Material2dKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        descriptor.vertex.buffers = vec![layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            Mesh::ATTRIBUTE_UV_0.at_shader_location(1),
            Mesh::ATTRIBUTE_COLOR.at_shader_location(2),
            ATTRIBUTE_PATH.at_shader_location(3),
            ATTRIBUTE_WHEN.at_shader_location(4),
        ])?];
        Ok(())
    }
}

impl PacketMaterial {
    fn shader() -> ShaderRef {
        ShaderRef::Path(
            AssetPath::from_path_buf(bevy::asset::embedded_path!("packets.wgsl"))
                .with_source("embedded"),
        )
    }
}

/// A packet, or an envelope parked at its server: a picture that moves from `from` to `to`
/// while the moment on show is in `when` and the cursor has reached its event.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Quad {
    from: Vec2,
    to: Vec2,
    /// Leaves and arrives (ms after the stretch's start); shown from its event on, and until
    /// another (events counted from the stretch's first).
    when: [f32; 4],
    /// Where the picture is in the atlas.
    rect: Rect,
    /// The picture's drawn size in world units (its texture has a line's width around it).
    size: Vec2,
    color: Color,
}

impl Quad {
    /// Far before and after anything in a stretch.
    const EVER: f32 = 1e30;

    /// Where the vertex shader draws it with the clock at `now` and `cursor` (as in
    /// [`PacketMaterial::clock`]), or None when it is not on show; `packets.wgsl` follows the
    /// same rule: on its way from when it leaves until it arrives, once the cursor has reached
    /// its event (an event at the same moment as the one on show but after it has not
    /// happened yet) and before its last.
    #[cfg(test)]
    fn at(&self, now: f32, cursor: f32) -> Option<Vec2> {
        let [leaves, arrives, event, until] = self.when;
        let shown = leaves <= now && now < arrives && event <= cursor && cursor < until;
        let f = ((now - leaves) / (arrives - leaves).max(1e-6)).clamp(0.0, 1.0);
        shown.then(|| self.from.lerp(self.to, f))
    }
}

/// The packets' mesh: a textured, tinted quad for each packet, whose corners the vertex shader
/// moves along the packet's link, in order (a later one on top).
fn quads(quads: &[Quad], atlas_size: Vec2) -> Mesh {
    let n = quads.len();
    let mut corners = Vec::with_capacity(4 * n);
    let mut uvs = Vec::with_capacity(4 * n);
    let mut colors = Vec::with_capacity(4 * n);
    let mut paths = Vec::with_capacity(4 * n);
    let mut whens = Vec::with_capacity(4 * n);
    let mut indices = Vec::with_capacity(6 * n);
    // A handful of colours among thousands of packets: each is turned into linear RGB once.
    let mut linear: Vec<(Color, [f32; 4])> = Vec::new();
    for q in quads {
        // The picture's texture has a line's width around the shape.
        let half = (q.size + Vec2::splat(LINE * 2.0)) / 2.0;
        let (lo, hi) = (q.rect.min / atlas_size, q.rect.max / atlas_size);
        let color = match linear.iter().find(|(c, _)| *c == q.color) {
            Some(&(_, l)) => l,
            None => {
                let l = q.color.to_linear().to_f32_array();
                linear.push((q.color, l));
                l
            }
        };
        let path = [q.from.x, q.from.y, q.to.x, q.to.y];
        let first = corners.len() as u32;
        // Counter-clockwise from the bottom left; the texture's rows run downwards.
        for (corner, uv) in [
            (Vec2::new(-half.x, -half.y), Vec2::new(lo.x, hi.y)),
            (Vec2::new(half.x, -half.y), Vec2::new(hi.x, hi.y)),
            (Vec2::new(half.x, half.y), Vec2::new(hi.x, lo.y)),
            (Vec2::new(-half.x, half.y), Vec2::new(lo.x, lo.y)),
        ] {
            corners.push(corner.extend(0.0).to_array());
            uvs.push(uv.to_array());
            colors.push(color);
            paths.push(path);
            whens.push(q.when);
        }
        indices.extend([0, 1, 2, 0, 2, 3].map(|k| first + k));
    }
    // The render world's alone: it takes the vertices over instead of copying them, and the
    // next stretch builds a new mesh anyway.
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, corners)
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uvs)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colors)
    .with_inserted_attribute(ATTRIBUTE_PATH, paths)
    .with_inserted_attribute(ATTRIBUTE_WHEN, whens)
    .with_inserted_indices(Indices::U32(indices))
}

/// Above the hosts (at 1) and their labels (1 + 2).
const Z: f32 = 10.0;

/// The picture of a packet: where it is in the atlas, its size and its colour.
fn picture_of(pictures: &Pictures, d: &crate::gui::index::Drawn) -> (Rect, Vec2, Color) {
    match d.look {
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
    }
}

/// The quads of a stretch: every packet that can be on its way in it, then the envelopes
/// parked in the queues from its first event to its last, at most five a host, stacked beside
/// it; one quad for each stay of a message at one place in a stack.
fn quads_of(
    pictures: &Pictures,
    diagram: &Diagram,
    loaded: &Loaded,
    queues: &Queues,
    s: &Stretch,
) -> Vec<Quad> {
    let hosts = &diagram.layout.hosts;
    let since = |t: u64| (t as f64 - s.start as f64) as f32;
    let (_, flights) = loaded
        .index
        .flights_from(s.start, s.end - s.start, usize::MAX);
    let mut quads = Vec::with_capacity(flights.len());
    for flight in flights {
        let Some(d) = flight.drawn else { continue };
        let (Some(&from), Some(&to)) = (hosts.get(d.from), hosts.get(d.to)) else {
            continue;
        };
        let (rect, size, color) = picture_of(pictures, &d);
        quads.push(Quad {
            from,
            to,
            when: [
                since(flight.t0),
                since(flight.t1),
                s.event(flight.event),
                Quad::EVER,
            ],
            rect,
            size,
            color,
        });
    }
    // The queues at the stretch's first event, then after each queue event within it.
    let trace = &loaded.outcome.trace;
    let mut queues = queues.clone();
    queues.follow(trace, &loaded.index, hosts.len(), s.first_event);
    let top = |queues: &Queues, h: usize| -> Vec<u32> {
        queues.hosts[h].iter().take(5).map(|p| p.message).collect()
    };
    // Each host's stack: the message at each place, and the event it has been there since.
    let mut stacks: Vec<Vec<(u32, f32)>> = (0..queues.hosts.len())
        .map(|h| {
            top(&queues, h)
                .into_iter()
                .map(|m| (m, -Quad::EVER))
                .collect()
        })
        .collect();
    // Every stay, by its host and place: sorted by them at the end, so that a higher place
    // is drawn over a lower one as in a stack.
    let mut stays: Vec<((usize, usize), Quad)> = Vec::new();
    let mut parked = |h: usize, k: usize, (message, since): (u32, f32), until: f32| {
        let Some(&home) = hosts.get(h) else { return };
        let at = home + PARKED_AT + Vec2::new(8.0 * k as f32, -6.0 * k as f32);
        let bounce = loaded.index.bounce.get(message as usize).copied();
        let (rect, color) = if bounce.unwrap_or(false) {
            (pictures.parked_bounce, palette::BOUNCE)
        } else {
            (pictures.parked, palette::ENVELOPE)
        };
        let quad = Quad {
            from: at,
            to: at,
            when: [-Quad::EVER, Quad::EVER, since, until],
            rect,
            size: PARKED,
            color,
        };
        stays.push(((h, k), quad));
    };
    // The last event the cursor can reach within the stretch, if any.
    let last = trace
        .events
        .partition_point(|e| e.t_ms < s.end)
        .checked_sub(1);
    let within = last.map_or(&[][..], |l| loaded.index.queue_events(s.first_event, l));
    for &i in within {
        let i = i as usize;
        if let Some(h) = queues.apply(trace, i) {
            // A message that keeps its place keeps its stay; any other starts one here.
            let was = std::mem::take(&mut stacks[h]);
            let now: Vec<(u32, f32)> = top(&queues, h)
                .into_iter()
                .enumerate()
                .map(|(k, m)| match was.get(k) {
                    Some(&(w, since)) if w == m => (m, since),
                    _ => (m, s.event(i)),
                })
                .collect();
            // A place whose message changed (or left) ends the stay there.
            for (k, &stay) in was.iter().enumerate() {
                if now.get(k).map(|p| p.0) != Some(stay.0) {
                    parked(h, k, stay, s.event(i));
                }
            }
            stacks[h] = now;
        }
    }
    for (h, stack) in stacks.into_iter().enumerate() {
        for (k, stay) in stack.into_iter().enumerate() {
            parked(h, k, stay, Quad::EVER);
        }
    }
    stays.sort_by_key(|&(place, _)| place);
    quads.extend(stays.into_iter().map(|(_, quad)| quad));
    quads
}

/// What the packets' mesh is made from.
#[derive(bevy::ecs::system::SystemParam)]
struct Scene<'w> {
    pictures: Option<Res<'w, Pictures>>,
    diagram: Option<Res<'w, Diagram>>,
    loaded: Res<'w, Loaded>,
    playback: Res<'w, Playback>,
    queues: Res<'w, Queues>,
}

/// The stretch to show the moment on `playback` from: the one the mesh holds while it still
/// covers that moment and cursor, the run and the layout (`layout`, the diagram's change
/// tick); else a new one from now.
fn stretch_for(
    loaded: &Loaded,
    playback: &Playback,
    layout: u32,
    held: Option<&Stretch>,
) -> Stretch {
    let now = playback.now_ms.max(0.0);
    let generation = loaded.index.generation;
    if let Some(s) = held
        && s.generation == generation
        && s.layout == layout
        && (s.start as f64) <= now
        && now < s.end as f64
        && s.first_event <= playback.cursor
    {
        return s.clone();
    }
    let start = now.floor() as u64;
    let end = if start > loaded.index.end_ms {
        // After the run's last arrival nothing flies again: one stretch to the end of time.
        u64::MAX
    } else {
        loaded.index.flights_from(start, AHEAD_MS, AHEAD_MOST).0
    };
    Stretch {
        generation,
        layout,
        start,
        end,
        first_event: playback.cursor,
    }
}

/// The clock the shader reads: the moment on show and the cursor, relative to the stretch.
fn clock(playback: &Playback, s: &Stretch) -> Vec4 {
    let now = (playback.now_ms - s.start as f64) as f32;
    let cursor = playback.cursor.map_or(-Quad::EVER, |c| s.event(c));
    Vec4::new(now, cursor, 0.0, 0.0)
}

/// Builds the packets' mesh for a stretch of time when the moment on show leaves the one it
/// holds (or the cursor goes back before its first event, or the run or the layout changes),
/// and every frame sets the clock that the shader moves the packets by.
fn show_packets(
    scene: Scene,
    layer: Option<ResMut<Layer>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<PacketMaterial>>,
    mut visibility: Query<&mut Visibility>,
) {
    let (Some(pictures), Some(diagram), Some(mut layer)) = (&scene.pictures, &scene.diagram, layer)
    else {
        return;
    };
    let stretch = stretch_for(
        &scene.loaded,
        &scene.playback,
        diagram.last_changed().get(),
        layer.stretch.as_ref(),
    );
    if layer.stretch.as_ref() != Some(&stretch) {
        let quads = quads_of(pictures, diagram, &scene.loaded, &scene.queues, &stretch);
        if let Ok(mut v) = visibility.get_mut(layer.entity) {
            v.set_if_neq(if quads.is_empty() {
                Visibility::Hidden
            } else {
                Visibility::Visible
            });
        }
        if !quads.is_empty()
            && let Some(mut mesh) = meshes.get_mut(&layer.mesh)
        {
            *mesh = self::quads(&quads, pictures.atlas_size);
        }
        layer.stretch = Some(stretch.clone());
    }
    let clock = clock(&scene.playback, &stretch);
    let changed = materials
        .get(&layer.material)
        .is_some_and(|m| m.clock != clock);
    if changed && let Some(mut material) = materials.get_mut(&layer.material) {
        material.clock = clock;
    }
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

    /// A lesson of scenarios/, run.
    fn lesson(name: &str) -> Loaded {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let scenario = crate::scenario::load_file(std::path::Path::new(&path)).unwrap();
        Loaded::new(path.into(), scenario)
    }

    /// Seven pictures side by side, a texel each.
    fn test_pictures() -> Pictures {
        Pictures {
            atlas_size: Vec2::new(7.0, 1.0),
            ring: Rect::new(0.0, 0.0, 1.0, 1.0),
            diamond: Rect::new(1.0, 0.0, 2.0, 1.0),
            square: Rect::new(2.0, 0.0, 3.0, 1.0),
            envelope: Rect::new(3.0, 0.0, 4.0, 1.0),
            bounce: Rect::new(4.0, 0.0, 5.0, 1.0),
            parked: Rect::new(5.0, 0.0, 6.0, 1.0),
            parked_bounce: Rect::new(6.0, 0.0, 7.0, 1.0),
        }
    }

    /// Plays `loaded` through, at every event's moment and halfway between two, keeping the
    /// packets' mesh while its stretch lasts as the window does, and checks each time that the
    /// quads the shader's rule shows are exactly the flights on their way then, each where it
    /// should be along its link, and the envelopes in the queues at the cursor, each at its
    /// place in its server's stack. Returns how many stretches the run took, and the most
    /// envelopes parked at one server at one moment.
    fn mesh_shows_every_flight(loaded: &Loaded) -> (usize, usize) {
        let trace = &loaded.outcome.trace;
        let diagram = Diagram::of(loaded);
        let pictures = test_pictures();
        let hosts = &diagram.layout.hosts;
        let mut times: Vec<f64> = trace.events.iter().map(|e| e.t_ms as f64).collect();
        times.dedup();
        let halfway: Vec<f64> = times.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        times.extend(halfway);
        times.sort_by(f64::total_cmp);
        // Before the first event (no cursor yet); then playing through, the cursor following
        // the time; then stepping forward and back event by event, where the cursor can stop
        // short of later events at the same moment.
        let at_event = |i: usize| {
            let mut playback = Playback::default();
            playback.go_to(trace, i);
            playback
        };
        let moments = std::iter::once(Playback::default())
            .chain(times.into_iter().map(|now| {
                let mut playback = Playback {
                    now_ms: now,
                    ..Playback::default()
                };
                playback.keep_time(trace);
                playback
            }))
            .chain((0..trace.len()).map(at_event))
            .chain((0..trace.len()).rev().map(at_event));
        let (mut held, mut quads, mut stretches) = (None::<Stretch>, Vec::new(), 0);
        let mut most_parked = 0;
        for playback in moments {
            let now = playback.now_ms;
            let stretch = stretch_for(loaded, &playback, 0, held.as_ref());
            if held.as_ref() != Some(&stretch) {
                quads = quads_of(&pictures, &diagram, loaded, &Queues::default(), &stretch);
                stretches += 1;
            }
            let clock = clock(&playback, &stretch);
            // Each picture on show, as where it is and which picture.
            let mut shown: Vec<(Vec2, Rect)> = quads
                .iter()
                .filter_map(|q| Some((q.at(clock.x, clock.y)?, q.rect)))
                .collect();
            let mut expected: Vec<(Vec2, Rect)> = loaded
                .index
                .in_flight(now)
                .filter(|f| playback.cursor.is_some_and(|c| f.event <= c))
                .filter_map(|f| {
                    let d = f.drawn?;
                    let along = ((now - f.t0 as f64) / (f.t1 - f.t0) as f64).clamp(0.0, 1.0);
                    let at = hosts[d.from].lerp(hosts[d.to], along as f32);
                    Some((at, picture_of(&pictures, &d).0))
                })
                .collect();
            // And the envelopes parked in the queues at the cursor.
            let mut queues = Queues::default();
            queues.follow(trace, &loaded.index, hosts.len(), playback.cursor);
            for (h, queue) in queues.hosts.iter().enumerate() {
                most_parked = most_parked.max(queue.len());
                for (k, parked) in queue.iter().take(5).enumerate() {
                    let k = k as f32;
                    let at = hosts[h] + PARKED_AT + Vec2::new(8.0 * k, -6.0 * k);
                    let rect = match loaded.index.bounce[parked.message as usize] {
                        true => pictures.parked_bounce,
                        false => pictures.parked,
                    };
                    expected.push((at, rect));
                }
            }
            let order = |a: &(Vec2, Rect), b: &(Vec2, Rect)| {
                let key = |(at, rect): &(Vec2, Rect)| [at.x, at.y, rect.min.x];
                key(a).partial_cmp(&key(b)).unwrap()
            };
            shown.sort_by(order);
            expected.sort_by(order);
            assert_eq!(shown.len(), expected.len(), "pictures at {now} ms");
            for ((s, a), (e, b)) in shown.iter().zip(&expected) {
                assert!(
                    s.distance(*e) < 0.05,
                    "at {now} ms: {s} where {e} should be"
                );
                assert_eq!(a, b, "at {now} ms, {e}: another picture");
            }
            held = Some(stretch);
        }
        (stretches, most_parked)
    }

    #[test]
    fn a_stretch_is_kept_until_playback_leaves_it_or_the_run_or_layout_changes() {
        let loaded = lesson("08-server-down-queued.ron");
        let trace = &loaded.outcome.trace;
        // Two events at one moment: the stretch is built with the cursor on the second.
        let second = (1..trace.len())
            .find(|&i| trace.events[i - 1].t_ms == trace.events[i].t_ms)
            .unwrap();
        let mut playback = Playback::default();
        playback.go_to(trace, second);
        let held = stretch_for(&loaded, &playback, 7, None);
        assert_eq!(stretch_for(&loaded, &playback, 7, Some(&held)), held);
        // The layout moved: a host dragged takes its links' packets with it.
        assert_ne!(stretch_for(&loaded, &playback, 8, Some(&held)).layout, 7);
        // Another run of the same file (a what-if rerun, a reload).
        let again = Loaded::new(loaded.path.clone(), loaded.scenario.clone());
        assert_ne!(stretch_for(&again, &playback, 7, Some(&held)), held);
        // A step back to the first of the two: the same moment, but before the stretch's
        // first event, whose queues the mesh starts from.
        let mut back = Playback::default();
        back.go_to(trace, second - 1);
        assert_eq!(back.now_ms, playback.now_ms);
        assert_ne!(stretch_for(&loaded, &back, 7, Some(&held)), held);
        // Past the end of the run: one stretch to the end of time, nothing overflows.
        let late = Playback {
            now_ms: 1e30,
            ..playback
        };
        let last = stretch_for(&loaded, &late, 7, None);
        assert_eq!(last.end, u64::MAX);
        let quads = quads_of(
            &test_pictures(),
            &Diagram::of(&loaded),
            &loaded,
            &Queues::default(),
            &last,
        );
        assert!(
            quads.iter().all(|q| q.when[0] < 0.0),
            "only parked envelopes after the end"
        );
    }

    #[test]
    fn the_mesh_of_a_stretch_shows_every_packet_on_its_way_where_it_is() {
        // Lesson 8 waits for a server to come back: stretches of two seconds of traffic, and
        // long quiet ones between them.
        for (name, least) in [
            ("01-alice-writes-to-bob.ron", 1),
            ("06-unknown-user.ron", 1),
            ("08-server-down-queued.ron", 3),
        ] {
            let (stretches, _) = mesh_shows_every_flight(&lesson(name));
            assert!(stretches >= least, "{name}: {stretches} stretches");
        }
        // Thirty messages sent within 20 ms from three domains: queues of more than five,
        // whose envelopes move up the stack as the first ones leave.
        let busy = crate::bench::generate_within(3, 30, 1, 20);
        let (_, most_parked) = mesh_shows_every_flight(&Loaded::new("(busy)".into(), busy));
        assert!(most_parked > 5, "at most {most_parked} in a queue");
    }

    #[test]
    fn an_event_the_cursor_has_not_reached_is_not_drawn_even_at_the_same_moment() {
        let loaded = lesson("01-alice-writes-to-bob.ron");
        let trace = &loaded.outcome.trace;
        // The DNS query leaves at the very moment of the event before it.
        let query = trace
            .events
            .iter()
            .position(|e| e.kind == crate::sim::EventKind::DnsQuery)
            .unwrap();
        assert_eq!(trace.events[query - 1].t_ms, trace.events[query].t_ms);
        let pictures = test_pictures();
        let diagram = Diagram::of(&loaded);
        let diamonds = |cursor: usize| {
            let mut playback = Playback::default();
            playback.go_to(trace, cursor);
            let stretch = stretch_for(&loaded, &playback, 0, None);
            let clock = clock(&playback, &stretch);
            quads_of(&pictures, &diagram, &loaded, &Queues::default(), &stretch)
                .iter()
                .filter(|q| q.rect == pictures.diamond && q.at(clock.x, clock.y).is_some())
                .count()
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
        let loaded = lesson("07-greylisting.ron");
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
