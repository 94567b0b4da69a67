mod common;

use store::{NewExtension, Store, StoreError};

#[tokio::test]
async fn reopen_is_idempotent_and_keeps_data() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open_with_realm(&db.url, "pbx.example")
            .await
            .unwrap();
        s.db_put("fam", "k", "v").await.unwrap();
        s.close().await;

        for _ in 0..2 {
            let s = Store::open(&db.url).await.unwrap();
            assert_eq!(s.realm(), "pbx.example", "realm fixed at creation");
            assert_eq!(s.db_get("fam", "k").await.unwrap().as_deref(), Some("v"));
            s.close().await;
        }
        // Asking for the same realm again is fine; another one is refused.
        Store::open_with_realm(&db.url, "pbx.example")
            .await
            .unwrap();
        let err = Store::open_with_realm(&db.url, "other").await.unwrap_err();
        assert!(matches!(err, StoreError::RealmMismatch { .. }), "{err}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn realm_is_used_for_ha1() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open_with_realm(&db.url, "r1").await.unwrap();
        s.add_extension(&NewExtension {
            number: "110".into(),
            secret: "x".into(),
            name: None,
            context: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let e = s.get_extension("110").await.unwrap().unwrap();
        assert_eq!(e.ha1_md5, store::secrets::ha1_pair("110", "r1", "x").0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn uses_wal_journal() {
    let db = common::temp_db();
    let s = Store::open(&db.url).await.unwrap();
    s.db_put("a", "b", "c").await.unwrap();
    assert!(
        db.dir.path().join("test.db-wal").exists(),
        "WAL file expected while the pool is open"
    );
}

/// The file holds digest HA1s, token hashes and the audit: its owner only, and its
/// WAL as well.
#[cfg(unix)]
#[tokio::test]
async fn a_new_database_file_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = common::temp_db();
    let s = Store::open(&db.url).await.unwrap();
    s.db_put("a", "b", "c").await.unwrap();
    for name in ["test.db", "test.db-wal"] {
        let mode = std::fs::metadata(db.dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {:o}", mode & 0o777);
    }
}

#[tokio::test]
async fn commits_sync_at_checkpoints_not_each_write() {
    let db = common::temp_db();
    let s = Store::open(&db.url).await.unwrap();
    // 1 = NORMAL (2 would be FULL: an fsync for every call record).
    assert_eq!(
        store::testing::sqlite_pragma(&s, "synchronous").await,
        Some(1)
    );
}

#[tokio::test]
async fn open_errors_name_the_problem() {
    let err = Store::open("sqlite:///nonexistent-dir-xyz/sub/x.db")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::File { .. }), "{msg}");
    assert!(msg.contains("/nonexistent-dir-xyz/sub/x.db"), "{msg}");
    assert!(msg.contains("No such file or directory"), "{msg}");

    let err = Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");

    let err = Store::open_with_realm("sqlite::memory:", "bad\"realm")
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

#[tokio::test]
async fn relative_urls_resolve_against_the_working_directory() {
    // Not changing the process cwd (tests run in parallel): just check that the
    // absolute form with three slashes lands where it says.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abs.db");
    let s = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    s.close().await;
    assert!(path.exists());
}

#[tokio::test]
async fn two_pools_write_concurrently() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let a = Store::open(&db.url).await.unwrap();
        let b = Store::open(&db.url).await.unwrap();
        let write = |s: Store, tag: &'static str| async move {
            for i in 0..50 {
                s.db_put(tag, &format!("k{i:02}"), "v").await.unwrap();
                s.add_extension(&NewExtension {
                    number: format!("{tag}{i}"),
                    secret: "x".into(),
                    name: None,
                    context: None,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        };
        let (ra, rb) = tokio::join!(
            tokio::spawn(write(a.clone(), "a")),
            tokio::spawn(write(b.clone(), "b"))
        );
        ra.unwrap();
        rb.unwrap();
        assert_eq!(a.db_show(None).await.unwrap().len(), 100);
        assert_eq!(b.list_extensions().await.unwrap().len(), 100);
        db.cleanup().await;
    }
}
