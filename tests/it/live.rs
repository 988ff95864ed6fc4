//! Live mode against real clients: Python's smtplib, imaplib and poplib, curl, `dig`-style DNS
//! queries, and a flood of bad connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use mailsim::proto::dns::{DnsMessage, Rcode, RecordType};

/// A directory of a test's own under the system's temporary one: removed when the test
/// passes, kept when it fails, so that the server's stdout and stderr can be read.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mailsim-live-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for a look: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A `mailsim serve` child process on free ports.
struct Server {
    child: Child,
    dir: PathBuf,
    ports: serde_json::Value,
    /// The directory, when the server has one of its own (dropped after the child is killed).
    _scratch: Option<Scratch>,
}

impl Server {
    fn start(name: &str, scenario: &str, extra: &[&str]) -> Server {
        let scratch = Scratch::new(name);
        let mut server = Server::start_in(scratch.0.clone(), scenario, extra);
        server._scratch = Some(scratch);
        server
    }

    /// Starts in `dir`; `extra` may override the speed (600 virtual ms per wall ms).
    fn start_in(dir: PathBuf, scenario: &str, extra: &[&str]) -> Server {
        let ports_file = dir.join("ports.json");
        let _ = std::fs::remove_file(&ports_file);
        let mut args = vec![
            "serve",
            scenario,
            "--submission-port",
            "0",
            "--smtp-port",
            "0",
            "--pop3-port",
            "0",
            "--imap-port",
            "0",
            "--dns-port",
            "0",
            "--format",
            "jsonl",
            "--ports-file",
        ];
        let ports_arg = ports_file.to_str().unwrap().to_string();
        args.push(&ports_arg);
        if !extra.contains(&"--speed") {
            args.extend(["--speed", "600"]);
        }
        args.extend_from_slice(extra);
        let child = Command::new(env!("CARGO_BIN_EXE_mailsim"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .spawn()
            .expect("mailsim starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let ports = loop {
            if let Ok(text) = std::fs::read_to_string(&ports_file)
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            {
                break v;
            }
            assert!(Instant::now() < deadline, "mailsim serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Server {
            child,
            dir,
            ports,
            _scratch: None,
        }
    }

    fn port(&self, name: &str) -> u16 {
        self.ports[name].as_u64().expect("a port") as u16
    }

    /// Ctrl-C, then what it printed on stderr.
    fn interrupt(mut self) -> String {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exits cleanly on Ctrl-C: {status}");
        std::fs::read_to_string(self.dir.join("stderr")).unwrap()
    }

    fn trace(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout")).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .expect("the client program runs (see .ci/run for what to install)");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const LESSON_1: &str = "scenarios/01-alice-writes-to-bob.ron";
/// Lesson 1's world with a 2,000-octet SIZE limit on the MX.
const SMALL_LIMITS: &str = "tests/live/small-limits.ron";

#[test]
fn python_clients_submit_relay_and_fetch() {
    let server = Server::start("python", LESSON_1, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live/clients.py");
    let out = run(Command::new("python3")
        .arg(script)
        .arg(server.dir.join("ports.json")));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    // The trace streamed the real dialogue, and the message went on through the simulation.
    let trace = server.trace();
    assert!(
        trace.contains("AUTH PLAIN"),
        "the submission dialogue is traced"
    );
    assert!(
        trace.contains("\"kind\":\"dns_query\""),
        "the relay asked DNS"
    );
    assert!(trace.contains("Sent by smtplib"));
}

#[test]
fn curl_speaks_smtp_pop3_and_imap() {
    let server = Server::start("curl", LESSON_1, &[]);
    let mail = server.dir.join("mail.txt");
    std::fs::write(
        &mail,
        "From: alice@alpha.example\r\nTo: bob@beta.example\r\nSubject: Sent by curl\r\n\r\nHello from curl.\r\n",
    )
    .unwrap();
    let sub = format!("smtp://127.0.0.1:{}/laptop", server.port("submission"));
    run(Command::new("curl").args([
        "-sS",
        &sub,
        "--user",
        "alice@alpha.example:wonderland",
        "--mail-from",
        "alice@alpha.example",
        "--mail-rcpt",
        "bob@beta.example",
        "--upload-file",
        mail.to_str().unwrap(),
    ]));
    // Wait for delivery, then list with POP3 and fetch the last message with IMAP.
    let pop = format!("pop3://127.0.0.1:{}/", server.port("pop3"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let listing = loop {
        let out = run(Command::new("curl").args(["-sS", &pop, "--user", "bob:builder"]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() >= 2 {
            break text;
        }
        assert!(Instant::now() < deadline, "curl's message never arrived");
        std::thread::sleep(Duration::from_millis(200));
    };
    let last = listing
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let imap = format!("imap://127.0.0.1:{}/INBOX;UID={last}", server.port("imap"));
    let out = run(Command::new("curl").args(["-sS", &imap, "--user", "bob@beta.example:builder"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Subject: Sent by curl"), "{text}");
    assert!(text.contains("Received: from laptop"), "{text}");
}

#[test]
fn dns_port_answers_from_the_scenario_zones() {
    let server = Server::start("dns", LESSON_1, &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let ask = |name: &str, qtype: RecordType| {
        let query = DnsMessage::query(0x1234, name, qtype).encode();
        socket
            .send_to(&query, ("127.0.0.1", server.port("dns")))
            .unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        DnsMessage::decode(&buf[..n]).unwrap()
    };
    let mx = ask("beta.example", RecordType::Mx);
    assert_eq!(mx.rcode, Rcode::NoError);
    assert!(mx.authoritative);
    assert!(mx.to_dig_text().contains("mx.beta.example"));
    let none = ask("nowhere.beta.example", RecordType::A);
    assert_eq!(none.rcode, Rcode::NxDomain);
    // A question in mixed case (a resolver's "DNS 0x20") comes back in that case, byte for
    // byte (RFC 4343 section 4).
    let mut query = vec![0x56, 0x78, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x04bEtA\x07ExAmPlE\x00\x00\x0f\x00\x01");
    socket
        .send_to(&query, ("127.0.0.1", server.port("dns")))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[12..26], &query[12..26]);
    assert_eq!(DnsMessage::decode(&buf[..n]).unwrap().answers.len(), 1);
}

/// Reads one reply line.
fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s
}

/// Reads a whole SMTP reply (its last line has a space after the code).
fn reply(r: &mut BufReader<TcpStream>) -> String {
    loop {
        let l = line(r);
        if l.len() < 4 || l.as_bytes()[3] == b' ' {
            return l;
        }
    }
}

/// A connection to a port on loopback, with a reader of what comes back.
fn connected(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

/// A connection to a POP3 or IMAP port, its one-line greeting read and checked.
fn greeted(port: u16, greeting: &str) -> (TcpStream, BufReader<TcpStream>) {
    let (s, mut r) = connected(port);
    let first = line(&mut r);
    assert!(first.starts_with(greeting), "{first}");
    (s, r)
}

fn smtp(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let (s, mut r) = connected(port);
    assert!(reply(&mut r).starts_with("220"));
    (s, r)
}

fn say(s: &mut TcpStream, r: &mut BufReader<TcpStream>, text: &str) -> String {
    s.write_all(text.as_bytes()).unwrap();
    reply(r)
}

#[test]
fn a_thousand_bad_connections_then_mail_still_flows() {
    let server = Server::start("flood", SMALL_LIMITS, &["--max-connections", "2000"]);
    let (mx, pop3, imap) = (
        server.port("smtp"),
        server.port("pop3"),
        server.port("imap"),
    );
    std::thread::scope(|scope| {
        for worker in 0..8 {
            scope.spawn(move || {
                for i in 0..125 {
                    match (worker * 125 + i) % 7 {
                        0 => {
                            // Garbage bytes: 500, and the session goes on.
                            let (mut s, mut r) = smtp(mx);
                            let got = say(&mut s, &mut r, "\u{1}\u{ff}GARBAGE \u{7f}\r\n");
                            assert!(got.starts_with("500"), "{got}");
                            assert!(say(&mut s, &mut r, "NOOP\r\n").starts_with("250"));
                        }
                        1 => {
                            // A command line over 512 octets: 500.
                            let (mut s, mut r) = smtp(mx);
                            let long = format!("HELO {}\r\n", "x".repeat(5000));
                            assert!(say(&mut s, &mut r, &long).starts_with("500"));
                        }
                        2 => {
                            // DATA larger than the declared SIZE limit: 552 at MAIL.
                            let (mut s, mut r) = smtp(mx);
                            say(&mut s, &mut r, "EHLO flood.example\r\n");
                            let got = say(
                                &mut s,
                                &mut r,
                                "MAIL FROM:<x@flood.example> SIZE=999999999\r\n",
                            );
                            assert!(got.starts_with("552"), "{got}");
                        }
                        3 => {
                            // Hang up in the middle of DATA: only that message is lost.
                            let (mut s, mut r) = smtp(mx);
                            say(&mut s, &mut r, "EHLO flood.example\r\n");
                            say(&mut s, &mut r, "MAIL FROM:<x@flood.example>\r\n");
                            say(&mut s, &mut r, "RCPT TO:<bob@beta.example>\r\n");
                            assert!(say(&mut s, &mut r, "DATA\r\n").starts_with("354"));
                            s.write_all(b"Subject: unfinished\r\n\r\nhalf a mes")
                                .unwrap();
                        }
                        5 => {
                            // More DATA than the SIZE limit, undeclared: 552 at the end.
                            let (mut s, mut r) = smtp(mx);
                            say(&mut s, &mut r, "EHLO flood.example\r\n");
                            say(&mut s, &mut r, "MAIL FROM:<x@flood.example>\r\n");
                            say(&mut s, &mut r, "RCPT TO:<bob@beta.example>\r\n");
                            assert!(say(&mut s, &mut r, "DATA\r\n").starts_with("354"));
                            let big = format!(
                                "Subject: big\r\n\r\n{}.\r\n",
                                "0123456789\r\n".repeat(400)
                            );
                            let got = say(&mut s, &mut r, &big);
                            assert!(got.starts_with("552"), "{got}");
                        }
                        6 => {
                            // A text line over 1,000 octets: 500 at the end of DATA.
                            let (mut s, mut r) = smtp(mx);
                            say(&mut s, &mut r, "EHLO flood.example\r\n");
                            say(&mut s, &mut r, "MAIL FROM:<x@flood.example>\r\n");
                            say(&mut s, &mut r, "RCPT TO:<bob@beta.example>\r\n");
                            assert!(say(&mut s, &mut r, "DATA\r\n").starts_with("354"));
                            let long =
                                format!("Subject: long\r\n\r\n{}\r\n.\r\n", "y".repeat(1200));
                            let got = say(&mut s, &mut r, &long);
                            assert!(got.starts_with("500"), "{got}");
                        }
                        _ => {
                            // POP3 and IMAP garbage: -ERR and BAD.
                            let s = TcpStream::connect(("127.0.0.1", pop3)).unwrap();
                            let mut r = BufReader::new(s.try_clone().unwrap());
                            line(&mut r);
                            (&s).write_all(b"\x00\x01 nonsense\r\n").unwrap();
                            assert!(line(&mut r).starts_with("-ERR"));
                            let s = TcpStream::connect(("127.0.0.1", imap)).unwrap();
                            let mut r = BufReader::new(s.try_clone().unwrap());
                            line(&mut r);
                            (&s).write_all(b"a1 FROB \xff\r\n").unwrap();
                            assert!(line(&mut r).starts_with("a1 BAD"));
                        }
                    }
                }
            });
        }
    });
    // Then a normal message still goes through and can be fetched.
    let (mut s, mut r) = smtp(mx);
    for (cmd, code) in [
        ("EHLO good.example\r\n", "250"),
        ("MAIL FROM:<carol@good.example>\r\n", "250"),
        ("RCPT TO:<bob@beta.example>\r\n", "250"),
        ("DATA\r\n", "354"),
        ("Subject: after the flood\r\n\r\nstill here\r\n.\r\n", "250"),
        ("QUIT\r\n", "221"),
    ] {
        let got = say(&mut s, &mut r, cmd);
        assert!(got.starts_with(code), "{cmd:?} got {got:?}");
    }
    let s = TcpStream::connect(("127.0.0.1", pop3)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    line(&mut r);
    let mut pop = |cmd: &str| {
        (&s).write_all(cmd.as_bytes()).unwrap();
        line(&mut r)
    };
    pop("USER bob\r\n");
    assert!(pop("PASS builder\r\n").starts_with("+OK"));
    let stat = pop("STAT\r\n");
    let count: usize = stat.split_whitespace().nth(1).unwrap().parse().unwrap();
    let _ = pop(&format!("TOP {count} 0\r\n"));
    let mut headers = String::new();
    loop {
        let l = line(&mut r);
        if l == ".\r\n" {
            break;
        }
        headers.push_str(&l);
    }
    assert!(headers.contains("Subject: after the flood"), "{headers}");
    // Only this one: none of the unfinished, oversize or malformed ones was delivered.
    // The server prints its trace as it goes: wait until the delivery has been written out.
    let delivered = || server.trace().matches("\"kind\":\"delivered\"").count();
    let waited = Instant::now();
    while delivered() == 0 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(delivered(), 1, "only finished messages are delivered");
}

#[test]
fn connections_beyond_the_limit_get_421_and_idle_ones_are_closed() {
    let server = Server::start(
        "limits",
        LESSON_1,
        &["--max-connections", "3", "--idle-timeout", "1"],
    );
    let mx = server.port("smtp");
    let held: Vec<_> = (0..3).map(|_| smtp(mx)).collect();
    let mut extra = TcpStream::connect(("127.0.0.1", mx)).unwrap();
    let mut text = String::new();
    extra.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("421"), "{text}");
    // The held connections go idle and are told so.
    for (_, mut r) in held {
        assert!(reply(&mut r).starts_with("421 4.4.2"));
    }
}

#[test]
fn ctrl_c_reports_undelivered_mail_and_state_carries_on() {
    // Lesson 8: the receiving server is down for a while, so the message waits in a queue.
    let lesson = "scenarios/08-server-down-queued.ron";
    let scratch = Scratch::new("state");
    let dir = scratch.0.clone();
    let state = dir.join("state");
    let server = Server::start_in(
        dir.clone(),
        lesson,
        &["--speed", "1", "--state", state.to_str().unwrap()],
    );
    let (mut s, mut r) = smtp(server.port("submission"));
    say(&mut s, &mut r, "EHLO laptop\r\n");
    let token = "AGFsaWNlQGFscGhhLmV4YW1wbGUAd29uZGVybGFuZA=="; // \0alice@alpha.example\0wonderland
    let got = say(&mut s, &mut r, &format!("AUTH PLAIN {token}\r\n"));
    assert!(got.starts_with("235"), "{got}");
    for (cmd, code) in [
        ("MAIL FROM:<alice@alpha.example>\r\n", "250"),
        ("RCPT TO:<bob@beta.example>\r\n", "250"),
        ("DATA\r\n", "354"),
        (
            "Subject: kept across a restart\r\n\r\nhello\r\n.\r\n",
            "250",
        ),
    ] {
        let got = say(&mut s, &mut r, cmd);
        assert!(got.starts_with(code), "{cmd:?} got {got:?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let report = server.interrupt();
    assert!(report.contains("not yet delivered"), "{report}");
    assert!(report.contains("bob@beta.example"), "{report}");
    assert!(state.join("mailsim-state.json").exists());
    // A restart carries on with the queue it saved.
    let again = Server::start_in(
        dir,
        lesson,
        &["--speed", "1", "--state", state.to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_millis(300));
    let report = again.interrupt();
    assert!(
        report.contains("restored the mailboxes and 1 queued message"),
        "{report}"
    );
}

#[test]
fn a_killed_server_loses_no_accepted_mail_with_state() {
    // Lesson 8: the receiving server is down, so the message waits in the sender's queue.
    let lesson = "scenarios/08-server-down-queued.ron";
    let scratch = Scratch::new("kill");
    let dir = scratch.0.clone();
    let state = dir.join("state");
    let state_arg = state.to_str().unwrap().to_string();
    let mut server = Server::start_in(
        dir.clone(),
        lesson,
        &["--speed", "1", "--state", &state_arg],
    );
    let (mut s, mut r) = smtp(server.port("submission"));
    say(&mut s, &mut r, "EHLO laptop\r\n");
    let token = "AGFsaWNlQGFscGhhLmV4YW1wbGUAd29uZGVybGFuZA==";
    assert!(say(&mut s, &mut r, &format!("AUTH PLAIN {token}\r\n")).starts_with("235"));
    for cmd in [
        "MAIL FROM:<alice@alpha.example>\r\n",
        "RCPT TO:<bob@beta.example>\r\n",
        "DATA\r\n",
        "Subject: survives a kill\r\n\r\nhello\r\n.\r\n",
    ] {
        say(&mut s, &mut r, cmd);
    }
    // The state is saved within a second of the message being accepted; then SIGKILL.
    std::thread::sleep(Duration::from_millis(1800));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let again = Server::start_in(dir, lesson, &["--speed", "1", "--state", &state_arg]);
    std::thread::sleep(Duration::from_millis(300));
    let report = again.interrupt();
    assert!(
        report.contains("restored the mailboxes and 1 queued message"),
        "{report}"
    );
}

/// RFC 1939 section 4: a real client's POP3 session holds the maildrop's lock. A second
/// session for the same user is refused with -ERR [IN-USE] (RFC 2449 section 8.1.2); once the
/// first ends, by QUIT or by dropping its connection, the next one gets in.
#[test]
fn a_second_pop3_session_waits_for_the_maildrop_lock() {
    let server = Server::start("pop3-lock", SMALL_LIMITS, &[]);
    let port = server.port("pop3");
    let session = || greeted(port, "+OK");
    let pop = |(s, r): &mut (TcpStream, BufReader<TcpStream>), cmd: &str| {
        s.write_all(cmd.as_bytes()).unwrap();
        line(r)
    };
    let login = |c: &mut (TcpStream, BufReader<TcpStream>)| {
        assert!(pop(c, "USER bob\r\n").starts_with("+OK"));
        pop(c, "PASS builder\r\n")
    };
    let mut first = session();
    assert!(login(&mut first).starts_with("+OK"));
    let mut second = session();
    let refused = login(&mut second);
    assert!(refused.starts_with("-ERR [IN-USE]"), "{refused}");
    assert!(pop(&mut first, "QUIT\r\n").starts_with("+OK"));
    assert!(login(&mut second).starts_with("+OK"));
    // The second drops its connection without QUIT: the server lets go of the lock when it
    // notices, a moment later.
    drop(second);
    let waited = Instant::now();
    loop {
        let mut third = session();
        let got = login(&mut third);
        if got.starts_with("+OK") {
            break;
        }
        assert!(got.starts_with("-ERR [IN-USE]"), "{got}");
        assert!(waited.elapsed() < Duration::from_secs(10), "the lock stays");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// IMAP literals from a raw client (RFC 3501 sections 4.3 and 7.5): the server answers `+`
/// before the octets, takes the command whole, and refuses a literal it would not hold (or a
/// LITERAL+ it does not offer) with a tagged BAD instead of `+`, so that no octets follow.
#[test]
fn imap_literals_wait_for_the_continuation() {
    let server = Server::start("imap-literals", SMALL_LIMITS, &[]);
    let (s, mut r) = greeted(server.port("imap"), "* OK");
    let send = |text: &str| (&s).write_all(text.as_bytes()).unwrap();
    send("a1 LOGIN bob {7}\r\n");
    assert!(line(&mut r).starts_with("+ "));
    send("builder\r\n");
    assert!(line(&mut r).starts_with("a1 OK"));
    send("a2 APPEND INBOX {99999999}\r\n");
    assert!(line(&mut r).starts_with("a2 BAD a literal of 99999999 octets"));
    // LITERAL+ is not offered: its octets, sent anyway, are dropped with the rest of the
    // command, so that none of them runs as a command.
    send("a3 APPEND INBOX {4+}\r\nab\r\n {20+}\r\na9 CREATE Injected\r\n\r\n");
    assert!(line(&mut r).starts_with("a3 BAD LITERAL+ is not offered"));
    // A literal whose octets end in something like a size does not make the server wait for
    // more: only the line after the octets can announce the next literal.
    send("a4 APPEND INBOX {8}\r\n");
    assert!(line(&mut r).starts_with("+ "));
    send("x\r\ny{99}\r\n");
    let got = line(&mut r);
    assert!(got.starts_with("a4 "), "{got}");
    // Octets that are not UTF-8 are refused, not changed.
    send("a5 APPEND INBOX {4}\r\n");
    assert!(line(&mut r).starts_with("+ "));
    (&s).write_all(b"\xff\xfe\r\n\r\n").unwrap();
    assert!(line(&mut r).starts_with("a5 NO the literal is not UTF-8"));
    // Many literals in one command cannot grow it without bound.
    send("a6 APPEND INBOX (\\Seen) {6000000}\r\n");
    assert!(line(&mut r).starts_with("+ "));
    (&s).write_all(&vec![b'z'; 6_000_000]).unwrap();
    send(" {6000000}\r\n");
    let got = line(&mut r);
    assert!(
        got.starts_with("a6 BAD a literal of 6000000 octets would take"),
        "{got}"
    );
    send("a7 NOOP\r\n");
    let got = line(&mut r);
    assert!(got.starts_with("a7 OK"), "{got}");
    // Nothing smuggled in was run.
    send("a8 LIST \"\" *\r\n");
    let mut listed = Vec::new();
    loop {
        let l = line(&mut r);
        if l.starts_with("a8 ") {
            break;
        }
        listed.push(l);
    }
    assert!(!listed.concat().contains("Injected"), "{listed:?}");
    // The trace shows the dialogue as it went: the head, the server's +, then the literal and
    // the rest of the command, each with a caption.
    let texts = || -> Vec<(String, String)> {
        server
            .trace()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["protocol"] == "imap")
            .map(|e| {
                let text = e["text"].as_str().unwrap_or("").to_string();
                (text, e["caption"].as_str().unwrap_or("").to_string())
            })
            .collect()
    };
    let waited = Instant::now();
    while !texts().iter().any(|(t, _)| t.contains("a8 OK")) {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no a8 OK in the trace"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let texts = texts();
    let at = texts
        .iter()
        .position(|(t, _)| t == "a1 LOGIN bob {7}")
        .expect("the LOGIN's head is traced");
    assert_eq!(texts[at + 1].0, "+ Ready for literal data");
    assert!(
        texts[at + 1].1.contains("go on, send the literal"),
        "{:?}",
        texts[at + 1]
    );
    assert_eq!(texts[at + 2].0, "builder");
    assert!(
        texts[at + 2].1.contains("the literal (7 octets"),
        "{:?}",
        texts[at + 2]
    );
    assert!(texts[at + 3].0.starts_with("a1 OK"));
}

/// What a client cannot make the IMAP reader do: answer a command after the `+` of one behind
/// it, run octets it dropped, or read on past a line it could not read whole. Each of these
/// connections ends with `* BYE`, and the command behind never runs.
#[test]
fn imap_commands_behind_a_literal_wait_and_lost_ends_close() {
    let server = Server::start("imap-literal-ends", SMALL_LIMITS, &[]);
    let port = server.port("imap");
    let connect = || {
        let (s, mut r) = greeted(port, "* OK");
        (&s).write_all(b"a0 LOGIN bob builder\r\n").unwrap();
        assert!(line(&mut r).starts_with("a0 OK"));
        (s, r)
    };
    let rest = |r: &mut BufReader<TcpStream>| {
        let mut all = String::new();
        let _ = r.read_to_string(&mut all);
        all
    };
    // A failed login does not keep the session on that user's host: the next login, of a
    // user of another domain, is checked against that user's own mailbox host.
    let (s, mut r) = greeted(port, "* OK");
    (&s).write_all(b"e1 LOGIN bob wrong\r\n").unwrap();
    assert!(line(&mut r).starts_with("e1 NO"));
    (&s).write_all(b"e2 LOGIN alice@alpha.example wonderland\r\n")
        .unwrap();
    let got = line(&mut r);
    assert!(got.starts_with("e2 OK"), "{got}");
    // Pipelined: a1 is answered before a2's `+`; a2's LITERAL+ is too large to drop, so the
    // connection ends, and b1 behind it never runs.
    let (s, mut r) = connect();
    (&s).write_all(b"a1 NOOP\r\na2 APPEND INBOX {99999999+}\r\nb1 CREATE Behind\r\n")
        .unwrap();
    assert!(line(&mut r).starts_with("a1 OK"));
    assert!(line(&mut r).starts_with("* BYE"));
    let after = rest(&mut r);
    assert!(!after.contains("b1"), "{after}");
    // A line too long to read whole: its end (here a LITERAL+) is unknown, so BAD, then BYE.
    let (s, mut r) = connect();
    let long = format!(
        "c1 LOGIN bob {} {{11+}}\r\nb1 CREATE Behind\r\n",
        "x".repeat(9000)
    );
    (&s).write_all(long.as_bytes()).unwrap();
    assert!(line(&mut r).starts_with("c1 BAD line too long"));
    assert!(line(&mut r).starts_with("* BYE line too long"));
    let after = rest(&mut r);
    assert!(!after.contains("b1"), "{after}");
    // Octets that are not UTF-8, and a LITERAL+ after them: NO, and its octets are dropped.
    let (s, mut r) = connect();
    (&s).write_all(b"d1 SELECT {2}\r\n").unwrap();
    assert!(line(&mut r).starts_with("+ "));
    (&s).write_all(b"\xff\xfe {18+}\r\nb1 CREATE Behind\r\n\r\nd2 LIST \"\" *\r\n")
        .unwrap();
    assert!(line(&mut r).starts_with("d1 NO the literal is not UTF-8"));
    let mut listed = String::new();
    loop {
        let l = line(&mut r);
        listed.push_str(&l);
        if l.starts_with("d2 ") || l.is_empty() {
            break;
        }
    }
    assert!(
        listed.contains("d2 OK") && !listed.contains("Behind"),
        "{listed}"
    );
}
