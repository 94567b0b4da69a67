//! Error answers (always JSON) and extractors whose rejections are JSON too.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use store::StoreError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong and, where it helps, what to do.
    pub error: String,
    /// For `400`: the request field (body member, path or query parameter) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A failed request: status, message and, for bad input, the field at fault.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// `400` naming the field at fault.
    pub fn bad(field: &str, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, message)
    }

    /// `401`; the answer carries `WWW-Authenticate: Bearer`.
    pub fn unauthorized(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::FORBIDDEN, message)
    }

    /// Converts a store error raised by a check on request field `field`: its
    /// `Invalid` becomes a `400` naming `field` rather than the store's wording.
    pub fn field(field: &str) -> impl FnOnce(StoreError) -> Failure + '_ {
        move |e| {
            let mut f = Failure::from(e);
            if f.status == StatusCode::BAD_REQUEST {
                f.field = Some(field.to_string());
            }
            f
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        match &e {
            StoreError::Invalid { field, .. } => Failure {
                status: StatusCode::BAD_REQUEST,
                message: e.to_string(),
                field: Some((*field).to_string()),
            },
            StoreError::Exists { .. } | StoreError::NotDynamic { .. } => {
                Failure::new(StatusCode::CONFLICT, e.to_string())
            }
            StoreError::NotFound { .. } => Failure::not_found(e.to_string()),
            _ => {
                tracing::error!("API request failed in the store: {e}");
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{e}; see the server log"),
                )
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            field: self.field,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, Failure>;

/// The largest request body accepted (configuration objects are small).
const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body. Unlike `axum::Json`, a malformed body answers a JSON `400`
/// that names the member at fault (`field`), e.g. `port` or `groups[1]`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Failure> {
        match parse_body(req).await? {
            Some(v) => Ok(Body(v)),
            None => Err(Failure::bad("body", "request body must be a JSON object")),
        }
    }
}

/// A JSON request body that may be left out: an empty body is `T::default()`
/// (`PUT /queues/400/members/110` with no penalty to give).
#[derive(Debug)]
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Failure> {
        Ok(OptionalBody(parse_body(req).await?.unwrap_or_default()))
    }
}

/// Reads and parses a JSON body; None when it is empty.
async fn parse_body<T: DeserializeOwned>(req: Request) -> Result<Option<T>, Failure> {
    let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {BODY_LIMIT} bytes"),
            )
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(body_error)?;
    de.end()
        .map_err(|e| Failure::bad("body", format!("bad request body: {e}")))?;
    Ok(Some(value))
}

/// Deserializes part of a body already read as JSON (what a handler splits off
/// itself), with the same `400` naming the member at fault as [`Body`].
pub fn from_json<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, Failure> {
    serde_path_to_error::deserialize(v).map_err(body_error)
}

fn body_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Failure {
    let path = e.path().to_string();
    let msg = e.into_inner().to_string();
    let field = if path != "." && !path.is_empty() {
        path
    } else {
        backticked(&msg).unwrap_or_else(|| "body".to_string())
    };
    Failure::bad(&field, format!("bad request body: {field}: {msg}"))
}

/// The first `` `name` `` in a serde message (`missing field `secret``).
fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// Path parameters with a JSON rejection.
#[derive(Debug)]
pub struct PathArg<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathArg<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathArg(v))
            .map_err(|e| Failure::bad("path", e.body_text()))
    }
}

/// Query parameters as a map, with a JSON rejection; handlers parse each value
/// themselves so a bad one is named.
#[derive(Debug, Default)]
pub struct QueryMap(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(m)| QueryMap(m))
            .map_err(|e| Failure::bad("query", e.body_text()))
    }
}

impl QueryMap {
    /// A numeric parameter: absent gives `None`; a bad value a `400` naming it.
    pub fn number<N: std::str::FromStr>(&self, name: &str) -> ApiResult<Option<N>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                Failure::bad(
                    name,
                    format!("query parameter {name}={v:?} is not a valid number"),
                )
            }),
        }
    }

    /// A text parameter; empty counts as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `limit`: default `default`, 1 to `max`.
    pub fn limit(&self, default: u32, max: u32) -> ApiResult<u32> {
        match self.number::<u32>("limit")? {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(Failure::bad(
                "limit",
                format!("limit={n} is out of range: must be 1 to {max}"),
            )),
        }
    }
}
