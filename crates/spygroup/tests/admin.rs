//! The admin CLI, run as a real process against a temp SQLite database.

mod common;

use common::{assert_code, stderr, stdout, Env};

#[test]
fn ext_add_list_set_del() {
    let env = Env::new();
    let o = env.run(&["ext", "add", "110", "--secret", "s3cret", "--name", "Alice"]);
    assert_code(&o, 0);
    assert_code(
        &env.run(&["ext", "add", "111", "--secret", "x", "--context", "agents"]),
        0,
    );

    let o = env.run(&["ext", "list"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NUMBER", "NAME", "CONTEXT", "SECURITY"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["110", "Alice", "from-internal"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["111", "agents"]
    );
    assert!(!out.contains("s3cret"));

    // Duplicate: runtime failure, exit 1, says which.
    let o = env.run(&["ext", "add", "110", "--secret", "y"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("110") && stderr(&o).contains("already exists"),
        "{}",
        stderr(&o)
    );

    assert_code(
        &env.run(&["ext", "set", "110", "--name", "Alice B", "--context", "sup"]),
        0,
    );
    let out = stdout(&env.run(&["ext", "list"]));
    assert!(
        out.lines()
            .any(|l| l.starts_with("110") && l.contains("Alice B") && l.ends_with("sup")),
        "{out}"
    );

    assert_code(&env.run(&["ext", "set", "999", "--name", "x"]), 1);
    // Nothing to change is a usage error.
    assert_code(&env.run(&["ext", "set", "110"]), 2);

    assert_code(&env.run(&["ext", "del", "110"]), 0);
    let o = env.run(&["ext", "del", "110"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("does not exist"));
    let out = stdout(&env.run(&["ext", "list"]));
    assert!(!out.contains("110"), "{out}");
}

#[test]
fn ext_transport_security_flags() {
    let env = Env::new();
    let add = ["ext", "add", "110", "--secret", "long-random-1"];
    assert_code(&env.run(&[&add[..], &["--require-tls"]].concat()), 0);
    assert_code(
        &env.run(&[
            "ext",
            "add",
            "111",
            "--secret",
            "long-random-2",
            "--require-tls",
            "--require-srtp",
        ]),
        0,
    );
    assert_code(
        &env.run(&["ext", "add", "112", "--secret", "long-random-3"]),
        0,
    );
    let security = |env: &Env| -> Vec<Vec<String>> {
        stdout(&env.run(&["ext", "list"]))
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    assert_eq!(
        security(&env),
        [
            vec!["110", "from-internal", "tls"],
            vec!["111", "from-internal", "tls,srtp"],
            vec!["112", "from-internal"],
        ]
    );

    assert_code(
        &env.run(&[
            "ext",
            "set",
            "110",
            "--require-tls",
            "false",
            "--require-srtp",
            "true",
        ]),
        0,
    );
    // Either flag alone is something to change; the other is kept.
    assert_code(
        &env.run(&["ext", "set", "111", "--require-srtp", "false"]),
        0,
    );
    assert_code(&env.run(&["ext", "set", "112", "--require-tls", "true"]), 0);
    assert_eq!(
        security(&env),
        [
            vec!["110", "from-internal", "srtp"],
            vec!["111", "from-internal", "tls"],
            vec!["112", "from-internal", "tls"],
        ]
    );

    // `ext set` takes a value (true or false), `ext add` none.
    assert_code(&env.run(&["ext", "set", "110", "--require-tls"]), 2);
    assert_code(&env.run(&["ext", "set", "110", "--require-tls", "yes"]), 2);
    assert_code(
        &env.run(&[&add[..], &["--require-tls", "true"]].concat()),
        2,
    );
}

#[test]
fn secret_never_reaches_the_database_files() {
    let env = Env::new();
    let secret = "NeedleSecret-31337";
    assert_code(&env.run(&["ext", "add", "110", "--secret", secret]), 0);
    assert_code(
        &env.run(&["ext", "set", "110", "--secret", "Other-Needle-42"]),
        0,
    );
    let mut files = 0;
    for entry in std::fs::read_dir(env.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for needle in [secret, "Other-Needle-42"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "secret found on disk"
            );
        }
    }
    assert!(files >= 1);
}

#[test]
fn bad_arguments_exit_2() {
    let env = Env::new();
    for args in [
        &["ext", "add", "1 10", "--secret", "x"][..],
        &["ext", "add", "110"],
        &["ext", "add", "110", "--secret", ""],
        &["ext", "add", "110", "--secret", "x", "--context", "bad ctx"],
        &["trunk", "add", "t1", "--host", "carrier.example"],
        &["trunk", "add", "t1", "--host", "192.0.2.1:70000"],
        &["cdr", "list", "--limit", "0"],
        &["cdr", "list", "--limit", "many"],
        &["nonsense"],
    ] {
        let o = env.run(args);
        assert_code(&o, 2);
        assert!(!stderr(&o).is_empty(), "{args:?} printed no reason");
    }
    // Nothing was created by the rejected commands, not even the database.
    assert!(
        !env.db_path().exists(),
        "a rejected command created the database"
    );
}

#[test]
fn unreachable_database_exits_1_with_the_path() {
    let env = Env::new();
    let o = env
        .cmd()
        .args([
            "ext",
            "add",
            "110",
            "--secret",
            "x",
            "--db",
            "sqlite:///no/such/dir/x.db",
        ])
        .output()
        .unwrap();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("/no/such/dir/x.db") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn db_put_get_del_show() {
    let env = Env::new();
    assert_code(&env.run(&["db", "put", "spy", "110", "group-a"]), 0);
    assert_code(&env.run(&["db", "put", "spy", "111", "group b"]), 0);
    assert_code(&env.run(&["db", "put", "other", "k", "v"]), 0);

    let o = env.run(&["db", "get", "spy", "111"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "group b\n", "value alone");

    let o = env.run(&["db", "get", "spy", "999"]);
    assert_code(&o, 1);
    assert_eq!(stdout(&o), "");

    let o = env.run(&["db", "show", "spy"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let entries: Vec<_> = out.lines().filter(|l| l.starts_with('/')).collect();
    assert_eq!(entries.len(), 2, "{out}");
    assert!(
        entries[0].starts_with("/spy/110 ") && entries[0].ends_with(": group-a"),
        "{out}"
    );
    assert!(
        entries[1].starts_with("/spy/111 ") && entries[1].ends_with(": group b"),
        "{out}"
    );
    assert!(out.contains("2 results found."), "{out}");

    let out = stdout(&env.run(&["db", "show"]));
    assert_eq!(
        out.lines().filter(|l| l.starts_with('/')).count(),
        3,
        "{out}"
    );

    assert_code(&env.run(&["db", "del", "spy", "110"]), 0);
    assert_code(&env.run(&["db", "del", "spy", "110"]), 1);
    assert_code(&env.run(&["db", "get", "spy", "110"]), 1);
}

#[test]
fn trunk_add_list_del() {
    let env = Env::new();
    assert_code(
        &env.run(&["trunk", "add", "carrier", "--host", "192.0.2.1:5080"]),
        0,
    );
    assert_code(
        &env.run(&[
            "trunk",
            "add",
            "v6",
            "--host",
            "2001:db8::5",
            "--context",
            "in-v6",
        ]),
        0,
    );
    assert_code(
        &env.run(&["trunk", "add", "carrier", "--host", "192.0.2.9"]),
        1,
    );

    let out = stdout(&env.run(&["trunk", "list"]));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "HOST", "PORT", "CONTEXT"]);
    assert_eq!(rows[1], ["carrier", "192.0.2.1", "5080", "from-trunk"]);
    assert_eq!(rows[2], ["v6", "2001:db8::5", "any", "in-v6"]);

    assert_code(&env.run(&["trunk", "del", "carrier"]), 0);
    assert_code(&env.run(&["trunk", "del", "carrier"]), 1);
    let out = stdout(&env.run(&["trunk", "list"]));
    assert!(!out.contains("carrier"), "{out}");
}

#[test]
fn cdr_list_on_empty_database() {
    let env = Env::with_database();
    let o = env.run(&["cdr", "list", "--limit", "5"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "");
}

#[test]
fn db_url_comes_from_the_config_file() {
    let env = Env::new();
    let db = env.path().join("from-config.db");
    std::fs::write(
        env.path().join("spygroup.toml"),
        format!("db = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let o = env
        .cmd()
        .args(["db", "put", "f", "k", "v"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert!(db.exists(), "the config file's db was used");
}

#[test]
fn bad_config_file_names_file_and_line() {
    let env = Env::new();
    let cfg = env.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "http = \"127.0.0.1:8088\"\n# note\nrtp_port = \"1-2\"\n",
    )
    .unwrap();
    let o = env
        .cmd()
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(err.contains(&format!("{}:3:", cfg.display())), "{err}");
    assert!(err.contains("rtp_port"), "{err}");

    std::fs::write(&cfg, "rtp_ports = \"10001-20000\"\n").unwrap();
    let o = env
        .cmd()
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains(&format!("{}:1:", cfg.display())),
        "{}",
        stderr(&o)
    );

    let o = env
        .cmd()
        .args(["serve", "--config", "/no/such/spygroup.toml"])
        .output()
        .unwrap();
    assert_code(&o, 2);
    assert!(stderr(&o).contains("/no/such/spygroup.toml"));
}

#[test]
fn cdr_list_shows_calls_newest_first() {
    use std::time::{Duration, UNIX_EPOCH};
    let env = Env::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store::Store::open(&env.db).await.unwrap();
        for (id, start, disp) in [
            ("a", 1_735_689_599_000u64, store::Disposition::NoAnswer),
            ("b", 1_735_689_700_000, store::Disposition::Answered),
        ] {
            let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
            s.insert_cdr(&store::CallRecord {
                id: id.into(),
                call_id: id.into(),
                caller: "110".into(),
                callee: "111".into(),
                caller_channel: "SIP/110-00000001".into(),
                callee_channel: None,
                start_at: at(start),
                answer_at: None,
                end_at: at(start + 65_000),
                disposition: disp,
                hangup_by: "caller".into(),
                duration_ms: 65_000,
                billsec_ms: 0,
                taken_over: None,
            })
            .await
            .unwrap();
        }
        s.close().await;
    });
    let o = env.run(&["cdr", "list"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("2025-01-01 00:01:40 UTC  110 -> 111  ANSWERED  1:05"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("2024-12-31 23:59:59 UTC  110 -> 111  NO ANSWER  1:05"),
        "{out}"
    );
    let o = env.run(&["cdr", "list", "--limit", "1"]);
    assert_eq!(stdout(&o).lines().count(), 1);
}
