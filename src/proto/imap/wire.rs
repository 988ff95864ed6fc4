//! IMAP syntax both ways: client command lines as typed [`Command`]s (RFC 3501 section 6, grammar
//! in section 9), and the pieces of server responses a client reads back (literals, lists).

use std::fmt;

/// Lists nest this deep at most; deeper input is refused rather than recursed into.
const MAX_DEPTH: usize = 8;

/// A lexical item of a command line (RFC 3501 section 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A bare word: an atom, a number, a flag such as `\Seen`, a sequence set, a LIST pattern,
    /// or a fetch item with its `[section]`.
    Atom(String),
    Quoted(String),
    List(Vec<Token>),
}

/// Splits the arguments of a command line into tokens.
///
/// Quoted strings know only the escapes `\"` and `\\` (RFC 3501 section 4.3). Square brackets
/// group, so `BODY[HEADER.FIELDS (FROM)]` stays one word. A literal (`{n}`, CRLF, then `n`
/// octets; section 4.3) reads as a string: the line it ends has been joined to its octets and
/// the rest of the command, CRLF between, by whoever gathered the command (live mode's reader,
/// after its `+` continuation).
pub fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut stack: Vec<Vec<Token>> = vec![Vec::new()];
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        match c {
            ' ' => pos += 1,
            '(' => {
                if stack.len() > MAX_DEPTH {
                    return Err("lists nested too deep".into());
                }
                stack.push(Vec::new());
                pos += 1;
            }
            ')' => {
                if stack.len() == 1 {
                    return Err("unbalanced )".into());
                }
                let inner = stack.pop().unwrap_or_default();
                push(&mut stack, Token::List(inner));
                pos += 1;
            }
            '"' => {
                let (s, used) = quoted(&text[pos..])?;
                push(&mut stack, Token::Quoted(s));
                pos += used;
            }
            '{' => {
                let (s, used) = literal(&text[pos..])?;
                push(&mut stack, Token::Quoted(s));
                pos += used;
            }
            _ => {
                let end = word_end(text, pos)?;
                push(&mut stack, Token::Atom(text[pos..end].to_string()));
                pos = end;
            }
        }
    }
    if stack.len() > 1 {
        return Err("unbalanced (".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

fn push(stack: &mut [Vec<Token>], token: Token) {
    if let Some(top) = stack.last_mut() {
        top.push(token);
    }
}

/// Reads a quoted string at the start of `text`; returns it and the bytes it took.
fn quoted(text: &str) -> Result<(String, usize), String> {
    let mut s = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((s, i + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => s.push(e),
                _ => return Err("only \\\" and \\\\ may follow \\ in a quoted string".into()),
            },
            '\r' | '\n' => return Err("a quoted string cannot hold CR or LF".into()),
            c => s.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

/// Reads a literal at the start of `text`: `{n}` (or LITERAL+'s `{n+}`), CRLF, `n` octets.
/// Returns its octets and the bytes it took.
fn literal(text: &str) -> Result<(String, usize), String> {
    let close = text.find('}').ok_or("unterminated literal size")?;
    let size = &text[1..close];
    let (n, _) = literal_braces(size).ok_or_else(|| format!("bad literal size {size:?}"))?;
    let start = close + 1;
    if text.get(start..start + 2) != Some("\r\n") {
        return Err("a literal's size is followed by CRLF, then its octets".into());
    }
    let end = (start + 2)
        .checked_add(n)
        .ok_or("the literal is shorter than its size")?;
    let body = text
        .get(start + 2..end)
        .ok_or("the literal is shorter than its size")?;
    Ok((body.to_string(), end))
}

/// Where the bare word starting at `start` ends.
///
/// A `[` that is never closed does not group: `[` is an ordinary ATOM-CHAR (RFC 3501 section
/// 9; only `]` is a resp-special), so a flag keyword such as `FLA[G` ends at the next space or
/// parenthesis like any atom, in a list too.
fn word_end(text: &str, start: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    // Where the word ends if brackets do not group.
    let mut plain_end = None;
    for (i, c) in text[start..].char_indices() {
        let delimiter = matches!(c, ' ' | '(' | ')' | '"');
        if delimiter && plain_end.is_none() {
            plain_end = Some(start + i);
        }
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if delimiter && depth == 0 => return Ok(start + i),
            c if c.is_control() => return Err("control characters are not allowed".into()),
            _ => {}
        }
    }
    Ok(if depth > 0 {
        plain_end.unwrap_or(text.len())
    } else {
        text.len()
    })
}

/// A quoted string with `"` and `\` escaped.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Why a line is not a command. `tag` is set when one could be read, so the server can answer
/// `tag BAD ...` rather than `* BAD ...` (RFC 3501 section 7.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<String>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// One end of a sequence range: a number, or `*`, "the largest number in use".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqNum {
    Num(u32),
    Star,
}

impl SeqNum {
    fn parse(s: &str) -> Option<SeqNum> {
        if s == "*" {
            return Some(SeqNum::Star);
        }
        if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(SeqNum::Num)
    }

    fn value(self, largest: u32) -> u32 {
        match self {
            SeqNum::Num(n) => n,
            SeqNum::Star => largest,
        }
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNum::Num(n) => write!(f, "{n}"),
            SeqNum::Star => f.write_str("*"),
        }
    }
}

/// A sequence set such as `1:3,5,7:*` (RFC 3501 section 9, `sequence-set`): ranges, a single
/// number being a range from itself to itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(SeqNum, SeqNum)>);

impl SeqSet {
    pub fn parse(text: &str) -> Option<SeqSet> {
        text.split(',')
            .map(|part| match part.split_once(':') {
                Some((a, b)) => Some((SeqNum::parse(a)?, SeqNum::parse(b)?)),
                None => SeqNum::parse(part).map(|n| (n, n)),
            })
            .collect::<Option<Vec<_>>>()
            .map(SeqSet)
    }

    /// Whether `n` is in the set, `largest` being what `*` stands for. A range matches in
    /// either order, so `559:*` holds the last UID even when it is below 559 (section 6.4.8).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let (a, b) = (a.value(largest), b.value(largest));
            (a.min(b)..=a.max(b)).contains(&n)
        })
    }

    /// Whether the set names a message sequence number beyond `exists`, which is a BAD
    /// (RFC 3501 section 9, `seq-number`: this includes `*` in an empty mailbox).
    pub fn exceeds(&self, exists: u32) -> bool {
        self.0.iter().flat_map(|&(a, b)| [a, b]).any(|n| match n {
            SeqNum::Num(n) => n > exists,
            SeqNum::Star => exists == 0,
        })
    }
}

