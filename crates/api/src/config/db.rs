//! AstDB key/value entries (`/api/v1/db`), the ones the dialplan reads with
//! `DB(family/key)`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, store};
use crate::auth::Caller;
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg, QueryMap};
use crate::state::ApiState;
use store::validate;

/// One AstDB entry (`DB(family/key)` in the dialplan).
#[derive(Debug, Serialize, ToSchema)]
pub struct KvEntry {
    pub family: String,
    pub key: String,
    pub value: String,
}

/// What a stored PIN (`argon2:…`, `sha256:…`) shows to a token below admin scope:
/// even salted, a PIN's hash is one dictionary of 10,000 entries away from it.
pub const HIDDEN: &str = "(hidden: a PIN hash; an admin token shows it)";

fn shown(caller: &Caller, value: String) -> String {
    if caller.0.scope != store::TokenScope::Admin && ::store::pins::is_secret(&value) {
        HIDDEN.to_string()
    } else {
        value
    }
}

/// A value to store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KvIn {
    pub value: String,
}

#[utoipa::path(get, path = "/api/v1/db", tag = "db",
    params(("family" = Option<String>, Query,
            description = "only this family and its sub-families (`family/...`)")),
    responses((status = 200, body = Vec<KvEntry>)))]
pub(crate) async fn list_kv(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: QueryMap,
) -> ApiResult<Json<Vec<KvEntry>>> {
    let rows = store(&s)?.db_show(q.text("family")).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(family, key, value)| KvEntry {
                family,
                key,
                value: shown(&caller, value),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path, description = "URL-encode a `/` in a sub-family as %2F"),
           ("key" = String, Path)),
    responses((status = 200, body = KvEntry), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_kv(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathArg((family, key)): PathArg<(String, String)>,
) -> ApiResult<Json<KvEntry>> {
    match store(&s)?.db_get(&family, &key).await? {
        Some(value) => Ok(Json(KvEntry {
            family,
            key,
            value: shown(&caller, value),
        })),
        None => Err(Failure::not_found(format!(
            "no database entry {family}/{key}"
        ))),
    }
}

#[utoipa::path(put, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path), ("key" = String, Path)), request_body = KvIn,
    responses((status = 200, description = "stored (created or replaced)", body = KvEntry),
              (status = 400, body = ErrorBody)))]
pub(crate) async fn put_kv(
    State(s): State<ApiState>,
    PathArg((family, key)): PathArg<(String, String)>,
    Body(req): Body<KvIn>,
) -> ApiResult<Json<KvEntry>> {
    let st = store(&s)?;
    check("family", validate::db_name("family", &family))?;
    check("key", validate::db_name("key", &key))?;
    if req.value.chars().count() > 4096 {
        return Err(Failure::bad(
            "value",
            "value must be at most 4096 characters",
        ));
    }
    st.db_put(&family, &key, &req.value).await?;
    Ok(Json(KvEntry {
        family,
        key,
        value: req.value,
    }))
}

#[utoipa::path(delete, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path), ("key" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_kv(
    State(s): State<ApiState>,
    PathArg((family, key)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    if store(&s)?.db_del(&family, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "no database entry {family}/{key}"
        )))
    }
}
