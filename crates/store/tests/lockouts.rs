//! Lockouts kept across restarts, on every backend.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::{LockoutRecord, Store, StoreError};

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

fn lock(id: &str, subject_id: &str, start: u64, until: u64) -> LockoutRecord {
    LockoutRecord {
        id: id.into(),
        subject_id: subject_id.into(),
        kind: "source".into(),
        key: "192.0.2.7".into(),
        subject: "source 192.0.2.7".into(),
        started_at: at(start),
        until: at(until),
        count: 1,
        reason: "5 wrong passwords within 60 s".into(),
        lifted_at: None,
        lifted_by: None,
    }
}

#[tokio::test]
async fn locks_are_kept_lifted_and_expire() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let store = Store::open(&db.url).await.unwrap();
        store
            .lockout_started(&lock("l1", "s1", 0, 300))
            .await
            .unwrap();
        store
            .lockout_started(&lock("l2", "s2", 10, 100))
            .await
            .unwrap();
        // A retried write is refused as existing (the write-behind queue takes that as done).
        assert!(matches!(
            store.lockout_started(&lock("l1", "s1", 0, 300)).await,
            Err(StoreError::Exists { .. })
        ));
        let active = store.active_lockouts(at(50)).await.unwrap();
        let ids: Vec<&str> = active.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["l1", "l2"]);
        assert_eq!(active[0], lock("l1", "s1", 0, 300));
        // l2 expired by 150; l1 is lifted at 200.
        assert_eq!(store.active_lockouts(at(150)).await.unwrap().len(), 1);
        assert_eq!(
            store.lockout_lifted("s1", at(200), "admin").await.unwrap(),
            1
        );
        assert_eq!(
            store.lockout_lifted("s1", at(201), "again").await.unwrap(),
            0
        );
        assert!(store.active_lockouts(at(200)).await.unwrap().is_empty());
        let history = store.lockout_history(10).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].lifted_by.as_deref(), Some("admin"));
        assert_eq!(history[1].lifted_at, Some(at(200)));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_records_are_refused() {
    for db in common::backends().await {
        let store = Store::open(&db.url).await.unwrap();
        let mut bad = lock("l1", "s1", 0, 300);
        bad.kind = "planet".into();
        assert!(matches!(
            store.lockout_started(&bad).await,
            Err(StoreError::Invalid { .. })
        ));
        let mut bad = lock("l1", "s1", 0, 300);
        bad.subject = "x\ny".into();
        assert!(store.lockout_started(&bad).await.is_err());
        assert!(store.lockout_history(10).await.unwrap().is_empty());
        db.cleanup().await;
    }
}
