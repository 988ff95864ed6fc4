//! SMTP command lines and reply lines (RFC 5321 sections 4.1 and 4.2): any text parses or is
//! refused with a 5xx reply, never a panic; what parses renders back to a line that parses to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::proto::smtp::{Command, MAX_COMMAND_LINE, Reply};
use mailsim::proto::split_lines;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in split_lines(&text) {
        match Command::parse(line) {
            Ok(command) => {
                let wire = command.to_string();
                // `RCPT TO:<Postmaster>` renders longer than it came; past the limit the
                // rendered line is refused as too long, rightly.
                if wire.len() + 2 <= MAX_COMMAND_LINE {
                    match Command::parse(&wire) {
                        Ok(again) => assert_eq!(again, command, "{line:?} rendered as {wire:?}"),
                        Err(e) => panic!("{line:?} rendered as {wire:?}, which fails: {e}"),
                    }
                }
            }
            Err(e) => {
                let reply = e.reply();
                assert!(reply.code.is_permanent(), "{line:?}: {reply}");
                for l in reply.to_lines() {
                    Reply::parse_line(&l).expect("the server's own error reply parses");
                }
            }
        }
        if let Ok((code, last, text)) = Reply::parse_line(line) {
            let lines = if last {
                vec![text.to_string()]
            } else {
                vec![text.to_string(), String::new()]
            };
            let wire = Reply::multi(code, lines).to_lines();
            assert_eq!(
                Reply::parse_line(&wire[0]),
                Ok((code, last, text)),
                "{line:?}"
            );
            let _ = Reply::new(code, text).enhanced_status();
        }
    }
});
