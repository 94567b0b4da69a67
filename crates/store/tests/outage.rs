//! A PostgreSQL outage, played by cutting a TCP proxy between the store and the
//! server: calls keep their configuration, writes wait in order, nothing is lost.

mod common;

use common::ext;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use store::{CallRecord, Disposition, LiveConfig, MonitorStart, Store, Write, WriteBehind};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_an_outage_in_order() {
    // The store's own account of the outage, shown with --nocapture.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("store=debug")
        .with_ansi(false)
        .with_test_writer()
        .try_init();
    let Some(pg) = store::testing::scratch_postgres("spygroup_outage").await else {
        eprintln!("note: SPYGROUP_TEST_POSTGRES_URL is not set; the outage test needs PostgreSQL");
        return;
    };
    let direct = Store::open(&pg.url).await.unwrap();
    direct.add_extension(&ext("110")).await.unwrap();
    direct.group_add("sales", None).await.unwrap();
    direct.group_member_add("sales", "110").await.unwrap();

    let (upstream, _) = common::proxy::via(&pg.url, "127.0.0.1:1".parse().unwrap());
    let proxy = common::proxy::Proxy::start(upstream).await;
    let (_, proxied) = common::proxy::via(&pg.url, proxy.addr);
    let live = LiveConfig::start(Store::open(&proxied).await.unwrap())
        .await
        .unwrap();
    assert_eq!(live.snapshot().groups_of("110"), ["sales"]);

    proxy.cut();
    let cut_at = Instant::now();
    let session = MonitorStart {
        id: "m1".into(),
        supervisor: "200".into(),
        supervisor_channel: "SIP/200-00000003".into(),
        target_endpoint: "110".into(),
        target_channel: "SIP/110-00000001".into(),
        peer_channel: None,
        mode: "listen".into(),
        started_at: at(0),
    };
    let record = CallRecord {
        id: "c1".into(),
        call_id: "call-1".into(),
        caller: "110".into(),
        callee: "111".into(),
        caller_channel: "SIP/110-00000001".into(),
        callee_channel: None,
        start_at: at(0),
        answer_at: None,
        end_at: at(2000),
        disposition: Disposition::NoAnswer,
        hangup_by: "caller".into(),
        duration_ms: 2000,
        billsec_ms: 0,
        taken_over: None,
    };
    assert!(live.submit(Write::MonitorStarted(session)));
    assert!(live.submit(Write::MonitorModeChanged {
        id: "m1".into(),
        mode: "barge".into(),
        at: at(500)
    }));
    assert!(live.submit(Write::MonitorEnded {
        id: "m1".into(),
        reason: "hangup".into(),
        at: at(1000)
    }));
    assert!(live.submit(Write::Cdr(record.clone())));
    live.db_put("spygrp", "110", "spyon").unwrap();

    // Calls go on: the snapshot answers, DB() reads its write.
    assert_eq!(live.snapshot().groups_of("110"), ["sales"]);
    assert!(live.snapshot().extension("110").is_some());
    assert_eq!(live.db_get("spygrp", "110").as_deref(), Some("spyon"));
    let degraded = common::eventually(Duration::from_secs(6), || live.health().degraded).await;
    let h = live.health();
    assert!(
        degraded,
        "health must say degraded during the outage: {h:?}"
    );
    eprintln!("outage seen by health after {:?}: {h:?}", cut_at.elapsed());
    assert_eq!(h.queued, 5, "{h:?}");
    assert!(h.last_error.is_some());
    assert!(
        !live.flush(Duration::from_millis(300)).await,
        "nothing can be written yet"
    );

    // Someone changes the configuration while we cannot hear about it.
    direct.add_extension(&ext("111")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(live.snapshot().extension("111").is_none());

    proxy.restore();
    let restored_at = Instant::now();
    assert!(
        live.flush(Duration::from_secs(10)).await,
        "the queue drains after the outage"
    );
    let drained = restored_at.elapsed();
    common::shows(
        &live,
        Duration::from_secs(5),
        "change made during the outage",
        |s| s.extension("111").is_some(),
    )
    .await;
    let reloaded = restored_at.elapsed();
    let healthy = common::eventually(Duration::from_secs(5), || !live.health().degraded).await;
    let h = live.health();
    assert!(healthy, "health recovers: {h:?}");
    assert_eq!(
        (h.queued, h.written, h.failed, h.dropped),
        (0, 5, 0, 0),
        "{h:?}"
    );
    eprintln!(
        "after restore: queue drained in {drained:?}, missed change in the snapshot after \
         {reloaded:?}, {h:?}"
    );

    let m = direct.list_monitors(5).await.unwrap();
    let events: Vec<(&str, &str)> = m[0]
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        events,
        [("start", "listen"), ("mode", "barge"), ("end", "hangup")]
    );
    assert_eq!(direct.list_cdr(5).await.unwrap(), [record]);
    assert_eq!(
        direct.db_get("spygrp", "110").await.unwrap().as_deref(),
        Some("spyon")
    );
    assert!(common::eventually(Duration::from_secs(2), || live.pending_kv() == 0).await);
    assert_eq!(live.db_get("spygrp", "110").as_deref(), Some("spyon"));

    live.store().close().await;
    direct.close().await;
    drop(proxy);
    pg.drop_db().await;
}

/// SQLite's version of an outage: another process holds the write lock for longer
/// than the busy timeout (5 s). The write is retried, not dropped.
#[tokio::test]
async fn sqlite_busy_is_retried() {
    let db = common::temp_db();
    let s = Store::open(&db.url).await.unwrap();
    let w = WriteBehind::start(s.clone(), 100);
    let mut other = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    assert!(w.submit(Write::KvPut {
        family: "f".into(),
        key: "k".into(),
        value: "v".into(),
    }));
    let busy = common::eventually(Duration::from_secs(8), || w.health().degraded).await;
    let h = w.health();
    assert!(busy, "{h:?}");
    assert!(
        h.last_error.as_deref().unwrap_or("").contains("locked"),
        "{h:?}"
    );
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    assert!(w.flush(Duration::from_secs(5)).await);
    let h = w.health();
    assert_eq!((h.degraded, h.written, h.failed), (false, 1, 0), "{h:?}");
    assert_eq!(s.db_get("f", "k").await.unwrap().as_deref(), Some("v"));
}
