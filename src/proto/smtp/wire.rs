//! SMTP commands and replies as typed values, to and from their wire text (RFC 5321 section 4.1).

use std::fmt;

use crate::mail::{Address, AddressError};

/// A reply code (RFC 5321 section 4.2.3). Clients act on the first digit (section 4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyCode(pub u16);

impl ReplyCode {
    /// 214: help message.
    pub const HELP: ReplyCode = ReplyCode(214);
    /// 220: `<domain>` Service ready (the greeting).
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// 221: closing transmission channel (answer to QUIT).
    pub const CLOSING: ReplyCode = ReplyCode(221);
    /// 235: authentication succeeded (RFC 4954 section 6).
    pub const AUTH_SUCCEEDED: ReplyCode = ReplyCode(235);
    /// 250: requested mail action okay, completed.
    pub const OK: ReplyCode = ReplyCode(250);
    /// 252: cannot VRFY user, but will accept the message and attempt delivery.
    pub const CANNOT_VERIFY: ReplyCode = ReplyCode(252);
    /// 334: server challenge, go on with AUTH (RFC 4954 section 4).
    pub const AUTH_CONTINUE: ReplyCode = ReplyCode(334);
    /// 354: start mail input; end with `<CRLF>.<CRLF>`.
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode(354);
    /// 421: service not available, closing transmission channel.
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// 450: mailbox unavailable, try again later (greylisting uses 450 or 451).
    pub const MAILBOX_BUSY: ReplyCode = ReplyCode(450);
    /// 451: local error in processing, try again later.
    pub const LOCAL_ERROR: ReplyCode = ReplyCode(451);
    /// 452: insufficient system storage (also: too many recipients, section 4.5.3.1.10).
    pub const INSUFFICIENT_STORAGE: ReplyCode = ReplyCode(452);
    /// 500: syntax error, command unrecognized (also: line too long).
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// 501: syntax error in parameters or arguments.
    pub const PARAMETER_ERROR: ReplyCode = ReplyCode(501);
    /// 502: command not implemented.
    pub const NOT_IMPLEMENTED: ReplyCode = ReplyCode(502);
    /// 503: bad sequence of commands.
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// 504: command parameter not implemented.
    pub const PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode(504);
    /// 530: authentication required (RFC 4954 section 6).
    pub const AUTH_REQUIRED: ReplyCode = ReplyCode(530);
    /// 535: authentication credentials invalid (RFC 4954 section 6).
    pub const AUTH_INVALID: ReplyCode = ReplyCode(535);
    /// 550: mailbox unavailable (no such user; policy refusal).
    pub const MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode(550);
    /// 552: exceeded storage allocation (message too big for SIZE).
    pub const EXCEEDED_STORAGE: ReplyCode = ReplyCode(552);
    /// 554: transaction failed (errors at the end of DATA, a message that loops).
    pub const TRANSACTION_FAILED: ReplyCode = ReplyCode(554);
    /// 555: MAIL FROM/RCPT TO parameters not recognized or not implemented (section 4.1.1.11).
    pub const PARAMETERS_NOT_RECOGNIZED: ReplyCode = ReplyCode(555);
    /// 556: domain does not accept mail (RFC 7504; sent for a null MX, RFC 7505 section 3).
    pub const DOMAIN_NO_MAIL: ReplyCode = ReplyCode(556);

    /// The three digits, without the formatting machinery.
    fn digits(self) -> [u8; 3] {
        let c = self.0.min(999);
        [c / 100, c / 10 % 10, c % 10].map(|d| b'0' + d as u8)
    }

    pub fn is_positive(self) -> bool {
        self.0 < 400
    }

    /// 4xx: a transient failure: queue and try again later.
    pub fn is_transient(self) -> bool {
        (400..500).contains(&self.0)
    }

    /// 5xx: a permanent failure: give up and bounce.
    pub fn is_permanent(self) -> bool {
        self.0 >= 500
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A reply: a code and one or more text lines (RFC 5321 section 4.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: ReplyCode,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: ReplyCode, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    pub fn multi(code: ReplyCode, lines: Vec<String>) -> Reply {
        Reply { code, lines }
    }

    /// The wire lines, `250-first`, ..., `250 last`, without CRLF.
    pub fn to_lines(&self) -> Vec<String> {
        let n = self.lines.len().max(1);
        (0..n)
            .map(|i| {
                let mut line = String::new();
                self.push_line(&mut line, i, n);
                line
            })
            .collect()
    }

    /// The whole reply as one text, lines joined by CRLF, without a final CRLF.
    pub fn to_wire(&self) -> String {
        let n = self.lines.len().max(1);
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.len() + 6).sum());
        for i in 0..n {
            if i > 0 {
                out.push_str("\r\n");
            }
            self.push_line(&mut out, i, n);
        }
        out
    }

