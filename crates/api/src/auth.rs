//! Bearer-token authentication and scope checks for everything under `/api/v1`.
//! A browser signed in to the console presents its session cookie instead; it acts
//! as the session's token (see `console`).
//!
//! - `read`: every `GET` (the event stream included);
//! - `supervise`: read, plus the monitor endpoints, only as the token's own supervisor;
//! - `admin`: everything.
//!
//! `POST /api/v1/dialplan/reload` also works without a token from the PBX's own host,
//! as the CLI's `spygroup dialplan reload` does, unless a browser sent it (a web page
//! could otherwise reload the dialplan from any visitor's machine running spygroup).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::fail::Failure;
use crate::state::ApiState;
use store::{ApiToken, TokenScope};

pub(crate) const RELOAD_PATH: &str = "/api/v1/dialplan/reload";
pub(crate) const EVENTS_PATH: &str = "/api/v1/events";
pub(crate) const CALL_MONITOR_PATH: &str = "/api/v1/calls/{id}/monitor";
pub(crate) const MONITOR_PATH: &str = "/api/v1/monitors/{id}";

/// The verified token of the request; absent only for the loopback reload.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiToken);

/// The least scope a request needs.
pub(crate) fn required_scope(method: &Method, path: &str) -> TokenScope {
    if method == Method::GET || method == Method::HEAD {
        TokenScope::Read
    } else if (path == CALL_MONITOR_PATH && method == Method::POST)
        || (path == MONITOR_PATH && (method == Method::PATCH || method == Method::DELETE))
    {
        TokenScope::Supervise
    } else {
        TokenScope::Admin
    }
}

/// What a request presented to authenticate.
pub(crate) enum Presented {
    /// `Authorization: Bearer <token>`, or `?token=` on the event stream
    /// (browsers cannot set headers on a WebSocket).
    Bearer(String),
    /// The console's session cookie (see `console`).
    Session(String),
    Nothing,
}

fn presented(req: &Request, path: &str) -> Result<Presented, Failure> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or("");
        let (scheme, secret) = text.split_once(' ').unwrap_or((text, ""));
        let secret = secret.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() {
            return Err(Failure::unauthorized(
                "the Authorization header must be `Bearer <token>`",
            ));
        }
        return Ok(Presented::Bearer(secret.to_string()));
    }
    if path == EVENTS_PATH {
        let query =
            axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(
                req.uri(),
            )
            .map(|q| q.0)
            .unwrap_or_default();
        if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
            return Ok(Presented::Bearer(t.clone()));
        }
    }
    Ok(
        crate::console::session_cookie(req.headers())
            .map_or(Presented::Nothing, Presented::Session),
    )
}

/// Sent by a browser: browsers put `Origin` on every POST and `Sec-Fetch-*` on
/// every request, the CLI neither. A web page open on the PBX's own host (any page
/// on the internet) must not reach the token-less loopback reload.
fn from_a_browser(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::ORIGIN)
        || h.contains_key("sec-fetch-site")
        || h.contains_key("sec-fetch-mode")
}

/// Where a request came from (absent only in tests that say nothing).
pub(crate) fn peer_addr(ext: &axum::http::Extensions) -> Option<SocketAddr> {
    // `MockConnectInfo` is axum's way for tests to say where a request came from.
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
        .or_else(|| {
            ext.get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|m| m.0)
        })
}

fn from_loopback(req: &Request) -> bool {
    peer_addr(req.extensions()).is_some_and(|a| a.ip().is_loopback())
}

/// Route-layer middleware: 401 without a valid token, 403 when its scope is too low.
pub(crate) async fn require_token(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    if path == RELOAD_PATH
        && !req.headers().contains_key(header::AUTHORIZATION)
        && from_loopback(&req)
        && !from_a_browser(&req)
    {
        return next.run(req).await;
    }
    let presented = match presented(&req, &path) {
        Ok(Presented::Session(id)) => {
            let (method, headers) = (req.method().clone(), req.headers().clone());
            let token = crate::console::session_token(&state, &id, &method, &headers).await;
            if token.is_ok() {
                req.extensions_mut().insert(crate::console::SessionId(id));
            }
            token
        }
        Ok(Presented::Bearer(secret)) => bearer_token(&state, &secret).await,
        Ok(Presented::Nothing) => Err(Failure::unauthorized(
            "this endpoint needs `Authorization: Bearer <token>`; create a token with \
             `spygroup token create --scope read|supervise|admin`",
        )),
        Err(f) => Err(f),
    };
    let method = req.method().clone();
    let shown = req.uri().path().to_string();
    match presented.and_then(|token| in_scope(token, &method, &path, &shown)) {
        Ok(token) => {
            req.extensions_mut().insert(Caller(token));
            next.run(req).await
        }
        Err(f) => f.into_response(),
    }
}

/// The token a bearer secret names.
pub(crate) async fn bearer_token(state: &ApiState, secret: &str) -> Result<ApiToken, Failure> {
    let Some(store) = &state.store else {
        return Err(Failure::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no database to check API tokens against",
        ));
    };
    store
        .token_verify(secret)
        .await?
        .ok_or_else(|| Failure::unauthorized("unknown or revoked API token"))
}

/// The token, if its scope covers the request.
fn in_scope(
    token: ApiToken,
    method: &Method,
    path: &str,
    shown: &str,
) -> Result<ApiToken, Failure> {
    let need = required_scope(method, path);
    if !token.scope.includes(need) {
        return Err(Failure::forbidden(format!(
            "this token's scope is {}; {} {} needs a {} token",
            token.scope, method, shown, need,
        )));
    }
    Ok(token)
}
