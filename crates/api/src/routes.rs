//! Routes and their handlers. Every answer, errors included, is JSON.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

/// Supplies the live part of `/health` (e.g. registration and call counts).
pub type HealthFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// The whole API as a router, for embedding or for tests without a socket.
pub fn router(health: HealthFn) -> Router {
    Router::new()
        .route("/health", get(health_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(health)
}

/// `{"status":"ok"}` merged with what the closure returns; its keys win, so the
/// switch may report `"status":"degraded"`. A non-object lands under `detail`.
async fn health_handler(State(health): State<HealthFn>) -> Json<Value> {
    let mut body = Map::new();
    body.insert("status".into(), Value::from("ok"));
    match health() {
        Value::Object(extra) => body.extend(extra),
        Value::Null => {}
        other => {
            body.insert("detail".into(), other);
        }
    }
    Json(Value::Object(body))
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no such resource: {}", uri.path()),
    )
}

async fn method_not_allowed(uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed on {}", uri.path()),
    )
}
