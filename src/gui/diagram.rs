//! The diagram: domains as labelled regions, hosts as shapes by role, links as lines, and every
//! transmission in flight as a packet moving along its link. Colour is never the only cue:
//! each protocol also has its own shape, and labels say what each host is.

use bevy::prelude::*;

use super::Loaded;
use super::index::Look;
use super::inspector::Queues;
use super::layout::{Layout, layout};
use super::playback::Playback;
use crate::scenario::Role;
use crate::sim::Protocol;

/// Okabe and Ito's palette, told apart with the common colour-vision deficiencies.
pub mod palette {
    use bevy::color::Color;
    pub const SMTP: Color = Color::srgb(0.902, 0.624, 0.0);
    pub const SUBMISSION: Color = Color::srgb(0.835, 0.369, 0.0);
    pub const DNS: Color = Color::srgb(0.337, 0.706, 0.914);
    pub const POP3: Color = Color::srgb(0.0, 0.620, 0.451);
    pub const IMAP: Color = Color::srgb(0.800, 0.475, 0.655);
    pub const ENVELOPE: Color = Color::srgb(0.941, 0.894, 0.259);
    /// A bounce on its way back: vermilion, and crossed out, so colour is not the only cue.
    pub const BOUNCE: Color = Color::srgb(0.835, 0.369, 0.0);
    pub const HOST: Color = Color::srgb(0.82, 0.84, 0.88);
    pub const HOST_DOWN: Color = Color::srgb(0.35, 0.35, 0.38);
    pub const REGION: Color = Color::srgba(0.55, 0.60, 0.70, 0.55);
    pub const LINK: Color = Color::srgba(0.6, 0.65, 0.75, 0.35);
    pub const LINK_DOWN: Color = Color::srgb(0.8, 0.2, 0.2);
}

pub fn protocol_color(p: Protocol) -> Color {
    match p {
        Protocol::Smtp => palette::SMTP,
        Protocol::Submission => palette::SUBMISSION,
        Protocol::Dns => palette::DNS,
        Protocol::Pop3 => palette::POP3,
        Protocol::Imap => palette::IMAP,
    }
}

/// A host's picture.
#[derive(Component)]
pub struct HostShape(pub usize);

/// The computed layout and the pairs of hosts that ever talk.
#[derive(Resource)]
pub struct Diagram {
    pub layout: Layout,
    pub links: Vec<(usize, usize)>,
}

impl Diagram {
    /// The layout of a scenario and the links its run uses.
    pub fn of(loaded: &Loaded) -> Diagram {
        let mut links: Vec<(usize, usize)> = loaded
            .outcome
            .trace
            .events
            .iter()
            .filter_map(|e| match (e.from(), e.to()) {
                (Some(a), Some(b)) if a != b => Some((a.min(b), a.max(b))),
                _ => None,
            })
            .collect();
        links.sort();
        links.dedup();
        Diagram {
            layout: layout(&loaded.scenario),
            links,
        }
    }
}

pub struct DiagramPlugin;

impl Plugin for DiagramPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, gizmos_on_top)
            .add_systems(PostUpdate, follow_zoom)
            .add_systems(
                Update,
                (
                    spawn_diagram.run_if(resource_changed::<Loaded>),
                    (
                        retain_regions_and_links,
                        draw_packets,
                        draw_queued,
                        grey_down_hosts,
                    ),
                )
                    // The diagram exists before anything draws it, from the very first frame.
                    .chain()
                    .in_set(super::GuiSet::Draw),
            );
    }
}

/// Packets and envelopes are drawn over the hosts, with lines thick enough to see.
fn gizmos_on_top(mut store: ResMut<GizmoConfigStore>) {
    let (config, _) = store.config_mut::<DefaultGizmoConfigGroup>();
    config.depth_bias = -1.0;
    config.line.width = 3.0;
}

/// What a host is, in a word or two, for its label.
fn role_words(roles: &[Role]) -> String {
    let words: Vec<&str> = roles
        .iter()
        .map(|r| match r {
            Role::Client => "mail program",
            Role::Submission => "submission",
            Role::Mx => "MX",
            Role::Dns => "DNS",
            Role::Pop3 => "POP3",
            Role::Imap => "IMAP",
        })
        .collect();
    words.join(", ")
}

