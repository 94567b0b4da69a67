//! The write-behind queue: order, the bound, refused writes, flush, and the
//! dialplan's read-your-writes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::{
    CallRecord, Disposition, LiveConfig, LiveOptions, MonitorStart, Store, StoredLocation, Write,
    WriteBehind,
};

const FLUSH: Duration = Duration::from_secs(5);

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
}

fn cdr(id: &str) -> CallRecord {
    CallRecord {
        id: id.into(),
        call_id: format!("call-{id}"),
        caller: "110".into(),
        callee: "111".into(),
        caller_channel: "SIP/110-00000001".into(),
        callee_channel: Some("SIP/111-00000002".into()),
        start_at: at(0),
        answer_at: Some(at(1000)),
        end_at: at(5000),
        disposition: Disposition::Answered,
        hangup_by: "caller".into(),
        duration_ms: 5000,
        billsec_ms: 4000,
        taken_over: None,
    }
}

fn start(id: &str) -> MonitorStart {
    MonitorStart {
        id: id.into(),
        supervisor: "200".into(),
        supervisor_channel: "SIP/200-00000003".into(),
        target_endpoint: "110".into(),
        target_channel: "SIP/110-00000001".into(),
        peer_channel: None,
        mode: "listen".into(),
        started_at: at(100),
    }
}

fn binding(aor: &str, contact: &str, cseq: u32) -> StoredLocation {
    StoredLocation {
        aor: aor.into(),
        contact_uri: contact.into(),
        source_transport: "udp".into(),
        source_addr: "192.0.2.10:5060".parse().unwrap(),
        expires_at: at(3_600_000),
        call_id: "reg-1".into(),
        cseq,
        user_agent: None,
    }
}

