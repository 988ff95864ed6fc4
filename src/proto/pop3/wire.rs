//! POP3 commands as typed values, to and from their wire text (RFC 1939 sections 3 to 7; CAPA
//! from RFC 2449), with the APOP digest and the byte-stuffing of multi-line responses.

use std::fmt;

use md5::{Digest, Md5};

/// RFC 2449 section 4: a command line is at most 255 octets, its CRLF included.
pub const MAX_COMMAND_LINE: usize = 255;

/// One client command. Message numbers count from 1 (RFC 1939 section 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    User(String),
    /// The rest of the line after `PASS `: section 7 lets a password hold spaces.
    Pass(String),
    /// The digest in lower-case hex.
    Apop {
        name: String,
        digest: String,
    },
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    /// The header and the first `lines` lines of the body.
    Top {
        msg: u32,
        lines: u32,
    },
    Dele(u32),
    Rset,
    Noop,
    Quit,
    Capa,
}

/// Why a line is not a command the server can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The verb, as sent.
    Unknown(String),
    BadArguments(&'static str),
    /// Longer than [`MAX_COMMAND_LINE`].
    TooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Unknown(v) => write!(f, "unknown command {v:?}"),
            WireError::BadArguments(why) => f.write_str(why),
            WireError::TooLong => write!(f, "command line longer than {MAX_COMMAND_LINE} octets"),
        }
    }
}

impl std::error::Error for WireError {}

/// A decimal number of digits only: Rust's `parse` would also take `+5`, which POP3 does not.
fn decimal(arg: &str) -> Option<u32> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

fn message_number(arg: &str) -> Result<u32, WireError> {
    decimal(arg)
        .filter(|n| *n > 0)
        .ok_or(WireError::BadArguments(
            "a message number is a decimal number from 1",
        ))
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Command {
    /// Parses a command line without its CRLF. Verbs are case-insensitive (RFC 1939 section 3);
    /// arguments are separated by spaces.
    pub fn parse(line: &str) -> Result<Command, WireError> {
        if line.len() + 2 > MAX_COMMAND_LINE {
            return Err(WireError::TooLong);
        }
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        let bad = |why| Err(WireError::BadArguments(why));
        match (verb.to_ascii_uppercase().as_str(), args.as_slice()) {
            ("USER", [name]) => Ok(Command::User(name.to_string())),
            ("USER", _) => bad("USER takes one name"),
            ("PASS", _) if !rest.is_empty() => Ok(Command::Pass(rest.to_string())),
            ("PASS", _) => bad("PASS takes a password"),
            ("APOP", [name, digest]) if is_md5_hex(digest) => Ok(Command::Apop {
                name: name.to_string(),
                digest: digest.to_ascii_lowercase(),
            }),
            ("APOP", _) => bad("APOP takes a name and a 32-digit hex MD5 digest"),
            ("STAT", []) => Ok(Command::Stat),
            ("LIST", []) => Ok(Command::List(None)),
            ("LIST", [n]) => Ok(Command::List(Some(message_number(n)?))),
            ("UIDL", []) => Ok(Command::Uidl(None)),
            ("UIDL", [n]) => Ok(Command::Uidl(Some(message_number(n)?))),
            ("LIST" | "UIDL", _) => bad("LIST and UIDL take at most one message number"),
            ("RETR", [n]) => Ok(Command::Retr(message_number(n)?)),
            ("DELE", [n]) => Ok(Command::Dele(message_number(n)?)),
            ("RETR" | "DELE", _) => bad("RETR and DELE take one message number"),
            ("TOP", [msg, lines]) => Ok(Command::Top {
                msg: message_number(msg)?,
                lines: decimal(lines)
                    .ok_or(WireError::BadArguments("TOP needs a decimal line count"))?,
            }),
            ("TOP", _) => bad("TOP takes a message number and a line count"),
            ("RSET", []) => Ok(Command::Rset),
            ("NOOP", []) => Ok(Command::Noop),
            ("QUIT", []) => Ok(Command::Quit),
            ("CAPA", []) => Ok(Command::Capa),
            ("STAT" | "RSET" | "NOOP" | "QUIT" | "CAPA", _) => {
                bad("this command takes no arguments")
            }
            _ => Err(WireError::Unknown(verb.to_string())),
        }
    }

    /// The keyword, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top { .. } => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Capa => "CAPA",
        }
    }
}

/// The wire text, without CRLF.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        match self {
            Command::User(arg) | Command::Pass(arg) => write!(f, " {arg}"),
            Command::Apop { name, digest } => write!(f, " {name} {digest}"),
            Command::List(Some(n)) | Command::Uidl(Some(n)) => write!(f, " {n}"),
            Command::Retr(n) | Command::Dele(n) => write!(f, " {n}"),
            Command::Top { msg, lines } => write!(f, " {msg} {lines}"),
            _ => Ok(()),
        }
    }
}

/// The APOP digest: MD5 of the greeting's timestamp followed by the shared secret, in lower-case
/// hex (RFC 1939 section 7).
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Byte-stuffs text into the lines of a multi-line response (RFC 1939 section 3): lines without
/// their CRLF, a leading "." doubled, and the lone "." that ends the response added.
pub fn byte_stuff(text: &str) -> Vec<String> {
    crate::proto::split_lines(text)
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .chain(std::iter::once(".".to_string()))
        .collect()
}

