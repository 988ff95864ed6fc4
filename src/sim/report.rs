//! Judging a run: the scenario's expectations, and the final state as one JSON document.

use serde::Serialize;

use super::world::Outcome;
use crate::mail::{Mailbox, Message};
use crate::node::dsn::is_bounce;
use crate::proto::dns::RecordType;
use crate::scenario::{Expectation, Scenario, UserId};
use crate::text::counted;

/// One expectation and whether it held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub text: String,
    pub ok: bool,
    /// What was found instead, when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The Message-ID the run gave a script message.
fn message_id<'a>(outcome: &'a Outcome, name: &str) -> Option<&'a str> {
    outcome
        .trace
        .messages
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.message_id.as_str())
}

fn message_index(outcome: &Outcome, name: &str) -> Option<u32> {
    outcome
        .trace
        .messages
        .iter()
        .position(|m| m.name == name)
        .map(|i| i as u32)
}

/// A user's mailbox on the host that keeps the user's mail.
fn mailbox<'a>(scenario: &Scenario, outcome: &'a Outcome, user: UserId) -> Option<&'a Mailbox> {
    let u = &scenario.users[user];
    let store = scenario.domains[u.domain].store?;
    outcome.state.stores[store].get(&u.address.key())
}

/// The messages in a user's folder on the host that keeps the user's mail.
fn folder<'a>(
    scenario: &Scenario,
    outcome: &'a Outcome,
    user: UserId,
    folder: &str,
) -> Vec<&'a Message> {
    mailbox(scenario, outcome, user)
        .and_then(|mb| mb.folder(folder))
        .map(|f| f.messages.iter().map(|m| &m.message).collect())
        .unwrap_or_default()
}

/// Every message a user has: on the server in any folder, or downloaded.
fn all_mail<'a>(scenario: &Scenario, outcome: &'a Outcome, user: UserId) -> Vec<&'a Message> {
    let mut all: Vec<&Message> = outcome.state.downloaded[user].iter().collect();
    if let Some(mb) = mailbox(scenario, outcome, user) {
        all.extend(
            mb.folders
                .iter()
                .flat_map(|f| f.messages.iter().map(|m| &m.message)),
        );
    }
    all
}

fn is_message(m: &Message, id: &str) -> bool {
    m.header("Message-ID").as_deref() == Some(id)
}

fn has_id(messages: &[&Message], id: &str) -> bool {
    messages.iter().any(|m| is_message(m, id))
}

/// Where a user's copy of a message is, said after "but" when it is not where the scenario
/// expects it in folder `expected`: in another folder on the server, or taken away by the
/// user's mail program (POP3 deletes what it fetched).
fn elsewhere(
    scenario: &Scenario,
    outcome: &Outcome,
    user: UserId,
    id: &str,
    expected: &str,
) -> Option<String> {
    let on_server = mailbox(scenario, outcome, user).and_then(|mb| {
        mb.folders
            .iter()
            .find(|f| f.messages.iter().any(|m| is_message(&m.message, id)))
            .map(|f| format!("is in {}, not in {expected}", f.name))
    });
    let downloaded = || {
        outcome.state.downloaded[user]
            .iter()
            .any(|m| is_message(m, id))
    };
    on_server.or_else(|| {
        downloaded()
            .then(|| format!("was downloaded by the mail program and is no longer in {expected}"))
    })
}

