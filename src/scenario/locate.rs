//! Where an entry of a scenario file is in its text, so that an error found after parsing (an
//! unknown host in the third `Send`, say) points at that entry and not at the first place the
//! same name happens to be written.
//!
//! The text has already parsed as RON, so reading its brackets is enough: strings, raw strings,
//! character literals and comments are skipped, and the entries of a top-level list are the
//! stretches between its commas.

use std::ops::Range;

/// The byte range of entry `index` (from 0) of the top-level list `section` (`script`, `hosts`,
/// ...), without the white space around it; `None` if the file has no such entry.
pub fn entry_span(text: &str, section: &str, index: usize) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    // The depth of the section's entries, once its `[` has been seen.
    let mut entries_depth: Option<usize> = None;
    let mut section_key_seen = false;
    let mut entry = 0;
    let mut start: Option<usize> = None;
    let mut last_token_end = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && matches!(b.get(i + 1), Some(b'/' | b'*')) {
            i = skip_comment(b, i);
            continue;
        }
        let in_entries = entries_depth == Some(depth);
        if in_entries && start.is_none() && c != b',' && !matches!(c, b')' | b']' | b'}') {
            start = Some(i);
        }
        match c {
            b'"' | b'\'' => i = skip_quoted(b, i),
            b'(' | b'[' | b'{' => {
                if section_key_seen && c == b'[' {
                    entries_depth = Some(depth + 1);
                }
                section_key_seen = false;
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' => {
                if in_entries {
                    // The list ends: its last entry, if it is the one (a trailing comma leaves
                    // no entry after it).
                    return (entry == index).then_some(start?..last_token_end);
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' if in_entries => {
                if entry == index {
                    return Some(start?..last_token_end);
                }
                entry += 1;
                start = None;
                i += 1;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#')) => i = skip_raw_string(b, i),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let word_start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if depth == 1 && entries_depth.is_none() && &text[word_start..i] == section {
                    // A key is followed by a colon.
                    let rest = text[i..].trim_start();
                    section_key_seen = rest.starts_with(':');
                }
            }
            b':' => i += 1,
            _ => {
                section_key_seen = false;
                i += 1;
            }
        }
        last_token_end = i;
    }
    None
}

/// Past a string or a character literal that starts at `i` (its `"` or `'`), escapes included.
fn skip_quoted(b: &[u8], mut i: usize) -> usize {
    let quote = b[i];
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Past a raw string `r"..."` or `r#"..."#` that starts at `i`.
fn skip_raw_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
    i += hashes;
    if b.get(i) != Some(&b'"') {
        return i;
    }
    i += 1;
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    b.len()
}

/// Past a comment that starts at `i`: to the end of the line, or to the matching `*/` (block
/// comments nest in RON).
fn skip_comment(b: &[u8], mut i: usize) -> usize {
    if b[i + 1] == b'/' {
        return b[i..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |n| i + n + 1);
    }
    let mut open = 0;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                open += 1;
                i += 2;
            }
            (b'*', b'/') => {
                open -= 1;
                i += 2;
                if open == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r##"// A comment with script: [ and a "quote
(
    title: "script: [not this]",
    hosts: [(name: "a", ip: "1.2.3.4"), /* (name: "x"), */ (name: "b, c", ip: '\'')],
    script: [
        Send(at: "0s", to: ["bob@beta.example"]),  // first, with "bob"
        Send(at: "1m", to: []),
        FetchImap(at: r#"2m"#, user: "bob@beta.example"),
    ],
    expect: [],
)
"##;

    fn entry<'t>(text: &'t str, section: &str, index: usize) -> Option<&'t str> {
        entry_span(text, section, index).map(|r| &text[r])
    }

    #[test]
    fn entries_are_found_past_strings_and_comments() {
        assert_eq!(entry(FILE, "script", 1), Some(r#"Send(at: "1m", to: [])"#));
        assert_eq!(
            entry(FILE, "script", 2),
            Some(r##"FetchImap(at: r#"2m"#, user: "bob@beta.example")"##)
        );
        assert_eq!(entry(FILE, "hosts", 1), Some(r#"(name: "b, c", ip: '\'')"#));
        assert_eq!(
            entry(FILE, "hosts", 0),
            Some(r#"(name: "a", ip: "1.2.3.4")"#)
        );
    }

    #[test]
    fn entries_that_are_not_there_are_none() {
        assert_eq!(entry(FILE, "script", 3), None);
        assert_eq!(entry(FILE, "expect", 0), None);
        assert_eq!(entry(FILE, "links", 0), None);
        assert_eq!(entry(FILE, "title", 0), None);
    }
}
