//! The topology editor's model, free of Bevy: a draft scenario file, the edits a teacher makes
//! to it (hosts, links, roles, DNS records), undo and redo, and the check that turns the draft
//! into a [`Scenario`] the simulation runs. The draft is the file as a teacher writes it, with
//! every host by name, so that an edit reads like a change to the file and saving it is just
//! writing it out; `mailsim check` then accepts exactly what [`Draft::check`] accepted.

use std::fmt;
use std::net::Ipv4Addr;

use super::file::*;
use super::model::Scenario;
use super::{LoadError, load_str, save};

/// One change to a draft. Hosts and domains are named as in the file (in any case).
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    AddHost {
        name: String,
        ip: String,
        roles: Vec<Role>,
        /// Where the diagram draws it; `None` lets the layout place it in its domain.
        position: Option<(f32, f32)>,
    },
    /// Removes the host, its links and everything else that names it (faults, MX records,
    /// questions about it). A host that still serves a domain's DNS or runs a user's mail
    /// program cannot go until those are given to another host.
    RemoveHost(String),
    MoveHost {
        host: String,
        to: (f32, f32),
    },
    /// Renames the host everywhere the file names it (links, MX records, faults, questions).
    RenameHost {
        host: String,
        to: String,
    },
    SetIp {
        host: String,
        ip: String,
    },
    SetRoles {
        host: String,
        roles: Vec<Role>,
    },
    /// Gives a pair of hosts a link of their own (they start with the default link's latency
    /// and loss; any pair without one uses the default link).
    AddLink(String, String),
    RemoveLink(String, String),
    SetLink {
        between: (String, String),
        latency_ms: (u64, u64),
        loss: f64,
    },
    /// A new zone, served by the given DNS host.
    AddDomain {
        name: String,
        ns: String,
    },
    /// The MX records of a domain as (preference, exchange).
    SetMx {
        domain: String,
        mx: Vec<(u16, String)>,
    },
    SetNullMx {
        domain: String,
        on: bool,
    },
    /// Adds or replaces an A record (`Some`), or removes it (`None`).
    SetA {
        domain: String,
        owner: String,
        ip: Option<String>,
    },
    /// Adds or replaces a CNAME record (`Some`), or removes it (`None`).
    SetCname {
        domain: String,
        alias: String,
        target: Option<String>,
    },
    SetTtl {
        domain: String,
        ttl: u32,
    },
    /// Which DNS host is authoritative for the domain.
    SetNs {
        domain: String,
        host: String,
    },
}

/// Why an edit was not made; the draft is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditError(pub String);

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EditError {}

/// A scenario file being edited, with its history.
#[derive(Clone, Debug)]
pub struct Draft {
    file: ScenarioFile,
    undo: Vec<ScenarioFile>,
    redo: Vec<ScenarioFile>,
    /// The last edit made, so that a run of adjustments to one link is one step to undo.
    last: Option<Edit>,
}

fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

fn refuse<T>(why: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(why.into()))
}

impl Draft {
    /// A draft of a loaded scenario, written out as its file (lesson layer included).
    pub fn from_scenario(scenario: &Scenario) -> Draft {
        Draft {
            file: save::to_file(scenario),
            undo: Vec::new(),
            redo: Vec::new(),
            last: None,
        }
    }

    pub fn file(&self) -> &ScenarioFile {
        &self.file
    }

    /// The draft as scenario text, as it would be saved.
    pub fn to_ron(&self) -> String {
        save::file_to_ron(&self.file)
    }

    /// Validates the draft exactly as `mailsim check` would validate the saved file.
    pub fn check(&self) -> Result<Scenario, LoadError> {
        load_str(&self.to_ron(), "the edited scenario")
    }

