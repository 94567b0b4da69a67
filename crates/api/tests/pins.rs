//! Stored PINs never reach a token below admin scope, in lists or one by one.

mod common;

use common::Server;

#[tokio::test]
async fn pin_hashes_are_hidden_from_read_and_supervise_tokens() {
    let s = Server::start().await;
    let pin = store::pins::hash_pin("4567");
    s.store.db_put("spygroup", "pin_779", &pin).await.unwrap();
    s.store
        .db_put("spygroup", "pin_778", "sha256:0123abcd")
        .await
        .unwrap();
    s.store
        .db_put("spygroup", "monitor_low", "110")
        .await
        .unwrap();
    for token in [&s.read, &s.sup201] {
        let r = s
            .call("GET", "/api/v1/db?family=spygroup", Some(token), None)
            .await;
        let body = r.expect(200).to_string();
        assert!(
            !body.contains("argon2") && !body.contains("sha256"),
            "{body}"
        );
        assert!(
            body.contains("hidden") && body.contains("\"110\""),
            "{body}"
        );
        let r = s
            .call("GET", "/api/v1/db/spygroup/pin_779", Some(token), None)
            .await;
        assert!(!r.expect(200)["value"].as_str().unwrap().contains("argon2"));
    }
    let r = s
        .call("GET", "/api/v1/db/spygroup/pin_779", Some(&s.admin), None)
        .await;
    assert_eq!(r.expect(200)["value"].as_str(), Some(pin.as_str()));
}
