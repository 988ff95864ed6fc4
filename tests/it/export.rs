//! `mailsim export`: transcripts, sequence diagrams and JSON lines are well formed and say what
//! the trace says, for every lesson.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailsim::export::{Kind, render, sequence, transcript};
use mailsim::scenario::{Scenario, load_file};
use mailsim::sim::{EventKind, Outcome, Protocol, Trace, run};

use super::lessons::lesson_files;
use super::mailsim;

fn lesson(n: usize) -> (Scenario, Outcome) {
    let scenario = load_file(&lesson_files()[n]).unwrap();
    let outcome = run(&scenario);
    (scenario, outcome)
}

fn every_lesson() -> impl Iterator<Item = (PathBuf, Scenario, Outcome)> {
    lesson_files().into_iter().map(|f| {
        let scenario = load_file(&f).unwrap();
        let outcome = run(&scenario);
        (f, scenario, outcome)
    })
}

fn is_protocol_line(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ClientLine | EventKind::ServerLine | EventKind::DnsQuery | EventKind::DnsAnswer
    )
}

fn protocol_lines(trace: &Trace) -> usize {
    trace
        .events
        .iter()
        .filter(|e| is_protocol_line(e.kind))
        .count()
}

// ----- SVG ---------------------------------------------------------------------------------

#[test]
fn svg_parses_as_xml_with_one_arrow_per_protocol_line() {
    for (file, scenario, outcome) in every_lesson() {
        let svg = sequence::svg(&scenario, &outcome.trace);
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{}: the SVG is not XML: {e}", file.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert_eq!(root.attribute("version"), Some("1.1"));
        let arrows: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g"))
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.starts_with("arrow "))
            })
            .collect();
        let lines: Vec<_> = outcome
            .trace
            .events
            .iter()
            .filter(|e| is_protocol_line(e.kind))
            .collect();
        assert_eq!(arrows.len(), lines.len(), "{}", file.display());
        // In trace order, each in its protocol's colour, its tooltip holding the whole text.
        for (arrow, ev) in arrows.iter().zip(&lines) {
            let protocol = ev.protocol.unwrap();
            let class = arrow.attribute("class").unwrap();
            assert!(
                class.contains(&protocol.name().to_ascii_lowercase()),
                "{class} for {protocol:?}"
            );
            let line = arrow.children().find(|n| n.has_tag_name("line")).unwrap();
            assert_eq!(line.attribute("stroke"), Some(colour(protocol)));
            let title = arrow.children().find(|n| n.has_tag_name("title")).unwrap();
            let text = outcome
                .trace
                .text(ev)
                .lines()
                .collect::<Vec<_>>()
                .join("\n");
            assert!(title.text().unwrap().starts_with(&text));
        }
    }
}

/// The window's colours (gui::diagram::palette), written out here so a change shows.
fn colour(p: Protocol) -> &'static str {
    match p {
        Protocol::Submission => "#D55E00",
        Protocol::Smtp => "#E69F00",
        Protocol::Dns => "#56B4E9",
        Protocol::Pop3 => "#009E73",
        Protocol::Imap => "#CC79A7",
    }
}

#[test]
fn svg_escapes_wire_text() {
    let (scenario, outcome) = lesson(0);
    let svg = sequence::svg(&scenario, &outcome.trace);
    assert!(svg.contains("MAIL FROM:&lt;alice@alpha.example&gt;"));
    assert!(!svg.contains("<alice@"));
}

// ----- Mermaid -----------------------------------------------------------------------------

/// The participant lines' (alias, name), and the arrow lines' (from, arrow, to, label).
#[allow(clippy::type_complexity)]
fn parse_mermaid(text: &str) -> (Vec<(String, String)>, Vec<(String, String, String, String)>) {
    let mut participants = Vec::new();
    let mut arrows = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("participant ") {
            let (alias, name) = rest.split_once(" as ").expect("participant ALIAS as NAME");
            participants.push((alias.to_string(), name.to_string()));
        } else if !line.starts_with("Note") && line.contains("->>") {
            let (ends, label) = line.split_once(": ").expect("A->>B: label");
            let arrow = if ends.contains("-->>") { "-->>" } else { "->>" };
            let (from, to) = ends.split_once(arrow).unwrap();
            arrows.push((from.into(), arrow.into(), to.into(), label.into()));
        }
    }
    (participants, arrows)
}

