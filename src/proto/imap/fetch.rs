//! The message data a FETCH response carries (RFC 3501 section 7.4.2): strings and literals,
//! INTERNALDATE, ENVELOPE and the BODY structure, all computed from the stored wire text.

use super::wire::quote;
use crate::mail::{header_value, rfc5322_date};

/// MIME parts nest this deep at most; deeper ones are described as opaque.
const MAX_DEPTH: usize = 8;

/// A literal: `{n}`, CRLF, then exactly n octets (RFC 3501 section 4.3).
pub fn literal(text: &str) -> String {
    format!("{{{}}}\r\n{text}", text.len())
}

/// A string, quoted where a quoted string can hold it (7-bit, no CR or LF, section 4.3),
/// otherwise a literal.
pub fn string(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii() && b != b'\r' && b != b'\n' && b != 0)
    {
        quote(text)
    } else {
        literal(text)
    }
}

/// A string or NIL (`nstring`).
pub fn nstring(text: Option<&str>) -> String {
    text.map_or_else(|| "NIL".to_string(), string)
}

/// The IMAP `date-time` of a virtual time, e.g. `" 2-Mar-2026 09:00:00 +0000"` (section 9),
/// rearranged from the RFC 5322 form the mail layer writes.
pub fn internal_date(t_ms: u64) -> String {
    let full = rfc5322_date(t_ms);
    // "Mon, 2 Mar 2026 09:00:00 +0000"
    match full.split_whitespace().collect::<Vec<_>>()[..] {
        [_, day, month, year, time, zone] => format!("\"{day:>2}-{month}-{year} {time} {zone}\""),
        _ => quote(&full),
    }
}

/// `(date subject from sender reply-to to cc bcc in-reply-to message-id)` for a header block;
/// Sender and Reply-To default to From (section 7.4.2).
pub fn envelope(header: &str) -> String {
    let h = |name: &str| header_value(header, name);
    let from = addresses(h("From").as_deref());
    let or_from = |name: &str| match h(name) {
        Some(v) => addresses(Some(&v)),
        None => from.clone(),
    };
    format!(
        "({} {} {from} {} {} {} {} {} {} {})",
        nstring(h("Date").as_deref()),
        nstring(h("Subject").as_deref()),
        or_from("Sender"),
        or_from("Reply-To"),
        addresses(h("To").as_deref()),
        addresses(h("Cc").as_deref()),
        addresses(h("Bcc").as_deref()),
        nstring(h("In-Reply-To").as_deref()),
        nstring(h("Message-ID").as_deref()),
    )
}

/// An address list as ENVELOPE writes it: `((name adl mailbox host) ...)`, or NIL. A group
/// (`team: a@b, c@d;`) opens with `(NIL NIL "team" NIL)` and closes with `(NIL NIL NIL NIL)`.
fn addresses(value: Option<&str>) -> String {
    let Some(value) = value else {
        return "NIL".into();
    };
    let mut out = String::new();
    let mut item = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut angle = false;
    let mut comment = 0usize;
    let mut in_group = false;
    for c in value.chars() {
        if in_quotes {
            item.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '(' => comment += 1,
            ')' if comment > 0 => comment -= 1,
            _ if comment > 0 => {}
            '"' => {
                in_quotes = true;
                item.push(c);
            }
            '<' => {
                angle = true;
                item.push(c);
            }
            '>' => {
                angle = false;
                item.push(c);
            }
            ',' if !angle => out.push_str(&mailbox(&std::mem::take(&mut item))),
            ':' if !angle && !in_group => {
                let name = unquote(std::mem::take(&mut item).trim());
                out.push_str(&format!("(NIL NIL {} NIL)", string(&name)));
                in_group = true;
            }
            ';' if !angle && in_group => {
                out.push_str(&mailbox(&std::mem::take(&mut item)));
                out.push_str("(NIL NIL NIL NIL)");
                in_group = false;
            }
            _ => item.push(c),
        }
    }
    out.push_str(&mailbox(&item));
    if in_group {
        out.push_str("(NIL NIL NIL NIL)");
    }
    if out.is_empty() {
        "NIL".into()
    } else {
        format!("({out})")
    }
}