    /// Appends line `i` of `n`: the code, `-` or a space, the text. Built by hand, as every
    /// reply of every session passes through here.
    fn push_line(&self, out: &mut String, i: usize, n: usize) {
        let text = self.lines.get(i).map(String::as_str).unwrap_or("");
        out.reserve(4 + text.len());
        let digits = self.code.digits();
        out.extend(digits.map(char::from));
        out.push(if i + 1 == n { ' ' } else { '-' });
        out.push_str(text);
    }

    /// One wire line `CODE text`, without CRLF: [`Reply::to_wire`] for a one-line reply.
    pub fn wire_line(code: ReplyCode, text: &str) -> String {
        let mut out = String::with_capacity(4 + text.len());
        out.extend(code.digits().map(char::from));
        out.push(' ');
        out.push_str(text);
        out
    }

    /// The text of the first line, for captions and bounces.
    pub fn first_line(&self) -> String {
        format!(
            "{} {}",
            self.code,
            self.lines.first().map(String::as_str).unwrap_or("")
        )
    }

    /// The enhanced status code (RFC 3463) the text starts with, such as `5.1.1`.
    pub fn enhanced_status(&self) -> Option<&str> {
        let first = self.lines.first()?.split(' ').next()?;
        let parts: Vec<&str> = first.split('.').collect();
        (parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .then_some(first)
    }

    /// Parses one reply line into (code, is-last, text).
    pub fn parse_line(line: &str) -> Result<(ReplyCode, bool, &str), WireError> {
        let b = line.as_bytes();
        if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
            return Err(WireError::BadReply(line.to_string()));
        }
        let code: u16 = line[..3]
            .parse()
            .map_err(|_| WireError::BadReply(line.to_string()))?;
        if !(200..600).contains(&code) {
            return Err(WireError::BadReply(line.to_string()));
        }
        match b.get(3) {
            None => Ok((ReplyCode(code), true, "")),
            Some(b' ') => Ok((ReplyCode(code), true, &line[4..])),
            Some(b'-') => Ok((ReplyCode(code), false, &line[4..])),
            Some(_) => Err(WireError::BadReply(line.to_string())),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

/// The reverse path of MAIL FROM: an address, or the null path `<>` that bounces use
/// (RFC 5321 sections 4.5.5 and 6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReversePath {
    Null,
    Address(Address),
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => write!(f, "<>"),
            ReversePath::Address(a) => write!(f, "<{a}>"),
        }
    }
}

impl crate::text::Piece for ReversePath {
    fn size(&self) -> usize {
        match self {
            ReversePath::Null => 2,
            ReversePath::Address(a) => a.size() + 2,
        }
    }
    fn push_to(&self, out: &mut String) {
        out.push('<');
        if let ReversePath::Address(a) = self {
            a.push_to(out);
        }
        out.push('>');
    }
}

/// The parameters of a MAIL or RCPT command, such as `SIZE=1024 BODY=8BITMIME` (RFC 5321
/// section 4.1.2). Kept as one string, `KEYWORD[=value]` separated by single spaces with the
/// keywords in upper case (they are case-insensitive, section 2.4): a command usually has no
/// parameter or one (SIZE), and a list of owned strings cost three allocations for it where
/// this costs one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams(String);

/// One parameter of a [`MailParams`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailParam<'a> {
    pub keyword: &'a str,
    pub value: Option<&'a str>,
}

impl<'a> MailParam<'a> {
    /// `KEYWORD=value`, or a keyword alone: the value starts after the first `=`.
    fn split(p: &'a str) -> MailParam<'a> {
        match p.split_once('=') {
            Some((keyword, value)) => MailParam {
                keyword,
                value: Some(value),
            },
            None => MailParam {
                keyword: p,
                value: None,
            },
        }
    }
}

impl MailParams {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = MailParam<'_>> {
        self.0
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(MailParam::split)
    }

