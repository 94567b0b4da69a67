//! The web console's page and sign-in: session cookies that stand in for a bearer
//! token, CSRF and origin checks, sign-out, revocation, the event stream closing
//! with its session.

mod common;

use std::time::Duration;

use common::{request_with, Resp, Server};
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A signed-in browser: its cookie header and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn call(&self, s: &Server, method: &str, path: &str, body: Option<&str>) -> Resp {
        let headers = [
            format!("Cookie: theme=dark; {}", self.cookie),
            format!("X-CSRF-Token: {}", self.csrf),
        ];
        request_with(s.addr, method, path, &headers, body).await
    }

    async fn call_without_csrf(&self, s: &Server, method: &str, path: &str) -> Resp {
        let headers = [format!("Cookie: {}", self.cookie)];
        request_with(s.addr, method, path, &headers, None).await
    }
}

async fn sign_in(s: &Server, body: serde_json::Value) -> Resp {
    let body = body.to_string();
    request_with(s.addr, "POST", "/console/session", &[], Some(&body)).await
}

/// The `name=value` of the answer's Set-Cookie.
fn cookie_of(r: &Resp) -> String {
    let line = r
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no set-cookie in {}", r.head));
    let value = line.trim_start_matches("set-cookie:").trim();
    value.split(';').next().unwrap().to_string()
}

