//! The SMTP server engine: one per connection, sans-IO. Decisions that need the host's state
//! (who the users are, which domains are local, where accepted mail goes) are asked of an
//! [`SmtpPolicy`], so the same engine serves an MX, a submission server and a test double.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::wire::{Command, MailParams, Reply, ReplyCode, ReversePath, WireError};
use super::{MAX_RECIPIENTS, MAX_TEXT_LINE};
use crate::mail::{Address, Message};
use crate::proto::Response;

/// How a server presents itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The name in the greeting and in `Received:` stamps.
    pub hostname: String,
    /// A submission server (RFC 6409): it offers AUTH and requires it before MAIL.
    pub submission: bool,
    /// The SIZE limit it announces and enforces (RFC 1870).
    pub max_message_size: usize,
}

/// What the server knows about the client, handed to the policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// The client's address as the connection shows it.
    pub client_ip: String,
    /// The name the client gave in EHLO or HELO.
    pub helo: Option<String>,
    /// Whether the client greeted with EHLO (the `Received:` stamp says ESMTP then).
    pub esmtp: bool,
    /// The login that authenticated, if any.
    pub authenticated: Option<String>,
}

/// The envelope of one transaction: the reverse path and the accepted forward paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub mail_from: ReversePath,
    pub rcpt_to: Vec<Address>,
}

/// The policy's verdict on one RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptDecision {
    Accept,
    Reject(Reply),
}

/// A message the host took responsibility for (RFC 5321 section 6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub queue_id: String,
}

/// The host's side of an SMTP session.
pub trait SmtpPolicy {
    /// Checks AUTH credentials.
    fn authenticate(&mut self, login: &str, password: &str) -> bool;
    /// Whether mail for this domain is ours to take without authentication.
    fn is_local_domain(&self, domain: &str) -> bool;
    /// Decides on one recipient after the relay check passed.
    fn check_recipient(
        &mut self,
        session: &SessionInfo,
        from: &ReversePath,
        rcpt: &Address,
        now_ms: u64,
    ) -> RcptDecision;
    /// Answers VRFY (RFC 5321 section 3.5.1).
    fn verify(&mut self, name: &str) -> Reply;
    /// Takes a complete message, or refuses it with the reply to send.
    fn accept_message(
        &mut self,
        session: &SessionInfo,
        envelope: Envelope,
        message: Message,
        now_ms: u64,
    ) -> Result<Accepted, Reply>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Greeted, waiting for EHLO or HELO.
    Connected,
    /// Between transactions.
    Ready,
    /// After MAIL.
    Mail,
    /// Reading message text after 354.
    Data,
    /// After `AUTH PLAIN` without an initial response: the next line is the response.
    AuthPlain,
    /// After `AUTH LOGIN`: the next line is the user name, then the password.
    AuthLoginUser,
    AuthLoginPassword(String),
    Closed,
}

/// After this many bad commands the server hangs up (a defence real servers have too).
const MAX_ERRORS: u32 = 10;

/// An SMTP server session.
pub struct SmtpServer {
    config: ServerConfig,
    state: State,
    session: SessionInfo,
    mail_from: Option<ReversePath>,
    rcpt_to: Vec<Address>,
    data: String,
    /// The SIZE the client declared for this transaction.
    declared_size: usize,
    data_too_big: bool,
    data_line_too_long: bool,
    errors: u32,
}

impl SmtpServer {
    pub fn new(config: ServerConfig, client_ip: &str) -> SmtpServer {
        SmtpServer {
            config,
            state: State::Connected,
            session: SessionInfo {
                client_ip: client_ip.to_string(),
                ..SessionInfo::default()
            },
            mail_from: None,
            rcpt_to: Vec::new(),
            data: String::new(),
            declared_size: 0,
            data_too_big: false,
            data_line_too_long: false,
            errors: 0,
        }
    }

