//! The snapshot answers exactly as the Store's own queries on the same data:
//! trunk precedence, inbound rules, groups, grants, settings, AstDB.

mod common;

use common::{ext, trunk};

use std::net::IpAddr;

use sqlx::Connection;
use store::{Grant, GroupScope, LiveConfig, SpyMode, Store};

#[tokio::test]
async fn snapshot_lookups_match_the_store_queries() {
    for db in common::backends().await {
        let s = Store::open(&db.url).await.unwrap();
        for n in ["110", "111", "112", "200", "201"] {
            s.add_extension(&ext(n)).await.unwrap();
        }
        for (name, host, port) in [
            ("b-any", "192.0.2.1", None),
            ("a-any", "192.0.2.1", None),
            ("d-5060", "192.0.2.1", Some(5060)),
            ("c-5060", "192.0.2.1", Some(5060)),
            ("e-5070", "192.0.2.1", Some(5070)),
            ("mapped", "::ffff:198.51.100.7", Some(5060)),
            ("v6", "2001:db8::1", None),
        ] {
            s.add_trunk(&trunk(name, host, port)).await.unwrap();
        }
        // Rows written by hand: non-canonical text, and one that is no address.
        for (name, host) in [("upper", "2001:DB8::2"), ("junk", "not-an-ip")] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO trunks (name, host, port, context, created_at) \
                 VALUES ('{name}', '{host}', NULL, 'from-trunk', 0)"
            )))
            .execute(&mut sqlx::AnyConnection::connect(&db.url).await.unwrap())
            .await
            .unwrap();
        }
        for g in ["sales", "vip", "Zed", "gone", "a.b"] {
            s.group_add(g, None).await.unwrap();
        }
        for (g, e) in [
            ("sales", "110"),
            ("vip", "110"),
            ("Zed", "110"),
            ("a.b", "110"),
            ("vip", "111"),
        ] {
            s.group_member_add(g, e).await.unwrap();
        }
        s.rule_add(Some("a-any"), "110", "160", &["sales".into()])
            .await
            .unwrap();
        s.rule_add(None, "100", "199", &["vip".into(), "Zed".into()])
            .await
            .unwrap();
        s.rule_add(Some("v6"), "0", "99999", &["a.b".into()])
            .await
            .unwrap();
        s.rule_add(None, "500", "600", &["gone".into()])
            .await
            .unwrap();
        s.group_del("gone").await.unwrap();
        s.supervisor_grant(&Grant {
            extension: "200".into(),
            groups: GroupScope::Groups(vec!["vip".into(), "sales".into()]),
            modes: vec![SpyMode::Whisper, SpyMode::Listen],
            queues: vec![],
        })
        .await
        .unwrap();
        s.supervisor_grant(&Grant {
            extension: "201".into(),
            groups: GroupScope::All,
            modes: SpyMode::ALL.to_vec(),
            queues: vec![],
        })
        .await
        .unwrap();
        s.db_put("spygrp", "110", "spyon").await.unwrap();
        s.db_put("spygrp", "111", "x").await.unwrap();
        s.db_put("spygrp/sub", "1", "y").await.unwrap();

        let live = LiveConfig::start(s.clone()).await.unwrap();
        let snap = live.snapshot();
        let ips: Vec<IpAddr> = [
            "192.0.2.1",
            "::ffff:192.0.2.1",
            "198.51.100.7",
            "::ffff:198.51.100.7",
            "2001:db8::1",
            "2001:db8::2",
            "10.0.0.1",
        ]
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
        for ip in &ips {
            for port in [5060, 5070, 5080, 1] {
                let want = s.find_trunk_by_source(*ip, port).await.unwrap();
                assert_eq!(
                    snap.trunk_by_source(*ip, port),
                    want.as_ref(),
                    "[{}] {ip}:{port}",
                    db.name
                );
            }
        }
        assert_eq!(snap.trunk_by_source(ips[1], 5060).unwrap().name, "c-5060");
        assert_eq!(snap.trunk_by_source(ips[0], 1).unwrap().name, "a-any");
        for trunk in ["a-any", "v6", "other"] {
            for dialled in [
                "110",
                "0125",
                "160",
                "161",
                "99",
                "100",
                "199",
                "200",
                "550",
                "1x",
                "",
                "00000000000000000000150",
            ] {
                assert_eq!(
                    snap.inbound_groups(trunk, dialled),
                    s.inbound_groups(trunk, dialled).await.unwrap(),
                    "[{}] {trunk} -> {dialled:?}",
                    db.name
                );
            }
        }
        for e in ["110", "111", "112", "999"] {
            assert_eq!(
                snap.groups_of(e),
                s.groups_of(e).await.unwrap(),
                "[{}] {e}",
                db.name
            );
            assert_eq!(
                snap.extension(e).cloned(),
                s.get_extension(e).await.unwrap()
            );
        }
        for e in ["200", "201", "110"] {
            assert_eq!(
                snap.supervisor(e).cloned(),
                s.supervisor_get(e).await.unwrap()
            );
        }
        assert_eq!(snap.monitoring_open(), s.monitoring_open().await.unwrap());
        assert_eq!(snap.rules(), s.rule_list().await.unwrap());
        for (f, k) in [
            ("spygrp", "110"),
            ("spygrp", "112"),
            ("spygrp/sub", "1"),
            ("x", "y"),
        ] {
            assert_eq!(
                snap.db_get(f, k).map(str::to_string),
                s.db_get(f, k).await.unwrap()
            );
        }
        let family: Vec<(String, String)> = s
            .db_show(Some("spygrp"))
            .await
            .unwrap()
            .into_iter()
            .filter(|(f, _, _)| f == "spygrp")
            .map(|(_, k, v)| (k, v))
            .collect();
        assert_eq!(snap.db_family("spygrp"), family);
        assert_eq!(snap.realm(), s.realm());
        s.close().await;
        db.cleanup().await;
    }
}
