//! The SMTP client engine: a mail program submitting (with AUTH) or an MTA relaying.
//! It sends one command at a time, so the transcript reads like RFC 5321 appendix D.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::wire::{Reply, ReplyCode, ReversePath, dot_stuff};
use crate::mail::{Address, Message};

/// One message to hand over on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientJob {
    /// The client's own name for EHLO.
    pub ehlo_name: String,
    /// Login and password for AUTH PLAIN (submission, RFC 6409).
    pub auth: Option<(String, String)>,
    pub mail_from: ReversePath,
    pub rcpt_to: Vec<Address>,
    pub message: Message,
}

/// A reply as it came in: made into a [`Reply`] only when the session keeps it (an outcome or
/// an error), so the replies that merely move the session on are not copied.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    code: ReplyCode,
    /// The earlier lines of a multi-line reply, each followed by a line feed.
    earlier: &'a str,
    last: &'a str,
}

impl Incoming<'_> {
    fn reply(&self) -> Reply {
        if self.earlier.is_empty() {
            return Reply::new(self.code, self.last);
        }
        let mut lines: Vec<String> = self
            .earlier
            .split_terminator('\n')
            .map(str::to_string)
            .collect();
        lines.push(self.last.to_string());
        Reply::multi(self.code, lines)
    }
}

/// What became of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The server took responsibility for it (the reply to the end of DATA).
    Accepted(Reply),
    /// The server's 4xx: try again later (RFC 5321 section 4.2.1).
    Deferred(Reply),
    /// The session ended before the server decided (the connection broke, the transaction was
    /// cut short, a reply could not be read): try again later. The reply is the client's own
    /// words, not the server's, so a bounce must not report it as the server's.
    Unfinished(Reply),
    /// 5xx: give up and bounce.
    Failed(Reply),
}

/// The end of a client session: one outcome per recipient, in RCPT order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOutcome {
    pub results: Vec<(Address, RcptOutcome)>,
}

/// What the client does after one server line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStep {
    /// Text to send, if any: one transmission (a command, or the whole dot-stuffed message).
    pub send: Option<String>,
    pub done: Option<ClientOutcome>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    Helo,
    Auth,
    Mail,
    Rcpt(usize),
    Data,
    Body,
    Quit,
    Done,
}

/// An SMTP client session for one job.
pub struct SmtpClient {
    job: ClientJob,
    state: State,
    /// The lines of a multi-line reply read so far, each followed by a line feed.
    pending: String,
    /// Per recipient: None while undecided, then its outcome.
    results: Vec<Option<RcptOutcome>>,
    /// Recipients the server said 250 to at RCPT time, waiting for the DATA verdict.
    rcpt_ok: Vec<bool>,
}

impl SmtpClient {
    pub fn new(job: ClientJob) -> SmtpClient {
        let n = job.rcpt_to.len();
        SmtpClient {
            job,
            state: State::Greeting,
            // Room for an EHLO reply of seven lines, which would otherwise grow it three times.
            pending: String::with_capacity(256),
            results: vec![None; n],
            rcpt_ok: vec![false; n],
        }
    }

    pub fn job(&self) -> &ClientJob {
        &self.job
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Handles one line from the server (without CRLF).
    pub fn on_line(&mut self, line: &str) -> ClientStep {
        if self.state == State::Done {
            return ClientStep::default();
        }
        let (code, last, text) = match Reply::parse_line(line) {
            Ok(parsed) => parsed,
            Err(_) => {
                // A server that does not speak SMTP: treat it as a failed connection.
                return self.finish_all(RcptOutcome::Unfinished(Reply::new(
                    ReplyCode::SERVICE_NOT_AVAILABLE,
                    format!("unreadable reply {line:?}"),
                )));
            }
        };
        if !last {
            self.pending.push_str(text);
            self.pending.push('\n');
            return ClientStep::default();
        }
        // The buffer of earlier lines is lent to the reply and kept for the next one.
        let mut pending = std::mem::take(&mut self.pending);
        let step = self.on_reply(Incoming {
            code,
            earlier: &pending,
            last: text,
        });
        pending.clear();
        self.pending = pending;
        step
    }

    /// The connection broke before the session ended: whatever is undecided is deferred.
    pub fn on_connection_lost(&mut self) -> ClientOutcome {
        let lost = Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.4.2 connection lost");
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(RcptOutcome::Unfinished(lost.clone()));
        }
        self.state = State::Done;
        self.outcome()
    }

