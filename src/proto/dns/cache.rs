//! The resolver's cache: answers kept for their TTL (RFC 1035 section 7.4), negative answers for
//! the SOA minimum (RFC 2308 section 5). Time is passed in, so the cache works in virtual time.

use std::collections::BTreeMap;

use super::wire::{DnsMessage, RData, Rcode, Record, RecordType};

/// What the cache knows about a question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CachedAnswer {
    /// The records, with the TTL each has left.
    Records(Vec<Record>),
    NxDomain,
    NoData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Records(Vec<Record>),
    NxDomain,
    NoData,
}

/// A TTL cache keyed by (name, type); BTreeMap so that listing it is deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsCache {
    entries: BTreeMap<(String, RecordType), (u64, Entry)>,
}

impl DnsCache {
    /// Looks a question up; follows a cached CNAME to its target.
    pub fn lookup(&self, name: &str, qtype: RecordType, now_ms: u64) -> Option<CachedAnswer> {
        let mut name = name.to_string();
        let mut chain = Vec::new();
        for _ in 0..8 {
            if let Some(found) = self.live(&name, qtype, now_ms) {
                return Some(match found {
                    CachedAnswer::Records(mut rs) => {
                        chain.append(&mut rs);
                        CachedAnswer::Records(chain)
                    }
                    other if chain.is_empty() => other,
                    other => other,
                });
            }
            if qtype == RecordType::Cname {
                break;
            }
            if let Some(CachedAnswer::Records(rs)) = self.live(&name, RecordType::Cname, now_ms)
                && let Some(RData::Cname(target)) = rs.first().map(|r| r.data.clone())
            {
                chain.extend(rs);
                name = target;
                continue;
            }
            // A name known not to exist has no records of any type.
            let all_types =
                (name.clone(), RecordType::A)..=(name.clone(), RecordType::Other(u16::MAX));
            let nx = self
                .entries
                .range(all_types)
                .any(|(_, (expires, e))| *e == Entry::NxDomain && *expires > now_ms);
            if nx && chain.is_empty() {
                return Some(CachedAnswer::NxDomain);
            }
            break;
        }
        None
    }

    fn live(&self, name: &str, qtype: RecordType, now_ms: u64) -> Option<CachedAnswer> {
        let (expires, entry) = self.entries.get(&(name.to_string(), qtype))?;
        if *expires <= now_ms {
            return None;
        }
        let left = ((expires - now_ms) / 1000) as u32;
        Some(match entry {
            Entry::Records(rs) => CachedAnswer::Records(
                rs.iter()
                    .map(|r| Record {
                        ttl: left,
                        ..r.clone()
                    })
                    .collect(),
            ),
            Entry::NxDomain => CachedAnswer::NxDomain,
            Entry::NoData => CachedAnswer::NoData,
        })
    }

    /// Stores what a response teaches: every RRset in it, or the negative answer.
    pub fn store(&mut self, response: &DnsMessage, now_ms: u64) {
        let mut sets: BTreeMap<(String, RecordType), Vec<Record>> = BTreeMap::new();
        for r in response.answers.iter().chain(&response.additional) {
            sets.entry((r.name.clone(), r.data.rtype()))
                .or_default()
                .push(r.clone());
        }
        for (key, records) in sets {
            let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
            if ttl > 0 {
                self.entries.insert(
                    key,
                    (now_ms + u64::from(ttl) * 1000, Entry::Records(records)),
                );
            }
        }
        let Some(q) = response.questions.first() else {
            return;
        };
        let negative_ttl = response
            .authority
            .iter()
            .find_map(|r| match r.data {
                RData::Soa { minimum, .. } => Some(minimum.min(r.ttl)),
                _ => None,
            })
            .unwrap_or(0);
        if negative_ttl == 0 {
            return;
        }
        let expires = now_ms + u64::from(negative_ttl) * 1000;
        // The last name of the CNAME chain is the one the negative answer is about.
        let mut owner = q.name.clone();
        for r in &response.answers {
            if let RData::Cname(t) = &r.data
                && r.name == owner
            {
                owner = t.clone();
            }
        }
        let answered = response.answers.iter().any(|r| r.data.rtype() == q.qtype);
        match response.rcode {
            Rcode::NxDomain => {
                self.entries
                    .insert((owner, q.qtype), (expires, Entry::NxDomain));
            }
            Rcode::NoError if !answered => {
                self.entries
                    .insert((owner, q.qtype), (expires, Entry::NoData));
            }
            _ => {}
        }
    }

