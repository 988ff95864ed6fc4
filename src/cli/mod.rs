//! The command line: `run`, `check`, `export`, `bench`, `serve` (and, with the window, `open` and `shot`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::live::{Ports, ServeOptions, TraceFormat};
use crate::scenario::{LoadError, Scenario, load_file};
use crate::sim::{render, report, run};

/// mailsim: watch an email travel, hop by hop, through SMTP, DNS, POP3 and IMAP.
#[derive(Parser, Debug)]
#[command(
    name = "mailsim",
    version,
    about,
    propagate_version = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `mailsim FILE` opens the file in the window (with the `gui` feature), like `mailsim open FILE`.
    pub file: Option<PathBuf>,
    /// Presentation mode: large text, autoplay that dwells on each caption, little chrome.
    #[arg(long)]
    pub present: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and print its trace; exit 1 if an expectation fails, 2 for a bad file.
    Run {
        file: PathBuf,
        /// Use this seed instead of the file's.
        #[arg(long)]
        seed: Option<u64>,
        /// How to print the trace.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print a JSON report of the final state instead of the trace.
        #[arg(long, value_enum, conflicts_with = "format")]
        report: Option<ReportFormat>,
        /// Ask the lesson's prediction questions on the way, and give a score at the end.
        #[arg(long, conflicts_with_all = ["report", "format"])]
        quiz: bool,
        /// With --quiz: show the answers instead of asking (for the teacher).
        #[arg(long, requires = "quiz")]
        teacher: bool,
    },
    /// Check a scenario file without running it.
    Check { file: PathBuf },
    /// Write a run as a transcript, a sequence diagram or JSON lines; exit 2 for a bad file.
    Export(crate::export::ExportArgs),
    /// Measure the simulation on a generated world.
    Bench {
        #[arg(long, default_value_t = 1000)]
        domains: usize,
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Spread the sends over this many seconds of virtual time (at most a year): fewer
        /// seconds, more messages in flight at once.
        #[arg(long, default_value_t = 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=365 * 86_400))]
        spread: u64,
    },
    /// Fault storms: random worlds under random faults; check that no mail is lost or
    /// duplicated. Exit 1 if a seed fails; each failure names its seed to rerun.
    Storm(StormArgs),
    /// Serve the scenario's servers on loopback ports for real mail programs (live mode).
    Serve(ServeArgs),
    /// Open a scenario in the window.
    #[cfg(feature = "gui")]
    Open {
        file: PathBuf,
        /// Presentation mode: large text, autoplay that dwells on each caption, little chrome.
        #[arg(long)]
        present: bool,
        /// Show the answers to the lesson's questions (for the teacher).
        #[arg(long)]
        teacher: bool,
    },
    /// Render one moment of a scenario to a PNG, without interaction.
    #[cfg(feature = "gui")]
    Shot {
        file: PathBuf,
        /// Show the moment of this event (0-based), halfway through its flight.
        #[arg(long, conflicts_with = "t")]
        step: Option<usize>,
        /// Show this virtual time, in milliseconds.
        #[arg(long)]
        t: Option<u64>,
        #[arg(long)]
        out: PathBuf,
        /// Window size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x900", value_parser = parse_size)]
        size: (u32, u32),
    },
    /// Measure the window's frame time on a generated scene with many messages in flight.
    #[cfg(feature = "gui")]
    BenchWindow {
        /// Domains of four hosts each (50 domains: 200 hosts).
        #[arg(long, default_value_t = 50)]
        domains: usize,
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        /// The sends are spread over this much virtual time (narrow: all in flight at once).
        #[arg(long, default_value_t = 200)]
        spread_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Frames to time.
        #[arg(long, default_value_t = 300)]
        frames: u32,
        /// Frames left out at the start.
        #[arg(long, default_value_t = 30)]
        warmup: u32,
        /// Measure an empty scene (no hosts, no messages) instead, the baseline.
        #[arg(long)]
        empty: bool,
        /// Keep vertical sync on (off by default, to see each frame's own cost).
        #[arg(long)]
        vsync: bool,
        /// Window size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x900", value_parser = parse_size)]
        size: (u32, u32),
    },
}

#[cfg(feature = "gui")]
pub(crate) fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once('x')
        .ok_or("write the size as WIDTHxHEIGHT, e.g. 1600x900")?;
    let n = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|v| (200..=8000).contains(v))
            .ok_or(format!("{s:?} is not a size from 200 to 8000"))
    };
    Ok((n(w)?, n(h)?))
}

