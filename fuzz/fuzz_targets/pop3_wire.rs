//! POP3 command lines (RFC 1939 sections 3 to 7, CAPA of RFC 2449) and byte-stuffing: any text
//! parses or is refused, never a panic; commands render back to what they parsed from, and
//! stuffed text unstuffs to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::proto::pop3::{Command, MAX_COMMAND_LINE, byte_stuff, byte_unstuff_text};
use mailsim::proto::split_lines;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in split_lines(&text) {
        if let Ok(command) = Command::parse(line) {
            let wire = command.to_string();
            if wire.len() + 2 <= MAX_COMMAND_LINE {
                match Command::parse(&wire) {
                    Ok(again) => assert_eq!(again, command, "{line:?} rendered as {wire:?}"),
                    Err(e) => panic!("{line:?} rendered as {wire:?}, which fails: {e}"),
                }
            }
        }
    }
    // Section 3: a multi-line response byte-stuffs its lines and ends with a lone ".".
    let stuffed = byte_stuff(&text);
    assert_eq!(stuffed.last().map(String::as_str), Some("."));
    let unstuffed = byte_unstuff_text(stuffed.iter().map(String::as_str))
        .expect("byte_stuff ends with the terminating line");
    let expected: String = split_lines(&text).map(|l| format!("{l}\r\n")).collect();
    assert_eq!(unstuffed, expected);
});
