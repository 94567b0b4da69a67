//! Extensions (`/api/v1/extensions`): the phones that register, and the groups
//! each belongs to.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::state::ApiState;
use store::{validate, ExtensionUpdate, NewExtension};

/// An extension as the API shows it. Its secret is write-only: never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionOut {
    /// `[0-9A-Za-z_.-]{1,32}`, e.g. `110`.
    pub number: String,
    /// Display name (caller ID name).
    pub name: Option<String>,
    /// Dialplan context its calls start in.
    pub context: String,
    /// It may register and call only over SIP/TLS: a REGISTER or INVITE from it over
    /// UDP or TCP is refused with 403.
    pub require_tls: bool,
    /// Its calls must use SRTP: an offer from it without SDES crypto is refused with
    /// 488, and calls to it are offered RTP/SAVP only.
    pub require_srtp: bool,
    /// Said when a secret just given is weak (stored all the same): why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A new extension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionIn {
    /// `[0-9A-Za-z_.-]{1,32}`.
    pub number: String,
    /// SIP digest secret, 1 to 128 characters; stored only as HA1 hashes.
    pub secret: String,
    pub name: Option<String>,
    /// Defaults to `from-internal`.
    pub context: Option<String>,
    /// Only SIP/TLS from it (see the extension's `require_tls`); absent: false, so a
    /// client written before the field existed makes the same extension as before.
    #[serde(default)]
    #[schema(default = false)]
    pub require_tls: bool,
    /// SRTP only (see the extension's `require_srtp`); absent: false.
    #[serde(default)]
    #[schema(default = false)]
    pub require_srtp: bool,
}

/// Fields to change; absent ones stay as they are. `"name": ""` clears the name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPatch {
    pub secret: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub require_tls: Option<bool>,
    pub require_srtp: Option<bool>,
}

fn ext_out(e: store::Extension) -> ExtensionOut {
    ExtensionOut {
        number: e.number,
        name: e.name,
        context: e.context,
        require_tls: e.require_tls,
        require_srtp: e.require_srtp,
        warnings: Vec::new(),
    }
}

/// The warning about a weak secret just set, if it is one.
fn secret_warnings(number: &str, secret: Option<&str>) -> Vec<String> {
    secret
        .and_then(|s| validate::weak_secret(number, s))
        .map(|why| format!("weak secret: {why}; choose a longer, random one"))
        .into_iter()
        .collect()
}

fn check_ext_fields(
    secret: Option<&str>,
    name: Option<&str>,
    context: Option<&str>,
) -> ApiResult<()> {
    if let Some(s) = secret {
        check("secret", validate::secret(s))?;
    }
    if let Some(n) = name {
        check("name", validate::display_name(n))?;
    }
    if let Some(c) = context {
        check("context", validate::context(c))?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions",
    responses((status = 200, body = Vec<ExtensionOut>)))]
pub(crate) async fn list_extensions(
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<ExtensionOut>>> {
    let list = store(&s)?.list_extensions().await?;
    Ok(Json(list.into_iter().map(ext_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/extensions", tag = "extensions", request_body = ExtensionIn,
    responses((status = 201, body = ExtensionOut), (status = 400, body = ErrorBody),
              (status = 409, description = "the number is taken", body = ErrorBody)))]
pub(crate) async fn add_extension(
    State(s): State<ApiState>,
    Body(req): Body<ExtensionIn>,
) -> ApiResult<(StatusCode, Json<ExtensionOut>)> {
    let st = store(&s)?;
    check("number", validate::extension_number(&req.number))?;
    check_ext_fields(
        Some(&req.secret),
        req.name.as_deref(),
        req.context.as_deref(),
    )?;
    let warnings = secret_warnings(&req.number, Some(&req.secret));
    st.add_extension(&NewExtension {
        number: req.number.clone(),
        secret: req.secret,
        name: req.name,
        context: req.context,
        require_tls: req.require_tls,
        require_srtp: req.require_srtp,
    })
    .await?;
    let e = st
        .get_extension(&req.number)
        .await?
        .ok_or_else(|| Failure::not_found(format!("extension {:?} vanished", req.number)))?;
    Ok((
        StatusCode::CREATED,
        Json(ExtensionOut {
            warnings,
            ..ext_out(e)
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 200, body = ExtensionOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<Json<ExtensionOut>> {
    store(&s)?
        .get_extension(&number)
        .await?
        .map(|e| Json(ext_out(e)))
        .ok_or_else(|| Failure::not_found(format!("extension {number:?} does not exist")))
}

#[utoipa::path(patch, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)), request_body = ExtensionPatch,
    responses((status = 200, body = ExtensionOut), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn update_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
    Body(req): Body<ExtensionPatch>,
) -> ApiResult<Json<ExtensionOut>> {
    let st = store(&s)?;
    check("number", validate::extension_number(&number))?;
    // An empty name clears it, so only a non-empty one is checked.
    check_ext_fields(
        req.secret.as_deref(),
        req.name.as_deref().filter(|n| !n.is_empty()),
        req.context.as_deref(),
    )?;
    let warnings = secret_warnings(&number, req.secret.as_deref());
    st.update_extension(
        &number,
        &ExtensionUpdate {
            secret: req.secret,
            name: req.name,
            context: req.context,
            require_tls: req.require_tls,
            require_srtp: req.require_srtp,
        },
    )
    .await?;
    let Json(out) = get_extension(State(s), PathArg(number)).await?;
    Ok(Json(ExtensionOut { warnings, ..out }))
}

#[utoipa::path(delete, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.delete_extension(&number).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "extension {number:?} does not exist"
        )))
    }
}

#[utoipa::path(get, path = "/api/v1/extensions/{number}/groups", tag = "groups",
    params(("number" = String, Path)),
    responses((status = 200, description = "names of the groups the extension belongs to",
               body = Vec<String>)))]
pub(crate) async fn groups_of_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(store(&s)?.groups_of(&number).await?))
}