    pub fn session(&self) -> &SessionInfo {
        &self.session
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the session is inside DATA (a hang-up now loses only this unfinished message).
    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Changes the SIZE limit mid-session: live mode's one port 25 speaks for several MXs and
    /// learns which one at RCPT, before DATA.
    pub fn set_max_message_size(&mut self, octets: usize) {
        self.config.max_message_size = octets;
    }

    /// The 220 greeting (RFC 5321 section 4.3.1).
    pub fn greeting(&mut self) -> Response {
        // Section 4.2: 220, the server's name first. Every connection begins with it, so it is
        // written straight into its wire form.
        Response::line(crate::cat!("220 ", self.config.hostname, " ESMTP mailsim"))
    }

    /// How long the server waits for the client in this state (RFC 5321 section 4.5.3.2).
    pub fn idle_timeout_ms(&self) -> u64 {
        match self.state {
            State::Data => 10 * 60_000,
            _ => 5 * 60_000,
        }
    }

    /// The client stayed silent too long: 421 and close (section 4.5.3.2).
    pub fn on_timeout(&mut self) -> Response {
        self.state = State::Closed;
        closing(Reply::new(
            ReplyCode::SERVICE_NOT_AVAILABLE,
            format!("4.4.2 {} Error: timeout exceeded", self.config.hostname),
        ))
    }

    /// Handles one line from the client (without CRLF).
    pub fn on_line(&mut self, line: &str, policy: &mut dyn SmtpPolicy, now_ms: u64) -> Response {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => Response::default(),
            State::Data => {
                self.state = State::Data;
                self.on_data_line(line, policy, now_ms)
            }
            State::AuthPlain => self.finish_auth_plain(line, policy),
            State::AuthLoginUser => {
                if line == "*" {
                    return self.auth_cancelled();
                }
                match decode_b64(line) {
                    Some(user) => {
                        self.state = State::AuthLoginPassword(user);
                        // "Password:" in base64 (RFC 4954 section 4 leaves the challenge text free).
                        says(ReplyCode::AUTH_CONTINUE, "UGFzc3dvcmQ6")
                    }
                    None => self.auth_malformed(),
                }
            }
            State::AuthLoginPassword(user) => {
                if line == "*" {
                    return self.auth_cancelled();
                }
                match decode_b64(line) {
                    Some(password) => self.finish_auth(&user, &password, policy),
                    None => self.auth_malformed(),
                }
            }
            state => {
                self.state = state;
                match Command::parse(line) {
                    Ok(command) => self.on_command(command, policy, now_ms),
                    Err(e) => self.error(e.reply()),
                }
            }
        }
    }

    fn on_command(
        &mut self,
        command: Command,
        policy: &mut dyn SmtpPolicy,
        now_ms: u64,
    ) -> Response {
        match command {
            Command::Ehlo(name) => {
                self.greeted(name, true);
                // Every session begins so: the multi-line reply (section 4.2.1) is written
                // straight into its wire form rather than built line by line.
                let auth = if self.config.submission {
                    "\r\n250-AUTH PLAIN LOGIN"
                } else {
                    ""
                };
                Response::line(crate::cat!(
                    "250-",
                    self.config.hostname,
                    " greets ",
                    self.session.helo.as_deref().unwrap_or(""),
                    "\r\n250-SIZE ",
                    self.config.max_message_size,
                    "\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES",
                    auth,
                    "\r\n250 HELP"
                ))
            }
            Command::Helo(name) => {
                self.greeted(name, false);
                reply(Reply::new(ReplyCode::OK, self.config.hostname.clone()))
            }
            Command::Quit => {
                self.state = State::Closed;
                says_and_closes(ReplyCode::CLOSING, "2.0.0 Bye")
            }
            Command::Noop(_) => says(ReplyCode::OK, "2.0.0 Ok"),
            Command::Rset => {
                self.reset_transaction();
                if self.state != State::Connected {
                    self.state = State::Ready;
                }
                says(ReplyCode::OK, "2.0.0 Ok")
            }
            Command::Help(_) => reply(Reply::multi(
                ReplyCode::HELP,
                vec![
                    "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT AUTH".into(),
                    "2.0.0 See RFC 5321".into(),
                ],
            )),
            Command::Vrfy(name) => reply(policy.verify(&name)),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(&mechanism, initial_response, policy),
            Command::Mail { from, params } => self.on_mail(from, &params),
            // No extension offered takes RCPT parameters (DSN's NOTIFY is not offered).
            Command::Rcpt { params, .. } if !params.is_empty() && self.state == State::Mail => {
                let first = params.iter().next().map_or("", |p| p.keyword);
                self.unsupported_parameter(first)
            }
            Command::Rcpt { to, .. } => self.on_rcpt(to, policy, now_ms),
            Command::Data => match self.state {
                State::Mail if !self.rcpt_to.is_empty() => {
                    self.state = State::Data;
                    self.data.clear();
                    // The size the client declared in MAIL FROM (RFC 1870), within the limit.
                    self.data
                        .reserve(self.declared_size.min(self.config.max_message_size));
                    self.data_too_big = false;
                    self.data_line_too_long = false;
                    says(
                        ReplyCode::START_MAIL_INPUT,
                        "End data with <CR><LF>.<CR><LF>",
                    )
                }
                State::Mail => self.error(Reply::new(
                    ReplyCode::BAD_SEQUENCE,
                    "5.5.1 Error: need RCPT command",
                )),
                _ => self.error(Reply::new(
                    ReplyCode::BAD_SEQUENCE,
                    "5.5.1 Error: need MAIL command",
                )),
            },
        }
    }

