//! Routes and their handlers. Every answer, errors included, is JSON.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

/// Supplies the live part of `/health` (e.g. registration and call counts).
pub type HealthFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// Reloads the dialplan: Ok(warnings) or the errors that kept the old one.
pub type ReloadFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>> + Send + Sync>;

/// What the handlers reach.
#[derive(Clone)]
pub struct ApiState {
    pub health: HealthFn,
    pub reload: Option<ReloadFn>,
}

/// The whole API as a router, for embedding or for tests without a socket.
pub fn router(health: HealthFn) -> Router {
    router_with(ApiState {
        health,
        reload: None,
    })
}

/// The router with every hook the running server offers.
pub fn router_with(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(health_handler))
        .route("/api/v1/dialplan/reload", post(reload_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `POST /api/v1/dialplan/reload`: only from this machine until API tokens exist.
async fn reload_handler(State(state): State<ApiState>, req: axum::extract::Request) -> Response {
    let local = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(a)| a.ip().is_loopback());
    if !local {
        return error(
            StatusCode::FORBIDDEN,
            "dialplan reload is allowed from the PBX's own host only".into(),
        );
    }
    let Some(reload) = state.reload else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no switch to reload".into(),
        );
    };
    match reload().await {
        Ok(warnings) => Json(json!({ "reloaded": true, "warnings": warnings })).into_response(),
        Err(errors) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("dialplan not reloaded, the running one stays: {errors}"),
        ),
    }
}

/// `{"status":"ok"}` merged with what the closure returns; its keys win, so the
/// switch may report `"status":"degraded"`. A non-object lands under `detail`.
async fn health_handler(State(ApiState { health, .. }): State<ApiState>) -> Json<Value> {
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