    /// Reads the parameters after a path (`SIZE=75 body=8BITMIME`). Section 4.1.2 separates
    /// them by one space; any run of ASCII white space is taken as one, as real servers do.
    pub fn parse(text: &str) -> MailParams {
        let mut params = MailParams(String::with_capacity(text.len()));
        for p in text.split_ascii_whitespace().map(MailParam::split) {
            params.push(p.keyword, p.value);
        }
        params
    }

    /// Adds a parameter; its keyword is written in upper case. Neither may hold a space, nor
    /// the keyword a `=`, and a parameter is not nothing at all (the grammar of section 4.1.2
    /// allows none of these): they would read back as other parameters. An empty keyword with
    /// a value (`=75` on the wire) is kept as it came, for the server to refuse.
    pub fn push(&mut self, keyword: &str, value: Option<&str>) {
        debug_assert!(
            !keyword.contains([' ', '=']),
            "a keyword with a space or '='"
        );
        debug_assert!(!keyword.is_empty() || value.is_some(), "an empty parameter");
        debug_assert!(value.is_none_or(|v| !v.contains(' ')));
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let start = self.0.len();
        self.0.push_str(keyword);
        self.0[start..].make_ascii_uppercase();
        if let Some(v) = value {
            self.0.push('=');
            self.0.push_str(v);
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, Option<V>)> for MailParams {
    fn from_iter<I: IntoIterator<Item = (K, Option<V>)>>(iter: I) -> Self {
        let mut params = MailParams::default();
        for (k, v) in iter {
            params.push(k.as_ref(), v.as_ref().map(AsRef::as_ref));
        }
        params
    }
}

impl fmt::Display for MailParams {
    /// Each parameter after a space, as they follow the path on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter().try_for_each(|p| match p.value {
            Some(v) => write!(f, " {}={v}", p.keyword),
            None => write!(f, " {}", p.keyword),
        })
    }
}

/// An SMTP command (RFC 5321 section 4.1.1; AUTH from RFC 4954 section 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    /// The forward path; `Postmaster` without a domain is allowed (section 4.5.1).
    Rcpt {
        to: Address,
        params: MailParams,
    },
    Data,
    Rset,
    Noop(Option<String>),
    Vrfy(String),
    Help(Option<String>),
    Quit,
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
}

/// Why a line is not a valid command or reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// 500: the verb is not one mailsim knows.
    UnknownCommand(String),
    /// 501: the verb is known but its arguments are wrong.
    BadArguments(&'static str),
    /// 501 5.1.3: a recipient's address is malformed.
    BadAddress(AddressError),
    /// 501 5.1.7: the sender's address is malformed (RFC 3463 section 3.2, X.1.7).
    BadSenderAddress(AddressError),
    /// 500: longer than section 4.5.3.1.4 allows.
    LineTooLong,
    BadReply(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::UnknownCommand(v) => write!(f, "command {v:?} not recognized"),
            WireError::BadArguments(why) => write!(f, "{why}"),
            WireError::BadAddress(e) | WireError::BadSenderAddress(e) => {
                write!(f, "bad address: {e}")
            }
            WireError::LineTooLong => write!(f, "line too long"),
            WireError::BadReply(l) => write!(f, "not an SMTP reply: {l:?}"),
        }
    }
}

impl WireError {
    /// The reply a server sends for this error (section 4.3.2: 500 or 501).
    pub fn reply(&self) -> Reply {
        match self {
            WireError::UnknownCommand(_) => Reply::new(
                ReplyCode::SYNTAX_ERROR,
                "5.5.2 Syntax error, command unrecognized",
            ),
            WireError::LineTooLong => Reply::new(ReplyCode::SYNTAX_ERROR, "5.5.0 Line too long"),
            WireError::BadAddress(e) => Reply::new(
                ReplyCode::PARAMETER_ERROR,
                format!("5.1.3 Bad address syntax: {e}"),
            ),
            WireError::BadSenderAddress(e) => Reply::new(
                ReplyCode::PARAMETER_ERROR,
                format!("5.1.7 Bad sender address syntax: {e}"),
            ),
            other => Reply::new(ReplyCode::PARAMETER_ERROR, format!("5.5.4 {other}")),
        }
    }
}