    fn greeted(&mut self, name: String, esmtp: bool) {
        self.reset_transaction();
        self.session.helo = Some(name);
        self.session.esmtp = esmtp;
        self.state = State::Ready;
    }

    fn on_mail(&mut self, from: ReversePath, params: &MailParams) -> Response {
        match self.state {
            State::Connected => {
                return self.error(Reply::new(
                    ReplyCode::BAD_SEQUENCE,
                    "5.5.1 Error: send HELO/EHLO first",
                ));
            }
            State::Mail => {
                return self.error(Reply::new(
                    ReplyCode::BAD_SEQUENCE,
                    "5.5.1 Error: nested MAIL command",
                ));
            }
            _ => {}
        }
        // RFC 6409 section 4.3 and RFC 4954 section 6: submission needs authentication first.
        if self.config.submission && self.session.authenticated.is_none() {
            return says(ReplyCode::AUTH_REQUIRED, "5.7.0 Authentication required");
        }
        // Section 4.1.1.11: a parameter the server does not know gets 555. It knows those of the
        // extensions its EHLO offers: SIZE (RFC 1870), BODY (8BITMIME, RFC 6152), and AUTH
        // (RFC 4954 section 5) where it offers AUTH.
        if let Some(p) = params.iter().find(|p| {
            !(p.keyword == "SIZE"
                || p.keyword == "BODY"
                    && p.value.is_some_and(|v| {
                        v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME")
                    })
                || p.keyword == "AUTH" && self.config.submission)
        }) {
            return self.unsupported_parameter(p.keyword);
        }
        // RFC 1870: a declared SIZE over the limit is refused before any data is sent.
        if let Some(size) = params
            .iter()
            .find(|p| p.keyword == "SIZE")
            .and_then(|p| p.value)
        {
            match size.parse::<usize>() {
                Ok(n) if n > self.config.max_message_size => {
                    return says(
                        ReplyCode::EXCEEDED_STORAGE,
                        "5.3.4 Message size exceeds fixed limit",
                    );
                }
                Ok(n) => self.declared_size = n,
                Err(_) => {
                    return self.error(Reply::new(
                        ReplyCode::PARAMETER_ERROR,
                        "5.5.4 Bad SIZE value",
                    ));
                }
            }
        }
        self.mail_from = Some(from);
        self.state = State::Mail;
        says(ReplyCode::OK, "2.1.0 Ok")
    }

