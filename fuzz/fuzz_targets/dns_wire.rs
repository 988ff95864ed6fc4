//! DNS messages (RFC 1035 section 4.1): any bytes decode or are refused, never a panic; a
//! decoded message encodes (with compression, section 4.1.4) to bytes that decode to the
//! same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsim::proto::dns::DnsMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = DnsMessage::decode(data) else {
        return;
    };
    let _ = message.to_dig_text();
    let bytes = message.encode();
    match DnsMessage::decode(&bytes) {
        Ok(again) => assert_eq!(again, message, "re-encoded as {bytes:02x?}"),
        Err(e) => panic!("{message:?} encodes to bytes that fail to decode: {e}"),
    }
});
