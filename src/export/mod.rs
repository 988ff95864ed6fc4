//! Exports of a run for handouts and slides: `mailsim export FILE` writes the delivery as a
//! swaks-style transcript ([`transcript`]), as a sequence diagram of all hosts in Mermaid or
//! SVG ([`sequence`]), or as the JSON lines of `mailsim run --format jsonl`.
//!
//! Everything here reads the [`Trace`](crate::sim::Trace) of a finished run; nothing runs the
//! simulation differently. The functions return strings, so the window can offer the same
//! exports from a menu.

pub mod sequence;
mod svg;
pub mod transcript;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::proto::dns::{DnsMessage, Rcode, Record};
use crate::scenario::Scenario;
use crate::sim::{Outcome, Payload, Trace, TraceEvent, render};

/// `mailsim export FILE`: each output is a format and a path (`-` for standard output).
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    pub file: PathBuf,
    /// Use this seed instead of the file's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The delivery as a transcript with swaks-style arrows: `md` (Markdown) or `txt`.
    #[arg(long, num_args = 2, value_names = ["md|txt", "OUT"], action = clap::ArgAction::Append)]
    pub transcript: Vec<String>,
    /// A sequence diagram of all hosts: `mermaid` (text) or `svg` (a picture).
    #[arg(long, num_args = 2, value_names = ["mermaid|svg", "OUT"], action = clap::ArgAction::Append)]
    pub sequence: Vec<String>,
    /// The trace as JSON lines, as `mailsim run --format jsonl` prints it.
    #[arg(long, num_args = 2, value_names = ["jsonl", "OUT"], action = clap::ArgAction::Append)]
    pub trace: Vec<String>,
    /// A PNG of the window per step (`frame-0000.png`, ...), as `mailsim shot` renders one.
    #[cfg(feature = "gui")]
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,
    /// An animated GIF of the whole delivery, for slides.
    #[cfg(feature = "gui")]
    #[arg(long, value_name = "OUT")]
    pub gif: Option<PathBuf>,
    /// With --frames or --gif: a picture every N events (and always the last).
    #[cfg(feature = "gui")]
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// With --frames or --gif: the window size, WIDTHxHEIGHT.
    #[cfg(feature = "gui")]
    #[arg(long, default_value = "1280x720", value_parser = crate::cli::parse_size)]
    pub size: (u32, u32),
}

impl ExportArgs {
    /// Whether pictures of the window are asked for (they need the `gui` feature).
    fn wants_pictures(&self) -> bool {
        #[cfg(feature = "gui")]
        return self.frames.is_some() || self.gif.is_some();
        #[cfg(not(feature = "gui"))]
        false
    }
}

/// One thing to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The transcript in Markdown, for GitHub and handouts.
    TranscriptMarkdown,
    /// The transcript as plain text.
    TranscriptText,
    /// A Mermaid `sequenceDiagram`.
    SequenceMermaid,
    /// A standalone SVG 1.1 sequence diagram.
    SequenceSvg,
    /// JSON lines, one object per trace event.
    TraceJsonl,
}

impl Kind {
    /// The kind an option and its format word name, or a message listing the right words.
    pub fn parse(option: &str, format: &str) -> Result<Kind, String> {
        let kind = match (option, format) {
            ("transcript", "md" | "markdown") => Kind::TranscriptMarkdown,
            ("transcript", "txt" | "text") => Kind::TranscriptText,
            ("sequence", "mermaid" | "mmd") => Kind::SequenceMermaid,
            ("sequence", "svg") => Kind::SequenceSvg,
            ("trace", "jsonl") => Kind::TraceJsonl,
            _ => {
                let known = match option {
                    "transcript" => "md or txt",
                    "sequence" => "mermaid or svg",
                    _ => "jsonl",
                };
                return Err(format!(
                    "--{option} {format:?}: the format is one of {known}, then the output path, e.g. --{option} {} out",
                    known.split(' ').next().unwrap_or("")
                ));
            }
        };
        Ok(kind)
    }

    /// What it is, in words, for the messages of `mailsim export`.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::TranscriptMarkdown => "transcript (Markdown)",
            Kind::TranscriptText => "transcript (text)",
            Kind::SequenceMermaid => "sequence diagram (Mermaid)",
            Kind::SequenceSvg => "sequence diagram (SVG)",
            Kind::TraceJsonl => "trace (JSON lines)",
        }
    }
}

/// Renders one export of a finished run.
pub fn render(kind: Kind, scenario: &Scenario, outcome: &Outcome) -> String {
    match kind {
        Kind::TranscriptMarkdown => {
            transcript::transcript(scenario, outcome, transcript::Style::Markdown)
        }
        Kind::TranscriptText => transcript::transcript(scenario, outcome, transcript::Style::Text),
        Kind::SequenceMermaid => sequence::mermaid(scenario, &outcome.trace),
        Kind::SequenceSvg => sequence::svg(scenario, &outcome.trace),
        Kind::TraceJsonl => render::render_jsonl(scenario, &outcome.trace),
    }
}

/// The outputs the command line asks for, in the order transcript, sequence, trace.
pub fn requests(args: &ExportArgs) -> Result<Vec<(Kind, PathBuf)>, String> {
    let mut out = Vec::new();
    for (option, values) in [
        ("transcript", &args.transcript),
        ("sequence", &args.sequence),
        ("trace", &args.trace),
    ] {
        for pair in values.chunks(2) {
            let [format, path] = pair else {
                return Err(format!("--{option} needs a format and an output path"));
            };
            out.push((Kind::parse(option, format)?, PathBuf::from(path)));
        }
    }
    if out.is_empty() && !args.wants_pictures() {
        return Err(
            "nothing to export: give --transcript md|txt OUT, --sequence mermaid|svg OUT or --trace jsonl OUT (OUT may be - for standard output)"
                .into(),
        );
    }
    Ok(out)
}

