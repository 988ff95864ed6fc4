//! The topology editor: add, remove and move hosts, give pairs of hosts links of their own, set
//! roles and DNS records, and save the result as a scenario file. Every edit goes to a
//! [`Draft`] (the Bevy-free model in `scenario::edit`); when the draft checks, the window runs
//! it at once, so the diagram, the trace and every panel show the edited network. A draft that
//! does not check says why and the last one that did stays on show. `E` opens and closes it.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, RichText};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};

use super::diagram::{Diagram, HostShape};
use super::{GuiSet, Loaded, Playback, SelectedHost, SelectedLink};
use crate::scenario::{Draft, Edit, Role};

/// The editor's state: the draft with its history, and what the window says about it.
#[derive(Resource, Default)]
pub struct Editor {
    pub open: bool,
    pub draft: Option<Draft>,
    /// What the last action did (`Ok`) or why it was refused (`Err`).
    pub status: Option<Result<String, String>>,
    /// Why the draft does not run, while it does not.
    pub problem: Option<String>,
    /// A link is being drawn from this host: the next host clicked is its other end.
    pub linking_from: Option<String>,
    /// Where "Save" writes.
    pub save_path: String,
    /// The host being dragged, and where it is now (world units).
    pub dragging: Option<(usize, Vec2)>,
    /// What the panel asked for this frame; done by [`apply_requests`].
    pub requests: Vec<Request>,
    /// A host just added or renamed: selected once the draft has run.
    select_after_run: Option<String>,
    fields: Fields,
    /// The quiz's setting before the editor opened: questions wait while the network changes.
    quiz_was_off: bool,
}

/// What the editor's panel, keys and mouse ask of it.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Open,
    Close,
    Edit(Edit),
    Undo,
    Redo,
    Save,
}

/// The text the panel's fields hold between frames.
#[derive(Default)]
struct Fields {
    /// The host the fields below were filled for.
    host: Option<String>,
    name: String,
    ip: String,
    new_domain: String,
    new_roles: Vec<Role>,
    /// The domain whose records show.
    domain_name: String,
    new_domain_name: String,
    mx_preference: u16,
    mx_exchange: String,
    a_owner: String,
    a_ip: String,
    cname_alias: String,
    cname_target: String,
}

impl Editor {
    pub fn request(&mut self, request: Request) {
        self.requests.push(request);
    }

    /// Whether the draft checks as this scenario (it was made from it, or it made it).
    fn draft_is(&self, scenario: &crate::scenario::Scenario) -> bool {
        self.draft
            .as_ref()
            .is_some_and(|d| d.check().ok().as_ref() == Some(scenario))
    }
}

/// A run condition: the editor is not open (or not there at all).
pub fn closed(editor: Option<Res<Editor>>) -> bool {
    editor.is_none_or(|e| !e.open)
}

pub struct EditorPlugin;

impl Plugin for EditorPlugin {
    fn build(&self, app: &mut App) {
        // Live mode shows real clients on a fixed network; presentations show a finished one.
        let editable = not(resource_exists::<super::LiveFeed>)
            .and_then(|present: Res<super::Presentation>| !present.0);
        app.init_resource::<Editor>()
            .add_systems(
                Update,
                (
                    editor_keys,
                    drag_hosts,
                    link_by_click,
                    apply_requests,
                    follow_the_file,
                )
                    .chain()
                    .run_if(editable.clone())
                    .in_set(GuiSet::Input),
            )
            .add_systems(EguiPrimaryContextPass, editor_window.run_if(editable));
    }
}

/// `E` opens and closes the editor; with it open, Ctrl+Z undoes, Ctrl+Y or Ctrl+Shift+Z
/// redoes, Ctrl+S saves, and Escape stops drawing a link.
fn editor_keys(keys: Res<ButtonInput<KeyCode>>, mut editor: ResMut<Editor>, typing: super::Typing) {
    if typing.active() {
        return;
    }
    let ctrl = super::held(&keys, super::CTRL);
    let shift = super::held(&keys, super::SHIFT);
    if keys.just_pressed(KeyCode::KeyE) && !ctrl {
        let request = if editor.open {
            Request::Close
        } else {
            Request::Open
        };
        editor.request(request);
    }
    if !editor.open || !ctrl {
        if keys.just_pressed(KeyCode::Escape) {
            editor.linking_from = None;
        }
        return;
    }
    if keys.just_pressed(KeyCode::KeyZ) {
        editor.request(if shift { Request::Redo } else { Request::Undo });
    }
    if keys.just_pressed(KeyCode::KeyY) {
        editor.request(Request::Redo);
    }
    if keys.just_pressed(KeyCode::KeyS) {
        editor.request(Request::Save);
    }
}