    /// The link of its own a pair of hosts has, in either order.
    pub fn link(&self, a: &str, b: &str) -> Option<&LinkFile> {
        the_link(&self.file, a, b).map(|i| &self.file.links[i])
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Takes back the last edit; false when there is none.
    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(before) => {
                self.redo.push(std::mem::replace(&mut self.file, before));
                self.last = None;
                true
            }
            None => false,
        }
    }

    /// Makes the last undone edit again; false when there is none.
    pub fn redo(&mut self) -> bool {
        match self.redo.pop() {
            Some(after) => {
                self.undo.push(std::mem::replace(&mut self.file, after));
                self.last = None;
                true
            }
            None => false,
        }
    }

    /// Makes an edit, or says why it cannot be made (and changes nothing). On success, says
    /// what changed in a few words. The result may still fail [`Draft::check`] (a domain left
    /// without MX host, say); the editor shows that and the teacher can go on or undo.
    pub fn apply(&mut self, edit: Edit) -> Result<String, EditError> {
        let mut file = self.file.clone();
        let done = apply_to(&mut file, edit.clone())?;
        // Dragging a latency slider makes an edit a frame: they count as one. (`last` is
        // cleared by undo and redo, so it is always the edit on top of the undo stack.)
        let adjusts_last = matches!(
            (&self.last, &edit),
            (Some(Edit::SetLink { between: a, .. }), Edit::SetLink { between: b, .. }) if a == b
        );
        if adjusts_last {
            self.file = file;
        } else {
            self.undo.push(std::mem::replace(&mut self.file, file));
        }
        self.redo.clear();
        self.last = Some(edit);
        Ok(done)
    }

    /// A name for a new host in a domain that no host has yet: `host1.alpha.example`, ...
    pub fn fresh_host_name(&self, domain: &str) -> String {
        (1..)
            .map(|n| format!("host{n}.{domain}"))
            .find(|name| host_index(&self.file, name).is_none())
            .expect("some name is free")
    }

    /// An address no host has, next to those of the hosts whose names end in `domain` (in
    /// their /24), or in 192.0.2.0/24 (TEST-NET-1, RFC 5737) when there are none.
    pub fn fresh_ip(&self, domain: &str) -> Ipv4Addr {
        let taken: Vec<Ipv4Addr> = self
            .file
            .hosts
            .iter()
            .filter_map(|h| h.ip.parse().ok())
            .collect();
        let suffix = format!(".{}", domain.to_ascii_lowercase());
        let near = self
            .file
            .hosts
            .iter()
            .filter(|h| h.name.to_ascii_lowercase().ends_with(&suffix))
            .find_map(|h| h.ip.parse::<Ipv4Addr>().ok())
            .unwrap_or(Ipv4Addr::new(192, 0, 2, 1));
        let [a, b, c, _] = near.octets();
        (1..=254)
            .map(|d| Ipv4Addr::new(a, b, c, d))
            .chain((1..=254).map(|d| Ipv4Addr::new(192, 0, 2, d)))
            .find(|ip| !taken.contains(ip))
            .unwrap_or(Ipv4Addr::new(10, 0, taken.len() as u8, 1))
    }
}

fn host_index(file: &ScenarioFile, name: &str) -> Option<usize> {
    file.hosts.iter().position(|h| same(&h.name, name))
}

fn domain_index(file: &ScenarioFile, name: &str) -> Option<usize> {
    file.domains.iter().position(|d| same(&d.name, name))
}

fn the_host(file: &ScenarioFile, name: &str) -> Result<usize, EditError> {
    host_index(file, name).ok_or_else(|| EditError(format!("there is no host {name:?}")))
}

fn the_domain(file: &ScenarioFile, name: &str) -> Result<usize, EditError> {
    domain_index(file, name).ok_or_else(|| EditError(format!("there is no domain {name:?}")))
}

fn the_link(file: &ScenarioFile, a: &str, b: &str) -> Option<usize> {
    file.links.iter().position(|l| {
        (same(&l.between.0, a) && same(&l.between.1, b))
            || (same(&l.between.0, b) && same(&l.between.1, a))
    })
}

/// A host or domain name: letters, digits, hyphens and dots, at least two labels.
fn check_name(name: &str, what: &str) -> Result<(), EditError> {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        refuse(format!(
            "{name:?} is not a {what} name: use labels of letters, digits and hyphens joined by dots, like mx.beta.example"
        ))
    }
}

