//! The resolver's cache: answers kept for their TTL (RFC 1035 section 7.4), negative answers for
//! the SOA minimum (RFC 2308 section 5). Time is passed in, so the cache works in virtual time.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::wire::{DnsMessage, Name, RData, Rcode, Record, RecordType};

/// How many CNAMEs a lookup follows: enough for any sane chain, and a loop ends.
const MAX_CNAME_CHAIN: usize = 8;

/// What the cache knows about a question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CachedAnswer {
    /// The records, with the TTL each has left.
    Records(Vec<Record>),
    NxDomain,
    NoData,
}

/// A TTL cache keyed by name, then type. An entry is its expiry time (virtual ms) and the answer
/// as stored, TTLs as received. The names are hashed so that a lookup by the name as asked needs
/// no key built (a resolver looks up on every hop); listing sorts them, so it stays deterministic.
#[derive(Clone, Debug, Default)]
pub struct DnsCache {
    names: HashMap<Name, Types>,
    /// No entry expires before this time, so `learn` need not sweep the cache before then: a
    /// busy resolver's cache holds thousands of names, and walking them all on every answer made
    /// large runs slow. It may be earlier than the earliest expiry (after a removal); never later.
    sweep_at: u64,
    /// How many more responses `learn` takes before it may sweep again: as many as there were
    /// names after the last sweep. A sweep comes at the first store that is past both this
    /// count and `sweep_at`, and walks the names the last sweep left plus those stored since:
    /// amortised over the stores between, a few names' walk each, however long the run.
    /// (Sweeping whenever something had expired walked the whole cache on nearly every answer;
    /// once a minute still took a tenth of a ten-hour run.) Expired entries are never served or
    /// listed, so they may wait: after a burst of names and then a trickle of answers (live
    /// mode, say), they wait for as many answers as the burst left names.
    stores_before_sweep: usize,
}

/// The entries of one name, sorted by type: (type, (expiry, answer)). A name has one or two
/// types, so a short Vec (a map per name took more memory than the entries).
type Types = Vec<(RecordType, (u64, Kept))>;

/// Sets the entry of one type.
fn set(types: &mut Types, t: RecordType, entry: (u64, Kept)) {
    match types.binary_search_by_key(&t, |(k, _)| *k) {
        Ok(i) => types[i].1 = entry,
        Err(i) => {
            // One or two types a name: grow by one rather than to four.
            types.reserve_exact(1);
            types.insert(i, (t, entry));
        }
    }
}

/// An entry as kept: records shared with every other cache that learnt them from the same
/// answer (counted: a million messages among 1,000 domains leave 1.26 million entries holding
/// 2,000 distinct record sets), or a negative answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kept {
    Records(Arc<[Record]>),
    NxDomain,
    NoData,
}

/// What a response teaches a cache: every RRset in its answer and additional sections, each
/// under its own name and type with its TTL, and the negative answer if it is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lessons {
    /// (name, type, TTL in seconds, records), in (name, type) order; sets with a TTL of 0 are
    /// not cached at all.
    sets: Vec<(Name, RecordType, u32, Arc<[Record]>)>,
    /// (the name it is about, the type asked, TTL in seconds, NXDOMAIN or NODATA).
    negative: Option<(Name, RecordType, u32, Kept)>,
}

impl Lessons {
    /// What `response` teaches; `None` if it is not a response.
    pub fn of(response: &DnsMessage) -> Option<Lessons> {
        if !response.response {
            return None;
        }
        let mut by_set: BTreeMap<(Name, RecordType), Vec<Record>> = BTreeMap::new();
        for r in response.answers.iter().chain(&response.additional) {
            let set = by_set.entry((r.name.clone(), r.data.rtype())).or_default();
            if !set.iter().any(|s| s.data == r.data) {
                set.push(r.clone());
            }
        }
        let sets = by_set
            .into_iter()
            .filter_map(|((name, rtype), records)| {
                // RFC 2181 section 5.2: an RRset has one TTL; if they differ, the smallest holds.
                let ttl = records.iter().map(|r| usable_ttl(r.ttl)).min().unwrap_or(0);
                (ttl > 0).then(|| (name, rtype, ttl, Arc::from(records)))
            })
            .collect();
        Some(Lessons {
            sets,
            negative: negative_lesson(response),
        })
    }
}

