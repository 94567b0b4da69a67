//! The API over a real socket on 127.0.0.1, spoken to with plain HTTP/1.1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use api::{ApiError, HealthFn};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Sends one request and returns (status, parsed JSON body).
async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap())
}

fn counting_health() -> (HealthFn, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let f: HealthFn = Arc::new(move || {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        json!({ "registrations": 3, "calls": 1, "asked": n })
    });
    (f, calls)
}

#[tokio::test]
async fn health_merges_the_closure_and_unknown_paths_are_json_404() {
    let bound = api::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr();
    assert_ne!(addr.port(), 0);
    let (health, calls) = counting_health();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(health, async {
        let _ = stopped.await;
    }));

    let (status, body) = request(addr, "GET", "/health").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "registrations": 3, "calls": 1, "asked": 1})
    );
    let (_, body) = request(addr, "GET", "/health").await;
    assert_eq!(body["asked"], 2, "closure is called per request");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let (status, body) = request(addr, "GET", "/nope").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("/nope"), "{body}");

    let (status, body) = request(addr, "POST", "/health").await;
    assert_eq!(status, 405);
    assert!(body["error"].is_string());

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // The listener is gone after shutdown.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn closure_may_override_status_and_non_objects_become_detail() {
    let bound = api::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let health: HealthFn = Arc::new(|| json!("starting"));
    let server = tokio::spawn(bound.serve(health, async {
        let _ = stopped.await;
    }));
    let (_, body) = request(addr, "GET", "/health").await;
    assert_eq!(body, json!({"status": "ok", "detail": "starting"}));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();

    let bound = api::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let health: HealthFn = Arc::new(|| json!({"status": "degraded"}));
    let server = tokio::spawn(bound.serve(health, async {
        let _ = stopped.await;
    }));
    let (_, body) = request(addr, "GET", "/health").await;
    assert_eq!(body, json!({"status": "degraded"}));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn busy_port_fails_at_bind_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let health: HealthFn = Arc::new(|| Value::Null);
    let err = api::serve(addr, health, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Bind { .. }));
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
}