impl fmt::Display for SeqSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}:{b}")?;
            }
        }
        Ok(())
    }
}

/// The part of a message a `BODY[...]` item names (RFC 3501 section 6.4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Section {
    /// `BODY[]`: the whole message.
    Full,
    /// `BODY[HEADER]`: the header block with its closing empty line.
    Header,
    /// `BODY[TEXT]`: what follows the empty line.
    Text,
    /// `BODY[HEADER.FIELDS (FROM SUBJECT)]`: only the fields named (upper case here), or with
    /// `.NOT` all but those, then the empty line. Mail programs list their messages with it.
    HeaderFields { names: Vec<String>, not: bool },
}

impl Section {
    /// Reads a section spec, already in upper case.
    fn parse(s: &str) -> Option<Section> {
        match s {
            "" => Some(Section::Full),
            "HEADER" => Some(Section::Header),
            "TEXT" => Some(Section::Text),
            _ => {
                let (not, rest) = match s.strip_prefix("HEADER.FIELDS.NOT") {
                    Some(rest) => (true, rest),
                    None => (false, s.strip_prefix("HEADER.FIELDS")?),
                };
                let list = rest.trim_start().strip_prefix('(')?.strip_suffix(')')?;
                // header-list: one or more astrings (section 9).
                let names: Vec<String> = list
                    .split_whitespace()
                    .map(|n| n.trim_matches('"').to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                (!names.is_empty()).then_some(Section::HeaderFields { names, not })
            }
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Full => Ok(()),
            Section::Header => f.write_str("HEADER"),
            Section::Text => f.write_str("TEXT"),
            Section::HeaderFields { names, not } => {
                let not = if *not { ".NOT" } else { "" };
                write!(f, "HEADER.FIELDS{not} ({})", names.join(" "))
            }
        }
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
    /// `RFC822`: the whole message, like `BODY[]`.
    Rfc822,
    /// `RFC822.HEADER`: like `BODY.PEEK[HEADER]`.
    Rfc822Header,
    /// `RFC822.TEXT`: like `BODY[TEXT]`.
    Rfc822Text,
    /// `BODY` without a section: the MIME structure, without extension data.
    Body,
    BodyStructure,
    /// `BODY[section]`, or `BODY.PEEK[section]` which leaves `\Seen` alone; with `<o.n>`, only
    /// the `n` octets from octet `o` on.
    Section {
        section: Section,
        peek: bool,
        partial: Option<(u32, u32)>,
    },
}

impl FetchAttr {
    fn parse(word: &str) -> Option<FetchAttr> {
        let upper = word.to_ascii_uppercase();
        Some(match upper.as_str() {
            "FLAGS" => FetchAttr::Flags,
            "UID" => FetchAttr::Uid,
            "RFC822.SIZE" => FetchAttr::Rfc822Size,
            "ENVELOPE" => FetchAttr::Envelope,
            "INTERNALDATE" => FetchAttr::InternalDate,
            "RFC822" => FetchAttr::Rfc822,
            "RFC822.HEADER" => FetchAttr::Rfc822Header,
            "RFC822.TEXT" => FetchAttr::Rfc822Text,
            "BODY" => FetchAttr::Body,
            "BODYSTRUCTURE" => FetchAttr::BodyStructure,
            _ => {
                let (peek, rest) = match upper.strip_prefix("BODY.PEEK[") {
                    Some(rest) => (true, rest),
                    None => (false, upper.strip_prefix("BODY[")?),
                };
                let (spec, after) = rest.split_once(']')?;
                let section = Section::parse(spec)?;
                let partial = match after {
                    "" => None,
                    _ => {
                        let (origin, count) = after
                            .strip_prefix('<')?
                            .strip_suffix('>')?
                            .split_once('.')?;
                        Some((origin.parse().ok()?, count.parse().ok()?))
                    }
                };
                FetchAttr::Section {
                    section,
                    peek,
                    partial,
                }
            }
        })
    }

    /// Whether fetching this item sets `\Seen` (RFC 3501 section 6.4.5).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchAttr::Rfc822 | FetchAttr::Rfc822Text | FetchAttr::Section { peek: false, .. }
        )
    }
}

impl fmt::Display for FetchAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchAttr::Flags => f.write_str("FLAGS"),
            FetchAttr::Uid => f.write_str("UID"),
            FetchAttr::Rfc822Size => f.write_str("RFC822.SIZE"),
            FetchAttr::Envelope => f.write_str("ENVELOPE"),
            FetchAttr::InternalDate => f.write_str("INTERNALDATE"),
            FetchAttr::Rfc822 => f.write_str("RFC822"),
            FetchAttr::Rfc822Header => f.write_str("RFC822.HEADER"),
            FetchAttr::Rfc822Text => f.write_str("RFC822.TEXT"),
            FetchAttr::Body => f.write_str("BODY"),
            FetchAttr::BodyStructure => f.write_str("BODYSTRUCTURE"),
            FetchAttr::Section {
                section,
                peek,
                partial,
            } => {
                let peek = if *peek { ".PEEK" } else { "" };
                write!(f, "BODY{peek}[{section}]")?;
                match partial {
                    Some((origin, count)) => write!(f, "<{origin}.{count}>"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// What a FETCH asks for: one of the macros, or a list of items (RFC 3501 section 6.4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE.
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE.
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
    Full,
    Attrs(Vec<FetchAttr>),
}

impl FetchItems {
    /// The items asked for, macros expanded, each once.
    pub fn attrs(&self) -> Vec<FetchAttr> {
        use FetchAttr::*;
        let listed = match self {
            FetchItems::All => vec![Flags, InternalDate, Rfc822Size, Envelope],
            FetchItems::Fast => vec![Flags, InternalDate, Rfc822Size],
            FetchItems::Full => vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
            FetchItems::Attrs(attrs) => attrs.clone(),
        };
        let mut once = Vec::with_capacity(listed.len());
        for a in listed {
            if !once.contains(&a) {
                once.push(a);
            }
        }
        once
    }
}

impl fmt::Display for FetchItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchItems::All => f.write_str("ALL"),
            FetchItems::Fast => f.write_str("FAST"),
            FetchItems::Full => f.write_str("FULL"),
            FetchItems::Attrs(attrs) => write!(f, "({})", join(attrs)),
        }
    }
}

