//! `/console`: the supervisors' web console, served from this binary (its page,
//! script and style are compiled in: no CDN, works offline), and its sign-in.
//!
//! A browser signs in with an extension's number and secret (a supervisor) or with
//! an API token (its scope: read, supervise or admin), and gets a session cookie
//! (HttpOnly, SameSite=Strict). The page then uses the same `/api/v1` as every
//! other client, the cookie standing in for the bearer token: every GET with it is
//! checked as the session's token would be, every change also needs the session's
//! CSRF token in `X-CSRF-Token`, and the event stream must come from the console's
//! own origin. What the page shows and offers follows `GET /console/session`:
//! scope, supervisor and the modes of the grant.

mod sessions;

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calls::live;
use crate::config::store;
use crate::fail::{ApiResult, Body, ErrorBody, Failure};
use crate::state::ApiState;
use store::{ApiToken, Grant, GroupScope, TokenScope};

pub use sessions::{Principal, Session, Sessions, IDLE, LIFETIME};

/// The session cookie's name.
pub const COOKIE: &str = "spygroup_session";
/// The header a change from the console carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Scripts and styles only from here, no framing, no foreign connections.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; media-src 'self' blob:; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

// ---------------------------------------------------------------- cookies, CSRF

/// The session id from the `Cookie` header, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Set on every request that came over HTTPS (by the HTTPS server's layer): the
/// session cookie is then `Secure`, so the browser never sends it in clear.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

fn set_cookie(id: &str, secure: bool) -> HeaderValue {
    let v = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("spygroup_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Equality that takes the same time wherever the inputs differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| same_secret(v, &session.csrf))
}

/// A browser's request from a page of this server: `Origin` absent (a same-origin
/// GET) or naming the `Host` the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

// ---------------------------------------------------------------- who a session is

/// The token a session acts with, and the supervisor grant behind it.
struct Acting {
    token: ApiToken,
    grant: Option<Grant>,
    who: String,
}

/// Looks the session's principal up again: a revoked token or grant ends it.
async fn acting(state: &ApiState, id: &str, session: &Session) -> Result<Acting, Failure> {
    let db = store(state)?;
    match &session.principal {
        Principal::Token { secret } => {
            let Some(token) = db.token_verify(secret).await? else {
                state.sessions.remove(id);
                return Err(Failure::unauthorized(
                    "the API token this console session signed in with was revoked; sign in again",
                ));
            };
            let grant = match &token.supervisor {
                Some(ext) => db.supervisor_get(ext).await?,
                None => None,
            };
            let who = match &token.supervisor {
                Some(ext) => format!("{} token {} (supervisor {ext})", token.scope, token.id),
                None => format!("{} token {}", token.scope, token.id),
            };
            Ok(Acting { token, grant, who })
        }
        Principal::Extension { number, name } => {
            let Some(grant) = db.supervisor_get(number).await? else {
                state.sessions.remove(id);
                return Err(Failure::unauthorized(format!(
                    "extension {number} is no longer a supervisor; this console session ended"
                )));
            };
            let who = match name {
                Some(n) => format!("{number} ({n})"),
                None => number.clone(),
            };
            let token = ApiToken {
                id: format!("console-{number}"),
                scope: TokenScope::Supervise,
                supervisor: Some(number.clone()),
                created_at: SystemTime::now(),
                last_used: None,
            };
            Ok(Acting {
                token,
                grant: Some(grant),
                who,
            })
        }
    }
}

/// Set on a request authenticated by a session cookie: the session's id (the
/// event stream closes when the session ends).
#[derive(Debug, Clone)]
pub(crate) struct SessionId(pub String);

/// The token a request authenticated by the session cookie `id` acts with
/// (for `auth::require_token`).
pub(crate) async fn session_token(
    state: &ApiState,
    id: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<ApiToken, Failure> {
    let Some(session) = state.sessions.get(id, Instant::now()) else {
        return Err(Failure::unauthorized(
            "this console session has ended (signed out, or unused for an hour); sign in again",
        ));
    };
    let changes = !matches!(*method, Method::GET | Method::HEAD);
    if changes && !csrf_ok(headers, &session) {
        return Err(Failure::forbidden(
            "a change made with a console session needs the session's X-CSRF-Token header",
        ));
    }
    if !same_origin(headers) {
        return Err(Failure::forbidden(format!(
            "a console session is only good on pages of this server, not from {}",
            headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("another origin")
        )));
    }
    Ok(acting(state, id, &session).await?.token)
}

// ---------------------------------------------------------------- the endpoints

/// Sign-in: an extension and its secret, or an API token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInIn {
    /// A supervisor's extension number (with `secret`).
    #[serde(default)]
    pub extension: Option<String>,
    /// The extension's SIP secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// An API token (instead of `extension` and `secret`).
    #[serde(default)]
    pub token: Option<String>,
}

/// A console session: who it is, and what the page may offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// In words: `201 (Alice)`, `admin token 1a2b...`.
    pub who: String,
    /// `read`, `supervise` or `admin`.
    pub scope: String,
    /// The supervisor extension the session monitors as (None: a read or admin
    /// token; an admin names the supervisor on each request).
    pub supervisor: Option<String>,
    /// The monitoring modes it may start (empty for read).
    pub modes: Vec<String>,
    /// The spy groups of its grant (`["all"]` for every group and for admin).
    pub groups: Vec<String>,
    /// Queues of its grant.
    pub queues: Vec<String>,
    /// Send back in `X-CSRF-Token` with every change.
    pub csrf: String,
    /// Seconds without a request after which the session ends.
    pub idle_timeout_s: u64,
}