    fn on_rcpt(&mut self, to: Address, policy: &mut dyn SmtpPolicy, now_ms: u64) -> Response {
        if self.state != State::Mail {
            return self.error(Reply::new(
                ReplyCode::BAD_SEQUENCE,
                "5.5.1 Error: need MAIL command",
            ));
        }
        if self.rcpt_to.len() >= MAX_RECIPIENTS {
            // Section 4.5.3.1.10: too many recipients is 452, and the client sends the rest later.
            return says(
                ReplyCode::INSUFFICIENT_STORAGE,
                "4.5.3 Error: too many recipients",
            );
        }
        // Section 3.6.2 and RFC 6409 section 4: without authentication a server takes mail only for
        // its own domains; anything else would make it an open relay. A policy refusal to relay
        // "SHOULD" be 550 (section 3.6.2), with 5.7.1, "delivery not authorized" (RFC 3463).
        if self.session.authenticated.is_none() && !policy.is_local_domain(to.domain()) {
            return reply(Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                format!("5.7.1 <{to}>: Relay access denied"),
            ));
        }
        let from = self.mail_from.as_ref().unwrap_or(&ReversePath::Null);
        match policy.check_recipient(&self.session, from, &to, now_ms) {
            RcptDecision::Accept => {
                self.rcpt_to.push(to);
                says(ReplyCode::OK, "2.1.5 Ok")
            }
            RcptDecision::Reject(r) => reply(r),
        }
    }

    /// While a message's text is coming in (after 354), takes the plain lines at the front of
    /// `text` in one copy and returns how many bytes it took; the rest goes through
    /// [`on_line`](Self::on_line) as usual. A plain line ends in CRLF, does not start with a dot
    /// (the end of the text, or a dot to remove: section 4.5.2), fits the line limit of section
    /// 4.5.3.1.6 and the message size: what `on_line` would store unchanged, here without a
    /// reply or a call per line (a message's body is most of its lines).
    pub fn take_body_lines(&mut self, text: &str) -> usize {
        if self.state != State::Data || self.data_too_big || self.data_line_too_long {
            return 0;
        }
        let bytes = text.as_bytes();
        let mut taken = 0;
        for lf in memchr::memchr_iter(b'\n', bytes) {
            let plain = lf > taken
                && bytes[taken] != b'.'
                && bytes[lf - 1] == b'\r'
                && lf + 1 - taken <= MAX_TEXT_LINE;
            if !plain {
                break;
            }
            taken = lf + 1;
        }
        // Over the size limit: line by line, which marks the message too big where it happens.
        if self.data.len() + taken > self.config.max_message_size {
            return 0;
        }
        self.data.push_str(&text[..taken]);
        taken
    }

    fn on_data_line(&mut self, line: &str, policy: &mut dyn SmtpPolicy, now_ms: u64) -> Response {
        if line == "." {
            self.state = State::Ready;
            let data = std::mem::take(&mut self.data);
            let result = if self.data_line_too_long {
                Err(Reply::new(
                    ReplyCode::SYNTAX_ERROR,
                    "5.5.6 Error: line too long",
                ))
            } else if self.data_too_big {
                Err(Reply::new(
                    ReplyCode::EXCEEDED_STORAGE,
                    "5.3.4 Message size exceeds fixed limit",
                ))
            } else {
                let envelope = Envelope {
                    mail_from: self.mail_from.take().unwrap_or(ReversePath::Null),
                    rcpt_to: std::mem::take(&mut self.rcpt_to),
                };
                policy
                    .accept_message(
                        &self.session,
                        envelope,
                        Message::from_crlf_text(data),
                        now_ms,
                    )
                    .map(|a| {
                        Reply::new(
                            ReplyCode::OK,
                            crate::cat!("2.0.0 Ok: queued as ", a.queue_id),
                        )
                    })
            };
            self.reset_transaction();
            return reply(result.unwrap_or_else(|r| r));
        }
        if line.len() + 2 > MAX_TEXT_LINE {
            self.data_line_too_long = true;
        }
        // Section 4.5.2: remove the extra leading dot the client added.
        let line = line.strip_prefix('.').unwrap_or(line);
        if self.data.len() + line.len() + 2 > self.config.max_message_size {
            // Keep reading to the end so the session stays in step, but hold no more text.
            self.data_too_big = true;
        } else if !self.data_too_big && !self.data_line_too_long {
            self.data.push_str(line);
            self.data.push_str("\r\n");
        }
        Response::default()
    }

    fn on_auth(
        &mut self,
        mechanism: &str,
        initial: Option<String>,
        policy: &mut dyn SmtpPolicy,
    ) -> Response {
        if !self.config.submission {
            return self.error(Reply::new(
                ReplyCode::NOT_IMPLEMENTED,
                "5.5.1 Error: authentication not enabled",
            ));
        }
        if self.state == State::Connected {
            return self.error(Reply::new(
                ReplyCode::BAD_SEQUENCE,
                "5.5.1 Error: send EHLO first",
            ));
        }
        if self.session.authenticated.is_some() {
            return self.error(Reply::new(
                ReplyCode::BAD_SEQUENCE,
                "5.5.1 Error: already authenticated",
            ));
        }
        if self.state == State::Mail {
            return self.error(Reply::new(
                ReplyCode::BAD_SEQUENCE,
                "5.5.1 Error: MAIL transaction in progress",
            ));
        }
        match (mechanism, initial) {
            ("PLAIN", Some(response)) => {
                self.state = State::Ready;
                self.finish_auth_plain(&response, policy)
            }
            ("PLAIN", None) => {
                self.state = State::AuthPlain;
                says(ReplyCode::AUTH_CONTINUE, "")
            }
            ("LOGIN", None) => {
                self.state = State::AuthLoginUser;
                // "Username:" in base64.
                says(ReplyCode::AUTH_CONTINUE, "VXNlcm5hbWU6")
            }
            ("LOGIN", Some(user)) => match decode_b64(&user) {
                Some(user) => {
                    self.state = State::AuthLoginPassword(user);
                    says(ReplyCode::AUTH_CONTINUE, "UGFzc3dvcmQ6")
                }
                None => self.auth_malformed(),
            },
            _ => self.error(Reply::new(
                ReplyCode::PARAMETER_NOT_IMPLEMENTED,
                "5.5.4 Unrecognized authentication type",
            )),
        }
    }

    /// AUTH PLAIN: base64 of `authzid NUL authcid NUL password` (RFC 4616 section 2).
    fn finish_auth_plain(&mut self, response: &str, policy: &mut dyn SmtpPolicy) -> Response {
        if response == "*" {
            return self.auth_cancelled();
        }
        let Some(decoded) = decode_b64(response) else {
            return self.auth_malformed();
        };
        // RFC 4616 section 2: authzid NUL authcid NUL passwd.
        let mut parts = decoded.split('\0');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            // Acting for another user (an authorization identity that is not the login) is
            // not allowed here: the login fails, as the server decides (section 2).
            (Some(authzid), Some(user), Some(password), None)
                if authzid.is_empty() || same_login(authzid, user) =>
            {
                self.finish_auth(user, password, policy)
            }
            (Some(_), Some(_), Some(_), None) => self.auth_failed(),
            _ => self.auth_malformed(),
        }
    }

    fn finish_auth(&mut self, user: &str, password: &str, policy: &mut dyn SmtpPolicy) -> Response {
        self.state = State::Ready;
        if policy.authenticate(user, password) {
            self.session.authenticated = Some(user.to_string());
            says(ReplyCode::AUTH_SUCCEEDED, "2.7.0 Authentication successful")
        } else {
            self.auth_failed()
        }
    }

    /// 535 5.7.8 (RFC 4954 section 6), counted as an error.
    fn auth_failed(&mut self) -> Response {
        self.state = State::Ready;
        self.error(Reply::new(
            ReplyCode::AUTH_INVALID,
            "5.7.8 Error: authentication failed",
        ))
    }

    /// 555 for a MAIL or RCPT parameter the server does not know (section 4.1.1.11).
    fn unsupported_parameter(&mut self, keyword: &str) -> Response {
        self.error(Reply::new(
            ReplyCode::PARAMETERS_NOT_RECOGNIZED,
            format!("5.5.4 Unsupported option: {keyword}"),
        ))
    }

    fn auth_cancelled(&mut self) -> Response {
        self.state = State::Ready;
        self.error(Reply::new(
            ReplyCode::PARAMETER_ERROR,
            "5.7.0 Authentication aborted",
        ))
    }

    fn auth_malformed(&mut self) -> Response {
        self.state = State::Ready;
        self.error(Reply::new(
            ReplyCode::PARAMETER_ERROR,
            "5.5.2 Cannot decode response",
        ))
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
        self.data.clear();
    }

    /// Counts an error and answers it; too many and the server closes with 421.
    fn error(&mut self, r: Reply) -> Response {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.state = State::Closed;
            let mut out = reply(r);
            out.push(
                Reply::new(
                    ReplyCode::SERVICE_NOT_AVAILABLE,
                    "4.7.0 Too many errors, closing connection",
                )
                .to_wire(),
            );
            out.close = true;
            return out;
        }
        reply(r)
    }
}

/// A reply as one block of text: a multi-line reply travels as one piece.
fn reply(r: Reply) -> Response {
    Response::line(r.to_wire())
}

fn closing(r: Reply) -> Response {
    Response::closing(r.to_wire())
}

/// A one-line reply with fixed text, written straight to the wire form: the replies every
/// session sends (250, 354, 221, 235) skip building a [`Reply`] first.
fn says(code: ReplyCode, text: &str) -> Response {
    Response::line(Reply::wire_line(code, text))
}

fn says_and_closes(code: ReplyCode, text: &str) -> Response {
    Response::closing(Reply::wire_line(code, text))
}

fn decode_b64(text: &str) -> Option<String> {
    BASE64
        .decode(text.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

impl From<WireError> for Reply {
    fn from(e: WireError) -> Reply {
        e.reply()
    }
}
/// Whether two logins name the same user: equal but for case, or one the local part of the
/// other (logins may be the whole address or its local part).
fn same_login(a: &str, b: &str) -> bool {
    fn local(s: &str) -> &str {
        s.split('@').next().unwrap_or("")
    }
    a.eq_ignore_ascii_case(b)
        || (!a.contains('@') || !b.contains('@')) && local(a).eq_ignore_ascii_case(local(b))
}
