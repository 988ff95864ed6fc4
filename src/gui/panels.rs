//! The panels around the diagram, all on the one time cursor: controls and timeline on top,
//! the event list on the left, the transcript of the current connection on the right, and the
//! caption of the current step at the bottom.

use std::time::Duration;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, LayerId, RichText, Ui, UiBuilder};
use bevy_egui::{
    EguiContext, EguiContexts, EguiInput, EguiPostUpdateSet, EguiPreUpdateSet,
    EguiPrimaryContextPass, EguiRenderOutput, PrimaryEguiContext,
};

use super::Loaded;
use super::diagram::protocol_color;
use super::inspector::{CacheAt, Inspection, Queues, inspect};
use super::loading::{OpenDialog, OpenFile};
use super::playback::{Playback, SPEEDS};
use crate::sim::{EventKind, Protocol, caption::caption, format_time};
use crate::text::counted;

/// Panel sizes in logical pixels; the camera centres the diagram in what is left.
pub const LEFT: f32 = 300.0;
pub const RIGHT: f32 = 440.0;
pub const TOP: f32 = 64.0;
pub const BOTTOM: f32 = 96.0;
/// In presentation mode the caption is all there is, in large type.
pub const BOTTOM_PRESENT: f32 = 150.0;

/// Client lines in one colour, server lines in another (and C:/S: in front, for colour-blind
/// readers and printouts).
const CLIENT: Color32 = Color32::from_rgb(120, 190, 255);
const SERVER: Color32 = Color32::from_rgb(255, 200, 120);

pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<EventFilter>()
            .init_resource::<super::export_menu::ExportStatus>()
            .init_resource::<ReadingPace>()
            .init_resource::<EguiPass>()
            .add_systems(
                EguiPrimaryContextPass,
                (no_animations.run_if(run_once), panels),
            )
            .add_systems(
                PreUpdate,
                drop_repeated_modifiers
                    .after(EguiPreUpdateSet::ProcessInput)
                    .before(EguiPreUpdateSet::BeginPass),
            )
            .add_systems(
                PostUpdate,
                decide_egui_pass.before(EguiPostUpdateSet::EndPass),
            )
            .configure_sets(
                PostUpdate,
                (EguiPostUpdateSet::EndPass, EguiPostUpdateSet::ProcessOutput)
                    .run_if(|pass: Res<EguiPass>| pass.due),
            )
            .add_systems(
                PostUpdate,
                draw_egui_again.after(EguiPostUpdateSet::PostProcessOutput),
            );
    }
}

/// Whether egui runs its pass this frame: every frame while paused; while playing, when the
/// text panels follow the cursor (see [`FOLLOW_EVERY`]), when the user does something (a key,
/// the pointer, a resize, a dropped file) or when egui asks (an animation, a tooltip). In the
/// frames between, egui's last output is drawn again, so the clock and the timeline move five
/// times a second while the diagram moves every frame: with a thousand messages in flight the
/// panels' layout and egui's tessellation took about a fifth of the main thread, mostly for
/// text that had not changed.
#[derive(Resource, Default)]
struct EguiPass {
    due: bool,
    /// The window's area at the last pass, to see a resize.
    screen: Option<egui::Rect>,
}

fn decide_egui_pass(
    mut pass: ResMut<EguiPass>,
    pace: Res<ReadingPace>,
    playback: Res<Playback>,
    loaded: Res<Loaded>,
    real: Res<Time<Real>>,
    mut contexts: Query<(&mut EguiContext, &EguiInput), With<PrimaryEguiContext>>,
) {
    let Ok((mut ctx, input)) = contexts.single_mut() else {
        pass.due = true;
        return;
    };
    let news = pace.has_news(&playback, loaded.index.generation, real.elapsed());
    pass.due = news || ctx.get_mut().has_requested_repaint() || user_acted(input, pass.screen);
    if pass.due {
        pass.screen = input.screen_rect;
    }
}

/// Scroll bars and folding sections change at once rather than over a tenth of a second: an
/// animation needs egui to run every frame while it lasts, and the scroll bars of panels that
/// follow the cursor would start one five times a second (see [`EguiPass`]).
fn no_animations(mut contexts: EguiContexts) -> Result {
    contexts
        .ctx_mut()?
        .all_styles_mut(|style| style.animation_time = 0.0);
    Ok(())
}

/// bevy_egui tells egui the modifier keys every frame, as an event, and egui asks to be run
/// again whenever its input holds an event; so that a frame without news is seen as one, the
/// news of modifiers as they were is dropped.
fn drop_repeated_modifiers(
    mut inputs: Query<&mut EguiInput, With<PrimaryEguiContext>>,
    mut told: Local<Option<egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        input.events.retain(|event| match event {
            egui::Event::ModifiersChanged(now) if *told == Some(*now) => false,
            egui::Event::ModifiersChanged(now) => {
                *told = Some(*now);
                true
            }
            _ => true,
        });
    }
}

/// bevy_egui moves egui's output into the render world every frame; in a frame without a
/// pass there is none, and the panels would blink out. So the last pass's shapes are kept and
/// handed over again (without its texture changes, which were applied once).
fn draw_egui_again(
    pass: Res<EguiPass>,
    mut outputs: Query<&mut EguiRenderOutput, With<PrimaryEguiContext>>,
    mut last: Local<Vec<egui::ClippedPrimitive>>,
) {
    for mut output in &mut outputs {
        if pass.due {
            last.clone_from(&output.paint_jobs);
        } else {
            output.paint_jobs.clone_from(&last);
        }
    }
}

