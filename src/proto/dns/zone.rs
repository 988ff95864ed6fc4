//! Authoritative answers from zones (RFC 1034 section 4.3.2, for a server that holds whole
//! zones and does no recursion).

use super::wire::{DnsMessage, Question, RData, Rcode, Record, RecordType};

/// One zone: its origin and its records. The origin "" is the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub records: Vec<Record>,
    /// How long resolvers may cache "no such name" or "no such record" (RFC 2308 section 4).
    pub negative_ttl: u32,
}

impl Zone {
    fn contains(&self, name: &str) -> bool {
        self.origin.is_empty()
            || name == self.origin
            || name
                .strip_suffix(self.origin.as_str())
                .is_some_and(|p| p.ends_with('.'))
    }

    /// The zone's SOA, as published or made up from the origin.
    fn soa(&self) -> Record {
        self.records
            .iter()
            .find(|r| matches!(r.data, RData::Soa { .. }))
            .cloned()
            .unwrap_or_else(|| {
                let base = if self.origin.is_empty() {
                    "root-servers.example".to_string()
                } else {
                    self.origin.clone()
                };
                Record {
                    name: self.origin.clone(),
                    ttl: self.negative_ttl,
                    data: RData::Soa {
                        mname: format!("ns.{base}"),
                        rname: format!("hostmaster.{base}"),
                        serial: 1,
                        refresh: 3600,
                        retry: 600,
                        expire: 604_800,
                        minimum: self.negative_ttl,
                    },
                }
            })
    }

    /// Whether the name exists: it owns records, or is an ancestor of a name that does.
    fn name_exists(&self, name: &str) -> bool {
        name == self.origin
            || self.records.iter().any(|r| {
                r.name == name || r.name.strip_suffix(name).is_some_and(|p| p.ends_with('.'))
            })
    }

