//! Live mode's throughput: SMTP transactions (MAIL, RCPT, DATA and a short message, one round
//! trip each, as a client without PIPELINING sends them) against `mailsim serve` on loopback,
//! over one connection and over eight in parallel. The server is the real binary, started once.
//!
//!     cargo bench --no-default-features --bench live

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/server.rs"]
mod server;
use server::Server;

/// One client connection after its greeting and EHLO.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    line: String,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut client = Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
            line: String::new(),
        };
        client.reply();
        client.say("EHLO bench.example\r\n");
        client
    }

    /// The last line of a reply (multi-line replies have a hyphen after the code).
    fn reply(&mut self) -> &str {
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line).unwrap();
            if self.line.as_bytes().get(3) != Some(&b'-') {
                return &self.line;
            }
        }
    }

    fn say(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        let got = self.reply();
        assert!(got.starts_with('2') || got.starts_with('3'), "{got}");
    }

    fn transaction(&mut self) {
        self.say("MAIL FROM:<load@load.example>\r\n");
        self.say("RCPT TO:<bob@beta.example>\r\n");
        self.say("DATA\r\n");
        self.say("Subject: load\r\n\r\nA line of load.\r\n.\r\n");
    }
}

fn live(c: &mut Criterion) {
    let server = Server::start(env!("CARGO_BIN_EXE_mailsim").as_ref(), &[]);
    let mut group = c.benchmark_group("live");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    let mut one = Client::connect(server.smtp_port);
    group.bench_function("SMTP transaction, one connection", |b| {
        b.iter(|| one.transaction())
    });
    // Eight clients at once: the time per transaction is the wall time over all of them.
    const PARALLEL: u64 = 8;
    let mut clients: Vec<Client> = (0..PARALLEL)
        .map(|_| Client::connect(server.smtp_port))
        .collect();
    group.bench_function("SMTP transaction, 8 connections in parallel", |b| {
        b.iter_custom(|iters| {
            let each = iters.div_ceil(PARALLEL);
            let start = Instant::now();
            std::thread::scope(|scope| {
                for client in clients.iter_mut() {
                    scope.spawn(move || (0..each).for_each(|_| client.transaction()));
                }
            });
            start
                .elapsed()
                .mul_f64(iters as f64 / (each * PARALLEL) as f64)
        })
    });
    group.finish();
}

criterion_group!(benches, live);
criterion_main!(benches);