/// The negative answer a response gives, and for how long, if it gives one.
fn negative_lesson(response: &DnsMessage) -> Option<(Name, RecordType, u32, Kept)> {
    let q = response.questions.first()?;
    // RFC 2308 section 5: a negative answer lives for the smaller of the SOA's TTL and its
    // MINIMUM; without a SOA it is not cached at all.
    let negative_ttl = response
        .authority
        .iter()
        .find_map(|r| match r.data {
            RData::Soa { minimum, .. } => Some(usable_ttl(minimum.min(r.ttl))),
            _ => None,
        })
        .unwrap_or(0);
    if negative_ttl == 0 {
        return None;
    }
    // A negative answer after a CNAME chain is about the chain's last name (RFC 2308
    // sections 2.1 and 2.2).
    let mut owner = q.name.clone();
    if q.qtype != RecordType::Cname {
        for r in &response.answers {
            if let RData::Cname(target) = &r.data
                && r.name == owner
            {
                owner = target.clone();
            }
        }
    }
    let negative = match response.rcode {
        Rcode::NxDomain => Kept::NxDomain,
        Rcode::NoError if !response.answers.iter().any(|r| r.data.rtype() == q.qtype) => {
            Kept::NoData
        }
        _ => return None,
    };
    Some((owner, q.qtype, negative_ttl, negative))
}

/// Caches are equal when they hold the same entries, expired ones not yet swept out included.
impl PartialEq for DnsCache {
    fn eq(&self, other: &DnsCache) -> bool {
        self.names == other.names
    }
}

impl Eq for DnsCache {}

