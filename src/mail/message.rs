//! RFC 5322 messages kept as their wire text, with the few header operations mail transfer needs.

use std::borrow::Cow;

use crate::text::push_decimal;

/// A message as it travels: header lines, an empty line, the body; every line ends in CRLF.
///
/// mailsim keeps the text itself rather than a parsed tree, because every hop adds lines on top
/// (`Received:`, RFC 5321 section 4.4) and the student should see exactly those bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Message {
    text: String,
}

impl Message {
    /// Wraps text, turning bare LF line ends into CRLF (RFC 5322 section 2.3).
    pub fn from_text(text: &str) -> Message {
        let mut out = String::with_capacity(text.len() + text.len() / 16 + 4);
        push_crlf_lines(&mut out, text);
        Message { text: out }
    }

    /// Wraps text whose lines already end in CRLF, as the end of DATA delivers it.
    pub fn from_crlf_text(text: String) -> Message {
        debug_assert!(text.is_empty() || text.ends_with("\r\n"));
        Message { text }
    }

    /// Builds a message from header fields and a body, straight into its CRLF form: every
    /// message a user sends is built here.
    pub fn build(headers: &[(&str, &str)], body: &str) -> Message {
        let size: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        let mut text = String::with_capacity(size + 2 + body.len() + body.len() / 16 + 2);
        for (name, value) in headers {
            text.push_str(name);
            text.push_str(": ");
            // The value's line ends as in a text where a line end follows it.
            for line in value.split('\n') {
                text.push_str(line.trim_end_matches('\r'));
                text.push_str("\r\n");
            }
        }
        text.push_str("\r\n");
        if !body.is_empty() {
            push_crlf_lines(&mut text, body);
        }
        Message { text }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The header block, up to and including the empty line.
    pub fn header_block(&self) -> &str {
        match blank_line(&self.text) {
            Some(i) => &self.text[..i + 4],
            None => &self.text,
        }
    }

    /// The body after the empty line.
    pub fn body(&self) -> &str {
        match blank_line(&self.text) {
            Some(i) => &self.text[i + 4..],
            None => "",
        }
    }

    /// The first value of a header field, unfolded (RFC 5322 section 2.2.3).
    pub fn header(&self, name: &str) -> Option<String> {
        // The scan stops at the empty line that ends the header block.
        header_value(&self.text, name)
    }

    /// Every header field with this name, in order.
    pub fn headers_named(&self, name: &str) -> Vec<String> {
        fields(self.header_block())
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
            .collect()
    }

    /// Puts a header field on top, as trace fields are added (RFC 5321 section 4.4).
    pub fn prepend_header(&mut self, name: &str, value: &str) {
        let mut text = String::with_capacity(name.len() + value.len() + 4 + self.text.len());
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
        text.push_str("\r\n");
        text.push_str(&self.text);
        self.text = text;
    }

    /// [`Message::prepend_header`] with the value given in pieces, joined straight into the new
    /// text: every hop stamps a `Received:` field, and this copies the message only once.
    pub fn prepend_header_pieces(&mut self, name: &str, value: &[&dyn crate::text::Piece]) {
        *self = self.with_header_on_top(name, value);
    }

    /// A copy with one more header field on top: final delivery's `Return-Path:` (RFC 5321
    /// section 4.4) is added to the copy a mailbox keeps, in the same single copy.
    pub fn with_header_on_top(&self, name: &str, value: &[&dyn crate::text::Piece]) -> Message {
        let size: usize = value.iter().map(|p| p.size()).sum();
        let mut text = String::with_capacity(name.len() + size + 4 + self.text.len());
        text.push_str(name);
        text.push_str(": ");
        for p in value {
            p.push_to(&mut text);
        }
        text.push_str("\r\n");
        text.push_str(&self.text);
        Message { text }
    }

    /// Adds a header field at the end of the header block (for a missing Date or Message-ID).
    pub fn append_header(&mut self, name: &str, value: &str) {
        let at = self.text.find("\r\n\r\n").map(|i| i + 2).unwrap_or(0);
        self.text.insert_str(at, &format!("{name}: {value}\r\n"));
    }

    /// Removes every header field with this name (Bcc is dropped before transfer).
    pub fn remove_header(&mut self, name: &str) {
        let block_end = self.header_block().len();
        let mut kept = fields_where(&self.text[..block_end], |n| !n.eq_ignore_ascii_case(name));
        kept.push_str(&self.text[block_end..]);
        self.text = kept;
    }

    /// The number of `Received:` stamps: one per SMTP hop that took the message in.
    pub fn received_count(&self) -> usize {
        // Every server counts the stamps of every message it takes (RFC 5321 section 6.3).
        header_lines(&self.text).filter(|l| is_received(l)).count()
    }

    /// The number of `Received:` stamps and which of these fields are present, in one pass
    /// over the header block: a server counts the stamps of every message it takes, and a
    /// submission server then asks for Date and Message-ID (RFC 6409 section 8).
    pub fn received_and_present<const N: usize>(&self, names: [&str; N]) -> (usize, [bool; N]) {
        let mut received = 0;
        let mut found = [false; N];
        for line in header_lines(&self.text) {
            if is_received(line) {
                received += 1;
            }
            for (found, name) in found.iter_mut().zip(names) {
                *found |= starts_field(line, name);
            }
        }
        (received, found)
    }
}

/// The lines of a header block (CRLF lines) but for the fields whose names `keep` refuses,
/// each field with its folded lines (RFC 5322 section 2.2.3); lines that are no field, such as
/// the empty line that ends the block, stay.
pub fn fields_where(block: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut kept = String::with_capacity(block.len());
    let mut keeping = true;
    for line in block.split_inclusive("\r\n") {
        if !line.starts_with([' ', '\t']) {
            keeping = line.split_once(':').is_none_or(|(n, _)| keep(n.trim()));
        }
        if keeping {
            kept.push_str(line);
        }
    }
    kept
}

/// Appends `text` with every line ended by CRLF, whether it ended in LF, CRLF or nothing (an
/// empty text adds one empty line).
fn push_crlf_lines(out: &mut String, text: &str) {
    let mut rest = text;
    loop {
        match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => {
                out.push_str(rest[..i].trim_end_matches('\r'));
                out.push_str("\r\n");
                rest = &rest[i + 1..];
                if rest.is_empty() {
                    return;
                }
            }
            None => {
                out.push_str(rest.trim_end_matches('\r'));
                out.push_str("\r\n");
                return;
            }
        }
    }
}

