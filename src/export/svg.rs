//! The sequence diagram drawn as a standalone SVG 1.1 document, by hand: a column of virtual
//! times on the left, a lifeline per host, one row per arrow or note. Arrows take the window's
//! protocol colours (Okabe and Ito's palette, as in `gui::diagram::palette`); colour is never
//! the only cue: replies are dashed, DNS arrows have open heads, every row names its protocol
//! in the time column, and each arrow's tooltip holds the whole text and its caption.

use std::fmt::Write as _;

use super::sequence::{Diagram, Item, Tone};
use super::span;
use crate::scenario::Scenario;
use crate::sim::render::caption_of;
use crate::sim::{Protocol, Trace, format_time};

/// The window's protocol colours (`gui::diagram::palette`), as hex.
pub fn protocol_colour(p: Protocol) -> &'static str {
    match p {
        Protocol::Submission => "#D55E00",
        Protocol::Smtp => "#E69F00",
        Protocol::Dns => "#56B4E9",
        Protocol::Pop3 => "#009E73",
        Protocol::Imap => "#CC79A7",
    }
}

fn tone_fill(t: Tone) -> &'static str {
    match t {
        Tone::Trouble => "#F9DCD4",
        Tone::Success => "#D8EFE4",
        Tone::Plain => "#F3F0DC",
        Tone::Teacher => "#E6E1F5",
    }
}

const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const SANS: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";
/// Width of one character of the 11 px monospace labels.
const CHAR_W: f64 = 6.7;
const ROW_H: f64 = 24.0;
const GAP_H: f64 = 30.0;
/// One line of a note of several.
const LINE_H: f64 = 14.0;
const TIME_W: f64 = 190.0;
const MARGIN: f64 = 16.0;
const BOX_H: f64 = 40.0;
const HEADER_H: f64 = 96.0;
/// The legend's width: the diagram is never narrower.
const LEGEND_W: f64 = 720.0;
const INK: &str = "#1F2430";
const MUTED: &str = "#6B7280";

