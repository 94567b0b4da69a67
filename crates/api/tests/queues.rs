//! Queues, members and agents through the API: create, change and delete a
//! queue, static members, agents logging in and out (a static member cannot),
//! pauses with a reason; every member change lands in the queue log, and bad
//! input is a 400 naming the field that changes nothing.

mod common;

use common::each_backend;
use model::QueueEvent;
use serde_json::json;

#[tokio::test]
async fn queues_members_and_agents() {
    each_backend(|s| async move {
        let r = s
            .admin(
                "POST",
                "/api/v1/queues",
                Some(
                    json!({"name": "400", "strategy": "rrmemory", "timeout": 20, "wrapuptime": 5}),
                ),
            )
            .await;
        let body = r.expect(201);
        assert_eq!(body["settings"]["strategy"], "rrmemory");
        assert_eq!(body["settings"]["timeout"], 20);
        assert_eq!(body["settings"]["retry"], 5, "Asterisk's default: {body}");
        assert_eq!(body["members"], json!([]));
        s.admin("POST", "/api/v1/queues", Some(json!({"name": "400"})))
            .await
            .expect(409);

        // Bad input: 400 naming the field; nothing is created or changed.
        for (body, field) in [
            (json!({"name": "4 00"}), "name"),
            (json!({"name": "401", "strategy": "loudest"}), "strategy"),
            (json!({"name": "401", "timeout": 0}), "timeout"),
            (json!({"name": "401", "timeout": -3}), "timeout"),
            (json!({"name": "401", "colour": "red"}), "colour"),
            (json!({"strategy": "linear"}), "name"),
        ] {
            let r = s.admin("POST", "/api/v1/queues", Some(body.clone())).await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        }
        assert_eq!(
            s.get("/api/v1/queues")
                .await
                .expect(200)
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let r = s
            .admin(
                "PATCH",
                "/api/v1/queues/400",
                Some(json!({"strategy": "linear", "servicelevel": 30})),
            )
            .await;
        let body = r.expect(200);
        assert_eq!(body["settings"]["strategy"], "linear");
        assert_eq!(body["settings"]["timeout"], 20, "kept: {body}");
        assert_eq!(body["settings"]["servicelevel"], 30);
        let r = s
            .admin(
                "PATCH",
                "/api/v1/queues/400",
                Some(json!({"maxlen": 1000000})),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            s.get("/api/v1/queues/400").await.expect(200)["settings"]["maxlen"],
            0
        );
        s.admin("PATCH", "/api/v1/queues/499", Some(json!({"maxlen": 3})))
            .await
            .expect(404);
        s.get("/api/v1/queues/499").await.expect(404);

        // A static member, with a penalty given or not.
        let r = s.admin("PUT", "/api/v1/queues/400/members/201", None).await;
        let body = r.expect(201);
        assert_eq!(body["members"][0]["extension"], "201");
        assert_eq!(body["members"][0]["dynamic"], false);
        let r = s
            .admin(
                "PUT",
                "/api/v1/queues/400/members/201",
                Some(json!({"penalty": 2})),
            )
            .await;
        assert_eq!(r.expect(200)["members"][0]["penalty"], 2);
        s.admin("PUT", "/api/v1/queues/400/members/999", None)
            .await
            .expect(404);
        s.admin("PUT", "/api/v1/queues/499/members/201", None)
            .await
            .expect(404);
        let r = s
            .admin(
                "PUT",
                "/api/v1/queues/400/members/201",
                Some(json!({"penalty": "high"})),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("penalty")),
            "{}",
            r.body
        );

        // An agent logs in to a second queue, and out of it; not out of the queue
        // it is a static member of.
        s.admin("POST", "/api/v1/queues", Some(json!({"name": "401"})))
            .await
            .expect(201);
        let r = s.admin("PUT", "/api/v1/agents/201/queues/401", None).await;
        let body = r.expect(201);
        assert_eq!(body["queues"], json!(["400", "401"]));
        let r = s
            .admin("DELETE", "/api/v1/agents/201/queues/400", None)
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains("static member"),
            "{}",
            r.body
        );

        // Pause with a reason in every queue, unpause in one.
        let r = s
            .admin(
                "PUT",
                "/api/v1/agents/201/pause",
                Some(json!({"reason": "lunch"})),
            )
            .await;
        assert_eq!(r.expect(200)["queues"], json!(["400", "401"]));
        let r = s.get("/api/v1/agents").await;
        let agents = r.expect(200);
        assert_eq!(agents[0]["paused"], true, "{agents}");
        assert_eq!(agents[0]["reason"], "lunch", "{agents}");
        let r = s
            .admin("DELETE", "/api/v1/agents/201/pause?queue=401", None)
            .await;
        assert_eq!(r.expect(200)["queues"], json!(["401"]));
        let r = s.get("/api/v1/queues/400").await;
        let q = r.expect(200);
        assert_eq!(
            (
                q["members"][0]["paused"].clone(),
                q["members"][0]["reason"].clone()
            ),
            (json!(true), json!("lunch"))
        );
        let r = s
            .admin(
                "PUT",
                "/api/v1/agents/201/pause",
                Some(json!({"reason": "a\nb"})),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("reason")),
            "{}",
            r.body
        );
        s.admin("PUT", "/api/v1/agents/999/pause", None)
            .await
            .expect(404);
        s.admin(
            "PUT",
            "/api/v1/agents/201/pause",
            Some(json!({"queue": "499"})),
        )
        .await
        .expect(404);

        s.admin("DELETE", "/api/v1/agents/201/queues/401", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/agents/201/queues/401", None)
            .await
            .expect(404);
        s.admin("DELETE", "/api/v1/queues/400/members/201", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/queues/400/members/201", None)
            .await
            .expect(404);

        // The queue log holds every change, as Asterisk writes it.
        let log = s.store.queue_log(None, 0, i64::MAX).await.unwrap();
        // (Lines of one millisecond have no order among them: compare as sets.)
        let mut lines: Vec<(String, QueueEvent, String)> = log
            .iter()
            .map(|e| (e.queue.clone(), e.event, e.data[0].clone()))
            .collect();
        lines.sort_by_key(|(q, e, d)| (q.clone(), e.as_str(), d.clone()));
        let l = |q: &str, e, d: &str| (q.to_string(), e, d.to_string());
        let mut want = vec![
            l("400", QueueEvent::Addmember, ""),
            l("401", QueueEvent::Addmember, ""),
            l("400", QueueEvent::Pause, "lunch"),
            l("401", QueueEvent::Pause, "lunch"),
            l("401", QueueEvent::Unpause, ""),
            l("401", QueueEvent::Removemember, ""),
            l("400", QueueEvent::Removemember, ""),
        ];
        want.sort_by_key(|(q, e, d)| (q.clone(), e.as_str(), d.clone()));
        assert_eq!(lines, want);
        assert!(log
            .iter()
            .all(|e| e.agent == "SIP/201" && e.call_id == "NONE"));
        // ... and every one was announced to event subscribers.
        let key = |e: &model::QueueLogEntry| (e.queue.clone(), e.event.as_str(), e.data[0].clone());
        let mut announced = s.live.queue_logged.lock().unwrap().clone();
        announced.sort_by_key(key);
        let mut stored = log.clone();
        stored.sort_by_key(key);
        assert_eq!(announced, stored);

        // Writes need an admin token.
        let r = s
            .call(
                "POST",
                "/api/v1/queues",
                Some(&s.read),
                Some(r#"{"name":"402"}"#),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        s.admin("DELETE", "/api/v1/queues/401", None)
            .await
            .expect(204);
        s.admin("DELETE", "/api/v1/queues/401", None)
            .await
            .expect(404);
        s.stop().await;
    })
    .await;
}