fn kv(family: &str, key: &str, value: &str) -> Write {
    Write::KvPut {
        family: family.into(),
        key: key.into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn writes_land_in_order() {
    common::each_backend(|s: Store| async move {
        let w = WriteBehind::start(s.clone(), 1000);
        let writes = vec![
            Write::MonitorStarted(start("m1")),
            Write::MonitorModeChanged {
                id: "m1".into(),
                mode: "whisper".into(),
                at: at(200),
            },
            Write::MonitorModeChanged {
                id: "m1".into(),
                mode: "barge".into(),
                at: at(200),
            },
            Write::MonitorEnded {
                id: "m1".into(),
                reason: "hangup".into(),
                at: at(300),
            },
            Write::MonitorDenied {
                attempt: start("m2"),
                reason: "no grant".into(),
            },
            Write::Cdr(cdr("c1")),
            Write::Locations {
                aor: "110".into(),
                bindings: vec![binding("110", "sip:a@x", 1), binding("110", "sip:b@x", 1)],
            },
            Write::Locations {
                aor: "110".into(),
                bindings: vec![binding("110", "sip:b@x", 2), binding("110", "sip:c@x", 2)],
            },
            Write::LocationDeleted {
                aor: "110".into(),
                contact_uri: "sip:c@x".into(),
            },
            kv("spygrp", "110", "a"),
            kv("spygrp", "110", "b"),
            Write::KvDel {
                family: "spygrp".into(),
                key: "110".into(),
            },
            kv("spygrp", "111", "c"),
            kv("spygrp/sub", "1", "d"),
            kv("other", "1", "e"),
            Write::KvDelTree {
                family: "spygrp".into(),
            },
            kv("spygrp", "112", "f"),
        ];
        let n = writes.len() as u64;
        for x in writes {
            assert!(w.submit(x));
        }
        assert!(w.flush(FLUSH).await);
        let h = w.health();
        assert_eq!(
            (h.written, h.failed, h.dropped, h.queued),
            (n, 0, 0, 0),
            "{h:?}"
        );
        assert!(!h.degraded);

        let m = s.list_monitors(10).await.unwrap();
        let m1 = m.iter().find(|r| r.id == "m1").unwrap();
        let kinds: Vec<(&str, &str)> = m1
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("start", "listen"),
                ("mode", "whisper"),
                ("mode", "barge"),
                ("end", "hangup")
            ]
        );
        assert!(m.iter().any(|r| r.id == "m2" && r.outcome == "denied"));
        assert_eq!(s.list_cdr(10).await.unwrap(), [cdr("c1")]);
        let locs = s.load_locations().await.unwrap();
        assert_eq!(locs, [binding("110", "sip:b@x", 2)]);
        assert_eq!(
            s.db_show(None).await.unwrap(),
            [
                ("other".into(), "1".into(), "e".into()),
                ("spygrp".into(), "112".into(), "f".into())
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn past_the_bound_writes_are_dropped_and_counted() {
    common::each_backend(|s: Store| async move {
        let w = WriteBehind::start(s.clone(), 10);
        // The writer task cannot run during this loop (one thread, no await).
        let accepted = (0..25)
            .filter(|i| w.submit(kv("f", &i.to_string(), "v")))
            .count();
        assert_eq!(accepted, 10);
        let h = w.health();
        assert_eq!((h.queued, h.dropped), (10, 15), "{h:?}");
        assert!(w.flush(FLUSH).await);
        assert_eq!(w.health().written, 10);
        assert_eq!(s.db_show(Some("f")).await.unwrap().len(), 10);
        // Room again once drained.
        assert!(w.submit(kv("f", "again", "v")));
        assert!(w.flush(FLUSH).await);
    })
    .await;
}

#[tokio::test]
async fn refused_writes_are_dropped_without_blocking_the_queue() {
    for db in common::backends().await {
        let s = Store::open(&db.url).await.unwrap();
        let w = WriteBehind::start(s.clone(), 100);
        let mut bad_start = start("m9");
        bad_start.mode = "spy".into();
        let mut refused = vec![
            Write::MonitorModeChanged {
                id: "unknown".into(),
                mode: "barge".into(),
                at: at(1),
            },
            Write::Cdr(cdr("")),
            Write::MonitorStarted(bad_start),
            Write::Locations {
                aor: "110".into(),
                bindings: vec![binding("111", "sip:a@x", 1)],
            },
        ];
        if db.name == "postgres" {
            // Refused by the server itself: PostgreSQL text cannot hold NUL.
            refused.push(kv("f", "nul", "a\0b"));
        }
        let n_refused = refused.len() as u64;
        for x in refused {
            assert!(w.submit(x));
        }
        assert!(w.submit(Write::Cdr(cdr("good"))));
        assert!(w.flush(FLUSH).await);
        let h = w.health();
        assert_eq!((h.failed, h.written), (n_refused, 1), "[{}] {h:?}", db.name);
        assert!(!h.degraded, "a refused write is no outage");
        assert_eq!(s.list_cdr(5).await.unwrap(), [cdr("good")]);
        s.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_write_already_there_counts_as_written() {
    common::each_backend(|s: Store| async move {
        // As after a retry whose first attempt committed but lost its answer.
        s.insert_cdr(&cdr("c1")).await.unwrap();
        s.monitor_started(&start("m1")).await.unwrap();
        let w = WriteBehind::start(s.clone(), 100);
        assert!(w.submit(Write::Cdr(cdr("c1"))));
        assert!(w.submit(Write::MonitorStarted(start("m1"))));
        assert!(w.submit(Write::MonitorEnded {
            id: "m1".into(),
            reason: "done".into(),
            at: at(500)
        }));
        assert!(w.submit(Write::MonitorEnded {
            id: "m1".into(),
            reason: "again".into(),
            at: at(600)
        }));
        assert!(w.flush(FLUSH).await);
        let h = w.health();
        assert_eq!((h.written, h.failed), (4, 0), "{h:?}");
        assert_eq!(s.list_cdr(5).await.unwrap().len(), 1);
        let m = s.list_monitors(5).await.unwrap();
        assert_eq!(m[0].events.len(), 2, "{:?}", m[0].events);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_reads_its_own_writes_with_no_window() {
    for db in common::backends().await {
        let s = Store::open(&db.url).await.unwrap();
        s.db_put("spygrp", "110", "old").await.unwrap();
        s.db_put("spygrp/sub", "1", "x").await.unwrap();
        let live = LiveConfig::start_with(s.clone(), LiveOptions::default())
            .await
            .unwrap();
        assert_eq!(live.db_get("spygrp", "110").as_deref(), Some("old"));

        live.db_put("spygrp", "110", "new").unwrap();
        assert_eq!(
            live.db_get("spygrp", "110").as_deref(),
            Some("new"),
            "at once"
        );
        // From now on no reader may see "old" again, through flush and reloads.
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (live, stop) = (live.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(live.db_get("spygrp", "110").as_deref(), Some("new"));
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        };
        assert!(live.flush(FLUSH).await);
        let gone = common::eventually(Duration::from_secs(2), || live.pending_kv() == 0).await;
        assert!(
            gone,
            "[{}] the overlay entry goes once a reload shows the write",
            db.name
        );
        assert_eq!(live.snapshot().db_get("spygrp", "110"), Some("new"));
        live.refresh_now().await.unwrap();
        stop.store(true, Ordering::Relaxed);
        let reads = reader.await.unwrap();
        assert!(reads > 0);

        assert!(live.db_del("spygrp", "110").unwrap());
        assert!(!live.db_del("spygrp", "nope").unwrap());
        assert_eq!(live.db_get("spygrp", "110"), None);
        live.db_put("spygrp", "111", "y").unwrap();
        assert_eq!(
            live.db_family("spygrp"),
            [("111".to_string(), "y".to_string())]
        );
        assert_eq!(live.db_deltree("spygrp").unwrap(), 2, "111 and sub/1");
        assert_eq!(live.db_get("spygrp/sub", "1"), None);
        assert!(live.db_family("spygrp").is_empty());
        assert!(live.db_put("bad\nfamily", "k", "v").is_err());
        assert!(live.flush(FLUSH).await);
        live.refresh_now().await.unwrap();
        assert_eq!(live.pending_kv(), 0);
        assert!(s.db_show(Some("spygrp")).await.unwrap().is_empty());
        assert!(live.snapshot().db_family("spygrp").is_empty());
        s.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_refuses_db_put() {
    let db = common::temp_db();
    let s = Store::open(&db.url).await.unwrap();
    let opts = LiveOptions {
        queue_bound: 2,
        ..LiveOptions::default()
    };
    let live = LiveConfig::start_with(s.clone(), opts).await.unwrap();
    live.db_put("f", "1", "a").unwrap();
    live.db_put("f", "2", "b").unwrap();
    let err = live.db_put("f", "3", "c").unwrap_err();
    assert!(
        matches!(err, store::StoreError::QueueFull { bound: 2 }),
        "{err}"
    );
    assert_eq!(
        live.db_get("f", "3"),
        None,
        "a dropped write is not shown either"
    );
    assert_eq!(live.health().dropped, 1);
    assert!(live.flush(FLUSH).await);
}