/// `mailsim storm`: `--seeds N [--from S]` runs seeds S..S+N; `--seed S` runs one and
/// explains it; `--seed S --print` writes its scenario as RON (for `mailsim run`) with the verdict.
#[derive(clap::Args, Debug)]
pub struct StormArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 1000, conflicts_with = "seed")]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0, conflicts_with = "seed")]
    from: u64,
    /// Run this one seed and say how each message ended.
    #[arg(long)]
    seed: Option<u64>,
    /// With --seed: print the generated scenario as a RON file, the verdict in comments.
    #[arg(long, requires = "seed")]
    print: bool,
    /// Threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
}

/// `mailsim serve`: ports default to the well-known ones plus 2000; 0 picks a free port.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    file: PathBuf,
    /// The address to listen on. Anything but loopback is reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    #[arg(long, default_value_t = 2587)]
    submission_port: u16,
    #[arg(long, default_value_t = 2525)]
    smtp_port: u16,
    #[arg(long, default_value_t = 2110)]
    pop3_port: u16,
    #[arg(long, default_value_t = 2143)]
    imap_port: u16,
    /// DNS over UDP, answering from the scenario's zones.
    #[arg(long, default_value_t = 2053)]
    dns_port: u16,
    /// Once listening, write the ports and accounts here as JSON.
    #[arg(long)]
    ports_file: Option<PathBuf>,
    /// How much faster virtual time runs than the wall clock.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// How to print the trace as it grows (`quiet` prints nothing).
    #[arg(long, value_enum, default_value_t = ServeFormat::Text)]
    format: ServeFormat,
    /// Connections served at once; more get 421 (or -ERR, or BYE).
    #[arg(long, default_value_t = 100)]
    max_connections: usize,
    /// Close a connection idle this many seconds (default: 300 SMTP, 600 POP3, 1800 IMAP).
    #[arg(long)]
    idle_timeout: Option<u64>,
    /// Keep the queues and mailboxes in this directory across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Show the trace live in the window as it grows.
    #[cfg(feature = "gui")]
    #[arg(long)]
    gui: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ServeFormat {
    Text,
    Jsonl,
    Quiet,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Jsonl,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
}

pub(crate) fn load(file: &std::path::Path, seed: Option<u64>) -> Result<Scenario, ExitCode> {
    match load_file(file) {
        Ok(mut s) => {
            if let Some(seed) = seed {
                s.seed = seed;
            }
            Ok(s)
        }
        Err(e) => Err(bad_file(&e)),
    }
}