/// The header fields of a header block as (name, unfolded value). Names are borrowed, and a
/// value is only unfolded into a new string when it spans several lines.
fn fields(block: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> + '_ {
    let mut lines = crate::proto::split_lines(block).peekable();
    std::iter::from_fn(move || {
        loop {
            let line = lines.next()?;
            if line.is_empty() {
                return None;
            }
            let Some((name, value)) = crate::proto::split_once_byte(line, b':') else {
                continue;
            };
            let mut value = Cow::Borrowed(value.trim());
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    let v = value.to_mut();
                    v.push(' ');
                    v.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some((name.trim(), value));
        }
    })
}

/// The first value of a header field in a header block.
pub fn header_value(block: &str, name: &str) -> Option<String> {
    // Every hop reads a header or two: only the wanted field's value is unfolded.
    let mut lines = crate::proto::split_lines(block).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        // Most lines are some other field: a line that neither starts with the name nor has
        // space before its colon (obsolete syntax, RFC 5322 section 4.5) is passed over at once.
        let b = line.as_bytes();
        let may_be = b.len() > name.len()
            && b[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && matches!(b[name.len()], b':' | b' ' | b'\t');
        if !may_be {
            continue;
        }
        let Some((field, value)) = crate::proto::split_once_byte(line, b':') else {
            continue;
        };
        if line.starts_with([' ', '\t']) || !field.trim().eq_ignore_ascii_case(name) {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push(' ');
            value.push_str(next.trim());
        }
        return Some(value);
    }
    None
}

/// The lines of the header block as bytes, up to the empty line that ends it, each without its
/// line end: found with memchr, without the string checks of a general line splitter.
fn header_lines(text: &str) -> impl Iterator<Item = &[u8]> {
    let bytes = text.as_bytes();
    // One search over the text for all its line ends, rather than a new search per line.
    let mut ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() || matches!(bytes[start], b'\r' | b'\n') {
            return None;
        }
        let end = ends.next()?;
        let line = &bytes[start..end];
        start = end + 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// Whether a header line is a `Received:` stamp (as a server counts them: the name, then the
/// colon).
fn is_received(line: &[u8]) -> bool {
    line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"Received:")
}

/// Whether a header line starts the field `name`: the name, maybe white space (the obsolete
/// syntax of RFC 5322 section 4.5), then the colon.
fn starts_field(line: &[u8], name: &str) -> bool {
    let n = name.len();
    line.len() > n
        && line[..n].eq_ignore_ascii_case(name.as_bytes())
        && line[n..]
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            .is_some_and(|&b| b == b':')
}

/// Where the header block ends: the index of the CRLF CRLF that ends it. Found line by line
/// with memchr, which beats a substring search on every hop's header reads.
fn blank_line(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &bytes[from..]) {
        let lf = from + i;
        if bytes.get(lf + 1..lf + 3) == Some(b"\r\n") && lf >= 1 && bytes[lf - 1] == b'\r' {
            return Some(lf - 1);
        }
        from = lf + 1;
    }
    None
}

/// Virtual time zero is this moment: Monday 2 March 2026, 09:00:00 UTC.
const EPOCH_UNIX_SECONDS: i64 = 1_772_442_000;