#[test]
fn mermaid_has_one_participant_per_host_and_one_arrow_per_protocol_line() {
    for (file, scenario, outcome) in every_lesson() {
        let text = sequence::mermaid(&scenario, &outcome.trace);
        assert!(text.contains("\nsequenceDiagram\n"), "{}", file.display());
        let (participants, arrows) = parse_mermaid(&text);
        let mut names: Vec<&str> = participants.iter().map(|(_, n)| n.as_str()).collect();
        names.sort();
        let mut hosts: Vec<&str> = scenario.hosts.iter().map(|h| h.name.as_str()).collect();
        hosts.sort();
        assert_eq!(names, hosts, "{}", file.display());
        for (alias, _) in &participants {
            assert!(
                alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{alias}"
            );
        }
        assert_eq!(
            arrows.len(),
            protocol_lines(&outcome.trace),
            "{}",
            file.display()
        );
        // Each arrow joins the event's hosts, requests solid and answers dashed.
        let alias_of = |h: Option<usize>| {
            let name = &scenario.hosts[h.unwrap()].name;
            participants
                .iter()
                .find(|(_, n)| n == name)
                .unwrap()
                .0
                .clone()
        };
        let lines = outcome
            .trace
            .events
            .iter()
            .filter(|e| is_protocol_line(e.kind));
        for ((from, arrow, to, label), ev) in arrows.iter().zip(lines) {
            assert_eq!(from, &alias_of(ev.from()));
            assert_eq!(to, &alias_of(ev.to()));
            let reply = matches!(ev.kind, EventKind::ServerLine | EventKind::DnsAnswer);
            assert_eq!(arrow, if reply { "-->>" } else { "->>" });
            // Nothing Mermaid reads as syntax is left in a label, only entity codes.
            let mut plain = label.clone();
            while let Some(start) = plain.find('#') {
                let end = plain[start..].find(';').expect("an entity code") + start;
                assert!(plain[start + 1..end].chars().all(|c| c.is_ascii_digit()));
                plain.replace_range(start..=end, "");
            }
            assert!(!plain.contains([';', '<', '>']), "{label}");
        }
    }
}

#[test]
fn mermaid_labels_a_multiline_reply_with_its_first_line() {
    let (scenario, outcome) = lesson(0);
    let text = sequence::mermaid(&scenario, &outcome.trace);
    assert!(text.contains(
        "smtp_alpha_example-->>laptop_alpha_example: 250-smtp.alpha.example greets laptop.alpha.…"
    ));
    assert!(text.contains("MAIL FROM:#60;alice@alpha.example#62; SIZE=203"));
    assert!(
        text.contains("Note over mx_beta_example: puts the message into bob@beta.example's INBOX")
    );
}

// ----- transcripts -------------------------------------------------------------------------

/// Asserts that the lines appear in this order (each the start of a later line).
fn assert_in_order(text: &str, expected: &[&str]) {
    let mut lines = text.lines();
    for want in expected {
        assert!(
            lines.any(|l| l.get(13..).is_some_and(|l| l.starts_with(want))),
            "{want:?} is missing or out of order in\n{text}"
        );
    }
}