/// How STORE changes the flags (RFC 3501 section 6.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace them.
    Replace,
    /// `+FLAGS`: add these.
    Add,
    /// `-FLAGS`: remove these.
    Remove,
}

/// A STATUS data item (RFC 3501 section 6.3.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
}

impl StatusItem {
    fn parse(word: &str) -> Option<StatusItem> {
        match word.to_ascii_uppercase().as_str() {
            "MESSAGES" => Some(StatusItem::Messages),
            "RECENT" => Some(StatusItem::Recent),
            "UIDNEXT" => Some(StatusItem::UidNext),
            "UIDVALIDITY" => Some(StatusItem::UidValidity),
            "UNSEEN" => Some(StatusItem::Unseen),
            _ => None,
        }
    }
}

impl fmt::Display for StatusItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
        })
    }
}

/// A SEARCH key (RFC 3501 section 6.4.4). Keys side by side must all match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Deleted,
    Flagged,
    /// `\Recent` and not `\Seen`.
    New,
    /// Not `\Recent`.
    Old,
    Recent,
    Seen,
    Unanswered,
    Undeleted,
    Unflagged,
    Unseen,
    /// The header field contains the text, in any case.
    From(String),
    To(String),
    Cc(String),
    Subject(String),
    Uid(SeqSet),
    /// A bare sequence set: these message numbers.
    Seq(SeqSet),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    /// A parenthesised group: all of them.
    And(Vec<SearchKey>),
}

impl fmt::Display for SearchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchKey::All => f.write_str("ALL"),
            SearchKey::Answered => f.write_str("ANSWERED"),
            SearchKey::Deleted => f.write_str("DELETED"),
            SearchKey::Flagged => f.write_str("FLAGGED"),
            SearchKey::New => f.write_str("NEW"),
            SearchKey::Old => f.write_str("OLD"),
            SearchKey::Recent => f.write_str("RECENT"),
            SearchKey::Seen => f.write_str("SEEN"),
            SearchKey::Unanswered => f.write_str("UNANSWERED"),
            SearchKey::Undeleted => f.write_str("UNDELETED"),
            SearchKey::Unflagged => f.write_str("UNFLAGGED"),
            SearchKey::Unseen => f.write_str("UNSEEN"),
            SearchKey::From(s) => write!(f, "FROM {}", quote(s)),
            SearchKey::To(s) => write!(f, "TO {}", quote(s)),
            SearchKey::Cc(s) => write!(f, "CC {}", quote(s)),
            SearchKey::Subject(s) => write!(f, "SUBJECT {}", quote(s)),
            SearchKey::Uid(set) => write!(f, "UID {set}"),
            SearchKey::Seq(set) => write!(f, "{set}"),
            SearchKey::Not(k) => write!(f, "NOT {k}"),
            SearchKey::Or(a, b) => write!(f, "OR {a} {b}"),
            SearchKey::And(keys) => write!(f, "({})", join(keys)),
        }
    }
}

/// An IMAP client command, without its tag. In FETCH, STORE and SEARCH, `uid` marks the UID
/// form (RFC 3501 section 6.4.8), which takes and reports UIDs instead of sequence numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Capability,
    Noop,
    Logout,
    Login {
        user: String,
        password: String,
    },
    /// `initial` is the SASL-IR initial response (RFC 4959), base64 or `=` for empty.
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    List {
        reference: String,
        pattern: String,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Select(String),
    Examine(String),
    /// Section 6.3.3.
    Create(String),
    /// Sections 6.3.6 and 6.3.7: taken and forgotten, as LSUB lists every folder.
    Subscribe(String),
    Unsubscribe(String),
    /// Section 6.3.11: a message put into a folder by the client (a copy of what it sent,
    /// for its Sent folder), with its flags and, if given, its date-time.
    Append {
        mailbox: String,
        flags: Vec<String>,
        date: Option<String>,
        message: String,
    },
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Check,
    Close,
    Expunge,
    Search {
        keys: Vec<SearchKey>,
        uid: bool,
    },
    Fetch {
        set: SeqSet,
        items: FetchItems,
        uid: bool,
    },
    Store {
        set: SeqSet,
        mode: StoreMode,
        /// `.SILENT`: no untagged FETCH with the new flags.
        silent: bool,
        flags: Vec<String>,
        uid: bool,
    },
}

impl Command {
    /// Parses a command line (without CRLF) into its tag and command.
    pub fn parse(line: &str) -> Result<(String, Command), ParseError> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        if !is_tag(tag) {
            return Err(ParseError {
                tag: None,
                message: "a command line starts with a tag".into(),
            });
        }
        let command = tokenize(rest).and_then(|tokens| parse_command(&tokens));
        command
            .map(|c| (tag.to_string(), c))
            .map_err(|message| ParseError {
                tag: Some(tag.to_string()),
                message,
            })
    }

    /// The command line with its tag, as it travels (without CRLF).
    pub fn to_line(&self, tag: &str) -> String {
        format!("{tag} {self}")
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uid = |u: bool| if u { "UID " } else { "" };
        match self {
            Command::Capability => f.write_str("CAPABILITY"),
            Command::Noop => f.write_str("NOOP"),
            Command::Logout => f.write_str("LOGOUT"),
            Command::Check => f.write_str("CHECK"),
            Command::Close => f.write_str("CLOSE"),
            Command::Expunge => f.write_str("EXPUNGE"),
            Command::Login { user, password } => {
                write!(f, "LOGIN {} {}", quote(user), quote(password))
            }
            Command::Authenticate { mechanism, initial } => {
                write!(f, "AUTHENTICATE {mechanism}")?;
                match initial {
                    Some(r) => write!(f, " {r}"),
                    None => Ok(()),
                }
            }
            Command::List { reference, pattern } => {
                write!(f, "LIST {} {}", quote(reference), quote(pattern))
            }
            Command::Lsub { reference, pattern } => {
                write!(f, "LSUB {} {}", quote(reference), quote(pattern))
            }
            Command::Select(mailbox) => write!(f, "SELECT {}", quote(mailbox)),
            Command::Examine(mailbox) => write!(f, "EXAMINE {}", quote(mailbox)),
            Command::Create(mailbox) => write!(f, "CREATE {}", quote(mailbox)),
            Command::Subscribe(mailbox) => write!(f, "SUBSCRIBE {}", quote(mailbox)),
            Command::Unsubscribe(mailbox) => write!(f, "UNSUBSCRIBE {}", quote(mailbox)),
            Command::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                write!(f, "APPEND {} ({})", quote(mailbox), flags.join(" "))?;
                if let Some(date) = date {
                    write!(f, " {}", quote(date))?;
                }
                write!(f, " {{{}}}\r\n{message}", message.len())
            }
            Command::Status { mailbox, items } => {
                write!(f, "STATUS {} ({})", quote(mailbox), join(items))
            }
            Command::Search { keys, uid: u } => write!(f, "{}SEARCH {}", uid(*u), join(keys)),
            Command::Fetch { set, items, uid: u } => write!(f, "{}FETCH {set} {items}", uid(*u)),
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
                let silent = if *silent { ".SILENT" } else { "" };
                write!(
                    f,
                    "{}STORE {set} {sign}FLAGS{silent} ({})",
                    uid(*u),
                    flags.join(" ")
                )
            }
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(" ")
}