impl Command {
    /// Parses a command line without its CRLF. Verbs are case-insensitive (section 2.4).
    pub fn parse(line: &str) -> Result<Command, WireError> {
        if line.len() + 2 > super::MAX_COMMAND_LINE {
            return Err(WireError::LineTooLong);
        }
        let (verb, rest) = match crate::proto::split_once_byte(line, b' ') {
            Some((verb, rest)) => (verb, rest.trim()),
            None => (line, ""),
        };
        let no_args = |cmd: Command| {
            if rest.is_empty() {
                Ok(cmd)
            } else {
                // Section 4.3.2: DATA, RSET and QUIT with arguments SHOULD get 501.
                Err(WireError::BadArguments("this command takes no arguments"))
            }
        };
        // The verb in upper case, without allocating: every known verb has four letters.
        let mut upper = [0u8; 4];
        if verb.len() == 4 {
            upper.copy_from_slice(verb.as_bytes());
            upper.make_ascii_uppercase();
        }
        // Matched as bytes: a str would be checked for UTF-8 on every command.
        match &upper {
            b"EHLO" | b"HELO" if rest.is_empty() => {
                Err(WireError::BadArguments("EHLO and HELO need a domain name"))
            }
            b"EHLO" => Ok(Command::Ehlo(rest.to_string())),
            b"HELO" => Ok(Command::Helo(rest.to_string())),
            b"MAIL" => {
                let sender = |e| match e {
                    WireError::BadAddress(e) => WireError::BadSenderAddress(e),
                    e => e,
                };
                let (path, params) = split_path(rest, "FROM:").map_err(sender)?;
                let from = if path.is_empty() {
                    ReversePath::Null
                } else {
                    ReversePath::Address(
                        Address::parse(path).map_err(|e| sender(WireError::BadAddress(e)))?,
                    )
                };
                Ok(Command::Mail { from, params })
            }
            b"RCPT" => {
                let (path, params) = split_path(rest, "TO:")?;
                let to = if path.eq_ignore_ascii_case("postmaster") {
                    Address::parse("postmaster@localhost").map_err(WireError::BadAddress)?
                } else {
                    Address::parse(path).map_err(WireError::BadAddress)?
                };
                Ok(Command::Rcpt { to, params })
            }
            b"DATA" => no_args(Command::Data),
            b"RSET" => no_args(Command::Rset),
            b"QUIT" => no_args(Command::Quit),
            b"NOOP" => Ok(Command::Noop((!rest.is_empty()).then(|| rest.to_string()))),
            b"VRFY" if rest.is_empty() => Err(WireError::BadArguments("VRFY needs a name")),
            b"VRFY" => Ok(Command::Vrfy(rest.to_string())),
            b"HELP" => Ok(Command::Help((!rest.is_empty()).then(|| rest.to_string()))),
            b"AUTH" => {
                let mut words = rest.split_whitespace();
                let mechanism = words
                    .next()
                    .ok_or(WireError::BadArguments("AUTH needs a mechanism"))?
                    .to_ascii_uppercase();
                let initial_response = words.next().map(str::to_string);
                if words.next().is_some() {
                    return Err(WireError::BadArguments(
                        "AUTH takes a mechanism and one response",
                    ));
                }
                Ok(Command::Auth {
                    mechanism,
                    initial_response,
                })
            }
            _ => Err(WireError::UnknownCommand(verb.to_string())),
        }
    }
}

