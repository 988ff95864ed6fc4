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
    assert!(e.message.contains("in the scenario"), "{e}");
    assert!(e.hint.is_some());
}

#[test]
fn a_misspelled_role_or_action_lists_the_names_allowed() {
    // A role stands alone in its list; an action is followed by its parenthesis.
    for (good, bad, line, wanted, place) in [
        (
            "roles: [Dns]",
            "roles: [DNS]",
            6,
            "`Dns`",
            "in a host's roles",
        ),
        ("Send(at", "Sned(at", 10, "`Send`", "in the script"),
    ] {
        let e = load_str(&GOOD.replace(good, bad), "f.ron").unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(wanted), "{e}");
        // Said in the file's words, not the reader's type names (`ActionFile`).
        assert!(e.message.contains(place), "{e}");
        let hint = e.hint.unwrap();
        assert!(hint.contains("capitals included"), "{hint}");
    }
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
    assert_eq!(scenario.expectations.len(), 9);
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

/// GOOD with a second domain whose mail program and mailbox host are its own, and two sends.
fn two_domains(script: &str) -> String {
    GOOD.replace(
        r#"domains: [(name: "alpha.example", mx: [(10, "mx.alpha.example")])],"#,
        r#"domains: [
        (name: "alpha.example", mx: [(10, "mx.alpha.example")]),
        (name: "beta.example", mx: [(10, "mx.beta.example")]),
    ],"#,
    )
    .replace(
        r#"(name: "pc.alpha.example", ip: "192.0.2.2", roles: [Client]),"#,
        r#"(name: "pc.alpha.example", ip: "192.0.2.2", roles: [Client]),
        (name: "mx.beta.example", ip: "192.0.2.3", roles: [Mx, Imap]),
        (name: "pc.beta.example", ip: "192.0.2.4", roles: [Client]),"#,
    )
    .replace(
        r#"users: [(address: "a@alpha.example", password: "p")],"#,
        r#"users: [(address: "a@alpha.example", password: "p"), (address: "b@beta.example", password: "q")],"#,
    )
    .replace(
        r#"script: [Send(at: "1s", from: "a@alpha.example", to: ["a@alpha.example"])],"#,
        script,
    )
}

#[test]
fn an_error_in_an_entry_points_at_that_entry_not_at_an_earlier_mention() {
    let good = two_domains(
        r#"script: [
        Send(at: "1s", from: "a@alpha.example", to: ["b@beta.example"]),
        Send(at: "2s", from: "a@alpha.example", to: [], id: "second"),
    ],"#,
    );
    let e = load_str(&good, "f.ron").unwrap_err();
    assert!(e.message.contains("at least one recipient"), "{e}");
    let line = good.lines().position(|l| l.contains("\"second\"")).unwrap() + 1;
    assert_eq!(e.line, line, "{e}");
}

/// GOOD with alpha.example's one MX record naming `exchange`.
fn with_mx(exchange: &str) -> String {
    GOOD.replace(
        r#"mx: [(10, "mx.alpha.example")]"#,
        &format!(r#"mx: [(10, "{exchange}")]"#),
    )
}

#[test]
fn a_misspelt_mx_is_an_unknown_host() {
    let bad = with_mx("mx.alpha.exmaple");
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(
        e.message.contains("unknown host \"mx.alpha.exmaple\""),
        "{e}"
    );
    assert_eq!((e.line, e.column), (3, 49), "{e}");
}

#[test]
fn an_mx_that_is_a_mail_program_is_refused() {
    let bad = with_mx("pc.alpha.example");
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("has no Mx role"), "{e}");
}

#[test]
fn two_mailbox_hosts_in_one_domain_are_refused() {
    let bad = GOOD.replace(
        r#"(name: "ns.example""#,
        r#"(name: "pop.alpha.example", ip: "192.0.2.9", roles: [Pop3]),
        (name: "ns.example""#,
    );
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("both keep mailboxes"), "{e}");
    assert!(e.message.contains("pop.alpha.example"), "{e}");
}

#[test]
fn an_action_after_the_end_of_the_run_is_refused() {
    let bad = GOOD
        .replace(r#"title: "t","#, r#"title: "t", run_until: "1m","#)
        .replace(r#"Send(at: "1s""#, r#"Send(at: "2m""#);
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("not before the end of the run"), "{e}");
    assert_eq!(e.line, 10, "{e}");
    // At the very end it could not finish either.
    let at_end = bad.replace(r#"Send(at: "2m""#, r#"Send(at: "1m""#);
    assert!(load_str(&at_end, "f.ron").is_err());
}

#[test]
fn a_cname_loop_is_refused() {
    let bad = GOOD.replace(
        r#"mx: [(10, "mx.alpha.example")]"#,
        r#"mx: [(10, "mx.alpha.example")], cname: {"a.alpha.example": "b.alpha.example", "b.alpha.example": "a.alpha.example"}"#,
    );
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("go round in a circle"), "{e}");
}

#[test]
fn a_user_whose_domain_has_no_mail_program_cannot_send_or_fetch() {
    let script = r#"script: [Send(at: "1s", from: "b@beta.example", to: ["a@alpha.example"])],"#;
    let without = two_domains(script).replace(
        r#"(name: "pc.beta.example", ip: "192.0.2.4", roles: [Client]),"#,
        "",
    );
    let e = load_str(&without, "f.ron").unwrap_err();
    assert!(
        e.message.contains("b@beta.example has no mail program"),
        "{e}"
    );
    // Being written to needs no mail program.
    let written_to =
        r#"script: [Send(at: "1s", from: "a@alpha.example", to: ["b@beta.example"])],"#;
    load_str(
        &two_domains(written_to).replace(
            r#"(name: "pc.beta.example", ip: "192.0.2.4", roles: [Client]),"#,
            "",
        ),
        "f.ron",
    )
    .unwrap();
}

#[test]
fn a_byte_order_mark_is_skipped_and_an_empty_file_says_so() {
    load_str(&format!("\u{feff}{GOOD}"), "bom.ron").unwrap();
    let e = load_str(" \n", "empty.ron").unwrap_err();
    assert_eq!(e.message, "the file is empty");
    assert!(e.hint.is_some());
}

#[test]
fn a_latency_of_more_than_an_hour_is_refused() {
    let bad = GOOD.replace(
        r#"title: "t","#,
        r#"title: "t", default_link: (latency_ms: (18446744073709551615, 18446744073709551615), loss: 0.0),"#,
    );
    let e = load_str(&bad, "f.ron").unwrap_err();
    assert!(e.message.contains("longer than an hour"), "{e}");
}