    /// What the cache holds now: (name, type, seconds left, the records or the negative answer).
    pub fn entries(&self, now_ms: u64) -> Vec<(String, RecordType, u64, String)> {
        self.entries
            .iter()
            .filter(|(_, (expires, _))| *expires > now_ms)
            .map(|((name, t), (expires, e))| {
                let summary = match e {
                    Entry::Records(rs) => rs
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                    Entry::NxDomain => "NXDOMAIN".to_string(),
                    Entry::NoData => format!("no {t} records"),
                };
                (name.clone(), *t, (expires - now_ms) / 1000, summary)
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::{Authority, Zone};
    use std::net::Ipv4Addr;

    fn authority() -> Authority {
        let rec = |name: &str, ttl, data| Record {
            name: String::from(name),
            ttl,
            data,
        };
        Authority {
            zones: vec![Zone {
                origin: "beta.example".into(),
                records: vec![
                    rec(
                        "beta.example",
                        60,
                        RData::Mx {
                            preference: 10,
                            exchange: "mx.beta.example".into(),
                        },
                    ),
                    rec("mx.beta.example", 60, RData::A(Ipv4Addr::new(192, 0, 2, 1))),
                    rec(
                        "mail.beta.example",
                        60,
                        RData::Cname("mx.beta.example".into()),
                    ),
                ],
                negative_ttl: 30,
            }],
        }
    }

    fn learn(cache: &mut DnsCache, name: &str, t: RecordType, now: u64) {
        cache.store(&authority().answer(&DnsMessage::query(1, name, t)), now);
    }

    #[test]
    fn answers_expire_exactly_at_their_ttl() {
        let mut c = DnsCache::default();
        learn(&mut c, "beta.example", RecordType::Mx, 1_000);
        assert!(matches!(
            c.lookup("beta.example", RecordType::Mx, 60_999),
            Some(CachedAnswer::Records(_))
        ));
        assert_eq!(c.lookup("beta.example", RecordType::Mx, 61_000), None);
        // The glue A record from the additional section is cached too.
        match c.lookup("mx.beta.example", RecordType::A, 2_000) {
            Some(CachedAnswer::Records(rs)) => assert_eq!(rs[0].ttl, 59),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn negative_answers_are_cached_for_the_soa_minimum() {
        let mut c = DnsCache::default();
        learn(&mut c, "nosuch.beta.example", RecordType::Mx, 0);
        learn(&mut c, "mx.beta.example", RecordType::Mx, 0);
        assert_eq!(
            c.lookup("nosuch.beta.example", RecordType::Mx, 29_999),
            Some(CachedAnswer::NxDomain)
        );
        assert_eq!(
            c.lookup("nosuch.beta.example", RecordType::A, 1),
            Some(CachedAnswer::NxDomain)
        );
        assert_eq!(
            c.lookup("mx.beta.example", RecordType::Mx, 1),
            Some(CachedAnswer::NoData)
        );
        assert_eq!(
            c.lookup("nosuch.beta.example", RecordType::Mx, 30_000),
            None
        );
    }

    #[test]
    fn a_cached_cname_is_followed() {
        let mut c = DnsCache::default();
        learn(&mut c, "mail.beta.example", RecordType::A, 0);
        match c.lookup("mail.beta.example", RecordType::A, 1) {
            Some(CachedAnswer::Records(rs)) => {
                assert_eq!(rs.len(), 2);
                assert_eq!(rs[1].data, RData::A(Ipv4Addr::new(192, 0, 2, 1)));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            c.entries(1)
                .iter()
                .any(|e| e.0 == "mail.beta.example" && e.1 == RecordType::Cname)
        );
    }
}
