//! The sockets of live mode: accepting connections within a limit, reading lines of bounded
//! length with an idle timeout, and the DNS datagrams.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, SyncSender, sync_channel};
use std::time::Duration;

use super::Request;
use crate::proto::imap::literal_at_end;
use crate::sim::Front;

/// The longest line kept; the rest of a longer line is read and dropped. It is above every
/// protocol's own limit (512 and 1000 octets in RFC 5321 section 4.5.3.1, IMAP's the longest),
/// so the engines still see that the line was too long and answer as their protocol says.
const MAX_LINE: usize = crate::proto::imap::MAX_LINE + 1;
/// Lines already waiting (a pipelining client) are handed over together, up to this many.
const MAX_BATCH: usize = 256;
/// Each connection's thread needs little stack: it only reads, waits and writes.
const CONNECTION_STACK: usize = 64 * 1024;

/// What every connection shares: how many are open, and the limits.
pub struct Limits {
    open: AtomicUsize,
    max: usize,
    idle: Option<Duration>,
}

impl Limits {
    pub fn new(max: usize, idle: Option<Duration>) -> Limits {
        Limits {
            open: AtomicUsize::new(0),
            max,
            idle,
        }
    }

    /// The idle timeout: RFC 5321 section 4.5.3.2.7 gives an SMTP server 5 minutes, RFC 1939
    /// section 3 a POP3 server 10, RFC 3501 section 5.4 an IMAP server 30.
    fn idle(&self, front: Front) -> Duration {
        self.idle.unwrap_or(match front {
            Front::Submission | Front::Smtp => Duration::from_secs(300),
            Front::Pop3 => Duration::from_secs(600),
            Front::Imap => Duration::from_secs(1800),
        })
    }
}

/// What a server says when it will not talk now, in each protocol's words.
fn busy(front: Front) -> &'static str {
    match front {
        Front::Submission | Front::Smtp => "421 4.3.2 Too many connections, try again later\r\n",
        Front::Pop3 => "-ERR [SYS/TEMP] too many connections, try again later\r\n",
        Front::Imap => "* BYE too many connections, try again later\r\n",
    }
}

fn idle_goodbye(front: Front) -> &'static str {
    match front {
        Front::Submission | Front::Smtp => "421 4.4.2 Idle timeout, closing connection\r\n",
        Front::Pop3 => "-ERR idle timeout, closing connection\r\n",
        Front::Imap => "* BYE idle timeout, closing connection\r\n",
    }
}