/// With the editor open, dragging a host moves it (the view pans only when the drag starts on
/// empty space); letting go records the move as one edit.
fn drag_hosts(
    pointer: super::Pointer,
    camera: Single<(&Camera, &GlobalTransform), With<Camera2d>>,
    diagram: Option<ResMut<Diagram>>,
    loaded: Res<Loaded>,
    mut editor: ResMut<Editor>,
    mut shapes: Query<(&HostShape, &mut Transform)>,
) {
    let Some(mut diagram) = diagram else { return };
    if !editor.open {
        editor.dragging = None;
        return;
    }
    let (camera, transform) = *camera;
    let at = pointer
        .over_diagram()
        .and_then(|p| camera.viewport_to_world_2d(transform, p).ok());
    let buttons = &pointer.buttons;
    if buttons.just_pressed(MouseButton::Left)
        && let Some(at) = at
        && let (Some(h), _) = super::pick(&diagram, at)
    {
        editor.dragging = Some((h, diagram.layout.hosts[h]));
    }
    let Some((h, start)) = editor.dragging else {
        return;
    };
    if let Some(at) = at
        && buttons.pressed(MouseButton::Left)
    {
        if diagram.layout.hosts[h] != at {
            diagram.layout.hosts[h] = at;
            for (shape, mut t) in &mut shapes {
                if shape.0 == h {
                    t.translation = at.extend(t.translation.z);
                }
            }
        }
        editor.dragging = Some((h, start));
    }
    if buttons.just_released(MouseButton::Left) {
        editor.dragging = None;
        let to = diagram.layout.hosts[h];
        // A press without a drag is a click: it selects, it does not move.
        if to.distance(start) > 4.0
            && let Some(host) = loaded.scenario.hosts.get(h)
        {
            editor.request(Request::Edit(Edit::MoveHost {
                host: host.name.clone(),
                to: (to.x.round(), to.y.round()),
            }));
        }
    }
}

/// While a link is being drawn, the next host clicked is its other end.
fn link_by_click(selected: Res<SelectedHost>, loaded: Res<Loaded>, mut editor: ResMut<Editor>) {
    if !selected.is_changed() {
        return;
    }
    let (Some(from), Some(host)) = (
        editor.linking_from.clone(),
        selected.0.and_then(|h| loaded.scenario.hosts.get(h)),
    ) else {
        return;
    };
    let to = host.name.clone();
    if to != from {
        editor.linking_from = None;
        editor.request(Request::Edit(Edit::AddLink(from, to)));
    }
}

/// When the scenario on show is replaced while the editor is open (the file saved from a text
/// editor and reloaded, or another file opened), the editor starts again from it: its draft
/// would describe a network that is no longer on show.
fn follow_the_file(loaded: Res<Loaded>, mut editor: ResMut<Editor>) {
    if !editor.open || !loaded.is_changed() || editor.problem.is_some() {
        return;
    }
    if editor.draft.is_some() && !editor.draft_is(&loaded.base) {
        editor.draft = Some(Draft::from_scenario(&loaded.base));
        editor.save_path = default_save_path(&loaded.path).display().to_string();
        editor.fields.host = None;
        editor.linking_from = None;
        editor.status = Some(Ok(format!(
            "{} was loaded: editing it from here",
            loaded.path.display()
        )));
    }
}

/// The file "Save" writes by default: next to the open one, `-edited` added to its name.
fn default_save_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    let stem = stem.strip_suffix("-edited").unwrap_or(stem);
    path.with_file_name(format!("{stem}-edited.ron"))
}