/// A label of the diagram, with its font size in world units: hidden while the view is zoomed
/// out so far that it would be too small to read (a scene of two hundred hosts, say), which
/// also spares the renderer thousands of glyphs.
#[derive(Component)]
pub struct DiagramLabel(pub f32);

/// Below this height on screen, in pixels, a label is not drawn.
const SMALLEST_LABEL_PX: f32 = 6.0;

/// The run and the links down that the retained lines show.
type LinksDrawn = (u64, Vec<(usize, usize)>);

/// About half a host shape across: where a link line ends.
const HOST_RADIUS: f32 = 27.0;

/// The regions and the lines between hosts, drawn as one retained gizmo: they change only when
/// a run is loaded or a link goes down or up, so they are built then, not on every frame (a
/// 200-host scene has 1,680 links). Its line width follows the zoom apart from the packets'.
#[derive(Component)]
pub struct LinkLayer;

/// What needs the zoom's line width and label sizes from its first frame on.
type NewlyZoomed = Or<(Added<DiagramLabel>, Added<LinkLayer>)>;

/// Line widths follow the zoom: 3 pixels at full size, thinner as the view zooms out (at least
/// one pixel), so that a large scene is not a thicket of thick lines (and a CPU renderer is not
/// kept busy filling them). Labels too small to read are hidden.
fn follow_zoom(
    camera: Query<&Projection, (With<Camera2d>, Changed<Projection>)>,
    mut store: ResMut<GizmoConfigStore>,
    mut labels: Query<(&DiagramLabel, &mut Visibility)>,
    mut link_layer: Query<&mut Gizmo, With<LinkLayer>>,
    added: Query<(), NewlyZoomed>,
    mut scale: Local<f32>,
) {
    if let Some(Projection::Orthographic(o)) = camera.iter().next() {
        *scale = o.scale;
    } else if added.is_empty() {
        return;
    }
    let scale = scale.max(0.01);
    let (config, _) = store.config_mut::<DefaultGizmoConfigGroup>();
    config.line.width = (3.0 / scale).clamp(1.0, 3.0);
    for mut layer in &mut link_layer {
        layer.line_config.width = (2.0 / scale).clamp(1.0, 2.0);
    }
    for (label, mut visibility) in &mut labels {
        let shown = if label.0 / scale >= SMALLEST_LABEL_PX {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        visibility.set_if_neq(shown);
    }
}

/// Everything the diagram spawned, so that a reloaded scenario replaces it.
#[derive(Component)]
pub struct DiagramPart;

/// The shapes and colours of hosts, shared by all of them: one mesh per shape and one material
/// for up and one for down, so that the renderer batches them.
#[derive(Resource, Clone)]
pub struct HostLooks {
    square: Handle<Mesh>,
    diamond: Handle<Mesh>,
    circle: Handle<Mesh>,
    up: Handle<ColorMaterial>,
    down: Handle<ColorMaterial>,
}

impl HostLooks {
    fn new(meshes: &mut Assets<Mesh>, materials: &mut Assets<ColorMaterial>) -> HostLooks {
        HostLooks {
            square: meshes.add(Rectangle::new(44.0, 34.0)),
            diamond: meshes.add(RegularPolygon::new(26.0, 4)),
            circle: meshes.add(Circle::new(24.0)),
            up: materials.add(ColorMaterial::from_color(palette::HOST)),
            down: materials.add(ColorMaterial::from_color(palette::HOST_DOWN)),
        }
    }
}

/// (Re)builds the diagram whenever a scenario is loaded.
fn spawn_diagram(
    mut commands: Commands,
    loaded: Res<Loaded>,
    old: Query<Entity, With<DiagramPart>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut looks: Local<Option<HostLooks>>,
) {
    for e in &old {
        commands.entity(e).despawn();
    }
    let looks = looks
        .get_or_insert_with(|| HostLooks::new(&mut meshes, &mut materials))
        .clone();
    commands.insert_resource(looks.clone());
    let sc = &loaded.scenario;
    let Diagram { layout, links } = Diagram::of(&loaded);
    for (h, host) in sc.hosts.iter().enumerate() {
        let at = layout.hosts[h];
        // A shape per kind of host: mail programs are squares, DNS a diamond, servers circles.
        let mesh = if host.has(Role::Client) {
            looks.square.clone()
        } else if host.has(Role::Dns) && host.roles.len() == 1 {
            looks.diamond.clone()
        } else {
            looks.circle.clone()
        };
        commands
            .spawn((
                HostShape(h),
                DiagramPart,
                Mesh2d(mesh),
                MeshMaterial2d(looks.up.clone()),
                Transform::from_translation(at.extend(1.0)),
            ))
            .with_children(|c| {
                c.spawn((
                    DiagramLabel(14.0),
                    Text2d::new(host.name.clone()),
                    TextFont {
                        font_size: FontSize::Px(14.0),
                        ..default()
                    },
                    TextColor(Color::WHITE),
                    Transform::from_xyz(0.0, -40.0, 2.0),
                ));
                c.spawn((
                    DiagramLabel(11.0),
                    Text2d::new(role_words(&host.roles)),
                    TextFont {
                        font_size: FontSize::Px(11.0),
                        ..default()
                    },
                    TextColor(Color::srgb(0.7, 0.74, 0.8)),
                    Transform::from_xyz(0.0, -56.0, 2.0),
                ));
            });
    }
    for (name, rect) in &layout.regions {
        commands.spawn((
            DiagramPart,
            DiagramLabel(16.0),
            Text2d::new(name.clone()),
            TextFont {
                font_size: FontSize::Px(16.0),
                ..default()
            },
            TextColor(Color::srgb(0.75, 0.8, 0.9)),
            Transform::from_xyz(rect.center().x, rect.max.y - 14.0, 2.0),
        ));
    }
    commands.insert_resource(Diagram { layout, links });
}

/// Rebuilds the retained regions and links when the diagram or the set of links down changes.
fn retain_regions_and_links(
    mut commands: Commands,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    mut assets: ResMut<Assets<GizmoAsset>>,
    mut layer: Query<&mut Gizmo, With<LinkLayer>>,
    mut drawn: Local<Option<LinksDrawn>>,
) {
    let down = loaded
        .index
        .links_down(&loaded.outcome.trace, playback.cursor);
    let key = (loaded.index.generation, down);
    if !diagram.is_changed() && drawn.as_ref() == Some(&key) {
        return;
    }
    let mut gizmo = GizmoAsset::default();
    for (_, rect) in &diagram.layout.regions {
        gizmo.rect_2d(
            Isometry2d::from_translation(rect.center()),
            rect.size(),
            palette::REGION,
        );
    }
    for &(a, b) in &diagram.links {
        let color = if key.1.contains(&(a.min(b), a.max(b))) {
            palette::LINK_DOWN
        } else {
            palette::LINK
        };
        let (from, to) = (diagram.layout.hosts[a], diagram.layout.hosts[b]);
        // A retained 2D gizmo draws over everything, so the line stops at the host's edge.
        let inset = (to - from).normalize_or_zero() * HOST_RADIUS;
        if from.distance(to) > 2.0 * HOST_RADIUS {
            gizmo.line_2d(from + inset, to - inset, color);
        }
    }
    let handle = assets.add(gizmo);
    match layer.single_mut() {
        Ok(mut layer) => layer.handle = handle,
        Err(_) => {
            commands.spawn((
                LinkLayer,
                Gizmo {
                    handle,
                    line_config: GizmoLineConfig {
                        width: 2.0,
                        ..default()
                    },
                    ..default()
                },
            ));
        }
    }
    *drawn = Some(key);
}

/// An envelope: a rectangle and its flap; a returned one (a bounce) has another colour and a
/// stamp across it, so that colour is not the only cue.
fn envelope(gizmos: &mut Gizmos, at: Vec2, size: Vec2, bounce: bool, border: bool) {
    let color = if bounce {
        palette::BOUNCE
    } else {
        palette::ENVELOPE
    };
    let half = size / 2.0;
    gizmos.rect_2d(Isometry2d::from_translation(at), size, color);
    if border {
        gizmos.rect_2d(
            Isometry2d::from_translation(at),
            size - Vec2::splat(6.0),
            color,
        );
    }
    let fold = at + Vec2::new(0.0, -half.y / 8.0);
    gizmos.line_2d(at + Vec2::new(-half.x, half.y), fold, color);
    gizmos.line_2d(at + Vec2::new(half.x, half.y), fold, color);
    if bounce {
        gizmos.line_2d(at - half, at + half, color);
    }
}

fn draw_packets(
    mut gizmos: Gizmos,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    camera: Query<&Projection, With<Camera2d>>,
) {
    // Zoomed out (a large scene), a packet is a few pixels across: fewer segments draw the same
    // picture, and a thousand packets in flight cost a third as much.
    let detail = match camera.iter().next() {
        Some(Projection::Orthographic(o)) => o.scale < 2.0,
        _ => true,
    };
    let now = playback.now_ms;
    let hosts = &diagram.layout.hosts;
    for flight in loaded.index.in_flight(now) {
        let Some(d) = flight.drawn else { continue };
        let (Some(&a), Some(&b)) = (hosts.get(d.from), hosts.get(d.to)) else {
            continue;
        };
        let (t0, t1) = (flight.t0 as f64, flight.t1 as f64);
        let f = ((now - t0) / (t1 - t0)).clamp(0.0, 1.0) as f32;
        let at = a.lerp(b, f);
        let color = protocol_color(d.protocol);
        match d.look {
            Look::Envelope { bounce } => {
                envelope(&mut gizmos, at, Vec2::new(48.0, 32.0), bounce, detail);
            }
            Look::Dns => gizmos.rect_2d(
                Isometry2d::new(at, Rot2::degrees(45.0)),
                Vec2::splat(12.0),
                color,
            ),
            Look::Mailbox => {
                gizmos.rect_2d(Isometry2d::from_translation(at), Vec2::splat(12.0), color);
            }
            Look::Line => {
                gizmos
                    .circle_2d(Isometry2d::from_translation(at), 7.0, color)
                    .resolution(if detail { 16 } else { 6 });
            }
        }
    }
}

/// Each message waiting in a host's queue is a small envelope parked beside it (at most five
/// a host); a bounce waiting to go home is a returned one.
fn draw_queued(
    mut gizmos: Gizmos,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    queues: Res<Queues>,
) {
    if !queues.is_for(&loaded.index) {
        return;
    }
    for (h, queue) in queues.hosts.iter().enumerate() {
        let Some(&home) = diagram.layout.hosts.get(h) else {
            continue;
        };
        for (k, parked) in queue.iter().take(5).enumerate() {
            let at = home + Vec2::new(44.0 + 8.0 * k as f32, 14.0 - 6.0 * k as f32);
            let bounce = loaded
                .index
                .bounce
                .get(parked.message as usize)
                .copied()
                .unwrap_or(false);
            envelope(&mut gizmos, at, Vec2::new(26.0, 17.0), bounce, false);
        }
    }
}

/// Greys out the hosts that are down at the cursor. Only the hosts whose state changed get
/// the other material, so that on most frames nothing changes at all.
fn grey_down_hosts(
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    looks: Option<Res<HostLooks>>,
    mut hosts: Query<(&HostShape, &mut MeshMaterial2d<ColorMaterial>)>,
    mut shown: Local<(u64, Vec<bool>)>,
) {
    let Some(looks) = looks else { return };
    let down = loaded.index.hosts_down(
        &loaded.outcome.trace,
        loaded.scenario.hosts.len(),
        playback.cursor,
    );
    // A new run means a new diagram, whose hosts all start up.
    let same_run = shown.0 == loaded.index.generation;
    if same_run && shown.1 == down {
        return;
    }
    for (shape, mut material) in &mut hosts {
        let Some(&is_down) = down.get(shape.0) else {
            continue;
        };
        let was_down = same_run && shown.1.get(shape.0) == Some(&true);
        if is_down != was_down {
            material.0 = if is_down {
                looks.down.clone()
            } else {
                looks.up.clone()
            };
        }
    }
    *shown = (loaded.index.generation, down);
}
