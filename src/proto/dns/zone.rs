//! Authoritative answers from zones (RFC 1034 section 4.3.2, for a server that holds whole
//! zones and does no recursion). Names are compared as stored: lower case, no final dot.

use super::wire::{DnsError, DnsMessage, Question, RData, Rcode, Record, RecordType};

/// RFC 1035 section 4.2.1: a UDP message is at most 512 octets (no EDNS here).
const MAX_UDP_MESSAGE: usize = 512;

/// One zone: its origin and its records. The origin "" is the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub records: Vec<Record>,
    /// How long resolvers may cache "no such name" or "no such record" (RFC 2308 section 4).
    /// It is the MINIMUM of the SOA in negative answers, whatever a published SOA says.
    pub negative_ttl: u32,
    /// The name server that serves the zone: the MNAME of the SOA made up for a zone that
    /// publishes none (RFC 1035 section 3.3.13, "the primary source of data for this zone").
    pub primary: String,
}

impl Zone {
    fn contains(&self, name: &str) -> bool {
        is_at_or_below(name, &self.origin)
    }

    /// The zone's SOA, as published or made up from the origin.
    fn soa(&self) -> Record {
        self.records
            .iter()
            .find(|r| matches!(r.data, RData::Soa { .. }))
            .cloned()
            .unwrap_or_else(|| {
                // RNAME is a mailbox, hostmaster@origin; the root's is the server's own.
                let base = if self.origin.is_empty() {
                    &self.primary
                } else {
                    &self.origin
                };
                Record {
                    name: self.origin.as_str().into(),
                    ttl: self.negative_ttl,
                    data: RData::Soa {
                        mname: self.primary.as_str().into(),
                        rname: format!("hostmaster.{base}").into(),
                        serial: 1,
                        refresh: 3600,
                        retry: 600,
                        expire: 604_800,
                        minimum: self.negative_ttl,
                    },
                }
            })
    }

    /// The SOA for the authority section of a negative answer: its MINIMUM is the zone's
    /// negative TTL, and its own TTL no longer (RFC 2308 section 3).
    fn negative_soa(&self) -> Record {
        let mut soa = self.soa();
        soa.ttl = soa.ttl.min(self.negative_ttl);
        if let RData::Soa { minimum, .. } = &mut soa.data {
            *minimum = self.negative_ttl;
        }
        soa
    }

    /// Whether the name exists: it owns records, or is an ancestor of a name that does (an
    /// "empty non-terminal", RFC 8020).
    fn name_exists(&self, name: &str) -> bool {
        name == self.origin || self.records.iter().any(|r| is_at_or_below(&r.name, name))
    }

    /// The records of one type a name owns; an SOA query at the origin of a zone without an
    /// SOA of its own gets the made-up one.
    fn records_of(&self, name: &str, qtype: RecordType) -> Vec<Record> {
        let mut rs: Vec<Record> = self
            .records
            .iter()
            .filter(|r| &*r.name == name && r.data.rtype() == qtype)
            .cloned()
            .collect();
        if qtype == RecordType::Soa && name == self.origin && rs.is_empty() {
            rs.push(self.soa());
        }
        rs
    }
}

/// Whether `name` is `ancestor` or below it, label-wise ("xbeta.example" is not below
/// "beta.example"). Everything is below the root "".
fn is_at_or_below(name: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || name == ancestor
        || name
            .strip_suffix(ancestor)
            .is_some_and(|p| p.ends_with('.'))
}

/// An authoritative server: the zones it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authority {
    pub zones: Vec<Zone>,
}

