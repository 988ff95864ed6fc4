//! The wire grammars: what every simulated (and live) line passes through.
//!
//!     cargo bench --no-default-features --bench wire

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailsim::mail::Message;
use mailsim::proto::dns::{DnsMessage, RecordType};
use mailsim::proto::{imap, pop3, smtp};

/// The lines of one submission, as Thunderbird-like clients send them (RFC 5321 appendix D.1).
const SMTP_COMMANDS: [&str; 7] = [
    "EHLO pc.alpha.example",
    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "MAIL FROM:<alice@alpha.example> SIZE=1024",
    "RCPT TO:<bob@beta.example>",
    "DATA",
    "NOOP",
    "QUIT",
];

const EHLO_REPLY: [&str; 6] = [
    "250-mx.beta.example greets pc.alpha.example",
    "250-SIZE 10485760",
    "250-8BITMIME",
    "250-PIPELINING",
    "250-ENHANCEDSTATUSCODES",
    "250 HELP",
];

fn message() -> Message {
    let mut body = String::new();
    for i in 0..60 {
        body.push_str(&format!(
            "Line {i} of the body, with a little text to carry.\n"
        ));
    }
    body.push_str(".a line that starts with a dot\n");
    Message::build(
        &[
            ("From", "Alice <alice@alpha.example>"),
            ("To", "Bob <bob@beta.example>"),
            ("Subject", "Lunch on Friday?"),
            ("Message-ID", "<m1.0@pc.alpha.example>"),
        ],
        &body,
    )
}

fn smtp_wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp");
    g.throughput(Throughput::Elements(SMTP_COMMANDS.len() as u64));
    g.bench_function("parse a session's commands", |b| {
        b.iter(|| {
            for line in SMTP_COMMANDS {
                black_box(smtp::Command::parse(black_box(line)).ok());
            }
        })
    });
    g.throughput(Throughput::Elements(EHLO_REPLY.len() as u64));
    g.bench_function("parse a multi-line EHLO reply", |b| {
        b.iter(|| {
            for line in EHLO_REPLY {
                black_box(smtp::Reply::parse_line(black_box(line)).ok());
            }
        })
    });
    let text = message();
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("dot-stuff a 4 KB message", |b| {
        b.iter(|| black_box(smtp::dot_stuff(black_box(text.text()))))
    });
    g.finish();
}

fn pop3_imap_wire(c: &mut Criterion) {
    let pop3_lines = [
        "USER bob",
        "PASS secret",
        "STAT",
        "LIST",
        "UIDL 1",
        "RETR 1",
        "DELE 1",
        "QUIT",
    ];
    let imap_lines = [
        "a1 LOGIN bob secret",
        "a2 SELECT INBOX",
        "a3 UID FETCH 1:* (FLAGS UID RFC822.SIZE BODY.PEEK[])",
        "a4 UID STORE 7 +FLAGS (\\Seen)",
        "a5 SEARCH UNSEEN FROM \"alice\"",
        "a6 LOGOUT",
    ];
    let mut g = c.benchmark_group("pop3 and imap");
    g.throughput(Throughput::Elements(pop3_lines.len() as u64));
    g.bench_function("parse POP3 commands", |b| {
        b.iter(|| {
            for line in pop3_lines {
                black_box(pop3::Command::parse(black_box(line)).ok());
            }
        })
    });
    g.throughput(Throughput::Elements(imap_lines.len() as u64));
    g.bench_function("parse IMAP commands", |b| {
        b.iter(|| {
            for line in imap_lines {
                black_box(imap::Command::parse(black_box(line)).ok());
            }
        })
    });
    let fetch = "* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 4120 ENVELOPE (\"Tue, 24 Nov 2026 10:00:00 +0000\" \"Lunch\" ((\"Alice\" NIL \"alice\" \"alpha.example\")) NIL NIL ((NIL NIL \"bob\" \"beta.example\")) NIL NIL NIL \"<m1@alpha.example>\"))";
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse a FETCH response with ENVELOPE", |b| {
        b.iter(|| black_box(imap::parse_values(black_box(fetch)).ok()))
    });
    g.finish();
}

fn dns_wire(c: &mut Criterion) {
    let query = DnsMessage::query(0x1234, "beta.example", RecordType::Mx).encode();
    let mut g = c.benchmark_group("dns");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode an MX query", |b| {
        b.iter(|| {
            black_box(DnsMessage::query(0x1234, black_box("beta.example"), RecordType::Mx).encode())
        })
    });
    g.bench_function("decode an MX query", |b| {
        b.iter(|| black_box(DnsMessage::decode(black_box(&query)).ok()))
    });
    g.finish();
}

criterion_group!(benches, smtp_wire, pop3_imap_wire, dns_wire);
criterion_main!(benches);