/// An RFC 5322 section 3.3 date-time for a virtual time in milliseconds.
pub fn rfc5322_date(t_ms: u64) -> String {
    let secs = EPOCH_UNIX_SECONDS + (t_ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Written by hand: every hop stamps a date, and the formatting machinery costs more.
    let mut out = String::with_capacity(31);
    out.push_str(WEEKDAYS[days.rem_euclid(7) as usize]);
    out.push_str(", ");
    push_decimal(&mut out, d as u64, 1);
    out.push(' ');
    out.push_str(MONTHS[(m - 1) as usize]);
    out.push(' ');
    push_decimal(&mut out, y as u64, 4);
    out.push(' ');
    push_decimal(&mut out, (rem / 3600) as u64, 2);
    out.push(':');
    push_decimal(&mut out, (rem % 3600 / 60) as u64, 2);
    out.push(':');
    push_decimal(&mut out, (rem % 60) as u64, 2);
    out.push_str(" +0000");
    out
}

/// The date-time of the latest second asked for, kept: a busy server stamps many messages in
/// the same virtual second, and writing the date costs several hundred instructions.
#[derive(Clone, Debug, Default)]
pub struct DateCache {
    secs: Option<u64>,
    text: String,
}

impl DateCache {
    /// [`rfc5322_date`] of `t_ms`.
    pub fn at(&mut self, t_ms: u64) -> &str {
        let secs = t_ms / 1000;
        if self.secs != Some(secs) {
            self.secs = Some(secs);
            self.text = rfc5322_date(t_ms);
        }
        &self.text
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's civil calendar algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every line end made CRLF the plain way, line by line.
    fn crlf_plainly(text: &str) -> Message {
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            out.push_str(line.trim_end_matches('\n').trim_end_matches('\r'));
            out.push_str("\r\n");
        }
        Message::from_crlf_text(out)
    }

    proptest! {
        /// `received_count` and `received_and_present` read the header block as `header` and a
        /// plain count of the lines do, whatever the fields, their case, folding and spacing.
        #[test]
        fn quick_header_reads_agree_with_the_plain_ones(
            fields in proptest::collection::vec(
                (
                    prop::sample::select(vec!["Date", "date", "Received", "RECEIVED", "Dates", "Message-ID", "X"]),
                    prop::sample::select(vec![":", " :", "\t:", "", "-x:"]),
                    "[ a-z\t]{0,6}",
                    any::<bool>(),
                ),
                0..8,
            ),
        ) {
            let mut text = String::new();
            for (name, colon, value, folded) in &fields {
                text.push_str(&format!("{name}{colon}{value}\r\n"));
                if *folded {
                    text.push_str(" Date: folded, not a field\r\n");
                }
            }
            text.push_str("\r\nDate: in the body\r\n");
            let m = Message::from_crlf_text(text);
            for name in ["Date", "Received", "Message-ID", "X"] {
                let (_, [present]) = m.received_and_present([name]);
                prop_assert_eq!(present, m.header(name).is_some(), "{}", name);
            }
            let plain = m
                .header_block()
                .split("\r\n")
                .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case("Received:"))
                .count();
            prop_assert_eq!(m.received_count(), plain);
            prop_assert_eq!(
                m.received_and_present(["Date", "Message-ID"]),
                (plain, [m.header("Date").is_some(), m.header("Message-ID").is_some()])
            );
        }

        /// `Message::build` and `from_text` write directly what joining the header lines and
        /// the body with LF, then converting, would give.
        #[test]
        fn building_writes_what_joining_and_converting_would(
            values in prop::collection::vec("[a-z \r\n]{0,12}", 0..4),
            body in "[a-z.\r\n]{0,40}",
        ) {
            let headers: Vec<(&str, &str)> =
                values.iter().map(|v| ("Subject", v.as_str())).collect();
            let joined: String = values.iter().map(|v| format!("Subject: {v}\n")).collect();
            prop_assert_eq!(
                Message::build(&headers, &body),
                crlf_plainly(&format!("{joined}\n{body}"))
            );
            let body_alone = if body.is_empty() { "\n" } else { body.as_str() };
            prop_assert_eq!(Message::from_text(&body), crlf_plainly(body_alone));
        }
    }

    #[test]
    fn virtual_time_zero_is_a_monday_morning() {
        assert_eq!(rfc5322_date(0), "Mon, 2 Mar 2026 09:00:00 +0000");
        assert_eq!(
            rfc5322_date(86_400_000 * 30 + 61_000),
            "Wed, 1 Apr 2026 09:01:01 +0000"
        );
    }

    #[test]
    fn headers_are_read_unfolded_and_prepended_on_top() {
        let mut m = Message::from_text("Subject: hello\n  world\nFrom: a@b.example\n\nbody\n");
        assert_eq!(m.header("subject").as_deref(), Some("hello world"));
        m.prepend_header("Received", "from x by y");
        assert!(m.text().starts_with("Received: from x by y\r\n"));
        assert_eq!(m.received_count(), 1);
        m.remove_header("subject");
        assert_eq!(m.header("Subject"), None);
        assert_eq!(m.body(), "body\r\n");
    }
}
