//! A validated [`Scenario`] written back as a scenario file, so that a generated world (a fault
//! storm, say) or a topology drawn in the window's editor can be saved, read, edited and run like
//! any lesson: `load_str(&to_ron(s))` gives `s` again, lesson layer included. What the loader
//! derives by itself (a host's A record and domain from its name, the default message size and
//! end of the run) is left out, so that the file reads like one a teacher wrote.

use super::Millis;
use super::file::*;
use super::model::*;

/// The scenario as the file structure a teacher writes, every name spelled out.
pub fn to_file(sc: &Scenario) -> ScenarioFile {
    let host = |h: HostId| sc.hosts[h].name.clone();
    let user = |u: UserId| sc.users[u].address.to_string();
    let addresses = |xs: &[crate::mail::Address]| xs.iter().map(ToString::to_string).collect();
    ScenarioFile {
        title: sc.title.clone(),
        description: sc.description.clone(),
        seed: sc.seed,
        domains: sc
            .domains
            .iter()
            .map(|d| DomainFile {
                name: d.name.clone(),
                mx: d.mx.clone(),
                null_mx: d.null_mx,
                a: d.a
                    .iter()
                    .filter(|(owner, ip)| !automatic_a_record(sc, owner, **ip))
                    .map(|(k, ip)| (k.clone(), ip.to_string()))
                    .collect(),
                cname: d.cname.clone(),
                ttl: d.ttl,
                ns: Some(host(d.ns)),
            })
            .collect(),
        hosts: sc
            .hosts
            .iter()
            .map(|h| HostFile {
                name: h.name.clone(),
                ip: h.ip.to_string(),
                roles: h.roles.clone(),
                // Only a domain the name does not already say.
                domain: h
                    .domain
                    .filter(|&d| sc.domain_of_name(&h.name) != Some(d))
                    .map(|d| sc.domains[d].name.clone()),
                position: h.position,
                greylist: h.greylist_ms.map(Millis),
                max_message_size: Some(h.max_message_size)
                    .filter(|&size| size != DEFAULT_MAX_MESSAGE_SIZE),
            })
            .collect(),
        users: sc
            .users
            .iter()
            .map(|u| UserFile {
                address: u.address.to_string(),
                password: u.password.clone(),
                client: Some(host(u.client)),
            })
            .collect(),
        links: sc
            .links
            .iter()
            .map(|l| LinkFile {
                between: (host(l.a), host(l.b)),
                latency_ms: l.spec.latency_ms,
                loss: l.spec.loss,
            })
            .collect(),
        default_link: sc.default_link.clone(),
        retry: RetryFile {
            schedule: sc.retry.schedule_ms.iter().copied().map(Millis).collect(),
            give_up: Millis(sc.retry.give_up_ms),
        },
        faults: sc
            .faults
            .iter()
            .map(|f| {
                let at = Millis(f.at_ms);
                match &f.kind {
                    FaultKind::HostDown(h) => FaultFile::HostDown { at, host: host(*h) },
                    FaultKind::HostUp(h) => FaultFile::HostUp { at, host: host(*h) },
                    FaultKind::LinkDown(a, b) => FaultFile::LinkDown {
                        at,
                        between: (host(*a), host(*b)),
                    },
                    FaultKind::LinkUp(a, b) => FaultFile::LinkUp {
                        at,
                        between: (host(*a), host(*b)),
                    },
                    FaultKind::DnsChange { name, record, .. } => FaultFile::DnsChange {
                        at,
                        name: name.clone(),
                        record: match record {
                            RecordChange::A(ip) => RecordFile::A(ip.to_string()),
                            RecordChange::Mx(list) => RecordFile::Mx(list.clone()),
                            RecordChange::Cname(t) => RecordFile::Cname(t.clone()),
                            RecordChange::Remove => RecordFile::Remove,
                        },
                    },
                    FaultKind::MailboxFull(u) => FaultFile::MailboxFull { at, user: user(*u) },
                    FaultKind::MailboxFreed(u) => FaultFile::MailboxFreed { at, user: user(*u) },
                    FaultKind::Greylist(h, Some(delay)) => FaultFile::GreylistOn {
                        at,
                        host: host(*h),
                        delay: Millis(*delay),
                    },
                    FaultKind::Greylist(h, None) => FaultFile::GreylistOff { at, host: host(*h) },
                }
            })
            .collect(),
        script: sc
            .script
            .iter()
            .map(|a| {
                let at = Millis(a.at_ms);
                match &a.kind {
                    ActionKind::Send(s) => ActionFile::Send(SendFile {
                        at,
                        id: Some(s.id.clone()),
                        from: user(s.from),
                        to: addresses(&s.to),
                        cc: addresses(&s.cc),
                        bcc: addresses(&s.bcc),
                        subject: s.subject.clone(),
                        body: s.body.clone(),
                        header_from: s.header_from.clone(),
                        via: s.via.map(host),
                    }),
                    ActionKind::FetchPop3 { user: u, keep } => ActionFile::FetchPop3 {
                        at,
                        user: user(*u),
                        keep: *keep,
                    },
                    ActionKind::FetchImap { user: u } => {
                        ActionFile::FetchImap { at, user: user(*u) }
                    }
                }
            })
            .collect(),
        expect: sc
            .expectations
            .iter()
            .map(|e| match e {
                Expectation::Delivered {
                    message,
                    to,
                    folder,
                } => ExpectFile::Delivered {
                    message: message.clone(),
                    to: user(*to),
                    folder: Some(folder.clone()),
                },
                Expectation::NotDelivered { message, to } => ExpectFile::NotDelivered {
                    message: message.clone(),
                    to: user(*to),
                },
                Expectation::Bounced { message } => ExpectFile::Bounced {
                    message: message.clone(),
                },
                Expectation::Queued { message } => ExpectFile::Queued {
                    message: message.clone(),
                },
                Expectation::Rejected { message } => ExpectFile::Rejected {
                    message: message.clone(),
                },
                Expectation::MailboxCount {
                    user: u,
                    folder,
                    count,
                } => ExpectFile::MailboxCount {
                    user: user(*u),
                    folder: Some(folder.clone()),
                    count: *count,
                },
                Expectation::DnsQueries {
                    host: h,
                    name,
                    qtype,
                    count,
                } => ExpectFile::DnsQueries {
                    host: host(*h),
                    name: name.clone(),
                    qtype: qtype.clone(),
                    count: *count,
                },
                Expectation::Downloaded { user: u, count } => ExpectFile::Downloaded {
                    user: user(*u),
                    count: *count,
                },
                Expectation::HeaderCount {
                    message,
                    to,
                    name,
                    count,
                } => ExpectFile::HeaderCount {
                    message: message.clone(),
                    to: user(*to),
                    name: name.clone(),
                    count: *count,
                },
            })
            .collect(),
        run_until: Some(Millis(sc.run_until_ms))
            .filter(|m| m.0 != sc.retry.default_end(&sc.faults, &sc.script)),
        lesson: lesson_file(sc),
    }
}