/// `mailsim run FILE | head` should stop quietly when `head` has read enough, as any Unix filter
/// does, instead of panicking on the failed write. Rust ignores SIGPIPE so that a socket's peer
/// hanging up is an error to handle; the commands that only print take the default back (live
/// mode, which writes to sockets, keeps it ignored).
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: only sets SIGPIPE back to its default disposition; no handler runs in this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn bad_file(e: &LoadError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Live mode with the window: the servers run on a thread of their own, the window (which
/// must have the main thread) shows the trace as it grows, and closing it stops the servers.
#[cfg(feature = "gui")]
fn serve_with_window(scenario: Scenario, file: PathBuf, mut opts: ServeOptions) -> ExitCode {
    let (tx, rx) = std::sync::mpsc::channel();
    opts.feed = Some(tx);
    // Ctrl-C stops the servers (caught here, before Bevy would take the handler), and the
    // window closes when they have stopped; closing the window stops them too.
    opts.catch_ctrl_c = false;
    let stop = opts.stop.clone();
    {
        let stop = stop.clone();
        if let Err(e) =
            ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst))
        {
            eprintln!("warning: cannot catch Ctrl-C: {e}");
        }
    }
    let servers = {
        let scenario = scenario.clone();
        std::thread::spawn(move || crate::live::serve(scenario, opts))
    };
    let code = crate::gui::open_live(scenario, file, rx);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    match servers.join() {
        Ok(Ok(())) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}

/// `mailsim run FILE --quiz`: the questions at the terminal, on standard input and output.
fn run_quiz(scenario: &Scenario, outcome: &crate::sim::Outcome, teacher: bool) -> ExitCode {
    let pinned = crate::lesson::pin(scenario, &outcome.trace);
    if pinned.predictions.is_empty() {
        eprintln!("this scenario asks no questions: its file has no lesson predictions");
        return ExitCode::from(1);
    }
    for p in &pinned.problems {
        eprintln!("warning: {p}");
    }
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    // Answers piped in are written back, so that the transcript reads as a dialogue.
    let echo = !stdin.is_terminal();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let trace = &outcome.trace;
    match crate::lesson::run_quiz(
        scenario, trace, &pinned, &mut input, &mut out, teacher, echo,
    ) {
        // A lesson that does not fit its run is the teacher's to mend, as `run` says too.
        Ok(_) if !pinned.problems.is_empty() => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the parsed command line; returns the process exit status.
pub fn main(cli: Cli) -> ExitCode {
    #[cfg(feature = "gui")]
    let launch = Instant::now();
    let command = match (cli.command, cli.file) {
        (Some(c), _) => c,
        #[cfg(feature = "gui")]
        (None, Some(file)) => Command::Open {
            file,
            present: cli.present,
            teacher: false,
        },
        #[cfg(not(feature = "gui"))]
        (None, Some(file)) => {
            eprintln!(
                "error: this mailsim was built without the window; try `mailsim run {}`",
                file.display()
            );
            return ExitCode::from(2);
        }
        (None, None) => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    #[cfg(feature = "gui")]
    if matches!(
        command,
        Command::Open { .. }
            | Command::Shot { .. }
            | Command::BenchWindow { .. }
            | Command::Serve(ServeArgs { gui: true, .. })
    ) && let Some(why) = crate::gui::no_display()
    {
        eprintln!("error: {why}");
        return ExitCode::FAILURE;
    }
    if matches!(
        command,
        Command::Run { .. } | Command::Bench { .. } | Command::Storm(_)
    ) {
        // A long run touches much fresh memory: the other core faults it in (src/alloc.rs).
        crate::alloc::prefault_fresh_memory();
    }
    if matches!(
        command,
        Command::Run { .. }
            | Command::Check { .. }
            | Command::Export(_)
            | Command::Bench { .. }
            | Command::Storm(_)
    ) {
        end_quietly_on_a_closed_pipe();
    }
    match command {
        Command::Run {
            file,
            seed,
            format,
            report: rep,
            quiz,
            teacher,
        } => {
            let scenario = match load(&file, seed) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let outcome = run(&scenario);
            if quiz {
                return run_quiz(&scenario, &outcome, teacher);
            }
            let verdicts = report::check(&scenario, &outcome);
            if rep.is_some() {
                println!("{}", report::report_json(&scenario, &outcome));
            } else {
                match format {
                    Format::Text => {
                        print!("{}", render::render_text(&scenario, &outcome.trace));
                        if !verdicts.is_empty() {
                            println!("\n# expectations");
                            for v in &verdicts {
                                let mark = if v.ok { "ok  " } else { "FAIL" };
                                if v.detail.is_empty() {
                                    println!("{mark} {}", v.text);
                                } else {
                                    println!("{mark} {} ({})", v.text, v.detail);
                                }
                            }
                        }
                    }
                    Format::Jsonl => print!("{}", render::render_jsonl(&scenario, &outcome.trace)),
                }
            }
            let failed: Vec<_> = verdicts.iter().filter(|v| !v.ok).collect();
            if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                for v in failed {
                    eprintln!(
                        "expectation failed: {} ({}); seed {}",
                        v.text, v.detail, scenario.seed
                    );
                }
                ExitCode::from(1)
            }
        }
        Command::Check { file } => match load(&file, None) {
            Ok(s) => {
                use crate::text::counted;
                println!(
                    "{}: ok: \"{}\", {}, {}, {}, {}, {}, {}",
                    file.display(),
                    s.title,
                    counted(s.domains.len(), "domain", "domains"),
                    counted(s.hosts.len(), "host", "hosts"),
                    counted(s.users.len(), "user", "users"),
                    counted(s.script.len(), "action", "actions"),
                    counted(s.faults.len(), "fault", "faults"),
                    counted(s.expectations.len(), "expectation", "expectations"),
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Export(args) => crate::export::main(args),
        Command::Bench {
            domains,
            messages,
            seed,
            spread,
        } => {
            let start = Instant::now();
            let scenario =
                crate::bench::generate_within(domains, messages, seed, spread.saturating_mul(1000));
            let generated = start.elapsed();
            let start = Instant::now();
            let outcome = run(&scenario);
            let wall = start.elapsed();
            let events = outcome.trace.len();
            let lines = outcome.trace.wire_lines();
            let inboxes = || {
                outcome
                    .state
                    .stores
                    .iter()
                    .flat_map(|s| s.mailboxes.values())
                    .map(|mb| mb.inbox())
            };
            let delivered: usize = inboxes().map(|inbox| inbox.messages.len()).sum();
            println!("domains          {domains}");
            println!("hosts            {}", scenario.hosts.len());
            println!("messages sent    {messages}, over {spread} s");
            println!("messages in mailboxes {delivered}");
            println!("still queued     {}", outcome.state.queued.len());
            let per_message = |n: usize| match messages {
                0 => String::new(),
                m => format!(" ({:.1} a message)", n as f64 / m as f64),
            };
            // An event is one transmission (a multi-line reply, or a message's whole text, is
            // one) or one thing a host does (it queues, relays or delivers a message); the wire
            // lines are what those transmissions carried, as a reader of the wire counts them.
            println!("trace events     {events}{}", per_message(events));
            println!("wire lines       {lines}{}", per_message(lines));
            let (event_bytes, text_bytes) = outcome.trace.memory_bytes();
            let mailbox_bytes: usize = inboxes().map(|inbox| inbox.total_size()).sum();
            let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
            println!(
                "memory held      trace events {:.1} MiB, trace texts {:.1} MiB, mailboxes {:.1} MiB",
                mib(event_bytes),
                mib(text_bytes),
                mib(mailbox_bytes)
            );
            println!("generate         {:.3} s", generated.as_secs_f64());
            println!("simulate         {:.3} s", wall.as_secs_f64());
            println!("events/second    {:.0}", events as f64 / wall.as_secs_f64());
            println!("wire lines/s     {:.0}", lines as f64 / wall.as_secs_f64());
            match crate::bench::peak_memory_kib() {
                Some(kib) => println!("peak memory      {:.1} MiB", kib as f64 / 1024.0),
                None => println!("peak memory      unknown"),
            }
            ExitCode::SUCCESS
        }
        Command::Storm(args) => storm(args),
        Command::Serve(args) => {
            let scenario = match load(&args.file, None) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let opts = ServeOptions {
                bind: args.bind,
                ports: Ports {
                    submission: args.submission_port,
                    smtp: args.smtp_port,
                    pop3: args.pop3_port,
                    imap: args.imap_port,
                    dns: args.dns_port,
                },
                ports_file: args.ports_file,
                speed: args.speed,
                format: match args.format {
                    ServeFormat::Text => TraceFormat::Text,
                    ServeFormat::Jsonl => TraceFormat::Jsonl,
                    ServeFormat::Quiet => TraceFormat::Quiet,
                },
                max_connections: args.max_connections,
                idle_timeout: args.idle_timeout.map(std::time::Duration::from_secs),
                state_dir: args.state,
                ..ServeOptions::default()
            };
            #[cfg(feature = "gui")]
            if args.gui {
                return serve_with_window(scenario, args.file, opts);
            }
            match crate::live::serve(scenario, opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        #[cfg(feature = "gui")]
        Command::Open {
            file,
            present,
            teacher,
        } => {
            let scenario = match load(&file, None) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::gui::open(scenario, file, present, teacher)
        }
        #[cfg(feature = "gui")]
        Command::Shot {
            file,
            step,
            t,
            out,
            size,
        } => {
            let scenario = match load(&file, None) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::gui::shot(scenario, file, step, t, out, size)
        }
        #[cfg(feature = "gui")]
        Command::BenchWindow {
            domains,
            messages,
            spread_ms,
            seed,
            frames,
            warmup,
            empty,
            vsync,
            size,
        } => crate::gui::bench::bench_window(
            &crate::gui::bench::WindowBench {
                domains,
                messages,
                seed,
                spread_ms,
                frames,
                warmup,
                empty,
                size,
                vsync,
            },
            launch,
        ),
    }
}

/// `mailsim storm`.
fn storm(args: StormArgs) -> ExitCode {
    use crate::storm::{Tally, run_seed};
    if let Some(seed) = args.seed {
        let (scenario, bad, tally) = run_seed(seed);
        let verdict = if bad.is_empty() {
            format!("seed {seed}: ok: {tally}")
        } else {
            format!("seed {seed}: FAILED")
        };
        if args.print {
            print!("{}", crate::scenario::to_ron(&scenario));
            println!("// {verdict}");
            for v in &bad {
                println!("// {v}");
            }
        } else {
            println!("{verdict}");
            for v in &bad {
                println!("  {v}");
            }
        }
        return if bad.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let start = Instant::now();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1) as u64;
    let (from, n) = (args.from, args.seeds);
    // Each thread takes every jobs-th seed; the failures are printed in seed order at the end.
    type Failures = Vec<(u64, Vec<crate::storm::Violation>)>;
    let results: Vec<(Tally, Failures)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    let mut failed = Vec::new();
                    let mut seed = from + j;
                    while seed < from + n {
                        let (_, bad, t) = run_seed(seed);
                        tally += t;
                        if !bad.is_empty() {
                            eprintln!("seed {seed}: FAILED ({} problems)", bad.len());
                            failed.push((seed, bad));
                        }
                        seed += jobs;
                    }
                    (tally, failed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a storm thread panicked"))
            .collect()
    });
    let mut tally = Tally::default();
    let mut failed = Vec::new();
    for (t, f) in results {
        tally += t;
        failed.extend(f);
    }
    failed.sort_by_key(|(seed, _)| *seed);
    for (seed, bad) in &failed {
        println!("seed {seed}: FAILED; rerun with: mailsim storm --seed {seed} --print");
        for v in bad {
            println!("  {v}");
        }
    }
    println!(
        "{n} seeds ({from}..{}): {} failed; {tally}; {:.1} s",
        from + n,
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