#[test]
fn transcript_shows_lesson_1_smtp_dialogue_with_swaks_arrows_in_order() {
    let (scenario, outcome) = lesson(0);
    for style in [transcript::Style::Text, transcript::Style::Markdown] {
        let text = transcript::transcript(&scenario, &outcome, style);
        let arrow = if style == transcript::Style::Text {
            "->"
        } else {
            "→"
        };
        let heading = format!("smtp.alpha.example {arrow} mx.beta.example: SMTP, port 25");
        let relay = &text[text.find(&heading).expect("the relay's heading")..];
        assert_in_order(
            relay,
            &[
                "=== smtp.alpha.example connects to mx.beta.example port 25",
                "<-  220 mx.beta.example ESMTP",
                " -> EHLO smtp.alpha.example",
                "<-  250-mx.beta.example greets smtp.alpha.example",
                "<-  250 HELP",
                " -> MAIL FROM:<alice@alpha.example>",
                "<-  250 2.1.0 Ok",
                " -> RCPT TO:<bob@beta.example>",
                "<-  250 2.1.5 Ok",
                " -> DATA",
                "<-  354 ",
                " -> Received: from laptop.alpha.example",
                " -> Subject: Lunch on Friday?",
                " -> .",
                "<-  250 2.0.0 Ok: queued as",
                " -> QUIT",
                "<-  221 ",
            ],
        );
        // The submission before it, with AUTH, and DNS compactly.
        assert!(text.contains(&format!(
            "laptop.alpha.example {arrow} smtp.alpha.example: submission, port 587"
        )));
        assert!(text.contains(" -> AUTH PLAIN "));
        assert!(text.contains("smtp.alpha.example asks ns.example: DNS, UDP port 53"));
        assert_in_order(
            &text,
            &[
                " ?? MX beta.example",
                "<-  beta.example. 3600 IN MX 10 mx.beta.example.",
            ],
        );
    }
}

#[test]
fn transcript_marks_refusals_as_swaks_does() {
    let (scenario, outcome) = lesson(5);
    let text = transcript::transcript(&scenario, &outcome, transcript::Style::Text);
    let refusal = text
        .lines()
        .find(|l| l.contains("<** 550"))
        .expect("the unknown user is refused");
    assert!(refusal.contains("User unknown"), "{refusal}");
    // The bounce note (lesson 6 words it with the teacher's caption).
    assert!(
        text.contains("=== smtp.alpha.example accepted the message, so it must tell the sender")
    );
}

#[test]
fn markdown_transcript_has_headings_and_fenced_dialogues() {
    let (scenario, outcome) = lesson(0);
    let md = transcript::transcript(&scenario, &outcome, transcript::Style::Markdown);
    assert!(md.starts_with("# 1. Alice writes to Bob\n"));
    let fences = md.lines().filter(|l| l.starts_with("```")).count();
    let headings = md.lines().filter(|l| l.starts_with("## ")).count();
    assert_eq!(fences % 2, 0);
    // Each connection's heading opens a fenced block; the expectations have none.
    assert_eq!(fences / 2 + 1, headings);
    assert!(md.contains("- **ok** m1 is delivered to bob@beta.example's INBOX"));
}

#[test]
fn lesson_1_markdown_transcript() {
    let (scenario, outcome) = lesson(0);
    insta::assert_snapshot!(transcript::transcript(
        &scenario,
        &outcome,
        transcript::Style::Markdown
    ));
}

#[test]
fn trace_export_is_run_format_jsonl() {
    let (scenario, outcome) = lesson(0);
    assert_eq!(
        render(Kind::TraceJsonl, &scenario, &outcome),
        mailsim::sim::render::render_jsonl(&scenario, &outcome.trace)
    );
}

