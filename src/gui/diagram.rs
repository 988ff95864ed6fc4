//! The diagram: domains as labelled regions, hosts as shapes by role, links as lines, and every
//! transmission in flight as a packet moving along its link. Colour is never the only cue:
//! each protocol also has its own shape, and labels say what each host is.

use bevy::prelude::*;

use super::Loaded;
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
    /// The layout of a scenario, and the links its run uses or its file names.
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
            // A link the file gives its own latency is part of the network, used or not.
            .chain(
                loaded
                    .scenario
                    .links
                    .iter()
                    .map(|l| (l.a.min(l.b), l.a.max(l.b))),
            )
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
                    (retain_regions_and_links, grey_down_hosts),
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
pub fn role_words(roles: &[Role]) -> String {
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

/// Whether a label of this font size (world units) is large enough to read at this zoom (world
/// units a pixel).
pub fn readable(font_size: f32, scale: f32) -> bool {
    font_size / scale.max(0.01) >= SMALLEST_LABEL_PX
}

/// The run and the links down that the retained lines show.
type LinksDrawn = (u64, Vec<(usize, usize)>);

/// About half a host shape across: where a link line ends.
const HOST_RADIUS: f32 = 27.0;

/// A host's two labels below its shape: the name, then what it is (world units).
const NAME_LABEL_Y: f32 = -40.0;
const ROLE_LABEL_Y: f32 = -56.0;

/// Where a host shows on the diagram around its position, in world units: its shape above and
/// its two labels below (what a question's window must not cover).
pub fn host_footprint(at: Vec2, name: &str) -> Rect {
    // The shape reaches about 34 above its centre; a character of the name is about 9.2 wide.
    let half_width = (name.chars().count() as f32 * 4.6).max(34.0);
    Rect::new(
        at.x - half_width,
        at.y + ROLE_LABEL_Y - 10.0,
        at.x + half_width,
        at.y + 34.0,
    )
}

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
        let shown = if readable(label.0, scale) {
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
                    Transform::from_xyz(0.0, NAME_LABEL_Y, 2.0),
                ));
                c.spawn((
                    DiagramLabel(11.0),
                    Text2d::new(role_words(&host.roles)),
                    TextFont {
                        font_size: FontSize::Px(11.0),
                        ..default()
                    },
                    TextColor(Color::srgb(0.7, 0.74, 0.8)),
                    Transform::from_xyz(0.0, ROLE_LABEL_Y, 2.0),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Link, load_file};

    #[test]
    fn a_link_the_file_names_is_drawn_before_anything_uses_it() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let mut scenario = load_file(std::path::Path::new(path)).unwrap();
        let ns = scenario.host_by_name("ns.example").unwrap();
        let laptop = scenario.host_by_name("laptop.beta.example").unwrap();
        let pair = (ns.min(laptop), ns.max(laptop));
        let unused = Loaded::new(path.into(), scenario.clone());
        assert!(
            !Diagram::of(&unused).links.contains(&pair),
            "nothing uses it"
        );
        scenario.links.push(Link {
            a: laptop,
            b: ns,
            spec: scenario.default_link.clone(),
        });
        let named = Loaded::new(path.into(), scenario);
        assert!(Diagram::of(&named).links.contains(&pair));
    }
}