    fn owned<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.name == name)
    }
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

    /// Answers a query.
    pub fn answer(&self, query: &DnsMessage) -> DnsMessage {
        let mut reply = DnsMessage {
            id: query.id,
            response: true,
            opcode: query.opcode,
            authoritative: false,
            truncated: false,
            recursion_desired: query.recursion_desired,
            recursion_available: false,
            rcode: Rcode::NoError,
            questions: query.questions.clone(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        };
        if query.response || query.questions.len() != 1 {
            reply.rcode = Rcode::FormErr;
            return reply;
        }
        if query.opcode != 0 {
            reply.rcode = Rcode::NotImp;
            return reply;
        }
        let Question { name, qtype } = query.questions[0].clone();
        let Some(zone) = self.zone_for(&name) else {
            reply.rcode = Rcode::Refused;
            return reply;
        };
        reply.authoritative = true;
        // Follow CNAMEs inside what this server holds (RFC 1034 section 4.3.2, step 3a).
        let mut current = name.clone();
        let mut zone = zone;
        for _ in 0..8 {
            let matching: Vec<Record> = zone
                .owned(&current)
                .filter(|r| r.data.rtype() == qtype)
                .cloned()
                .collect();
            if !matching.is_empty() {
                reply.answers.extend(matching);
                break;
            }
            let alias = zone.owned(&current).find_map(|r| match &r.data {
                RData::Cname(target) if qtype != RecordType::Cname => {
                    Some((r.clone(), target.clone()))
                }
                _ => None,
            });
            if let Some((record, target)) = alias {
                reply.answers.push(record);
                match self.zone_for(&target) {
                    Some(z) => {
                        zone = z;
                        current = target;
                        continue;
                    }
                    None => break,
                }
            }
            if reply.answers.is_empty() {
                if zone.name_exists(&current) {
                    // NODATA: the name exists without this type (RFC 2308 section 2.2).
                    reply.authority.push(zone.soa());
                } else {
                    reply.rcode = Rcode::NxDomain;
                    reply.authority.push(zone.soa());
                }
            }
            break;
        }
        // Glue the exchangers' addresses (RFC 1034 section 6.2.3, RFC 1035 section 3.3.9).
        for r in &reply.answers {
            if let RData::Mx { exchange, .. } = &r.data
                && let Some(z) = self.zone_for(exchange)
            {
                for a in z
                    .owned(exchange)
                    .filter(|a| a.data.rtype() == RecordType::A)
                {
                    if !reply.additional.contains(a) {
                        reply.additional.push(a.clone());
                    }
                }
            }
        }
        reply
    }

    /// Decodes a query, answers it, encodes the answer; None when the bytes carry no usable
    /// header (nothing could even say FORMERR to whom).
    pub fn answer_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        match DnsMessage::decode(bytes) {
            Ok(q) => Some(self.answer(&q).encode()),
            Err(_) if bytes.len() >= 12 => {
                let id = u16::from_be_bytes([bytes[0], bytes[1]]);
                let mut reply = DnsMessage::query(id, "", RecordType::A);
                reply.questions.clear();
                reply.response = true;
                reply.rcode = Rcode::FormErr;
                Some(reply.encode())
            }
            Err(_) => None,
        }
    }
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

    fn authority() -> Authority {
        Authority {
            zones: vec![
                Zone {
                    origin: String::new(),
                    records: vec![],
                    negative_ttl: 300,
                },
                Zone {
                    origin: "beta.example".into(),
                    records: vec![
                        rec(
                            "beta.example",
                            RData::Mx {
                                preference: 10,
                                exchange: "mx1.beta.example".into(),
                            },
                        ),
                        rec("mx1.beta.example", RData::A(Ipv4Addr::new(192, 0, 2, 20))),
                        rec("mail.beta.example", RData::Cname("mx1.beta.example".into())),
                        rec("a.b.beta.example", RData::A(Ipv4Addr::new(192, 0, 2, 21))),
                    ],
                    negative_ttl: 300,
                },
                Zone {
                    origin: "gamma.example".into(),
                    records: vec![rec("gamma.example", RData::A(Ipv4Addr::new(192, 0, 2, 30)))],
                    negative_ttl: 300,
                },
                Zone {
                    origin: "noreply.example".into(),
                    records: vec![rec(
                        "noreply.example",
                        RData::Mx {
                            preference: 0,
                            exchange: String::new(),
                        },
                    )],
                    negative_ttl: 300,
                },
            ],
        }
    }

    fn ask(name: &str, t: RecordType) -> DnsMessage {
        authority().answer(&DnsMessage::query(9, name, t))
    }

    #[test]
    fn mx_answer_carries_the_exchanger_address() {
        let r = ask("beta.example", RecordType::Mx);
        assert_eq!(r.rcode, Rcode::NoError);
        assert!(r.authoritative);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.additional[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 20)));
    }

    #[test]
    fn nodata_and_nxdomain_differ() {
        let nodata = ask("gamma.example", RecordType::Mx);
        assert_eq!(nodata.rcode, Rcode::NoError);
        assert!(nodata.answers.is_empty());
        assert!(matches!(
            nodata.authority[0].data,
            RData::Soa { minimum: 300, .. }
        ));
        let nx = ask("nosuch.gamma.example", RecordType::Mx);
        assert_eq!(nx.rcode, Rcode::NxDomain);
        // An empty non-terminal exists (RFC 8020): b.beta.example owns nothing but has a child.
        assert_eq!(ask("b.beta.example", RecordType::A).rcode, Rcode::NoError);
        // The root stand-in says NXDOMAIN for names under no zone.
        assert_eq!(ask("beta.exmaple", RecordType::Mx).rcode, Rcode::NxDomain);
    }

    #[test]
    fn cname_is_followed() {
        let r = ask("mail.beta.example", RecordType::A);
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.answers[1].data, RData::A(Ipv4Addr::new(192, 0, 2, 20)));
    }

    #[test]
    fn null_mx_is_served_as_published() {
        let r = ask("noreply.example", RecordType::Mx);
        assert_eq!(
            r.answers[0].data,
            RData::Mx {
                preference: 0,
                exchange: String::new()
            }
        );
    }

    #[test]
    fn names_outside_the_zones_are_refused_and_garbage_is_formerr() {
        let a = Authority {
            zones: vec![authority().zones[1].clone()],
        };
        assert_eq!(
            a.answer(&DnsMessage::query(1, "other.example", RecordType::A))
                .rcode,
            Rcode::Refused
        );
        let reply = a
            .answer_bytes(&[0xAB, 0xCD, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1])
            .unwrap();
        let m = DnsMessage::decode(&reply).unwrap();
        assert_eq!((m.id, m.rcode), (0xABCD, Rcode::FormErr));
        assert_eq!(a.answer_bytes(&[1, 2, 3]), None);
    }
}