/// Text for XML: markup characters as entities, characters XML 1.0 forbids replaced.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// How wide monospace text of `chars` characters is.
fn text_w(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// Draws the diagram.
pub fn draw(scenario: &Scenario, trace: &Trace, d: &Diagram) -> String {
    let longest_name = d
        .participants
        .iter()
        .map(|p| p.name.chars().count().max(p.roles.chars().count()))
        .max()
        .unwrap_or(0);
    let col_w = (longest_name as f64 * 7.4 + 28.0).max(170.0);
    let n = d.participants.len().max(1);
    let x_of = |c: usize| MARGIN + TIME_W + col_w * (c as f64 + 0.5);
    let width = (MARGIN * 2.0 + TIME_W + col_w * n as f64).max(LEGEND_W);
    let body_h: f64 = d.rows.iter().map(|r| row_height(&r.item)).sum();
    let captions = crate::lesson::pin(scenario, trace).captions;
    let top = HEADER_H + BOX_H + 12.0;
    let height = top + body_h + 12.0 + BOX_H + MARGIN;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#
    );
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">"#
    );
    let _ = writeln!(s, "<title>{}</title>", xml_escape(&d.title));
    if !scenario.description.is_empty() {
        let _ = writeln!(
            s,
            "<desc>{}</desc>",
            xml_escape(scenario.description.trim())
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#FFFFFF"/>"##
    );
    header(&mut s, scenario, d, width);

    // Domains as shaded bands behind their hosts' lifelines.
    let mut c = 0;
    while c < d.participants.len() {
        let domain = &d.participants[c].domain;
        let end = (c..d.participants.len())
            .find(|&e| &d.participants[e].domain != domain)
            .unwrap_or(d.participants.len());
        if let Some(name) = domain {
            let x = x_of(c) - col_w / 2.0 + 4.0;
            let w = col_w * (end - c) as f64 - 8.0;
            let _ = writeln!(
                s,
                r##"<rect class="domain" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="8" fill="#EEF1F6"/>"##,
                HEADER_H - 16.0,
                height - HEADER_H + 16.0 - MARGIN / 2.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-family="{SANS}" font-size="11" fill="{MUTED}">{}</text>"#,
                x + 8.0,
                HEADER_H - 4.0,
                xml_escape(name)
            );
        }
        c = end;
    }

    // Lifelines and the hosts' boxes, above and below.
    for (i, p) in d.participants.iter().enumerate() {
        let x = x_of(i);
        let _ = writeln!(
            s,
            r##"<line class="lifeline" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#9AA3B2" stroke-width="1" stroke-dasharray="2,3"/>"##,
            HEADER_H + BOX_H,
            height - MARGIN - BOX_H
        );
        for y in [HEADER_H, height - MARGIN - BOX_H] {
            host_box(&mut s, x, y, col_w - 24.0, &p.name, &p.roles);
        }
    }

    let mut y = top;
    let mut last_time = None;
    for row in &d.rows {
        let h = row_height(&row.item);
        let mid = y + h / 2.0;
        match &row.item {
            Item::Gap { ms } => {
                let _ = writeln!(
                    s,
                    r##"<g class="gap"><line x1="{MARGIN}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="#C5CBD6" stroke-width="1" stroke-dasharray="6,4"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-family="{SANS}" font-size="11" font-style="italic" fill="{MUTED}">… {} later …</text></g>"##,
                    width - MARGIN,
                    width / 2.0,
                    mid - 4.0,
                    span(*ms)
                );
            }
            Item::Arrow {
                from,
                to,
                protocol,
                reply,
                label,
            } => {
                let event = row.event.expect("an arrow shows an event");
                time_cell(&mut s, mid, row.t_ms, &mut last_time, protocol.name());
                let ev = &trace.events[event];
                // Wire lines end in CRLF; XML would read CR LF as LF anyway.
                let text = trace.text(ev).lines().collect::<Vec<_>>().join("\n");
                let caption = caption_of(scenario, trace, event, &captions);
                let tooltip = format!("{text}\n\n{caption}");
                arrow(
                    &mut s,
                    (x_of(*from), x_of(*to)),
                    mid + 5.0,
                    *protocol,
                    *reply,
                    label,
                    &tooltip,
                );
            }
            Item::Note {
                first,
                last,
                text,
                tone,
            } => {
                let teacher = *tone == Tone::Teacher;
                // The teacher's note belongs to the row above: no time of its own.
                if !teacher {
                    time_cell(&mut s, mid, row.t_ms, &mut last_time, "");
                }
                let event = row.event.expect("a note shows an event");
                let (x1, x2) = (x_of(*first), x_of(*last));
                let widest = text.lines().map(text_w).fold(0.0, f64::max);
                let w = (widest + 16.0).max(x2 - x1 + 40.0);
                let right = (width - MARGIN - w).max(MARGIN + TIME_W);
                let x = ((x1 + x2) / 2.0 - w / 2.0).clamp(MARGIN + TIME_W, right);
                let (class, title) = if teacher {
                    ("note teacher", "the teacher's caption".to_string())
                } else {
                    ("note", caption_of(scenario, trace, event, &captions))
                };
                let _ = write!(
                    s,
                    r##"<g class="{class}"><title>{}</title><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="3" fill="{}" stroke="#B8BFCC" stroke-width="0.8"/>"##,
                    xml_escape(&title),
                    y + 3.0,
                    h - 6.0,
                    tone_fill(*tone),
                );
                let style = if teacher {
                    r#" font-style="italic""#
                } else {
                    ""
                };
                for (n, line) in text.lines().enumerate() {
                    let _ = write!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-family="{MONO}" font-size="11"{style} fill="{INK}">{}</text>"#,
                        x + w / 2.0,
                        y + 16.0 + n as f64 * LINE_H,
                        xml_escape(line)
                    );
                }
                s.push_str("</g>\n");
            }
        }
        y += h;
    }
    s.push_str("</svg>\n");
    s
}

/// How tall a row is: a note grows with its lines.
fn row_height(item: &Item) -> f64 {
    match item {
        Item::Gap { .. } => GAP_H,
        Item::Note { text, .. } => ROW_H.max(text.lines().count() as f64 * LINE_H + 10.0),
        Item::Arrow { .. } => ROW_H,
    }
}

