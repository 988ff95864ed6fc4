//! Load for live mode: SMTP transactions from parallel loopback connections, then memory with
//! many idle connections. Starts `mailsim serve` itself.
//!
//!     cargo build --release --no-default-features --example live_load
//!     target/release/examples/live_load target/release/mailsim [CONNECTIONS] [SECONDS] [IDLE]
//!
//! Each transaction is MAIL, RCPT, DATA and the message, one round trip each, as a client
//! without PIPELINING sends them; connections are reused (RSET-free: each transaction ends
//! with the 250 after the final dot).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "../benches/support/server.rs"]
mod server;
use server::Server;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args
        .get(1)
        .expect("usage: live_load MAILSIM [CONNECTIONS] [SECONDS] [IDLE]");
    let connections: usize = args.get(2).map_or(16, |a| a.parse().expect("a number"));
    let seconds: u64 = args.get(3).map_or(10, |a| a.parse().expect("a number"));
    let idle: usize = args.get(4).map_or(1000, |a| a.parse().expect("a number"));

    let max = (idle + connections + 10).to_string();
    let server = Server::start(binary.as_ref(), &["--max-connections", &max]);
    let (port, pid) = (server.smtp_port, server.pid());

    // Throughput: `connections` clients, each running transactions back to back.
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..connections {
            scope.spawn(|| {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let mut reply = || {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        if line.as_bytes().get(3) != Some(&b'-') {
                            return line.clone();
                        }
                    }
                };
                reply();
                w.write_all(b"EHLO load.example\r\n").unwrap();
                reply();
                while !stop.load(Ordering::Relaxed) {
                    for step in [
                        "MAIL FROM:<load@load.example>\r\n",
                        "RCPT TO:<bob@beta.example>\r\n",
                        "DATA\r\n",
                        "Subject: load\r\n\r\nA line of load.\r\n.\r\n",
                    ] {
                        w.write_all(step.as_bytes()).unwrap();
                        let got = reply();
                        assert!(got.starts_with('2') || got.starts_with('3'), "{got}");
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!("connections        {connections}");
    println!("transactions       {n} in {elapsed:.1} s");
    println!("transactions/s     {:.0}", n as f64 / elapsed);

    // Memory with idle connections: resident size before and after opening them.
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let before = rss();
    let held: Vec<TcpStream> = (0..idle)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut first = String::new();
            BufReader::new(s.try_clone().unwrap())
                .read_line(&mut first)
                .unwrap();
            assert!(first.starts_with("220"), "{first}");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let after = rss();
    println!("idle connections   {}", held.len());
    println!(
        "resident memory    {:.1} MiB before, {:.1} MiB with them ({:.1} KiB each)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / idle.max(1) as f64
    );
    drop(held);
}