/// Undoes byte-stuffing on one line of a multi-line response. Check for the lone "." that ends
/// the response first: this returns it unchanged.
pub fn byte_unstuff(line: &str) -> &str {
    line.strip_prefix('.')
        .filter(|rest| !rest.is_empty())
        .unwrap_or(line)
}

/// The text a multi-line response carries, lines un-stuffed and ended by CRLF, read up to the
/// lone "."; `None` if that terminating line never comes.
pub fn byte_unstuff_text<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut text = String::new();
    for line in lines {
        if line == "." {
            return Some(text);
        }
        text.push_str(byte_unstuff(line));
        text.push_str("\r\n");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn apop_digest_of_rfc1939_section_7() {
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(Command::parse("stat"), Ok(Command::Stat));
        assert_eq!(Command::parse("Retr 2"), Ok(Command::Retr(2)));
        assert_eq!(
            Command::parse("top 1 10"),
            Ok(Command::Top { msg: 1, lines: 10 })
        );
        assert_eq!(Command::parse("uidl"), Ok(Command::Uidl(None)));
        assert_eq!(
            Command::parse("user mrose"),
            Ok(Command::User("mrose".into()))
        );
        // Section 7: the digest is hex; either case is the same digest.
        assert_eq!(
            Command::parse("apop mrose C4C9334BAC560ECC979E58001B3E22FB"),
            Ok(Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            })
        );
    }

    #[test]
    fn a_password_keeps_its_spaces() {
        assert_eq!(
            Command::parse("PASS open sesame"),
            Ok(Command::Pass("open sesame".into()))
        );
    }

    #[test]
    fn arguments_are_checked() {
        for line in [
            "USER",
            "USER a b",
            "PASS",
            "PASS ",
            "APOP mrose",
            "APOP mrose xyz",
            "APOP mrose c4c9334bac560ecc979e58001b3e22fz",
            "STAT 1",
            "LIST 1 2",
            "LIST x",
            "UIDL 0",
            "RETR",
            "RETR 0",
            "RETR +5",
            "RETR -1",
            "RETR 99999999999",
            "DELE 1 2",
            "TOP 1",
            "TOP 1 x",
            "TOP 0 1",
            "RSET now",
            "NOOP x",
            "QUIT please",
            "CAPA x",
        ] {
            assert!(
                matches!(Command::parse(line), Err(WireError::BadArguments(_))),
                "{line:?}"
            );
        }
        for line in ["", "HELO there", "RETRIEVE 1", "\u{7}", " STAT"] {
            assert!(
                matches!(Command::parse(line), Err(WireError::Unknown(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_line_over_255_octets_with_its_crlf_is_refused() {
        let longest = format!("USER {}", "a".repeat(MAX_COMMAND_LINE - 2 - 5));
        assert!(Command::parse(&longest).is_ok());
        let longer = format!("{longest}a");
        assert_eq!(Command::parse(&longer), Err(WireError::TooLong));
    }

    #[test]
    fn stuffing_doubles_leading_dots_and_ends_with_a_lone_dot() {
        let lines = byte_stuff("a\r\n.b\r\n..c\r\n.\r\n");
        assert_eq!(lines, ["a", "..b", "...c", "..", "."]);
        let back = byte_unstuff_text(lines.iter().map(String::as_str));
        assert_eq!(back.as_deref(), Some("a\r\n.b\r\n..c\r\n.\r\n"));
        assert_eq!(byte_stuff(""), ["."]);
        assert_eq!(byte_unstuff_text(["a", "b"]), None, "no terminator");
    }

    fn command() -> impl Strategy<Value = Command> {
        let n = 1u32..100_000;
        prop_oneof![
            "[a-z][a-z0-9@.]{0,20}".prop_map(Command::User),
            "[!-~][ -~]{0,20}".prop_map(Command::Pass),
            ("[a-z]{1,10}", "[0-9a-f]{32}")
                .prop_map(|(name, digest)| Command::Apop { name, digest }),
            Just(Command::Stat),
            prop::option::of(n.clone()).prop_map(Command::List),
            prop::option::of(n.clone()).prop_map(Command::Uidl),
            n.clone().prop_map(Command::Retr),
            n.clone().prop_map(Command::Dele),
            (n, 0u32..1000).prop_map(|(msg, lines)| Command::Top { msg, lines }),
            Just(Command::Rset),
            Just(Command::Noop),
            Just(Command::Quit),
            Just(Command::Capa),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in command()) {
            let line = c.to_string();
            prop_assert!(line.starts_with(c.verb()));
            prop_assert_eq!(Command::parse(&line), Ok(c.clone()));
            prop_assert_eq!(Command::parse(&line.to_ascii_lowercase()).map(|p| p.verb()), Ok(c.verb()));
        }

        #[test]
        fn garbage_never_panics(line in "\\PC{0,300}") {
            let _ = Command::parse(&line);
        }

        #[test]
        fn stuffed_text_comes_back(lines in prop::collection::vec("[.a-z ]{0,6}", 0..8)) {
            let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            let stuffed = byte_stuff(&text);
            prop_assert_eq!(stuffed.iter().filter(|l| *l == ".").count(), 1);
            prop_assert_eq!(byte_unstuff_text(stuffed.iter().map(String::as_str)), Some(text));
        }
    }
}