/// Whether egui's input holds something the user did since its last pass.
fn user_acted(input: &egui::RawInput, screen_at_last_pass: Option<egui::Rect>) -> bool {
    !input.events.is_empty()
        || !input.dropped_files.is_empty()
        || !input.hovered_files.is_empty()
        || input.screen_rect != screen_at_last_pass
}

/// One row of the event list: its time, its host and what happened, as one line of text cut
/// to the panel's width (one piece of text: laying out text costs something for each piece
/// besides its letters; egui keeps the layout of the rows that stay in view).
fn event_row(ui: &mut Ui, loaded: &Loaded, i: usize, current: bool, height: f32) -> egui::Response {
    let (sc, trace) = (&loaded.scenario, &loaded.outcome.trace);
    let e = &trace.events[i];
    let size = egui::vec2(ui.available_width(), height);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click());
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let visuals = ui.visuals();
    let painter = ui.painter();
    if current {
        painter.rect_filled(rect, 2.0, visuals.selection.bg_fill);
    } else if response.hovered() {
        painter.rect_filled(rect, 2.0, visuals.widgets.hovered.weak_bg_fill);
    }
    let color = e
        .protocol
        .map(|p| to_egui(protocol_color(p)))
        .unwrap_or(Color32::LIGHT_GRAY);
    let who = e.from().map(|h| sc.hosts[h].name.as_str()).unwrap_or("");
    let mut row = format_time(e.t_ms);
    row.push(' ');
    row.push_str(who);
    row.push_str(": ");
    match e.kind {
        EventKind::ClientLine | EventKind::ServerLine => {
            row.push_str(trace.text(e).lines().next().unwrap_or(""));
        }
        kind => row.push_str(kind.file_name()),
    }
    // What a screen reader says of the row (asked for only when one listens).
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::WidgetType::SelectableLabel, true, current, &row)
    });
    let mut job = egui::text::LayoutJob::single_section(
        row,
        egui::TextFormat::simple(egui::FontId::monospace(10.5), Color32::PLACEHOLDER),
    );
    job.wrap = egui::text::TextWrapping::truncate_at_width((rect.width() - 2.0).max(0.0));
    painter.galley(
        egui::pos2(rect.left() + 2.0, rect.top()),
        painter.layout_job(job),
        color,
    );
    response
}

/// The transcript of the current connection up to the cursor: every line on a row of its own,
/// exactly as it was sent, client lines in one colour and server lines in another, the current
/// event's lines on a highlight. Lines are never wrapped (a wrapped line would look like a line
/// break the protocol never sent, and line breaks matter: a folded header continues on the next
/// line); a long one scrolls sideways. Every row has the same height, so only the rows in view
/// are laid out: an exchange can carry a whole message, and while playing it changes every frame.
fn transcript(ui: &mut Ui, loaded: &Loaded, exchange: super::index::Exchange, cursor: usize) {
    let trace = &loaded.outcome.trace;
    let texts: Vec<(usize, std::borrow::Cow<str>)> = loaded
        .index
        .exchange_lines(exchange, cursor)
        .iter()
        .map(|&i| (i as usize, trace.text(&trace.events[i as usize])))
        .collect();
    let lines: Vec<(usize, &str)> = texts
        .iter()
        .flat_map(|(i, text)| text.lines().map(move |line| (*i, line)))
        .collect();
    let font = egui::FontId::monospace(12.0);
    let (row, glyph) = ui
        .ctx()
        .fonts_mut(|f| (f.row_height(&font), f.glyph_width(&font, 'M')));
    // "C: " or "S: " in front of each line.
    let widest = lines
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(0)
        + 3;
    // Scroll bars that come and go with each connection's text would shift its lines, and egui
    // asks for another pass each time one does (see `EguiPass`): they stay.
    egui::ScrollArea::both()
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .stick_to_bottom(true)
        .auto_shrink([false, true])
        .show_viewport(ui, |ui, viewport| {
            let size = egui::vec2(
                (widest as f32 * glyph).max(ui.available_width()),
                lines.len() as f32 * row,
            );
            let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
            let last = ((viewport.max.y / row).ceil().max(0.0) as usize).min(lines.len());
            let first = ((viewport.min.y / row).floor().max(0.0) as usize).min(last);
            let painter = ui.painter();
            for (k, &(i, line)) in lines.iter().enumerate().take(last).skip(first) {
                let client = matches!(
                    trace.events[i].kind,
                    EventKind::ClientLine | EventKind::DnsQuery
                );
                let (prefix, color) = if client {
                    ("C: ", CLIENT)
                } else {
                    ("S: ", SERVER)
                };
                let at = egui::pos2(rect.left(), rect.top() + k as f32 * row);
                if i == cursor {
                    let band = egui::Rect::from_min_size(at, egui::vec2(rect.width(), row));
                    painter.rect_filled(band, 0.0, Color32::from_rgb(60, 60, 90));
                }
                let galley = painter.layout_no_wrap(format!("{prefix}{line}"), font.clone(), color);
                painter.galley(at, galley, color);
            }
            // What a screen reader says of it (asked for only when one listens).
            response.widget_info(|| {
                let said: Vec<&str> = lines[first..last].iter().map(|(_, l)| *l).collect();
                egui::WidgetInfo::labeled(egui::WidgetType::Label, true, said.join("\n"))
            });
        });
}