fn session_out(acting: Acting, csrf: String) -> SessionOut {
    let (modes, groups, queues) = match (acting.token.scope, acting.grant) {
        (TokenScope::Read, _) | (TokenScope::Supervise, None) => (vec![], vec![], vec![]),
        (TokenScope::Admin, _) => (
            model::SpyMode::ALL
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            vec!["all".to_string()],
            vec![],
        ),
        (TokenScope::Supervise, Some(g)) => (
            g.modes.iter().map(|m| m.as_str().to_string()).collect(),
            match g.groups {
                GroupScope::All => vec!["all".to_string()],
                GroupScope::Groups(v) => v,
            },
            g.queues,
        ),
    };
    SessionOut {
        who: acting.who,
        scope: acting.token.scope.as_str().to_string(),
        supervisor: acting.token.supervisor,
        modes,
        groups,
        queues,
        csrf,
        idle_timeout_s: IDLE.as_secs(),
    }
}

/// The address a request came from (absent only in tests without one).
pub(crate) struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        Ok(PeerIp(
            crate::auth::peer_addr(&parts.extensions).map(|a| a.ip()),
        ))
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

const REFUSED: &str = "wrong extension or secret";

#[utoipa::path(post, path = "/console/session", tag = "console", security(()),
    description = "Signs a browser in to the console: `extension` + `secret` (a supervisor's \
                   SIP credentials; wrong guesses count toward the same lockouts as SIP \
                   digest failures) or `token` (an API token). Sets the session cookie.",
    request_body = SignInIn,
    responses((status = 201, description = "signed in; `Set-Cookie` carries the session", body = SessionOut),
              (status = 400, body = ErrorBody),
              (status = 401, description = "wrong extension or secret (every refusal alike), or \
                                            an unknown token", body = ErrorBody),
              (status = 403, description = "the extension is not a supervisor, or the request \
                                            came from another site", body = ErrorBody)))]
pub(crate) async fn sign_in(
    State(s): State<ApiState>,
    PeerIp(ip): PeerIp,
    tls: Option<axum::Extension<OverTls>>,
    headers: HeaderMap,
    Body(req): Body<SignInIn>,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Err(Failure::forbidden(
            "sign in from the console's own page, not from another site",
        ));
    }
    let principal = match (req.extension, req.secret, req.token) {
        (None, None, Some(token)) => {
            crate::auth::bearer_token(&s, token.trim()).await?;
            Principal::Token {
                secret: token.trim().to_string(),
            }
        }
        (Some(ext), Some(secret), None) => {
            let ip = ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
            let user = live(&s)?
                .sign_in(ext.trim(), &secret, ip)
                .await
                .map_err(|e| Failure::new(StatusCode::SERVICE_UNAVAILABLE, e))?
                .ok_or_else(|| Failure::unauthorized(REFUSED))?;
            if !user.supervisor {
                return Err(Failure::forbidden(format!(
                    "extension {} is not a supervisor: the console is for supervisors \
                     (an administrator grants one with `spygroup supervisor grant`) and \
                     for API tokens",
                    user.extension
                )));
            }
            Principal::Extension {
                number: user.extension,
                name: user.name,
            }
        }
        (None, Some(_), None) => {
            return Err(Failure::bad(
                "extension",
                "give the extension with its secret",
            ))
        }
        (Some(_), None, None) => return Err(Failure::bad("secret", "give the extension's secret")),
        (None, None, None) => {
            return Err(Failure::bad(
                "body",
                "give `extension` and `secret`, or `token`",
            ))
        }
        _ => {
            return Err(Failure::bad(
                "token",
                "give either `extension` and `secret`, or `token`, not both",
            ))
        }
    };
    let (id, session) = s.sessions.create(principal, Instant::now());
    let who = acting(&s, &id, &session).await?;
    let mut r = (StatusCode::CREATED, Json(session_out(who, session.csrf))).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&id, tls.is_some()));
    Ok(no_store(r))
}

#[utoipa::path(get, path = "/console/session", tag = "console", security(()),
    description = "The browser's console session (from its cookie): who, scope, grant, CSRF token.",
    responses((status = 200, body = SessionOut),
              (status = 401, description = "not signed in, or the session ended", body = ErrorBody)))]
pub(crate) async fn current(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let id = session_cookie(&headers).ok_or_else(|| Failure::unauthorized("not signed in"))?;
    let session = s
        .sessions
        .get(&id, Instant::now())
        .ok_or_else(|| Failure::unauthorized("this console session has ended; sign in again"))?;
    let who = acting(&s, &id, &session).await?;
    Ok(no_store(
        Json(session_out(who, session.csrf)).into_response(),
    ))
}

#[utoipa::path(delete, path = "/console/session", tag = "console", security(()),
    description = "Signs out: the session ends at once (its event stream closes too).",
    responses((status = 204, description = "signed out"),
              (status = 403, description = "no X-CSRF-Token of the session", body = ErrorBody)))]
pub(crate) async fn sign_out(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(id) = session_cookie(&headers) {
        if let Some(session) = s.sessions.get(&id, Instant::now()) {
            if !csrf_ok(&headers, &session) {
                return Err(Failure::forbidden(
                    "signing out needs the session's X-CSRF-Token header",
                ));
            }
            s.sessions.remove(&id);
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    Ok(r)
}

#[cfg(test)]
mod tests;
