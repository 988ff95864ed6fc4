//! IMAP command lines as typed values (RFC 3501 section 6 and the grammar of section 9).

use std::fmt;

/// A lexical item of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Atom(String),
    Quoted(String),
    List(Vec<Token>),
}

impl Token {
    fn text(&self) -> Option<&str> {
        match self {
            Token::Atom(s) | Token::Quoted(s) => Some(s),
            Token::List(_) => None,
        }
    }
}

/// Why a line is not a command; `tag` is set when one could be read, so the reply can be
/// `tag BAD ...` rather than `* BAD ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<String>,
    pub message: String,
}

fn bad(tag: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        tag: Some(tag.to_string()),
        message: message.into(),
    }
}

/// Splits a line into tokens: atoms, quoted strings (with `\"` and `\\`), and parenthesised
/// lists. An atom may hold `[...]` (as in `BODY[HEADER]`). Literals `{n}` are not accepted.
pub fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    fn list(
        chars: &mut std::iter::Peekable<std::str::Chars>,
        depth: usize,
    ) -> Result<Vec<Token>, String> {
        if depth > 8 {
            return Err("lists nested too deep".into());
        }
        let mut out = Vec::new();
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => {
                    chars.next();
                }
                '(' => {
                    chars.next();
                    out.push(Token::List(list(chars, depth + 1)?));
                }
                ')' => {
                    if depth == 0 {
                        return Err("unbalanced )".into());
                    }
                    chars.next();
                    return Ok(out);
                }
                '"' => {
                    chars.next();
                    let mut s = String::new();
                    loop {
                        match chars.next() {
                            None => return Err("unterminated quoted string".into()),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(e @ ('"' | '\\')) => s.push(e),
                                _ => return Err("bad escape in quoted string".into()),
                            },
                            Some(c) => s.push(c),
                        }
                    }
                    out.push(Token::Quoted(s));
                }
                '{' => return Err("literals are not supported here".into()),
                _ => {
                    let mut s = String::new();
                    let mut bracket = 0;
                    while let Some(&c) = chars.peek() {
                        if bracket == 0 && (c == ' ' || c == '(' || c == ')') {
                            break;
                        }
                        if c == '[' {
                            bracket += 1;
                        } else if c == ']' {
                            bracket -= 1;
                        } else if c.is_control() {
                            return Err("control characters are not allowed".into());
                        }
                        s.push(c);
                        chars.next();
                    }
                    out.push(Token::Atom(s));
                }
            }
        }
        if depth > 0 {
            return Err("unbalanced (".into());
        }
        Ok(out)
    }
    list(&mut line.chars().peekable(), 0)
}

/// A message sequence set such as `1:3,5,7:*` (RFC 3501 section 9, `sequence-set`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(u32, Option<u32>)>);

/// `*` is stored as u32::MAX and means "the largest number in use".
const STAR: u32 = u32::MAX;

impl SeqSet {
    pub fn parse(text: &str) -> Option<SeqSet> {
        let num = |s: &str| -> Option<u32> {
            if s == "*" {
                Some(STAR)
            } else {
                s.parse().ok().filter(|n| *n > 0)
            }
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            match part.split_once(':') {
                Some((a, b)) => ranges.push((num(a)?, Some(num(b)?))),
                None => ranges.push((num(part)?, None)),
            }
        }
        Some(SeqSet(ranges))
    }

    /// Whether `n` is in the set, `max` being what `*` stands for.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        let v = |x: u32| if x == STAR { max } else { x };
        self.0.iter().any(|&(a, b)| match b {
            None => v(a) == n,
            Some(b) => {
                let (lo, hi) = if v(a) <= v(b) {
                    (v(a), v(b))
                } else {
                    (v(b), v(a))
                };
                (lo..=hi).contains(&n)
            }
        })
    }
}

