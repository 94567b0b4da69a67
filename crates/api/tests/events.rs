//! The live event stream over a real WebSocket.

mod common;

use std::time::Duration;

use common::{event, FakeLive, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("no error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn events_arrive_in_order_with_their_sequence_numbers() {
    let s = Server::start().await;
    let url = format!("ws://{}/api/v1/events?token={}", s.addr, s.read);
    let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    // The subscription exists once the upgrade is answered.
    for seq in 1..=20 {
        s.live.tx.send(event(seq, "call.start")).unwrap();
    }
    for seq in 1..=20u64 {
        let ev = next_json(&mut ws).await;
        assert_eq!(ev["seq"], seq);
        assert_eq!(ev["type"], "call.start");
        assert_eq!(ev["at"], 1_700_000_000_000u64 + seq);
    }
    ws.send(Message::Close(None)).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn header_token_works_and_a_missing_one_is_refused() {
    let s = Server::start().await;
    let mut req = format!("ws://{}/api/v1/events", s.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.sup201).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    s.live.tx.send(event(7, "registration")).unwrap();
    assert_eq!(next_json(&mut ws).await["seq"], 7);

    for url in [
        format!("ws://{}/api/v1/events", s.addr),
        format!("ws://{}/api/v1/events?token=bogus", s.addr),
    ] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 401);
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // A plain GET (no upgrade) gets a JSON error, not a hang.
    let r = s.get("/api/v1/events").await;
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    assert!(r.body["error"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn a_lagging_client_is_told_how_many_events_it_missed() {
    let live = FakeLive::new(4);
    *live.prelag.lock().unwrap() = (1..=10).map(|n| event(n, "call.end")).collect();
    let s = Server::start_with(live).await;
    let url = format!("ws://{}/api/v1/events?token={}", s.addr, s.admin);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "lagged", "missed": 6})
    );
    for seq in 7..=10u64 {
        assert_eq!(next_json(&mut ws).await["seq"], seq);
    }
    s.live.tx.send(event(11, "call.end")).unwrap();
    assert_eq!(next_json(&mut ws).await["seq"], 11);
    s.stop().await;
}
