//! `spygroup group|supervisor|token|rule|monitoring`, run as a real process against
//! a temp SQLite database.

mod common;

use common::{assert_code, stderr, stdout, Env};

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn setup(env: &Env) {
    for n in ["110", "111", "200"] {
        assert_code(&env.run(&["ext", "add", n, "--secret", "x"]), 0);
    }
}

#[test]
fn groups_and_members() {
    let env = Env::new();
    setup(&env);
    assert_code(
        &env.run(&["group", "add", "sales", "--description", "Sales floor"]),
        0,
    );
    assert_code(&env.run(&["group", "add", "vip"]), 0);
    let o = env.run(&["group", "add", "vip"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    assert_code(&env.run(&["group", "member", "add", "sales", "111"]), 0);
    assert_code(&env.run(&["group", "member", "add", "sales", "110"]), 0);
    let o = env.run(&["group", "member", "add", "sales", "999"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("999") && stderr(&o).contains("does not exist"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["group", "member", "add", "nope", "110"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("spy group \"nope\""), "{}", stderr(&o));

    let o = env.run(&["group", "list"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["GROUP", "MEMBERS", "NOTICE", "DESCRIPTION"]
    );
    assert_eq!(
        words(lines[1]),
        ["sales", "110,111", "none", "Sales", "floor"]
    );
    assert_eq!(words(lines[2]), ["vip", "none"]);
    // A notice policy, shown by the list.
    let o = env.run(&["group", "notice", "sales", "both", "--every", "15"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("both every 15s"), "{}", stdout(&o));
    let out = stdout(&env.run(&["group", "list"]));
    assert!(out.contains("both-every-15s"), "{out}");
    assert_code(&env.run(&["group", "notice", "sales", "loud"]), 2);
    assert_code(
        &env.run(&["group", "notice", "sales", "agent", "--every", "9999"]),
        2,
    );
    assert_code(&env.run(&["group", "notice", "nope", "agent"]), 1);

    assert_code(&env.run(&["group", "member", "del", "sales", "111"]), 0);
    assert_code(&env.run(&["group", "member", "del", "sales", "111"]), 1);
    assert_code(&env.run(&["group", "del", "vip"]), 0);
    let o = env.run(&["group", "del", "vip"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("does not exist"));
    let out = stdout(&env.run(&["group", "list"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("sales  110 "), "{out}");
}

#[test]
fn supervisors() {
    let env = Env::new();
    setup(&env);
    assert_code(&env.run(&["group", "add", "sales"]), 0);
    assert_code(&env.run(&["group", "add", "vip"]), 0);
    let o = env.run(&[
        "supervisor",
        "grant",
        "200",
        "--groups",
        "vip,sales",
        "--modes",
        "whisper,listen",
    ]);
    assert_code(&o, 0);
    assert_code(
        &env.run(&[
            "supervisor",
            "grant",
            "110",
            "--groups",
            "all",
            "--modes",
            "listen,whisper,barge",
        ]),
        0,
    );
    let out = stdout(&env.run(&["supervisor", "list"]));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(words(lines[0]), ["SUPERVISOR", "GROUPS", "QUEUES", "MODES"]);
    assert_eq!(words(lines[1]), ["110", "all", "-", "listen,whisper,barge"]);
    assert_eq!(words(lines[2]), ["200", "sales,vip", "-", "listen,whisper"]);

    // A grant by queue alone: no groups needed; an unknown queue changes nothing.
    assert_code(&env.run(&["queue", "add", "support"]), 0);
    let o = env.run(&[
        "supervisor",
        "grant",
        "110",
        "--queues",
        "support,ghost",
        "--modes",
        "listen",
    ]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("ghost"), "{}", stderr(&o));
    let o = env.run(&["supervisor", "grant", "110", "--modes", "listen"]);
    assert_code(&o, 2);
    let o = env.run(&[
        "supervisor",
        "grant",
        "110",
        "--queues",
        "support",
        "--modes",
        "listen",
    ]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("queues support"), "{}", stdout(&o));
    let queued = stdout(&env.run(&["supervisor", "list"]));
    let lines: Vec<_> = queued.lines().collect();
    assert_eq!(words(lines[1]), ["110", "(none)", "support", "listen"]);
    assert_code(
        &env.run(&[
            "supervisor",
            "grant",
            "110",
            "--groups",
            "all",
            "--modes",
            "listen,whisper,barge",
        ]),
        0,
    );

    // Unknown group or extension: nothing changes, exit 1.
    let o = env.run(&[
        "supervisor",
        "grant",
        "200",
        "--groups",
        "ghost",
        "--modes",
        "barge",
    ]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("ghost"), "{}", stderr(&o));
    assert_code(
        &env.run(&[
            "supervisor",
            "grant",
            "999",
            "--groups",
            "all",
            "--modes",
            "listen",
        ]),
        1,
    );
    assert_eq!(stdout(&env.run(&["supervisor", "list"])), out);

    assert_code(&env.run(&["supervisor", "revoke", "110"]), 0);
    let o = env.run(&["supervisor", "revoke", "110"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("not a supervisor"), "{}", stderr(&o));
    assert_eq!(stdout(&env.run(&["supervisor", "list"])).lines().count(), 2);
}

#[test]
fn tokens() {
    let env = Env::new();
    setup(&env);
    assert_code(
        &env.run(&[
            "supervisor",
            "grant",
            "200",
            "--groups",
            "all",
            "--modes",
            "listen",
        ]),
        0,
    );
    let o = env.run(&[
        "token",
        "create",
        "--scope",
        "supervise",
        "--supervisor",
        "200",
    ]);
    assert_code(&o, 0);
    let token = stdout(&o);
    let token = token.strip_suffix('\n').unwrap();
    assert!(
        !token.contains(char::is_whitespace),
        "token alone: {token:?}"
    );
    assert!(token.starts_with("sgt_"), "{token}");
    let id = &token[4..20];
    assert!(stderr(&o).contains(id), "{}", stderr(&o));

    let o = env.run(&["token", "create", "--scope", "read"]);
    assert_code(&o, 0);
    let out = stdout(&env.run(&["token", "list"]));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        words(lines[0]),
        ["ID", "SCOPE", "SUPERVISOR", "CREATED", "LAST", "USED"]
    );
    let row = lines.iter().find(|l| l.starts_with(id)).unwrap();
    assert!(row.contains("supervise") && row.contains("200") && row.ends_with("never"));
    assert!(!out.contains(&token[21..]), "secret never listed");

    // A supervise token needs a supervisor that is one.
    let o = env.run(&[
        "token",
        "create",
        "--scope",
        "supervise",
        "--supervisor",
        "110",
    ]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("supervisor \"110\" does not exist"),
        "{}",
        stderr(&o)
    );

    assert_code(&env.run(&["token", "revoke", id]), 0);
    let o = env.run(&["token", "revoke", id]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("does not exist"));
    assert_eq!(stdout(&env.run(&["token", "list"])).lines().count(), 2);
}

#[test]
fn rules_and_policy() {
    let env = Env::new();
    setup(&env);
    assert_code(
        &env.run(&["trunk", "add", "carrier", "--host", "192.0.2.1"]),
        0,
    );
    assert_code(&env.run(&["group", "add", "spygrp"]), 0);
    assert_code(&env.run(&["group", "add", "vip"]), 0);
    let o = env.run(&["rule", "add", "--range", "110-160", "--groups", "spygrp"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "rule 1 added");
    let o = env.run(&[
        "rule",
        "add",
        "--range",
        "200",
        "--groups",
        "vip,spygrp",
        "--trunk",
        "carrier",
    ]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "rule 2 added");
    assert_code(
        &env.run(&["rule", "add", "--range", "1-2", "--groups", "ghost"]),
        1,
    );
    assert_code(
        &env.run(&[
            "rule", "add", "--range", "1-2", "--groups", "vip", "--trunk", "ghost",
        ]),
        1,
    );

    let out = stdout(&env.run(&["rule", "list"]));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(words(lines[0]), ["ID", "TRUNK", "RANGE", "GROUPS"]);
    assert_eq!(words(lines[1]), ["1", "any", "110-160", "spygrp"]);
    assert_eq!(words(lines[2]), ["2", "carrier", "200-200", "spygrp,vip"]);

    assert_code(&env.run(&["rule", "del", "1"]), 0);
    assert_code(&env.run(&["rule", "del", "1"]), 1);

    let o = env.run(&["monitoring"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).starts_with("monitoring is restricted"),
        "{}",
        stdout(&o)
    );
    let o = env.run(&["monitoring", "open"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("Asterisk"), "{}", stdout(&o));
    assert!(stdout(&env.run(&["monitoring"])).starts_with("monitoring is open"));
    assert_code(&env.run(&["monitoring", "restricted"]), 0);
    assert!(stdout(&env.run(&["monitoring"])).starts_with("monitoring is restricted"));
    let help = stdout(&env.cmd().args(["monitoring", "--help"]).output().unwrap());
    assert!(
        help.contains("anyone who can dial ChanSpy may spy"),
        "{help}"
    );
}

#[test]
fn bad_arguments_exit_2_and_change_nothing() {
    let env = Env::new();
    setup(&env);
    assert_code(&env.run(&["group", "add", "sales"]), 0);
    for (args, says) in [
        (&["group", "add", "a:b"][..], "group name"),
        (
            &["group", "add", "x", "--description", "a\u{7}b"],
            "description",
        ),
        (
            &["group", "member", "add", "sales", "1 10"],
            "extension number",
        ),
        (
            &["supervisor", "grant", "200", "--groups", "sales"],
            "--modes",
        ),
        (
            &[
                "supervisor",
                "grant",
                "200",
                "--groups",
                "sales",
                "--modes",
                "spy",
            ],
            "listen, whisper, barge or takeover",
        ),
        (
            &[
                "supervisor",
                "grant",
                "200",
                "--groups",
                "",
                "--modes",
                "listen",
            ],
            "groups",
        ),
        (
            &[
                "supervisor",
                "grant",
                "200",
                "--groups",
                "a b",
                "--modes",
                "listen",
            ],
            "group name",
        ),
        (
            &["supervisor", "grant", "200", "--modes", "listen"],
            "--groups",
        ),
        (
            &["token", "create", "--scope", "root"],
            "read, supervise or admin",
        ),
        (&["token", "create", "--scope", "supervise"], "--supervisor"),
        (
            &["token", "create", "--scope", "admin", "--supervisor", "200"],
            "--supervisor",
        ),
        (
            &["rule", "add", "--range", "160-110", "--groups", "sales"],
            "below low",
        ),
        (
            &["rule", "add", "--range", "1x-2", "--groups", "sales"],
            "digits",
        ),
        (&["rule", "add", "--range", "1-2", "--groups", "all"], "all"),
        (&["rule", "add", "--range", "1-2"], "--groups"),
        (
            &[
                "rule", "add", "--range", "1-2", "--groups", "sales", "--trunk", "a/b",
            ],
            "trunk name",
        ),
        (&["rule", "del", "zero"], "zero"),
        (&["rule", "del", "0"], "0"),
        (&["monitoring", "sometimes"], "sometimes"),
    ] {
        let o = env.run(args);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(stdout(&env.run(&["group", "list"])).lines().count(), 2);
    assert_eq!(stdout(&env.run(&["supervisor", "list"])).lines().count(), 1);
    assert_eq!(stdout(&env.run(&["token", "list"])).lines().count(), 1);
    assert_eq!(stdout(&env.run(&["rule", "list"])).lines().count(), 1);
}

#[test]
fn deleting_an_extension_cleans_up() {
    let env = Env::new();
    setup(&env);
    assert_code(&env.run(&["group", "add", "sales"]), 0);
    assert_code(&env.run(&["group", "member", "add", "sales", "200"]), 0);
    assert_code(
        &env.run(&[
            "supervisor",
            "grant",
            "200",
            "--groups",
            "sales",
            "--modes",
            "listen",
        ]),
        0,
    );
    assert_code(
        &env.run(&[
            "token",
            "create",
            "--scope",
            "supervise",
            "--supervisor",
            "200",
        ]),
        0,
    );
    assert_code(&env.run(&["ext", "del", "200"]), 0);
    assert_eq!(stdout(&env.run(&["supervisor", "list"])).lines().count(), 1);
    assert_eq!(stdout(&env.run(&["token", "list"])).lines().count(), 1);
    let out = stdout(&env.run(&["group", "list"]));
    assert_eq!(
        words(out.lines().nth(1).unwrap()),
        ["sales", "none"],
        "{out}"
    );
}