impl fmt::Display for SeqSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |x: u32| {
            if x == STAR {
                "*".to_string()
            } else {
                x.to_string()
            }
        };
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| match b {
                None => v(a),
                Some(b) => format!("{}:{}", v(a), v(b)),
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// A FETCH data item (RFC 3501 section 6.4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchAttr {
    Flags,
    Uid,
    Rfc822Size,
    Envelope,
    InternalDate,
    /// `BODY[]`, `BODY.PEEK[]`, `BODY[HEADER]`, `BODY[TEXT]`; `peek` leaves \Seen alone.
    Body {
        section: String,
        peek: bool,
    },
    Rfc822,
}

impl FetchAttr {
    fn parse(name: &str) -> Option<Vec<FetchAttr>> {
        let upper = name.to_ascii_uppercase();
        let one = match upper.as_str() {
            "FLAGS" => FetchAttr::Flags,
            "UID" => FetchAttr::Uid,
            "RFC822.SIZE" => FetchAttr::Rfc822Size,
            "ENVELOPE" => FetchAttr::Envelope,
            "INTERNALDATE" => FetchAttr::InternalDate,
            "RFC822" => FetchAttr::Rfc822,
            "ALL" => {
                return Some(vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                ]);
            }
            "FAST" => {
                return Some(vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                ]);
            }
            "FULL" => {
                return Some(vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                ]);
            }
            _ => {
                let (peek, rest) = if let Some(r) = upper.strip_prefix("BODY.PEEK[") {
                    (true, r)
                } else if let Some(r) = upper.strip_prefix("BODY[") {
                    (false, r)
                } else {
                    return None;
                };
                let section = rest.strip_suffix(']')?.to_string();
                if !matches!(section.as_str(), "" | "HEADER" | "TEXT") {
                    return None;
                }
                FetchAttr::Body { section, peek }
            }
        };
        Some(vec![one])
    }
}

impl fmt::Display for FetchAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchAttr::Flags => write!(f, "FLAGS"),
            FetchAttr::Uid => write!(f, "UID"),
            FetchAttr::Rfc822Size => write!(f, "RFC822.SIZE"),
            FetchAttr::Envelope => write!(f, "ENVELOPE"),
            FetchAttr::InternalDate => write!(f, "INTERNALDATE"),
            FetchAttr::Rfc822 => write!(f, "RFC822"),
            FetchAttr::Body {
                section,
                peek: true,
            } => write!(f, "BODY.PEEK[{section}]"),
            FetchAttr::Body {
                section,
                peek: false,
            } => write!(f, "BODY[{section}]"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// A SEARCH key (RFC 3501 section 6.4.4); several keys mean AND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Seen,
    Unseen,
    Deleted,
    From(String),
    To(String),
    Subject(String),
    Uid(SeqSet),
    Seq(SeqSet),
}

impl fmt::Display for SearchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchKey::All => write!(f, "ALL"),
            SearchKey::Seen => write!(f, "SEEN"),
            SearchKey::Unseen => write!(f, "UNSEEN"),
            SearchKey::Deleted => write!(f, "DELETED"),
            SearchKey::From(s) => write!(f, "FROM {}", quote(s)),
            SearchKey::To(s) => write!(f, "TO {}", quote(s)),
            SearchKey::Subject(s) => write!(f, "SUBJECT {}", quote(s)),
            SearchKey::Uid(s) => write!(f, "UID {s}"),
            SearchKey::Seq(s) => write!(f, "{s}"),
        }
    }
}

/// A quoted string with `"` and `\` escaped.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An IMAP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Capability,
    Noop,
    Logout,
    Login {
        user: String,
        password: String,
    },
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    List {
        reference: String,
        pattern: String,
    },
    Select(String),
    Examine(String),
    Status {
        mailbox: String,
        items: Vec<String>,
    },
    Fetch {
        set: SeqSet,
        attrs: Vec<FetchAttr>,
        uid: bool,
    },
    Store {
        set: SeqSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
        uid: bool,
    },
    Search {
        keys: Vec<SearchKey>,
        uid: bool,
    },
    Expunge,
    Close,
}

