//! Reading and validating a scenario file. Every error names the file, a line and column, what
//! is wrong and, where one helps, a hint; nothing here panics on bad input.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use super::file::*;
use super::locate;
use super::model::*;
use crate::mail::Address;

/// A scenario file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// 1-based; 0 when the error has no place in the text (the file cannot be read).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        } else {
            write!(f, "{}: {}", self.file, self.message)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
        hint: None,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_and_column(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        LoadError {
            file: name.clone(),
            line,
            column,
            message: "the file is not UTF-8 text".into(),
            hint: Some(
                "save it as UTF-8 (an editor's \"Save as\" or \"Encoding\" menu offers it)".into(),
            ),
        }
    })?;
    load_str(&text, &name)
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn load_str(text: &str, file: &str) -> Result<Scenario, LoadError> {
    // Some editors (Notepad) start UTF-8 files with a byte-order mark; RON does not expect one.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(LoadError {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: "the file is empty".into(),
            hint: Some("a scenario starts with ( and its title; see the README's complete example, or copy a lesson from scenarios/".into()),
        });
    }
    // Optional fields take a bare value, and `Send(at: ...)` needs no inner parentheses.
    let options = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES);
    let parsed: ScenarioFile = options.from_str(text).map_err(|e| {
        let message = in_file_words(e.code.to_string());
        LoadError {
            file: file.to_string(),
            line: e.span.start.line,
            column: e.span.start.col,
            hint: syntax_hint(&message),
            message,
        }
    })?;
    Validator {
        text,
        file,
        parsed: &parsed,
        place: Default::default(),
    }
    .validate()
}

/// The domain a name belongs to: the longest of the names it equals or ends in.
fn longest_domain(domains: &[String], name: &str) -> Option<DomainId> {
    let name = name.to_ascii_lowercase();
    domains
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            name == **d
                || name
                    .strip_suffix(d.as_str())
                    .is_some_and(|p| p.ends_with('.'))
        })
        .max_by_key(|(_, d)| d.len())
        .map(|(i, _)| i)
}

/// The line and column (from 1; the column counts bytes) of the place that `before` leads up to.
fn line_and_column(before: &[u8]) -> (usize, usize) {
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    (line, before.len() - line_start + 1)
}

/// RON names the Rust types it was reading (`in \`HostFile\``); a teacher knows the file's
/// own words (`in a host`).
fn in_file_words(message: String) -> String {
    const WORDS: [(&str, &str); 18] = [
        ("ScenarioFile", "the scenario"),
        ("LessonFile", "the lesson"),
        ("CaptionFile", "a caption"),
        ("MomentFile", "a moment"),
        ("PredictionFile", "a prediction"),
        ("AnswerFile", "an answer"),
        ("DomainFile", "a domain"),
        ("Role", "a host's roles"),
        ("HostFile", "a host"),
        ("UserFile", "a user"),
        ("LinkSpec", "a link's latency and loss"),
        ("LinkFile", "a link"),
        ("RetryFile", "the retry schedule"),
        ("RecordFile", "a DNS record"),
        ("FaultFile", "the faults"),
        ("ActionFile", "the script"),
        ("SendFile", "a Send"),
        ("ExpectFile", "the expectations"),
    ];
    let mut message = message;
    for (name, words) in WORDS {
        for form in [format!("in enum `{name}`"), format!("in `{name}`")] {
            if message.contains(&form) {
                message = message.replace(&form, &format!("in {words}"));
            }
        }
    }
    message
}

fn syntax_hint(message: &str) -> Option<String> {
    if message.contains("Unexpected missing field") || message.contains("missing field") {
        Some("every entry needs the fields named in the README's scenario reference".into())
    } else if message.contains("Unexpected field") || message.contains("unknown field") {
        Some("check the spelling; the README lists every field a scenario may use".into())
    } else if message.contains("variant") {
        Some("check the spelling of that name, capitals included: the message lists the ones allowed here".into())
    } else if message.contains("Expected") && message.contains("comma") {
        Some("entries in a list or fields in a struct are separated by commas; a missing ] or ), or a string without its closing quote, ends up here too".into())
    } else if message.contains("out of bounds") {
        Some("a number is negative or too large for its field: MX preferences run from 0 to 65535; TTLs, counts and seeds are 0 or more".into())
    } else if message.contains("Unexpected end") {
        Some("the file ends too early: a ) or ] is missing at the end".into())
    } else if message.contains("Expected string") {
        Some("names, addresses and times are written in double quotes, e.g. \"bob@beta.example\" or \"5m\"".into())
    } else {
        None
    }
}

