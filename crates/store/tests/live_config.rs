//! The live snapshot: changes by any writer show within a second, and lookups
//! answer exactly as the Store's own queries.

mod common;

use common::{ext, trunk};

use std::time::Duration;

use sqlx::Connection;
use store::{Grant, GroupScope, LiveConfig, SpyMode, Store, Write};

const LIMIT: Duration = Duration::from_secs(1);

/// A statement and what the snapshot must show after it.
type Step = (
    &'static str,
    &'static str,
    fn(&store::ConfigSnapshot) -> bool,
);

#[tokio::test]
async fn changes_through_another_store_handle_show_within_a_second() {
    for db in common::backends().await {
        let name = db.name;
        let live = LiveConfig::start(Store::open(&db.url).await.unwrap())
            .await
            .unwrap();
        // A second handle, as the CLI (or another server) would open.
        let cli = Store::open(&db.url).await.unwrap();
        let mut worst = Duration::ZERO;

        cli.add_extension(&ext("110")).await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "new extension", |s| {
                s.extension("110").is_some()
            })
            .await,
        );
        cli.add_extension(&ext("200")).await.unwrap();
        cli.group_add("sales", None).await.unwrap();
        cli.group_member_add("sales", "110").await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "membership", |s| {
                s.groups_of("110") == ["sales"]
            })
            .await,
        );
        cli.set_monitoring_open(true).await.unwrap();
        worst = worst
            .max(common::shows(&live, LIMIT, "monitoring.open", |s| s.monitoring_open()).await);
        cli.db_put("spygrp", "110", "spyon").await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "kv", |s| {
                s.db_get("spygrp", "110") == Some("spyon")
            })
            .await,
        );
        let grant = Grant {
            extension: "200".into(),
            groups: GroupScope::Groups(vec!["sales".into()]),
            modes: vec![SpyMode::Listen],
            queues: vec![],
        };
        cli.supervisor_grant(&grant).await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "grant", |s| {
                s.supervisor("200") == Some(&grant)
            })
            .await,
        );
        cli.add_trunk(&trunk("carrier", "192.0.2.1", None))
            .await
            .unwrap();
        cli.rule_add(Some("carrier"), "110", "160", &["sales".into()])
            .await
            .unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "rule", |s| {
                s.inbound_groups("carrier", "150") == ["sales"]
            })
            .await,
        );
        // A delete that cascades through several tables.
        cli.delete_extension("110").await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "cascade", |s| {
                s.extension("110").is_none() && s.groups_of("110").is_empty()
            })
            .await,
        );
        cli.group_del("sales").await.unwrap();
        worst = worst.max(
            common::shows(&live, LIMIT, "group delete", |s| {
                s.supervisor("200")
                    .is_some_and(|g| g.groups == GroupScope::Groups(vec![]))
            })
            .await,
        );
        eprintln!("[{name}] another handle's change -> snapshot: at most {worst:?}");

        cli.close().await;
        live.store().close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn raw_sql_changes_show_within_a_second() {
    for db in common::backends().await {
        let name = db.name;
        let store = Store::open(&db.url).await.unwrap();
        store.add_extension(&ext("110")).await.unwrap();
        let live = LiveConfig::start(store.clone()).await.unwrap();
        // An integrator's own connection, outside spygroup's pool.
        let mut sql = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let mut worst = Duration::ZERO;
        let steps: [Step; 5] = [
            ("group", "INSERT INTO spy_groups (name, created_at) VALUES ('vip', 0)", |s| s.group("vip").is_some()),
            ("member", "INSERT INTO group_members (group_name, extension, created_at) VALUES ('vip', '110', 0)", |s| s.groups_of("110") == ["vip"]),
            ("setting", "INSERT INTO settings (key, value) VALUES ('monitoring.open', 'true')", |s| s.monitoring_open()),
            ("kv", "INSERT INTO kv (family, key, value) VALUES ('spygroup', 'monitor_low', '100')", |s| s.db_get("spygroup", "monitor_low") == Some("100")),
            ("delete", "DELETE FROM group_members WHERE extension = '110'", |s| s.groups_of("110").is_empty()),
        ];
        for (what, statement, pred) in steps {
            sqlx::raw_sql(statement).execute(&mut sql).await.unwrap();
            worst = worst.max(common::shows(&live, LIMIT, what, pred).await);
        }
        // A transaction of several statements shows whole.
        sqlx::raw_sql(
            "BEGIN; \
             INSERT INTO monitor_rules (id, trunk, low, high, created_at) VALUES (77, NULL, '100', '199', 0); \
             INSERT INTO monitor_rule_groups (rule_id, group_name) VALUES (77, 'vip'); \
             COMMIT",
        )
        .execute(&mut sql)
        .await
        .unwrap();
        let seen = common::shows(&live, LIMIT, "rule", |s| !s.rules().is_empty()).await;
        assert_eq!(
            live.snapshot().inbound_groups("any", "150"),
            ["vip"],
            "rule and its groups together"
        );
        worst = worst.max(seen);
        if name == "postgres" {
            sqlx::raw_sql("TRUNCATE kv")
                .execute(&mut sql)
                .await
                .unwrap();
            let t = common::shows(&live, LIMIT, "truncate", |s| {
                s.db_family("spygroup").is_empty()
            })
            .await;
            worst = worst.max(t);
        }
        eprintln!("[{name}] raw SQL change -> snapshot: at most {worst:?}");
        sql.close().await.unwrap();
        store.close().await;
        db.cleanup().await;
    }
}