// ----- the command -------------------------------------------------------------------------

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn export_command_writes_every_file_and_exits_0() {
    let dir = scratch("all");
    let lesson = lesson_files()[0].clone();
    let out = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (md, txt, mmd, svg, jsonl) = (
        out("l1.md"),
        out("l1.txt"),
        out("l1.mmd"),
        out("l1.svg"),
        out("l1.jsonl"),
    );
    let o = mailsim(&[
        "export",
        lesson.to_str().unwrap(),
        "--transcript",
        "md",
        &md,
        "--transcript",
        "txt",
        &txt,
        "--sequence",
        "mermaid",
        &mmd,
        "--sequence",
        "svg",
        &svg,
        "--trace",
        "jsonl",
        &jsonl,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    assert!(read(&md).starts_with("# 1. Alice writes to Bob"));
    assert!(read(&txt).contains(" -> EHLO laptop.alpha.example"));
    assert!(read(&mmd).contains("sequenceDiagram"));
    roxmltree::Document::parse(&read(&svg)).unwrap();
    let run = mailsim(&["run", lesson.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(read(&jsonl).as_bytes(), run.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
}

#[test]
fn export_to_standard_output_with_a_seed() {
    let lesson = lesson_files()[0].clone();
    let o = mailsim(&[
        "export",
        lesson.to_str().unwrap(),
        "--seed",
        "7",
        "--sequence",
        "mermaid",
        "-",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("---\ntitle: \"1. Alice writes to Bob\"\n---\n"));
    assert!(text.contains("seed 7"));
}

#[test]
fn export_of_a_bad_file_exits_2() {
    let dir = scratch("bad");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, "(title: \"t\", domains: [oops])").unwrap();
    let o = mailsim(&["export", bad.to_str().unwrap(), "--transcript", "md", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.ron:1:"));
    assert!(o.stdout.is_empty());
}

#[test]
fn export_without_outputs_or_with_an_unknown_format_exits_2() {
    let lesson = lesson_files()[0].clone();
    let o = mailsim(&["export", lesson.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to export"));
    let o = mailsim(&[
        "export",
        lesson.to_str().unwrap(),
        "--sequence",
        "png",
        "x.png",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mermaid or svg"));
}

#[test]
fn export_to_an_unwritable_path_exits_1_and_says_why() {
    let dir = scratch("unwritable");
    let missing = dir.join("no-such-dir").join("l1.svg");
    let good = dir.join("l1.md");
    let lesson = lesson_files()[0].clone();
    let o = mailsim(&[
        "export",
        lesson.to_str().unwrap(),
        "--sequence",
        "svg",
        missing.to_str().unwrap(),
        "--transcript",
        "md",
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("cannot write the sequence diagram (SVG) to"),
        "{stderr}"
    );
    // The other outputs are still written.
    assert!(good.exists());
}

#[test]
fn the_teachers_captions_appear_in_every_export() {
    let (scenario, outcome) = lesson(0);
    let said = "has the message but not the way to Bob";
    let txt = transcript::transcript(&scenario, &outcome, transcript::Style::Text);
    // Right after the DNS question it is pinned to.
    let at = txt.find(" ?? MX beta.example").unwrap();
    let next = txt[at..].lines().nth(1).unwrap();
    assert!(
        next.trim_start().starts_with("--  smtp.alpha.example"),
        "{next}"
    );
    assert!(next.contains(said));
    // A caption pinned to an event off the wire replaces the automatic words.
    assert!(txt.contains("=== The message is in Bob's mailbox."));

    let mermaid = sequence::mermaid(&scenario, &outcome.trace);
    let note = mermaid.lines().find(|l| l.contains(said)).unwrap();
    assert!(
        note.trim_start()
            .starts_with("Note over smtp_alpha_example,ns_example: ")
    );
    assert!(note.contains("<br/>"), "a long caption is wrapped: {note}");

    let svg = sequence::svg(&scenario, &outcome.trace);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let teacher: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("note teacher"))
        .collect();
    assert_eq!(teacher.len(), 2);
    let text: String = teacher[0]
        .children()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains(said), "{text}");
}

#[test]
fn a_transcript_piped_into_a_reader_that_stops_early_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // Lesson 1 with fifty more messages: a transcript longer than a pipe holds (64 KiB).
    let text = std::fs::read_to_string(&lesson_files()[0]).unwrap();
    let more: String = (1..=50)
        .map(|i| {
            format!(
                "Send(at: \"{i}m\", from: \"alice@alpha.example\", to: [\"bob@beta.example\"], id: \"more{i}\"),\n"
            )
        })
        .collect();
    let file = scratch("pipe").join("long.ron");
    let long = text.replacen(
        "    ],\n    expect:",
        &format!("{more}    ],\n    expect:"),
        1,
    );
    assert_ne!(long, text);
    std::fs::write(&file, long).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .arg("run")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mailsim runs");
    // Read the title, then hang up, as `head -1` does.
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
