//! Every lesson in scenarios/ loads, runs, and meets its own expectations.

use std::path::PathBuf;

use mailsim::scenario::load_file;
use mailsim::sim::{report, run};

pub fn lesson_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

/// A bundled lesson's text, for a test to vary.
fn lesson_text(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    std::fs::read_to_string(&path).expect("a bundled lesson is readable")
}

#[test]
fn there_are_lessons_in_teaching_order() {
    let files = lesson_files();
    assert!(files.len() >= 13, "found {} lessons", files.len());
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with(&format!("{:02}-", i + 1)),
            "{name} is out of order"
        );
    }
}

#[test]
fn every_lesson_meets_its_expectations() {
    for file in lesson_files() {
        let scenario = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !scenario.description.is_empty(),
            "{} has no description",
            file.display()
        );
        assert!(
            !scenario.expectations.is_empty(),
            "{} has no expectations",
            file.display()
        );
        let outcome = run(&scenario);
        for v in report::check(&scenario, &outcome) {
            assert!(
                v.ok,
                "{}: {} ({}); seed {}",
                file.display(),
                v.text,
                v.detail,
                scenario.seed
            );
        }
    }
}

/// `HeaderCount` looks at the copy that reached the user: lesson 13's Bcc recipient got the
/// message without a Bcc: line, and each copy has one Received: stamp per server that took it in.
#[test]
fn a_header_count_is_checked_in_the_copy_each_recipient_got() {
    let text = lesson_text("13-several-recipients-bcc.ron");
    let expect = r#"expect: [
        HeaderCount(message: "m1", to: "dave@beta.example", name: "Bcc", count: 0),
        HeaderCount(message: "m1", to: "dave@beta.example", name: "received:", count: 2),
        HeaderCount(message: "m1", to: "carol@gamma.example", name: "Cc", count: 2),
        HeaderCount(message: "m1", to: "alice@alpha.example", name: "Bcc", count: 0),
    ],
    lesson:"#;
    let start = text.find("expect: [").expect("lesson 13 expects");
    let end = text.find("lesson:").expect("lesson 13 has a lesson");
    let text = format!(
        "{}{expect}{}",
        &text[..start],
        &text[end + "lesson:".len()..]
    );
    let scenario = mailsim::scenario::load_str(&text, "13.ron").unwrap_or_else(|e| panic!("{e}"));
    let verdicts = report::check(&scenario, &run(&scenario));
    let said: Vec<(bool, &str, &str)> = verdicts
        .iter()
        .take(4)
        .map(|v| (v.ok, v.text.as_str(), v.detail.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                true,
                "the copy of m1 that reaches dave@beta.example has no Bcc: field",
                ""
            ),
            (
                true,
                "the copy of m1 that reaches dave@beta.example has 2 received: fields",
                ""
            ),
            (
                false,
                "the copy of m1 that reaches carol@gamma.example has 2 Cc: fields",
                "it has 1 Cc: field"
            ),
            (
                false,
                "the copy of m1 that reaches alice@alpha.example has no Bcc: field",
                "m1 never reached alice@alpha.example"
            ),
        ]
    );
    // A name with a space in it is no field name; the error points at it.
    let bad = text.replace(
        "name: \"Bcc\", count: 0),\n        HeaderCount(message: \"m1\", to: \"dave",
        "name: \"X Y\", count: 0),\n        HeaderCount(message: \"m1\", to: \"dave",
    );
    let err = mailsim::scenario::load_str(&bad, "13.ron")
        .expect_err("a field name with a space")
        .to_string();
    assert!(
        err.contains("\"X Y\" is not the name of a header field"),
        "{err}"
    );
}

/// A message that a server keeps deferring with 451 expires at the give-up time; the bounce's
/// status is 4.4.7 (delivery time expired, RFC 3463), and its Remote-MTA and Diagnostic-Code
/// are the last reply (RFC 3464 sections 2.3.5 and 2.3.6), as Postfix gives them.
#[test]
fn an_expired_message_bounces_with_the_last_remote_reply() {
    let text = lesson_text("07-greylisting.ron");
    let start = text.find("    expect: [").expect("lesson 7 expects");
    let text = format!(
        "{}    retry: (schedule: [\"30m\"], give_up: \"2h\"),\n    expect: [Bounced(message: \"m1\")],\n)\n",
        &text[..start]
    )
    .replace("greylist: \"5m\"", "greylist: \"1d\"")
    .replace(
        "to: [\"bob@beta.example\"]",
        "to: [\"bob@beta.example\", \"carol@beta.example\"]",
    )
    .replace(
        "(address: \"bob@beta.example\", password: \"builder\"),",
        "(address: \"bob@beta.example\", password: \"builder\"),\n        (address: \"carol@beta.example\", password: \"c\"),",
    );
    let scenario = mailsim::scenario::load_str(&text, "07.ron").unwrap_or_else(|e| panic!("{e}"));
    let outcome = run(&scenario);
    assert!(report::check(&scenario, &outcome).iter().all(|v| v.ok));
    let bounce = outcome
        .state
        .stores
        .iter()
        .filter_map(|store| store.get("alice@alpha.example"))
        .flat_map(|mb| mb.inbox().messages.iter().map(|m| &m.message))
        .find(|m| mailsim::node::dsn::is_bounce(m))
        .expect("Alice has the bounce");
    // Unfolded (RFC 5322 section 2.2.3); the human part's lines are indented text.
    let body = bounce.body().replace("\r\n    ", " ").replace("\r\n ", " ");
    // Each recipient's block carries its own last reply (RFC 3464 section 2.3.6).
    for who in ["bob", "carol"] {
        let block = format!(
            "Final-Recipient: rfc822; {who}@beta.example\r\nAction: failed\r\nStatus: 4.4.7\r\nRemote-MTA: dns; mx.beta.example\r\nDiagnostic-Code: smtp; 451 4.7.1 <{who}@beta.example>: Recipient address rejected: Greylisted"
        );
        assert!(body.contains(&block), "{block}\n---\n{body}");
        let human = format!("<{who}@beta.example>: delivery time expired after");
        assert!(body.contains(&human), "{body}");
    }
}

#[test]
fn a_message_in_the_wrong_place_says_where_it_is() {
    // Lesson 9: Bob fetches with POP3 (his copy leaves the server), Carol with IMAP (hers stays
    // in INBOX). Expect each copy somewhere it is not.
    let text = lesson_text("09-pop3-versus-imap.ron").replace(
        "    expect: [",
        "    expect: [\n        Delivered(message: \"m1\", to: \"bob@beta.example\"),\n        \
         Delivered(message: \"m1\", to: \"carol@beta.example\", folder: \"Archive\"),",
    );
    let scenario = mailsim::scenario::load_str(&text, "09.ron").unwrap_or_else(|e| panic!("{e}"));
    let verdicts = report::check(&scenario, &run(&scenario));
    let details: Vec<&str> = verdicts.iter().take(2).map(|v| v.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "m1 reached bob@beta.example but was downloaded by the mail program and is no \
             longer in INBOX",
            "m1 reached carol@beta.example but is in INBOX, not in Archive",
        ]
    );
}
