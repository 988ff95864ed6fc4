//! Broken scenario files get FILE:LINE:COLUMN errors with hints, never a panic.

use mailsim::scenario::load_str;

const GOOD: &str = r#"(
    title: "t",
    domains: [(name: "alpha.example", mx: [(10, "mx.alpha.example")])],
    hosts: [
        (name: "mx.alpha.example", ip: "192.0.2.1", roles: [Mx, Imap, Submission]),
        (name: "ns.example", ip: "192.0.2.53", roles: [Dns]),
        (name: "pc.alpha.example", ip: "192.0.2.2", roles: [Client]),
    ],
    users: [(address: "a@alpha.example", password: "p")],
    script: [Send(at: "1s", from: "a@alpha.example", to: ["a@alpha.example"])],
)"#;

#[test]
fn the_reference_file_is_good() {
    load_str(GOOD, "good.ron").unwrap();
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let bad = GOOD.replace(r#"title: "t","#, r#"title: "t""#);
    let e = load_str(&bad, "lesson.ron").unwrap_err();
    assert_eq!(e.file, "lesson.ron");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.to_string().starts_with("lesson.ron:3:"), "{e}");
}

#[test]
fn an_unknown_field_is_named_with_a_hint() {
    let bad = GOOD
        .replace("seed", "x")
        .replace(r#"title: "t","#, "title: \"t\",\n    colour: 3,");
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("colour"), "{e}");
    assert!(e.hint.is_some());
}

#[test]
fn an_unknown_host_lists_the_known_ones() {
    let bad = GOOD.replace(
        r#"script: ["#,
        r#"faults: [HostDown(at: "1m", host: "mx.alpha.exmaple")], script: ["#,
    );
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(
        e.message.contains("unknown host \"mx.alpha.exmaple\""),
        "{e}"
    );
    let hint = e.hint.unwrap();
    assert!(
        hint.contains("mx.alpha.example") && hint.contains("ns.example"),
        "{hint}"
    );
    assert_eq!(e.line, 10);
}

#[test]
fn two_hosts_with_one_address_names_both() {
    let bad = GOOD.replace(r#"ip: "192.0.2.2""#, r#"ip: "192.0.2.1""#);
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(
        e.message.contains("mx.alpha.example") && e.message.contains("pc.alpha.example"),
        "{e}"
    );
    assert_eq!(e.line, 7, "the second host's address is the error");
}

#[test]
fn a_bad_time_says_how_to_write_one() {
    let bad = GOOD.replace(r#"at: "1s""#, r#"at: "1 minute""#);
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(
        e.message.contains("unit") || e.message.contains("time"),
        "{e}"
    );
    assert_eq!(e.line, 10);
}

#[test]
fn an_unknown_user_in_an_expectation_lists_the_users() {
    let bad = GOOD.replace(
        r#"script: ["#,
        r#"expect: [Delivered(message: "m1", to: "b@alpha.example")], script: ["#,
    );
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("unknown user"), "{e}");
    assert!(e.hint.unwrap().contains("a@alpha.example"));
}

#[test]
fn truncated_and_garbage_files_never_panic() {
    for cut in (0..GOOD.len()).step_by(7) {
        let _ = load_str(&GOOD[..cut], "cut.ron");
    }
    for garbage in ["", "(", "[[[[", "\u{0}\u{1}", "(title: 3)", "()"] {
        assert!(load_str(garbage, "g.ron").is_err());
    }
}

#[test]
fn the_readme_example_is_a_valid_scenario() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```ron\n")
        .expect("the README has a RON example")
        + 7;
    let end = start + readme[start..].find("```").unwrap();
    let scenario = load_str(&readme[start..end], "README.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.expectations.len(), 8);
    assert_eq!(scenario.faults.len(), 9);
}

#[test]
fn a_lesson_names_its_hosts_and_its_answers_are_among_the_choices() {
    let with = |lesson: &str| GOOD.replace("\n)", &format!("\n    lesson: {lesson}\n)"));
    let e = load_str(
        &with(r#"(captions: [(at: (kind: DnsQuery, from: "mx.alpha.exmaple"), text: "x")])"#),
        "f.ron",
    )
    .unwrap_err();
    assert!(
        e.message.contains("unknown host \"mx.alpha.exmaple\""),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("mx.alpha.example"));

    let e = load_str(
        &with(
            r#"(predictions: [(at: (kind: ServerLine), question: "q", choices: ["250", "550"], answer: Text("451"))])"#,
        ),
        "f.ron",
    )
    .unwrap_err();
    assert!(e.message.contains("not one of the choices"), "{e}");
    assert_eq!(e.line, 11, "{e}");

    let e = load_str(&with(r#"(captions: [(at: (nth: 0), text: "x")])"#), "f.ron").unwrap_err();
    assert!(e.message.contains("counts from 1"), "{e}");

    let e = load_str(
        &with(r#"(captions: [(at: (kind: Teleport), text: "x")])"#),
        "f.ron",
    )
    .unwrap_err();
    assert!(e.message.contains("Teleport"), "{e}");
}