pub fn accept_loop(listener: TcpListener, front: Front, tx: Sender<Request>, limits: Arc<Limits>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if limits.open.fetch_add(1, Ordering::SeqCst) >= limits.max {
            limits.open.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.write_all(busy(front).as_bytes());
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let (tx, limits2) = (tx.clone(), limits.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve_connection(stream, front, &tx, &limits2);
                limits2.open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            limits.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Asks the world's thread and waits for its answer; `None` once the world has stopped.
fn ask<T>(tx: &Sender<Request>, request: impl FnOnce(SyncSender<T>) -> Request) -> Option<T> {
    let (reply, answer) = sync_channel(1);
    tx.send(request(reply)).ok()?;
    answer.recv().ok()
}

/// How a read ended.
enum Read {
    /// A line, and whether it ended with CRLF (not a bare LF).
    Line(String, bool),
    /// An IMAP command gathered past its literals; its text up to `traced` has already gone
    /// into the trace, with the `+` that invited each literal.
    Gathered {
        command: String,
        traced: usize,
    },
    /// A command refused as it came in (an IMAP literal too large), already answered.
    Answered,
    /// The server ends the connection (it said why with `* BYE`); the trace's words for it.
    Ended(&'static str),
    Closed,
    Idle,
}

/// The most octets an IMAP literal may hold: a message as large as a server takes by default.
const MAX_LITERAL: usize = crate::scenario::DEFAULT_MAX_MESSAGE_SIZE;

/// The command continuation request that invites a literal's octets (RFC 3501 section 7.5).
pub const CONTINUE: &str = "+ Ready for literal data\r\n";

/// The most a whole IMAP command may hold, literals included: one literal of the largest size,
/// and room for the rest. More literals in one command cannot make it grow past this.
const MAX_COMMAND: usize = MAX_LITERAL + (64 << 10);

/// Answers a command that the reader refuses itself, and has the exchange traced.
fn refuse(
    said: &mut dyn FnMut(&str, &str),
    writer: &mut impl Write,
    client: &str,
    answer: String,
) -> Read {
    said(client, &answer);
    let _ = writer.write_all(format!("{answer}\r\n").as_bytes());
    Read::Answered
}

/// Reads and drops `n` octets; false if the connection ends first.
fn skip(reader: &mut impl BufRead, mut n: usize) -> bool {
    while n > 0 {
        let Ok(buf) = reader.fill_buf() else {
            return false;
        };
        if buf.is_empty() {
            return false;
        }
        let take = buf.len().min(n);
        reader.consume(take);
        n -= take;
    }
    true
}

/// Reads and drops the octets of LITERAL+ literals (`{n+}`), which are not offered, with the
/// rest of the command after each, while the line ends in one: a client that sends them does
/// not wait, and none of its octets may be run as a command. `None` if the connection ends,
/// or the octets would go past [`MAX_COMMAND`].
fn drain_literal_plus(reader: &mut impl BufRead, line: &str) -> Option<()> {
    let mut dropped = 0usize;
    let mut size = literal_at_end(line)
        .filter(|&(_, plus)| plus)
        .map(|(n, _)| n);
    while let Some(n) = size {
        dropped = dropped.checked_add(n).filter(|&d| d <= MAX_COMMAND)?;
        if !skip(reader, n) {
            return None;
        }
        let Read::Line(rest, _) = read_line(reader) else {
            return None;
        };
        if rest.len() > crate::proto::imap::MAX_LINE {
            return None;
        }
        size = literal_at_end(&rest)
            .filter(|&(_, plus)| plus)
            .map(|(n, _)| n);
    }
    Some(())
}

/// Ends the connection with `* BYE` (RFC 3501 section 7.1.5), traced.
fn bye(
    said: &mut dyn FnMut(&str, &str),
    writer: &mut impl Write,
    client: &str,
    why: &'static str,
) -> Read {
    let line = format!("* BYE {why}");
    said(client, &line);
    let _ = writer.write_all(format!("{line}\r\n").as_bytes());
    Read::Ended("closes the connection: it could not read the command to its end")
}

/// An IMAP command whose line ends in a literal's size goes on past it (RFC 3501 section 4.3,
/// section 7.5 for the `+`): the server invites the octets with `+`, reads exactly that many,
/// then the rest of the command on the next line, which may end in another literal. The
/// whole command, CRLFs and octets inside, goes to the engine as one line.
///
/// Refused here, with the command's tag: a literal over [`MAX_LITERAL`], or one that would take
/// the command past [`MAX_COMMAND`] (BAD instead of `+`, so its octets never come); a
/// LITERAL+ (`{n+}`), which is not offered (BAD; its octets come anyway, and are dropped with
/// the rest of the command); and octets that are not UTF-8 (NO: mailsim keeps messages as text
/// and would change them). A line too long to read whole ends the connection with `* BYE`:
/// its lost end may have announced octets that would then be run as commands. `said` hears
/// each exchange as it happens, for the trace: the client's part, and the server's line.
fn with_literals(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    first: String,
    said: &mut dyn FnMut(&str, &str),
) -> Read {
    let mut command = first;
    let tag = crate::proto::imap::tag_of(&command)
        .unwrap_or("*")
        .to_string();
    // Where the part not yet in the trace begins, and where the latest line read begins (a
    // literal's size is looked for there only, never inside the octets before it).
    let (mut traced, mut line_start) = (0, 0);
    loop {
        let line = &command[line_start..];
        let client = &command[traced..];
        if line.len() > crate::proto::imap::MAX_LINE {
            // Cut by `read_line`: what it dropped may have announced octets.
            let answer = format!(
                "{tag} BAD line too long (the limit is {} octets)",
                crate::proto::imap::MAX_LINE
            );
            said(client, &answer);
            let _ = writer.write_all(format!("{answer}\r\n").as_bytes());
            return bye(said, writer, "", "line too long");
        }
        let Some((n, plus)) = literal_at_end(line) else {
            return match traced {
                0 => Read::Line(command, true),
                _ => Read::Gathered { command, traced },
            };
        };
        if plus {
            if drain_literal_plus(reader, line).is_none() {
                return bye(said, writer, client, "a literal that could not be skipped");
            }
            let answer = format!(
                "{tag} BAD LITERAL+ is not offered: wait for the + before the octets (they were dropped)"
            );
            return refuse(said, writer, client, answer);
        }
        if n > MAX_LITERAL || command.len().saturating_add(n) > MAX_COMMAND {
            let answer = format!(
                "{tag} BAD a literal of {n} octets would take the command over the limit of {MAX_COMMAND} octets"
            );
            return refuse(said, writer, client, answer);
        }
        said(client, CONTINUE.trim_end());
        if writer.write_all(CONTINUE.as_bytes()).is_err() {
            return Read::Closed;
        }
        let mut octets = vec![0; n];
        match reader.read_exact(&mut octets) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Read::Idle;
            }
            Err(_) => return Read::Closed,
        }
        let rest = match read_line(reader) {
            Read::Line(rest, _) => rest,
            other => return other,
        };
        let Ok(text) = String::from_utf8(octets) else {
            let client = format!("({n} octets that are not UTF-8){rest}");
            if rest.len() > crate::proto::imap::MAX_LINE
                || drain_literal_plus(reader, &rest).is_none()
            {
                return bye(said, writer, &client, "a literal that could not be skipped");
            }
            let answer = format!(
                "{tag} NO the literal is not UTF-8 text; mailsim keeps messages as text and would change it"
            );
            return refuse(said, writer, &client, answer);
        };
        command.push_str("\r\n");
        traced = command.len();
        command.push_str(&text);
        line_start = command.len();
        command.push_str(&rest);
    }
}

/// Lines as an SMTP server must read them. A bare LF still ends a line (so that `nc` without
/// `-C` can talk to the server), but the end of the message text is only `<CRLF>.<CRLF>`
/// (RFC 5321 section 4.1.1.4, and section 2.3.8 on bare LFs): a "." line next to a bare LF is
/// text, passed on dot-stuffed. Otherwise a client could end the text with `<LF>.<LF>`, which
/// a server in front of this one reads as text, and smuggle a second message in behind it.
struct SmtpLines {
    /// Whether the line before ended with CRLF (the DATA command's line, for the first).
    last_crlf: bool,
}

impl SmtpLines {
    fn take(&mut self, line: String, crlf: bool) -> String {
        let ends_data = crlf && self.last_crlf;
        self.last_crlf = crlf;
        if line == "." && !ends_data {
            "..".to_string()
        } else {
            line
        }
    }
}

fn serve_connection(stream: TcpStream, front: Front, tx: &Sender<Request>, limits: &Limits) {
    let _ = stream.set_read_timeout(Some(limits.idle(front)));
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "an unknown address".into());
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let Some(Some((session, greeting))) = ask(tx, |reply| Request::Open { front, peer, reply })
    else {
        return;
    };
    if writer.write_all(greeting.wire_text().as_bytes()).is_err() {
        let _ = tx.send(Request::Close {
            session,
            why: "lost the connection",
        });
        return;
    }
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut smtp =
        matches!(front, Front::Submission | Front::Smtp).then(|| SmtpLines { last_crlf: true });
    let mut take = |line: String, crlf: bool| match smtp.as_mut() {
        Some(smtp) => smtp.take(line, crlf),
        None => line,
    };
    let imap = front == Front::Imap;
    let mut said = |client: &str, server: &str| {
        let _ = tx.send(Request::Exchange {
            session,
            client: client.to_string(),
            server: server.to_string(),
        });
    };
    // A line read while batching that announces an IMAP literal: it waits for the next round,
    // so that the commands before it are answered before its `+`.
    let mut held: Option<Read> = None;
    loop {
        // Each command, and how much of it the trace already has (an IMAP literal's head).
        let mut lines = Vec::new();
        let first = match held.take().unwrap_or_else(|| read_line(&mut reader)) {
            Read::Line(l, _) if imap => with_literals(&mut reader, &mut writer, l, &mut said),
            read => read,
        };
        // How the connection ended, if it did, once what came before is answered.
        let mut ended = match first {
            Read::Line(l, crlf) => {
                lines.push((take(l, crlf), 0));
                None
            }
            Read::Gathered { command, traced } => {
                lines.push((command, traced));
                None
            }
            Read::Answered => continue,
            end => Some(end),
        };
        // A pipelining client's further lines already here travel in the same request; not
        // one that announces a literal (see `held`), nor past the end of the connection.
        while ended.is_none() && lines.len() < MAX_BATCH && reader.buffer().contains(&b'\n') {
            match read_line(&mut reader) {
                Read::Line(l, crlf) if imap && literal_at_end(&l).is_some() => {
                    held = Some(Read::Line(l, crlf));
                    break;
                }
                Read::Line(l, crlf) => lines.push((take(l, crlf), 0)),
                end => ended = Some(end),
            }
        }
        if !lines.is_empty() {
            let Some(response) = ask(tx, |reply| Request::Lines {
                session,
                lines,
                reply,
            }) else {
                return;
            };
            if !response.lines.is_empty()
                && writer.write_all(response.wire_text().as_bytes()).is_err()
            {
                let _ = tx.send(Request::Close {
                    session,
                    why: "lost the connection",
                });
                return;
            }
            if response.close {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
        let why = match ended {
            None => continue,
            Some(Read::Idle) => {
                let _ = writer.write_all(idle_goodbye(front).as_bytes());
                "closes the idle connection"
            }
            Some(Read::Ended(why)) => why,
            Some(_) => "sees the real client hang up",
        };
        let _ = tx.send(Request::Close { session, why });
        let _ = writer.shutdown(Shutdown::Both);
        return;
    }
}

/// Reads one line without its CRLF (or bare LF), keeping at most [`MAX_LINE`] bytes of it.
/// Bytes that are not UTF-8 become U+FFFD: the engines answer such lines as garbage.
fn read_line(reader: &mut impl BufRead) -> Read {
    let mut line: Vec<u8> = Vec::new();
    // The last byte read so far, kept or not: whether the line ended with CRLF is a fact of
    // what came in, even for a line too long to keep whole.
    let mut last: Option<u8> = None;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Read::Idle;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Read::Closed,
        };
        if buf.is_empty() {
            // End of stream: a last line without its CRLF was never finished, so it is dropped.
            return Read::Closed;
        }
        let (take, found) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        let before_lf = match take {
            1 => last,
            _ => Some(buf[take - 2]),
        };
        last = buf[..take].last().copied();
        reader.consume(take);
        if found {
            return Read::Line(finish(line), before_lf == Some(b'\r'));
        }
    }
}

fn finish(mut line: Vec<u8>) -> String {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Answers DNS queries over UDP from the scenario's zones; anything unreadable is dropped,
/// as a name server drops a datagram it cannot parse.
pub fn dns_loop(socket: UdpSocket, tx: Sender<Request>) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let query = buf[..n].to_vec();
        match ask(&tx, |reply| Request::Dns { query, reply }) {
            Some(Some(answer)) => {
                let _ = socket.send_to(&answer, from);
            }
            Some(None) => {}
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine is handed for these lines (text, ended with CRLF).
    fn handed(lines: &[(&str, bool)]) -> Vec<String> {
        let mut smtp = SmtpLines { last_crlf: true };
        lines
            .iter()
            .map(|&(l, crlf)| smtp.take(l.to_string(), crlf))
            .collect()
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_message_text() {
        assert_eq!(
            handed(&[("DATA", true), ("hi", true), (".", true)]),
            ["DATA", "hi", "."]
        );
        // <LF>.<LF>, <CRLF>.<LF> and <LF>.<CRLF> are text, so nothing can be smuggled after them.
        for (before, dot) in [(false, false), (true, false), (false, true)] {
            let got = handed(&[
                ("hi", before),
                (".", dot),
                ("MAIL FROM:<x@y.example>", true),
            ]);
            assert_eq!(
                got,
                ["hi", "..", "MAIL FROM:<x@y.example>"],
                "{before} {dot}"
            );
        }
        // A bare LF elsewhere still ends a line: `nc` without -C can send commands.
        assert_eq!(
            handed(&[("NOOP", false), ("QUIT", false)]),
            ["NOOP", "QUIT"]
        );
    }

    #[test]
    fn a_line_too_long_to_keep_still_ends_with_its_crlf() {
        let long = "x".repeat(MAX_LINE + 900);
        let text = format!("{long}\r\n.\r\nNOOP\n");
        // A small buffer, so that the line ends in a later read than the one it starts in.
        let mut reader = std::io::BufReader::with_capacity(64, text.as_bytes());
        let mut lines = Vec::new();
        while let Read::Line(line, crlf) = read_line(&mut reader) {
            lines.push((line.len(), crlf));
        }
        assert_eq!(lines, [(MAX_LINE + 1, true), (1, true), (4, false)]);
        // So the "." after it ends the message text.
        let mut smtp = SmtpLines { last_crlf: true };
        smtp.take("x".repeat(MAX_LINE + 1), true);
        assert_eq!(smtp.take(".".into(), true), ".");
    }
}