fn check_ip(file: &ScenarioFile, ip: &str, except: Option<usize>) -> Result<(), EditError> {
    let parsed: Ipv4Addr = ip
        .trim()
        .parse()
        .map_err(|_| EditError(format!("{ip:?} is not an IPv4 address like 192.0.2.25")))?;
    let other = file
        .hosts
        .iter()
        .enumerate()
        .find(|(i, h)| Some(*i) != except && h.ip.parse() == Ok(parsed));
    match other {
        Some((_, h)) => refuse(format!("{} already has the address {parsed}", h.name)),
        None => Ok(()),
    }
}

/// Every place a scenario file names a host, so that a rename reaches all of them.
fn host_names_mut(file: &mut ScenarioFile) -> Vec<&mut String> {
    let mut names: Vec<&mut String> = Vec::new();
    for d in &mut file.domains {
        names.extend(d.mx.iter_mut().map(|(_, n)| n));
        names.extend(d.cname.values_mut());
        names.extend(d.ns.as_mut());
    }
    for u in &mut file.users {
        names.extend(u.client.as_mut());
    }
    for l in &mut file.links {
        names.push(&mut l.between.0);
        names.push(&mut l.between.1);
    }
    for f in &mut file.faults {
        match f {
            FaultFile::HostDown { host, .. }
            | FaultFile::HostUp { host, .. }
            | FaultFile::GreylistOn { host, .. }
            | FaultFile::GreylistOff { host, .. } => names.push(host),
            FaultFile::LinkDown { between, .. } | FaultFile::LinkUp { between, .. } => {
                names.push(&mut between.0);
                names.push(&mut between.1);
            }
            FaultFile::DnsChange { name, record, .. } => {
                names.push(name);
                match record {
                    RecordFile::Mx(list) => names.extend(list.iter_mut().map(|(_, n)| n)),
                    RecordFile::Cname(target) => names.push(target),
                    RecordFile::A(_) | RecordFile::Remove => {}
                }
            }
            FaultFile::MailboxFull { .. } | FaultFile::MailboxFreed { .. } => {}
        }
    }
    for a in &mut file.script {
        if let ActionFile::Send(s) = a {
            names.extend(s.via.as_mut());
        }
    }
    for e in &mut file.expect {
        if let ExpectFile::DnsQueries { host, name, .. } = e {
            names.push(host);
            names.push(name);
        }
    }
    for c in &mut file.lesson.captions {
        names.extend(c.at.from.as_mut());
        names.extend(c.at.to.as_mut());
    }
    for p in &mut file.lesson.predictions {
        names.extend(p.at.from.as_mut());
        names.extend(p.at.to.as_mut());
        if let AnswerFile::Host(h) = &mut p.answer {
            names.push(h);
        }
    }
    names
}

fn mentions(names: &[&str], host: &str) -> bool {
    names.iter().any(|n| same(n, host))
}

fn moment_mentions(m: &MomentFile, host: &str) -> bool {
    [&m.from, &m.to]
        .iter()
        .any(|n| n.as_deref().is_some_and(|n| same(n, host)))
}

