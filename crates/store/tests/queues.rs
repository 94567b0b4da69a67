//! Queues, members and the queue log, on every backend: what the CLI and API
//! write, what the snapshot shows the switch, what the switch writes back.

mod common;

use std::time::Duration;

use model::{QueueEvent, QueueLogEntry, QueueSettings, Strategy};
use store::{Grant, GroupScope, LiveConfig, NewExtension, SpyMode, Store, StoreError, Write};

fn line(time_ms: i64, agent: &str, event: QueueEvent, data: &[&str]) -> QueueLogEntry {
    let mut d: [String; 5] = Default::default();
    for (i, v) in data.iter().enumerate() {
        d[i] = v.to_string();
    }
    QueueLogEntry {
        time_ms,
        call_id: format!("call-{time_ms}"),
        queue: "support".into(),
        agent: agent.into(),
        event,
        data: d,
    }
}

#[tokio::test]
async fn queues_members_and_the_log() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let store = Store::open(&db.url).await.unwrap();
        for n in ["101", "102"] {
            store
                .add_extension(&NewExtension {
                    number: n.into(),
                    secret: format!("Secret-{n}-long"),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let mut q = QueueSettings::new("support");
        q.strategy = Strategy::Leastrecent;
        q.wrapuptime = 10;
        store.queue_add(&q).await.unwrap();
        assert!(matches!(
            store.queue_add(&q).await,
            Err(StoreError::Exists { .. })
        ));
        assert!(store
            .queue_add(&QueueSettings::new("no spaces"))
            .await
            .is_err());
        assert_eq!(store.queue_get("support").await.unwrap(), q);
        q.servicelevel = 30;
        store.queue_set(&q).await.unwrap();
        assert_eq!(store.queue_get("support").await.unwrap().servicelevel, 30);
        assert!(matches!(
            store.queue_set(&QueueSettings::new("nosuch")).await,
            Err(StoreError::NotFound { .. })
        ));

        assert!(store
            .queue_member_add("support", "101", 0, false)
            .await
            .unwrap());
        assert!(store
            .queue_member_add("support", "102", 2, true)
            .await
            .unwrap());
        assert!(!store
            .queue_member_add("support", "102", 1, true)
            .await
            .unwrap());
        assert!(store
            .queue_member_add("support", "999", 0, false)
            .await
            .is_err());
        assert!(store
            .queue_member_add("nosuch", "101", 0, false)
            .await
            .is_err());
        assert_eq!(
            store
                .queue_member_pause(None, "101", true, "lunch")
                .await
                .unwrap(),
            1
        );

        // The switch sees it all in its snapshot.
        let live = LiveConfig::start(store.clone()).await.unwrap();
        let snap = live.snapshot();
        assert_eq!(snap.queue("support").unwrap().servicelevel, 30);
        let members = snap.queue_members("support");
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].extension, "101", "list order");
        assert!(members[0].paused && members[0].reason == "lunch");
        assert_eq!((members[1].penalty, members[1].dynamic), (1, true));
        assert_eq!(snap.queues_of("102"), ["support"]);

        // What the switch writes back.
        live.submit(Write::QueueMemberPause {
            queue: Some("support".into()),
            extension: "101".into(),
            paused: false,
            reason: String::new(),
        });
        live.submit(Write::QueueMemberRemove {
            queue: "support".into(),
            extension: "102".into(),
        });
        let log = [
            line(1_000, "NONE", QueueEvent::Enterqueue, &["", "0123", "1"]),
            line(2_000, "NONE", QueueEvent::Enterqueue, &["", "0124", "2"]),
            line(20_000, "SIP/101", QueueEvent::Connect, &["19", "x", "3"]),
            line(
                80_000,
                "SIP/101",
                QueueEvent::Completecaller,
                &["19", "60", "1"],
            ),
            line(90_000, "NONE", QueueEvent::Abandon, &["1", "2", "88"]),
        ];
        for l in &log {
            live.submit(Write::QueueLog(l.clone()));
        }
        // A retried write of the same line is the same line.
        live.submit(Write::QueueLog(log[0].clone()));
        assert!(live.flush(Duration::from_secs(5)).await);
        let members: Vec<_> = store.queue_list().await.unwrap().remove(0).1;
        assert_eq!(members.len(), 1);
        assert!(!members[0].paused && members[0].reason.is_empty());

        let got = store.queue_log(Some("support"), 0, 100_000).await.unwrap();
        assert_eq!(got, log);
        let (qs, agents) = store.queue_stats(None, 0, 100_000).await.unwrap();
        assert_eq!(qs.len(), 1);
        let s = &qs[0];
        assert_eq!((s.offered, s.answered, s.abandoned), (2, 1, 1));
        assert_eq!(s.service_level_pct, 50.0, "1 of 2 within 30 s");
        assert_eq!(s.avg_handle_s, 60.0);
        assert_eq!(agents[0].agent, "SIP/101");
        // A period that holds only the first two lines.
        let (qs, _) = store.queue_stats(Some("support"), 0, 10_000).await.unwrap();
        assert_eq!((qs[0].offered, qs[0].answered), (2, 0));

        // A supervisor granted the queue alone (no groups); an unknown queue is
        // refused and the grant before it stays.
        let grant = Grant {
            extension: "102".into(),
            groups: GroupScope::Groups(vec![]),
            modes: vec![SpyMode::Listen],
            queues: vec!["support".into(), "support".into()],
        };
        store.supervisor_grant(&grant).await.unwrap();
        let bad = Grant {
            queues: vec!["ghost".into()],
            ..grant.clone()
        };
        assert!(matches!(
            store.supervisor_grant(&bad).await,
            Err(StoreError::NotFound { what: "queue", .. })
        ));
        assert!(matches!(
            store
                .supervisor_grant(&Grant {
                    queues: vec![],
                    ..grant.clone()
                })
                .await,
            Err(StoreError::Invalid { .. })
        ));
        let got = store.supervisor_get("102").await.unwrap().unwrap();
        assert_eq!(got.queues, ["support"]);
        live.refresh_now().await.unwrap();
        let snap = live.snapshot();
        let g = snap.supervisor("102").unwrap();
        assert!(g.allows(SpyMode::Listen, &["vip"], Some("support")));
        assert!(!g.allows(SpyMode::Listen, &["vip"], None));

        assert!(store.queue_delete("support").await.unwrap());
        assert!(!store.queue_delete("support").await.unwrap());
        live.refresh_now().await.unwrap();
        assert!(live.snapshot().queue("support").is_none());
        let got = store.supervisor_get("102").await.unwrap().unwrap();
        assert!(got.queues.is_empty(), "a deleted queue leaves the grants");
    }
}