impl Authority {
    /// The zone holding a name: the one with the longest origin that contains it.
    fn zone_for(&self, name: &str) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| z.contains(name))
            .max_by_key(|z| z.origin.len())
    }

    /// Answers a query as an authoritative server would.
    pub fn answer(&self, query: &DnsMessage) -> DnsMessage {
        let mut reply = DnsMessage {
            id: query.id,
            response: true,
            opcode: query.opcode,
            authoritative: false,
            truncated: false,
            // RD is copied into the response (RFC 1035 section 4.1.1).
            recursion_desired: query.recursion_desired,
            recursion_available: false,
            rcode: Rcode::NoError,
            questions: query.questions.clone(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        };
        if query.response {
            reply.rcode = Rcode::FormErr;
            return reply;
        }
        // Only standard queries (OPCODE 0); the others, like NOTIFY and UPDATE, are not ours.
        if query.opcode != 0 {
            reply.rcode = Rcode::NotImp;
            return reply;
        }
        let [Question { name, qtype }] = query.questions.as_slice() else {
            reply.rcode = Rcode::FormErr;
            return reply;
        };
        let qtype = *qtype;
        let Some(mut zone) = self.zone_for(name) else {
            reply.rcode = Rcode::Refused;
            return reply;
        };
        reply.authoritative = true;
        let mut current = name.clone();
        let mut seen = vec![current.clone()];
        loop {
            let matching = zone.records_of(&current, qtype);
            if !matching.is_empty() {
                reply.answers.extend(matching);
                break;
            }
            // An alias: answer with it and go on with its target, as far as this server holds
            // the names (RFC 1034 section 4.3.2, step 3a).
            let alias = zone.records.iter().find_map(|r| match &r.data {
                RData::Cname(target) if qtype != RecordType::Cname && r.name == current => {
                    Some((target.clone(), r.clone()))
                }
                _ => None,
            });
            if let Some((target, record)) = alias {
                reply.answers.push(record);
                if seen.contains(&target) {
                    break; // a CNAME loop: the chain so far is all there is
                }
                let Some(z) = self.zone_for(&target) else {
                    break; // held elsewhere: the resolver goes on from the CNAME
                };
                seen.push(target.clone());
                zone = z;
                current = target;
                continue;
            }
            // The last name of the chain has nothing of the type. The RCODE is about that name
            // (RFC 6604); the SOA says how long to remember it (RFC 2308 sections 2.1, 2.2).
            if !zone.name_exists(&current) {
                reply.rcode = Rcode::NxDomain;
            }
            reply.authority.push(zone.negative_soa());
            break;
        }
        // The exchangers' addresses, to save the next query (RFC 1034 section 6.2.3, RFC 1035
        // section 3.3.9). A null MX (RFC 7505) has none.
        for r in &reply.answers {
            if let RData::Mx { exchange, .. } = &r.data
                && !exchange.is_empty()
                && let Some(z) = self.zone_for(exchange)
            {
                for a in z.records_of(exchange, RecordType::A) {
                    if !reply.additional.contains(&a) {
                        reply.additional.push(a);
                    }
                }
            }
        }
        reply
    }

    /// Decodes a query, answers it, encodes the answer for UDP. None when there is nothing to
    /// answer: fewer bytes than a header, or a response (answering those could make two servers
    /// answer each other forever).
    pub fn answer_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let header = bytes.get(..12)?;
        if header[2] & 0x80 != 0 {
            return None;
        }
        let reply = match DnsMessage::decode(bytes) {
            Ok(query) => self.answer(&query),
            Err(e) => {
                let id = u16::from_be_bytes([header[0], header[1]]);
                let mut reply = DnsMessage::query(id, "", RecordType::A);
                reply.questions.clear();
                reply.response = true;
                reply.opcode = (header[2] >> 3) & 0xF;
                reply.recursion_desired = header[2] & 0x01 != 0;
                reply.rcode = match e {
                    // Only class IN is served (RFC 1035 section 4.1.1: NOTIMP).
                    DnsError::UnsupportedClass(_) => Rcode::NotImp,
                    _ => Rcode::FormErr,
                };
                reply
            }
        };
        let mut answer = fit_udp(reply);
        keep_question_case(bytes, &mut answer);
        Some(answer)
    }
}

/// Where the name that starts at `at` ends, if it is written out in labels (no pointer).
fn plain_name_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *bytes.get(at)? as usize;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += 1 + len,
            _ => return None,
        }
    }
}