/// What the text panels show (see [`FOLLOW_EVERY`]): the player's state, for a run, as it was
/// at a moment. A resource, because it also decides when egui runs (see [`EguiPass`]).
#[derive(Resource, Default)]
struct ReadingPace(Option<Reading>);

/// The player's state the text panels show, for a run, and when (real time since start) they
/// took it.
struct Reading {
    at: Duration,
    run: u64,
    state: Playback,
}

impl ReadingPace {
    /// Whether the text panels follow the player now: paused, stepped or presenting, at once;
    /// while playing, once [`FOLLOW_EVERY`] has passed since they last did, or for a new run.
    fn follows(&self, playback: &Playback, run: u64, now: Duration) -> bool {
        !playback.playing
            || playback.present
            || (self.0.as_ref())
                .is_none_or(|r| r.run != run || now.saturating_sub(r.at) >= FOLLOW_EVERY)
    }

    /// Whether what they show differs from the player's state for `run`.
    fn differs(&self, playback: &Playback, run: u64) -> bool {
        (self.0.as_ref()).is_none_or(|r| r.run != run || r.state != *playback)
    }

    /// Whether the text takes the player's state now: it follows, and the state has changed.
    fn moves_on(&self, playback: &Playback, run: u64, now: Duration) -> bool {
        self.follows(playback, run, now) && self.differs(playback, run)
    }

    /// Whether the panels have something new to show: paused, always (a click or a finished
    /// export may change them); while playing, when the text moves on.
    fn has_news(&self, playback: &Playback, run: u64, now: Duration) -> bool {
        !playback.playing || playback.present || self.moves_on(playback, run, now)
    }

    /// What the text panels show now (see [`FOLLOW_EVERY`]): the player's state as it is, or
    /// while playing, as it was when they last followed it.
    fn follow(&mut self, playback: &Playback, run: u64, now: Duration) -> Playback {
        // A state that has not changed keeps its old time, so that the first change after a
        // pause (pressing play) shows at once rather than a whole interval later.
        if self.moves_on(playback, run, now) {
            self.0 = Some(Reading {
                at: now,
                run,
                state: playback.clone(),
            });
        }
        (self.0.as_ref()).map_or_else(|| playback.clone(), |r| r.state.clone())
    }
}

/// The clicked host: what it is and runs, whether it is up, and what it holds at the cursor.
fn host_card(
    ui: &mut Ui,
    loaded: &Loaded,
    playback: &Playback,
    host: Option<usize>,
    replay: &super::whatif::Replay,
    queues: &Queues,
    cache: &mut CacheAt,
) {
    let Some(h) = host else { return };
    let sc = &loaded.scenario;
    let trace = &loaded.outcome.trace;
    let Some(info) = sc.hosts.get(h) else { return };
    let cursor = playback.cursor.unwrap_or(0);
    let up = !loaded.index.host_is_down(trace, h, playback.cursor);
    ui.strong(format!(
        "Host {} ({}), {}",
        info.name,
        info.ip,
        if up { "up" } else { "DOWN" }
    ));
    ui.label(format!("runs: {}", super::diagram::role_words(&info.roles)));
    let entries = cache.entries(trace, &loaded.index, h, cursor, playback.now_ms as u64);
    ui.label(format!(
        "DNS cache: {}",
        counted(entries.len(), "entry", "entries")
    ));
    let queued = queues.hosts.get(h).map_or(0, Vec::len);
    ui.label(format!("queue: {}", counted(queued, "message", "messages")));
    // Mailboxes at this moment, from a replay of the simulation up to it.
    if let Some(state) = replay.state.as_ref().filter(|_| info.is_store()) {
        for mb in state.stores[h].mailboxes.values() {
            for f in &mb.folders {
                ui.label(
                    RichText::new(format!(
                        "{} {}: {}",
                        mb.address,
                        f.name,
                        counted(f.messages.len(), "message", "messages")
                    ))
                    .monospace()
                    .size(11.0),
                );
                for m in &f.messages {
                    let subject = m.message.header("Subject").unwrap_or_default();
                    let flags = m.flags.to_imap();
                    ui.label(
                        RichText::new(format!("  {} {subject:?} {flags}", m.uid))
                            .monospace()
                            .size(10.5),
                    );
                }
            }
        }
    }
    ui.small("D: take it down or bring it up now (what-if); U: undo. Click empty space to close.");
    ui.separator();
}

