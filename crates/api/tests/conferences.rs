//! Conference rooms through the API: read scope lists them, admin scope mutes and
//! kicks; unknown rooms and members are 404, nothing changes without the scope.

mod common;

use common::{FakeLive, Server};

fn member(channel: &str, endpoint: &str) -> model::ConfMember {
    model::ConfMember {
        channel: channel.into(),
        endpoint: endpoint.into(),
        admin: false,
        marked: false,
        muted: false,
        waiting: false,
        talk_volume: 0,
        listen_volume: 0,
        joined: 1_700_000_000_000,
    }
}

fn with_room() -> std::sync::Arc<FakeLive> {
    let live = FakeLive::new(8);
    live.rooms.lock().unwrap().push(model::ConfRoom {
        name: "800".into(),
        started: 1_700_000_000_000,
        members: vec![
            member("SIP/101-00000001", "101"),
            member("SIP/102-00000002", "102"),
        ],
    });
    live
}

const MEMBER: &str = "/api/v1/conferences/800/members/SIP%2F101-00000001";

#[tokio::test]
async fn rooms_are_listed_with_read_scope() {
    let s = Server::start_with(with_room()).await;
    let r = s
        .call("GET", "/api/v1/conferences", Some(&s.read), None)
        .await;
    let body = r.expect(200);
    let rooms = body["conferences"].as_array().unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["name"], "800");
    let chans: Vec<&str> = rooms[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert_eq!(chans, ["SIP/101-00000001", "SIP/102-00000002"]);
    assert_eq!(rooms[0]["members"][0]["muted"], false);
    s.call("GET", "/api/v1/conferences", None, None)
        .await
        .expect(401);
}

#[tokio::test]
async fn muting_needs_admin_scope_and_a_member_of_the_room() {
    let s = Server::start_with(with_room()).await;
    let body = r#"{"muted": true}"#;
    for token in [&s.read, &s.sup201] {
        s.call("PATCH", MEMBER, Some(token), Some(body))
            .await
            .expect(403);
    }
    assert!(
        !s.live.rooms.lock().unwrap()[0].members[0].muted,
        "nothing changed"
    );
    s.call("PATCH", MEMBER, Some(&s.admin), Some(body))
        .await
        .expect(204);
    assert!(s.live.rooms.lock().unwrap()[0].members[0].muted);
    s.call("PATCH", MEMBER, Some(&s.admin), Some(r#"{"muted": false}"#))
        .await
        .expect(204);
    assert!(!s.live.rooms.lock().unwrap()[0].members[0].muted);
    for path in [
        "/api/v1/conferences/801/members/SIP%2F101-00000001",
        "/api/v1/conferences/800/members/SIP%2F999-00000009",
    ] {
        s.call("PATCH", path, Some(&s.admin), Some(body))
            .await
            .expect(404);
    }
    s.call("PATCH", MEMBER, Some(&s.admin), Some(r#"{"muted": "yes"}"#))
        .await
        .expect(400);
    s.call("PATCH", MEMBER, Some(&s.admin), Some(r#"{"mute": true}"#))
        .await
        .expect(400);
    s.call("PATCH", MEMBER, Some(&s.admin), Some("{}"))
        .await
        .expect(400);
    s.call(
        "PATCH",
        MEMBER,
        Some(&s.admin),
        Some(r#"{"talk_volume": 9}"#),
    )
    .await
    .expect(400);
    s.call(
        "PATCH",
        MEMBER,
        Some(&s.admin),
        Some(r#"{"talk_volume": -2}"#),
    )
    .await
    .expect(204);
    assert_eq!(s.live.rooms.lock().unwrap()[0].members[0].talk_volume, -2);
}

#[tokio::test]
async fn kicking_needs_admin_scope_and_a_member_of_the_room() {
    let s = Server::start_with(with_room()).await;
    s.call("DELETE", MEMBER, Some(&s.read), None)
        .await
        .expect(403);
    assert!(s.live.kicked.lock().unwrap().is_empty());
    s.call("DELETE", MEMBER, Some(&s.admin), None)
        .await
        .expect(204);
    assert_eq!(
        *s.live.kicked.lock().unwrap(),
        [("800".to_string(), "SIP/101-00000001".to_string())]
    );
    s.call(
        "DELETE",
        "/api/v1/conferences/800/members/SIP%2F999-00000009",
        Some(&s.admin),
        None,
    )
    .await
    .expect(404);
}
