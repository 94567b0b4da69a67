mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::{CallRecord, Disposition, NewTrunk, Store, StoreError, StoredLocation};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[tokio::test]
async fn trunks_match_by_source() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        s.add_trunk(&NewTrunk {
            name: "any-port".into(),
            host: ip,
            port: None,
            context: None,
        })
        .await
        .unwrap();
        s.add_trunk(&NewTrunk {
            name: "exact".into(),
            host: ip,
            port: Some(5080),
            context: Some("carrier".into()),
        })
        .await
        .unwrap();

        let t = s.find_trunk_by_source(ip, 5080).await.unwrap().unwrap();
        assert_eq!(t.name, "exact", "exact port wins");
        assert_eq!(t.context, "carrier");
        let t = s.find_trunk_by_source(ip, 40000).await.unwrap().unwrap();
        assert_eq!(t.name, "any-port");
        assert_eq!(t.context, "from-trunk");
        // The same peer seen on a dual-stack socket.
        let mapped: IpAddr = "::ffff:192.0.2.10".parse().unwrap();
        assert!(s.find_trunk_by_source(mapped, 1).await.unwrap().is_some());
        let other: IpAddr = "192.0.2.11".parse().unwrap();
        assert!(s.find_trunk_by_source(other, 5080).await.unwrap().is_none());

        let names: Vec<_> = s
            .list_trunks()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["any-port", "exact"]);

        let dup = s
            .add_trunk(&NewTrunk {
                name: "exact".into(),
                host: ip,
                port: None,
                context: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(dup, StoreError::Exists { .. }));
        let bad = s
            .add_trunk(&NewTrunk {
                name: "bad name".into(),
                host: ip,
                port: None,
                context: None,
            })
            .await
            .unwrap_err();
        assert!(bad.is_invalid_input());

        assert!(s.delete_trunk("exact").await.unwrap());
        assert!(!s.delete_trunk("exact").await.unwrap());
        let t = s.find_trunk_by_source(ip, 5080).await.unwrap().unwrap();
        assert_eq!(t.name, "any-port");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn astdb_put_get_del_show() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        s.db_put("spy", "110", "1").await.unwrap();
        s.db_put("spy", "110", "2").await.unwrap();
        s.db_put("spy", "111", "x").await.unwrap();
        s.db_put("spy/sub", "k", "y").await.unwrap();
        s.db_put("spyx", "k", "z").await.unwrap();
        s.db_put("a_b", "k", "w").await.unwrap();

        assert_eq!(s.db_get("spy", "110").await.unwrap().as_deref(), Some("2"));
        assert_eq!(s.db_get("spy", "999").await.unwrap(), None);

        let fam: Vec<_> = s
            .db_show(Some("spy"))
            .await
            .unwrap()
            .into_iter()
            .map(|(f, k, v)| format!("/{f}/{k}={v}"))
            .collect();
        assert_eq!(fam, ["/spy/110=2", "/spy/111=x", "/spy/sub/k=y"]);
        // `_` is not a wildcard.
        assert_eq!(s.db_show(Some("a_")).await.unwrap().len(), 0);
        assert_eq!(s.db_show(None).await.unwrap().len(), 5);

        assert!(s.db_del("spy", "110").await.unwrap());
        assert!(!s.db_del("spy", "110").await.unwrap());
        assert!(s.db_put("", "k", "v").await.unwrap_err().is_invalid_input());
        db.cleanup().await;
    }
}

fn record(id: &str, start: u64, disposition: Disposition) -> CallRecord {
    CallRecord {
        id: id.into(),
        call_id: format!("{id}@test"),
        caller: "110".into(),
        callee: "111".into(),
        caller_channel: "SIP/110-00000001".into(),
        callee_channel: None,
        start_at: at(start),
        answer_at: None,
        end_at: at(start + 5_000),
        disposition,
        hangup_by: "caller".into(),
        duration_ms: 5_000,
        billsec_ms: 0,
        taken_over: None,
    }
}

#[tokio::test]
async fn cdr_newest_first() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let mut answered = record("b", 2_000_000, Disposition::Answered);
        answered.answer_at = Some(at(2_001_000));
        answered.callee_channel = Some("SIP/111-00000002".into());
        answered.billsec_ms = 4_000;
        s.insert_cdr(&record("a", 1_000_000, Disposition::NoAnswer))
            .await
            .unwrap();
        s.insert_cdr(&answered).await.unwrap();
        s.insert_cdr(&record(
            "c",
            3_000_000,
            Disposition::Other("CHANUNAVAIL".into()),
        ))
        .await
        .unwrap();

        let all = s.list_cdr(10).await.unwrap();
        let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        assert_eq!(all[1], answered, "round trip is exact");
        assert_eq!(all[0].disposition.as_str(), "CHANUNAVAIL");
        assert_eq!(all[2].disposition, Disposition::NoAnswer);
        assert_eq!(s.list_cdr(1).await.unwrap().len(), 1);

        let dup = s.insert_cdr(&answered).await.unwrap_err();
        assert!(matches!(dup, StoreError::Exists { .. }));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn locations_survive_reopen() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let s = Store::open(&db.url).await.unwrap();
        let loc = |contact: &str, expires: u64| StoredLocation {
            aor: "110".into(),
            contact_uri: contact.into(),
            source_transport: "udp".into(),
            source_addr: "127.0.0.1:5062".parse::<SocketAddr>().unwrap(),
            expires_at: at(expires),
            call_id: "reg-1".into(),
            cseq: 7,
            user_agent: Some("baresip".into()),
        };
        s.save_location(&loc("sip:110@127.0.0.1:5062", 10_000))
            .await
            .unwrap();
        // Refresh replaces, not duplicates.
        let mut refreshed = loc("sip:110@127.0.0.1:5062", 20_000);
        refreshed.cseq = 8;
        s.save_location(&refreshed).await.unwrap();
        s.save_location(&loc("sip:110@[::1]:5064", 5_000))
            .await
            .unwrap();
        s.close().await;

        let s = Store::open(&db.url).await.unwrap();
        let all = s.load_locations().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], refreshed);

        assert_eq!(s.purge_expired_locations(at(6_000)).await.unwrap(), 1);
        assert!(s
            .delete_location("110", "sip:110@127.0.0.1:5062")
            .await
            .unwrap());
        s.save_location(&loc("sip:a", 1)).await.unwrap();
        s.save_location(&loc("sip:b", 1)).await.unwrap();
        assert_eq!(s.delete_locations("110").await.unwrap(), 2);
        assert!(s.load_locations().await.unwrap().is_empty());
        db.cleanup().await;
    }
}