/// The envelope beside the headers of the message the cursor is on.
fn message_inspector(ui: &mut Ui, loaded: &Loaded, inspection: Option<&Inspection>) {
    let sc = &loaded.scenario;
    let Some(i) = inspection else {
        ui.strong("Message");
        ui.label("No message has travelled yet.");
        return;
    };
    ui.strong(format!(
        "Message {}: from {} to {}",
        i.name, sc.hosts[i.hop.0].name, sc.hosts[i.hop.1].name
    ));
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(150.0);
            ui.label(RichText::new("Envelope").underline());
            ui.label(
                RichText::new(format!("MAIL FROM:{}", i.mail_from))
                    .monospace()
                    .size(11.0),
            );
            for r in &i.rcpt_to {
                ui.label(RichText::new(format!("RCPT TO:{r}")).monospace().size(11.0));
            }
            if i.rcpt_to.is_empty() {
                ui.weak("Downloaded from the mailbox: the envelope stayed behind; Return-Path keeps MAIL FROM.");
            }
        });
        ui.vertical(|ui| {
            ui.label(RichText::new(format!("Headers ({} Received)", i.received)).underline());
            egui::ScrollArea::vertical()
                .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
                .id_salt("headers")
                .max_height(170.0)
                .show(ui, |ui| {
                    ui.label(RichText::new(i.headers.trim_end()).monospace().size(10.5));
                });
        });
    });
}

/// The cache of the resolver that is busy at the cursor, with what each entry has left to live.
fn resolver_panel(ui: &mut Ui, loaded: &Loaded, playback: &Playback, cache: &mut CacheAt) {
    let trace = &loaded.outcome.trace;
    let Some(cursor) = playback.cursor else {
        return;
    };
    let Some(host) = loaded.index.resolver_at(cursor) else {
        ui.strong("DNS cache");
        ui.label("No DNS lookup yet.");
        return;
    };
    let entries = cache.entries(trace, &loaded.index, host, cursor, playback.now_ms as u64);
    ui.strong(format!("DNS cache of {}", loaded.scenario.hosts[host].name));
    if entries.is_empty() {
        ui.label("empty");
    }
    for (name, rtype, left, summary) in entries.iter().take(8) {
        ui.label(
            RichText::new(format!("{name} {rtype}: {left} s left\n  {summary}"))
                .monospace()
                .size(10.5),
        );
    }
}

/// The queues at the cursor: what waits where, why, and how long until the next attempt. A busy
/// scene can hold hundreds of queued messages: the panel lists the first few and counts the rest.
fn queue_panel(ui: &mut Ui, loaded: &Loaded, playback: &Playback, queues: &Queues) {
    const SHOWN: usize = 6;
    if playback.cursor.is_none() || !queues.is_for(&loaded.index) {
        return;
    }
    let sc = &loaded.scenario;
    let trace = &loaded.outcome.trace;
    let mut listed = 0;
    let (mut more, mut more_hosts) = (0, 0);
    for (h, queue) in queues
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, q)| !q.is_empty())
    {
        if listed >= SHOWN {
            more += queue.len();
            more_hosts += 1;
            continue;
        }
        ui.strong(format!("Queue of {} ({})", sc.hosts[h].name, queue.len()));
        for parked in queue.iter().take(SHOWN - listed) {
            let w = parked.waiting(trace);
            let when = match w.next_attempt_ms {
                Some(t) => format!(
                    "{} (at {})",
                    super::next_attempt_words(t, playback.now_ms as u64),
                    format_time(t)
                ),
                None => "first attempt now".to_string(),
            };
            ui.label(
                RichText::new(format!("{}: {when}\n  {}", w.message, w.reason))
                    .monospace()
                    .size(10.5),
            );
        }
        let shown = queue.len().min(SHOWN - listed);
        listed += shown;
        more += queue.len() - shown;
    }
    if more > 0 {
        let hosts = if more_hosts > 0 {
            format!(" (and {more_hosts} more queues)")
        } else {
            String::new()
        };
        ui.small(format!("… and {more} more waiting{hosts}"));
    }
}

/// The dialog's state in the window: a note while the desktop's dialog is open, and when it
/// cannot open (or came back without a file) the reason and a field to type a path into.
fn open_window(ctx: &egui::Context, dialog: &mut OpenDialog, opens: &mut MessageWriter<OpenFile>) {
    if dialog.is_open() {
        egui::Window::new("Open a scenario")
            .default_pos([LEFT + 16.0, TOP + 16.0])
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("Choose a .ron scenario file in the file dialog.");
            });
        return;
    }
    let Some(message) = dialog.message.clone() else {
        return;
    };
    let mut open = true;
    egui::Window::new("Open a scenario")
        .default_pos([LEFT + 16.0, TOP + 16.0])
        .collapsible(false)
        .open(&mut open)
        .show(ctx, |ui| {
            ui.set_max_width(420.0);
            ui.label(RichText::new(message).color(Color32::from_rgb(255, 200, 120)));
            ui.horizontal(|ui| {
                let field = ui.add(
                    egui::TextEdit::singleline(&mut dialog.typed)
                        .hint_text("scenarios/01-alice-writes-to-bob.ron")
                        .desired_width(300.0),
                );
                if std::mem::take(&mut dialog.focus) {
                    field.request_focus();
                }
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Open").clicked() || entered) && !dialog.typed.trim().is_empty() {
                    opens.write(OpenFile(dialog.typed.trim().into()));
                }
            });
        });
    if !open {
        dialog.message = None;
    }
}

fn to_egui(c: Color) -> Color32 {
    let s = c.to_srgba();
    Color32::from_rgb(
        (s.red * 255.0) as u8,
        (s.green * 255.0) as u8,
        (s.blue * 255.0) as u8,
    )
}