    fn on_reply(&mut self, incoming: Incoming<'_>) -> ClientStep {
        let code = incoming.code;
        let reply = || incoming.reply();
        // 421 may come at any point: the server is closing (section 3.8).
        if code == ReplyCode::SERVICE_NOT_AVAILABLE && self.state != State::Quit {
            return self.finish_all(RcptOutcome::Deferred(reply()));
        }
        match self.state {
            State::Greeting => {
                if code != ReplyCode::SERVICE_READY {
                    return self.give_up(reply());
                }
                self.state = State::Ehlo;
                self.send(crate::cat!("EHLO ", self.job.ehlo_name))
            }
            State::Ehlo if code.is_permanent() => {
                // Section 3.2: an old server that does not know EHLO still knows HELO.
                self.state = State::Helo;
                self.send(crate::cat!("HELO ", self.job.ehlo_name))
            }
            State::Ehlo | State::Helo => {
                if !code.is_positive() {
                    return self.give_up(reply());
                }
                match self.job.auth.clone() {
                    Some((user, password)) => {
                        self.state = State::Auth;
                        let token = BASE64.encode(crate::cat!('\0', user, '\0', password));
                        self.send(crate::cat!("AUTH PLAIN ", token))
                    }
                    None => self.send_mail(),
                }
            }
            State::Auth => {
                if code != ReplyCode::AUTH_SUCCEEDED {
                    return self.give_up(reply());
                }
                self.send_mail()
            }
            State::Mail => {
                if !code.is_positive() {
                    return self.give_up(reply());
                }
                self.send_rcpt(0)
            }
            State::Rcpt(i) => {
                if code.is_positive() {
                    self.rcpt_ok[i] = true;
                } else if code.is_transient() {
                    self.results[i] = Some(RcptOutcome::Deferred(reply()));
                } else {
                    self.results[i] = Some(RcptOutcome::Failed(reply()));
                }
                if i + 1 < self.job.rcpt_to.len() {
                    return self.send_rcpt(i + 1);
                }
                if self.rcpt_ok.iter().any(|ok| *ok) {
                    self.state = State::Data;
                    self.send("DATA".to_string())
                } else {
                    self.quit()
                }
            }
            State::Data => {
                if code != ReplyCode::START_MAIL_INPUT {
                    self.settle_accepted(reply());
                    return self.quit();
                }
                self.state = State::Body;
                let body = dot_stuff(self.job.message.text());
                self.send(body)
            }
            State::Body => {
                self.settle_accepted(reply());
                self.quit()
            }
            State::Quit => {
                self.state = State::Done;
                ClientStep {
                    send: None,
                    done: Some(self.outcome()),
                }
            }
            State::Done => ClientStep::default(),
        }
    }

    fn send(&self, text: String) -> ClientStep {
        ClientStep {
            send: Some(text),
            done: None,
        }
    }

    fn send_mail(&mut self) -> ClientStep {
        self.state = State::Mail;
        let size = self.job.message.len();
        let line = crate::cat!("MAIL FROM:", self.job.mail_from, " SIZE=", size);
        self.send(line)
    }

    fn send_rcpt(&mut self, i: usize) -> ClientStep {
        self.state = State::Rcpt(i);
        let line = crate::cat!("RCPT TO:<", self.job.rcpt_to[i], ">");
        self.send(line)
    }

    /// The verdict on the message applies to every recipient still waiting for one.
    fn settle_accepted(&mut self, reply: Reply) {
        for (i, r) in self.results.iter_mut().enumerate() {
            if r.is_none() && self.rcpt_ok[i] {
                *r = Some(if reply.code.is_positive() {
                    RcptOutcome::Accepted(reply.clone())
                } else if reply.code.is_transient() {
                    RcptOutcome::Deferred(reply.clone())
                } else {
                    RcptOutcome::Failed(reply.clone())
                });
            }
        }
    }

    /// A failure before any recipient: all of them share it; say QUIT politely.
    fn give_up(&mut self, reply: Reply) -> ClientStep {
        let outcome = if reply.code.is_transient() {
            RcptOutcome::Deferred(reply)
        } else {
            RcptOutcome::Failed(reply)
        };
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(outcome.clone());
        }
        self.quit()
    }

    fn quit(&mut self) -> ClientStep {
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            // Accepted at RCPT but the transaction never completed.
            *r = Some(RcptOutcome::Unfinished(Reply::new(
                ReplyCode::LOCAL_ERROR,
                "4.3.0 transaction not completed",
            )));
        }
        self.state = State::Quit;
        self.send("QUIT".to_string())
    }

    fn finish_all(&mut self, outcome: RcptOutcome) -> ClientStep {
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(outcome.clone());
        }
        self.state = State::Done;
        ClientStep {
            send: None,
            done: Some(self.outcome()),
        }
    }

    fn outcome(&self) -> ClientOutcome {
        ClientOutcome {
            results: self
                .job
                .rcpt_to
                .iter()
                .cloned()
                .zip(self.results.iter().cloned().map(|r| {
                    r.unwrap_or_else(|| {
                        RcptOutcome::Unfinished(Reply::new(
                            ReplyCode::LOCAL_ERROR,
                            "4.3.0 no verdict",
                        ))
                    })
                }))
                .collect(),
        }
    }
}