/// One `Name <local@host>` or `local@host` as `(name NIL local host)`; empty text is nothing.
fn mailbox(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let (name, addr) = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            (Some(unquote(text[..open].trim())), &text[open + 1..close])
        }
        _ => (None, text),
    };
    let name = name.filter(|n| !n.is_empty());
    // A source route (`@relay:local@host`, RFC 5322 section 4.4) is obsolete: drop it.
    let addr = addr.rsplit(':').next().unwrap_or(addr).trim();
    let (local, host) = addr.rsplit_once('@').unwrap_or((addr, ""));
    format!(
        "({} NIL {} {})",
        nstring(name.as_deref()),
        string(local),
        string(host)
    )
}

/// A display name without its surrounding quotes and backslash escapes.
fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// The BODY structure of a message or MIME part without extension data (section 7.4.2), which
/// also serves as BODYSTRUCTURE, whose extension data is optional.
pub fn body_structure(entity: &str) -> String {
    structure(entity, 0)
}

fn structure(entity: &str, depth: usize) -> String {
    let (header, body) = split_entity(entity);
    let ct = ContentType::of(header_value(header, "Content-Type").as_deref());
    if ct.kind == "MULTIPART" && depth < MAX_DEPTH {
        let parts = ct
            .param("BOUNDARY")
            .map(|b| split_multipart(body, b))
            .unwrap_or_default();
        if !parts.is_empty() {
            let inner: String = parts.iter().map(|p| structure(p, depth + 1)).collect();
            return format!("({inner} {})", string(&ct.subtype));
        }
    }
    let params = if ct.params.is_empty() {
        "NIL".to_string()
    } else {
        let pairs: Vec<String> = ct
            .params
            .iter()
            .map(|(n, v)| format!("{} {}", string(n), string(v)))
            .collect();
        format!("({})", pairs.join(" "))
    };
    let encoding = header_value(header, "Content-Transfer-Encoding")
        .map(|e| e.to_ascii_uppercase())
        .unwrap_or_else(|| "7BIT".into());
    let fields = format!(
        "{} {} {params} {} {} {} {}",
        string(&ct.kind),
        string(&ct.subtype),
        nstring(header_value(header, "Content-ID").as_deref()),
        nstring(header_value(header, "Content-Description").as_deref()),
        string(&encoding),
        body.len()
    );
    let lines = body.split_inclusive("\r\n").count();
    match (ct.kind.as_str(), ct.subtype.as_str()) {
        ("TEXT", _) => format!("({fields} {lines})"),
        ("MESSAGE", "RFC822") if depth < MAX_DEPTH => {
            let (inner_header, _) = split_entity(body);
            format!(
                "({fields} {} {} {lines})",
                envelope(inner_header),
                structure(body, depth + 1)
            )
        }
        _ => format!("({fields})"),
    }
}

/// A MIME entity's header block (with its empty line) and body. A part may have no header
/// at all, and then begins with the empty line.
fn split_entity(entity: &str) -> (&str, &str) {
    if let Some(body) = entity.strip_prefix("\r\n") {
        return ("", body);
    }
    match entity.find("\r\n\r\n") {
        Some(i) => entity.split_at(i + 4),
        None => (entity, ""),
    }
}

