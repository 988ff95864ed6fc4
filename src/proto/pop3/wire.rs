//! POP3 commands as typed values (RFC 1939 sections 4 to 7; CAPA from RFC 2449).

use std::fmt;

use md5::{Digest, Md5};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    Apop { name: String, digest: String },
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top { msg: u32, lines: u32 },
    Dele(u32),
    Rset,
    Noop,
    Quit,
    Capa,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    Unknown(String),
    BadArguments(&'static str),
    /// RFC 2449 section 4: a command line is at most 255 octets.
    TooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Unknown(v) => write!(f, "unknown command {v:?}"),
            WireError::BadArguments(why) => write!(f, "{why}"),
            WireError::TooLong => write!(f, "command line too long"),
        }
    }
}

fn number(arg: Option<&str>) -> Result<u32, WireError> {
    arg.and_then(|a| a.parse().ok())
        .filter(|n| *n > 0)
        .ok_or(WireError::BadArguments("a message number is needed"))
}

impl Command {
    pub fn parse(line: &str) -> Result<Command, WireError> {
        if line.len() > 255 {
            return Err(WireError::TooLong);
        }
        let mut words = line.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
        let optional = |args: &[&str]| -> Result<Option<u32>, WireError> {
            match args {
                [] => Ok(None),
                [n] => number(Some(n)).map(Some),
                _ => Err(WireError::BadArguments("too many arguments")),
            }
        };
        let none = |c: Command| {
            if args.is_empty() {
                Ok(c)
            } else {
                Err(WireError::BadArguments("no arguments expected"))
            }
        };
        match verb.as_str() {
            "USER" if args.len() == 1 => Ok(Command::User(args[0].to_string())),
            "USER" => Err(WireError::BadArguments("USER takes a name")),
            // The password may contain spaces (RFC 1939 section 7 notes servers may allow it).
            "PASS" if line.len() > 5 => Ok(Command::Pass(line[5..].to_string())),
            "PASS" => Err(WireError::BadArguments("PASS takes a password")),
            "APOP" if args.len() == 2 => Ok(Command::Apop {
                name: args[0].to_string(),
                digest: args[1].to_ascii_lowercase(),
            }),
            "APOP" => Err(WireError::BadArguments("APOP takes a name and a digest")),
            "STAT" => none(Command::Stat),
            "LIST" => Ok(Command::List(optional(&args)?)),
            "UIDL" => Ok(Command::Uidl(optional(&args)?)),
            "RETR" if args.len() == 1 => Ok(Command::Retr(number(args.first().copied())?)),
            "DELE" if args.len() == 1 => Ok(Command::Dele(number(args.first().copied())?)),
            "RETR" | "DELE" => Err(WireError::BadArguments("a message number is needed")),
            "TOP" if args.len() == 2 => Ok(Command::Top {
                msg: number(Some(args[0]))?,
                lines: args[1]
                    .parse()
                    .map_err(|_| WireError::BadArguments("TOP needs a line count"))?,
            }),
            "TOP" => Err(WireError::BadArguments(
                "TOP takes a message number and a line count",
            )),
            "RSET" => none(Command::Rset),
            "NOOP" => none(Command::Noop),
            "QUIT" => none(Command::Quit),
            "CAPA" => none(Command::Capa),
            _ => Err(WireError::Unknown(verb)),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |n: &Option<u32>| n.map(|n| format!(" {n}")).unwrap_or_default();
        match self {
            Command::User(u) => write!(f, "USER {u}"),
            Command::Pass(p) => write!(f, "PASS {p}"),
            Command::Apop { name, digest } => write!(f, "APOP {name} {digest}"),
            Command::Stat => write!(f, "STAT"),
            Command::List(n) => write!(f, "LIST{}", opt(n)),
            Command::Uidl(n) => write!(f, "UIDL{}", opt(n)),
            Command::Retr(n) => write!(f, "RETR {n}"),
            Command::Top { msg, lines } => write!(f, "TOP {msg} {lines}"),
            Command::Dele(n) => write!(f, "DELE {n}"),
            Command::Rset => write!(f, "RSET"),
            Command::Noop => write!(f, "NOOP"),
            Command::Quit => write!(f, "QUIT"),
            Command::Capa => write!(f, "CAPA"),
        }
    }
}

/// The APOP digest: MD5 of the greeting's timestamp followed by the secret, in lower-case hex
/// (RFC 1939 section 7).
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let digest = Md5::digest(format!("{timestamp}{secret}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Byte-stuffs text for a multi-line response (RFC 1939 section 3): lines without CRLF, a
/// leading "." doubled, and the terminating "." line added.
pub fn byte_stuff(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = crate::proto::split_lines(text)
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.push(".".into());
    lines
}

/// Undoes byte-stuffing on one received line.
pub fn byte_unstuff(line: &str) -> &str {
    line.strip_prefix('.')
        .filter(|_| line.len() > 1)
        .unwrap_or(line)
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
    fn stuffing_round_trips() {
        let lines = byte_stuff("a\r\n.b\r\n..c\r\n");
        assert_eq!(lines, ["a", "..b", "...c", "."]);
        let back: Vec<&str> = lines[..3].iter().map(|l| byte_unstuff(l)).collect();
        assert_eq!(back, ["a", ".b", "..c"]);
    }

    fn command() -> impl Strategy<Value = Command> {
        let n = 1u32..10_000;
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
            (n, 0u32..100).prop_map(|(msg, lines)| Command::Top { msg, lines }),
            Just(Command::Rset),
            Just(Command::Noop),
            Just(Command::Quit),
            Just(Command::Capa),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in command()) {
            prop_assert_eq!(Command::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn garbage_never_panics(line in "\\PC{0,300}") {
            let _ = Command::parse(&line);
        }
    }
}
