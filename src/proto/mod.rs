//! The protocol engines, sans-IO: each takes input lines and the virtual time and returns the
//! lines to send. No sockets, clocks, threads or randomness live here, so one engine answers a
//! simulated peer and a real client alike.

pub mod dns;
pub mod imap;
pub mod pop3;
pub mod smtp;

/// What a server engine hands back after a greeting or one input line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// Lines to send, in order, without their CRLF. A line may itself hold CRLFs where a
    /// protocol sends a block (an IMAP literal, a POP3 message); the peer sees one CRLF-joined text.
    pub lines: Vec<String>,
    /// Close the connection once the lines are sent.
    pub close: bool,
}

impl Response {
    pub fn line(text: impl Into<String>) -> Response {
        Response {
            lines: vec![text.into()],
            close: false,
        }
    }

    pub fn closing(text: impl Into<String>) -> Response {
        Response {
            lines: vec![text.into()],
            close: true,
        }
    }

    pub fn push(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// Each single line, with blocks split at their CRLFs.
    pub fn wire_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().flat_map(|l| l.split("\r\n"))
    }

    /// The lines as they travel: each followed by CRLF.
    pub fn wire_text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s
    }
}

/// What a mail program brought home from a POP3 or IMAP session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    pub messages: Vec<crate::mail::Message>,
    /// Why the session failed (a refused login), if it did.
    pub error: Option<String>,
}

/// What a fetching client does after one server line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchStep {
    /// Command lines to send.
    pub send: Vec<String>,
    /// Set once the session has ended.
    pub done: Option<FetchOutcome>,
}

/// Splits received text into lines without their CRLF (a bare LF is tolerated, as real servers do).
///
/// Every line of every session passes through here, so it scans with the memchr crate, whose
/// SIMD search beats `str::find(char)` on the short lines protocols send.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = next;
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// `str::split_once` for an ASCII byte, found with memchr: header fields and command verbs are
/// split this way on every hop.
pub fn split_once_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let i = memchr::memchr(byte, text.as_bytes())?;
    // An ASCII byte is always a character boundary.
    Some((&text[..i], &text[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::{split_lines, split_once_byte};

    #[test]
    fn split_once_byte_is_split_once() {
        for text in ["Subject: hi: there", "no colon", ":", "é:ü", ""] {
            assert_eq!(split_once_byte(text, b':'), text.split_once(':'));
        }
    }

    #[test]
    fn split_lines_drops_crlf_and_bare_lf() {
        let lines: Vec<&str> = split_lines("a\r\nb\n\r\nc").collect();
        assert_eq!(lines, ["a", "b", "", "c"]);
        assert_eq!(split_lines("x\r\n").collect::<Vec<_>>(), ["x"]);
        assert_eq!(split_lines("").count(), 0);
    }
}
