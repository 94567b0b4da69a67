//! Tokens and scopes: 401 without a valid token, 403 when the scope is too low, the
//! loopback-only tokenless reload, the public `/health` and `/openapi.json`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use common::each_backend;
use serde_json::{json, Value};
use tower::ServiceExt;

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_get_401_with_a_challenge() {
    each_backend(|s| async move {
    let wrong = format!("sgt_{}_{}", "0".repeat(16), "0".repeat(64));
    for token in [None, Some("nonsense"), Some(wrong.as_str())] {
        let r = s.call("GET", "/api/v1/extensions", token, None).await;
        r.expect(401);
        assert!(r.head.contains("www-authenticate: bearer"), "{}", r.head);
        assert!(r.body["error"].is_string());
    }
    // Not a Bearer scheme.
    let mut raw = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(
        b"GET /api/v1/extensions HTTP/1.1\r\nHost: t\r\nAuthorization: Basic YTpi\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = String::new();
    raw.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");

    // A revoked token stops working.
    let (tok, secret) = s
        .store
        .token_create(store::TokenScope::Read, None)
        .await
        .unwrap();
    s.call("GET", "/api/v1/trunks", Some(&secret), None)
        .await
        .expect(200);
    assert!(s.store.token_revoke(&tok.id).await.unwrap());
    s.call("GET", "/api/v1/trunks", Some(&secret), None)
        .await
        .expect(401);

    // Writes without a token are refused before the body is looked at.
    let r = s
        .call(
            "POST",
            "/api/v1/extensions",
            None,
            Some("{\"number\":\"1\"}"),
        )
        .await;
    r.expect(401);
    assert_eq!(s.store.list_extensions().await.unwrap().len(), 1);
    s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn read_tokens_read_and_cannot_write() {
    each_backend(|s| async move {
        for path in [
            "/api/v1/extensions",
            "/api/v1/trunks",
            "/api/v1/groups",
            "/api/v1/supervisors",
            "/api/v1/rules",
            "/api/v1/db",
            "/api/v1/calls",
            "/api/v1/cdr",
            "/api/v1/audit",
        ] {
            s.call("GET", path, Some(&s.read), None).await.expect(200);
            s.call("GET", path, Some(&s.sup201), None).await.expect(200);
        }
        let writes: [(&str, &str, Value); 6] = [
            (
                "POST",
                "/api/v1/extensions",
                json!({"number": "110", "secret": "x"}),
            ),
            ("PATCH", "/api/v1/extensions/201", json!({"name": "x"})),
            ("POST", "/api/v1/groups", json!({"name": "g"})),
            (
                "PUT",
                "/api/v1/supervisors/201",
                json!({"groups": "all", "modes": ["barge"]}),
            ),
            ("PUT", "/api/v1/db/CW/110", json!({"value": "1"})),
            (
                "POST",
                "/api/v1/rules",
                json!({"low": "1", "high": "2", "groups": ["g"]}),
            ),
        ];
        for token in [&s.read, &s.sup201] {
            for (method, path, body) in &writes {
                let r = s
                    .call(method, path, Some(token), Some(&body.to_string()))
                    .await;
                assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
                assert!(
                    r.body["error"].as_str().unwrap().contains("admin"),
                    "{}",
                    r.body
                );
            }
            for path in ["/api/v1/extensions/201", "/api/v1/supervisors/201"] {
                s.call("DELETE", path, Some(token), None).await.expect(403);
            }
            s.call("POST", "/api/v1/dialplan/reload", Some(token), None)
                .await
                .expect(403);
        }
        // Nothing changed.
        assert_eq!(
            s.store.list_extensions().await.unwrap()[0].name.as_deref(),
            Some("Supervisor")
        );
        assert!(s.store.group_list().await.unwrap().is_empty());
        assert!(s.store.supervisor_get("201").await.unwrap().is_some());
        assert_eq!(s.reloads.load(std::sync::atomic::Ordering::SeqCst), 0);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    each_backend(|s| async move {
        let h = s.call("GET", "/health", None, None).await;
        assert_eq!(h.expect(200), &json!({"status": "ok", "calls": 0}));
        let doc = s.call("GET", "/openapi.json", None, None).await;
        assert!(doc.expect(200)["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3."));
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reload_from_loopback_needs_no_token_but_a_given_token_is_checked() {
    each_backend(|s| async move {
        let r = s.call("POST", "/api/v1/dialplan/reload", None, None).await;
        assert_eq!(r.expect(200), &json!({"reloaded": true, "warnings": 2}));
        s.call("POST", "/api/v1/dialplan/reload", Some(&s.admin), None)
            .await
            .expect(200);
        s.call("POST", "/api/v1/dialplan/reload", Some("bogus"), None)
            .await
            .expect(401);
        assert_eq!(s.reloads.load(std::sync::atomic::Ordering::SeqCst), 2);
        s.stop().await;
    })
    .await;
}

/// What a request from 127.0.0.1 with `headers` gets.
async fn from_loopback(state: api::ApiState, headers: &[(&str, &str)]) -> u16 {
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let app = api::router_with(state).layer(MockConnectInfo(from));
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/dialplan/reload");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    resp.status().as_u16()
}

#[tokio::test]
async fn a_browser_cannot_use_the_tokenless_loopback_reload() {
    let dir = tempfile::tempdir().unwrap();
    let st = store::Store::open(&format!("sqlite://{}/a.db", dir.path().display()))
        .await
        .unwrap();
    let reloads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut state = api::ApiState::new(Arc::new(|| Value::Null));
    state.store = Some(st);
    let counted = reloads.clone();
    state.reload = Some(Arc::new(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(0) })
    }));
    // The CLI: no Origin, no Sec-Fetch-*.
    assert_eq!(from_loopback(state.clone(), &[]).await, 200);
    // A page on any site, a form post, a page served by the PBX host itself.
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
        ][..],
        &[
            ("origin", "http://127.0.0.1:8088"),
            ("sec-fetch-site", "same-origin"),
        ][..],
    ] {
        assert_eq!(
            from_loopback(state.clone(), headers).await,
            401,
            "{headers:?}"
        );
    }
    assert_eq!(reloads.load(std::sync::atomic::Ordering::SeqCst), 1);
}

async fn remote(
    state: api::ApiState,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let from: SocketAddr = "198.51.100.7:40000".parse().unwrap();
    let app = api::router_with(state).layer(MockConnectInfo(from));
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn reload_from_elsewhere_needs_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let st = store::Store::open(&format!("sqlite://{}/a.db", dir.path().display()))
        .await
        .unwrap();
    let admin = st
        .token_create(store::TokenScope::Admin, None)
        .await
        .unwrap()
        .1;
    let read = st
        .token_create(store::TokenScope::Read, None)
        .await
        .unwrap()
        .1;
    let mut state = api::ApiState::new(Arc::new(|| Value::Null));
    state.store = Some(st);
    state.reload = Some(Arc::new(|| Box::pin(async { Ok(0) })));

    let (status, body) = remote(state.clone(), "POST", "/api/v1/dialplan/reload", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = remote(
        state.clone(),
        "POST",
        "/api/v1/dialplan/reload",
        Some(&read),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = remote(
        state.clone(),
        "POST",
        "/api/v1/dialplan/reload",
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reloaded"], true);
}

#[tokio::test]
async fn without_a_database_tokens_cannot_be_checked() {
    let state = api::ApiState::new(Arc::new(|| Value::Null));
    let (status, body) = remote(state.clone(), "GET", "/api/v1/extensions", Some("x")).await;
    assert_eq!(status, 503, "{body}");
    let (status, _) = remote(state, "GET", "/api/v1/extensions", None).await;
    assert_eq!(status, 401);
}
