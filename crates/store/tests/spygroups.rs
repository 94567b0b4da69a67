//! Spy groups, supervisors and grants, inbound monitoring rules, API tokens and
//! settings, on SQLite and (when `SPYGROUP_TEST_POSTGRES_URL` is set) PostgreSQL.

mod common;

use std::net::IpAddr;
use std::time::SystemTime;

use common::each_backend;
use store::{
    Grant, GroupNotice, GroupScope, NewExtension, NewTrunk, Notice, SpyGroup, SpyMode, Store,
    StoreError, TokenScope,
};

async fn ext(s: &Store, number: &str) {
    s.add_extension(&NewExtension {
        number: number.into(),
        secret: "x".into(),
        name: None,
        context: None,
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn trunk(s: &Store, name: &str) {
    s.add_trunk(&NewTrunk {
        name: name.into(),
        host: "192.0.2.1".parse::<IpAddr>().unwrap(),
        port: None,
        context: None,
    })
    .await
    .unwrap();
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn grant(ext: &str, groups: GroupScope, modes: &[SpyMode]) -> Grant {
    Grant {
        extension: ext.into(),
        groups,
        modes: modes.to_vec(),
        queues: vec![],
    }
}

/// Counts rows of `table` (a fixed name) through a raw query, to see what is stored.
async fn rows(url: &str, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

fn is_invalid(e: &StoreError, field: &str) -> bool {
    matches!(e, StoreError::Invalid { field: f, .. } if *f == field)
}

fn is_not_found(e: &StoreError, what: &str) -> bool {
    matches!(e, StoreError::NotFound { what: w, .. } if *w == what)
}

#[tokio::test]
async fn groups_and_members() {
    each_backend(|s| async move {
        ext(&s, "110").await;
        ext(&s, "111").await;
        s.group_add("sales", Some("Sales floor")).await.unwrap();
        s.group_add("vip", None).await.unwrap();
        s.group_add("empty", Some("")).await.unwrap();

        let e = s.group_add("sales", None).await.unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Exists {
                    what: "spy group",
                    ..
                }
            ),
            "{e}"
        );
        let e = s.group_add("a:b", None).await.unwrap_err();
        assert!(is_invalid(&e, "group name"), "{e}");
        let e = s.group_add("ok", Some("bad\ndesc")).await.unwrap_err();
        assert!(is_invalid(&e, "description"), "{e}");

        s.group_member_add("sales", "111").await.unwrap();
        s.group_member_add("sales", "110").await.unwrap();
        s.group_member_add("sales", "110").await.unwrap(); // twice: fine
        s.group_member_add("vip", "110").await.unwrap();
        let e = s.group_member_add("nope", "110").await.unwrap_err();
        assert!(is_not_found(&e, "spy group"), "{e}");
        let e = s.group_member_add("sales", "999").await.unwrap_err();
        assert!(is_not_found(&e, "extension"), "{e}");
        let e = s.group_member_add("sales", "1 1").await.unwrap_err();
        assert!(is_invalid(&e, "extension number"), "{e}");

        // A notice policy: stored, listed, and in the snapshot.
        let agent_15 = GroupNotice {
            notice: Notice::Agent,
            every_s: 15,
        };
        assert!(s.group_notice("sales", agent_15).await.unwrap());
        assert!(!s.group_notice("nope", agent_15).await.unwrap());
        let too_long = GroupNotice {
            every_s: 3601,
            ..agent_15
        };
        assert!(is_invalid(
            &s.group_notice("sales", too_long).await.unwrap_err(),
            "every"
        ));
        assert_eq!(
            s.group_list().await.unwrap(),
            [
                SpyGroup {
                    name: "empty".into(),
                    description: None,
                    members: vec![],
                    notice: GroupNotice::default(),
                },
                SpyGroup {
                    name: "sales".into(),
                    description: Some("Sales floor".into()),
                    members: strings(&["110", "111"]),
                    notice: GroupNotice {
                        notice: Notice::Agent,
                        every_s: 15,
                    },
                },
                SpyGroup {
                    name: "vip".into(),
                    description: None,
                    members: strings(&["110"]),
                    notice: GroupNotice::default(),
                },
            ]
        );
        assert_eq!(s.groups_of("110").await.unwrap(), ["sales", "vip"]);
        assert_eq!(s.groups_of("111").await.unwrap(), ["sales"]);
        assert!(s.groups_of("999").await.unwrap().is_empty());

        assert!(s.group_member_del("vip", "110").await.unwrap());
        assert!(!s.group_member_del("vip", "110").await.unwrap());
        assert_eq!(s.groups_of("110").await.unwrap(), ["sales"]);

        assert!(s.group_del("sales").await.unwrap());
        assert!(!s.group_del("sales").await.unwrap());
        assert!(s.groups_of("110").await.unwrap().is_empty());
        let names: Vec<_> = s
            .group_list()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, ["empty", "vip"]);
    })
    .await;
}

#[tokio::test]
async fn grants() {
    each_backend(|s| async move {
        ext(&s, "200").await;
        ext(&s, "201").await;
        s.group_add("sales", None).await.unwrap();
        s.group_add("vip", None).await.unwrap();

        assert_eq!(s.supervisor_get("200").await.unwrap(), None);
        s.supervisor_grant(&grant(
            "200",
            GroupScope::Groups(strings(&["vip", "sales", "vip"])),
            &[SpyMode::Whisper, SpyMode::Listen, SpyMode::Listen],
        ))
        .await
        .unwrap();
        let g = s.supervisor_get("200").await.unwrap().unwrap();
        assert_eq!(
            g,
            grant(
                "200",
                GroupScope::Groups(strings(&["sales", "vip"])),
                &[SpyMode::Listen, SpyMode::Whisper]
            ),
            "sorted, without duplicates"
        );
        assert!(g.allows(SpyMode::Whisper, &["vip"], None));
        assert!(!g.allows(SpyMode::Barge, &["vip"], None));

        // Upsert replaces the whole grant.
        s.supervisor_grant(&grant("200", GroupScope::All, &SpyMode::ALL))
            .await
            .unwrap();
        s.supervisor_grant(&grant(
            "201",
            GroupScope::Groups(strings(&["sales"])),
            &[SpyMode::Barge],
        ))
        .await
        .unwrap();
        assert_eq!(
            s.supervisor_list().await.unwrap(),
            [
                grant("200", GroupScope::All, &SpyMode::ALL),
                grant(
                    "201",
                    GroupScope::Groups(strings(&["sales"])),
                    &[SpyMode::Barge]
                ),
            ]
        );

        // Bad input changes nothing.
        let before = s.supervisor_list().await.unwrap();
        for (g, check) in [
            (
                grant("999", GroupScope::All, &[SpyMode::Listen]),
                "NotFound extension",
            ),
            (
                grant(
                    "201",
                    GroupScope::Groups(strings(&["sales", "nope"])),
                    &[SpyMode::Listen],
                ),
                "NotFound spy group",
            ),
            (grant("201", GroupScope::All, &[]), "Invalid modes"),
            (
                grant("201", GroupScope::Groups(vec![]), &[SpyMode::Listen]),
                "Invalid groups",
            ),
            (
                grant(
                    "201",
                    GroupScope::Groups(strings(&["bad name"])),
                    &[SpyMode::Listen],
                ),
                "Invalid group name",
            ),
            (
                grant("2 01", GroupScope::All, &[SpyMode::Listen]),
                "Invalid extension number",
            ),
        ] {
            let e = s.supervisor_grant(&g).await.unwrap_err();
            let ok = match check.split_once(' ').unwrap() {
                ("NotFound", what) => is_not_found(&e, what),
                (_, field) => is_invalid(&e, field),
            };
            assert!(ok, "{check}: got {e}");
        }
        assert_eq!(s.supervisor_list().await.unwrap(), before);

        // Deleting a group takes it out of grants.
        s.group_del("sales").await.unwrap();
        assert_eq!(
            s.supervisor_get("201").await.unwrap().unwrap().groups,
            GroupScope::Groups(vec![])
        );

        assert!(s.supervisor_revoke("201").await.unwrap());
        assert!(!s.supervisor_revoke("201").await.unwrap());
        assert_eq!(s.supervisor_get("201").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn deleting_an_extension_leaves_nothing_behind() {
    each_backend(|s| async move {
        ext(&s, "110").await;
        ext(&s, "200").await;
        s.group_add("sales", None).await.unwrap();
        s.group_member_add("sales", "110").await.unwrap();
        s.group_member_add("sales", "200").await.unwrap();
        s.supervisor_grant(&grant(
            "200",
            GroupScope::Groups(strings(&["sales"])),
            &[SpyMode::Listen],
        ))
        .await
        .unwrap();
        let (tok, secret) = s
            .token_create(TokenScope::Supervise, Some("200"))
            .await
            .unwrap();
        let (admin, _) = s.token_create(TokenScope::Admin, None).await.unwrap();

        assert!(s.delete_extension("200").await.unwrap());
        assert_eq!(s.supervisor_get("200").await.unwrap(), None);
        assert_eq!(s.groups_of("200").await.unwrap(), Vec::<String>::new());
        assert_eq!(s.token_verify(&secret).await.unwrap(), None);
        let ids: Vec<_> = s
            .token_list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, vec![admin.id], "{} gone", tok.id);
        assert_eq!(s.group_list().await.unwrap()[0].members, ["110"]);

        // Re-adding the number starts clean.
        ext(&s, "200").await;
        assert_eq!(s.supervisor_get("200").await.unwrap(), None);
        assert!(s.groups_of("200").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn no_dangling_rows_in_the_tables() {
    // Checked on the tables themselves, where other systems would read them.
    for backend in common::backends().await {
        let s = Store::open(&backend.url).await.unwrap();
        ext(&s, "110").await;
        ext(&s, "200").await;
        trunk(&s, "carrier").await;
        s.group_add("sales", None).await.unwrap();
        s.group_member_add("sales", "110").await.unwrap();
        s.supervisor_grant(&grant(
            "200",
            GroupScope::Groups(strings(&["sales"])),
            &[SpyMode::Listen],
        ))
        .await
        .unwrap();
        s.token_create(TokenScope::Supervise, Some("200"))
            .await
            .unwrap();
        s.rule_add(Some("carrier"), "100", "199", &strings(&["sales"]))
            .await
            .unwrap();
        s.rule_add(None, "100", "199", &strings(&["sales"]))
            .await
            .unwrap();

        s.delete_extension("110").await.unwrap();
        s.delete_extension("200").await.unwrap();
        s.delete_trunk("carrier").await.unwrap();
        for (table, left) in [
            ("group_members", 0),
            ("supervisors", 0),
            ("supervisor_groups", 0),
            ("api_tokens", 0),
            ("monitor_rules", 1),
            ("monitor_rule_groups", 1),
        ] {
            assert_eq!(
                rows(&backend.url, table).await,
                left,
                "[{}] {table}",
                backend.name
            );
        }
        s.group_del("sales").await.unwrap();
        assert_eq!(rows(&backend.url, "monitor_rule_groups").await, 0);
        assert_eq!(
            rows(&backend.url, "monitor_rules").await,
            1,
            "a rule without groups stays"
        );
        s.close().await;
        backend.cleanup().await;
    }
}

#[tokio::test]
async fn foreign_keys_cascade_for_other_writers() {
    // Another system deleting an extension with plain SQL leaves no dangling rows.
    for backend in common::backends().await {
        let s = Store::open(&backend.url).await.unwrap();
        ext(&s, "200").await;
        s.group_add("sales", None).await.unwrap();
        s.group_member_add("sales", "200").await.unwrap();
        s.supervisor_grant(&grant(
            "200",
            GroupScope::Groups(strings(&["sales"])),
            &[SpyMode::Listen],
        ))
        .await
        .unwrap();
        s.token_create(TokenScope::Supervise, Some("200"))
            .await
            .unwrap();
        s.close().await;

        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&backend.url).await.unwrap();
        sqlx::query("DELETE FROM extensions WHERE number = '200'")
            .execute(&pool)
            .await
            .unwrap();
        let bad = sqlx::query(
            "INSERT INTO group_members (group_name, extension, created_at) VALUES ('sales', 'ghost', 0)",
        )
        .execute(&pool)
        .await;
        assert!(bad.is_err(), "[{}] foreign key not enforced", backend.name);
        pool.close().await;
        for table in [
            "group_members",
            "supervisors",
            "supervisor_groups",
            "api_tokens",
        ] {
            assert_eq!(
                rows(&backend.url, table).await,
                0,
                "[{}] {table}",
                backend.name
            );
        }
        backend.cleanup().await;
    }
}

#[tokio::test]
async fn inbound_rules() {
    each_backend(|s| async move {
        trunk(&s, "carrier").await;
        trunk(&s, "other").await;
        for g in ["spygrp", "vip", "night"] {
            s.group_add(g, None).await.unwrap();
        }
        let r1 = s
            .rule_add(None, "110", "160", &strings(&["spygrp"]))
            .await
            .unwrap();
        let r2 = s
            .rule_add(Some("carrier"), "150", "199", &strings(&["vip", "spygrp"]))
            .await
            .unwrap();
        let r3 = s
            .rule_add(Some("other"), "99", "100", &strings(&["night"]))
            .await
            .unwrap();
        assert!(r1 < r2 && r2 < r3, "{r1} {r2} {r3}");

        let rules = s.rule_list().await.unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[1].id, r2);
        assert_eq!(rules[1].trunk.as_deref(), Some("carrier"));
        assert_eq!(
            (rules[1].low.as_str(), rules[1].high.as_str()),
            ("150", "199")
        );
        assert_eq!(rules[1].groups, ["spygrp", "vip"]);
        assert_eq!(rules[0].trunk, None);

        assert_eq!(
            s.inbound_groups("carrier", "110").await.unwrap(),
            ["spygrp"]
        );
        assert_eq!(
            s.inbound_groups("carrier", "155").await.unwrap(),
            ["spygrp", "vip"],
            "union without duplicates"
        );
        assert_eq!(s.inbound_groups("other", "155").await.unwrap(), ["spygrp"]);
        assert_eq!(
            s.inbound_groups("carrier", "170").await.unwrap(),
            ["spygrp", "vip"]
        );
        assert!(s.inbound_groups("other", "170").await.unwrap().is_empty());
        assert!(s.inbound_groups("carrier", "200").await.unwrap().is_empty());
        assert!(s.inbound_groups("carrier", "109").await.unwrap().is_empty());
        assert_eq!(
            s.inbound_groups("other", "100").await.unwrap(),
            ["night"],
            "numeric: 99 <= 100"
        );
        assert_eq!(s.inbound_groups("other", "0099").await.unwrap(), ["night"]);
        assert!(s.inbound_groups("other", "1000").await.unwrap().is_empty());
        assert!(s.inbound_groups("carrier", "s").await.unwrap().is_empty());
        assert!(s.inbound_groups("carrier", "").await.unwrap().is_empty());
        assert_eq!(
            s.inbound_groups("unknown", "120").await.unwrap(),
            ["spygrp"]
        );

        // Bad input: named field, nothing stored.
        for (res, check) in [
            (
                s.rule_add(None, "160", "110", &strings(&["vip"])).await,
                "Invalid high",
            ),
            (
                s.rule_add(None, "1a", "110", &strings(&["vip"])).await,
                "Invalid low",
            ),
            (s.rule_add(None, "1", "2", &[]).await, "Invalid groups"),
            (
                s.rule_add(None, "1", "2", &strings(&["no:pe"])).await,
                "Invalid group name",
            ),
            (
                s.rule_add(Some("bad name"), "1", "2", &strings(&["vip"]))
                    .await,
                "Invalid trunk name",
            ),
            (
                s.rule_add(Some("ghost"), "1", "2", &strings(&["vip"]))
                    .await,
                "NotFound trunk",
            ),
            (
                s.rule_add(None, "1", "2", &strings(&["vip", "ghost"]))
                    .await,
                "NotFound spy group",
            ),
        ] {
            let e = res.unwrap_err();
            let ok = match check.split_once(' ').unwrap() {
                ("NotFound", what) => is_not_found(&e, what),
                (_, field) => is_invalid(&e, field),
            };
            assert!(ok, "{check}: got {e}");
        }
        assert_eq!(s.rule_list().await.unwrap().len(), 3);

        assert!(s.rule_del(r3).await.unwrap());
        assert!(!s.rule_del(r3).await.unwrap());
        // Ids are never reused.
        let r4 = s
            .rule_add(None, "1", "2", &strings(&["night"]))
            .await
            .unwrap();
        assert!(r4 > r3, "{r4} after {r3}");
        assert!(s.inbound_groups("other", "100").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn tokens() {
    each_backend(|s| async move {
        ext(&s, "200").await;
        ext(&s, "110").await;
        s.supervisor_grant(&grant("200", GroupScope::All, &[SpyMode::Listen]))
            .await
            .unwrap();

        let before = SystemTime::now() - std::time::Duration::from_secs(1);
        let (read, read_secret) = s.token_create(TokenScope::Read, None).await.unwrap();
        let (sup, sup_secret) = s
            .token_create(TokenScope::Supervise, Some("200"))
            .await
            .unwrap();
        assert!(read_secret.starts_with("sgt_"), "{read_secret}");
        assert!(read_secret.contains(&read.id));
        assert_eq!(read_secret.len(), 4 + 16 + 1 + 64);
        assert_ne!(read_secret, sup_secret);
        assert!(read.created_at >= before);
        assert_eq!(read.last_used, None);
        assert_eq!(sup.supervisor.as_deref(), Some("200"));

        let v = s.token_verify(&sup_secret).await.unwrap().unwrap();
        assert_eq!(v.id, sup.id);
        assert_eq!(v.scope, TokenScope::Supervise);
        assert_eq!(v.supervisor.as_deref(), Some("200"));
        assert!(v.last_used.is_some());
        let listed = s.token_list().await.unwrap();
        assert_eq!(listed.len(), 2);
        let l = listed.iter().find(|t| t.id == sup.id).unwrap();
        assert_eq!(l.last_used, v.last_used, "last_used stored");
        assert_eq!(
            listed.iter().find(|t| t.id == read.id).unwrap().last_used,
            None
        );

        // Wrong, altered, malformed: no token.
        let mut altered = sup_secret.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap();
        // Another token's secret under this id.
        let swapped = format!("sgt_{}_{}", sup.id, &read_secret[21..]);
        for bad in [
            altered.as_str(),
            swapped.as_str(),
            "",
            "sgt_",
            "Bearer x",
            &sup_secret[..sup_secret.len() - 1],
            &format!("{sup_secret}0"),
        ] {
            assert_eq!(s.token_verify(bad).await.unwrap(), None, "{bad}");
        }

        // The secret is not stored anywhere.
        let dump = format!("{:?}", s.token_list().await.unwrap());
        assert!(!dump.contains(&sup_secret[21..]));

        // Scope rules.
        let e = s
            .token_create(TokenScope::Supervise, None)
            .await
            .unwrap_err();
        assert!(is_invalid(&e, "supervisor"), "{e}");
        let e = s
            .token_create(TokenScope::Admin, Some("200"))
            .await
            .unwrap_err();
        assert!(is_invalid(&e, "supervisor"), "{e}");
        let e = s
            .token_create(TokenScope::Supervise, Some("110"))
            .await
            .unwrap_err();
        assert!(is_not_found(&e, "supervisor"), "not a supervisor: {e}");
        let e = s
            .token_create(TokenScope::Supervise, Some("1 1"))
            .await
            .unwrap_err();
        assert!(is_invalid(&e, "extension number"), "{e}");
        assert_eq!(s.token_list().await.unwrap().len(), 2);

        assert!(s.token_revoke(&read.id).await.unwrap());
        assert!(!s.token_revoke(&read.id).await.unwrap());
        assert_eq!(s.token_verify(&read_secret).await.unwrap(), None);

        // Re-granting keeps the supervisor's tokens; revoking the supervisor ends them.
        s.supervisor_grant(&grant("200", GroupScope::All, &SpyMode::ALL))
            .await
            .unwrap();
        assert!(s.token_verify(&sup_secret).await.unwrap().is_some());
        s.supervisor_revoke("200").await.unwrap();
        assert_eq!(s.token_verify(&sup_secret).await.unwrap(), None);
        assert!(s.token_list().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn settings() {
    each_backend(|s| async move {
        assert_eq!(s.setting_get("monitoring.open").await.unwrap(), None);
        assert!(!s.monitoring_open().await.unwrap(), "restricted by default");
        s.setting_put("monitoring.open", "true").await.unwrap();
        assert!(s.monitoring_open().await.unwrap());
        s.set_monitoring_open(false).await.unwrap();
        assert_eq!(
            s.setting_get("monitoring.open").await.unwrap().as_deref(),
            Some("false")
        );
        s.setting_put("ui.banner", "Calls may be monitored")
            .await
            .unwrap();
        assert_eq!(
            s.setting_get("ui.banner").await.unwrap().as_deref(),
            Some("Calls may be monitored")
        );

        let e = s.setting_put("monitoring.open", "yes").await.unwrap_err();
        assert!(is_invalid(&e, "setting value"), "{e}");
        let e = s.setting_put("realm", "other").await.unwrap_err();
        assert!(is_invalid(&e, "setting key"), "{e}");
        let e = s.setting_put("bad key", "x").await.unwrap_err();
        assert!(is_invalid(&e, "setting key"), "{e}");
        let e = s.setting_put("k", "a\u{0}b").await.unwrap_err();
        assert!(is_invalid(&e, "setting value"), "{e}");
        assert_eq!(
            s.setting_get("realm").await.unwrap().as_deref(),
            Some("spygroup")
        );
        assert!(!s.monitoring_open().await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_wait_their_turn() {
    // Two handles (two pools) writing at once, as the CLI does while the server runs.
    for backend in common::backends().await {
        let a = Store::open(&backend.url).await.unwrap();
        let b = Store::open(&backend.url).await.unwrap();
        a.group_add("g", None).await.unwrap();
        for i in 0..20 {
            ext(&a, &format!("1{i:02}")).await;
        }
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                s.group_member_add("g", &format!("1{i:02}")).await.unwrap();
                s.rule_add(None, "1", "2", &["g".to_string()])
                    .await
                    .unwrap()
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20, "[{}] unique rule ids", backend.name);
        assert_eq!(a.group_list().await.unwrap()[0].members.len(), 20);
        a.close().await;
        b.close().await;
        backend.cleanup().await;
    }
}