/// The CLI's case: a change made by another process.
#[tokio::test]
async fn changes_by_another_process_show_within_a_second() {
    for db in common::backends().await {
        let live = LiveConfig::start(Store::open(&db.url).await.unwrap())
            .await
            .unwrap();
        let status = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SPYGROUP_CHILD_DB", &db.url)
            .status()
            .await
            .unwrap();
        assert!(status.success(), "child: {status}");
        let t = common::shows(&live, LIMIT, "child's write", |s| {
            s.db_get("child", "k") == Some("v")
        })
        .await;
        eprintln!(
            "[{}] other process's change -> snapshot: {t:?} after it exited",
            db.name
        );
        live.store().close().await;
        db.cleanup().await;
    }
}

/// Runs as the other process of the test above; does nothing on its own.
#[tokio::test]
async fn child_process_writer() {
    let Ok(url) = std::env::var("SPYGROUP_CHILD_DB") else {
        return;
    };
    let s = Store::open(&url).await.unwrap();
    s.db_put("child", "k", "v").await.unwrap();
    s.close().await;
}

/// Two servers on one database: each sees the other's writes.
#[tokio::test]
async fn two_live_configs_on_one_database() {
    for db in common::backends().await {
        let a = LiveConfig::start(Store::open(&db.url).await.unwrap())
            .await
            .unwrap();
        let b = LiveConfig::start(Store::open(&db.url).await.unwrap())
            .await
            .unwrap();
        a.store().add_extension(&ext("110")).await.unwrap();
        let ta = common::shows(&a, LIMIT, "a's own write", |s| s.extension("110").is_some()).await;
        let tb = common::shows(&b, LIMIT, "a's write on b", |s| {
            s.extension("110").is_some()
        })
        .await;
        // A write-behind write of b reaches a.
        assert!(b.submit(Write::KvPut {
            family: "f".into(),
            key: "k".into(),
            value: "from-b".into()
        }));
        assert!(b.flush(Duration::from_secs(5)).await);
        let tk = common::shows(&a, LIMIT, "b's queued write on a", |s| {
            s.db_get("f", "k") == Some("from-b")
        })
        .await;
        eprintln!(
            "[{}] server a -> a {ta:?}, a -> b {tb:?}, b's queue -> a {tk:?}",
            db.name
        );
        a.store().close().await;
        b.store().close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn refresh_now_reloads_and_versions_grow() {
    for db in common::backends().await {
        let s = Store::open(&db.url).await.unwrap();
        let live = LiveConfig::start(s.clone()).await.unwrap();
        let v1 = live.snapshot().version();
        s.add_extension(&ext("110")).await.unwrap();
        live.refresh_now().await.unwrap();
        let snap = live.snapshot();
        assert!(
            snap.extension("110").is_some(),
            "[{}] seen right after refresh_now",
            db.name
        );
        assert!(snap.version() > v1);
        live.refresh_now().await.unwrap();
        assert!(live.snapshot().version() > snap.version());
        assert!(!live.health().degraded);
        s.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn starting_again_and_concurrently_is_harmless() {
    for db in common::backends().await {
        let s = Store::open(&db.url).await.unwrap();
        let (a, b) = tokio::join!(LiveConfig::start(s.clone()), LiveConfig::start(s.clone()));
        let (a, b) = (a.unwrap(), b.unwrap());
        drop((a, b));
        let live = LiveConfig::start(s.clone()).await.unwrap();
        s.db_put("f", "k", "v").await.unwrap();
        common::shows(&live, LIMIT, "after restarts", |snap| {
            snap.db_get("f", "k").is_some()
        })
        .await;
        s.close().await;
        db.cleanup().await;
    }
}
