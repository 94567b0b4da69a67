//! `spygroup audit list`, run as a real process over sessions written through the store.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{assert_code, stdout, Env};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// 2025-01-01 00:00:00 UTC.
const NEW_YEAR: u64 = 1_735_689_600_000;

fn session(id: &str, supervisor: &str, mode: &str, started: u64) -> store::MonitorStart {
    store::MonitorStart {
        id: id.into(),
        supervisor: supervisor.into(),
        supervisor_channel: format!("SIP/{supervisor}-00000003"),
        target_endpoint: "110".into(),
        target_channel: "SIP/110-00000001".into(),
        peer_channel: Some("SIP/carrier-00000002".into()),
        mode: mode.into(),
        started_at: at(started),
    }
}

#[test]
fn audit_list_on_empty_database() {
    let env = Env::with_database();
    let o = env.run(&["audit", "list"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_code(&env.run(&["audit", "list", "--limit", "0"]), 2);
}

#[test]
fn audit_list_shows_sessions_newest_first_with_mode_changes() {
    let env = Env::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store::Store::open(&env.db).await.unwrap();
        // A full session: listen, then whisper, then barge, ended after 1:05.
        s.monitor_started(&session("a", "200", "listen", NEW_YEAR + 100_000))
            .await
            .unwrap();
        s.monitor_mode_changed("a", "whisper", at(NEW_YEAR + 110_000))
            .await
            .unwrap();
        s.monitor_mode_changed("a", "barge", at(NEW_YEAR + 120_000))
            .await
            .unwrap();
        s.monitor_ended("a", "supervisor hung up", at(NEW_YEAR + 165_000))
            .await
            .unwrap();
        // Older: a refused attempt.
        let mut denied = session("b", "300", "barge", NEW_YEAR + 10_000);
        denied.peer_channel = None;
        s.monitor_denied(&denied, "300 is not in a spy group of 110")
            .await
            .unwrap();
        // Newest: still running.
        s.monitor_started(&session("c", "201", "listen", NEW_YEAR + 200_000))
            .await
            .unwrap();
        s.close().await;
    });

    let o = env.run(&["audit", "list"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "2025-01-01 00:03:20 UTC  201 (SIP/201-00000003) -> SIP/110-00000001 \
             [SIP/carrier-00000002]  listen  (no end recorded)",
            "2025-01-01 00:01:40 UTC  200 (SIP/200-00000003) -> SIP/110-00000001 \
             [SIP/carrier-00000002]  listen  1:05  END 2025-01-01 00:02:45 UTC  \
             supervisor hung up",
            "  2025-01-01 00:01:50 UTC  mode whisper",
            "  2025-01-01 00:02:00 UTC  mode barge",
            "2025-01-01 00:00:10 UTC  300 (SIP/300-00000003) -> SIP/110-00000001  barge  \
             DENIED  300 is not in a spy group of 110",
        ],
        "{out}"
    );

    // The limit counts sessions, not lines: the one shown keeps its mode changes.
    let o = env.run(&["audit", "list", "--limit", "2"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("mode barge"), "{out}");
    assert!(!out.contains("DENIED"), "{out}");
}