/// The tag a command line starts with, if it has a whole one (a line cut short keeps it: a
/// server can still answer with it).
pub fn tag_of(line: &str) -> Option<&str> {
    line.split_once(' ').map(|(t, _)| t).filter(|t| is_tag(t))
}

/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 3501 section 9).
fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// A flag as STORE takes it: `\Seen` or a keyword atom (RFC 3501 section 9, `flag`).
fn is_flag(s: &str) -> bool {
    let name = s.strip_prefix('\\').unwrap_or(s);
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// The arguments of one command, read left to right.
struct Args<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// An atom or a quoted string (`astring`).
    fn string(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Atom(s) | Token::Quoted(s)) => Ok(s.clone()),
            _ => Err(format!("{what} expected")),
        }
    }

    fn atom(&mut self, what: &str) -> Result<&'a str, String> {
        match self.next() {
            Some(Token::Atom(s)) => Ok(s),
            _ => Err(format!("{what} expected")),
        }
    }

    fn set(&mut self) -> Result<SeqSet, String> {
        let word = self.atom("a sequence set")?;
        SeqSet::parse(word).ok_or_else(|| format!("{word} is not a sequence set"))
    }

    fn end(&self) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err("too many arguments".into())
        }
    }
}

fn parse_command(tokens: &[Token]) -> Result<Command, String> {
    let mut args = Args { tokens, pos: 0 };
    let mut name = args.atom("a command name")?.to_ascii_uppercase();
    let uid = name == "UID";
    if uid {
        name = args
            .atom("FETCH, STORE or SEARCH after UID")?
            .to_ascii_uppercase();
        if !matches!(name.as_str(), "FETCH" | "STORE" | "SEARCH") {
            return Err(format!("UID {name} is not supported"));
        }
    }
    let command = match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "EXPUNGE" => Command::Expunge,
        "LOGIN" => Command::Login {
            user: args.string("a user name")?,
            password: args.string("a password")?,
        },
        "AUTHENTICATE" => Command::Authenticate {
            mechanism: args.atom("a SASL mechanism")?.to_ascii_uppercase(),
            initial: match args.next() {
                None => None,
                Some(Token::Atom(r)) => Some(r.clone()),
                Some(_) => return Err("the initial response is base64 or =".into()),
            },
        },
        "LIST" | "LSUB" => {
            let reference = args.string("a reference name")?;
            let pattern = args.string("a mailbox pattern")?;
            if name == "LIST" {
                Command::List { reference, pattern }
            } else {
                Command::Lsub { reference, pattern }
            }
        }
        "SELECT" => Command::Select(args.string("a mailbox name")?),
        "EXAMINE" => Command::Examine(args.string("a mailbox name")?),
        "CREATE" => Command::Create(args.string("a mailbox name")?),
        "SUBSCRIBE" => Command::Subscribe(args.string("a mailbox name")?),
        "UNSUBSCRIBE" => Command::Unsubscribe(args.string("a mailbox name")?),
        "APPEND" => {
            let mailbox = args.string("a mailbox name")?;
            let mut rest: Vec<&Token> = std::iter::from_fn(|| args.next()).collect();
            // The message is the last argument; a flag list and a date-time may come before it.
            let Some(Token::Quoted(message)) = rest.pop() else {
                return Err("APPEND ends with the message, as a literal".into());
            };
            let mut flags = Vec::new();
            if let Some(Token::List(list)) = rest.first() {
                for t in list {
                    match t {
                        Token::Atom(a) if is_flag(a) => flags.push(a.clone()),
                        _ => return Err("APPEND's flags are a list of flags".into()),
                    }
                }
                rest.remove(0);
            }
            let date = match rest.as_slice() {
                [] => None,
                [Token::Quoted(d)] => Some(d.clone()),
                _ => return Err("APPEND takes a mailbox, (flags), \"date-time\", message".into()),
            };
            Command::Append {
                mailbox,
                flags,
                date,
                message: message.clone(),
            }
        }
        "STATUS" => {
            let mailbox = args.string("a mailbox name")?;
            let Some(Token::List(words)) = args.next() else {
                return Err("STATUS needs a list of items".into());
            };
            let items = words
                .iter()
                .map(|w| match w {
                    Token::Atom(a) => StatusItem::parse(a),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .filter(|items| !items.is_empty())
                .ok_or("STATUS takes MESSAGES, RECENT, UIDNEXT, UIDVALIDITY or UNSEEN")?;
            Command::Status { mailbox, items }
        }
        "FETCH" => Command::Fetch {
            set: args.set()?,
            items: fetch_items(args.next())?,
            uid,
        },
        "STORE" => {
            let set = args.set()?;
            let item = args.atom("FLAGS, +FLAGS or -FLAGS")?.to_ascii_uppercase();
            let (mode, rest) = match item.as_bytes().first() {
                Some(b'+') => (StoreMode::Add, &item[1..]),
                Some(b'-') => (StoreMode::Remove, &item[1..]),
                _ => (StoreMode::Replace, item.as_str()),
            };
            let silent = match rest {
                "FLAGS" => false,
                "FLAGS.SILENT" => true,
                _ => return Err("STORE takes FLAGS, +FLAGS or -FLAGS".into()),
            };
            // A parenthesised list, or flags side by side (RFC 3501 section 9, `store-att-flags`).
            let words = match &args.tokens[args.pos..] {
                [Token::List(inner)] => inner.as_slice(),
                [] => return Err("STORE needs flags".into()),
                more => more,
            };
            args.pos = args.tokens.len();
            let flags = words
                .iter()
                .map(|w| match w {
                    Token::Atom(a) if is_flag(a) => Some(a.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or("not a flag list")?;
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
            while !args.is_empty() {
                keys.push(search_key(&mut args, 0)?);
            }
            if keys.is_empty() {
                return Err("SEARCH needs a key".into());
            }
            Command::Search { keys, uid }
        }
        _ => return Err(format!("unknown command {name}")),
    };
    args.end()?;
    Ok(command)
}

fn fetch_items(token: Option<&Token>) -> Result<FetchItems, String> {
    let attr = |t: &Token| match t {
        Token::Atom(a) => FetchAttr::parse(a).ok_or_else(|| format!("unknown fetch item {a}")),
        _ => Err("a fetch item is an atom".to_string()),
    };
    match token {
        Some(Token::Atom(a)) => match a.to_ascii_uppercase().as_str() {
            "ALL" => Ok(FetchItems::All),
            "FAST" => Ok(FetchItems::Fast),
            "FULL" => Ok(FetchItems::Full),
            _ => Ok(FetchItems::Attrs(vec![attr(&Token::Atom(a.clone()))?])),
        },
        Some(Token::List(list)) if !list.is_empty() => list
            .iter()
            .map(attr)
            .collect::<Result<_, _>>()
            .map(FetchItems::Attrs),
        _ => Err("FETCH needs data items".into()),
    }
}

fn search_key(args: &mut Args, depth: usize) -> Result<SearchKey, String> {
    if depth > MAX_DEPTH {
        return Err("search keys nested too deep".into());
    }
    let word = match args.next() {
        Some(Token::Atom(w)) => w,
        Some(Token::List(inner)) => {
            let mut inner = Args {
                tokens: inner,
                pos: 0,
            };
            let mut keys = Vec::new();
            while !inner.is_empty() {
                keys.push(search_key(&mut inner, depth + 1)?);
            }
            if keys.is_empty() {
                return Err("an empty search group".into());
            }
            return Ok(SearchKey::And(keys));
        }
        _ => return Err("a search key expected".into()),
    };
    let nested = |args: &mut Args| search_key(args, depth + 1).map(Box::new);
    Ok(match word.to_ascii_uppercase().as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "DELETED" => SearchKey::Deleted,
        "FLAGGED" => SearchKey::Flagged,
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "SEEN" => SearchKey::Seen,
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNSEEN" => SearchKey::Unseen,
        "FROM" => SearchKey::From(args.string("FROM text")?),
        "TO" => SearchKey::To(args.string("TO text")?),
        "CC" => SearchKey::Cc(args.string("CC text")?),
        "SUBJECT" => SearchKey::Subject(args.string("SUBJECT text")?),
        "UID" => SearchKey::Uid(args.set()?),
        "NOT" => SearchKey::Not(nested(args)?),
        "OR" => SearchKey::Or(nested(args)?, nested(args)?),
        _ => {
            SearchKey::Seq(SeqSet::parse(word).ok_or_else(|| format!("unknown search key {word}"))?)
        }
    })
}

/// A value in a server response, as a client reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An atom or a number, such as `FETCH`, `12` or `BODY[]`.
    Atom(String),
    /// A quoted string or a literal.
    Str(String),
    Nil,
    List(Vec<Value>),
}

/// Reads the values of one whole server response, literals inline (as [`ResponseReader`]
/// assembles them): `* 12 FETCH (UID 7 BODY[] {5}\r\nhello)`.
pub fn parse_values(text: &str) -> Result<Vec<Value>, String> {
    let mut stack: Vec<Vec<Value>> = vec![Vec::new()];
    let mut pos = 0;
    let add = |stack: &mut Vec<Vec<Value>>, v: Value| {
        if let Some(top) = stack.last_mut() {
            top.push(v);
        }
    };
    while let Some(c) = text[pos..].chars().next() {
        match c {
            ' ' => pos += 1,
            '(' => {
                if stack.len() > 4 * MAX_DEPTH {
                    return Err("lists nested too deep".into());
                }
                stack.push(Vec::new());
                pos += 1;
            }
            ')' => {
                if stack.len() == 1 {
                    return Err("unbalanced )".into());
                }
                let inner = stack.pop().unwrap_or_default();
                add(&mut stack, Value::List(inner));
                pos += 1;
            }
            '"' => {
                let (s, used) = quoted(&text[pos..])?;
                add(&mut stack, Value::Str(s));
                pos += used;
            }
            '{' => {
                let close = text[pos..].find('}').ok_or("unterminated literal size")? + pos;
                // A server's literal has no LITERAL+ form.
                let n = literal_braces(&text[pos + 1..close])
                    .filter(|&(_, plus)| !plus)
                    .ok_or("bad literal size")?
                    .0;
                let start = close + 1 + 2;
                if text.get(close + 1..start) != Some("\r\n") {
                    return Err("a literal size is followed by CRLF".into());
                }
                let end = start.checked_add(n).ok_or("bad literal size")?;
                let body = text.get(start..end).ok_or("literal cut short")?;
                add(&mut stack, Value::Str(body.to_string()));
                pos = end;
            }
            _ => {
                let end = word_end(text, pos)?;
                let word = &text[pos..end];
                let v = if word.eq_ignore_ascii_case("NIL") {
                    Value::Nil
                } else {
                    Value::Atom(word.to_string())
                };
                add(&mut stack, v);
                pos = end;
            }
        }
    }
    if stack.len() > 1 {
        return Err("unbalanced (".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

/// Joins the lines of one server response back together. A line that ends in `{n}` announces
/// n octets that follow it (RFC 3501 section 4.3); they arrive split into lines like the rest,
/// so each whole line counts its length plus 2 for the CRLF the splitting removed.
#[derive(Clone, Debug, Default)]
pub struct ResponseReader {
    text: String,
    /// Octets of a literal still to come.
    literal: Option<usize>,
}

impl ResponseReader {
    /// Takes one line (without CRLF); returns the response once its last line is in.
    pub fn push(&mut self, line: &str) -> Option<String> {
        let mut rest = line;
        if let Some(left) = self.literal.take() {
            let whole = line.len() + 2;
            if left >= whole {
                self.text.push_str(line);
                self.text.push_str("\r\n");
                // At zero the literal is over and the next line goes on with the response.
                self.literal = Some(left - whole).filter(|&n| n > 0);
                return None;
            }
            // The literal ends inside this line; what follows it goes on with the response.
            let mut cut = left.min(line.len());
            while !line.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.push_str(&line[..cut]);
            if left > line.len() {
                self.text.push('\r');
            }
            rest = &line[cut..];
        }
        self.text.push_str(rest);
        match literal_at_end(rest)
            .filter(|&(_, plus)| !plus)
            .map(|(n, _)| n)
        {
            Some(n) => {
                self.text.push_str("\r\n");
                self.literal = Some(n).filter(|&n| n > 0);
                None
            }
            None => Some(std::mem::take(&mut self.text)),
        }
    }
}

/// `{n}` or LITERAL+'s `{n+}` at the end of a line (RFC 3501 section 4.3, RFC 7888): the size
/// of the literal to come, and whether it comes without waiting for `+`.
pub fn literal_at_end(line: &str) -> Option<(usize, bool)> {
    let open = line.rfind('{')?;
    literal_braces(line[open + 1..].strip_suffix('}')?)
}

/// What is inside a literal's braces: `number` is digits only (RFC 3501 section 9), with
/// LITERAL+'s `+` after it.
fn literal_braces(inner: &str) -> Option<(usize, bool)> {
    let (digits, plus) = match inner.strip_suffix('+') {
        Some(d) => (d, true),
        None => (inner, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, plus))
}

#[cfg(test)]
mod tests {

    /// RFC 3501 section 9: a literal's size is digits, with LITERAL+'s `+` after them (RFC
    /// 7888); every reader of a size agrees on that.
    #[test]
    fn a_literal_size_is_digits_and_maybe_a_plus() {
        assert_eq!(literal_at_end("a1 LOGIN {5}"), Some((5, false)));
        assert_eq!(literal_at_end("a1 LOGIN bob {12+}"), Some((12, true)));
        for bad in [
            "a1 LOGIN {+5}",
            "a1 LOGIN {}",
            "a1 LOGIN {5 }",
            "a1 LOGIN {x}",
            "{5}x",
        ] {
            assert_eq!(literal_at_end(bad), None, "{bad}");
        }
        assert!(tokenize("{+5}\r\nhello").is_err());
        assert!(parse_values("* 1 FETCH (BODY[] {+5}\r\nhello)").is_err());
    }

    #[test]
    fn literals_read_as_strings_of_their_size() {
        let toks = tokenize("{5}\r\nab cd \"x\" {0}\r\n (a {2+}\r\n\r\n)").unwrap();
        assert_eq!(
            toks,
            [
                Token::Quoted("ab cd".into()),
                Token::Quoted("x".into()),
                Token::Quoted(String::new()),
                Token::List(vec![Token::Atom("a".into()), Token::Quoted("\r\n".into())]),
            ]
        );
        for bad in ["{5}\r\nabc", "{x}\r\nab", "{3}ab c", "{3"] {
            assert!(tokenize(bad).is_err(), "{bad:?}");
        }
        let (tag, c) = Command::parse("a APPEND Sent (\\Seen \\Draft) {4}\r\nhi\r\n").unwrap();
        assert_eq!(tag, "a");
        let Command::Append {
            mailbox,
            flags,
            date,
            message,
        } = &c
        else {
            panic!("{c:?}");
        };
        assert_eq!(
            (mailbox.as_str(), date, message.as_str()),
            ("Sent", &None, "hi\r\n")
        );
        assert_eq!(flags, &["\\Seen", "\\Draft"]);
        // Printed and read back, the command is the same.
        assert_eq!(Command::parse(&c.to_line("a")).unwrap().1, c);
        assert!(
            Command::parse("a APPEND Sent (\\Seen)").is_err(),
            "no message"
        );
        assert!(Command::parse("a APPEND Sent \"d\" \"e\" {1}\r\nx").is_err());
    }

    use super::*;
    use proptest::prelude::*;

    fn parsed(line: &str) -> Command {
        Command::parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .1
    }

    /// Found by the `imap_wire` fuzz target: `FLA[GGED` is a legal flag keyword (RFC 3501
    /// section 9: `[` is an ATOM-CHAR), but in the rendered list `(... FLA[GGED)` the open
    /// bracket swallowed the closing parenthesis, and the line mailsim wrote was "unbalanced (".
    #[test]
    fn a_flag_with_an_unclosed_bracket_round_trips() {
        let line = "a8 STORE 1 +FLAGS NOT DELETED OR SEEN FLA[GGED";
        let (tag, command) = Command::parse(line).unwrap();
        let Command::Store { flags, .. } = &command else {
            panic!("{command:?}");
        };
        assert_eq!(flags.last().map(String::as_str), Some("FLA[GGED"));
        let wire = command.to_line(&tag);
        assert_eq!(wire, "a8 STORE 1 +FLAGS (NOT DELETED OR SEEN FLA[GGED)");
        assert_eq!(Command::parse(&wire), Ok((tag, command)));
        // A closed bracket still groups, spaces and parentheses included.
        assert_eq!(
            tokenize("BODY[HEADER.FIELDS (FROM)]"),
            Ok(vec![Token::Atom("BODY[HEADER.FIELDS (FROM)]".into())])
        );
    }

    #[test]
    fn client_habits_parse() {
        // Python's imaplib.
        assert_eq!(
            parsed("ABCD1 SELECT INBOX"),
            Command::Select("INBOX".into())
        );
        assert_eq!(
            parsed("ABCD2 FETCH 1 (BODY[])"),
            Command::Fetch {
                set: SeqSet(vec![(SeqNum::Num(1), SeqNum::Num(1))]),
                items: FetchItems::Attrs(vec![FetchAttr::Section {
                    section: Section::Full,
                    peek: false,
                    partial: None
                }]),
                uid: false
            }
        );
        // curl.
        assert!(matches!(
            parsed("C UID FETCH 1 BODY[]"),
            Command::Fetch { uid: true, .. }
        ));
        assert_eq!(
            parsed("B AUTHENTICATE PLAIN AGJvYgBidWlsZGVy"),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AGJvYgBidWlsZGVy".into())
            }
        );
        // RFC 3501 section 8, lower case.
        assert_eq!(
            parsed("a004 fetch 12 body[header]").to_line("a004"),
            "a004 FETCH 12 (BODY[HEADER])"
        );
        assert_eq!(
            parsed("a003 fetch 12 full").to_line("a003"),
            "a003 FETCH 12 FULL"
        );
        assert_eq!(
            parsed(r"a005 store 12 +flags \deleted"),
            Command::Store {
                set: SeqSet::parse("12").unwrap(),
                mode: StoreMode::Add,
                silent: false,
                flags: vec![r"\deleted".into()],
                uid: false
            }
        );
    }

    #[test]
    fn strings_atoms_and_escapes() {
        assert_eq!(
            parsed(r#"a1 LOGIN "bob" "p\"w\\x""#),
            Command::Login {
                user: "bob".into(),
                password: r#"p"w\x"#.into()
            }
        );
        assert_eq!(
            parsed("a1 login mrc secret"),
            Command::Login {
                user: "mrc".into(),
                password: "secret".into()
            }
        );
        assert_eq!(
            tokenize(r#"x (a "b c" (d)) BODY[HEADER.FIELDS (FROM)]"#).unwrap(),
            vec![
                Token::Atom("x".into()),
                Token::List(vec![
                    Token::Atom("a".into()),
                    Token::Quoted("b c".into()),
                    Token::List(vec![Token::Atom("d".into())]),
                ]),
                Token::Atom("BODY[HEADER.FIELDS (FROM)]".into()),
            ]
        );
    }

    #[test]
    fn errors_keep_the_tag_when_there_is_one() {
        let tag_of = |line: &str| Command::parse(line).unwrap_err().tag;
        assert_eq!(tag_of("a7 FROB").as_deref(), Some("a7"));
        assert_eq!(tag_of("a8 LOGIN {5}").as_deref(), Some("a8"));
        assert_eq!(tag_of("a8 LOGIN bob {5+}").as_deref(), Some("a8"));
        assert_eq!(tag_of("a9 FETCH 1 (FLAGS").as_deref(), Some("a9"));
        assert_eq!(tag_of("a9 FETCH 0 FLAGS").as_deref(), Some("a9"));
        assert_eq!(tag_of("a9 NOOP extra").as_deref(), Some("a9"));
        assert_eq!(tag_of("a9 LOGIN \"bob"), Some("a9".into()));
        assert_eq!(tag_of("a9 STORE 1 FLAGS (\"x\")"), Some("a9".into()));
        assert_eq!(tag_of("a9 UID EXPUNGE 1"), Some("a9".into()));
        assert_eq!(tag_of(""), None);
        assert_eq!(tag_of("* NOOP"), None);
        assert_eq!(tag_of("+"), None);
    }

    #[test]
    fn sequence_sets() {
        let s = SeqSet::parse("1:3,5,7:*").unwrap();
        for (n, inside) in [(2, true), (5, true), (9, true), (4, false), (6, false)] {
            assert_eq!(s.contains(n, 9), inside, "{n}");
        }
        assert!(SeqSet::parse("4:2").unwrap().contains(3, 9));
        assert!(
            SeqSet::parse("559:*").unwrap().contains(12, 12),
            "n:* holds the largest even below n"
        );
        for bad in ["0", "", "1,", "1:", "a", "01", "1::2", "-1"] {
            assert_eq!(SeqSet::parse(bad), None, "{bad}");
        }
        assert!(SeqSet::parse("1:*").unwrap().exceeds(0));
        assert!(!SeqSet::parse("1:*").unwrap().exceeds(1));
        assert!(SeqSet::parse("2,19").unwrap().exceeds(18));
        assert_eq!(SeqSet::parse("3:3,4").unwrap().to_string(), "3,4");
    }

    #[test]
    fn fetch_macros_store_and_search() {
        assert_eq!(FetchItems::Fast.attrs().len(), 3);
        assert_eq!(FetchItems::Full.attrs().last(), Some(&FetchAttr::Body));
        assert!(matches!(
            parsed("t UID STORE 1:* -FLAGS.SILENT \\Seen \\Flagged"),
            Command::Store { mode: StoreMode::Remove, silent: true, uid: true, ref flags, .. }
                if flags.len() == 2
        ));
        assert_eq!(
            parsed("t SEARCH UNSEEN FROM \"alice\" (OR SEEN NOT DELETED) 2:4"),
            Command::Search {
                keys: vec![
                    SearchKey::Unseen,
                    SearchKey::From("alice".into()),
                    SearchKey::And(vec![SearchKey::Or(
                        Box::new(SearchKey::Seen),
                        Box::new(SearchKey::Not(Box::new(SearchKey::Deleted)))
                    )]),
                    SearchKey::Seq(SeqSet::parse("2:4").unwrap()),
                ],
                uid: false
            }
        );
        assert!(Command::parse("t SEARCH").is_err());
        assert!(Command::parse("t SEARCH FROM").is_err());
        assert!(
            Command::parse("t FETCH 1 (ALL)").is_err(),
            "macros stand alone"
        );
        assert!(Command::parse("t FETCH 1 BODY[1.MIME]").is_err());
    }

    #[test]
    fn responses_reassemble_from_lines() {
        let mut r = ResponseReader::default();
        // A literal of whole lines, then the closing parenthesis on its own line.
        assert_eq!(r.push("* 1 FETCH (UID 7 BODY[] {9}"), None);
        assert_eq!(r.push("ab"), None);
        assert_eq!(r.push("cde"), None);
        let text = r.push(")").unwrap();
        assert_eq!(text, "* 1 FETCH (UID 7 BODY[] {9}\r\nab\r\ncde\r\n)");
        let v = parse_values(&text).unwrap();
        assert_eq!(
            v[3],
            Value::List(vec![
                Value::Atom("UID".into()),
                Value::Atom("7".into()),
                Value::Atom("BODY[]".into()),
                Value::Str("ab\r\ncde\r\n".into()),
            ])
        );
        // A literal that ends inside a line, followed by another literal and a zero-length one.
        assert_eq!(r.push("* 2 FETCH (ENVELOPE (NIL {3}"), None);
        assert_eq!(r.push("h\u{e9}) BODY[TEXT] {0}"), None);
        let text = r.push(")").unwrap();
        let v = parse_values(&text).unwrap();
        assert_eq!(
            v[3],
            Value::List(vec![
                Value::Atom("ENVELOPE".into()),
                Value::List(vec![Value::Nil, Value::Str("h\u{e9}".into())]),
                Value::Atom("BODY[TEXT]".into()),
                Value::Str(String::new()),
            ])
        );
        assert_eq!(r.push("a1 OK done").as_deref(), Some("a1 OK done"));
        for broken in [
            "{18446744073709551615}\r\n",
            "{99999999999999999999}",
            "{3}\r\nab",
            "(a",
        ] {
            assert!(parse_values(broken).is_err(), "{broken:?}");
        }
    }

    fn text() -> impl Strategy<Value = String> {
        "[ -~]{0,12}"
    }

    fn seq_set() -> impl Strategy<Value = SeqSet> {
        let num = prop_oneof![
            4 => (1u32..=u32::MAX).prop_map(SeqNum::Num),
            1 => Just(SeqNum::Star),
        ];
        prop::collection::vec((num.clone(), num), 1..4).prop_map(SeqSet)
    }

    fn fetch_attr() -> impl Strategy<Value = FetchAttr> {
        let names = prop::collection::vec("[A-Z][A-Z0-9-]{0,10}", 1..4);
        let section = prop_oneof![
            prop::sample::select(vec![Section::Full, Section::Header, Section::Text]),
            (names, any::<bool>()).prop_map(|(names, not)| Section::HeaderFields { names, not }),
        ];
        let partial = prop::option::of((any::<u32>(), any::<u32>()));
        prop_oneof![
            prop::sample::select(vec![
                FetchAttr::Flags,
                FetchAttr::Uid,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822,
                FetchAttr::Rfc822Header,
                FetchAttr::Rfc822Text,
                FetchAttr::Body,
                FetchAttr::BodyStructure,
            ]),
            (section, any::<bool>(), partial).prop_map(|(section, peek, partial)| {
                FetchAttr::Section {
                    section,
                    peek,
                    partial,
                }
            }),
        ]
    }

    fn search_key() -> impl Strategy<Value = SearchKey> {
        use SearchKey::*;
        let leaf = prop_oneof![
            prop::sample::select(vec![
                All, Answered, Deleted, Flagged, New, Old, Recent, Seen, Unanswered, Undeleted,
                Unflagged, Unseen,
            ]),
            text().prop_map(From),
            text().prop_map(To),
            text().prop_map(Cc),
            text().prop_map(Subject),
            seq_set().prop_map(Uid),
            seq_set().prop_map(Seq),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|k| Not(Box::new(k))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Or(Box::new(a), Box::new(b))),
                prop::collection::vec(inner, 1..3).prop_map(And),
            ]
        })
    }

    fn command() -> impl Strategy<Value = Command> {
        let items = prop_oneof![
            Just(FetchItems::All),
            Just(FetchItems::Fast),
            Just(FetchItems::Full),
            prop::collection::vec(fetch_attr(), 1..5).prop_map(FetchItems::Attrs),
        ];
        let status = prop::sample::subsequence(
            vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
            ],
            1..=5,
        );
        let mode =
            prop::sample::select(vec![StoreMode::Replace, StoreMode::Add, StoreMode::Remove]);
        let flags = prop::collection::vec(
            prop::sample::select(vec!["\\Seen", "\\Deleted", "\\Answered", "$Junk"]),
            0..3,
        );
        prop_oneof![
            prop::sample::select(vec![
                Command::Capability,
                Command::Noop,
                Command::Logout,
                Command::Check,
                Command::Close,
                Command::Expunge,
            ]),
            (text(), text()).prop_map(|(user, password)| Command::Login { user, password }),
            (
                "[A-Z][A-Z0-9-]{0,9}",
                prop::option::of("[A-Za-z0-9+/]{1,20}={0,2}|=")
            )
                .prop_map(|(mechanism, initial)| Command::Authenticate { mechanism, initial }),
            (text(), text(), any::<bool>()).prop_map(|(reference, pattern, lsub)| if lsub {
                Command::Lsub { reference, pattern }
            } else {
                Command::List { reference, pattern }
            }),
            text().prop_map(Command::Select),
            text().prop_map(Command::Examine),
            (text(), status).prop_map(|(mailbox, items)| Command::Status { mailbox, items }),
            (prop::collection::vec(search_key(), 1..4), any::<bool>())
                .prop_map(|(keys, uid)| Command::Search { keys, uid }),
            (seq_set(), items, any::<bool>()).prop_map(|(set, items, uid)| Command::Fetch {
                set,
                items,
                uid
            }),
            (seq_set(), mode, any::<bool>(), flags, any::<bool>()).prop_map(
                |(set, mode, silent, flags, uid)| Command::Store {
                    set,
                    mode,
                    silent,
                    flags: flags.into_iter().map(String::from).collect(),
                    uid
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in command(), tag in "[A-Za-z0-9.]{1,8}") {
            let (back_tag, back) = Command::parse(&c.to_line(&tag)).unwrap();
            prop_assert_eq!(back_tag, tag);
            prop_assert_eq!(back, c);
        }

        /// Whatever parses, however written, prints as a line that parses to the same command.
        #[test]
        fn parsed_lines_print_back_faithfully(words in prop::collection::vec(
            prop::sample::select(vec![
                "fetch", "uid", "search", "store", "1", "2:*", "1,3", "(", ")", "flags", "body[]",
                "body.peek[header]", "full", "unseen", "from", "\"a b\"", "not", "or", "+flags",
                "\\seen", "select", "inbox", "login", "x", "status", "(messages)",
            ]),
            0..7,
        )) {
            let line = format!("t {}", words.join(" "));
            if let Ok((_, c)) = Command::parse(&line) {
                prop_assert_eq!(Command::parse(&c.to_line("t")).unwrap().1, c);
            }
        }

        #[test]
        fn garbage_never_panics(line in "\\PC{0,200}") {
            let _ = Command::parse(&line);
            let _ = parse_values(&line);
            let mut r = ResponseReader::default();
            for l in line.split('{') {
                let _ = r.push(l);
            }
        }
    }
}