/// Splits `FROM:<path> PARAM=V ...`, tolerating a space after the colon as real servers do.
fn split_path<'a>(rest: &'a str, keyword: &str) -> Result<(&'a str, MailParams), WireError> {
    let head = rest.get(..keyword.len()).unwrap_or("");
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(WireError::BadArguments(
            "expected FROM:<address> or TO:<address>",
        ));
    }
    let rest = rest[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<').ok_or(WireError::BadArguments(
        "the address must be in angle brackets",
    ))?;
    let end = rest
        .find('>')
        .ok_or(WireError::BadAddress(AddressError::BadCharacter('<')))?;
    let mut path = &rest[..end];
    // A source route `@a,@b:user@c` is ignored (RFC 5321 section 4.1.2 and appendix C).
    if path.starts_with('@')
        && let Some(i) = path.find(':')
    {
        path = &path[i + 1..];
    }
    Ok((path, MailParams::parse(&rest[end + 1..])))
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(d) => write!(f, "EHLO {d}"),
            Command::Helo(d) => write!(f, "HELO {d}"),
            Command::Mail { from, params } => write!(f, "MAIL FROM:{from}{params}"),
            Command::Rcpt { to, params } => write!(f, "RCPT TO:<{to}>{params}"),
            Command::Data => write!(f, "DATA"),
            Command::Rset => write!(f, "RSET"),
            Command::Noop(None) => write!(f, "NOOP"),
            Command::Noop(Some(s)) => write!(f, "NOOP {s}"),
            Command::Vrfy(s) => write!(f, "VRFY {s}"),
            Command::Help(None) => write!(f, "HELP"),
            Command::Help(Some(s)) => write!(f, "HELP {s}"),
            Command::Quit => write!(f, "QUIT"),
            Command::Auth {
                mechanism,
                initial_response: None,
            } => write!(f, "AUTH {mechanism}"),
            Command::Auth {
                mechanism,
                initial_response: Some(r),
            } => write!(f, "AUTH {mechanism} {r}"),
        }
    }
}

/// Dot-stuffs message text for DATA and appends the terminating `.` line (section 4.5.2).
/// Returns the text as sent, lines joined by CRLF, without a CRLF after the final dot.
pub fn dot_stuff(text: &str) -> String {
    // A message's text is CRLF throughout, and a line starting with a dot is rare: then the
    // text goes as it is, copied once, instead of line by line.
    if is_crlf_without_leading_dots(text) {
        let mut out = String::with_capacity(text.len() + 1);
        out.push_str(text);
        out.push('.');
        return out;
    }
    dot_stuff_lines(text)
}

/// Whether every line of `text` ends in CRLF (the last one too) and none starts with a dot.
fn is_crlf_without_leading_dots(text: &str) -> bool {
    let b = text.as_bytes();
    if b.is_empty() {
        return true;
    }
    if b[0] == b'.' || !text.ends_with("\r\n") {
        return false;
    }
    memchr::memchr_iter(b'\n', b).all(|i| i > 0 && b[i - 1] == b'\r' && b.get(i + 1) != Some(&b'.'))
}