/// Does what the panel, keys and mouse asked, in order; runs the draft whenever it checks.
fn apply_requests(
    mut editor: ResMut<Editor>,
    mut loaded: ResMut<Loaded>,
    mut playback: ResMut<Playback>,
    mut selected: ResMut<SelectedHost>,
    mut link: ResMut<SelectedLink>,
    mut whatif: ResMut<super::whatif::WhatIf>,
    mut quiz: Option<ResMut<super::quiz::Quiz>>,
) {
    let requests = std::mem::take(&mut editor.requests);
    if requests.is_empty() {
        return;
    }
    let mut changed = false;
    // The selection is kept by name: an edit may renumber the hosts.
    let name = |h: usize| loaded.scenario.hosts.get(h).map(|host| host.name.clone());
    let selected_name = selected.0.and_then(name);
    let link_names = link.0.and_then(|(a, b)| Some((name(a)?, name(b)?)));
    for request in requests {
        match request {
            Request::Open => {
                if editor.open {
                    continue;
                }
                editor.open = true;
                // The editor changes the file's network; what-if changes sit on top of a run
                // and are dropped, so the draft starts from the file as loaded.
                if !whatif.changes.is_empty() {
                    whatif.changes.clear();
                    whatif.dirty = true;
                }
                if !editor.draft_is(&loaded.base) {
                    editor.draft = Some(Draft::from_scenario(&loaded.base));
                    editor.save_path = default_save_path(&loaded.path).display().to_string();
                }
                editor.status = None;
                editor.problem = None;
                playback.playing = false;
                if let Some(q) = quiz.as_mut() {
                    editor.quiz_was_off = q.off;
                    q.off = true;
                }
            }
            Request::Close => {
                editor.open = false;
                editor.linking_from = None;
                if let Some(q) = quiz.as_mut() {
                    q.off = editor.quiz_was_off;
                }
            }
            Request::Edit(edit) => {
                let Some(draft) = editor.draft.as_mut() else {
                    continue;
                };
                let added = match &edit {
                    Edit::AddHost { name, .. } => Some(name.to_ascii_lowercase()),
                    Edit::RenameHost { to, .. } => Some(to.to_ascii_lowercase()),
                    _ => None,
                };
                let result = draft.apply(edit);
                changed |= result.is_ok();
                if result.is_ok()
                    && let Some(name) = added
                {
                    editor.fields.host = None;
                    editor.select_after_run = Some(name);
                }
                editor.status = Some(result.map_err(|e| e.0));
            }
            Request::Undo | Request::Redo => {
                let Some(draft) = editor.draft.as_mut() else {
                    continue;
                };
                let (done, what) = if request == Request::Undo {
                    (draft.undo(), "undid the last edit")
                } else {
                    (draft.redo(), "redid the edit")
                };
                changed |= done;
                editor.status = Some(if done {
                    Ok(what.to_string())
                } else {
                    Err("nothing to do".to_string())
                });
                editor.fields.host = None;
            }
            Request::Save => {
                let Some(draft) = editor.draft.as_ref() else {
                    continue;
                };
                let path = PathBuf::from(editor.save_path.trim());
                editor.status = Some(match draft.check() {
                    Err(e) => Err(format!("not saved: {}", e.message)),
                    Ok(_) => match std::fs::write(&path, draft.to_ron()) {
                        Ok(()) => Ok(format!("saved {}", path.display())),
                        Err(e) => Err(format!("cannot write {}: {e}", path.display())),
                    },
                });
            }
        }
    }
    if !changed {
        return;
    }
    let Some(draft) = editor.draft.as_ref() else {
        return;
    };
    match draft.check() {
        Ok(scenario) => {
            editor.problem = None;
            if scenario != loaded.base {
                loaded.base = scenario.clone();
                loaded.rerun(scenario);
                playback.keep_time(&loaded.outcome.trace);
            }
            let sc = &loaded.scenario;
            selected.0 = selected_name.and_then(|n| sc.host_by_name(&n));
            link.0 = link_names.and_then(|(a, b)| {
                let (a, b) = (sc.host_by_name(&a)?, sc.host_by_name(&b)?);
                Some((a.min(b), a.max(b)))
            });
            if let Some(name) = editor.select_after_run.take() {
                selected.0 = sc.host_by_name(&name);
                link.0 = None;
            }
        }
        Err(e) => {
            editor.problem = Some(match e.hint {
                Some(hint) => format!("{}\nhint: {hint}", e.message),
                None => e.message,
            });
        }
    }
}

const ROLES: [Role; 6] = [
    Role::Client,
    Role::Submission,
    Role::Mx,
    Role::Dns,
    Role::Pop3,
    Role::Imap,
];

/// Time-to-live choices for a zone's records, in words a student reads at a glance.
const TTLS: [(u32, &str); 5] = [
    (60, "1 minute"),
    (300, "5 minutes"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "1 week"),
];

fn ttl_words(ttl: u32) -> String {
    TTLS.iter()
        .find(|(t, _)| *t == ttl)
        .map(|(_, w)| w.to_string())
        .unwrap_or_else(|| format!("{ttl} s"))
}

const GOOD: Color32 = Color32::from_rgb(140, 220, 140);
const BAD: Color32 = Color32::from_rgb(255, 120, 120);

