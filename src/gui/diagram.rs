//! The diagram: domains as labelled regions, hosts as shapes by role, links as lines, and every
//! transmission in flight as a packet moving along its link. Colour is never the only cue:
//! each protocol also has its own shape, and labels say what each host is.

use bevy::prelude::*;

use super::Loaded;
use super::layout::{Layout, layout};
use super::playback::Playback;
use crate::scenario::Role;
use crate::sim::{EventKind, Protocol};

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

pub struct DiagramPlugin;

impl Plugin for DiagramPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, gizmos_on_top).add_systems(
            Update,
            (
                spawn_diagram.run_if(resource_changed::<Loaded>),
                (
                    draw_regions_and_links,
                    draw_packets,
                    draw_queued,
                    grey_down_hosts,
                ),
            )
                // The diagram exists before anything draws it, from the very first frame.
                .chain(),
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

/// Everything the diagram spawned, so that a reloaded scenario replaces it.
#[derive(Component)]
pub struct DiagramPart;

/// (Re)builds the diagram whenever a scenario is loaded.
fn spawn_diagram(
    mut commands: Commands,
    loaded: Res<Loaded>,
    old: Query<Entity, With<DiagramPart>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    for e in &old {
        commands.entity(e).despawn();
    }
    let sc = &loaded.scenario;
    let layout = layout(sc);
    let mut links: Vec<(usize, usize)> = loaded
        .outcome
        .trace
        .events
        .iter()
        .filter_map(|e| match (e.from, e.to) {
            (Some(a), Some(b)) if a != b => Some((a.min(b), a.max(b))),
            _ => None,
        })
        .collect();
    links.sort();
    links.dedup();
    for (h, host) in sc.hosts.iter().enumerate() {
        let at = layout.hosts[h];
        // A shape per kind of host: mail programs are squares, DNS a diamond, servers circles.
        let mesh = if host.has(Role::Client) {
            meshes.add(Rectangle::new(44.0, 34.0))
        } else if host.has(Role::Dns) && host.roles.len() == 1 {
            meshes.add(RegularPolygon::new(26.0, 4))
        } else {
            meshes.add(Circle::new(24.0))
        };
        commands
            .spawn((
                HostShape(h),
                DiagramPart,
                Mesh2d(mesh),
                MeshMaterial2d(materials.add(ColorMaterial::from_color(palette::HOST))),
                Transform::from_translation(at.extend(1.0)),
            ))
            .with_children(|c| {
                c.spawn((
                    Text2d::new(host.name.clone()),
                    TextFont {
                        font_size: FontSize::Px(14.0),
                        ..default()
                    },
                    TextColor(Color::WHITE),
                    Transform::from_xyz(0.0, -40.0, 2.0),
                ));
                c.spawn((
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

fn draw_regions_and_links(
    mut gizmos: Gizmos,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
) {
    for (_, rect) in &diagram.layout.regions {
        gizmos.rect_2d(
            Isometry2d::from_translation(rect.center()),
            rect.size(),
            palette::REGION,
        );
    }
    let down = links_down(&loaded, playback.cursor);
    for &(a, b) in &diagram.links {
        let color = if down.contains(&(a.min(b), a.max(b))) {
            palette::LINK_DOWN
        } else {
            palette::LINK
        };
        gizmos.line_2d(diagram.layout.hosts[a], diagram.layout.hosts[b], color);
    }
}

/// The links cut at the cursor, replayed from the trace's LinkDown and LinkUp events.
fn links_down(loaded: &Loaded, cursor: Option<usize>) -> Vec<(usize, usize)> {
    let mut down = Vec::new();
    let Some(c) = cursor else { return down };
    for e in &loaded.outcome.trace.events[..=c] {
        if let (EventKind::LinkDown | EventKind::LinkUp, Some(a), Some(b)) = (e.kind, e.from, e.to)
        {
            let pair = (a.min(b), a.max(b));
            down.retain(|p| *p != pair);
            if e.kind == EventKind::LinkDown {
                down.push(pair);
            }
        }
    }
    down
}

/// Whether an event carries the message itself (the text after DATA, or a download).
fn carries_message(e: &crate::sim::TraceEvent) -> bool {
    match &e.payload {
        crate::sim::Payload::Text(t) => {
            (e.kind == EventKind::ClientLine && t.contains("\r\n") && t.ends_with("\r\n."))
                || (e.kind == EventKind::ServerLine
                    && (t.contains(" FETCH (") && t.contains("BODY[]")
                        || t.starts_with("+OK") && t.contains("octets")))
        }
        _ => false,
    }
}

fn draw_packets(
    mut gizmos: Gizmos,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
) {
    let now = playback.now_ms;
    for e in &loaded.outcome.trace.events {
        let (Some(from), Some(to), Some(protocol)) = (e.from, e.to, e.protocol) else {
            continue;
        };
        let (t0, t1) = (e.t_ms as f64, e.arrive_ms as f64);
        if !(t0 <= now && now < t1) || e.kind == EventKind::Close {
            continue;
        }
        let f = ((now - t0) / (t1 - t0)).clamp(0.0, 1.0) as f32;
        let at = diagram.layout.hosts[from].lerp(diagram.layout.hosts[to], f);
        let color = protocol_color(protocol);
        if carries_message(e) {
            // The envelope: a rectangle with its flap. A bounce is a returned envelope: another
            // colour, and a diagonal stamp across it.
            let bounce = e.message.is_some_and(|m| {
                loaded.outcome.trace.messages[m as usize]
                    .name
                    .starts_with("bounce")
            });
            let color = if bounce {
                palette::BOUNCE
            } else {
                palette::ENVELOPE
            };
            let size = Vec2::new(48.0, 32.0);
            gizmos.rect_2d(Isometry2d::from_translation(at), size, color);
            gizmos.rect_2d(
                Isometry2d::from_translation(at),
                size - Vec2::splat(6.0),
                color,
            );
            gizmos.line_2d(
                at + Vec2::new(-24.0, 16.0),
                at + Vec2::new(0.0, -2.0),
                color,
            );
            gizmos.line_2d(at + Vec2::new(24.0, 16.0), at + Vec2::new(0.0, -2.0), color);
            if bounce {
                gizmos.line_2d(
                    at + Vec2::new(-24.0, -16.0),
                    at + Vec2::new(24.0, 16.0),
                    color,
                );
            }
        } else if protocol == Protocol::Dns {
            gizmos.rect_2d(
                Isometry2d::new(at, Rot2::degrees(45.0)),
                Vec2::splat(12.0),
                color,
            );
        } else if matches!(protocol, Protocol::Pop3 | Protocol::Imap) {
            gizmos.rect_2d(Isometry2d::from_translation(at), Vec2::splat(12.0), color);
        } else {
            gizmos.circle_2d(Isometry2d::from_translation(at), 7.0, color);
        }
    }
}

/// Each message waiting in a host's queue is a small envelope parked beside it.
fn draw_queued(
    mut gizmos: Gizmos,
    diagram: Res<Diagram>,
    loaded: Res<Loaded>,
    playback: Res<Playback>,
) {
    let Some(cursor) = playback.cursor else {
        return;
    };
    let queues =
        super::inspector::queues_at(&loaded.outcome.trace, cursor, loaded.scenario.hosts.len());
    for (h, queue) in queues.iter().enumerate() {
        for k in 0..queue.len().min(5) {
            let at =
                diagram.layout.hosts[h] + Vec2::new(44.0 + 8.0 * k as f32, 14.0 - 6.0 * k as f32);
            gizmos.rect_2d(
                Isometry2d::from_translation(at),
                Vec2::new(26.0, 17.0),
                palette::ENVELOPE,
            );
            gizmos.line_2d(at + Vec2::new(-13.0, 8.5), at, palette::ENVELOPE);
            gizmos.line_2d(at + Vec2::new(13.0, 8.5), at, palette::ENVELOPE);
        }
    }
}

fn grey_down_hosts(
    loaded: Res<Loaded>,
    playback: Res<Playback>,
    hosts: Query<(&HostShape, &MeshMaterial2d<ColorMaterial>)>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let mut down = vec![false; loaded.scenario.hosts.len()];
    if let Some(c) = playback.cursor {
        for e in &loaded.outcome.trace.events[..=c] {
            match (e.kind, e.from) {
                (EventKind::HostDown, Some(h)) => down[h] = true,
                (EventKind::HostUp, Some(h)) => down[h] = false,
                _ => {}
            }
        }
    }
    for (shape, material) in &hosts {
        if let Some(mut m) = materials.get_mut(&material.0) {
            m.color = if down[shape.0] {
                palette::HOST_DOWN
            } else {
                palette::HOST
            };
        }
    }
}