/// Whether the loader would make this A record by itself: a host's own name and address, in
/// the domain its name ends in.
fn automatic_a_record(sc: &Scenario, owner: &str, ip: std::net::Ipv4Addr) -> bool {
    sc.host_by_name(owner).is_some_and(|h| sc.hosts[h].ip == ip)
}

/// The teacher's captions and questions, every host by name.
fn lesson_file(sc: &Scenario) -> LessonFile {
    let host = |h: &Option<HostId>| h.map(|h| sc.hosts[h].name.clone());
    let moment = |m: &Moment| MomentFile {
        kind: m.kind,
        protocol: m.protocol,
        from: host(&m.from),
        to: host(&m.to),
        text: m.text.clone(),
        nth: Some(m.nth).filter(|&n| n != 1),
    };
    LessonFile {
        captions: sc
            .lesson
            .captions
            .iter()
            .map(|c| CaptionFile {
                at: moment(&c.at),
                text: c.text.clone(),
            })
            .collect(),
        predictions: sc
            .lesson
            .predictions
            .iter()
            .map(|p| PredictionFile {
                at: moment(&p.at),
                question: p.question.clone(),
                answer: match &p.answer {
                    Answer::Host(h) => AnswerFile::Host(sc.hosts[*h].name.clone()),
                    Answer::Text(t) => AnswerFile::Text(t.clone()),
                },
                choices: p.choices.clone(),
                explain: p.explain.clone(),
            })
            .collect(),
    }
}

/// The scenario as RON text that [`load_str`](super::load_str) reads back.
pub fn to_ron(sc: &Scenario) -> String {
    file_to_ron(&to_file(sc))
}

/// A scenario file as RON text, in the style of the bundled lessons: optional fields bare (no
/// `Some(...)`), each host, link, action, caption and question on a line of its own.
pub fn file_to_ron(file: &ScenarioFile) -> String {
    // The lesson sits one level deeper than the hosts, so it is written on its own and put in.
    let without = ScenarioFile {
        lesson: LessonFile::default(),
        ..file.clone()
    };
    let mut text = ron_text(&without);
    if !file.lesson.is_empty() {
        let inner = ron_text(&file.lesson);
        let end = text.rfind(')').expect("a struct ends with a parenthesis");
        text.truncate(end);
        text.push_str("  lesson: ");
        for (i, line) in inner.trim_end().lines().enumerate() {
            if i > 0 {
                text.push_str("\n  ");
            }
            text.push_str(line);
        }
        text.push_str(",\n)");
    }
    text.push('\n');
    text
}

/// A value as RON with the lessons' conventions, two levels of nesting spread over lines.
fn ron_text<T: serde::Serialize>(value: &T) -> String {
    let options = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES);
    let pretty = ron::ser::PrettyConfig::default()
        .indentor("  ")
        .separate_tuple_members(false)
        .depth_limit(2);
    let text = options
        .to_string_pretty(value, pretty)
        .expect("a scenario always serializes");
    // RON escapes every apostrophe; a teacher's "Bob's" reads better without the backslash.
    text.replace("\\'", "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_file, load_str};

    #[test]
    fn every_lesson_reads_back_as_itself() {
        let mut dir: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ron"))
            .collect();
        dir.sort();
        assert!(!dir.is_empty());
        for path in dir {
            let sc = load_file(&path).unwrap();
            let text = to_ron(&sc);
            let back = load_str(&text, "saved.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, sc, "{}", path.display());
        }
    }
}