/// The editor's panel: history and saving, the selected host or link, a new host, and the
/// DNS records of one domain at a time.
fn editor_window(
    mut contexts: EguiContexts,
    loaded: Res<Loaded>,
    selected: Res<SelectedHost>,
    link: Res<SelectedLink>,
    mut editor: ResMut<Editor>,
) -> Result {
    if !editor.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let editor = &mut *editor;
    let Some(draft) = editor.draft.as_ref() else {
        return Ok(());
    };
    let file = draft.file();
    let fields = &mut editor.fields;
    let mut requests: Vec<Request> = Vec::new();
    let mut edits: Vec<Edit> = Vec::new();
    let mut open = true;
    egui::Window::new("Topology editor")
        .open(&mut open)
        // Over the message and transcript panel: while the network changes, the diagram matters.
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, super::panels::TOP + 8.0])
        .default_width(super::panels::RIGHT - 40.0)
        .max_height(900.0)
        .resizable(false)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(draft.can_undo(), egui::Button::new("undo"))
                    .on_hover_text("Ctrl+Z")
                    .clicked()
                {
                    requests.push(Request::Undo);
                }
                if ui
                    .add_enabled(draft.can_redo(), egui::Button::new("redo"))
                    .on_hover_text("Ctrl+Y")
                    .clicked()
                {
                    requests.push(Request::Redo);
                }
                ui.separator();
                ui.add(egui::TextEdit::singleline(&mut editor.save_path).desired_width(170.0));
                if ui.button("save").on_hover_text("Ctrl+S").clicked() {
                    requests.push(Request::Save);
                }
            });
            match &editor.status {
                Some(Ok(done)) => {
                    ui.label(RichText::new(done).color(GOOD));
                }
                Some(Err(why)) => {
                    ui.label(RichText::new(why).color(BAD));
                }
                None => {
                    ui.small(
                        "Click a host to edit it, drag it to move it. Every change runs at once.",
                    );
                }
            }
            if let Some(problem) = &editor.problem {
                ui.label(RichText::new(problem).color(BAD));
                ui.small("This version cannot run: the diagram shows the last one that could.");
            }
            if let Some(from) = &editor.linking_from {
                ui.label(
                    RichText::new(format!("Click the host to link {from} with (Esc to stop)."))
                        .color(Color32::YELLOW),
                );
            }
            ui.separator();

            // The selected host, found in the draft by name.
            let chosen = selected
                .0
                .and_then(|h| loaded.scenario.hosts.get(h))
                .and_then(|n| {
                    file.hosts
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(&n.name))
                });
            match chosen {
                Some(host) => {
                    if fields.host.as_deref() != Some(host.name.as_str()) {
                        fields.host = Some(host.name.clone());
                        fields.name.clone_from(&host.name);
                        fields.ip.clone_from(&host.ip);
                        // The records below follow the host's domain.
                        if let Some(d) = loaded.scenario.domain_of_name(&host.name) {
                            let domain = &loaded.scenario.domains[d].name;
                            fields.domain_name.clone_from(domain);
                            fields.new_domain.clone_from(domain);
                        }
                    }
                    ui.strong(&host.name);
                    let field =
                        |ui: &mut egui::Ui, label: &str, text: &mut String, button: &str| {
                            ui.horizontal(|ui| {
                                ui.add_sized([56.0, 18.0], egui::Label::new(label));
                                ui.add(egui::TextEdit::singleline(text).desired_width(230.0));
                                ui.button(button).clicked()
                            })
                            .inner
                        };
                    if field(ui, "name", &mut fields.name, "rename") {
                        edits.push(Edit::RenameHost {
                            host: host.name.clone(),
                            to: fields.name.clone(),
                        });
                    }
                    if field(ui, "address", &mut fields.ip, "set") {
                        edits.push(Edit::SetIp {
                            host: host.name.clone(),
                            ip: fields.ip.clone(),
                        });
                    }
                    ui.horizontal_wrapped(|ui| {
                        for role in ROLES {
                            let mut on = host.roles.contains(&role);
                            if ui.checkbox(&mut on, format!("{role:?}")).changed() {
                                let mut roles = host.roles.clone();
                                roles.retain(|r| *r != role);
                                if on {
                                    roles.push(role);
                                }
                                edits.push(Edit::SetRoles {
                                    host: host.name.clone(),
                                    roles,
                                });
                            }
                        }
                    });
                    ui.horizontal(|ui| {
                        if ui
                            .button("link to…")
                            .on_hover_text("then click the other host")
                            .clicked()
                        {
                            editor.linking_from = Some(host.name.clone());
                        }
                        if ui.button("remove host").clicked() {
                            edits.push(Edit::RemoveHost(host.name.clone()));
                        }
                    });
                }
                None => {
                    ui.weak("No host selected.");
                }
            }

            // The selected link: its own latency and loss, or the default link.
            let hosts = &loaded.scenario.hosts;
            if let Some((a, b)) = link
                .0
                .and_then(|(a, b)| Some((&hosts.get(a)?.name, &hosts.get(b)?.name)))
            {
                ui.separator();
                ui.strong(format!("{a} ↔ {b}"));
                let own = draft.link(a, b);
                match own {
                    Some(l) => {
                        let (mut low, mut high, mut loss) =
                            (l.latency_ms.0, l.latency_ms.1, l.loss * 100.0);
                        let mut changed = false;
                        ui.horizontal(|ui| {
                            ui.label("latency");
                            changed |= ui
                                .add(
                                    egui::DragValue::new(&mut low)
                                        .range(0..=10_000)
                                        .suffix(" ms"),
                                )
                                .changed();
                            ui.label("to");
                            changed |= ui
                                .add(
                                    egui::DragValue::new(&mut high)
                                        .range(0..=10_000)
                                        .suffix(" ms"),
                                )
                                .changed();
                        });
                        changed |= ui
                            .add(
                                egui::Slider::new(&mut loss, 0.0..=90.0)
                                    .text("% lost")
                                    .step_by(1.0),
                            )
                            .changed();
                        if changed {
                            edits.push(Edit::SetLink {
                                between: (a.clone(), b.clone()),
                                latency_ms: (low, high.max(low)),
                                loss: loss / 100.0,
                            });
                        }
                        if ui.button("remove this link").clicked() {
                            edits.push(Edit::RemoveLink(a.clone(), b.clone()));
                        }
                    }
                    None => {
                        let d = &file.default_link;
                        ui.label(format!(
                            "Uses the default link: {} to {} ms, {:.0}% lost.",
                            d.latency_ms.0,
                            d.latency_ms.1,
                            d.loss * 100.0
                        ));
                        if ui.button("give it a link of its own").clicked() {
                            edits.push(Edit::AddLink(a.clone(), b.clone()));
                        }
                    }
                }
            }

            ui.separator();
            egui::CollapsingHeader::new("Add a host")
                .default_open(true)
                .show(ui, |ui| {
                    if !file.domains.iter().any(|d| d.name == fields.new_domain) {
                        fields.new_domain = file
                            .domains
                            .first()
                            .map(|d| d.name.clone())
                            .unwrap_or_default();
                    }
                    ui.horizontal(|ui| {
                        ui.label("in");
                        egui::ComboBox::from_id_salt("new-host-domain")
                            .selected_text(&fields.new_domain)
                            .show_ui(ui, |ui| {
                                for d in &file.domains {
                                    ui.selectable_value(
                                        &mut fields.new_domain,
                                        d.name.clone(),
                                        &d.name,
                                    );
                                }
                            });
                    });
                    ui.horizontal_wrapped(|ui| {
                        for role in ROLES {
                            let mut on = fields.new_roles.contains(&role);
                            if ui.checkbox(&mut on, format!("{role:?}")).changed() {
                                fields.new_roles.retain(|r| *r != role);
                                if on {
                                    fields.new_roles.push(role);
                                }
                            }
                        }
                    });
                    let name = draft.fresh_host_name(&fields.new_domain);
                    let ip = draft.fresh_ip(&fields.new_domain);
                    if ui
                        .add_enabled(
                            !fields.new_roles.is_empty(),
                            egui::Button::new(format!("add {name}")),
                        )
                        .on_hover_text(format!("at {ip}; rename it once it is there"))
                        .clicked()
                    {
                        edits.push(Edit::AddHost {
                            name,
                            ip: ip.to_string(),
                            roles: fields.new_roles.clone(),
                            position: None,
                        });
                    }
                });

            egui::CollapsingHeader::new("Domains and DNS records")
                .default_open(true)
                .show(ui, |ui| {
                    dns_records(ui, file, fields, &mut edits);
                });
        });
    requests.extend(edits.into_iter().map(Request::Edit));
    if !open {
        requests.push(Request::Close);
    }
    editor.requests.extend(requests);
    Ok(())
}

