//! IMAP command lines (RFC 3501 sections 6 and 9) and the response syntax a client reads back
//! (literals, lists): any text parses or is refused, never a panic; commands render back to
//! a line that parses to the same tag and command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::proto::imap::{Command, ResponseReader, SeqSet, parse_values, tokenize};
use mailsim::proto::split_lines;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut reader = ResponseReader::default();
    for line in split_lines(&text) {
        if let Ok((tag, command)) = Command::parse(line) {
            let wire = command.to_line(&tag);
            match Command::parse(&wire) {
                Ok(again) => assert_eq!(again, (tag, command), "{line:?} rendered as {wire:?}"),
                Err(e) => panic!("{line:?} rendered as {wire:?}, which fails: {e}"),
            }
        }
        let _ = tokenize(line);
        if let Some(set) = SeqSet::parse(line) {
            let wire = set.to_string();
            assert_eq!(
                SeqSet::parse(&wire),
                Some(set),
                "{line:?} rendered as {wire:?}"
            );
        }
        if let Some(response) = reader.push(line) {
            let _ = parse_values(&response);
        }
    }
    let _ = parse_values(&text);
});