/// Checks every expectation of the scenario against a run.
pub fn check(scenario: &Scenario, outcome: &Outcome) -> Vec<Verdict> {
    scenario
        .expectations
        .iter()
        .map(|e| {
            let user = |u: UserId| scenario.users[u].address.to_string();
            let (text, ok, detail) = match e {
                Expectation::Delivered {
                    message,
                    to,
                    folder: f,
                } => {
                    let id = message_id(outcome, message).unwrap_or("");
                    let msgs = folder(scenario, outcome, *to, f);
                    let ok = has_id(&msgs, id);
                    let detail = if ok {
                        String::new()
                    } else if let Some(place) = elsewhere(scenario, outcome, *to, id, f) {
                        format!("{message} reached {} but {place}", user(*to))
                    } else {
                        format!(
                            "{message} never reached {}; {f} holds {}",
                            user(*to),
                            counted(msgs.len(), "message", "messages")
                        )
                    };
                    (
                        format!("{message} is delivered to {}'s {f}", user(*to)),
                        ok,
                        detail,
                    )
                }
                Expectation::NotDelivered { message, to } => {
                    let id = message_id(outcome, message).unwrap_or("");
                    let ok = !has_id(&all_mail(scenario, outcome, *to), id);
                    (
                        format!("{message} never reaches {}", user(*to)),
                        ok,
                        if ok {
                            String::new()
                        } else {
                            format!("{message} did reach {}", user(*to))
                        },
                    )
                }
                Expectation::Bounced { message } => {
                    let sender = scenario.script.iter().find_map(|a| match &a.kind {
                        crate::scenario::ActionKind::Send(s) if &s.id == message => Some(s.from),
                        _ => None,
                    });
                    let id = message_id(outcome, message).unwrap_or("");
                    let ok = sender.is_some_and(|s| {
                        all_mail(scenario, outcome, s)
                            .iter()
                            .any(|m| is_bounce(m) && m.header("References").as_deref() == Some(id))
                    });
                    let who = sender.map(user).unwrap_or_default();
                    (
                        format!("{who} receives a bounce for {message}"),
                        ok,
                        if ok {
                            String::new()
                        } else {
                            format!("no bounce about {message} is in {who}'s mailbox")
                        },
                    )
                }
                Expectation::Queued { message } => {
                    let idx = message_index(outcome, message);
                    let ok = outcome.state.queued.iter().any(|q| q.message == idx);
                    (
                        format!("{message} is still queued at the end"),
                        ok,
                        if ok {
                            String::new()
                        } else {
                            format!("{message} is in no queue")
                        },
                    )
                }
                Expectation::Rejected { message } => {
                    let idx = message_index(outcome, message);
                    let ok = outcome.state.rejected.iter().any(|r| Some(r.0) == idx);
                    (
                        format!("{message} is refused when it is sent"),
                        ok,
                        if ok {
                            String::new()
                        } else {
                            format!("{message} was not refused")
                        },
                    )
                }
                Expectation::MailboxCount {
                    user: u,
                    folder: f,
                    count,
                } => {
                    let n = folder(scenario, outcome, *u, f).len();
                    (
                        format!(
                            "{}'s {f} holds {}",
                            user(*u),
                            counted(*count, "message", "messages")
                        ),
                        n == *count,
                        if n == *count {
                            String::new()
                        } else {
                            format!("it holds {n}")
                        },
                    )
                }
                Expectation::DnsQueries {
                    host,
                    name,
                    qtype,
                    count,
                } => {
                    // The loader accepts only the types it knows.
                    let n = RecordType::from_name(qtype)
                        .map_or(0, |t| outcome.state.dns_queries_sent(*host, name, t));
                    (
                        format!(
                            "{} sends {count} DNS quer{} for {qtype} {name}",
                            scenario.hosts[*host].name,
                            if *count == 1 { "y" } else { "ies" }
                        ),
                        n == *count,
                        if n == *count {
                            String::new()
                        } else {
                            format!("it sent {n}")
                        },
                    )
                }
                Expectation::HeaderCount {
                    message,
                    to,
                    name,
                    count,
                } => {
                    let id = message_id(outcome, message).unwrap_or("");
                    let copy = all_mail(scenario, outcome, *to)
                        .into_iter()
                        .find(|m| m.header("Message-ID").as_deref() == Some(id));
                    let n = copy.map(|m| m.headers_named(name).len());
                    let fields = |n: usize| match n {
                        0 => format!("no {name}: field"),
                        1 => format!("1 {name}: field"),
                        n => format!("{n} {name}: fields"),
                    };
                    (
                        format!(
                            "the copy of {message} that reaches {} has {}",
                            user(*to),
                            fields(*count)
                        ),
                        n == Some(*count),
                        match n {
                            Some(n) if n == *count => String::new(),
                            Some(n) => format!("it has {}", fields(n)),
                            None => format!("{message} never reached {}", user(*to)),
                        },
                    )
                }
                Expectation::Downloaded { user: u, count } => {
                    let n = outcome.state.downloaded[*u].len();
                    (
                        format!(
                            "{}'s mail program downloads {}",
                            user(*u),
                            counted(*count, "message", "messages")
                        ),
                        n == *count,
                        if n == *count {
                            String::new()
                        } else {
                            format!("it downloaded {n}")
                        },
                    )
                }
            };
            Verdict { text, ok, detail }
        })
        .chain(lesson_verdicts(scenario, outcome))
        .collect()
}

