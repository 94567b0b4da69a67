//! `spygroup queue …` and `spygroup agent …` as a real process against a temp
//! SQLite database: settings, static members, agents logging in and out (a
//! static member cannot log out), pauses, and the queue log they leave.

mod common;

use common::{assert_code, stderr, stdout, Env};

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn queues_members_and_agents() {
    let env = Env::new();
    for n in ["110", "111"] {
        assert_code(&env.run(&["ext", "add", n, "--secret", "x"]), 0);
    }
    let o = env.run(&[
        "queue",
        "add",
        "400",
        "--strategy",
        "linear",
        "--timeout",
        "20",
    ]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("queue 400 added (linear)"),
        "{}",
        stdout(&o)
    );
    assert_code(&env.run(&["queue", "add", "400"]), 1);
    assert_code(&env.run(&["queue", "add", "4 0"]), 2);
    assert_code(
        &env.run(&["queue", "add", "401", "--strategy", "loudest"]),
        2,
    );
    let o = env.run(&["queue", "add", "401", "--timeout", "0"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("invalid timeout \"0\""),
        "{}",
        stderr(&o)
    );
    assert_code(&env.run(&["queue", "set", "400", "--wrapuptime", "5"]), 0);
    assert_code(&env.run(&["queue", "set", "499", "--wrapuptime", "5"]), 1);

    assert_code(&env.run(&["queue", "member", "add", "400", "110"]), 0);
    assert_code(&env.run(&["queue", "member", "add", "400", "999"]), 1);
    assert_code(
        &env.run(&["agent", "login", "111", "400", "--penalty", "1"]),
        0,
    );
    let out = stdout(&env.run(&["queue", "list"]));
    let row = out.lines().nth(1).unwrap_or_default();
    assert_eq!(
        words(row),
        ["400", "linear", "20", "5", "110", "111,1*"],
        "{out}"
    );

    // A static member cannot log out; an agent who logged in can.
    let o = env.run(&["agent", "logout", "110", "400"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("static member"), "{}", stderr(&o));
    let o = env.run(&["agent", "logout", "110"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("logged-in agent"), "{}", stderr(&o));

    let o = env.run(&["agent", "pause", "111", "--reason", "lunch"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("111 paused in 400"), "{}", stdout(&o));
    assert_code(&env.run(&["agent", "pause", "110", "--queue", "499"]), 1);
    let out = stdout(&env.run(&["agent", "list"]));
    assert!(out.contains("400 (paused: lunch)"), "{out}");
    assert_code(&env.run(&["agent", "unpause", "111"]), 0);
    let o = env.run(&["agent", "logout", "111"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("111 logged out of 400"),
        "{}",
        stdout(&o)
    );
    assert_code(&env.run(&["queue", "member", "del", "400", "110"]), 0);
    assert_code(&env.run(&["queue", "member", "del", "400", "110"]), 1);

    // Every member change is a line of the queue log: stats count the pause.
    let out = stdout(&env.run(&["queue", "stats", "400"]));
    let agent = out
        .lines()
        .find(|l| l.starts_with("SIP/111"))
        .unwrap_or_default();
    assert_eq!(words(agent).last(), Some(&"1"), "one pause: {out}");
    assert_code(&env.run(&["queue", "del", "400"]), 0);
    assert_code(&env.run(&["queue", "del", "400"]), 1);
}