async fn signed_in(s: &Server, body: serde_json::Value) -> Browser {
    let r = sign_in(s, body).await;
    r.expect(201);
    Browser {
        cookie: cookie_of(&r),
        csrf: r.body["csrf"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let s = Server::start().await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let mut raw = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        raw.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        raw.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(head.contains(&format!("content-type: {kind}")), "{head}");
        assert!(
            head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{head}"
        );
        assert!(head.contains("x-frame-options: deny"), "{head}");
        assert!(body.len() > 200, "{path} is empty");
        // Nothing from elsewhere: no CDN, works offline.
        assert!(!body.contains("https://"), "{path} loads from the internet");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_supervisor_signs_in_with_the_extensions_secret_and_the_cookie_acts_for_it() {
    let s = Server::start().await;
    let r = sign_in(&s, json!({"extension": "201", "secret": "s201"})).await;
    let body = r.expect(201);
    assert_eq!(body["scope"], "supervise");
    assert_eq!(body["supervisor"], "201");
    assert_eq!(body["who"], "201 (Supervisor)");
    assert_eq!(body["modes"], json!(["listen"]));
    assert_eq!(body["groups"], json!(["all"]));
    let set = r
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap();
    for attr in ["httponly", "samesite=strict", "path=/", "max-age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(r.head.contains("cache-control: no-store"), "{}", r.head);
    assert_eq!(
        s.live.sign_ins.lock().unwrap().clone(),
        vec![("201".to_string(), "127.0.0.1".parse().unwrap())]
    );
    let b = Browser {
        cookie: cookie_of(&r),
        csrf: body["csrf"].as_str().unwrap().to_string(),
    };
    b.call(&s, "GET", "/api/v1/calls", None).await.expect(200);
    let me = b.call(&s, "GET", "/console/session", None).await;
    assert_eq!(me.expect(200)["csrf"], b.csrf.as_str());
    // As a supervise token of 201: it may try to monitor (the fake knows no call)
    // as itself, not as another supervisor, and may not administer.
    let own = r#"{"supervisor":"201","mode":"listen"}"#;
    b.call(&s, "POST", "/api/v1/calls/c1/monitor", Some(own))
        .await
        .expect(404);
    let other = r#"{"supervisor":"202","mode":"listen"}"#;
    let r = b
        .call(&s, "POST", "/api/v1/calls/c1/monitor", Some(other))
        .await;
    r.expect(403);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("only monitor as supervisor \"201\""));
    let ext = r#"{"number":"300","secret":"long-enough-secret-300"}"#;
    b.call(&s, "POST", "/api/v1/extensions", Some(ext))
        .await
        .expect(403);
    s.stop().await;
}

#[tokio::test]
async fn every_refusal_of_a_secret_reads_the_same_and_sets_no_cookie() {
    let s = Server::start().await;
    let wrong = sign_in(&s, json!({"extension": "201", "secret": "guess"})).await;
    let unknown = sign_in(&s, json!({"extension": "999", "secret": "s201"})).await;
    for r in [&wrong, &unknown] {
        r.expect(401);
        assert_eq!(r.body["error"], "wrong extension or secret");
        assert!(!r.head.contains("set-cookie"), "{}", r.head);
    }
    // The right secret of an extension that is no supervisor: refused, and why.
    let agent = sign_in(&s, json!({"extension": "202", "secret": "s202"})).await;
    agent.expect(403);
    assert!(agent.body["error"]
        .as_str()
        .unwrap()
        .contains("not a supervisor"));
    assert!(!agent.head.contains("set-cookie"));
    // Bad bodies name what is wrong.
    sign_in(&s, json!({"extension": "201"}))
        .await
        .expect_field(400, "secret");
    sign_in(&s, json!({})).await.expect_field(400, "body");
    sign_in(
        &s,
        json!({"extension": "201", "secret": "s201", "token": "x"}),
    )
    .await
    .expect_field(400, "token");
    sign_in(&s, json!({"user": "201"})).await.expect(400);
    let r = sign_in(&s, json!({"token": "sgt_nope"})).await;
    r.expect(401);
    s.stop().await;
}

#[tokio::test]
async fn token_sessions_follow_the_tokens_scope() {
    let s = Server::start().await;
    let read = sign_in(&s, json!({"token": s.read})).await;
    assert_eq!(read.expect(201)["scope"], "read");
    assert_eq!(read.body["modes"], json!([]));
    let admin = sign_in(&s, json!({"token": s.admin})).await;
    assert_eq!(admin.expect(201)["scope"], "admin");
    assert_eq!(
        admin.body["modes"],
        json!(["listen", "whisper", "barge", "takeover", "conference"])
    );
    let sup = sign_in(&s, json!({"token": s.sup201})).await;
    assert_eq!(sup.expect(201)["supervisor"], "201");
    assert_eq!(sup.body["modes"], json!(["listen"]));
    // A read session reads and changes nothing.
    let b = Browser {
        cookie: cookie_of(&read),
        csrf: read.body["csrf"].as_str().unwrap().to_string(),
    };
    b.call(&s, "GET", "/api/v1/audit", None).await.expect(200);
    let own = r#"{"supervisor":"201","mode":"listen"}"#;
    b.call(&s, "POST", "/api/v1/calls/c1/monitor", Some(own))
        .await
        .expect(403);
    s.stop().await;
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_pages_of_other_sites_get_nothing() {
    let s = Server::start().await;
    let b = signed_in(&s, json!({"token": s.admin})).await;
    let r = b
        .call_without_csrf(&s, "DELETE", "/api/v1/extensions/201")
        .await;
    r.expect(403);
    assert!(r.body["error"].as_str().unwrap().contains("X-CSRF-Token"));
    let forged = Browser {
        cookie: b.cookie.clone(),
        csrf: "0".repeat(64),
    };
    forged
        .call(&s, "DELETE", "/api/v1/extensions/201", None)
        .await
        .expect(403);
    assert!(
        s.store.get_extension("201").await.unwrap().is_some(),
        "nothing deleted"
    );
    // A request a page of another site makes with the cookie.
    let headers = [
        format!("Cookie: {}", b.cookie),
        "Origin: http://evil.example".to_string(),
    ];
    request_with(s.addr, "GET", "/api/v1/calls", &headers, None)
        .await
        .expect(403);
    let same = [
        format!("Cookie: {}", b.cookie),
        "Origin: http://test".to_string(),
    ];
    request_with(s.addr, "GET", "/api/v1/calls", &same, None)
        .await
        .expect(200);
    // Signing in from another site (login CSRF).
    let body = json!({"token": s.admin}).to_string();
    let evil = ["Origin: http://evil.example".to_string()];
    request_with(s.addr, "POST", "/console/session", &evil, Some(&body))
        .await
        .expect(403);
    // The bearer token still wins over a cookie, with its own scope.
    let both = [
        format!("Cookie: {}", b.cookie),
        format!("Authorization: Bearer {}", s.read),
    ];
    let ext = r#"{"number":"300","secret":"long-enough-secret-300"}"#;
    request_with(s.addr, "POST", "/api/v1/extensions", &both, Some(ext))
        .await
        .expect(403);
    s.stop().await;
}

#[tokio::test]
async fn sign_out_ends_the_session_and_closes_its_event_stream() {
    let s = Server::start().await;
    let b = signed_in(&s, json!({"extension": "201", "secret": "s201"})).await;
    let mut req = format!("ws://{}/api/v1/events", s.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", b.cookie.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    s.live.tx.send(common::event(1, "call.start")).unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(matches!(first, Some(Ok(Message::Text(_)))), "{first:?}");

    b.call_without_csrf(&s, "DELETE", "/console/session")
        .await
        .expect(403);
    let out = b.call(&s, "DELETE", "/console/session", None).await;
    out.expect(204);
    assert!(
        out.head.contains("set-cookie: spygroup_session=; "),
        "{}",
        out.head
    );
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the event stream outlived its session");
    let r = b.call(&s, "GET", "/api/v1/calls", None).await;
    r.expect(401);
    assert!(r.body["error"].as_str().unwrap().contains("sign in again"));
    b.call(&s, "GET", "/console/session", None)
        .await
        .expect(401);
    s.stop().await;
}

#[tokio::test]
async fn a_revoked_token_or_grant_ends_the_sessions_made_with_it() {
    let s = Server::start().await;
    let (tok, secret) = s
        .store
        .token_create(store::TokenScope::Read, None)
        .await
        .unwrap();
    let by_token = signed_in(&s, json!({"token": secret})).await;
    let by_ext = signed_in(&s, json!({"extension": "201", "secret": "s201"})).await;
    by_token
        .call(&s, "GET", "/api/v1/calls", None)
        .await
        .expect(200);
    by_ext
        .call(&s, "GET", "/api/v1/calls", None)
        .await
        .expect(200);
    assert!(s.store.token_revoke(&tok.id).await.unwrap());
    let r = by_token.call(&s, "GET", "/api/v1/calls", None).await;
    r.expect(401);
    assert!(r.body["error"].as_str().unwrap().contains("revoked"));
    assert!(s.store.supervisor_revoke("201").await.unwrap());
    let r = by_ext.call(&s, "GET", "/console/session", None).await;
    r.expect(401);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("no longer a supervisor"));
    // Gone for good, even once the grant is back.
    s.store
        .supervisor_grant(&store::Grant {
            extension: "201".into(),
            groups: store::GroupScope::All,
            modes: vec![store::SpyMode::Listen],
            queues: vec![],
        })
        .await
        .unwrap();
    by_ext
        .call(&s, "GET", "/api/v1/calls", None)
        .await
        .expect(401);
    s.stop().await;
}