/// [`dot_stuff`] line by line, for any text.
fn dot_stuff_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in crate::proto::split_lines(text) {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The quick path of dot-stuffing gives what stuffing line by line gives.
        #[test]
        fn dot_stuffing_quickly_is_stuffing_line_by_line(text in "[.a\r\n]{0,24}") {
            prop_assert_eq!(dot_stuff(&text), dot_stuff_lines(&text));
        }
    }

    #[test]
    fn real_client_habits_parse() {
        // Python's smtplib: lower-case verbs and a SIZE parameter.
        let c = Command::parse("mail FROM:<alice@alpha.example> size=75").unwrap();
        assert_eq!(
            c,
            Command::Mail {
                from: ReversePath::Address(Address::parse("alice@alpha.example").unwrap()),
                params: [("SIZE", Some("75"))].into_iter().collect(),
            }
        );
        assert_eq!(
            Command::parse("MAIL FROM:<>").unwrap(),
            Command::Mail {
                from: ReversePath::Null,
                params: MailParams::default()
            }
        );
        assert!(matches!(
            Command::parse("RCPT TO:<Postmaster>"),
            Ok(Command::Rcpt { .. })
        ));
        assert!(matches!(
            Command::parse("MAIL FROM: <a@b.example>"),
            Ok(Command::Mail { .. })
        ));
    }

    #[test]
    fn odd_parameters_read_back_as_they_came() {
        // An empty keyword, an empty value, a value with `=`, tabs between: each parameter
        // reads back as sent, and the text round-trips (found by the fuzz targets).
        let c = Command::parse("MAIL FROM:<a@b.example> =75 size= BODY=a=b\tx").unwrap();
        let Command::Mail { params, .. } = &c else {
            panic!("{c:?}")
        };
        let read: Vec<_> = params.iter().map(|p| (p.keyword, p.value)).collect();
        assert_eq!(
            read,
            [
                ("", Some("75")),
                ("SIZE", Some("")),
                ("BODY", Some("a=b")),
                ("X", None)
            ]
        );
        assert_eq!(Command::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn errors_map_to_500_and_501() {
        assert_eq!(
            Command::parse("HELLO x").unwrap_err().reply().code,
            ReplyCode::SYNTAX_ERROR
        );
        assert_eq!(
            Command::parse("DATA now").unwrap_err().reply().code,
            ReplyCode::PARAMETER_ERROR
        );
        assert_eq!(
            Command::parse("MAIL TO:<a@b>").unwrap_err().reply().code,
            ReplyCode::PARAMETER_ERROR
        );
        let long = format!("NOOP {}", "x".repeat(600));
        assert_eq!(Command::parse(&long), Err(WireError::LineTooLong));
    }

    /// RFC 3463 section 3.2: a malformed sender is X.1.7, a malformed recipient X.1.3; an
    /// unclosed `<` is a malformed address, as Postfix also answers (tests/fidelity).
    #[test]
    fn bad_addresses_get_the_enhanced_code_of_their_role() {
        let status = |line: &str| {
            let r = Command::parse(line).unwrap_err().reply();
            (r.code, r.enhanced_status().map(str::to_string))
        };
        let code = |s: &str| (ReplyCode::PARAMETER_ERROR, Some(s.to_string()));
        assert_eq!(status("MAIL FROM:<eve@@stranger.example>"), code("5.1.7"));
        assert_eq!(status("MAIL FROM:<eve@stranger.example"), code("5.1.7"));
        assert_eq!(status("RCPT TO:<bob@@beta.example>"), code("5.1.3"));
        assert_eq!(status("RCPT TO:<bob@beta.example"), code("5.1.3"));
        // The command's own syntax stays X.5.4.
        assert_eq!(status("MAIL FROM eve@stranger.example"), code("5.5.4"));
    }

    #[test]
    fn replies_round_trip_multi_line() {
        let r = Reply::multi(
            ReplyCode::OK,
            vec![
                "foo.com greets bar.com".into(),
                "8BITMIME".into(),
                "HELP".into(),
            ],
        );
        let lines = r.to_lines();
        assert_eq!(
            lines,
            ["250-foo.com greets bar.com", "250-8BITMIME", "250 HELP"]
        );
        let parsed: Vec<_> = lines
            .iter()
            .map(|l| Reply::parse_line(l).unwrap())
            .collect();
        assert!(parsed.iter().take(2).all(|(_, last, _)| !last));
        assert!(parsed[2].1);
        assert_eq!(
            Reply::new(ReplyCode(550), "5.1.1 no such user").enhanced_status(),
            Some("5.1.1")
        );
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots() {
        assert_eq!(dot_stuff("a\r\n.b\r\n"), "a\r\n..b\r\n.");
    }

    fn address() -> impl Strategy<Value = Address> {
        (
            "[a-z][a-z0-9.+_-]{0,20}",
            "[a-z][a-z0-9-]{0,10}\\.[a-z]{2,6}",
        )
            .prop_map(|(l, d)| Address::parse(&format!("{l}@{d}")).unwrap())
    }

    fn command() -> impl Strategy<Value = Command> {
        let params = prop::collection::vec(
            (
                "[A-Z][A-Z0-9-]{0,8}",
                prop::option::of("[a-zA-Z0-9+]{1,10}"),
            ),
            0..3,
        )
        .prop_map(|ps| ps.into_iter().collect::<MailParams>());
        prop_oneof![
            "[a-z][a-z0-9.-]{0,30}".prop_map(Command::Ehlo),
            "[a-z][a-z0-9.-]{0,30}".prop_map(Command::Helo),
            (prop::option::of(address()), params.clone()).prop_map(|(a, params)| Command::Mail {
                from: a.map_or(ReversePath::Null, ReversePath::Address),
                params
            }),
            (address(), params).prop_map(|(to, params)| Command::Rcpt { to, params }),
            Just(Command::Data),
            Just(Command::Rset),
            Just(Command::Quit),
            Just(Command::Noop(None)),
            "[a-zA-Z]{1,20}".prop_map(Command::Vrfy),
            (
                "(PLAIN|LOGIN)",
                prop::option::of("[A-Za-z0-9+/]{4,40}={0,2}")
            )
                .prop_map(|(mechanism, initial_response)| Command::Auth {
                    mechanism,
                    initial_response
                }),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in command()) {
            prop_assert_eq!(Command::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn any_line_parses_or_errors_without_panic(line in "\\PC{0,600}") {
            let _ = Command::parse(&line);
            let _ = Reply::parse_line(&line);
        }
    }
}