/// `mailsim export`: 0 when every output is written, 2 for a bad file or bad options, 1 when an
/// output cannot be written.
pub fn main(args: ExportArgs) -> ExitCode {
    let wanted = match requests(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match crate::cli::load(&args.file, args.seed) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let outcome = crate::sim::run(&scenario);
    #[cfg(feature = "gui")]
    let pictures = args
        .wants_pictures()
        .then(|| (scenario.clone(), args.file.clone()));
    let mut failed = false;
    for (kind, path) in wanted {
        let text = render(kind, &scenario, &outcome);
        match write_output(&path, &text) {
            Ok(()) if path == Path::new("-") => {}
            Ok(()) => eprintln!("wrote {} to {}", kind.describe(), path.display()),
            Err(e) => {
                eprintln!(
                    "error: cannot write the {} to {}: {e}",
                    kind.describe(),
                    path.display()
                );
                failed = true;
            }
        }
    }
    #[cfg(feature = "gui")]
    if let Some((scenario, file)) = pictures {
        let code =
            crate::gui::export_frames(scenario, file, args.frames, args.gif, args.every, args.size);
        if code != ExitCode::SUCCESS {
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes to the file, or to standard output for `-`.
fn write_output(path: &Path, text: &str) -> std::io::Result<()> {
    if path == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    } else {
        std::fs::write(path, text)
    }
}

// ----- helpers shared by the exports ----------------------------------------------------------

/// At most `max` characters: longer text is cut and ends in `…`.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// The DNS message an event carries, if it is one.
pub(crate) fn dns_message(trace: &Trace, ev: &TraceEvent) -> Option<DnsMessage> {
    match trace.payload(ev) {
        Payload::Dns(bytes) => DnsMessage::decode(bytes).ok(),
        Payload::Text(_) => None,
    }
}

/// A name as people write it: the root is `.`.
fn plain_name(name: &str) -> &str {
    if name.is_empty() { "." } else { name }
}

/// The questions of a DNS message, compactly: `MX beta.example`.
pub(crate) fn dns_questions(m: &DnsMessage) -> String {
    let q: Vec<String> = m
        .questions
        .iter()
        .map(|q| format!("{} {}", q.qtype, plain_name(&q.name)))
        .collect();
    q.join(", ")
}

/// A record without its owner and TTL: `MX 10 mx.beta.example`.
pub(crate) fn record_data(r: &Record) -> String {
    // The zone-file form is `name. ttl IN TYPE data`: keep TYPE and data.
    let full = r.to_string();
    let data = full.splitn(4, ' ').nth(3).unwrap_or(&full);
    data.strip_suffix('.')
        .filter(|d| !d.ends_with(' '))
        .unwrap_or(data)
        .to_string()
}

/// A DNS answer in a few words: the status, or the first answer record and how many more.
pub(crate) fn dns_answer_summary(m: &DnsMessage) -> String {
    if m.rcode != Rcode::NoError {
        return m.rcode.to_string();
    }
    match m.answers.split_first() {
        None => {
            let qtype = m.questions.first().map(|q| q.qtype.to_string());
            format!("no {} records (NODATA)", qtype.unwrap_or_default())
        }
        Some((first, [])) => record_data(first),
        Some((first, rest)) => format!("{} (+{} more)", record_data(first), rest.len()),
    }
}

/// A stretch of virtual time in words: `35 s`, `1 min 59 s`, `4 h 10 min`, `2 d 3 h`.
pub(crate) fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 if (s / 60).is_multiple_of(60) => format!("{} h", s / 3600),
        3600..86_400 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ if (s / 3600).is_multiple_of(24) => format!("{} d", s / 86_400),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_characters_and_marks_the_cut() {
        assert_eq!(shorten("EHLO laptop", 20), "EHLO laptop");
        assert_eq!(shorten("250-smtp.alpha.example greets", 10), "250-smtp.…");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(250), "250 ms");
        assert_eq!(span(35_000), "35 s");
        assert_eq!(span(119_000), "1 min 59 s");
        assert_eq!(span(300_000), "5 min");
        assert_eq!(span(4 * 3_600_000 + 600_000), "4 h 10 min");
        assert_eq!(span(5 * 86_400_000), "5 d");
    }

    #[test]
    fn record_data_drops_owner_ttl_and_final_dot() {
        use crate::proto::dns::RData;
        let mx = Record {
            name: "beta.example".into(),
            ttl: 3600,
            data: RData::Mx {
                preference: 10,
                exchange: "mx.beta.example".into(),
            },
        };
        assert_eq!(record_data(&mx), "MX 10 mx.beta.example");
        let null = Record {
            name: "gamma.example".into(),
            ttl: 3600,
            data: RData::Mx {
                preference: 0,
                exchange: "".into(),
            },
        };
        assert_eq!(record_data(&null), "MX 0 .");
    }

    #[test]
    fn unknown_formats_are_refused_with_the_right_words() {
        let e = Kind::parse("sequence", "png").unwrap_err();
        assert!(e.contains("mermaid or svg"), "{e}");
        assert_eq!(
            Kind::parse("transcript", "md"),
            Ok(Kind::TranscriptMarkdown)
        );
    }
}
