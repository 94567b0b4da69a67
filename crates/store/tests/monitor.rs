//! The monitoring audit trail, against a temp SQLite file.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;
use store::{MonitorEvent, MonitorStart, Store, StoreError};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn start(id: &str, started: u64) -> MonitorStart {
    MonitorStart {
        id: id.into(),
        supervisor: "200".into(),
        supervisor_channel: "SIP/200-00000003".into(),
        target_endpoint: "110".into(),
        target_channel: "SIP/110-00000001".into(),
        peer_channel: Some("SIP/carrier-00000002".into()),
        mode: "listen".into(),
        started_at: at(started),
    }
}

fn event(ms: u64, kind: &str, detail: &str) -> MonitorEvent {
    MonitorEvent {
        at: at(ms),
        kind: kind.into(),
        detail: detail.into(),
    }
}

#[tokio::test]
async fn start_mode_end_round_trip() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        s.monitor_started(&start("m1", 1_000_000)).await.unwrap();

        let running = s.list_monitors(10).await.unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].ended_at, None, "still running");
        assert_eq!(running[0].end_reason, None);
        assert_eq!(running[0].outcome, "allowed");
        assert_eq!(running[0].events, [event(1_000_000, "start", "listen")]);

        s.monitor_mode_changed("m1", "whisper", at(1_010_000))
            .await
            .unwrap();
        // Same millisecond: order of writing decides.
        s.monitor_mode_changed("m1", "barge", at(1_010_000))
            .await
            .unwrap();
        s.monitor_ended("m1", "supervisor hung up", at(1_065_000))
            .await
            .unwrap();

        let all = s.list_monitors(10).await.unwrap();
        assert_eq!(all.len(), 1);
        let r = &all[0];
        assert_eq!(r.id, "m1");
        assert_eq!(r.supervisor, "200");
        assert_eq!(r.supervisor_channel, "SIP/200-00000003");
        assert_eq!(r.target_endpoint, "110");
        assert_eq!(r.target_channel, "SIP/110-00000001");
        assert_eq!(r.peer_channel.as_deref(), Some("SIP/carrier-00000002"));
        assert_eq!(r.mode, "listen", "the first mode is kept");
        assert_eq!(r.started_at, at(1_000_000));
        assert_eq!(r.ended_at, Some(at(1_065_000)));
        assert_eq!(r.end_reason.as_deref(), Some("supervisor hung up"));
        assert_eq!(r.outcome, "allowed");
        assert_eq!(
            r.events,
            [
                event(1_000_000, "start", "listen"),
                event(1_010_000, "mode", "whisper"),
                event(1_010_000, "mode", "barge"),
                event(1_065_000, "end", "supervisor hung up"),
            ]
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn end_is_idempotent_and_closes_the_session() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let mut no_peer = start("m1", 1_000);
        no_peer.peer_channel = None;
        s.monitor_started(&no_peer).await.unwrap();
        s.monitor_ended("m1", "target hung up", at(2_000))
            .await
            .unwrap();
        // A second hangup path reporting later changes nothing.
        s.monitor_ended("m1", "shutdown", at(3_000)).await.unwrap();

        let r = &s.list_monitors(10).await.unwrap()[0];
        assert_eq!(r.peer_channel, None);
        assert_eq!(r.ended_at, Some(at(2_000)));
        assert_eq!(r.end_reason.as_deref(), Some("target hung up"));
        assert_eq!(
            r.events,
            [
                event(1_000, "start", "listen"),
                event(2_000, "end", "target hung up")
            ]
        );

        // No mode change after the end.
        let err = s
            .monitor_mode_changed("m1", "barge", at(4_000))
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains("already ended"), "{err}");
        assert_eq!(s.list_monitors(10).await.unwrap()[0].events.len(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn denied_attempts_are_recorded() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let mut attempt = start("d1", 5_000);
        attempt.mode = "barge".into();
        s.monitor_denied(&attempt, "200 is not in a spy group of 110")
            .await
            .unwrap();
        // Refused before any channel was chosen.
        let mut early = start("d2", 6_000);
        early.target_channel = String::new();
        early.peer_channel = None;
        s.monitor_denied(&early, "wrong PIN").await.unwrap();

        let all = s.list_monitors(10).await.unwrap();
        let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["d2", "d1"]);
        let r = &all[1];
        assert_eq!(r.outcome, "denied");
        assert_eq!(r.mode, "barge");
        assert_eq!(r.ended_at, Some(at(5_000)), "ended at once");
        assert_eq!(
            r.end_reason.as_deref(),
            Some("200 is not in a spy group of 110")
        );
        assert_eq!(
            r.events,
            [event(5_000, "denied", "200 is not in a spy group of 110")]
        );
        assert_eq!(all[0].target_channel, "");

        // A denied session is over: ending it again is a no-op, changing mode is refused.
        s.monitor_ended("d1", "late", at(9_000)).await.unwrap();
        assert!(s
            .monitor_mode_changed("d1", "listen", at(9_000))
            .await
            .is_err());
        assert_eq!(s.list_monitors(10).await.unwrap()[1].events.len(), 1);

        // An allowed session still needs its target channel.
        let err = s.monitor_started(&early).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn newest_first_with_limit() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        // Written out of order; two start in the same millisecond (id breaks the tie).
        for (id, ms) in [("b", 2_000), ("a", 1_000), ("d", 3_000), ("c", 3_000)] {
            s.monitor_started(&start(id, ms)).await.unwrap();
            s.monitor_mode_changed(id, "whisper", at(ms + 10))
                .await
                .unwrap();
        }
        let all = s.list_monitors(10).await.unwrap();
        let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["d", "c", "b", "a"]);
        assert!(all.iter().all(|r| r.events.len() == 2), "{all:?}");

        let two = s.list_monitors(2).await.unwrap();
        let ids: Vec<_> = two.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["d", "c"]);
        assert!(two.iter().all(|r| r.events.len() == 2), "{two:?}");
        assert!(s.list_monitors(0).await.unwrap().is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unknown_ids_and_bad_input() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let err = s
            .monitor_mode_changed("nope", "barge", at(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        let err = s.monitor_ended("nope", "x", at(1)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

        s.monitor_started(&start("m1", 1)).await.unwrap();
        let err = s.monitor_started(&start("m1", 2)).await.unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }), "{err}");
        let err = s.monitor_denied(&start("m1", 2), "x").await.unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }), "{err}");

        let bad = |f: fn(&mut MonitorStart)| {
            let mut m = start("bad", 1);
            f(&mut m);
            m
        };
        for m in [
            bad(|m| m.id.clear()),
            bad(|m| m.mode = "spy".into()),
            bad(|m| m.supervisor = "200\r\nforged".into()),
            bad(|m| m.target_channel = "x".repeat(129)),
            bad(|m| m.peer_channel = Some(String::new())),
            bad(|m| m.target_endpoint = "\u{1b}[31m".into()),
        ] {
            let err = s.monitor_started(&m).await.unwrap_err();
            assert!(err.is_invalid_input(), "{m:?}: {err}");
        }
        let err = s.monitor_denied(&start("d", 1), "").await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let err = s
            .monitor_ended("m1", "bad\nreason", at(2))
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let err = s.monitor_mode_changed("m1", "", at(2)).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");

        // Nothing of the above left a trace.
        let all = s.list_monitors(10).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].events, [event(1, "start", "listen")]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_writers_on_one_session_lose_nothing() {
    // Two pools, as when the CLI and the server, or two nodes, share the database.
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let a = Store::open(&db.url).await.unwrap();
        let b = Store::open(&db.url).await.unwrap();
        a.monitor_started(&start("m1", 1_000)).await.unwrap();
        let mut tasks = Vec::new();
        for (n, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
        {
            tasks.push(tokio::spawn(async move {
                for i in 0..10u64 {
                    let mode = if i % 2 == 0 { "whisper" } else { "barge" };
                    s.monitor_mode_changed("m1", mode, at(2_000 + n as u64 * 100 + i))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (x, y) = tokio::join!(
            a.monitor_ended("m1", "first", at(9_000)),
            b.monitor_ended("m1", "second", at(9_000))
        );
        x.unwrap();
        y.unwrap();
        let r = &a.list_monitors(1).await.unwrap()[0];
        assert_eq!(r.events.len(), 1 + 40 + 1, "{r:?}");
        assert_eq!(r.events.iter().filter(|e| e.kind == "end").count(), 1);
        assert!(
            r.events.windows(2).all(|w| w[0].at <= w[1].at),
            "time order"
        );
        db.cleanup().await;
    }
}

async fn applied_versions(url: &str) -> Vec<i64> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let v = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    v
}

#[tokio::test]
async fn reopen_keeps_the_trail_and_migrates_once() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        s.monitor_started(&start("m1", 1_000)).await.unwrap();
        s.close().await;

        for _ in 0..2 {
            let s = Store::open(&db.url).await.unwrap();
            let all = s.list_monitors(10).await.unwrap();
            assert_eq!(all.len(), 1);
            assert_eq!(
                all[0].ended_at, None,
                "a session cut by a restart stays open"
            );
            s.close().await;
        }
        let s = Store::open(&db.url).await.unwrap();
        s.monitor_ended("m1", "restart", at(5_000)).await.unwrap();
        s.close().await;
        assert_eq!(
            applied_versions(&db.url).await,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_version_1_database_gets_the_trail_on_open() {
    // Build the file as a binary from before migration 2 left it: schema version 1
    // only, with some data in it.
    let db = common::temp_db();
    sqlx::any::install_default_drivers();
    let url = format!("{}?mode=rwc", db.url);
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../migrations/0001_init.sql").into_sql_str(),
        false,
    )])
    .run(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO kv (family, key, value) VALUES ('spy', '110', 'sales')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(applied_versions(&db.url).await, [1]);

    let s = Store::open(&db.url).await.unwrap();
    assert_eq!(
        s.db_get("spy", "110").await.unwrap().as_deref(),
        Some("sales"),
        "old data kept"
    );
    s.monitor_started(&start("m1", 1_000)).await.unwrap();
    assert_eq!(s.list_monitors(10).await.unwrap().len(), 1);
    s.close().await;
    assert_eq!(
        applied_versions(&db.url).await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
}
