//! Admin commands on a SQLite database file that does not exist: the commands that
//! add configuration create it (as `spygroup serve` does); every other command says
//! where it looked and what to do, exits 1, and creates nothing.

mod common;

use std::path::Path;

use common::{assert_code, stderr, stdout, Env};

/// Every command that must refuse a missing database (reads, changes, deletes, and
/// links between stored things, which could only fail on an empty database).
const REFUSING: &[&[&str]] = &[
    &["ext", "list"],
    &["ext", "set", "101", "--name", "x"],
    &["ext", "del", "101"],
    &["trunk", "list"],
    &["trunk", "del", "carrier"],
    &["db", "get", "spygroup", "pin_779"],
    &["db", "del", "spygroup", "pin_779"],
    &["db", "show"],
    &["db", "show", "spygroup"],
    &["cdr", "list"],
    &["audit", "list"],
    &["group", "list"],
    &["group", "del", "sales"],
    &["group", "member", "add", "sales", "110"],
    &["group", "member", "del", "sales", "110"],
    &[
        "supervisor",
        "grant",
        "201",
        "--groups",
        "all",
        "--modes",
        "listen",
    ],
    &["supervisor", "revoke", "201"],
    &["supervisor", "list"],
    &["rule", "add", "--range", "110-160", "--groups", "sales"],
    &["rule", "del", "1"],
    &["rule", "list"],
    &["monitoring"],
    &[
        "token",
        "create",
        "--scope",
        "supervise",
        "--supervisor",
        "201",
    ],
    &["token", "list"],
    &["token", "revoke", "abc"],
];

/// Commands that add configuration needing nothing else stored: they create it.
const CREATING: &[&[&str]] = &[
    &["ext", "add", "101", "--secret", "long-random-1"],
    &["trunk", "add", "carrier", "--host", "192.0.2.1"],
    &["db", "put", "spygroup", "monitor_low", "110"],
    &["group", "add", "sales"],
    &["token", "create", "--scope", "admin"],
    &["monitoring", "restricted"],
    &["monitoring", "open"],
];

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn reads_and_changes_refuse_a_missing_default_database_and_create_nothing() {
    // No --db and no spygroup.toml: the default sqlite://spygroup.db in the working
    // directory, as when a command is run from another folder than the server's.
    let env = Env::new();
    let expected = env.path().join("spygroup.db");
    for args in REFUSING {
        let o = env.cmd().args(*args).output().unwrap();
        assert_code(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains(&format!("no database at {}", expected.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains("the default"), "{args:?}: {err}");
        assert!(
            err.contains("spygroup serve") && err.contains("--db") && err.contains("spygroup.toml"),
            "{args:?} does not say what to do: {err}"
        );
        assert_eq!(stdout(&o), "", "{args:?}");
        assert!(
            entries(env.path()).is_empty(),
            "{args:?} created {:?}",
            entries(env.path())
        );
    }
}

#[test]
fn the_message_names_where_the_url_came_from() {
    let env = Env::new();
    let o = env.run(&["ext", "list"]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("no database at {}", env.db_path().display()))
            && err.contains("from --db"),
        "{err}"
    );

    let elsewhere = env.path().join("elsewhere.db");
    std::fs::write(
        env.path().join("spygroup.toml"),
        format!("db = \"sqlite://{}\"\n", elsewhere.display()),
    )
    .unwrap();
    let o = env.cmd().args(["cdr", "list"]).output().unwrap();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains(&elsewhere.display().to_string()) && err.contains("`db` in spygroup.toml"),
        "{err}"
    );
    assert_eq!(entries(env.path()), ["spygroup.toml"]);

    // A relative path is shown resolved against the working directory.
    let o = env
        .cmd()
        .args(["audit", "list", "--db", "sqlite://sub/x.db"])
        .output()
        .unwrap();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains(&env.path().join("sub/x.db").display().to_string()),
        "{err}"
    );
}

#[test]
fn adding_configuration_creates_the_database() {
    for args in CREATING {
        let env = Env::new();
        let o = env.cmd().args(*args).output().unwrap();
        assert_code(&o, 0);
        assert!(
            env.path().join("spygroup.db").exists(),
            "{args:?} did not create ./spygroup.db"
        );
        // Now that it exists, a read works (and shows an empty or new database).
        assert_code(&env.cmd().args(["ext", "list"]).output().unwrap(), 0);
    }
}

#[test]
fn the_readme_order_works_on_a_fresh_directory() {
    // "Registering a phone" adds extensions before the server ever ran; then the
    // reads of the later sections find them.
    let env = Env::new();
    for args in [
        &[
            "ext",
            "add",
            "101",
            "--secret",
            "long-random-1",
            "--name",
            "Alice",
        ][..],
        &["ext", "list"],
        &["cdr", "list"],
        &["group", "add", "sales"],
        &["group", "member", "add", "sales", "101"],
        &["supervisor", "list"],
    ] {
        assert_code(&env.cmd().args(args).output().unwrap(), 0);
    }
}

#[test]
fn in_memory_and_existing_databases_are_unaffected() {
    let env = Env::new();
    let o = env
        .cmd()
        .args(["ext", "list", "--db", "sqlite::memory:"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert!(entries(env.path()).is_empty(), "{:?}", entries(env.path()));

    let env = Env::with_database();
    assert_code(&env.run(&["ext", "list"]), 0);
    assert_code(&env.run(&["supervisor", "list"]), 0);
}