/// Which events the list shows: by protocol (or the other kinds), and by host.
#[derive(Resource, Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    /// One switch per protocol, in the order of [`Protocol::ALL`].
    pub protocols: [bool; 5],
    /// Events of no protocol: queueing, delivery, faults, user actions.
    pub notes: bool,
    /// Only events from or to this host.
    pub host: Option<usize>,
}

impl Default for EventFilter {
    fn default() -> EventFilter {
        EventFilter {
            protocols: [true; 5],
            notes: true,
            host: None,
        }
    }
}

impl EventFilter {
    pub fn shows(&self, e: &crate::sim::TraceEvent) -> bool {
        let by_protocol = match e.protocol {
            Some(p) => self.protocols[Protocol::ALL.iter().position(|x| *x == p).unwrap_or(0)],
            None => self.notes,
        };
        by_protocol
            && self
                .host
                .is_none_or(|h| e.from() == Some(h) || e.to() == Some(h))
    }
}

/// The window's state the panels read and change.
#[derive(SystemParam)]
struct PanelState<'w> {
    playback: ResMut<'w, Playback>,
    filter: ResMut<'w, EventFilter>,
    selected: Res<'w, super::SelectedHost>,
    problem: Res<'w, super::loading::LoadProblem>,
    whatif: ResMut<'w, super::whatif::WhatIf>,
    present: Res<'w, super::Presentation>,
    replay: Res<'w, super::whatif::Replay>,
    link: Res<'w, super::SelectedLink>,
    queues: Res<'w, Queues>,
    dialog: ResMut<'w, OpenDialog>,
    opens: MessageWriter<'w, OpenFile>,
    exported: ResMut<'w, super::export_menu::ExportStatus>,
    quiz: Option<Res<'w, super::quiz::Quiz>>,
    editor: Option<ResMut<'w, super::editor::Editor>>,
    /// Live mode: real clients on a fixed network, so no editor.
    live: Option<Res<'w, super::LiveFeed>>,
    real: Res<'w, Time<Real>>,
    pace: ResMut<'w, ReadingPace>,
}

/// While playing, the text panels (caption, event list, transcript, inspector, host card,
/// queues, DNS cache) follow the cursor at most this often; the diagram moves every frame, the
/// clock and the timeline whenever egui runs (at least this often, see [`EguiPass`]). Text is
/// read at reading pace: at speed the cursor passes hundreds
/// of events between two frames, and every panel laid out anew each frame cost more than a
/// millisecond a frame with a thousand messages in flight, for text no one could read before it
/// changed. Between two updates egui reuses the text's layout. Paused, stepped, clicked, or in
/// presentation mode (which dwells on each caption), the panels follow at once.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// A run and a cursor in it.
type CursorKey = (u64, Option<usize>);

/// What the event list's rows depend on: the run, the filter, and where a question hides the rest.
type RowsKey = (u64, EventFilter, Option<usize>);

/// What the panels keep between frames, so that a frame only redoes what the cursor changed.
#[derive(Default)]
struct PanelCache {
    /// The cursor the event list last scrolled to.
    last_cursor: Option<Option<usize>>,
    /// The rows the filter lets through, for (run, filter, where a question hides the rest).
    rows: Option<(RowsKey, Vec<usize>)>,
    /// The message inspected, for (run, cursor).
    inspection: Option<(CursorKey, Option<Inspection>)>,
    resolver: CacheAt,
    host: CacheAt,
}