/// Takes a host out of the file with everything that would name a host no longer there.
fn remove_host(file: &mut ScenarioFile, at: usize) -> Result<String, EditError> {
    let name = file.hosts[at].name.clone();
    if let Some(d) = file
        .domains
        .iter()
        .find(|d| d.ns.as_deref().is_some_and(|ns| same(ns, &name)))
    {
        return refuse(format!(
            "{name} is the DNS server of {}: give the domain another DNS server first",
            d.name
        ));
    }
    if let Some(u) = file
        .users
        .iter()
        .find(|u| u.client.as_deref().is_some_and(|c| same(c, &name)))
    {
        return refuse(format!(
            "{}'s mail program runs on {name}: it cannot go while the user is there",
            u.address
        ));
    }
    file.hosts.remove(at);
    let links = file.links.len();
    file.links
        .retain(|l| !mentions(&[&l.between.0, &l.between.1], &name));
    let mut mx = 0;
    for d in &mut file.domains {
        let before = d.mx.len() + d.a.len() + d.cname.len();
        d.mx.retain(|(_, n)| !same(n, &name));
        d.a.retain(|owner, _| !same(owner, &name));
        d.cname.retain(|_, target| !same(target, &name));
        mx += before - d.mx.len() - d.a.len() - d.cname.len();
    }
    let faults = file.faults.len();
    file.faults.retain(|f| match f {
        FaultFile::HostDown { host, .. }
        | FaultFile::HostUp { host, .. }
        | FaultFile::GreylistOn { host, .. }
        | FaultFile::GreylistOff { host, .. } => !same(host, &name),
        FaultFile::LinkDown { between, .. } | FaultFile::LinkUp { between, .. } => {
            !mentions(&[&between.0, &between.1], &name)
        }
        _ => true,
    });
    for a in &mut file.script {
        if let ActionFile::Send(s) = a
            && s.via.as_deref().is_some_and(|v| same(v, &name))
        {
            s.via = None;
        }
    }
    file.expect.retain(|e| match e {
        ExpectFile::DnsQueries { host, .. } => !same(host, &name),
        _ => true,
    });
    let lesson = &mut file.lesson;
    let questions = lesson.captions.len() + lesson.predictions.len();
    lesson.captions.retain(|c| !moment_mentions(&c.at, &name));
    lesson.predictions.retain(|p| {
        !moment_mentions(&p.at, &name)
            && !matches!(&p.answer, AnswerFile::Host(h) if same(h, &name))
    });
    let mut gone = Vec::new();
    let mut count = |n: usize, one: &str, many: &str| match n {
        0 => {}
        1 => gone.push(format!("1 {one}")),
        n => gone.push(format!("{n} {many}")),
    };
    count(links - file.links.len(), "link", "links");
    count(mx, "DNS record", "DNS records");
    count(faults - file.faults.len(), "fault", "faults");
    count(
        questions - lesson.captions.len() - lesson.predictions.len(),
        "caption or question",
        "captions and questions",
    );
    Ok(if gone.is_empty() {
        format!("removed {name}")
    } else {
        format!("removed {name} with {}", gone.join(", "))
    })
}