impl Command {
    /// Parses a tagged command line.
    pub fn parse(line: &str) -> Result<(String, Command), ParseError> {
        let tokens = tokenize(line).map_err(|m| {
            let tag = line
                .split(' ')
                .next()
                .filter(|t| is_tag(t))
                .map(str::to_string);
            ParseError { tag, message: m }
        })?;
        let mut it = tokens.into_iter();
        let tag = match it.next() {
            Some(Token::Atom(t)) if is_tag(&t) => t,
            _ => {
                return Err(ParseError {
                    tag: None,
                    message: "a command starts with a tag".into(),
                });
            }
        };
        let Some(Token::Atom(name)) = it.next() else {
            return Err(bad(&tag, "missing command"));
        };
        let args: Vec<Token> = it.collect();
        let mut name = name.to_ascii_uppercase();
        let mut args = args.as_slice();
        let mut uid = false;
        if name == "UID" {
            uid = true;
            match args.first() {
                Some(Token::Atom(n)) => {
                    name = n.to_ascii_uppercase();
                    args = &args[1..];
                }
                _ => return Err(bad(&tag, "UID needs FETCH, STORE or SEARCH")),
            }
            if !matches!(name.as_str(), "FETCH" | "STORE" | "SEARCH") {
                return Err(bad(&tag, "UID needs FETCH, STORE or SEARCH"));
            }
        }
        let text = |i: usize| -> Result<String, ParseError> {
            args.get(i)
                .and_then(Token::text)
                .map(str::to_string)
                .ok_or_else(|| bad(&tag, format!("{name}: missing argument")))
        };
        let count = |n: usize| -> Result<(), ParseError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(&tag, format!("{name} takes {n} argument(s)")))
            }
        };
        let command = match name.as_str() {
            "CAPABILITY" => count(0).map(|_| Command::Capability)?,
            "NOOP" => count(0).map(|_| Command::Noop)?,
            "LOGOUT" => count(0).map(|_| Command::Logout)?,
            "EXPUNGE" => count(0).map(|_| Command::Expunge)?,
            "CLOSE" => count(0).map(|_| Command::Close)?,
            "LOGIN" => {
                count(2)?;
                Command::Login {
                    user: text(0)?,
                    password: text(1)?,
                }
            }
            "AUTHENTICATE" => {
                if args.is_empty() || args.len() > 2 {
                    return Err(bad(
                        &tag,
                        "AUTHENTICATE takes a mechanism and an optional response",
                    ));
                }
                Command::Authenticate {
                    mechanism: text(0)?.to_ascii_uppercase(),
                    initial: args.get(1).and_then(Token::text).map(str::to_string),
                }
            }
            "LIST" => {
                count(2)?;
                Command::List {
                    reference: text(0)?,
                    pattern: text(1)?,
                }
            }
            "SELECT" => {
                count(1)?;
                Command::Select(text(0)?)
            }
            "EXAMINE" => {
                count(1)?;
                Command::Examine(text(0)?)
            }
            "STATUS" => {
                count(2)?;
                let Token::List(items) = &args[1] else {
                    return Err(bad(&tag, "STATUS needs a list of items"));
                };
                let items = items
                    .iter()
                    .filter_map(Token::text)
                    .map(|s| s.to_ascii_uppercase())
                    .collect();
                Command::Status {
                    mailbox: text(0)?,
                    items,
                }
            }
            "FETCH" => {
                count(2)?;
                let set = SeqSet::parse(&text(0)?).ok_or_else(|| bad(&tag, "bad sequence set"))?;
                let names: Vec<&Token> = match &args[1] {
                    Token::List(l) => l.iter().collect(),
                    one => vec![one],
                };
                let mut attrs = Vec::new();
                for n in names {
                    let n = n.text().ok_or_else(|| bad(&tag, "bad fetch item"))?;
                    attrs.extend(
                        FetchAttr::parse(n)
                            .ok_or_else(|| bad(&tag, format!("unknown fetch item {n}")))?,
                    );
                }
                Command::Fetch { set, attrs, uid }
            }
            "STORE" => {
                count(3)?;
                let set = SeqSet::parse(&text(0)?).ok_or_else(|| bad(&tag, "bad sequence set"))?;
                let item = text(1)?.to_ascii_uppercase();
                let (mode, rest) = match item.as_bytes().first() {
                    Some(b'+') => (StoreMode::Add, &item[1..]),
                    Some(b'-') => (StoreMode::Remove, &item[1..]),
                    _ => (StoreMode::Replace, item.as_str()),
                };
                let silent = match rest {
                    "FLAGS" => false,
                    "FLAGS.SILENT" => true,
                    _ => return Err(bad(&tag, "STORE takes FLAGS, +FLAGS or -FLAGS")),
                };
                let flags = match &args[2] {
                    Token::List(l) => l
                        .iter()
                        .filter_map(Token::text)
                        .map(str::to_string)
                        .collect(),
                    t => vec![t.text().unwrap_or("").to_string()],
                };
                Command::Store {
                    set,
                    mode,
                    silent,
                    flags,
                    uid,
                }
            }
            "SEARCH" => {
                let mut keys = Vec::new();
                let mut i = 0;
                while i < args.len() {
                    let word = args[i].text().ok_or_else(|| bad(&tag, "bad search key"))?;
                    let mut arg = || -> Result<String, ParseError> {
                        i += 1;
                        args.get(i)
                            .and_then(Token::text)
                            .map(str::to_string)
                            .ok_or_else(|| bad(&tag, format!("{word} needs an argument")))
                    };
                    keys.push(match word.to_ascii_uppercase().as_str() {
                        "ALL" => SearchKey::All,
                        "SEEN" => SearchKey::Seen,
                        "UNSEEN" => SearchKey::Unseen,
                        "DELETED" => SearchKey::Deleted,
                        "FROM" => SearchKey::From(arg()?),
                        "TO" => SearchKey::To(arg()?),
                        "SUBJECT" => SearchKey::Subject(arg()?),
                        "UID" => SearchKey::Uid(
                            SeqSet::parse(&arg()?).ok_or_else(|| bad(&tag, "bad UID set"))?,
                        ),
                        other => SearchKey::Seq(
                            SeqSet::parse(other)
                                .ok_or_else(|| bad(&tag, format!("unknown search key {other}")))?,
                        ),
                    });
                    i += 1;
                }
                if keys.is_empty() {
                    return Err(bad(&tag, "SEARCH needs a key"));
                }
                Command::Search { keys, uid }
            }
            _ => return Err(bad(&tag, format!("unknown command {name}"))),
        };
        Ok((tag, command))
    }

    /// The wire form with a tag.
    pub fn to_line(&self, tag: &str) -> String {
        let uid = |u: bool| if u { "UID " } else { "" };
        let body = match self {
            Command::Capability => "CAPABILITY".to_string(),
            Command::Noop => "NOOP".into(),
            Command::Logout => "LOGOUT".into(),
            Command::Expunge => "EXPUNGE".into(),
            Command::Close => "CLOSE".into(),
            Command::Login { user, password } => {
                format!("LOGIN {} {}", quote(user), quote(password))
            }
            Command::Authenticate {
                mechanism,
                initial: None,
            } => format!("AUTHENTICATE {mechanism}"),
            Command::Authenticate {
                mechanism,
                initial: Some(r),
            } => format!("AUTHENTICATE {mechanism} {r}"),
            Command::List { reference, pattern } => {
                format!("LIST {} {}", quote(reference), quote(pattern))
            }
            Command::Select(m) => format!("SELECT {}", quote(m)),
            Command::Examine(m) => format!("EXAMINE {}", quote(m)),
            Command::Status { mailbox, items } => {
                format!("STATUS {} ({})", quote(mailbox), items.join(" "))
            }
            Command::Fetch { set, attrs, uid: u } => {
                let a: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
                format!("{}FETCH {set} ({})", uid(*u), a.join(" "))
            }
            Command::Store {
                set,
                mode,
                silent,
                flags,
                uid: u,
            } => {
                let sign = match mode {
                    StoreMode::Replace => "",
                    StoreMode::Add => "+",
                    StoreMode::Remove => "-",
                };
                format!(
                    "{}STORE {set} {sign}FLAGS{} ({})",
                    uid(*u),
                    if *silent { ".SILENT" } else { "" },
                    flags.join(" ")
                )
            }
            Command::Search { keys, uid: u } => {
                let k: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                format!("{}SEARCH {}", uid(*u), k.join(" "))
            }
        };
        format!("{tag} {body}")
    }
}

fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | '+')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_habits_parse() {
        // Python's imaplib.
        assert_eq!(
            Command::parse("ABCD1 SELECT INBOX").unwrap().1,
            Command::Select("INBOX".into())
        );
        let (_, c) = Command::parse("ABCD2 FETCH 1 (BODY[])").unwrap();
        assert_eq!(
            c,
            Command::Fetch {
                set: SeqSet(vec![(1, None)]),
                attrs: vec![FetchAttr::Body {
                    section: String::new(),
                    peek: false
                }],
                uid: false
            }
        );
        // curl.
        assert!(matches!(
            Command::parse("C UID FETCH 1 BODY[]").unwrap().1,
            Command::Fetch { uid: true, .. }
        ));
        assert!(matches!(
            Command::parse("B AUTHENTICATE PLAIN AGJvYgBidWlsZGVy")
                .unwrap()
                .1,
            Command::Authenticate { .. }
        ));
        assert_eq!(
            Command::parse(r#"a1 LOGIN "bob" "p\"w""#).unwrap().1,
            Command::Login {
                user: "bob".into(),
                password: "p\"w".into()
            }
        );
    }

    #[test]
    fn errors_keep_the_tag_when_there_is_one() {
        assert_eq!(
            Command::parse("a7 FROB").unwrap_err().tag.as_deref(),
            Some("a7")
        );
        assert_eq!(Command::parse("").unwrap_err().tag, None);
        assert_eq!(
            Command::parse("a8 LOGIN {5}").unwrap_err().tag.as_deref(),
            Some("a8")
        );
        assert!(Command::parse("a9 FETCH 1 (FLAGS").is_err());
    }

    #[test]
    fn sequence_sets() {
        let s = SeqSet::parse("1:3,5,7:*").unwrap();
        assert!(
            s.contains(2, 9)
                && s.contains(5, 9)
                && s.contains(9, 9)
                && !s.contains(4, 9)
                && !s.contains(6, 9)
        );
        assert!(SeqSet::parse("0").is_none());
    }

    fn command() -> impl Strategy<Value = Command> {
        let word = "[A-Za-z0-9]{1,10}";
        let set =
            prop::collection::vec((1u32..50, prop::option::of(1u32..50)), 1..3).prop_map(SeqSet);
        let attr = prop_oneof![
            Just(FetchAttr::Flags),
            Just(FetchAttr::Uid),
            Just(FetchAttr::Rfc822Size),
            Just(FetchAttr::Envelope),
            Just(FetchAttr::Body {
                section: String::new(),
                peek: true
            }),
            Just(FetchAttr::Body {
                section: "HEADER".into(),
                peek: false
            }),
        ];
        prop_oneof![
            Just(Command::Capability),
            Just(Command::Logout),
            (word, "[ -~]{0,12}").prop_map(|(user, password)| Command::Login { user, password }),
            word.prop_map(Command::Select),
            (
                set.clone(),
                prop::collection::vec(attr, 1..4),
                any::<bool>()
            )
                .prop_map(|(set, attrs, uid)| Command::Fetch { set, attrs, uid }),
            (set, any::<bool>(), any::<bool>()).prop_map(|(set, silent, uid)| Command::Store {
                set,
                mode: StoreMode::Add,
                silent,
                flags: vec!["\\SEEN".into()],
                uid
            }),
            ("[a-z]{1,8}", any::<bool>()).prop_map(|(s, uid)| Command::Search {
                keys: vec![SearchKey::Unseen, SearchKey::From(s)],
                uid
            }),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in command()) {
            let (tag, back) = Command::parse(&c.to_line("t1")).unwrap();
            prop_assert_eq!(tag, "t1");
            prop_assert_eq!(back, c);
        }

        #[test]
        fn garbage_never_panics(line in "\\PC{0,200}") {
            let _ = Command::parse(&line);
        }
    }
}