/// The lesson layer is checked like an expectation: every caption and question must find its
/// moment in the run, and every right answer must be what the trace shows there.
fn lesson_verdicts(scenario: &Scenario, outcome: &Outcome) -> Vec<Verdict> {
    let lesson = &scenario.lesson;
    if lesson.captions.is_empty() && lesson.predictions.is_empty() {
        return Vec::new();
    }
    let pinned = crate::lesson::pin(scenario, &outcome.trace);
    let text = format!(
        "the lesson's {} and {} fit this run",
        counted(lesson.captions.len(), "caption", "captions"),
        counted(lesson.predictions.len(), "question", "questions")
    );
    vec![Verdict {
        text,
        ok: pinned.problems.is_empty(),
        detail: pinned.problems.join("; "),
    }]
}

#[derive(Serialize)]
struct ReportMessage {
    subject: String,
    from: String,
    to: String,
    message_id: String,
    received: usize,
    flags: Vec<String>,
}

#[derive(Serialize)]
struct ReportFolder {
    folder: String,
    messages: Vec<ReportMessage>,
}

#[derive(Serialize)]
struct ReportMailbox {
    address: String,
    host: String,
    folders: Vec<ReportFolder>,
    downloaded: usize,
}

#[derive(Serialize)]
struct ReportQueued {
    host: String,
    queue_id: String,
    message: Option<String>,
    message_id: Option<String>,
    recipient: String,
    reason: String,
    next_attempt_ms: u64,
}

#[derive(Serialize)]
struct ReportBounced {
    message: Option<String>,
    message_id: Option<String>,
    recipient: String,
    status: String,
    reported_by: String,
}

#[derive(Serialize)]
struct Report<'a> {
    title: &'a str,
    seed: u64,
    end_ms: u64,
    events: usize,
    mailboxes: Vec<ReportMailbox>,
    queue: Vec<ReportQueued>,
    bounced: Vec<ReportBounced>,
    rejected: Vec<serde_json::Value>,
    expectations: Vec<Verdict>,
}

/// The final state as one JSON document (`mailsim run --report json`).
pub fn report_json(scenario: &Scenario, outcome: &Outcome) -> String {
    let name_of = |m: Option<u32>| m.map(|i| outcome.trace.messages[i as usize].name.clone());
    let id_of = |m: Option<u32>| m.map(|i| outcome.trace.messages[i as usize].message_id.clone());
    let mailboxes = scenario
        .users
        .iter()
        .enumerate()
        .map(|(ui, u)| {
            let store = scenario.domains[u.domain].store;
            let folders = mailbox(scenario, outcome, ui)
                .map(|mb| {
                    mb.folders
                        .iter()
                        .map(|f| ReportFolder {
                            folder: f.name.clone(),
                            messages: f
                                .messages
                                .iter()
                                .map(|m| ReportMessage {
                                    subject: m.message.header("Subject").unwrap_or_default(),
                                    from: m.message.header("From").unwrap_or_default(),
                                    to: m.message.header("To").unwrap_or_default(),
                                    message_id: m.message.header("Message-ID").unwrap_or_default(),
                                    received: m.message.received_count(),
                                    flags: m
                                        .flags
                                        .to_imap()
                                        .split_whitespace()
                                        .map(str::to_string)
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            ReportMailbox {
                address: u.address.to_string(),
                host: store
                    .map(|s| scenario.hosts[s].name.clone())
                    .unwrap_or_default(),
                folders,
                downloaded: outcome.state.downloaded[ui].len(),
            }
        })
        .collect();
    let report = Report {
        title: &scenario.title,
        seed: scenario.seed,
        end_ms: outcome.state.end_ms,
        events: outcome.trace.len(),
        mailboxes,
        queue: outcome
            .state
            .queued
            .iter()
            .map(|q| ReportQueued {
                host: scenario.hosts[q.host].name.clone(),
                queue_id: q.queue_id.clone(),
                message: name_of(q.message),
                message_id: id_of(q.message),
                recipient: q.recipient.to_string(),
                reason: q.reason.clone(),
                next_attempt_ms: q.next_attempt_ms,
            })
            .collect(),
        bounced: outcome
            .state
            .bounced
            .iter()
            .map(|b| ReportBounced {
                message: name_of(b.message),
                message_id: id_of(b.message),
                recipient: b.recipient.to_string(),
                status: b.status.clone(),
                reported_by: scenario.hosts[b.reporter].name.clone(),
            })
            .collect(),
        rejected: outcome
            .state
            .rejected
            .iter()
            .map(|(m, r, why)| serde_json::json!({"message": name_of(Some(*m)), "recipient": r.to_string(), "reply": why}))
            .collect(),
        expectations: check(scenario, outcome),
    };
    serde_json::to_string_pretty(&report).expect("the report is plain data")
}