/// The parts of a multipart body (RFC 2046 section 5.1.1): between `--boundary` lines, each
/// without the CRLF that belongs to the next delimiter; `--boundary--` ends them.
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start = None;
    let mut pos = 0usize;
    for line in body.split_inclusive("\r\n") {
        let content = line.trim_end_matches("\r\n");
        if let Some(after) = content.strip_prefix(&delimiter) {
            let closing = after.starts_with("--");
            if after.trim_start_matches("--").trim().is_empty() {
                if let Some(s) = start {
                    parts.push(&body[s..pos.saturating_sub(2).max(s)]);
                }
                if closing {
                    return parts;
                }
                start = Some(pos + line.len());
            }
        }
        pos += line.len();
    }
    if let Some(s) = start {
        parts.push(&body[s..]);
    }
    parts
}

/// A Content-Type field (RFC 2045 section 5.1), names in upper case.
struct ContentType {
    kind: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    /// Without a valid field the type is `text/plain; charset=us-ascii` (RFC 2045 section 5.2).
    fn of(value: Option<&str>) -> ContentType {
        let default = || ContentType {
            kind: "TEXT".into(),
            subtype: "PLAIN".into(),
            params: vec![("CHARSET".into(), "US-ASCII".into())],
        };
        let Some(value) = value else {
            return default();
        };
        let mut pieces = split_params(value).into_iter();
        let Some((kind, subtype)) = pieces.next().and_then(|t| t.split_once('/')) else {
            return default();
        };
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() {
            return default();
        }
        let params = pieces
            .filter_map(|p| p.split_once('='))
            .map(|(n, v)| (n.trim().to_ascii_uppercase(), unquote(v.trim())))
            .collect();
        ContentType {
            kind: kind.to_ascii_uppercase(),
            subtype: subtype.to_ascii_uppercase(),
            params,
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a field value at the semicolons outside quoted strings.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_fall_back_to_literals() {
        assert_eq!(string("a \"b\""), r#""a \"b\"""#);
        assert_eq!(string("h\u{e9}"), "{3}\r\nh\u{e9}");
        assert_eq!(nstring(None), "NIL");
        assert_eq!(internal_date(0), "\" 2-Mar-2026 09:00:00 +0000\"");
    }

    #[test]
    fn address_lists() {
        assert_eq!(addresses(None), "NIL");
        assert_eq!(
            addresses(Some("\"Doe, John\" <john@x.example>, bob@y.example (Bob)")),
            "((\"Doe, John\" NIL \"john\" \"x.example\")(NIL NIL \"bob\" \"y.example\"))"
        );
        assert_eq!(
            addresses(Some("Alice <alice@alpha.example>")),
            "((\"Alice\" NIL \"alice\" \"alpha.example\"))"
        );
        assert_eq!(
            addresses(Some("undisclosed-recipients:;")),
            "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
        );
    }

    #[test]
    fn envelope_follows_section_7_4_2() {
        let header = "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nFrom: Alice <alice@alpha.example>\r\n\
                      To: bob@beta.example\r\nSubject: hi\r\nMessage-ID: <1@alpha.example>\r\n\r\n";
        let alice = "((\"Alice\" NIL \"alice\" \"alpha.example\"))";
        assert_eq!(
            envelope(header),
            format!(
                "(\"Mon, 2 Mar 2026 09:00:00 +0000\" \"hi\" {alice} {alice} {alice} \
                 ((NIL NIL \"bob\" \"beta.example\")) NIL NIL NIL \"<1@alpha.example>\")"
            )
        );
    }

    #[test]
    fn body_structures() {
        assert_eq!(
            body_structure("Subject: x\r\n\r\nline one\r\nline two\r\n"),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 2)"
        );
        let report = "Content-Type: multipart/report; report-type=delivery-status;\r\n \
                      boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\r\nsorry\r\n--b1\r\n\
                      Content-Type: message/rfc822\r\n\r\nSubject: lost\r\n\r\nhello\r\n\r\n--b1--\r\n";
        assert_eq!(
            body_structure(report),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1)\
             (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 24 \
             (NIL \"lost\" NIL NIL NIL NIL NIL NIL NIL NIL) \
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 7 1) 3) \"REPORT\")"
        );
    }
}