/// Gives the answer's question the case the query's had (RFC 4343 section 4: a server
/// preserves it; resolvers that randomise the case of their queries, as a defence against
/// forged answers, check it). The names are compared without regard to case and are the same
/// length, so the bytes are copied over; answer names that point at the question read in the
/// query's case too, as BIND's do.
fn keep_question_case(query: &[u8], answer: &mut [u8]) {
    let (Some(q_end), Some(a_end)) = (plain_name_end(query, 12), plain_name_end(answer, 12)) else {
        return;
    };
    let (asked, given) = (&query[12..q_end], &answer[12..a_end]);
    if asked.len() == given.len() && asked != given && asked.eq_ignore_ascii_case(given) {
        answer[12..a_end].copy_from_slice(asked);
    }
}

/// Encodes a reply within the UDP limit: the additional section is dropped first (it is only
/// a help), then the rest, with TC set so the client knows (RFC 1035 section 4.2.1, RFC 2181
/// section 9).
fn fit_udp(mut reply: DnsMessage) -> Vec<u8> {
    let bytes = reply.encode();
    if bytes.len() <= MAX_UDP_MESSAGE {
        return bytes;
    }
    reply.additional.clear();
    let bytes = reply.encode();
    if bytes.len() <= MAX_UDP_MESSAGE {
        return bytes;
    }
    reply.answers.clear();
    reply.authority.clear();
    reply.truncated = true;
    reply.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn rec(name: &str, data: RData) -> Record {
        Record {
            name: name.into(),
            ttl: 3600,
            data,
        }
    }

    fn a(name: &str, last: u8) -> Record {
        rec(name, RData::A(Ipv4Addr::new(192, 0, 2, last)))
    }

    fn zone(origin: &str, records: Vec<Record>) -> Zone {
        Zone {
            origin: origin.into(),
            records,
            negative_ttl: 300,
            primary: "ns.example".into(),
        }
    }

    fn authority() -> Authority {
        Authority {
            zones: vec![
                zone("", vec![]),
                zone(
                    "beta.example",
                    vec![
                        rec(
                            "beta.example",
                            RData::Mx {
                                preference: 10,
                                exchange: "mx1.beta.example".into(),
                            },
                        ),
                        a("mx1.beta.example", 20),
                        rec("mail.beta.example", RData::Cname("mx1.beta.example".into())),
                        a("a.b.beta.example", 21),
                        rec(
                            "gone.beta.example",
                            RData::Cname("nosuch.beta.example".into()),
                        ),
                        rec(
                            "to-gamma.beta.example",
                            RData::Cname("gamma.example".into()),
                        ),
                        rec(
                            "loop1.beta.example",
                            RData::Cname("loop2.beta.example".into()),
                        ),
                        rec(
                            "loop2.beta.example",
                            RData::Cname("loop1.beta.example".into()),
                        ),
                    ],
                ),
                zone("gamma.example", vec![a("gamma.example", 30)]),
                zone(
                    "noreply.example",
                    vec![rec(
                        "noreply.example",
                        RData::Mx {
                            preference: 0,
                            exchange: "".into(),
                        },
                    )],
                ),
            ],
        }
    }

    fn ask(name: &str, t: RecordType) -> DnsMessage {
        authority().answer(&DnsMessage::query(9, name, t))
    }

    /// The authority section of a negative answer: the SOA's owner and MINIMUM.
    fn negative_soa(reply: &DnsMessage) -> (String, u32) {
        match reply.authority.as_slice() {
            [
                Record {
                    name,
                    data: RData::Soa { minimum, .. },
                    ..
                },
            ] => (name.to_string(), *minimum),
            other => panic!("no SOA in authority: {other:?}"),
        }
    }

    #[test]
    fn mx_answer_carries_the_exchanger_address() {
        let r = ask("beta.example", RecordType::Mx);
        assert_eq!(r.rcode, Rcode::NoError);
        assert!(r.authoritative && r.response && r.recursion_desired);
        assert!(!r.recursion_available);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.additional, vec![a("mx1.beta.example", 20)]);
        assert!(r.authority.is_empty());
    }

    #[test]
    fn nodata_and_nxdomain_differ() {
        // The example of the brief: beta.example has an address but no MX.
        let auth = Authority {
            zones: vec![zone("example", vec![a("beta.example", 10)])],
        };
        let ask = |name: &str, t| auth.answer(&DnsMessage::query(3, name, t));
        let nodata = ask("beta.example", RecordType::Mx);
        assert_eq!(nodata.rcode, Rcode::NoError);
        assert!(nodata.authoritative && nodata.answers.is_empty());
        assert_eq!(negative_soa(&nodata), ("example".into(), 300));
        let nx = ask("nosuch.example", RecordType::Mx);
        assert_eq!(nx.rcode, Rcode::NxDomain);
        assert!(nx.authoritative && nx.answers.is_empty());
        assert_eq!(negative_soa(&nx), ("example".into(), 300));
        // The SOA is made up from the origin and the server.
        assert!(matches!(
            &nx.authority[0].data,
            RData::Soa { mname, rname, .. } if &**mname == "ns.example" && &**rname == "hostmaster.example"
        ));
        assert_eq!(
            ask("beta.example", RecordType::A).answers,
            vec![a("beta.example", 10)]
        );
    }

    #[test]
    fn empty_non_terminals_exist_and_the_root_stand_in_denies() {
        // b.beta.example owns nothing but has a child (RFC 8020): NODATA, not NXDOMAIN.
        let r = ask("b.beta.example", RecordType::A);
        assert_eq!((r.rcode, r.answers.len()), (Rcode::NoError, 0));
        assert_eq!(
            ask("nosuch.gamma.example", RecordType::Mx).rcode,
            Rcode::NxDomain
        );
        // "xbeta.example" ends like "beta.example" but is not inside it.
        let typo = ask("xbeta.example", RecordType::Mx);
        assert_eq!(typo.rcode, Rcode::NxDomain);
        assert_eq!(negative_soa(&typo).0, "");
    }

    #[test]
    fn a_published_soa_is_served_but_the_zone_decides_the_negative_ttl() {
        let soa = |minimum| RData::Soa {
            mname: "ns1.example".into(),
            rname: "admin.example".into(),
            serial: 2024,
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
            minimum,
        };
        let mut z = zone("example", vec![rec("example", soa(86_400))]);
        z.negative_ttl = 60;
        let auth = Authority { zones: vec![z] };
        let direct = auth.answer(&DnsMessage::query(1, "example", RecordType::Soa));
        assert_eq!(direct.answers, vec![rec("example", soa(86_400))]);
        let nx = auth.answer(&DnsMessage::query(1, "no.example", RecordType::A));
        assert_eq!(nx.authority[0].ttl, 60);
        assert_eq!(nx.authority[0].data, soa(60));
    }

    #[test]
    fn the_made_up_soa_names_the_server_that_serves_the_zone() {
        let r = ask("gamma.example", RecordType::Soa);
        assert_eq!(r.rcode, Rcode::NoError);
        assert!(matches!(
            &r.answers[..],
            [Record { name, data: RData::Soa { mname, rname, .. }, .. }]
                if &**name == "gamma.example" && &**mname == "ns.example" && &**rname == "hostmaster.gamma.example"
        ));
    }

    #[test]
    fn cname_is_followed() {
        let r = ask("mail.beta.example", RecordType::A);
        assert_eq!(
            r.answers,
            vec![
                rec("mail.beta.example", RData::Cname("mx1.beta.example".into())),
                a("mx1.beta.example", 20),
            ]
        );
        // Asked for the CNAME itself, only the CNAME.
        assert_eq!(ask("mail.beta.example", RecordType::Cname).answers.len(), 1);
        // Across zones this server holds.
        let r = ask("to-gamma.beta.example", RecordType::A);
        assert_eq!(r.answers[1], a("gamma.example", 30));
    }

    #[test]
    fn a_cname_chain_ending_nowhere_is_negative_about_its_last_name() {
        let nx = ask("gone.beta.example", RecordType::A);
        assert_eq!(nx.rcode, Rcode::NxDomain);
        assert_eq!(nx.answers.len(), 1);
        assert_eq!(negative_soa(&nx).0, "beta.example");
        let nodata = ask("to-gamma.beta.example", RecordType::Mx);
        assert_eq!(nodata.rcode, Rcode::NoError);
        assert_eq!(nodata.answers.len(), 1);
        assert_eq!(negative_soa(&nodata).0, "gamma.example");
    }

    #[test]
    fn a_cname_loop_ends() {
        let r = ask("loop1.beta.example", RecordType::A);
        assert_eq!(r.rcode, Rcode::NoError);
        assert_eq!(r.answers.len(), 2);
    }

    #[test]
    fn a_cname_out_of_this_servers_zones_is_left_to_the_resolver() {
        let auth = Authority {
            zones: vec![zone(
                "beta.example",
                vec![rec("www.beta.example", RData::Cname("cdn.example".into()))],
            )],
        };
        let r = auth.answer(&DnsMessage::query(1, "www.beta.example", RecordType::A));
        assert_eq!((r.rcode, r.answers.len()), (Rcode::NoError, 1));
        assert!(r.authority.is_empty());
    }

    #[test]
    fn null_mx_is_served_as_published() {
        let r = ask("noreply.example", RecordType::Mx);
        assert_eq!(
            r.answers,
            vec![rec(
                "noreply.example",
                RData::Mx {
                    preference: 0,
                    exchange: "".into()
                }
            )]
        );
        assert!(r.additional.is_empty());
        let text = DnsMessage::decode(&r.encode()).unwrap().to_dig_text();
        assert!(text.contains("noreply.example. 3600 IN MX 0 ."), "{text}");
    }

    #[test]
    fn names_outside_the_zones_are_refused() {
        let auth = Authority {
            zones: vec![authority().zones[1].clone()],
        };
        let r = auth.answer(&DnsMessage::query(1, "other.example", RecordType::A));
        assert_eq!(r.rcode, Rcode::Refused);
        assert!(!r.authoritative && r.answers.is_empty() && r.authority.is_empty());
        // The longest origin wins: beta.example, not the root stand-in, holds this name.
        assert_eq!(
            &*ask("nosuch.beta.example", RecordType::A).authority[0].name,
            "beta.example"
        );
    }

    #[test]
    fn malformed_and_unsupported_queries() {
        let auth = authority();
        let mut none = DnsMessage::query(1, "beta.example", RecordType::A);
        none.questions.clear();
        assert_eq!(auth.answer(&none).rcode, Rcode::FormErr);
        let mut two = DnsMessage::query(1, "beta.example", RecordType::A);
        two.questions.push(two.questions[0].clone());
        assert_eq!(auth.answer(&two).rcode, Rcode::FormErr);
        let mut response = DnsMessage::query(1, "beta.example", RecordType::A);
        response.response = true;
        assert_eq!(auth.answer(&response).rcode, Rcode::FormErr);
        let mut status = DnsMessage::query(1, "beta.example", RecordType::A);
        status.opcode = 2;
        let r = auth.answer(&status);
        assert_eq!((r.rcode, r.opcode), (Rcode::NotImp, 2));
    }

    #[test]
    fn answer_bytes_decodes_answers_and_encodes() {
        let auth = authority();
        let query = DnsMessage::query(0x4242, "beta.example", RecordType::Mx);
        let reply = auth.answer_bytes(&query.encode()).unwrap();
        assert_eq!(DnsMessage::decode(&reply).unwrap(), auth.answer(&query));
        // Bytes that are a header but no message: FORMERR to the id they carry.
        let reply = auth
            .answer_bytes(&[0xAB, 0xCD, 1, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1])
            .unwrap();
        let m = DnsMessage::decode(&reply).unwrap();
        assert_eq!((m.id, m.rcode), (0xABCD, Rcode::FormErr));
        assert!(m.response && m.recursion_desired && m.questions.is_empty());
        // dig's query, with its EDNS OPT record, gets a plain answer.
        let mut dig = vec![0xBE, 0xEF, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        dig.extend_from_slice(b"\x04beta\x07example\x00\x00\x0f\x00\x01");
        dig.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
        let m = DnsMessage::decode(&auth.answer_bytes(&dig).unwrap()).unwrap();
        assert_eq!(
            (m.id, m.rcode, m.answers.len()),
            (0xBEEF, Rcode::NoError, 1)
        );
        assert_eq!(m.additional.len(), 1);
        // Class CH (`dig version.bind CH TXT`): not implemented.
        let mut chaos = vec![0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        chaos.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
        let m = DnsMessage::decode(&auth.answer_bytes(&chaos).unwrap()).unwrap();
        assert_eq!(m.rcode, Rcode::NotImp);
        // Less than a header, or a response: nothing is sent back.
        assert_eq!(auth.answer_bytes(&[1, 2, 3]), None);
        let mut response = query.clone();
        response.response = true;
        assert_eq!(auth.answer_bytes(&response.encode()), None);
    }

    /// RFC 4343 section 4: the answer's question keeps the query's case, byte for byte (a
    /// resolver with randomised case, "DNS 0x20", checks it), and the answer is the same.
    #[test]
    fn the_question_keeps_the_case_it_was_asked_in() {
        let auth = authority();
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(b"\x04BeTa\x07eXAMple\x00\x00\x0f\x00\x01");
        let reply = auth.answer_bytes(&query).unwrap();
        assert_eq!(&reply[12..26], &query[12..26]);
        let lower = query.to_ascii_lowercase();
        let plain = auth.answer_bytes(&lower).unwrap();
        assert_eq!(&plain[12..26], &lower[12..26]);
        // Only the case differs: the same records, and the same message once decoded.
        assert_eq!(reply.len(), plain.len());
        assert_eq!(DnsMessage::decode(&reply), DnsMessage::decode(&plain));
    }

    #[test]
    fn an_answer_too_big_for_udp_is_truncated() {
        let many: Vec<Record> = (0..30).map(|i| a("big.example", i)).collect();
        let mut z = zone("big.example", many);
        z.records.push(rec(
            "big.example",
            RData::Mx {
                preference: 10,
                exchange: "big.example".into(),
            },
        ));
        let auth = Authority { zones: vec![z] };
        // 30 A records of 16 octets each fit in 512 octets as answers...
        let q = DnsMessage::query(1, "big.example", RecordType::A);
        let m = DnsMessage::decode(&auth.answer_bytes(&q.encode()).unwrap()).unwrap();
        assert_eq!((m.answers.len(), m.truncated), (30, false));
        // ...but not as additional data besides: that is dropped, without TC.
        let q = DnsMessage::query(1, "big.example", RecordType::Mx);
        assert_eq!(auth.answer(&q).additional.len(), 30);
        let m = DnsMessage::decode(&auth.answer_bytes(&q.encode()).unwrap()).unwrap();
        assert_eq!((m.answers.len(), m.additional.len()), (1, 0));
        assert!(!m.truncated);
        // 60 do not fit at all: TC, and the client asks again over TCP.
        let mut auth = auth;
        auth.zones[0]
            .records
            .extend((0..30).map(|i| a("big.example", 100 + i)));
        let q = DnsMessage::query(1, "big.example", RecordType::A);
        let bytes = auth.answer_bytes(&q.encode()).unwrap();
        assert!(bytes.len() <= MAX_UDP_MESSAGE);
        let m = DnsMessage::decode(&bytes).unwrap();
        assert!(m.truncated && m.answers.is_empty());
    }
}
