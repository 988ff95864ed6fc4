//! The DNS data of a scenario as zones for the authoritative servers.

use std::collections::BTreeMap;

use crate::proto::dns::{Authority, Name, RData, Record, Zone};
use crate::scenario::{Domain, HostId, Scenario};

/// Negative answers are cached for at most this long (RFC 2308 section 5).
const MAX_NEGATIVE_TTL: u32 = 300;

/// The zone a domain publishes from its name server `primary`.
pub fn zone_of(domain: &Domain, primary: &str) -> Zone {
    let ttl = domain.ttl;
    let origin: Name = domain.name.as_str().into();
    let mut records = Vec::new();
    if domain.null_mx {
        records.push(Record {
            name: Name::clone(&origin),
            ttl,
            data: RData::Mx {
                preference: 0,
                exchange: "".into(),
            },
        });
    }
    for (preference, exchange) in &domain.mx {
        records.push(Record {
            name: Name::clone(&origin),
            ttl,
            data: RData::Mx {
                preference: *preference,
                exchange: exchange.as_str().into(),
            },
        });
    }
    for (name, ip) in &domain.a {
        records.push(Record {
            name: name.as_str().into(),
            ttl,
            data: RData::A(*ip),
        });
    }
    for (name, target) in &domain.cname {
        records.push(Record {
            name: name.as_str().into(),
            ttl,
            data: RData::Cname(target.as_str().into()),
        });
    }
    Zone {
        origin: domain.name.clone(),
        records,
        negative_ttl: ttl.min(MAX_NEGATIVE_TTL),
        primary: primary.to_string(),
    }
}

/// The zones each DNS host serves. The first DNS host also holds an empty root zone, standing
/// in for the root and top-level servers: it answers NXDOMAIN for names under no domain.
pub fn authorities(scenario: &Scenario, domains: &[Domain]) -> BTreeMap<HostId, Authority> {
    let mut out: BTreeMap<HostId, Authority> = BTreeMap::new();
    if let Some(first) = scenario
        .hosts
        .iter()
        .position(|h| h.has(crate::scenario::Role::Dns))
    {
        out.entry(first)
            .or_insert_with(|| Authority { zones: Vec::new() })
            .zones
            .push(Zone {
                origin: String::new(),
                records: Vec::new(),
                negative_ttl: MAX_NEGATIVE_TTL,
                primary: scenario.hosts[first].name.clone(),
            });
    }
    for d in domains {
        out.entry(d.ns)
            .or_insert_with(|| Authority { zones: Vec::new() })
            .zones
            .push(zone_of(d, &scenario.hosts[d.ns].name));
    }
    out
}