fn apply_to(file: &mut ScenarioFile, edit: Edit) -> Result<String, EditError> {
    match edit {
        Edit::AddHost {
            name,
            ip,
            roles,
            position,
        } => {
            let name = name.trim().to_ascii_lowercase();
            check_name(&name, "host")?;
            if host_index(file, &name).is_some() {
                return refuse(format!("there is already a host {name}"));
            }
            check_ip(file, &ip, None)?;
            if roles.is_empty() {
                return refuse("a host needs at least one role");
            }
            file.hosts.push(HostFile {
                name: name.clone(),
                ip: ip.trim().to_string(),
                roles,
                domain: None,
                position,
                greylist: None,
                max_message_size: None,
            });
            Ok(format!("added {name}"))
        }
        Edit::RemoveHost(host) => {
            let at = the_host(file, &host)?;
            remove_host(file, at)
        }
        Edit::MoveHost { host, to } => {
            let at = the_host(file, &host)?;
            file.hosts[at].position = Some(to);
            Ok(format!("moved {}", file.hosts[at].name))
        }
        Edit::RenameHost { host, to } => {
            let at = the_host(file, &host)?;
            let to = to.trim().to_ascii_lowercase();
            check_name(&to, "host")?;
            let old = file.hosts[at].name.clone();
            if same(&old, &to) {
                return refuse(format!("{old} already has that name"));
            }
            if host_index(file, &to).is_some() {
                return refuse(format!("there is already a host {to}"));
            }
            for name in host_names_mut(file) {
                if same(name, &old) {
                    name.clone_from(&to);
                }
            }
            // An A record for the old name (a stale one, say) follows the host.
            for d in &mut file.domains {
                if let Some(ip) = d.a.remove(&old) {
                    d.a.insert(to.clone(), ip);
                }
            }
            file.hosts[at].name.clone_from(&to);
            Ok(format!("renamed {old} to {to}"))
        }
        Edit::SetIp { host, ip } => {
            let at = the_host(file, &host)?;
            check_ip(file, &ip, Some(at))?;
            file.hosts[at].ip = ip.trim().to_string();
            Ok(format!(
                "{} is now at {}",
                file.hosts[at].name, file.hosts[at].ip
            ))
        }
        Edit::SetRoles { host, mut roles } => {
            let at = the_host(file, &host)?;
            roles.sort();
            roles.dedup();
            if roles.is_empty() {
                return refuse("a host needs at least one role");
            }
            file.hosts[at].roles = roles;
            Ok(format!("changed the roles of {}", file.hosts[at].name))
        }
        Edit::AddLink(a, b) => {
            let (ia, ib) = (the_host(file, &a)?, the_host(file, &b)?);
            if ia == ib {
                return refuse("a link needs two different hosts");
            }
            let (a, b) = (file.hosts[ia].name.clone(), file.hosts[ib].name.clone());
            if the_link(file, &a, &b).is_some() {
                return refuse(format!("{a} and {b} are linked already"));
            }
            file.links.push(LinkFile {
                between: (a.clone(), b.clone()),
                latency_ms: file.default_link.latency_ms,
                loss: file.default_link.loss,
            });
            Ok(format!("linked {a} and {b}"))
        }
        Edit::RemoveLink(a, b) => match the_link(file, &a, &b) {
            Some(at) => {
                let l = file.links.remove(at);
                Ok(format!(
                    "removed the link of {} and {}: they use the default link",
                    l.between.0, l.between.1
                ))
            }
            None => refuse(format!("{a} and {b} have no link of their own")),
        },
        Edit::SetLink {
            between: (a, b),
            latency_ms,
            loss,
        } => {
            let Some(at) = the_link(file, &a, &b) else {
                return refuse(format!("{a} and {b} have no link of their own"));
            };
            if latency_ms.0 > latency_ms.1 {
                return refuse("the lowest latency must not be above the highest");
            }
            if !(0.0..1.0).contains(&loss) {
                return refuse("the loss is a chance: at least 0 and below 1");
            }
            let link = &mut file.links[at];
            link.latency_ms = latency_ms;
            link.loss = loss;
            Ok(format!(
                "the link of {} and {}: {}–{} ms, {:.0}% loss",
                link.between.0,
                link.between.1,
                latency_ms.0,
                latency_ms.1,
                loss * 100.0
            ))
        }
        Edit::AddDomain { name, ns } => {
            let name = name.trim().to_ascii_lowercase();
            check_name(&name, "domain")?;
            if domain_index(file, &name).is_some() {
                return refuse(format!("there is already a domain {name}"));
            }
            let at = the_host(file, &ns)?;
            if !file.hosts[at].roles.contains(&Role::Dns) {
                return refuse(format!("{} has no Dns role", file.hosts[at].name));
            }
            file.domains.push(DomainFile {
                name: name.clone(),
                mx: Vec::new(),
                null_mx: false,
                a: Default::default(),
                cname: Default::default(),
                ttl: 3600,
                ns: Some(file.hosts[at].name.clone()),
            });
            Ok(format!("added the domain {name}"))
        }
        Edit::SetMx { domain, mx } => {
            let at = the_domain(file, &domain)?;
            for (_, exchange) in &mx {
                check_name(exchange, "host")?;
            }
            let d = &mut file.domains[at];
            d.mx = mx;
            if !d.mx.is_empty() {
                // RFC 7505 section 3: a null MX is the domain's only MX record.
                d.null_mx = false;
            }
            Ok(format!("changed the MX records of {}", d.name))
        }
        Edit::SetNullMx { domain, on } => {
            let at = the_domain(file, &domain)?;
            let d = &mut file.domains[at];
            d.null_mx = on;
            if on {
                // RFC 7505 section 3: the null MX replaces every other MX record.
                d.mx.clear();
                Ok(format!("{} publishes MX 0 \".\": it takes no mail", d.name))
            } else {
                Ok(format!("{} no longer publishes a null MX", d.name))
            }
        }
        Edit::SetA { domain, owner, ip } => {
            let at = the_domain(file, &domain)?;
            let owner = owner.trim().to_ascii_lowercase();
            let d = &mut file.domains[at];
            let inside = same(&owner, &d.name)
                || owner
                    .trim_end_matches('.')
                    .ends_with(&format!(".{}", d.name.to_ascii_lowercase()));
            if !inside {
                return refuse(format!("{owner} is not inside {}", d.name));
            }
            match ip {
                Some(ip) => {
                    let ip: Ipv4Addr = ip.trim().parse().map_err(|_| {
                        EditError(format!("{ip:?} is not an IPv4 address like 192.0.2.25"))
                    })?;
                    d.a.insert(owner.clone(), ip.to_string());
                    Ok(format!("{owner} has the A record {ip}"))
                }
                None => match d.a.remove(&owner) {
                    Some(_) => Ok(format!("removed the A record of {owner}")),
                    None => refuse(format!("{owner} has no A record of its own")),
                },
            }
        }
        Edit::SetCname {
            domain,
            alias,
            target,
        } => {
            let at = the_domain(file, &domain)?;
            let alias = alias.trim().to_ascii_lowercase();
            check_name(&alias, "host")?;
            let d = &mut file.domains[at];
            match target {
                Some(target) => {
                    let target = target.trim().to_ascii_lowercase();
                    check_name(&target, "host")?;
                    d.cname.insert(alias.clone(), target.clone());
                    Ok(format!("{alias} is an alias of {target}"))
                }
                None => match d.cname.remove(&alias) {
                    Some(_) => Ok(format!("removed the alias {alias}")),
                    None => refuse(format!("{alias} is not an alias")),
                },
            }
        }
        Edit::SetTtl { domain, ttl } => {
            let at = the_domain(file, &domain)?;
            file.domains[at].ttl = ttl;
            Ok(format!(
                "the records of {} live {ttl} s in caches",
                file.domains[at].name
            ))
        }
        Edit::SetNs { domain, host } => {
            let at = the_domain(file, &domain)?;
            let h = the_host(file, &host)?;
            if !file.hosts[h].roles.contains(&Role::Dns) {
                return refuse(format!("{} has no Dns role", file.hosts[h].name));
            }
            let ns = file.hosts[h].name.clone();
            file.domains[at].ns = Some(ns.clone());
            Ok(format!("{ns} now serves {}", file.domains[at].name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_file;

    fn lesson(name: &str) -> Scenario {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        load_file(std::path::Path::new(&path)).unwrap()
    }

    fn lesson_1() -> Draft {
        Draft::from_scenario(&lesson("01-alice-writes-to-bob.ron"))
    }

    #[test]
    fn an_untouched_draft_checks_as_the_scenario_it_came_from() {
        let sc = lesson("01-alice-writes-to-bob.ron");
        assert_eq!(Draft::from_scenario(&sc).check().unwrap(), sc);
    }

    #[test]
    fn an_edited_and_saved_topology_loads_again_unchanged() {
        let mut draft = lesson_1();
        let edits = [
            // A backup MX for beta.example, linked to Alice's server over a slow, lossy link.
            Edit::AddHost {
                name: "mx2.beta.example".into(),
                ip: draft.fresh_ip("beta.example").to_string(),
                roles: vec![Role::Mx],
                position: Some((120.0, -80.0)),
            },
            Edit::SetMx {
                domain: "beta.example".into(),
                mx: vec![
                    (10, "mx.beta.example".into()),
                    (20, "mx2.beta.example".into()),
                ],
            },
            Edit::AddLink("smtp.alpha.example".into(), "mx2.beta.example".into()),
            Edit::SetLink {
                between: ("mx2.beta.example".into(), "smtp.alpha.example".into()),
                latency_ms: (80, 120),
                loss: 0.05,
            },
            Edit::MoveHost {
                host: "ns.example".into(),
                to: (0.0, 240.0),
            },
            Edit::SetRoles {
                host: "mx.beta.example".into(),
                roles: vec![Role::Mx, Role::Imap],
            },
            Edit::SetA {
                domain: "beta.example".into(),
                owner: "www.beta.example".into(),
                ip: Some("203.0.113.80".into()),
            },
            Edit::SetCname {
                domain: "beta.example".into(),
                alias: "mail.beta.example".into(),
                target: Some("mx.beta.example".into()),
            },
            Edit::SetTtl {
                domain: "beta.example".into(),
                ttl: 300,
            },
        ];
        for edit in edits {
            draft
                .apply(edit.clone())
                .unwrap_or_else(|e| panic!("{edit:?}: {e}"));
        }
        let edited = draft.check().unwrap();
        let mx2 = edited.host_by_name("mx2.beta.example").unwrap();
        assert_eq!(edited.hosts[mx2].position, Some((120.0, -80.0)));
        assert_eq!(edited.domains[1].mx.len(), 2);
        assert_eq!(edited.links.len(), 1);
        assert_eq!(edited.links[0].spec.latency_ms, (80, 120));
        // Saved and read back: the same scenario, field for field, lesson layer included.
        let saved = draft.to_ron();
        let back = load_str(&saved, "saved.ron").unwrap_or_else(|e| panic!("{e}\n{saved}"));
        assert_eq!(back, edited);
        assert_eq!(back.lesson.predictions.len(), 3);
        // And it runs: the message still reaches Bob.
        let outcome = crate::sim::run(&back);
        assert!(
            crate::sim::report::check(&back, &outcome)
                .iter()
                .all(|e| e.ok)
        );
    }

    #[test]
    fn undo_and_redo_walk_the_history_and_a_new_edit_forgets_the_undone_ones() {
        let mut draft = lesson_1();
        let original = draft.to_ron();
        assert!(!draft.undo());
        draft
            .apply(Edit::MoveHost {
                host: "ns.example".into(),
                to: (1.0, 2.0),
            })
            .unwrap();
        let moved = draft.to_ron();
        draft
            .apply(Edit::SetTtl {
                domain: "alpha.example".into(),
                ttl: 60,
            })
            .unwrap();
        assert!(draft.undo());
        assert_eq!(draft.to_ron(), moved);
        assert!(draft.undo());
        assert_eq!(draft.to_ron(), original);
        assert!(!draft.can_undo());
        assert!(draft.redo());
        assert_eq!(draft.to_ron(), moved);
        draft
            .apply(Edit::SetNullMx {
                domain: "beta.example".into(),
                on: true,
            })
            .unwrap();
        assert!(!draft.can_redo(), "a new edit starts a new future");
    }

    #[test]
    fn adjusting_one_link_many_times_is_one_step_to_undo() {
        let mut draft = lesson_1();
        let pair = || {
            (
                "smtp.alpha.example".to_string(),
                "mx.beta.example".to_string(),
            )
        };
        draft.apply(Edit::AddLink(pair().0, pair().1)).unwrap();
        let linked = draft.to_ron();
        for high in 41..60 {
            draft
                .apply(Edit::SetLink {
                    between: pair(),
                    latency_ms: (20, high),
                    loss: 0.0,
                })
                .unwrap();
        }
        assert!(draft.to_ron().contains("(20, 59)"));
        assert!(draft.undo());
        assert_eq!(draft.to_ron(), linked);
        assert!(draft.undo());
        assert!(!draft.can_undo());
    }

    #[test]
    fn removing_a_host_takes_its_links_records_and_questions_with_it() {
        let mut draft = lesson_1();
        draft
            .apply(Edit::AddLink(
                "smtp.alpha.example".into(),
                "mx.beta.example".into(),
            ))
            .unwrap();
        let said = draft
            .apply(Edit::RemoveHost("mx.beta.example".into()))
            .unwrap();
        assert_eq!(
            said,
            "removed mx.beta.example with 1 link, 1 DNS record, 3 captions and questions"
        );
        let file = draft.file();
        assert!(file.links.is_empty());
        assert!(file.domains[1].mx.is_empty());
        // The draft is consistent: nothing names the host any more, so it loads (Bob's mail
        // has no store now, which the loader reports in words).
        assert!(
            draft
                .file()
                .hosts
                .iter()
                .all(|h| h.name != "mx.beta.example")
        );
        match draft.check() {
            Ok(_) => {}
            Err(e) => assert!(!e.message.contains("unknown host"), "{e}"),
        }
    }

    #[test]
    fn a_host_still_in_service_is_not_removed_and_says_what_holds_it() {
        let mut draft = lesson_1();
        let before = draft.to_ron();
        let e = draft
            .apply(Edit::RemoveHost("ns.example".into()))
            .unwrap_err();
        assert!(e.0.contains("DNS server of alpha.example"), "{e}");
        let e = draft
            .apply(Edit::RemoveHost("laptop.beta.example".into()))
            .unwrap_err();
        assert!(e.0.contains("bob@beta.example's mail program"), "{e}");
        assert_eq!(draft.to_ron(), before);
        assert!(!draft.can_undo(), "a refused edit leaves no history");
    }

    #[test]
    fn renaming_a_host_renames_it_everywhere_and_the_lesson_still_holds() {
        let mut draft = lesson_1();
        draft
            .apply(Edit::RenameHost {
                host: "mx.beta.example".into(),
                to: "inbound.beta.example".into(),
            })
            .unwrap();
        let sc = draft.check().unwrap();
        assert!(sc.host_by_name("mx.beta.example").is_none());
        let inbound = sc.host_by_name("inbound.beta.example").unwrap();
        assert_eq!(sc.domains[1].mx, [(10, "inbound.beta.example".to_string())]);
        assert_eq!(
            sc.domains[1].a["inbound.beta.example"],
            sc.hosts[inbound].ip
        );
        assert!(matches!(
            sc.lesson.predictions[1].answer,
            crate::scenario::Answer::Host(h) if h == inbound
        ));
        let outcome = crate::sim::run(&sc);
        assert!(
            crate::sim::report::check(&sc, &outcome)
                .iter()
                .all(|e| e.ok)
        );
    }

    #[test]
    fn bad_edits_are_refused_in_words() {
        let mut draft = lesson_1();
        let refused = |draft: &mut Draft, edit: Edit| draft.apply(edit).unwrap_err().0;
        let ip_taken = refused(
            &mut draft,
            Edit::AddHost {
                name: "x.beta.example".into(),
                ip: "203.0.113.25".into(),
                roles: vec![Role::Mx],
                position: None,
            },
        );
        assert_eq!(
            ip_taken,
            "mx.beta.example already has the address 203.0.113.25"
        );
        assert!(
            refused(
                &mut draft,
                Edit::AddHost {
                    name: "bad name".into(),
                    ip: "203.0.113.99".into(),
                    roles: vec![Role::Mx],
                    position: None,
                }
            )
            .contains("is not a host name")
        );
        assert!(
            refused(
                &mut draft,
                Edit::SetIp {
                    host: "mx.beta.example".into(),
                    ip: "300.1.2.3".into()
                }
            )
            .contains("not an IPv4 address")
        );
        assert_eq!(
            refused(
                &mut draft,
                Edit::AddLink("mx.beta.example".into(), "MX.beta.example".into())
            ),
            "a link needs two different hosts"
        );
        assert!(
            refused(
                &mut draft,
                Edit::SetA {
                    domain: "beta.example".into(),
                    owner: "www.alpha.example".into(),
                    ip: Some("192.0.2.80".into())
                }
            )
            .contains("is not inside beta.example")
        );
        assert!(
            refused(
                &mut draft,
                Edit::SetRoles {
                    host: "mx.beta.example".into(),
                    roles: vec![]
                }
            )
            .contains("at least one role")
        );
        assert!(!draft.can_undo());
    }

    #[test]
    fn an_edit_that_breaks_the_scenario_is_kept_and_check_says_why() {
        let mut draft = lesson_1();
        // Bob's mailbox host stops offering IMAP, which Bob's script uses.
        draft
            .apply(Edit::SetRoles {
                host: "mx.beta.example".into(),
                roles: vec![Role::Mx, Role::Pop3],
            })
            .unwrap();
        let e = draft.check().unwrap_err();
        assert!(e.message.contains("does not offer Imap"), "{e}");
        assert!(draft.undo());
        assert!(draft.check().is_ok());
    }

    #[test]
    fn fresh_names_and_addresses_are_free() {
        let draft = lesson_1();
        assert_eq!(draft.fresh_host_name("beta.example"), "host1.beta.example");
        // Next to mx.beta.example's and laptop.beta.example's addresses, not on them.
        let ip = draft.fresh_ip("beta.example");
        assert!(draft.file().hosts.iter().all(|h| h.ip != ip.to_string()));
        assert_eq!(ip, "203.0.113.1".parse::<Ipv4Addr>().unwrap());
    }
}
