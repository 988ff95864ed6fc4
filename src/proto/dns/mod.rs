//! DNS (RFC 1035): messages in their real binary form, authoritative answers from zones, and
//! the resolver's TTL cache.

mod cache;
mod wire;
mod zone;

pub use cache::{CachedAnswer, DnsCache, Lessons};
pub use wire::{DnsError, DnsMessage, Name, Question, RData, Rcode, Record, RecordType};
pub use zone::{Authority, Zone};