/// The longest latency a link may have: an hour is far beyond any real link, and keeps the
/// virtual clock from overflowing.
const MAX_LATENCY_MS: u64 = 3_600_000;

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
    parsed: &'a ScenarioFile,
    /// The entry being checked (`("script", 2)`): its errors point into it.
    place: std::cell::Cell<Option<(&'static str, usize)>>,
}

impl Validator<'_> {
    /// The entries of the list `section`, numbered: while one is being checked, errors point
    /// into it; once the list is done, they are about no entry in particular again.
    fn entries<'i, T>(
        &'i self,
        section: &'static str,
        items: &'i [T],
    ) -> impl Iterator<Item = (usize, &'i T)> + 'i {
        items
            .iter()
            .enumerate()
            .inspect(move |(i, _)| self.place.set(Some((section, *i))))
            .chain(std::iter::from_fn(move || {
                self.place.set(None);
                None
            }))
    }

    /// An error placed at `needle` (quoted, or else bare) inside the entry being checked, or at
    /// its start; outside any entry, at the `nth` (0-based) quoted occurrence of `needle` in the
    /// text, or at the top of the file when the needle does not occur.
    fn error_at(
        &self,
        needle: &str,
        nth: usize,
        message: String,
        hint: Option<String>,
    ) -> LoadError {
        let quoted = format!("\"{needle}\"");
        let in_entry = self
            .place
            .get()
            .and_then(|(section, index)| locate::entry_span(self.text, section, index))
            .map(|span| {
                let entry = &self.text[span.clone()];
                let found = entry.find(&quoted).or_else(|| entry.find(needle));
                span.start + found.unwrap_or(0)
            });
        let offset = in_entry.or_else(|| {
            self.text
                .match_indices(&quoted)
                .nth(nth)
                .or_else(|| self.text.match_indices(&quoted).next())
                .map(|(i, _)| i)
                .or_else(|| self.text.find(needle))
        });
        let (line, column) = offset.map_or((1, 1), |i| line_and_column(&self.text.as_bytes()[..i]));
        LoadError {
            file: self.file.to_string(),
            line,
            column,
            message,
            hint,
        }
    }

    fn err(&self, needle: &str, message: String) -> LoadError {
        self.error_at(needle, 0, message, None)
    }

    fn unknown(&self, what: &str, name: &str, known: Vec<String>) -> LoadError {
        /// A file of thousands of users names a few in the hint, not all.
        const NAMED: usize = 20;
        let hint = match known.len() {
            0 => format!("the scenario has no {what}s yet"),
            n if n <= NAMED => format!("known {what}s: {}", known.join(", ")),
            n => format!(
                "known {what}s: {}, and {} more",
                known[..NAMED].join(", "),
                n - NAMED
            ),
        };
        self.error_at(name, 0, format!("unknown {what} {name:?}"), Some(hint))
    }

    fn host_id(&self, hosts: &[Host], name: &str) -> Result<HostId, LoadError> {
        hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                self.unknown("host", name, hosts.iter().map(|h| h.name.clone()).collect())
            })
    }

    fn user_id(&self, users: &[User], address: &str) -> Result<UserId, LoadError> {
        users
            .iter()
            .position(|u| u.address.as_str().eq_ignore_ascii_case(address))
            .ok_or_else(|| {
                self.unknown(
                    "user",
                    address,
                    users.iter().map(|u| u.address.to_string()).collect(),
                )
            })
    }

    /// A header field's name: printable ASCII but the colon (RFC 5322 section 2.2).
    fn field_name(&self, name: &str) -> Result<String, LoadError> {
        let trimmed = name.trim();
        let bare = trimmed.strip_suffix(':').unwrap_or(trimmed);
        if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Ok(bare.to_string());
        }
        Err(self.error_at(
            name,
            0,
            format!("{name:?} is not the name of a header field"),
            Some("write the name alone, e.g. \"Bcc\" or \"Received\"".into()),
        ))
    }

    fn address(&self, text: &str) -> Result<Address, LoadError> {
        Address::parse(text).map_err(|e| {
            self.error_at(
                text,
                0,
                format!("{text:?} is not an email address: {e}"),
                Some("write addresses as user@domain, e.g. \"bob@beta.example\"".into()),
            )
        })
    }

    fn ip(&self, text: &str) -> Result<Ipv4Addr, LoadError> {
        text.parse().map_err(|_| {
            self.error_at(
                text,
                0,
                format!("{text:?} is not an IPv4 address"),
                Some("write four numbers 0-255 separated by dots, e.g. \"192.0.2.10\"".into()),
            )
        })
    }

    fn validate(&self) -> Result<Scenario, LoadError> {
        let p = self.parsed;
        if p.domains.is_empty() {
            return Err(self.err("domains", "the scenario has no domains".into()));
        }
        // Domains first (without their host-dependent parts).
        let mut domains: Vec<Domain> = Vec::new();
        for (_, d) in self.entries("domains", &p.domains) {
            let name = d.name.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() || !name.contains('.') && name.len() > 63 {
                return Err(self.err(&d.name, format!("{:?} is not a domain name", d.name)));
            }
            if domains.iter().any(|x| x.name == name) {
                return Err(self.error_at(
                    &d.name,
                    1,
                    format!("domain {name:?} is declared twice"),
                    None,
                ));
            }
            if d.null_mx && !d.mx.is_empty() {
                return Err(self.error_at(
                    &d.name,
                    0,
                    format!("domain {name:?} has both null_mx and MX records"),
                    Some("RFC 7505: a null MX must be the domain's only MX record".into()),
                ));
            }
            domains.push(Domain {
                name,
                mx: d
                    .mx
                    .iter()
                    .map(|(p, n)| (*p, n.trim_end_matches('.').to_ascii_lowercase()))
                    .collect(),
                null_mx: d.null_mx,
                a: BTreeMap::new(),
                cname: d
                    .cname
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.trim_end_matches('.').to_ascii_lowercase(),
                        )
                    })
                    .collect(),
                ttl: d.ttl,
                ns: 0,
                store: None,
                submission: None,
            });
        }
        let domain_names: Vec<String> = domains.iter().map(|d| d.name.clone()).collect();
        let domain_of = |name: &str| longest_domain(&domain_names, name);

        // Hosts.
        if p.hosts.is_empty() {
            return Err(self.err("hosts", "the scenario has no hosts".into()));
        }
        let mut hosts: Vec<Host> = Vec::new();
        for (_, h) in self.entries("hosts", &p.hosts) {
            let name = h.name.trim_end_matches('.').to_ascii_lowercase();
            if hosts.iter().any(|x| x.name == name) {
                return Err(self.error_at(
                    &h.name,
                    1,
                    format!("host {name:?} is declared twice"),
                    None,
                ));
            }
            let ip = self.ip(&h.ip)?;
            if let Some(other) = hosts.iter().find(|x| x.ip == ip) {
                return Err(self.error_at(
                    &h.ip,
                    1,
                    format!(
                        "hosts {:?} and {:?} both have the address {ip}",
                        other.name, name
                    ),
                    Some("every host needs an address of its own".into()),
                ));
            }
            if h.roles.is_empty() {
                return Err(self.error_at(
                    &h.name,
                    0,
                    format!("host {name:?} has no roles"),
                    Some("roles: Client, Submission, Mx, Dns, Pop3, Imap".into()),
                ));
            }
            let domain = match &h.domain {
                Some(d) => Some(
                    domains
                        .iter()
                        .position(|x| x.name.eq_ignore_ascii_case(d))
                        .ok_or_else(|| {
                            self.unknown(
                                "domain",
                                d,
                                domains.iter().map(|d| d.name.clone()).collect(),
                            )
                        })?,
                ),
                None => domain_of(&name),
            };
            let mut roles = h.roles.clone();
            roles.sort();
            roles.dedup();
            hosts.push(Host {
                name,
                ip,
                roles,
                domain,
                position: h.position,
                greylist_ms: h.greylist.map(|m| m.0),
                max_message_size: h.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
            });
        }
        let dns_hosts: Vec<HostId> = (0..hosts.len())
            .filter(|&i| hosts[i].has(Role::Dns))
            .collect();

        // Records and per-domain servers.
        for (di, d) in self.entries("domains", &p.domains) {
            let dom_name = domains[di].name.clone();
            // Automatic A records: each host whose name is inside the domain.
            for h in &hosts {
                if domain_of(&h.name) == Some(di) {
                    domains[di].a.insert(h.name.clone(), h.ip);
                }
            }
            for (owner, ip) in &d.a {
                let owner_lc = owner.trim_end_matches('.').to_ascii_lowercase();
                if domain_of(&owner_lc) != Some(di) {
                    return Err(self.error_at(
                        owner,
                        0,
                        format!("the A record {owner:?} is not inside the domain {dom_name:?}"),
                        None,
                    ));
                }
                let ip = self.ip(ip)?;
                domains[di].a.insert(owner_lc, ip);
            }
            domains[di].ns = match &d.ns {
                Some(ns) => {
                    let id = self.host_id(&hosts, ns)?;
                    if !hosts[id].has(Role::Dns) {
                        return Err(self.error_at(
                            "ns:",
                            0,
                            format!("{ns:?} serves {dom_name:?} but has no Dns role"),
                            Some("add Dns to its roles".into()),
                        ));
                    }
                    id
                }
                None => match dns_hosts.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(self.error_at(
                            "hosts",
                            0,
                            "no host has the Dns role, so no one can answer DNS queries".into(),
                            Some("add a host such as (name: \"ns.example\", ip: \"192.0.2.53\", roles: [Dns])".into()),
                        ));
                    }
                    _ => {
                        return Err(self.error_at(
                            &d.name,
                            0,
                            format!("domain {dom_name:?} does not say which DNS server holds it"),
                            Some(format!(
                                "add ns: one of {}",
                                dns_hosts
                                    .iter()
                                    .map(|&i| hosts[i].name.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                        ));
                    }
                },
            };
            let in_domain = |role: Role| -> Vec<HostId> {
                (0..hosts.len())
                    .filter(|&i| hosts[i].domain == Some(di) && hosts[i].has(role))
                    .collect()
            };
            domains[di].store =
                (0..hosts.len()).find(|&i| hosts[i].domain == Some(di) && hosts[i].is_store());
            domains[di].submission = in_domain(Role::Submission).first().copied();
        }

        // Every MX names a server that takes mail, or at least a name with an address (a lesson
        // may send mail to a machine that refuses it); one host per domain keeps the mailboxes;
        // CNAMEs end somewhere.
        for (di, d) in self.entries("domains", &domains) {
            for (_, exchange) in &d.mx {
                self.check_exchange(&hosts, &domains, &d.name, exchange)?;
            }
            let stores: Vec<&str> = hosts
                .iter()
                .filter(|h| h.domain == Some(di) && h.is_store())
                .map(|h| h.name.as_str())
                .collect();
            if let [first, second, ..] = stores[..] {
                // At the second host's own entry.
                self.place.set(None);
                return Err(self.error_at(
                    second,
                    0,
                    format!("{first} and {second} both keep mailboxes (Imap or Pop3) for {}", d.name),
                    Some("a domain's mail is stored on one host: give that host every role it needs, e.g. roles: [Mx, Imap, Pop3]".into()),
                ));
            }
            for start in d.cname.keys() {
                let mut chain = vec![start.as_str()];
                let mut at = start.as_str();
                while let Some(next) = domains.iter().find_map(|x| x.cname.get(at)) {
                    if chain.contains(&next.as_str()) {
                        chain.push(next);
                        return Err(self.error_at(
                            start,
                            0,
                            format!(
                                "the CNAME records go round in a circle: {}",
                                chain.join(" -> ")
                            ),
                            Some(
                                "an alias must lead, in the end, to a name with an A record".into(),
                            ),
                        ));
                    }
                    chain.push(next);
                    at = next;
                }
            }
        }

        // Users. A user whose domain has no mail program of its own may only be written to: one
        // that sends or fetches needs one (or a `client:`), checked with the script.
        let mut users: Vec<User> = Vec::new();
        let mut user_keys = std::collections::HashSet::new();
        for (_, u) in self.entries("users", &p.users) {
            let address = self.address(&u.address)?;
            if !user_keys.insert(address.key()) {
                return Err(self.error_at(
                    &u.address,
                    1,
                    format!("user {address} is declared twice"),
                    None,
                ));
            }
            let domain = domains
                .iter()
                .position(|d| d.name == address.domain())
                .ok_or_else(|| {
                    self.unknown(
                        "domain",
                        address.domain(),
                        domains.iter().map(|d| d.name.clone()).collect(),
                    )
                })?;
            let client = match &u.client {
                Some(c) => {
                    let id = self.host_id(&hosts, c)?;
                    if !hosts[id].has(Role::Client) {
                        return Err(self.error_at(
                            c,
                            0,
                            format!("{c:?} has no Client role"),
                            Some("add Client to its roles".into()),
                        ));
                    }
                    id
                }
                None => {
                    let clients: Vec<HostId> = (0..hosts.len())
                        .filter(|&i| hosts[i].has(Role::Client) && hosts[i].domain == Some(domain))
                        .collect();
                    match clients.as_slice() {
                        [one] => *one,
                        [] => match (0..hosts.len()).find(|&i| hosts[i].has(Role::Client)) {
                            Some(any) => any,
                            None => {
                                return Err(self.error_at(
                                    &u.address,
                                    0,
                                    format!("{address} has no mail program: no host has the Client role"),
                                    Some("add a host such as (name: \"laptop.alpha.example\", ip: \"198.51.100.7\", roles: [Client])".into()),
                                ));
                            }
                        },
                        _ => {
                            return Err(self.error_at(
                                &u.address,
                                0,
                                format!("{address} could use several client hosts"),
                                Some("add client: \"...\" to the user".into()),
                            ));
                        }
                    }
                }
            };
            users.push(User {
                address,
                password: u.password.clone(),
                domain,
                client,
            });
        }
        let acts = |user: UserId| -> Result<(), LoadError> {
            let u = &users[user];
            if p.users[user].client.is_some() || hosts[u.client].domain == Some(u.domain) {
                return Ok(());
            }
            let domain = &domains[u.domain].name;
            Err(self.error_at(
                &u.address.to_string(),
                0,
                format!("{} has no mail program: no host of {domain} has the Client role", u.address),
                Some(format!(
                    "add a host such as (name: \"laptop.{domain}\", ip: \"198.51.100.7\", roles: [Client]), or give the user client: \"...\""
                )),
            ))
        };

        // Links.
        let spec = |latency: (u64, u64), loss: f64, at: &str| -> Result<LinkSpec, LoadError> {
            if latency.0 > latency.1 {
                return Err(self.error_at(
                    at,
                    0,
                    format!("latency range {latency:?} runs backwards"),
                    Some("write (low, high)".into()),
                ));
            }
            if latency.1 > MAX_LATENCY_MS {
                return Err(self.error_at(
                    at,
                    0,
                    format!("a latency of {} ms is longer than an hour", latency.1),
                    Some("latency_ms is in milliseconds: a slow link takes a few hundred".into()),
                ));
            }
            if !(0.0..1.0).contains(&loss) {
                return Err(self.error_at(
                    at,
                    0,
                    format!("loss {loss} must be at least 0 and below 1"),
                    None,
                ));
            }
            Ok(LinkSpec {
                latency_ms: latency,
                loss,
            })
        };
        let default_link = spec(
            p.default_link.latency_ms,
            p.default_link.loss,
            "default_link",
        )?;
        let mut links = Vec::new();
        for (_, l) in self.entries("links", &p.links) {
            let a = self.host_id(&hosts, &l.between.0)?;
            let b = self.host_id(&hosts, &l.between.1)?;
            if a == b {
                return Err(self.err(&l.between.0, "a link needs two different hosts".into()));
            }
            links.push(Link {
                a,
                b,
                spec: spec(l.latency_ms, l.loss, "latency_ms")?,
            });
        }

        // Retry.
        if p.retry.schedule.is_empty() || p.retry.schedule.iter().any(|m| m.0 == 0) {
            return Err(self.err(
                "schedule",
                "the retry schedule needs at least one wait longer than zero".into(),
            ));
        }
        let retry = Retry {
            schedule_ms: p.retry.schedule.iter().map(|m| m.0).collect(),
            give_up_ms: p.retry.give_up.0,
        };

        // Faults.
        let mut faults = Vec::new();
        for (_, f) in self.entries("faults", &p.faults) {
            let (at, kind) = match f {
                FaultFile::HostDown { at, host } => {
                    (at, FaultKind::HostDown(self.host_id(&hosts, host)?))
                }
                FaultFile::HostUp { at, host } => {
                    (at, FaultKind::HostUp(self.host_id(&hosts, host)?))
                }
                FaultFile::LinkDown { at, between } => (
                    at,
                    FaultKind::LinkDown(
                        self.host_id(&hosts, &between.0)?,
                        self.host_id(&hosts, &between.1)?,
                    ),
                ),
                FaultFile::LinkUp { at, between } => (
                    at,
                    FaultKind::LinkUp(
                        self.host_id(&hosts, &between.0)?,
                        self.host_id(&hosts, &between.1)?,
                    ),
                ),
                FaultFile::DnsChange { at, name, record } => {
                    let lc = name.trim_end_matches('.').to_ascii_lowercase();
                    let domain = domain_of(&lc).ok_or_else(|| {
                        self.unknown(
                            "domain",
                            name,
                            domains.iter().map(|d| d.name.clone()).collect(),
                        )
                    })?;
                    let record = match record {
                        RecordFile::A(ip) => RecordChange::A(self.ip(ip)?),
                        RecordFile::Mx(list) => {
                            let list: Vec<(u16, String)> = list
                                .iter()
                                .map(|(p, n)| (*p, n.trim_end_matches('.').to_ascii_lowercase()))
                                .collect();
                            for (_, exchange) in &list {
                                self.check_exchange(&hosts, &domains, &lc, exchange)?;
                            }
                            RecordChange::Mx(list)
                        }
                        RecordFile::Cname(t) => {
                            RecordChange::Cname(t.trim_end_matches('.').to_ascii_lowercase())
                        }
                        RecordFile::Remove => RecordChange::Remove,
                    };
                    (
                        at,
                        FaultKind::DnsChange {
                            domain,
                            name: lc,
                            record,
                        },
                    )
                }
                FaultFile::MailboxFull { at, user } => {
                    (at, FaultKind::MailboxFull(self.user_id(&users, user)?))
                }
                FaultFile::MailboxFreed { at, user } => {
                    (at, FaultKind::MailboxFreed(self.user_id(&users, user)?))
                }
                FaultFile::GreylistOn { at, host, delay } => (
                    at,
                    FaultKind::Greylist(self.host_id(&hosts, host)?, Some(delay.0)),
                ),
                FaultFile::GreylistOff { at, host } => {
                    (at, FaultKind::Greylist(self.host_id(&hosts, host)?, None))
                }
            };
            faults.push(Fault { at_ms: at.0, kind });
        }
        faults.sort_by_key(|f| f.at_ms);

        // Script.
        let mut script = Vec::new();
        let mut send_count = 0;
        let mut ids: Vec<String> = Vec::new();
        for (_, a) in self.entries("script", &p.script) {
            let action = match a {
                ActionFile::Send(s) => {
                    send_count += 1;
                    let id = s.id.clone().unwrap_or_else(|| format!("m{send_count}"));
                    if ids.contains(&id) {
                        return Err(self.error_at(
                            &id,
                            1,
                            format!("two messages are called {id:?}"),
                            Some("give each Send its own id".into()),
                        ));
                    }
                    ids.push(id.clone());
                    let from = self.user_id(&users, &s.from)?;
                    if s.via.is_none() {
                        acts(from)?;
                    }
                    let list = |xs: &[String]| -> Result<Vec<Address>, LoadError> {
                        xs.iter().map(|x| self.address(x)).collect()
                    };
                    let send = Send {
                        id,
                        from,
                        to: list(&s.to)?,
                        cc: list(&s.cc)?,
                        bcc: list(&s.bcc)?,
                        subject: s.subject.clone(),
                        body: s.body.clone(),
                        header_from: s.header_from.clone(),
                        via: s
                            .via
                            .as_ref()
                            .map(|v| self.host_id(&hosts, v))
                            .transpose()?,
                    };
                    if let Some(v) = send.via
                        && !hosts[v].has(Role::Mx)
                    {
                        let name = &hosts[v].name;
                        return Err(self.error_at(
                            name,
                            0,
                            format!("{name:?} has no Mx role, so nothing takes mail on its port 25"),
                            Some("via hands the message straight to a server's port 25, without a login; name an MX".into()),
                        ));
                    }
                    if send.recipients().is_empty() {
                        return Err(self.error_at(
                            &s.from,
                            0,
                            "a Send needs at least one recipient in to, cc or bcc".into(),
                            None,
                        ));
                    }
                    if send.via.is_none() && domains[users[from].domain].submission.is_none() {
                        return Err(self.error_at(
                            &s.from,
                            0,
                            format!(
                                "{} has no submission server to send through",
                                users[from].address
                            ),
                            Some(format!(
                                "give a host of {} the Submission role, or add via: \"...\"",
                                domains[users[from].domain].name
                            )),
                        ));
                    }
                    Action {
                        at_ms: s.at.0,
                        kind: ActionKind::Send(Box::new(send)),
                    }
                }
                ActionFile::FetchPop3 { at, user, keep } => {
                    let user = self.user_id(&users, user)?;
                    acts(user)?;
                    self.require_access(&hosts, &domains, &users, user, Role::Pop3)?;
                    Action {
                        at_ms: at.0,
                        kind: ActionKind::FetchPop3 { user, keep: *keep },
                    }
                }
                ActionFile::FetchImap { at, user } => {
                    let user = self.user_id(&users, user)?;
                    acts(user)?;
                    self.require_access(&hosts, &domains, &users, user, Role::Imap)?;
                    Action {
                        at_ms: at.0,
                        kind: ActionKind::FetchImap { user },
                    }
                }
            };
            self.before_the_end(action.at_ms)?;
            script.push(action);
        }
        script.sort_by_key(|a| a.at_ms);

        // Expectations.
        let message = |id: &str| -> Result<String, LoadError> {
            if ids.iter().any(|x| x == id) {
                Ok(id.to_string())
            } else {
                Err(self.unknown("message", id, ids.clone()))
            }
        };
        let folder = |f: &Option<String>| f.clone().unwrap_or_else(|| "INBOX".to_string());
        let mut expectations = Vec::new();
        for (_, e) in self.entries("expect", &p.expect) {
            expectations.push(match e {
                ExpectFile::Delivered {
                    message: m,
                    to,
                    folder: f,
                } => Expectation::Delivered {
                    message: message(m)?,
                    to: self.user_id(&users, to)?,
                    folder: folder(f),
                },
                ExpectFile::NotDelivered { message: m, to } => Expectation::NotDelivered {
                    message: message(m)?,
                    to: self.user_id(&users, to)?,
                },
                ExpectFile::Bounced { message: m } => Expectation::Bounced {
                    message: message(m)?,
                },
                ExpectFile::Queued { message: m } => Expectation::Queued {
                    message: message(m)?,
                },
                ExpectFile::Rejected { message: m } => Expectation::Rejected {
                    message: message(m)?,
                },
                ExpectFile::MailboxCount {
                    user,
                    folder: f,
                    count,
                } => Expectation::MailboxCount {
                    user: self.user_id(&users, user)?,
                    folder: folder(f),
                    count: *count,
                },
                ExpectFile::DnsQueries {
                    host,
                    name,
                    qtype,
                    count,
                } => {
                    let qtype = qtype.to_ascii_uppercase();
                    if !matches!(qtype.as_str(), "A" | "MX" | "CNAME") {
                        return Err(self.error_at(
                            &qtype,
                            0,
                            format!("unknown query type {qtype:?}"),
                            Some("use \"A\", \"MX\" or \"CNAME\"".into()),
                        ));
                    }
                    Expectation::DnsQueries {
                        host: self.host_id(&hosts, host)?,
                        name: name.trim_end_matches('.').to_ascii_lowercase(),
                        qtype,
                        count: *count,
                    }
                }
                ExpectFile::Downloaded { user, count } => Expectation::Downloaded {
                    user: self.user_id(&users, user)?,
                    count: *count,
                },
                ExpectFile::HeaderCount {
                    message: m,
                    to,
                    name,
                    count,
                } => Expectation::HeaderCount {
                    message: message(m)?,
                    to: self.user_id(&users, to)?,
                    name: self.field_name(name)?,
                    count: *count,
                },
            });
        }

        let lesson = self.lesson(&hosts)?;

        let run_until_ms = p
            .run_until
            .map_or_else(|| retry.default_end(&faults, &script), |m| m.0);

        Ok(Scenario {
            title: p.title.clone(),
            description: p.description.trim().to_string(),
            seed: p.seed,
            domains,
            hosts,
            users,
            links,
            default_link,
            retry,
            faults,
            script,
            expectations,
            run_until_ms,
            lesson,
        })
    }

    fn moment(&self, hosts: &[Host], m: &MomentFile) -> Result<Moment, LoadError> {
        let host =
            |name: &Option<String>| name.as_ref().map(|n| self.host_id(hosts, n)).transpose();
        if m.nth == Some(0) {
            return Err(self.err(
                "nth",
                "nth counts from 1: the first matching event is nth: 1".into(),
            ));
        }
        Ok(Moment {
            kind: m.kind,
            protocol: m.protocol,
            from: host(&m.from)?,
            to: host(&m.to)?,
            text: m.text.as_ref().map(|t| t.to_lowercase()),
            nth: m.nth.unwrap_or(1),
        })
    }

    fn lesson(&self, hosts: &[Host]) -> Result<Lesson, LoadError> {
        let l = &self.parsed.lesson;
        let mut lesson = Lesson::default();
        for c in &l.captions {
            lesson.captions.push(TeacherCaption {
                at: self.moment(hosts, &c.at)?,
                text: c.text.trim().to_string(),
            });
        }
        for p in &l.predictions {
            let answer = match &p.answer {
                AnswerFile::Host(h) => Answer::Host(self.host_id(hosts, h)?),
                AnswerFile::Text(t) => {
                    if !p.choices.is_empty() && !p.choices.iter().any(|c| c == t) {
                        return Err(self.error_at(
                            t,
                            0,
                            format!("the answer {t:?} is not one of the choices"),
                            Some(format!("choices: {}", p.choices.join(", "))),
                        ));
                    }
                    Answer::Text(t.clone())
                }
            };
            lesson.predictions.push(Prediction {
                at: self.moment(hosts, &p.at)?,
                question: p.question.trim().to_string(),
                answer,
                choices: p.choices.clone(),
                explain: p.explain.trim().to_string(),
            });
        }
        Ok(lesson)
    }

    /// An action at `at_ms` happens before the file's `run_until`, if it gives one: else it
    /// would silently never happen. (A fault after the end may stand: a host that comes back
    /// up only after the lesson, say.)
    fn before_the_end(&self, at_ms: u64) -> Result<(), LoadError> {
        match &self.parsed.run_until {
            // At the very end it could not finish either: the run stops at that moment.
            Some(end) if at_ms >= end.0 => Err(self.error_at(
                "at:",
                0,
                format!(
                    "this action comes at {}, not before the end of the run (run_until: {})",
                    super::duration::Millis(at_ms),
                    super::duration::Millis(end.0)
                ),
                Some("move it earlier, or let the run go on longer".into()),
            )),
            _ => Ok(()),
        }
    }

    /// An MX record's exchange: a host with the Mx role, or a name with an address of its own
    /// (an A record, or a CNAME).
    fn check_exchange(
        &self,
        hosts: &[Host],
        domains: &[Domain],
        domain: &str,
        exchange: &str,
    ) -> Result<(), LoadError> {
        match hosts.iter().find(|h| h.name == exchange) {
            Some(h) if !h.has(Role::Mx) => Err(self.error_at(
                exchange,
                0,
                format!("{exchange:?} is an MX of {domain} but has no Mx role"),
                Some("add Mx to its roles, or name another host".into()),
            )),
            Some(_) => Ok(()),
            None if domains
                .iter()
                .any(|d| d.a.contains_key(exchange) || d.cname.contains_key(exchange)) =>
            {
                Ok(())
            }
            None => self.host_id(hosts, exchange).map(drop),
        }
    }

    fn require_access(
        &self,
        hosts: &[Host],
        domains: &[Domain],
        users: &[User],
        user: UserId,
        role: Role,
    ) -> Result<(), LoadError> {
        let store = domains[users[user].domain].store;
        if store.is_some_and(|s| hosts[s].has(role)) {
            return Ok(());
        }
        let address = users[user].address.to_string();
        Err(self.error_at(
            &address,
            1,
            format!("{address}'s mailbox host does not offer {role:?}"),
            Some(format!(
                "add {role:?} to the roles of the host that keeps the mail of {}",
                users[user].address.domain()
            )),
        ))
    }
}