/// The title, the seed and a legend of colours and line styles.
fn header(s: &mut String, scenario: &Scenario, d: &Diagram, width: f64) {
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="26" font-family="{SANS}" font-size="18" font-weight="bold" fill="{INK}">{}</text>"#,
        xml_escape(&d.title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="26" text-anchor="end" font-family="{SANS}" font-size="11" fill="{MUTED}">mailsim, seed {}; virtual time on the left</text>"#,
        width - MARGIN,
        scenario.seed
    );
    let mut x = MARGIN;
    let y = 50.0;
    let _ = write!(s, r#"<g class="legend">"#);
    for p in Protocol::ALL {
        let colour = protocol_colour(p);
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{y:.1}" font-family="{SANS}" font-size="11" fill="{INK}">{} ({})</text>"#,
            y - 4.0,
            x + 22.0,
            y - 4.0,
            x + 27.0,
            p.name(),
            p.port()
        );
        x += 27.0 + text_w(p.name()) + 70.0;
    }
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{:.1}" font-family="{SANS}" font-size="11" fill="{MUTED}">solid: what the client sends or asks; dashed: the server's answer; open head: DNS over UDP; shaded: a domain</text></g>"#,
        y + 16.0
    );
}

/// A host's box on its lifeline.
fn host_box(s: &mut String, x: f64, y: f64, w: f64, name: &str, roles: &str) {
    let _ = writeln!(
        s,
        r##"<g class="host"><rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="{BOX_H}" rx="5" fill="#FFFFFF" stroke="#4B5565" stroke-width="1.2"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-family="{MONO}" font-size="12" font-weight="bold" fill="{INK}">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-family="{SANS}" font-size="10" fill="{MUTED}">{}</text></g>"##,
        x - w / 2.0,
        y + 17.0,
        xml_escape(name),
        y + 32.0,
        xml_escape(roles)
    );
}

/// The time of a row (left out when the row above has the same) and its protocol.
fn time_cell(s: &mut String, mid: f64, t_ms: u64, last: &mut Option<u64>, protocol: &str) {
    let time = if *last == Some(t_ms) {
        String::new()
    } else {
        format_time(t_ms)
    };
    *last = Some(t_ms);
    let _ = writeln!(
        s,
        r#"<text class="time" x="{MARGIN}" y="{:.1}" font-family="{MONO}" font-size="11" fill="{MUTED}">{time}</text><text x="{:.1}" y="{:.1}" font-family="{SANS}" font-size="10" fill="{MUTED}">{protocol}</text>"#,
        mid + 4.0,
        MARGIN + 100.0,
        mid + 4.0
    );
}

/// One protocol line: a coloured arrow with its label above it.
fn arrow(
    s: &mut String,
    (x1, x2): (f64, f64),
    y: f64,
    protocol: Protocol,
    reply: bool,
    label: &str,
    tooltip: &str,
) {
    let colour = protocol_colour(protocol);
    let dir = if x2 >= x1 { 1.0 } else { -1.0 };
    let dash = if reply {
        r#" stroke-dasharray="6,4""#
    } else {
        ""
    };
    let kind = if reply { "reply" } else { "request" };
    let _ = write!(
        s,
        r#"<g class="arrow {} {kind}"><title>{}</title>"#,
        protocol.name().to_ascii_lowercase(),
        xml_escape(tooltip)
    );
    let _ = write!(
        s,
        r#"<line x1="{x1:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"{dash}/>"#,
        x2 - dir * 2.0
    );
    // DNS travels as UDP datagrams: an open head; TCP lines a filled one.
    let head = format!(
        "{:.1},{:.1} {x2:.1},{y:.1} {:.1},{:.1}",
        x2 - dir * 9.0,
        y - 4.5,
        x2 - dir * 9.0,
        y + 4.5
    );
    if protocol == Protocol::Dns {
        let _ = write!(
            s,
            r#"<polyline points="{head}" fill="none" stroke="{colour}" stroke-width="2"/>"#
        );
    } else {
        let _ = write!(s, r#"<polygon points="{head}" fill="{colour}"/>"#);
    }
    let lx = (x1 + x2) / 2.0;
    let lw = text_w(label) + 8.0;
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{lw:.1}" height="13" fill="#FFFFFF" fill-opacity="0.85"/><text x="{lx:.1}" y="{:.1}" text-anchor="middle" font-family="{MONO}" font-size="11" fill="{INK}">{}</text></g>"##,
        lx - lw / 2.0,
        y - 16.0,
        y - 6.0,
        xml_escape(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_cleaned() {
        assert_eq!(
            xml_escape("MAIL FROM:<a&b> \"x\" 'y'\u{1}"),
            "MAIL FROM:&lt;a&amp;b&gt; &quot;x&quot; &apos;y&apos;\u{FFFD}"
        );
    }
}