/// One domain's records at a time: MX, A and CNAME records, the TTL and the DNS server; and a
/// new domain.
fn dns_records(
    ui: &mut egui::Ui,
    file: &crate::scenario::file::ScenarioFile,
    fields: &mut Fields,
    edits: &mut Vec<Edit>,
) {
    if !file.domains.iter().any(|d| d.name == fields.domain_name) {
        fields.domain_name = file
            .domains
            .first()
            .map(|d| d.name.clone())
            .unwrap_or_default();
    }
    egui::ComboBox::from_id_salt("dns-domain")
        .selected_text(&fields.domain_name)
        .show_ui(ui, |ui| {
            for d in &file.domains {
                ui.selectable_value(&mut fields.domain_name, d.name.clone(), &d.name);
            }
        });
    let Some(d) = file.domains.iter().find(|d| d.name == fields.domain_name) else {
        return;
    };
    let domain = d.name.clone();
    ui.horizontal(|ui| {
        ui.label("records live");
        egui::ComboBox::from_id_salt("dns-ttl")
            .selected_text(ttl_words(d.ttl))
            .show_ui(ui, |ui| {
                for (ttl, words) in TTLS {
                    if ui.selectable_label(d.ttl == ttl, words).clicked() && d.ttl != ttl {
                        edits.push(Edit::SetTtl {
                            domain: domain.clone(),
                            ttl,
                        });
                    }
                }
            });
        ui.label("in caches");
    });
    ui.horizontal(|ui| {
        ui.label("served by");
        let ns = d.ns.clone().unwrap_or_default();
        egui::ComboBox::from_id_salt("dns-ns")
            .selected_text(&ns)
            .show_ui(ui, |ui| {
                for h in file.hosts.iter().filter(|h| h.roles.contains(&Role::Dns)) {
                    if ui.selectable_label(h.name == ns, &h.name).clicked() && h.name != ns {
                        edits.push(Edit::SetNs {
                            domain: domain.clone(),
                            host: h.name.clone(),
                        });
                    }
                }
            });
    });
    let mut null_mx = d.null_mx;
    if ui
        .checkbox(&mut null_mx, "null MX: takes no mail (RFC 7505)")
        .changed()
    {
        edits.push(Edit::SetNullMx {
            domain: domain.clone(),
            on: null_mx,
        });
    }
    ui.strong("MX");
    for (i, (preference, exchange)) in d.mx.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.monospace(format!("{preference:>3} {exchange}"));
            if ui.small_button("✖").clicked() {
                let mut mx = d.mx.clone();
                mx.remove(i);
                edits.push(Edit::SetMx {
                    domain: domain.clone(),
                    mx,
                });
            }
        });
    }
    if d.mx.is_empty() && !d.null_mx {
        ui.weak("none: senders use the domain's A record (implicit MX)");
    }
    ui.horizontal(|ui| {
        ui.add(egui::DragValue::new(&mut fields.mx_preference).range(0..=65535));
        ui.add(
            egui::TextEdit::singleline(&mut fields.mx_exchange)
                .hint_text(format!("mx.{domain}"))
                .desired_width(150.0),
        );
        if ui.button("add MX").clicked() {
            let mut mx = d.mx.clone();
            mx.push((fields.mx_preference, fields.mx_exchange.trim().to_string()));
            edits.push(Edit::SetMx {
                domain: domain.clone(),
                mx,
            });
        }
    });
    ui.strong("A");
    ui.weak("Every host has the A record of its own name; these are extra or override it.");
    if let Some(owner) = record_rows(ui, &d.a, " ") {
        edits.push(Edit::SetA {
            domain: domain.clone(),
            owner,
            ip: None,
        });
    }
    let owner_hint = format!("www.{domain}");
    if add_row(
        ui,
        [&mut fields.a_owner, &mut fields.a_ip],
        [&owner_hint, "192.0.2.80"],
        "add A",
    ) {
        edits.push(Edit::SetA {
            domain: domain.clone(),
            owner: fields.a_owner.clone(),
            ip: Some(fields.a_ip.clone()),
        });
    }
    ui.strong("CNAME");
    if let Some(alias) = record_rows(ui, &d.cname, " → ") {
        edits.push(Edit::SetCname {
            domain: domain.clone(),
            alias,
            target: None,
        });
    }
    let fields_cname = [&mut fields.cname_alias, &mut fields.cname_target];
    if add_row(ui, fields_cname, ["alias", "canonical name"], "add CNAME") {
        edits.push(Edit::SetCname {
            domain: domain.clone(),
            alias: fields.cname_alias.clone(),
            target: Some(fields.cname_target.clone()),
        });
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut fields.new_domain_name)
                .hint_text("gamma.example")
                .desired_width(150.0),
        );
        let ns = file
            .hosts
            .iter()
            .find(|h| h.roles.contains(&Role::Dns))
            .map(|h| h.name.clone());
        if ui
            .add_enabled(ns.is_some(), egui::Button::new("add domain"))
            .on_hover_text("served by the first DNS host; change it above")
            .clicked()
            && let Some(ns) = ns
        {
            fields.domain_name = fields.new_domain_name.trim().to_ascii_lowercase();
            edits.push(Edit::AddDomain {
                name: fields.new_domain_name.clone(),
                ns,
            });
        }
    });
}

