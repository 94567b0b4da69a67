//! Every REST endpoint over a real socket: happy paths, bad input (400 naming the
//! field, nothing changed), conflicts and missing rows.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use api::{LiveChannel, Role, Spying};
use common::each_backend;
use model::SpyMode;
use serde_json::json;
use store::{CallRecord, Disposition, MonitorStart};

#[tokio::test]
async fn extensions_crud_never_shows_secrets() {
    each_backend(|s| async move {
        let created = s
            .admin(
                "POST",
                "/api/v1/extensions",
                Some(json!({"number": "110", "secret": "pw110", "name": "Agent 110"})),
            )
            .await;
        let body = created.expect(201);
        // Stored, with a word about the weak secret.
        assert_eq!(
            body,
            &json!({"number": "110", "name": "Agent 110", "context": "from-internal",
                    "require_tls": false, "require_srtp": false,
                    "warnings": ["weak secret: it contains the extension number; \
                                  choose a longer, random one"]})
        );

        let list = s.get("/api/v1/extensions").await;
        let text = list.expect(200).to_string();
        assert!(
            text.contains("\"110\"") && text.contains("\"201\""),
            "{text}"
        );
        for secretish in ["secret", "ha1", "pw110", "s201"] {
            assert!(!text.contains(secretish), "{secretish} leaked: {text}");
        }

        let one = s.get("/api/v1/extensions/110").await;
        assert_eq!(one.expect(200)["name"], "Agent 110");

        let before = s.store.get_extension("110").await.unwrap().unwrap();
        let patched = s
            .admin(
                "PATCH",
                "/api/v1/extensions/110",
                Some(json!({"secret": "new", "context": "agents"})),
            )
            .await;
        assert_eq!(patched.expect(200)["context"], "agents");
        let after = s.store.get_extension("110").await.unwrap().unwrap();
        assert_ne!(before.ha1_md5, after.ha1_md5, "secret changed");

        let cleared = s
            .admin("PATCH", "/api/v1/extensions/110", Some(json!({"name": ""})))
            .await;
        assert_eq!(cleared.expect(200)["name"], json!(null));

        s.admin("DELETE", "/api/v1/extensions/110", None)
            .await
            .expect(204);
        s.get("/api/v1/extensions/110").await.expect(404);
        s.admin("DELETE", "/api/v1/extensions/110", None)
            .await
            .expect(404);
        s.admin(
            "PATCH",
            "/api/v1/extensions/999",
            Some(json!({"name": "x"})),
        )
        .await
        .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn extension_transport_security_flags() {
    each_backend(|s| async move {
        let flags = |v: &serde_json::Value| (v["require_tls"].clone(), v["require_srtp"].clone());
        let created = s
            .admin(
                "POST",
                "/api/v1/extensions",
                Some(json!({"number": "110", "secret": "long-random-110", "require_tls": true})),
            )
            .await;
        assert_eq!(flags(created.expect(201)), (json!(true), json!(false)));
        let e = s.store.get_extension("110").await.unwrap().unwrap();
        assert_eq!((e.require_tls, e.require_srtp), (true, false));

        let patched = s
            .admin(
                "PATCH",
                "/api/v1/extensions/110",
                Some(json!({"require_srtp": true})),
            )
            .await;
        assert_eq!(
            flags(patched.expect(200)),
            (json!(true), json!(true)),
            "require_tls kept"
        );
        let one = s.get("/api/v1/extensions/110").await;
        assert_eq!(flags(one.expect(200)), (json!(true), json!(true)));

        let patched = s
            .admin(
                "PATCH",
                "/api/v1/extensions/110",
                Some(json!({"require_tls": false, "name": "Agent"})),
            )
            .await;
        assert_eq!(flags(patched.expect(200)), (json!(false), json!(true)));
        let e = s.store.get_extension("110").await.unwrap().unwrap();
        assert_eq!((e.require_tls, e.require_srtp), (false, true));

        let list = s.get("/api/v1/extensions").await;
        let list = list.expect(200).as_array().unwrap().clone();
        let row = |n: &str| list.iter().find(|e| e["number"] == n).unwrap().clone();
        assert_eq!(flags(&row("110")), (json!(false), json!(true)));
        assert_eq!(flags(&row("201")), (json!(false), json!(false)));

        // Booleans only; a bad one changes nothing.
        s.admin(
            "PATCH",
            "/api/v1/extensions/110",
            Some(json!({"require_tls": "yes"})),
        )
        .await
        .expect_field(400, "require_tls");
        s.admin(
            "POST",
            "/api/v1/extensions",
            Some(json!({"number": "111", "secret": "x", "require_srtp": 1})),
        )
        .await
        .expect_field(400, "require_srtp");
        assert!(s.store.get_extension("111").await.unwrap().is_none());
        let e = s.store.get_extension("110").await.unwrap().unwrap();
        assert_eq!((e.require_tls, e.require_srtp), (false, true));
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn extension_bad_input_names_the_field_and_changes_nothing() {
    each_backend(|s| async move {
        let cases = [
            (json!({"number": "1 10", "secret": "x"}), "number"),
            (json!({"number": "110"}), "secret"),
            (json!({"number": "110", "secret": ""}), "secret"),
            (
                json!({"number": "110", "secret": "x", "context": "bad context"}),
                "context",
            ),
            (
                json!({"number": "110", "secret": "x", "name": "a\nb"}),
                "name",
            ),
            (
                json!({"number": "110", "secret": "x", "colour": "red"}),
                "colour",
            ),
            (json!({"number": 110, "secret": "x"}), "number"),
        ];
        for (body, field) in cases {
            let r = s
                .admin("POST", "/api/v1/extensions", Some(body.clone()))
                .await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        }
        // Not JSON at all, and no body.
        let r = s
            .call("POST", "/api/v1/extensions", Some(&s.admin), Some("{nope"))
            .await;
        r.expect(400);
        s.call("POST", "/api/v1/extensions", Some(&s.admin), None)
            .await
            .expect_field(400, "body");
        let list = s.store.list_extensions().await.unwrap();
        assert_eq!(list.len(), 1, "only the fixture's 201: {list:?}");

        // A bad PATCH leaves the row as it was.
        let before = s.store.get_extension("201").await.unwrap().unwrap();
        s.admin(
            "PATCH",
            "/api/v1/extensions/201",
            Some(json!({"name": "ok", "context": "no spaces allowed"})),
        )
        .await
        .expect_field(400, "context");
        s.admin(
            "PATCH",
            "/api/v1/extensions/201",
            Some(json!({"secret": ""})),
        )
        .await
        .expect_field(400, "secret");
        assert_eq!(s.store.get_extension("201").await.unwrap().unwrap(), before);

        // Taken number.
        s.admin(
            "POST",
            "/api/v1/extensions",
            Some(json!({"number": "201", "secret": "x"})),
        )
        .await
        .expect(409);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn trunks_crud_and_bad_input() {
    each_backend(|s| async move {
        let r = s
            .admin(
                "POST",
                "/api/v1/trunks",
                Some(json!({"name": "carrier", "host": "192.0.2.10", "port": 5060})),
            )
            .await;
        assert_eq!(
            r.expect(201),
            &json!({"name": "carrier", "host": "192.0.2.10", "port": 5060, "context": "from-trunk"})
        );
        assert_eq!(
            s.get("/api/v1/trunks").await.expect(200)[0]["name"],
            "carrier"
        );
        assert_eq!(
            s.get("/api/v1/trunks/carrier").await.expect(200)["port"],
            5060
        );
        s.get("/api/v1/trunks/nope").await.expect(404);
        s.admin(
            "POST",
            "/api/v1/trunks",
            Some(json!({"name": "carrier", "host": "192.0.2.11"})),
        )
        .await
        .expect(409);

        for (body, field) in [
            (json!({"name": "t2", "host": "not-an-ip"}), "host"),
            (
                json!({"name": "t2", "host": "192.0.2.1", "port": 70000}),
                "port",
            ),
            (
                json!({"name": "t2", "host": "192.0.2.1", "port": 0}),
                "port",
            ),
            (json!({"name": "t 2", "host": "192.0.2.1"}), "name"),
            (
                json!({"name": "t2", "host": "192.0.2.1", "context": ""}),
                "context",
            ),
        ] {
            let r = s.admin("POST", "/api/v1/trunks", Some(body.clone())).await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        }
        assert_eq!(s.store.list_trunks().await.unwrap().len(), 1);

        s.admin("DELETE", "/api/v1/trunks/carrier", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/trunks/carrier", None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn groups_and_memberships() {
    each_backend(|s| async move {
        let r = s
            .admin(
                "POST",
                "/api/v1/groups",
                Some(json!({"name": "sales", "description": "Sales floor"})),
            )
            .await;
        assert_eq!(
            r.expect(201),
            &json!({"name": "sales", "description": "Sales floor", "members": [],
                    "notice": "none", "notice_every_s": 0})
        );
        s.admin("POST", "/api/v1/groups", Some(json!({"name": "sales"})))
            .await
            .expect(409);
        s.admin("POST", "/api/v1/groups", Some(json!({"name": "a:b"})))
            .await
            .expect_field(400, "name");
        s.admin(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "ok", "description": "x".repeat(300)})),
        )
        .await
        .expect_field(400, "description");
        assert_eq!(s.store.group_list().await.unwrap().len(), 1);

        let r = s
            .admin(
                "POST",
                "/api/v1/groups/sales/members",
                Some(json!({"extension": "201"})),
            )
            .await;
        assert_eq!(r.expect(201)["members"], json!(["201"]));
        s.admin(
            "POST",
            "/api/v1/groups/sales/members",
            Some(json!({"extension": "2 01"})),
        )
        .await
        .expect_field(400, "extension");
        s.admin(
            "POST",
            "/api/v1/groups/nope/members",
            Some(json!({"extension": "201"})),
        )
        .await
        .expect(404);
        s.admin(
            "POST",
            "/api/v1/groups/sales/members",
            Some(json!({"extension": "999"})),
        )
        .await
        .expect(404);

        assert_eq!(
            s.get("/api/v1/groups").await.expect(200)[0]["members"],
            json!(["201"])
        );
        assert_eq!(
            s.get("/api/v1/groups/sales").await.expect(200)["name"],
            "sales"
        );
        assert_eq!(
            s.get("/api/v1/groups/sales/members").await.expect(200),
            &json!(["201"])
        );
        assert_eq!(
            s.get("/api/v1/extensions/201/groups").await.expect(200),
            &json!(["sales"])
        );
        s.get("/api/v1/groups/nope").await.expect(404);

        // The notice policy: set, shown, refused when wrong.
        assert_eq!(
            s.get("/api/v1/groups/sales").await.expect(200)["notice"],
            "none"
        );
        let g = s
            .admin(
                "PUT",
                "/api/v1/groups/sales/notice",
                Some(json!({"notice": "both", "every_s": 15})),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(
            (g["notice"].clone(), g["notice_every_s"].clone()),
            (json!("both"), json!(15))
        );
        for bad in [
            json!({"notice": "loud"}),
            json!({"notice": "agent", "every_s": 4000}),
        ] {
            s.admin("PUT", "/api/v1/groups/sales/notice", Some(bad))
                .await
                .expect(400);
        }
        s.admin(
            "PUT",
            "/api/v1/groups/nope/notice",
            Some(json!({"notice": "agent"})),
        )
        .await
        .expect(404);

        s.admin("DELETE", "/api/v1/groups/sales/members/201", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/groups/sales/members/201", None)
            .await
            .expect(404);
        s.admin("DELETE", "/api/v1/groups/sales", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/groups/sales", None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn supervisors_and_grants() {
    each_backend(|s| async move {
        for g in ["sales", "vip"] {
            s.admin("POST", "/api/v1/groups", Some(json!({"name": g})))
                .await
                .expect(201);
        }
        let r = s
            .admin(
                "PUT",
                "/api/v1/supervisors/201",
                Some(json!({"groups": ["vip", "sales"], "modes": ["whisper", "listen"]})),
            )
            .await;
        let body = r.expect(200);
        assert_eq!(body["extension"], "201");
        assert_eq!(body["groups"], json!(["sales", "vip"]));
        assert_eq!(body["modes"], json!(["listen", "whisper"]));

        let before = s.store.supervisor_get("201").await.unwrap();
        for (body, field) in [
            (
                json!({"groups": "all", "modes": ["listen", "spy"]}),
                "modes[1]",
            ),
            (json!({"groups": "all", "modes": []}), "modes"),
            (
                json!({"groups": "everything", "modes": ["listen"]}),
                "groups",
            ),
            (json!({"groups": [], "modes": ["listen"]}), "groups"),
            (
                json!({"groups": ["ok", "a:b"], "modes": ["listen"]}),
                "groups[1]",
            ),
            (json!({"groups": "all"}), "modes"),
        ] {
            let r = s
                .admin("PUT", "/api/v1/supervisors/201", Some(body.clone()))
                .await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        }
        assert_eq!(s.store.supervisor_get("201").await.unwrap(), before);
        s.admin(
            "PUT",
            "/api/v1/supervisors/201",
            Some(json!({"groups": ["nope"], "modes": ["listen"]})),
        )
        .await
        .expect(404);
        s.admin(
            "PUT",
            "/api/v1/supervisors/999",
            Some(json!({"groups": "all", "modes": ["listen"]})),
        )
        .await
        .expect(404);

        let r = s
            .admin(
                "PUT",
                "/api/v1/supervisors/201",
                Some(json!({"groups": "all", "modes": ["barge"]})),
            )
            .await;
        assert_eq!(r.expect(200)["groups"], "all");
        assert_eq!(
            s.get("/api/v1/supervisors").await.expect(200)[0]["modes"],
            json!(["barge"])
        );
        assert_eq!(
            s.get("/api/v1/supervisors/201").await.expect(200)["groups"],
            "all"
        );
        s.get("/api/v1/supervisors/110").await.expect(404);

        // A grant by queue needs no groups; an unknown queue is a 404 that
        // changes nothing, a malformed name a 400 on its index.
        s.store
            .queue_add(&model::QueueSettings::new("support"))
            .await
            .unwrap();
        let before = s.store.supervisor_get("201").await.unwrap();
        let r = s
            .admin(
                "PUT",
                "/api/v1/supervisors/201",
                Some(json!({"queues": ["support", "ghost"], "modes": ["listen"]})),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains("ghost"),
            "{}",
            r.body
        );
        let r = s
            .admin(
                "PUT",
                "/api/v1/supervisors/201",
                Some(json!({"queues": ["support", "a b"], "modes": ["listen"]})),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["field"], "queues[1]", "{}", r.body);
        assert_eq!(s.store.supervisor_get("201").await.unwrap(), before);
        let r = s
            .admin(
                "PUT",
                "/api/v1/supervisors/201",
                Some(json!({"queues": ["support"], "modes": ["listen"]})),
            )
            .await;
        let body = r.expect(200);
        assert_eq!(body["groups"], json!([]));
        assert_eq!(body["queues"], json!(["support"]));
        let grant = s.store.supervisor_get("201").await.unwrap().unwrap();
        assert_eq!(grant.queues, ["support"]);
        assert!(grant.allows(SpyMode::Listen, &[] as &[&str], Some("support")));
        assert!(!grant.allows(SpyMode::Listen, &[] as &[&str], Some("sales")));
        assert!(!grant.allows(SpyMode::Listen, &[] as &[&str], None));
        // Deleting the queue takes it out of the grant.
        assert!(s.store.queue_delete("support").await.unwrap());
        assert_eq!(
            s.get("/api/v1/supervisors/201").await.expect(200)["queues"],
            json!([])
        );

        s.admin("DELETE", "/api/v1/supervisors/201", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/supervisors/201", None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn monitoring_rules() {
    each_backend(|s| async move {
        s.admin("POST", "/api/v1/groups", Some(json!({"name": "spygrp"})))
            .await
            .expect(201);
        s.admin(
            "POST",
            "/api/v1/trunks",
            Some(json!({"name": "carrier", "host": "192.0.2.10"})),
        )
        .await
        .expect(201);
        let r = s
            .admin(
                "POST",
                "/api/v1/rules",
                Some(
                    json!({"trunk": "carrier", "low": "110", "high": "160", "groups": ["spygrp"]}),
                ),
            )
            .await;
        let rule = r.expect(201).clone();
        assert_eq!(rule["low"], "110");
        assert_eq!(rule["groups"], json!(["spygrp"]));
        let id = rule["id"].as_i64().unwrap();

        for (body, field) in [
            (
                json!({"low": "abc", "high": "160", "groups": ["spygrp"]}),
                "low",
            ),
            (
                json!({"low": "200", "high": "160", "groups": ["spygrp"]}),
                "high",
            ),
            (json!({"low": "110", "high": "160", "groups": []}), "groups"),
            (
                json!({"trunk": "a b", "low": "1", "high": "2", "groups": ["spygrp"]}),
                "trunk",
            ),
            (
                json!({"low": "1", "high": "2", "groups": "spygrp"}),
                "groups",
            ),
        ] {
            let r = s.admin("POST", "/api/v1/rules", Some(body.clone())).await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        }
        s.admin(
            "POST",
            "/api/v1/rules",
            Some(json!({"low": "1", "high": "2", "groups": ["nope"]})),
        )
        .await
        .expect(404);
        assert_eq!(s.store.rule_list().await.unwrap().len(), 1);

        assert_eq!(s.get("/api/v1/rules").await.expect(200)[0]["id"], id);
        assert_eq!(
            s.get(&format!("/api/v1/rules/{id}")).await.expect(200)["trunk"],
            "carrier"
        );
        s.get("/api/v1/rules/x").await.expect_field(400, "id");
        s.get("/api/v1/rules/9999").await.expect(404);
        s.admin("DELETE", &format!("/api/v1/rules/{id}"), None)
            .await
            .expect(204);
        s.admin("DELETE", &format!("/api/v1/rules/{id}"), None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn key_value_entries() {
    each_backend(|s| async move {
        let r = s
            .admin("PUT", "/api/v1/db/CW/110", Some(json!({"value": "1"})))
            .await;
        assert_eq!(
            r.expect(200),
            &json!({"family": "CW", "key": "110", "value": "1"})
        );
        // A sub-family travels URL-encoded.
        s.admin(
            "PUT",
            "/api/v1/db/CF%2Fbusy/110",
            Some(json!({"value": "200"})),
        )
        .await
        .expect(200);
        assert_eq!(
            s.store.db_get("CF/busy", "110").await.unwrap().as_deref(),
            Some("200")
        );

        assert_eq!(s.get("/api/v1/db/CW/110").await.expect(200)["value"], "1");
        s.get("/api/v1/db/CW/111").await.expect(404);
        assert_eq!(
            s.get("/api/v1/db")
                .await
                .expect(200)
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let cf = s.get("/api/v1/db?family=CF").await;
        assert_eq!(
            cf.expect(200),
            &json!([{"family": "CF/busy", "key": "110", "value": "200"}])
        );

        s.admin("PUT", "/api/v1/db/CW/110", Some(json!({"value": 1})))
            .await
            .expect_field(400, "value");
        s.admin("PUT", "/api/v1/db/CW/110", Some(json!({})))
            .await
            .expect_field(400, "value");
        s.admin("PUT", "/api/v1/db/C%0AW/110", Some(json!({"value": "x"})))
            .await
            .expect_field(400, "family");
        assert_eq!(
            s.store.db_get("CW", "110").await.unwrap().as_deref(),
            Some("1")
        );

        s.admin("DELETE", "/api/v1/db/CW/110", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/db/CW/110", None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn cdr_and_audit_with_filters() {
    each_backend(|s| async move {
        let t = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        for (i, start) in [(1, 1_000_000u64), (2, 2_000_000)] {
            s.store
                .insert_cdr(&CallRecord {
                    id: format!("cdr{i}"),
                    call_id: format!("call{i}"),
                    caller: "110".into(),
                    callee: "120".into(),
                    caller_channel: "SIP/110-00000001".into(),
                    callee_channel: Some("SIP/120-00000002".into()),
                    start_at: t(start),
                    answer_at: Some(t(start + 1000)),
                    end_at: t(start + 5000),
                    disposition: Disposition::Answered,
                    hangup_by: "caller".into(),
                    duration_ms: 5000,
                    billsec_ms: 4000,
                    taken_over: None,
                })
                .await
                .unwrap();
        }
        let all = s.get("/api/v1/cdr").await;
        let all = all.expect(200).as_array().unwrap().clone();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["id"], "cdr2", "newest first");
        assert_eq!(all[0]["start_at"], 2_000_000);
        assert_eq!(all[0]["disposition"], "ANSWERED");
        let one = s.get("/api/v1/cdr?limit=1").await;
        assert_eq!(one.expect(200).as_array().unwrap().len(), 1);
        s.get("/api/v1/cdr?limit=abc")
            .await
            .expect_field(400, "limit");
        s.get("/api/v1/cdr?limit=0")
            .await
            .expect_field(400, "limit");

        for (id, sup, target, start) in [
            ("m1", "201", "110", 1_000_000u64),
            ("m2", "202", "110", 2_000_000),
            ("m3", "201", "120", 3_000_000),
        ] {
            s.store
                .monitor_started(&MonitorStart {
                    id: id.into(),
                    supervisor: sup.into(),
                    supervisor_channel: format!("SIP/{sup}-0000000a"),
                    target_endpoint: target.into(),
                    target_channel: format!("SIP/{target}-0000000b"),
                    peer_channel: None,
                    mode: "listen".into(),
                    started_at: t(start),
                })
                .await
                .unwrap();
        }
        let ids = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            ids(s.get("/api/v1/audit").await.expect(200)),
            ["m3", "m2", "m1"]
        );
        assert_eq!(
            ids(s.get("/api/v1/audit?supervisor=201").await.expect(200)),
            ["m3", "m1"]
        );
        assert_eq!(
            ids(s.get("/api/v1/audit?target=110").await.expect(200)),
            ["m2", "m1"]
        );
        assert_eq!(
            ids(s
                .get("/api/v1/audit?target=SIP%2F120-0000000b")
                .await
                .expect(200)),
            ["m3"]
        );
        assert_eq!(
            ids(s
                .get("/api/v1/audit?since=1500000&until=3000000")
                .await
                .expect(200)),
            ["m2"]
        );
        assert_eq!(
            ids(s.get("/api/v1/audit?limit=1").await.expect(200)),
            ["m3"]
        );
        let rec = s.get("/api/v1/audit?supervisor=202").await;
        let rec = &rec.expect(200)[0];
        assert_eq!(rec["outcome"], "allowed");
        assert_eq!(rec["events"][0]["kind"], "start");
        assert_eq!(rec["events"][0]["detail"], "listen");
        s.get("/api/v1/audit?since=x")
            .await
            .expect_field(400, "since");
        s.get("/api/v1/audit?since=5&until=4")
            .await
            .expect_field(400, "until");
        s.stop().await;
    })
    .await;
}

fn channel(name: &str, call: &str, endpoint: &str, role: Role) -> LiveChannel {
    LiveChannel {
        name: name.into(),
        call: call.into(),
        endpoint: endpoint.into(),
        number: endpoint.into(),
        spygroup: String::new(),
        bridged_to: None,
        queue: None,
        spying: None,
        in_chanspy: false,
        role,
        trunk: false,
        started_at: 1_764_000_000_000,
    }
}

#[tokio::test]
async fn live_calls_are_grouped_by_call_with_their_monitors() {
    each_backend(|s| async move {
        let mut agent = channel("SIP/110-00000001", "1764000000000-1", "110", Role::Callee);
        agent.spygroup = "sales".into();
        agent.bridged_to = Some("SIP/carrier-00000002".into());
        let mut carrier = channel(
            "SIP/carrier-00000002",
            "1764000000000-1",
            "carrier",
            Role::Caller,
        );
        carrier.trunk = true;
        carrier.spygroup = "sales".into();
        carrier.bridged_to = Some("SIP/110-00000001".into());
        let lone = channel("SIP/130-00000004", "1764000000000-3", "130", Role::Caller);
        let mut spy = channel("SIP/201-00000003", "1764000000000-2", "201", Role::Caller);
        spy.in_chanspy = true;
        spy.spying = Some(Spying {
            channel: "SIP/110-00000001".into(),
            mode: SpyMode::Listen,
            session: "1764000000100-0000abcd".into(),
            since: 1_764_000_000_100,
            mode_since: 1_764_000_000_100,
        });
        *s.live.channels.lock().unwrap() = vec![agent, lone, carrier, spy];
        let r = s.get("/api/v1/calls").await;
        let calls = r.expect(200)["calls"].as_array().unwrap().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0]["id"], "1764000000000-1");
        let names: Vec<&str> = calls[0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["SIP/carrier-00000002", "SIP/110-00000001"],
            "the caller first"
        );
        assert_eq!(calls[0]["channels"][0]["role"], "caller");
        assert_eq!(calls[0]["monitored_by"][0]["name"], "SIP/201-00000003");
        assert_eq!(calls[0]["monitored_by"][0]["spying"]["mode"], "listen");
        assert_eq!(calls[1]["id"], "1764000000000-3");
        assert_eq!(calls[1]["monitored_by"], json!([]));
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn monitor_control_checks_then_asks_the_switch() {
    // The fake live view has no switch behind it: every request that passes the
    // checks reaches it and is told no such call / monitor (404).
    each_backend(|s| async move {
        let path = "/api/v1/calls/SIP%2F110-00000001/monitor";
        let body = json!({"supervisor": "201", "mode": "listen"}).to_string();
        let r = s.call("POST", path, Some(&s.sup201), Some(&body)).await;
        r.expect(404);
        assert!(r.body["error"].as_str().unwrap().contains("not available"));
        // Admin may act as anyone.
        let other = json!({"supervisor": "202", "mode": "barge"}).to_string();
        s.call("POST", path, Some(&s.admin), Some(&other))
            .await
            .expect(404);
        // Supervise tokens only as their own supervisor; read tokens not at all.
        s.call("POST", path, Some(&s.sup201), Some(&other))
            .await
            .expect(403);
        s.call("POST", path, Some(&s.read), Some(&body))
            .await
            .expect(403);
        let bad = json!({"supervisor": "201", "mode": "spy"}).to_string();
        s.call("POST", path, Some(&s.sup201), Some(&bad))
            .await
            .expect_field(400, "mode");

        let mode = json!({"mode": "whisper"}).to_string();
        let r = s
            .call("PATCH", "/api/v1/monitors/m1", Some(&s.sup201), Some(&mode))
            .await;
        r.expect(404);
        assert!(r.body["error"]
            .as_str()
            .unwrap()
            .contains("no running monitor"));
        s.call(
            "PATCH",
            "/api/v1/monitors/m1",
            Some(&s.sup201),
            Some("{\"mode\":\"x\"}"),
        )
        .await
        .expect_field(400, "mode");
        s.call("PATCH", "/api/v1/monitors/m1", Some(&s.read), Some(&mode))
            .await
            .expect(403);
        s.call("DELETE", "/api/v1/monitors/m1", Some(&s.sup201), None)
            .await
            .expect(404);
        s.call("DELETE", "/api/v1/monitors/m1", Some(&s.read), None)
            .await
            .expect(403);
        s.stop().await;
    })
    .await;
}
