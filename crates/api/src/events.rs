//! `GET /api/v1/events`: the switch's live events over a WebSocket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::console::{SessionId, Sessions};
use crate::fail::{ErrorBody, Failure};
use crate::state::ApiState;

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    description = "WebSocket stream of live events, one JSON object per text frame, each \
                   with `seq` (+1 per event), `at` (epoch ms) and `type`. A client that \
                   falls behind gets `{\"type\":\"lagged\",\"missed\":N}` in place of the \
                   N events it lost. The token may be given as `?token=` since browsers \
                   cannot set headers on a WebSocket.",
    params(("token" = Option<String>, Query, description = "API token, if no Authorization header")),
    responses((status = 101, description = "switching to the WebSocket protocol"),
              (status = 400, description = "not a WebSocket upgrade request", body = ErrorBody),
              (status = 503, description = "no switch running", body = ErrorBody)))]
pub(crate) async fn events(
    State(s): State<ApiState>,
    session: Option<Extension<SessionId>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return Failure::new(e.status(), e.body_text()).into_response(),
    };
    let Some(live) = s.live.clone() else {
        return Failure::new(StatusCode::SERVICE_UNAVAILABLE, "no switch is running")
            .into_response();
    };
    // Subscribed before the upgrade completes, so nothing after this request is missed.
    let rx = live.subscribe();
    let session = session.map(|Extension(SessionId(id))| (s.sessions.clone(), id));
    ws.on_upgrade(move |socket| pump(socket, rx, session))
}

/// How often a stream opened by a console session checks that it still lives.
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// Forwards events until the client goes away, the switch stops, or the console
/// session it was opened with ends (signed out, expired, revoked).
async fn pump(
    mut socket: WebSocket,
    mut rx: Receiver<Arc<Value>>,
    session: Option<(Sessions, String)>,
) {
    let mut check = tokio::time::interval(SESSION_CHECK);
    loop {
        tokio::select! {
            _ = check.tick(), if session.is_some() => {
                if let Some((sessions, id)) = &session {
                    if !sessions.alive(id, Instant::now()) {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                }
            }
            ev = rx.recv() => {
                let text = match ev {
                    Ok(v) => v.to_string(),
                    Err(RecvError::Lagged(n)) => json!({ "type": "lagged", "missed": n }).to_string(),
                    Err(RecvError::Closed) => {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                // Pings are answered by the WebSocket layer; anything else is ignored.
                Some(Ok(_)) => {}
            }
        }
    }
}