fn panels(
    mut contexts: EguiContexts,
    loaded: Res<Loaded>,
    state: PanelState,
    mut cache: Local<PanelCache>,
) -> Result {
    let PanelState {
        mut playback,
        mut filter,
        selected,
        problem,
        mut whatif,
        present,
        replay,
        link,
        queues,
        mut dialog,
        mut opens,
        mut exported,
        quiz,
        mut editor,
        live,
        real,
        mut pace,
    } = state;
    let cache = &mut *cache;
    let generation = loaded.index.generation;
    let ctx = contexts.ctx_mut()?;
    let mut root = Ui::new(
        ctx.clone(),
        "mailsim-root".into(),
        UiBuilder::new()
            .layer_id(LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    let sc = &loaded.scenario;
    let trace = &loaded.outcome.trace;
    let reading = pace.follow(&playback, generation, real.elapsed());

    if !present.0 {
        egui::Panel::top("controls")
            .exact_size(TOP)
            .show(&mut root, |ui| {
                ui.horizontal(|ui| {
                    if ui
                        .button("Open…")
                        .on_hover_text("Open a scenario file (Ctrl+O)")
                        .clicked()
                    {
                        dialog.requested = true;
                    }
                    super::export_menu::menu(ui, &loaded, &mut exported);
                    if let Some(editor) = editor.as_mut().filter(|_| live.is_none()) {
                        // Yellow while the editor is open, like a lit switch.
                        let label = if editor.open {
                            RichText::new("Editing").color(Color32::YELLOW)
                        } else {
                            RichText::new("Edit")
                        };
                        if ui
                            .button(label)
                            .on_hover_text("Edit the network: hosts, links, roles, DNS (E)")
                            .clicked()
                        {
                            let request = if editor.open {
                                super::editor::Request::Close
                            } else {
                                super::editor::Request::Open
                            };
                            editor.request(request);
                        }
                    }
                    ui.heading(&sc.title);
                    ui.separator();
                    ui.monospace(format_time(playback.now_ms as u64));
                    ui.separator();
                    if ui
                        .button(if playback.playing {
                            "⏸ pause"
                        } else {
                            "▶ play"
                        })
                        .clicked()
                    {
                        playback.playing = !playback.playing;
                    }
                    if ui.button("⏮ back").clicked() {
                        playback.step_back(trace);
                    }
                    if ui.button("⏭ step").clicked() {
                        playback.step_forward(trace);
                    }
                    if ui.button("⟲ restart").clicked() {
                        playback.restart();
                    }
                    ui.label(format!("speed {}x", SPEEDS[playback.speed]));
                    ui.label("  press ? for keys");
                });
                let mut index = playback.cursor.map_or(0, |c| c + 1);
                // The timeline spans the bar, less room for the count and its label.
                ui.spacing_mut().slider_width = (ui.available_width() - 160.0).max(100.0);
                let slider = egui::Slider::new(&mut index, 0..=trace.len())
                    .text("events")
                    .show_value(true);
                if ui.add(slider).changed() {
                    if index == 0 {
                        playback.restart();
                    } else {
                        playback.go_to(trace, index - 1);
                        playback.playing = false;
                    }
                }
            });
    }

    egui::Panel::bottom("caption")
        .exact_size(if present.0 { BOTTOM_PRESENT } else { BOTTOM })
        .show(&mut root, |ui| {
            ui.add_space(8.0);
            let text = match reading.cursor {
                // The teacher's caption where the lesson pins one, as the transcript has it.
                Some(c) => match &quiz {
                    Some(quiz) => {
                        crate::sim::render::caption_of(sc, trace, c, &quiz.pinned.captions)
                    }
                    None => caption(sc, trace, c),
                },
                None => {
                    // The lesson's first sentence, then how to start.
                    let text = sc
                        .description
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let first = text.split_inclusive(". ").next().unwrap_or("").trim();
                    format!("{first} Press space to play, or the right arrow key to step.")
                }
            };
            let size = if present.0 { 34.0 } else { 20.0 };
            ui.label(RichText::new(text).size(size).color(Color32::WHITE));
        });

    if !present.0 {
        egui::Panel::left("events")
            .exact_size(LEFT)
            .show(&mut root, |ui| {
                ui.strong("Events");
                ui.horizontal_wrapped(|ui| {
                    for (k, p) in Protocol::ALL.iter().enumerate() {
                        let text = RichText::new(p.name()).color(to_egui(protocol_color(*p)));
                        ui.checkbox(&mut filter.protocols[k], text);
                    }
                    ui.checkbox(&mut filter.notes, "other");
                });
                let chosen = filter
                    .host
                    .map(|h| sc.hosts[h].name.clone())
                    .unwrap_or_else(|| "every host".into());
                egui::ComboBox::from_id_salt("host-filter")
                    .selected_text(chosen)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut filter.host, None, "every host");
                        for (h, host) in sc.hosts.iter().enumerate() {
                            ui.selectable_value(&mut filter.host, Some(h), host.name.as_str());
                        }
                    });
                // Only the rows in view are laid out, so long traces stay quick; the list jumps
                // to the current event only when the cursor moves, so it can be scrolled freely.
                // The filtered rows are kept until the run or the filter changes.
                let hidden_from = quiz.as_ref().and_then(|q| q.hides_from());
                let key = (generation, filter.clone(), hidden_from);
                if cache.rows.as_ref().is_none_or(|(k, _)| *k != key) {
                    let rows = (0..hidden_from.unwrap_or(trace.len()).min(trace.len()))
                        .filter(|&i| filter.shows(&trace.events[i]))
                        .collect();
                    cache.rows = Some((key, rows));
                }
                if hidden_from.is_some() {
                    ui.weak("Later events show once you answer the question ahead.");
                }
                let shown: &[usize] = cache.rows.as_ref().map_or(&[], |(_, r)| r);
                let row = 14.0;
                let mut area = egui::ScrollArea::vertical().auto_shrink(false);
                if cache.last_cursor != Some(reading.cursor) {
                    cache.last_cursor = Some(reading.cursor);
                    let at = reading
                        .cursor
                        .map_or(0, |c| shown.partition_point(|&i| i < c));
                    let spaced = row + ui.spacing().item_spacing.y;
                    area = area.vertical_scroll_offset((at as f32 * spaced - 300.0).max(0.0));
                }
                area.show_rows(ui, row, shown.len(), |ui, range| {
                    for &i in &shown[range] {
                        if event_row(ui, &loaded, i, reading.cursor == Some(i), row).clicked() {
                            playback.go_to(trace, i);
                            playback.playing = false;
                        }
                    }
                });
            });

        let editing = editor.as_ref().is_some_and(|e| e.open);
        egui::Panel::right("transcript")
            .exact_size(RIGHT)
            .show(&mut root, |ui| {
                // The editor's window takes this side while it is open.
                if editing {
                    return;
                }
                host_card(
                    ui,
                    loaded.as_ref(),
                    &reading,
                    selected.0,
                    &replay,
                    &queues,
                    &mut cache.host,
                );
                if let Some((a, b)) = link.0 {
                    let down = loaded.index.link_is_down(trace, (a, b), reading.cursor);
                    ui.strong(format!(
                        "Link {} to {}, {}",
                        sc.hosts[a].name,
                        sc.hosts[b].name,
                        if down { "CUT" } else { "working" }
                    ));
                    let spec = sc.link_between(a, b);
                    ui.label(format!(
                        "latency {} to {} ms, loss {:.0}%",
                        spec.latency_ms.0,
                        spec.latency_ms.1,
                        spec.loss * 100.0
                    ));
                    ui.small("D: cut it or mend it now (what-if); U: undo.");
                    ui.separator();
                }
                // The inspection is redone only when the cursor moves.
                let key = (generation, reading.cursor);
                if cache.inspection.as_ref().is_none_or(|(k, _)| *k != key) {
                    let found = reading
                        .cursor
                        .and_then(|c| inspect(trace, &loaded.index, c));
                    cache.inspection = Some((key, found));
                }
                let inspection = cache.inspection.as_ref().and_then(|(_, i)| i.as_ref());
                message_inspector(ui, loaded.as_ref(), inspection);
                ui.separator();
                resolver_panel(ui, loaded.as_ref(), &reading, &mut cache.resolver);
                queue_panel(ui, loaded.as_ref(), &reading, &queues);
                ui.separator();
                ui.strong("Transcript of the current connection");
                let Some(exchange) = reading.current_exchange(&loaded.index) else {
                    ui.label("Nothing has been said yet.");
                    return;
                };
                transcript(ui, &loaded, exchange, reading.cursor.unwrap_or(0));
            });
    }

    if !whatif.changes.is_empty() {
        egui::Window::new("What if")
            .default_pos([LEFT + 16.0, TOP + 16.0])
            .show(ctx, |ui| {
                let mut undo = None;
                for (i, (at, target, down)) in whatif.changes.iter().enumerate() {
                    ui.horizontal(|ui| {
                        let what = match (target, down) {
                            (super::whatif::Target::Host(h), true) => {
                                format!("{} goes down", sc.hosts[*h].name)
                            }
                            (super::whatif::Target::Host(h), false) => {
                                format!("{} comes back up", sc.hosts[*h].name)
                            }
                            (super::whatif::Target::Link(a, b), true) => {
                                format!(
                                    "the link {} to {} is cut",
                                    sc.hosts[*a].name, sc.hosts[*b].name
                                )
                            }
                            (super::whatif::Target::Link(a, b), false) => {
                                format!(
                                    "the link {} to {} works again",
                                    sc.hosts[*a].name, sc.hosts[*b].name
                                )
                            }
                        };
                        ui.label(format!("{}: {what}", format_time(*at)));
                        if ui.small_button("undo").clicked() {
                            undo = Some(i);
                        }
                    });
                }
                if let Some(i) = undo {
                    whatif.changes.remove(i);
                    whatif.dirty = true;
                }
                ui.small("The simulation ran again from the start with these changes.");
            });
    }
    open_window(ctx, &mut dialog, &mut opens);
    if let Some(error) = &problem.0 {
        egui::Window::new("This file cannot be loaded")
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(
                    RichText::new(error)
                        .monospace()
                        .color(Color32::from_rgb(255, 120, 120)),
                );
                ui.label(
                    "The last good scenario stays on show; save the file again once it is mended.",
                );
            });
    }
    if playback.help {
        egui::Window::new("Keys")
            .collapsible(false)
            .show(ctx, |ui| {
                for (k, what) in [
                    ("space", "play or pause"),
                    ("→", "step forward one event"),
                    ("←", "step back one event"),
                    ("+ / -", "faster / slower (0.25x to 16x)"),
                    ("Home", "back to the start"),
                    ("Ctrl+O", "open a scenario file (or drop one on the window)"),
                    ("click", "select a host: its card, its events"),
                    ("D", "what if the selected host went down (or came up) now"),
                    ("U", "undo the last what-if change"),
                    ("E", "edit the network (hosts, links, roles, DNS)"),
                    ("Ctrl+Z / Y / S", "in the editor: undo, redo, save"),
                    ("drag, wheel, 0", "pan, zoom, fit the diagram"),
                    ("?", "this help"),
                ] {
                    ui.horizontal(|ui| {
                        ui.monospace(format!("{k:>6}"));
                        ui.label(what);
                    });
                }
            });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;
    use crate::sim::run;

    #[test]
    fn while_playing_the_text_follows_the_cursor_at_reading_pace() {
        let ms = Duration::from_millis;
        let mut shown = ReadingPace::default();
        let mut playback = Playback {
            playing: true,
            cursor: Some(10),
            ..Playback::default()
        };
        assert_eq!(shown.follow(&playback, 1, ms(0)).cursor, Some(10));
        playback.cursor = Some(500);
        let held = shown.follow(&playback, 1, ms(50));
        assert_eq!(held.cursor, Some(10), "within FOLLOW_EVERY the text stays");
        let later = shown.follow(&playback, 1, ms(50) + FOLLOW_EVERY);
        assert_eq!(later.cursor, Some(500));
        // Paused (or stepped), the panels follow at once.
        playback.cursor = Some(501);
        playback.playing = false;
        let now = ms(60) + FOLLOW_EVERY;
        assert_eq!(shown.follow(&playback, 1, now).cursor, Some(501));
        // So they do for a new run (the old cursor may not exist in it), playing or not.
        playback.playing = true;
        playback.cursor = Some(3);
        let now = ms(70) + FOLLOW_EVERY;
        assert_eq!(shown.follow(&playback, 2, now).cursor, Some(3));
    }

    #[test]
    fn while_playing_egui_runs_only_when_the_text_has_news() {
        let ms = Duration::from_millis;
        let mut playback = Playback {
            playing: true,
            cursor: Some(10),
            ..Playback::default()
        };
        assert!(
            ReadingPace::default().has_news(&playback, 1, ms(0)),
            "the first frame"
        );
        let mut shown = ReadingPace::default();
        shown.follow(&playback, 1, ms(0));
        assert!(!shown.has_news(&playback, 1, ms(1)));
        playback.now_ms += 5.0;
        assert!(
            !shown.has_news(&playback, 1, ms(50)),
            "the player moved, but the text waits for FOLLOW_EVERY"
        );
        assert!(shown.has_news(&playback, 1, FOLLOW_EVERY));
        assert!(shown.has_news(&playback, 2, ms(50)), "a new run");
        // A player that does not move (an empty run) gives nothing new to show.
        let at = shown.follow(&playback, 1, FOLLOW_EVERY);
        assert!(!shown.has_news(&at, 1, ms(1000)));
        // Paused, egui runs every frame: a click may change anything.
        playback.playing = false;
        shown.follow(&playback, 1, ms(1000));
        assert!(shown.has_news(&playback, 1, ms(1001)));
    }

    #[test]
    fn the_user_acting_is_news_for_egui() {
        let screen = Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 900.0),
        ));
        let mut input = egui::RawInput {
            screen_rect: screen,
            ..Default::default()
        };
        assert!(!user_acted(&input, screen));
        assert!(user_acted(&input, None), "the window's first frame");
        let smaller = screen.map(|r| r.shrink(10.0));
        assert!(user_acted(&input, smaller), "a resize");
        input
            .events
            .push(egui::Event::PointerMoved(egui::pos2(5.0, 5.0)));
        assert!(user_acted(&input, screen));
    }

    #[test]
    fn modifiers_told_again_unchanged_are_no_news() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_systems(Update, drop_repeated_modifiers);
        let context = app
            .world_mut()
            .spawn((EguiInput::default(), PrimaryEguiContext))
            .id();
        let tell = |app: &mut App, modifiers: egui::Modifiers| {
            let mut input = app.world_mut().get_mut::<EguiInput>(context).unwrap();
            input.events.push(egui::Event::ModifiersChanged(modifiers));
            app.update();
            std::mem::take(
                &mut app
                    .world_mut()
                    .get_mut::<EguiInput>(context)
                    .unwrap()
                    .events,
            )
        };
        assert_eq!(tell(&mut app, egui::Modifiers::NONE).len(), 1, "told once");
        assert!(tell(&mut app, egui::Modifiers::NONE).is_empty());
        assert_eq!(tell(&mut app, egui::Modifiers::SHIFT).len(), 1, "a change");
        assert!(tell(&mut app, egui::Modifiers::SHIFT).is_empty());
    }

    #[test]
    fn a_frame_without_an_egui_pass_draws_the_last_one_again() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<EguiPass>()
            .add_systems(Update, draw_egui_again);
        let shape = egui::ClippedPrimitive {
            clip_rect: egui::Rect::EVERYTHING,
            primitive: egui::epaint::Primitive::Mesh(egui::Mesh::default()),
        };
        let output = EguiRenderOutput {
            paint_jobs: vec![shape.clone(), shape],
            ..Default::default()
        };
        let context = app.world_mut().spawn((output, PrimaryEguiContext)).id();
        let jobs = |app: &mut App| {
            let world = app.world_mut();
            // The render world takes the output at the end of every frame.
            std::mem::take(
                &mut world
                    .get_mut::<EguiRenderOutput>(context)
                    .unwrap()
                    .paint_jobs,
            )
            .len()
        };
        app.world_mut().resource_mut::<EguiPass>().due = true;
        app.update();
        assert_eq!(jobs(&mut app), 2, "a pass: its own shapes");
        app.world_mut().resource_mut::<EguiPass>().due = false;
        app.update();
        assert_eq!(jobs(&mut app), 2, "no pass: the last one's shapes again");
        app.update();
        assert_eq!(jobs(&mut app), 2);
    }

    #[test]
    fn the_filter_keeps_one_protocol_and_one_host() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let sc = load_file(std::path::Path::new(path)).unwrap();
        let trace = run(&sc).trace;
        let ns = sc.host_by_name("ns.example").unwrap();
        let dns_only = EventFilter {
            protocols: [false, false, true, false, false],
            notes: false,
            host: None,
        };
        let shown: Vec<_> = trace.events.iter().filter(|e| dns_only.shows(e)).collect();
        assert!(!shown.is_empty());
        assert!(shown.iter().all(|e| e.protocol == Some(Protocol::Dns)));
        let ns_only = EventFilter {
            host: Some(ns),
            ..EventFilter::default()
        };
        assert!(
            trace
                .events
                .iter()
                .filter(|e| ns_only.shows(e))
                .all(|e| e.from() == Some(ns) || e.to() == Some(ns))
        );
        assert_eq!(
            trace
                .events
                .iter()
                .filter(|e| EventFilter::default().shows(e))
                .count(),
            trace.len()
        );
    }
}