impl DnsCache {
    /// Looks a question up; follows a cached CNAME to its target, and then the answer is the
    /// chain with the target's records, or the target's negative answer.
    pub fn lookup(&self, name: &str, qtype: RecordType, now_ms: u64) -> Option<CachedAnswer> {
        let name = name.trim_end_matches('.');
        let lower;
        let mut name: &str = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            &lower
        } else {
            name
        };
        let mut chain = Vec::new();
        for _ in 0..=MAX_CNAME_CHAIN {
            match self.live(name, qtype, now_ms) {
                Some(CachedAnswer::Records(rs)) => {
                    chain.extend(rs);
                    return Some(CachedAnswer::Records(chain));
                }
                Some(negative) => return Some(negative),
                None => {}
            }
            if self.known_not_to_exist(name, now_ms) {
                return Some(CachedAnswer::NxDomain);
            }
            if qtype == RecordType::Cname {
                return None;
            }
            let Some((expires, Kept::Records(alias))) =
                self.unexpired(name, RecordType::Cname, now_ms)
            else {
                return None;
            };
            let Some(RData::Cname(target)) = alias.first().map(|r| &r.data) else {
                return None;
            };
            chain.extend(with_ttl_left(alias, expires, now_ms));
            name = target;
        }
        None
    }

    /// An unexpired entry, its records' TTLs cut to what is left.
    fn live(&self, name: &str, qtype: RecordType, now_ms: u64) -> Option<CachedAnswer> {
        let (expires, kept) = self.unexpired(name, qtype, now_ms)?;
        Some(match kept {
            Kept::Records(rs) => {
                CachedAnswer::Records(with_ttl_left(rs, expires, now_ms).collect())
            }
            Kept::NxDomain => CachedAnswer::NxDomain,
            Kept::NoData => CachedAnswer::NoData,
        })
    }

    /// The entry of one name and type as kept, with its expiry, if it has not expired.
    fn unexpired(&self, name: &str, qtype: RecordType, now_ms: u64) -> Option<(u64, &Kept)> {
        let (_, (expires, kept)) = self.names.get(name)?.iter().find(|(t, _)| *t == qtype)?;
        (*expires > now_ms).then_some((*expires, kept))
    }

    /// An NXDOMAIN is about the name, whatever type was asked: it has no records at all.
    fn known_not_to_exist(&self, name: &str, now_ms: u64) -> bool {
        self.names.get(name).is_some_and(|types| {
            types
                .iter()
                .any(|(_, (expires, a))| *a == Kept::NxDomain && *expires > now_ms)
        })
    }

    /// Stores what a response teaches (see [`Lessons`]). Expired entries go from time to time
    /// (see `stores_before_sweep`).
    pub fn store(&mut self, response: &DnsMessage, now_ms: u64) {
        if let Some(lessons) = Lessons::of(response) {
            self.learn(&lessons, now_ms);
        }
    }

    /// Stores what a response teaches, worked out beforehand: the simulation reads each
    /// distinct answer once and hands its lessons to every resolver that gets it.
    pub fn learn(&mut self, lessons: &Lessons, now_ms: u64) {
        self.stores_before_sweep = self.stores_before_sweep.saturating_sub(1);
        if self.sweep_at <= now_ms && self.stores_before_sweep == 0 {
            for types in self.names.values_mut() {
                types.retain(|(_, (expires, _))| *expires > now_ms);
            }
            self.names.retain(|_, types| !types.is_empty());
            self.stores_before_sweep = self.names.len();
            self.sweep_at = self
                .names
                .values()
                .flat_map(|types| types.iter().map(|(_, (e, _))| *e))
                .min()
                .unwrap_or(u64::MAX);
        }
        for (name, rtype, ttl, records) in &lessons.sets {
            let expires = expiry(now_ms, *ttl);
            self.sweep_at = self.sweep_at.min(expires);
            let types = self.names.entry(Name::clone(name)).or_default();
            // The name exists after all: forget that it did not.
            types.retain(|(_, (_, a))| *a != Kept::NxDomain);
            set(types, *rtype, (expires, Kept::Records(Arc::clone(records))));
        }
        if let Some((owner, qtype, ttl, negative)) = &lessons.negative {
            let expires = expiry(now_ms, *ttl);
            self.sweep_at = self.sweep_at.min(expires);
            set(
                self.names.entry(Name::clone(owner)).or_default(),
                *qtype,
                (expires, negative.clone()),
            );
        }
    }

    /// What the cache holds now, in (name, type) order: the name, the type, the seconds left,
    /// and the records (with the TTL left) or the negative answer.
    pub fn entries(&self, now_ms: u64) -> Vec<(String, RecordType, u64, String)> {
        let mut live: Vec<(&Name, RecordType, u64)> = self
            .names
            .iter()
            .flat_map(|(name, types)| types.iter().map(move |(t, (e, _))| (name, *t, *e)))
            .filter(|(_, _, expires)| *expires > now_ms)
            .collect();
        live.sort_unstable();
        live.into_iter()
            .map(|(name, t, expires)| {
                let summary = match self.live(name, t, now_ms) {
                    Some(CachedAnswer::Records(rs)) => rs
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                    Some(CachedAnswer::NxDomain) => "NXDOMAIN".to_string(),
                    _ => format!("no {t} records"),
                };
                (name.to_string(), t, (expires - now_ms) / 1000, summary)
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.names.clear();
        self.sweep_at = 0;
        self.stores_before_sweep = 0;
    }

    /// How many entries are held; expired ones count until `learn` sweeps them out.
    pub fn len(&self) -> usize {
        self.names.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Copies of cached records with the TTL they have left (RFC 1035 section 7.4: the resolver
/// hands on what remains, not what it was given).
fn with_ttl_left(
    records: &[Record],
    expires: u64,
    now_ms: u64,
) -> impl Iterator<Item = Record> + '_ {
    let left = u32::try_from((expires - now_ms) / 1000).unwrap_or(u32::MAX);
    records.iter().map(move |r| Record {
        ttl: left,
        ..r.clone()
    })
}

/// RFC 2181 section 8: a TTL with the top bit set is taken as zero.
fn usable_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 { 0 } else { ttl }
}

fn expiry(now_ms: u64, ttl_s: u32) -> u64 {
    now_ms.saturating_add(u64::from(ttl_s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::{Authority, Zone};
    use std::net::Ipv4Addr;

    fn rec(name: &str, ttl: u32, data: RData) -> Record {
        Record {
            name: name.into(),
            ttl,
            data,
        }
    }

    fn mx_ip() -> RData {
        RData::A(Ipv4Addr::new(192, 0, 2, 1))
    }

    fn authority() -> Authority {
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
                    rec("mx.beta.example", 60, mx_ip()),
                    rec(
                        "mail.beta.example",
                        60,
                        RData::Cname("mx.beta.example".into()),
                    ),
                    rec(
                        "gone.beta.example",
                        60,
                        RData::Cname("no.beta.example".into()),
                    ),
                ],
                negative_ttl: 30,
                primary: "ns.beta.example".into(),
            }],
        }
    }

    fn learn(cache: &mut DnsCache, name: &str, t: RecordType, now: u64) {
        cache.store(&authority().answer(&DnsMessage::query(1, name, t)), now);
    }

    #[test]
    fn caches_that_learn_one_answer_share_its_records() {
        let answer = authority().answer(&DnsMessage::query(1, "beta.example", RecordType::Mx));
        let lessons = Lessons::of(&answer).expect("a response");
        let (mut a, mut b) = (DnsCache::default(), DnsCache::default());
        a.learn(&lessons, 0);
        b.learn(&lessons, 5_000);
        let kept = |c: &DnsCache| {
            let types = &c.names["beta.example"];
            match types.iter().find(|(t, _)| *t == RecordType::Mx) {
                Some((_, (_, Kept::Records(rs)))) => Arc::clone(rs),
                other => panic!("MX records expected, not {other:?}"),
            }
        };
        assert!(
            Arc::ptr_eq(&kept(&a), &kept(&b)),
            "one copy for both caches"
        );
        // Each cache still counts the TTL from when it learnt the records.
        assert_eq!(ttls(a.lookup("beta.example", RecordType::Mx, 10_000)), [50]);
        assert_eq!(ttls(b.lookup("beta.example", RecordType::Mx, 10_000)), [55]);
        // A query is not a response: it teaches nothing.
        assert_eq!(
            Lessons::of(&DnsMessage::query(1, "beta.example", RecordType::Mx)),
            None
        );
    }

    #[test]
    fn what_an_answer_teaches_does_not_depend_on_its_id() {
        // The world works out an answer's lessons once, keyed by its bytes after the ID, and
        // hands them to every resolver whose query had that answer, whatever its ID.
        let questions = [
            ("beta.example", RecordType::Mx),
            ("mail.beta.example", RecordType::A),
            ("nosuch.beta.example", RecordType::Mx),
            ("mx.beta.example", RecordType::Mx),
            ("gone.beta.example", RecordType::A),
        ];
        for (name, t) in questions {
            let lessons = |id| {
                Lessons::of(&authority().answer(&DnsMessage::query(id, name, t)))
                    .expect("a response")
            };
            assert_eq!(lessons(1), lessons(40_000), "{name} {t}");
        }
        let nx = Lessons::of(&authority().answer(&DnsMessage::query(
            1,
            "nosuch.beta.example",
            RecordType::Mx,
        )))
        .expect("a response");
        assert_eq!(
            nx.negative.map(|(owner, _, ttl, kept)| (owner, ttl, kept)),
            Some(("nosuch.beta.example".into(), 30, Kept::NxDomain))
        );
    }

    fn ttls(answer: Option<CachedAnswer>) -> Vec<u32> {
        match answer {
            Some(CachedAnswer::Records(rs)) => rs.iter().map(|r| r.ttl).collect(),
            other => panic!("not records: {other:?}"),
        }
    }

    #[test]
    fn answers_expire_exactly_at_their_ttl() {
        let mut c = DnsCache::default();
        learn(&mut c, "beta.example", RecordType::Mx, 1_000);
        assert_eq!(ttls(c.lookup("beta.example", RecordType::Mx, 1_000)), [60]);
        assert_eq!(ttls(c.lookup("beta.example", RecordType::Mx, 60_999)), [0]);
        assert_eq!(c.lookup("beta.example", RecordType::Mx, 61_000), None);
        // The exchanger's A record from the additional section is cached too, under its name.
        assert_eq!(
            ttls(c.lookup("mx.beta.example", RecordType::A, 2_000)),
            [59]
        );
    }

    #[test]
    fn negative_answers_are_cached_for_the_soa_minimum() {
        let mut c = DnsCache::default();
        learn(&mut c, "nosuch.beta.example", RecordType::Mx, 0);
        learn(&mut c, "mx.beta.example", RecordType::Mx, 0);
        let nx = Some(CachedAnswer::NxDomain);
        assert_eq!(c.lookup("nosuch.beta.example", RecordType::Mx, 29_999), nx);
        // A name that does not exist has no records of any type.
        assert_eq!(c.lookup("nosuch.beta.example", RecordType::A, 1), nx);
        assert_eq!(
            c.lookup("mx.beta.example", RecordType::Mx, 1),
            Some(CachedAnswer::NoData)
        );
        // NODATA is about the one type.
        assert_eq!(c.lookup("mx.beta.example", RecordType::Ns, 1), None);
        assert_eq!(
            c.lookup("nosuch.beta.example", RecordType::Mx, 30_000),
            None
        );
        assert_eq!(c.lookup("mx.beta.example", RecordType::Mx, 30_000), None);
    }

    #[test]
    fn a_negative_answer_lives_no_longer_than_its_soa() {
        // RFC 2308 section 5: the smaller of the SOA's TTL (10) and its MINIMUM (30).
        let mut reply = DnsMessage::query(1, "no.beta.example", RecordType::A);
        reply.response = true;
        reply.rcode = Rcode::NxDomain;
        reply.authority.push(rec(
            "beta.example",
            10,
            RData::Soa {
                mname: "ns.beta.example".into(),
                rname: "hostmaster.beta.example".into(),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 30,
            },
        ));
        let mut c = DnsCache::default();
        c.store(&reply, 0);
        assert_eq!(
            c.lookup("no.beta.example", RecordType::A, 9_999),
            Some(CachedAnswer::NxDomain)
        );
        assert_eq!(c.lookup("no.beta.example", RecordType::A, 10_000), None);
        // Without a SOA a negative answer is not cached at all.
        reply.authority.clear();
        c.clear();
        c.store(&reply, 0);
        assert!(c.is_empty());
    }

    #[test]
    fn a_cached_cname_is_followed() {
        let mut c = DnsCache::default();
        learn(&mut c, "mail.beta.example", RecordType::A, 0);
        match c.lookup("mail.beta.example", RecordType::A, 1_000) {
            Some(CachedAnswer::Records(rs)) => {
                assert_eq!(
                    rs,
                    [
                        rec(
                            "mail.beta.example",
                            59,
                            RData::Cname("mx.beta.example".into())
                        ),
                        rec("mx.beta.example", 59, mx_ip()),
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        // Each link is kept under its own name and type.
        let keys: Vec<_> = c.entries(1).into_iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(
            keys,
            [
                ("mail.beta.example".to_string(), RecordType::Cname),
                ("mx.beta.example".to_string(), RecordType::A),
            ]
        );
        // Only the CNAME, when that is what is asked.
        assert_eq!(
            ttls(c.lookup("mail.beta.example", RecordType::Cname, 0)),
            [60]
        );
        // The alias leads to what is known of the target, negative answers included.
        learn(&mut c, "beta.example", RecordType::Mx, 0);
        learn(&mut c, "mx.beta.example", RecordType::Mx, 0);
        assert_eq!(
            c.lookup("mail.beta.example", RecordType::Mx, 0),
            Some(CachedAnswer::NoData)
        );
        assert_eq!(c.lookup("mail.beta.example", RecordType::Ns, 0), None);
    }

    #[test]
    fn a_cname_to_nowhere_is_cached_as_nxdomain_for_its_target() {
        let mut c = DnsCache::default();
        learn(&mut c, "gone.beta.example", RecordType::A, 0);
        assert_eq!(
            c.lookup("gone.beta.example", RecordType::A, 0),
            Some(CachedAnswer::NxDomain)
        );
        assert_eq!(
            c.lookup("no.beta.example", RecordType::Mx, 0),
            Some(CachedAnswer::NxDomain)
        );
        // Once the alias expires (60 s) nothing is known; the target's NXDOMAIN lasts 30 s.
        assert_eq!(c.lookup("gone.beta.example", RecordType::A, 30_000), None);
    }

    #[test]
    fn a_cname_loop_in_the_cache_ends() {
        let mut reply = DnsMessage::query(1, "a.example", RecordType::A);
        reply.response = true;
        reply.answers = vec![
            rec("a.example", 60, RData::Cname("b.example".into())),
            rec("b.example", 60, RData::Cname("a.example".into())),
        ];
        let mut c = DnsCache::default();
        c.store(&reply, 0);
        assert_eq!(c.lookup("a.example", RecordType::A, 0), None);
    }

    #[test]
    fn news_of_a_name_replaces_its_nxdomain() {
        // As if the name had been added to the zone since the NXDOMAIN was learned.
        let mut reply = DnsMessage::query(1, "mx.beta.example", RecordType::Mx);
        reply.response = true;
        reply.rcode = Rcode::NxDomain;
        reply.authority = authority()
            .answer(&DnsMessage::query(1, "no.beta.example", RecordType::Mx))
            .authority;
        let mut c = DnsCache::default();
        c.store(&reply, 0);
        assert_eq!(
            c.lookup("mx.beta.example", RecordType::A, 0),
            Some(CachedAnswer::NxDomain)
        );
        learn(&mut c, "mx.beta.example", RecordType::A, 0);
        assert_eq!(ttls(c.lookup("mx.beta.example", RecordType::A, 0)), [60]);
        assert_eq!(c.lookup("mx.beta.example", RecordType::Ns, 0), None);
    }

    #[test]
    fn only_responses_with_a_usable_ttl_are_kept() {
        let mut c = DnsCache::default();
        c.store(&DnsMessage::query(1, "beta.example", RecordType::Mx), 0);
        let mut reply = DnsMessage::query(1, "x.example", RecordType::A);
        reply.response = true;
        reply.answers = vec![
            rec("x.example", 0, mx_ip()),
            // RFC 2181 section 8: the top bit set means zero.
            rec("y.example", 0x8000_0000, mx_ip()),
        ];
        c.store(&reply, 0);
        let mut refused = DnsMessage::query(1, "x.example", RecordType::A);
        refused.response = true;
        refused.rcode = Rcode::Refused;
        c.store(&refused, 0);
        assert!(c.is_empty());
    }

    #[test]
    fn entries_list_what_is_live_in_order() {
        let mut c = DnsCache::default();
        learn(&mut c, "nosuch.beta.example", RecordType::A, 0);
        learn(&mut c, "beta.example", RecordType::Mx, 0);
        learn(&mut c, "mx.beta.example", RecordType::Mx, 0);
        assert_eq!(c.len(), 4);
        assert_eq!(
            c.entries(10_500),
            [
                (
                    "beta.example".to_string(),
                    RecordType::Mx,
                    49,
                    "beta.example. 49 IN MX 10 mx.beta.example.".to_string()
                ),
                (
                    "mx.beta.example".to_string(),
                    RecordType::A,
                    49,
                    "mx.beta.example. 49 IN A 192.0.2.1".to_string()
                ),
                (
                    "mx.beta.example".to_string(),
                    RecordType::Mx,
                    19,
                    "no MX records".to_string()
                ),
                (
                    "nosuch.beta.example".to_string(),
                    RecordType::A,
                    19,
                    "NXDOMAIN".to_string()
                ),
            ]
        );
        // Expired entries are not listed, though they are still held until a sweep.
        assert_eq!(c.entries(30_000).len(), 2);
        assert_eq!(c.len(), 4);
        c.clear();
        assert!(c.is_empty() && c.entries(0).is_empty());
    }

    #[test]
    fn a_sweep_waits_for_as_many_stores_as_there_were_names_after_the_last() {
        let mut c = DnsCache::default();
        // At 0 s: two names for 60 s (the MX and its address), then ten that do not exist
        // (NXDOMAIN, kept for 30 s). The first store swept the empty cache.
        learn(&mut c, "beta.example", RecordType::Mx, 0);
        for i in 0..10 {
            learn(&mut c, &format!("no{i}.beta.example"), RecordType::A, 0);
        }
        assert_eq!(c.len(), 12);
        // At 40 s the ten have expired: the sweep before this store takes them out and leaves
        // two names, so the next sweep waits for two stores.
        learn(&mut c, "no10.beta.example", RecordType::A, 40_000);
        assert_eq!(c.len(), 3);
        // At 80 s everything held has expired, but only one store has come since.
        learn(&mut c, "no11.beta.example", RecordType::A, 80_000);
        assert_eq!(c.len(), 4, "one store is not enough");
        assert_eq!(c.entries(80_000).len(), 1, "expired entries are not listed");
        assert!(c.lookup("beta.example", RecordType::Mx, 80_000).is_none());
        learn(&mut c, "no12.beta.example", RecordType::A, 80_000);
        assert_eq!(c.len(), 2, "the second sweeps: no11 and no12 are left");
        // The count is reached again, but nothing has expired: nothing to sweep.
        learn(&mut c, "no13.beta.example", RecordType::A, 80_000);
        assert_eq!(c.len(), 3);
        assert_eq!(c.entries(80_000).len(), 3);
    }

    #[test]
    fn lookups_ignore_case_and_the_final_dot() {
        let mut c = DnsCache::default();
        learn(&mut c, "beta.example", RecordType::Mx, 0);
        assert_eq!(ttls(c.lookup("Beta.EXAMPLE.", RecordType::Mx, 0)), [60]);
    }
}
