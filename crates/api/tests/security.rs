//! Lockouts through the API: listed with read scope, lifted with admin scope only
//! (recorded with the token that did it), their history from the database; no
//! secret shown, unknown ids are 404.

mod common;

use common::{FakeLive, Server};

fn with_lock() -> std::sync::Arc<FakeLive> {
    let live = FakeLive::new(8);
    live.lockouts.lock().unwrap().push(model::Lockout {
        id: "8e3258a62c356936".into(),
        kind: model::LockoutKind::Source,
        subject: "source 192.0.2.66".into(),
        since: 1_800_000_000_000,
        until: 1_800_000_300_000,
        count: 1,
        reason: "5 wrong passwords within 1 min from this source".into(),
    });
    live
}

const LOCKS: &str = "/api/v1/security/lockouts";

#[tokio::test]
async fn locks_are_listed_with_read_scope_and_lifted_with_admin_only() {
    let s = Server::start_with(with_lock()).await;
    let body = s
        .call("GET", LOCKS, Some(&s.read), None)
        .await
        .expect(200)
        .clone();
    let locks = body["lockouts"].as_array().unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0]["kind"], "source");
    assert_eq!(locks[0]["subject"], "source 192.0.2.66");
    s.call("GET", LOCKS, None, None).await.expect(401);
    let one = format!("{LOCKS}/8e3258a62c356936");
    // Read and supervise tokens may not lift; nothing changes.
    s.call("DELETE", &one, Some(&s.read), None)
        .await
        .expect(403);
    s.call("DELETE", &one, Some(&s.sup201), None)
        .await
        .expect(403);
    assert_eq!(s.live.lockouts.lock().unwrap().len(), 1);
    s.call(
        "DELETE",
        &format!("{LOCKS}/0000000000000000"),
        Some(&s.admin),
        None,
    )
    .await
    .expect(404);
    s.call(
        "DELETE",
        &format!("{LOCKS}/not%20hex"),
        Some(&s.admin),
        None,
    )
    .await
    .expect(404);
    s.call("DELETE", &one, Some(&s.admin), None)
        .await
        .expect(204);
    let lifted = s.live.lifted.lock().unwrap().clone();
    assert_eq!(lifted.len(), 1);
    assert_eq!(lifted[0].0, "8e3258a62c356936");
    assert!(lifted[0].1.starts_with("token:"), "{lifted:?}");
    s.call("DELETE", &one, Some(&s.admin), None)
        .await
        .expect(404);
}

#[tokio::test]
async fn the_history_comes_from_the_database_without_keys() {
    let s = Server::start_with(FakeLive::new(8)).await;
    let t = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    s.store
        .lockout_started(&store::LockoutRecord {
            id: "lk-1".into(),
            subject_id: "aaaa000000000001".into(),
            kind: "pin".into(),
            key: "argon2:$argon2id$v=19$m=19456;t=2;p=1$c2FsdA$aGFzaA".into(),
            subject: "PIN at 778".into(),
            started_at: t(1_800_000_000),
            until: t(1_800_000_900),
            count: 1,
            reason: "20 wrong tries within 1 h from any callers".into(),
            lifted_at: None,
            lifted_by: None,
        })
        .await
        .unwrap();
    let r = s
        .call("GET", &format!("{LOCKS}/history"), Some(&s.read), None)
        .await;
    let body = r.expect(200);
    let text = body.to_string();
    assert!(!text.contains("argon2"), "{text}");
    assert_eq!(body["lockouts"][0]["id"], "aaaa000000000001");
    assert_eq!(body["lockouts"][0]["subject"], "PIN at 778");
    assert_eq!(body["lockouts"][0]["since"], 1_800_000_000_000u64);
    s.call(
        "GET",
        &format!("{LOCKS}/history?limit=0"),
        Some(&s.read),
        None,
    )
    .await
    .expect_field(400, "limit");
}