/// A domain's records of one type, one to a line with a button to remove it; returns the
/// owner whose record is to go.
fn record_rows(
    ui: &mut egui::Ui,
    records: &std::collections::BTreeMap<String, String>,
    between: &str,
) -> Option<String> {
    let mut remove = None;
    for (owner, value) in records {
        ui.horizontal(|ui| {
            ui.monospace(format!("{owner}{between}{value}"));
            if ui.small_button("✖").clicked() {
                remove = Some(owner.clone());
            }
        });
    }
    remove
}

/// Two fields and a button to add a record; true when the button was pressed.
fn add_row(ui: &mut egui::Ui, fields: [&mut String; 2], hints: [&str; 2], button: &str) -> bool {
    ui.horizontal(|ui| {
        for (field, hint) in fields.into_iter().zip(hints) {
            ui.add(
                egui::TextEdit::singleline(field)
                    .hint_text(hint)
                    .desired_width(125.0),
            );
        }
        ui.button(button).clicked()
    })
    .inner
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;

    /// The editor in an app with no window: requests go in through the resource.
    fn app() -> App {
        let scenario = crate::scenario::lesson_one();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<ButtonInput<MouseButton>>()
            .init_resource::<SelectedHost>()
            .init_resource::<SelectedLink>()
            .insert_resource(super::super::Margins::for_mode(false))
            .insert_resource(super::super::Presentation(false))
            .insert_resource(Loaded::new(crate::scenario::LESSON_ONE.into(), scenario))
            .add_plugins((
                super::super::playback::PlaybackPlugin,
                super::super::whatif::WhatIfPlugin,
                super::super::quiz::QuizPlugin { teacher: false },
                EditorPlugin,
            ));
        app.update();
        app
    }

    fn ask(app: &mut App, request: Request) {
        app.world_mut().resource_mut::<Editor>().request(request);
        app.update();
    }

    fn loaded(app: &App) -> &Loaded {
        app.world().resource::<Loaded>()
    }

    fn status(app: &App) -> Result<String, String> {
        app.world().resource::<Editor>().status.clone().unwrap()
    }

    #[test]
    fn an_added_backup_mx_runs_at_once_is_selected_and_undo_and_redo_follow() {
        let mut app = app();
        let original = format!("{:?}", loaded(&app).outcome.trace);
        ask(&mut app, Request::Open);
        assert!(app.world().resource::<Editor>().open);
        assert!(app.world().resource::<super::super::quiz::Quiz>().off);
        ask(
            &mut app,
            Request::Edit(Edit::AddHost {
                name: "mx2.beta.example".into(),
                ip: "203.0.113.26".into(),
                roles: vec![Role::Mx],
                position: None,
            }),
        );
        assert_eq!(status(&app), Ok("added mx2.beta.example".into()));
        let mx2 = loaded(&app)
            .scenario
            .host_by_name("mx2.beta.example")
            .unwrap();
        assert_eq!(app.world().resource::<SelectedHost>().0, Some(mx2));
        // The new host takes over beta.example's mail: the only MX, and the mailboxes.
        ask(
            &mut app,
            Request::Edit(Edit::SetMx {
                domain: "beta.example".into(),
                mx: vec![(20, "mx2.beta.example".into())],
            }),
        );
        ask(
            &mut app,
            Request::Edit(Edit::SetRoles {
                host: "mx2.beta.example".into(),
                roles: vec![Role::Mx, Role::Imap],
            }),
        );
        ask(
            &mut app,
            Request::Edit(Edit::SetRoles {
                host: "mx.beta.example".into(),
                roles: vec![Role::Mx],
            }),
        );
        let l = loaded(&app);
        assert_eq!(app.world().resource::<Editor>().problem, None);
        assert_eq!(l.base, l.scenario, "the edited network is the one on show");
        let relayed_to_mx2 = l.outcome.trace.events.iter().any(|e| {
            e.kind == crate::sim::EventKind::Delivered
                && e.from() == l.scenario.host_by_name("mx2.beta.example")
        });
        assert!(relayed_to_mx2, "Bob's mail now lands on mx2");
        // Undo four times: the file's run, byte for byte; redo once: the host is back.
        for _ in 0..4 {
            ask(&mut app, Request::Undo);
        }
        assert_eq!(format!("{:?}", loaded(&app).outcome.trace), original);
        assert_eq!(app.world().resource::<SelectedHost>().0, None);
        ask(&mut app, Request::Redo);
        assert!(
            loaded(&app)
                .scenario
                .host_by_name("mx2.beta.example")
                .is_some()
        );
    }

    /// Presses keys together for one frame, then lets them go.
    fn chord(app: &mut App, keys: &[KeyCode]) {
        let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        for &k in keys {
            input.press(k);
        }
        app.update();
        let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        for &k in keys {
            input.release(k);
        }
        input.clear();
        app.update();
    }

    #[test]
    fn e_opens_ctrl_z_undoes_ctrl_y_redoes_and_d_is_quiet_while_editing() {
        let mut app = app();
        chord(&mut app, &[KeyCode::KeyE]);
        assert!(app.world().resource::<Editor>().open);
        ask(
            &mut app,
            Request::Edit(Edit::MoveHost {
                host: "ns.example".into(),
                to: (7.0, 7.0),
            }),
        );
        let moved = |app: &App| {
            let l = loaded(app);
            l.scenario.hosts[l.scenario.host_by_name("ns.example").unwrap()].position
        };
        assert_eq!(moved(&app), Some((7.0, 7.0)));
        chord(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyZ]);
        assert_eq!(moved(&app), None);
        chord(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyY]);
        assert_eq!(moved(&app), Some((7.0, 7.0)));
        // What-if changes would sit on a network that is being changed: D does nothing.
        app.world_mut().resource_mut::<SelectedHost>().0 = Some(0);
        chord(&mut app, &[KeyCode::KeyD]);
        assert!(
            app.world()
                .resource::<super::super::whatif::WhatIf>()
                .changes
                .is_empty()
        );
        chord(&mut app, &[KeyCode::KeyE]);
        assert!(!app.world().resource::<Editor>().open);
    }

    #[test]
    fn a_file_loaded_while_editing_becomes_the_draft() {
        let mut app = app();
        ask(&mut app, Request::Open);
        ask(
            &mut app,
            Request::Edit(Edit::MoveHost {
                host: "ns.example".into(),
                to: (5.0, 5.0),
            }),
        );
        let other = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/02-mx-preference-and-backup.ron"
        );
        let scenario = load_file(Path::new(other)).unwrap();
        app.insert_resource(Loaded::new(other.into(), scenario.clone()));
        app.update();
        let editor = app.world().resource::<Editor>();
        assert_eq!(editor.draft.as_ref().unwrap().check().unwrap(), scenario);
        assert!(!editor.draft.as_ref().unwrap().can_undo());
        assert!(
            editor
                .save_path
                .ends_with("02-mx-preference-and-backup-edited.ron")
        );
        assert!(status(&app).unwrap().contains("was loaded"));
    }

    #[test]
    fn a_draft_that_cannot_run_says_why_keeps_the_last_run_and_is_not_saved() {
        let mut app = app();
        ask(&mut app, Request::Open);
        let before = format!("{:?}", loaded(&app).outcome.trace);
        ask(
            &mut app,
            Request::Edit(Edit::SetRoles {
                host: "mx.beta.example".into(),
                roles: vec![Role::Mx],
            }),
        );
        let problem = app.world().resource::<Editor>().problem.clone().unwrap();
        assert!(problem.contains("does not offer Imap"), "{problem}");
        assert_eq!(format!("{:?}", loaded(&app).outcome.trace), before);
        let dir = std::env::temp_dir().join(format!("mailsim-editor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("broken.ron");
        app.world_mut().resource_mut::<Editor>().save_path = out.display().to_string();
        ask(&mut app, Request::Save);
        assert!(status(&app).unwrap_err().starts_with("not saved"));
        assert!(!out.exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_saved_edit_is_a_file_that_loads_as_the_network_on_show() {
        let mut app = app();
        ask(&mut app, Request::Open);
        let suggested = app.world().resource::<Editor>().save_path.clone();
        assert!(
            suggested.ends_with("01-alice-writes-to-bob-edited.ron"),
            "{suggested}"
        );
        for edit in [
            Edit::AddLink("smtp.alpha.example".into(), "mx.beta.example".into()),
            Edit::SetLink {
                between: ("smtp.alpha.example".into(), "mx.beta.example".into()),
                latency_ms: (100, 150),
                loss: 0.0,
            },
            Edit::MoveHost {
                host: "ns.example".into(),
                to: (0.0, 300.0),
            },
        ] {
            ask(&mut app, Request::Edit(edit));
            assert!(status(&app).is_ok(), "{:?}", status(&app));
        }
        let dir = std::env::temp_dir().join(format!("mailsim-editor-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("edited.ron");
        app.world_mut().resource_mut::<Editor>().save_path = out.display().to_string();
        ask(&mut app, Request::Save);
        assert_eq!(status(&app), Ok(format!("saved {}", out.display())));
        let back = load_file(&out).unwrap();
        assert_eq!(back, loaded(&app).scenario);
        std::fs::remove_dir_all(&dir).ok();
    }
}
