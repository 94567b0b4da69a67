//! Trunks (`/api/v1/trunks`): peers recognised by their source address.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::state::ApiState;
use store::{validate, NewTrunk, Store, Trunk};

/// A trunk: a peer recognised by its source address.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkOut {
    pub name: String,
    /// IP address literal.
    pub host: String,
    /// Source port; null matches any.
    pub port: Option<u16>,
    pub context: String,
}

/// A new trunk.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkIn {
    /// `[0-9A-Za-z_.-]{1,32}`.
    pub name: String,
    /// IP address literal (IPv4 or IPv6).
    pub host: String,
    /// 1 to 65535; absent matches any source port.
    pub port: Option<u16>,
    /// Defaults to `from-trunk`.
    pub context: Option<String>,
}

fn trunk_out(t: Trunk) -> TrunkOut {
    TrunkOut {
        name: t.name,
        host: t.host.to_string(),
        port: t.port,
        context: t.context,
    }
}

#[utoipa::path(get, path = "/api/v1/trunks", tag = "trunks",
    responses((status = 200, body = Vec<TrunkOut>)))]
pub(crate) async fn list_trunks(State(s): State<ApiState>) -> ApiResult<Json<Vec<TrunkOut>>> {
    let list = store(&s)?.list_trunks().await?;
    Ok(Json(list.into_iter().map(trunk_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/trunks", tag = "trunks", request_body = TrunkIn,
    responses((status = 201, body = TrunkOut), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn add_trunk(
    State(s): State<ApiState>,
    Body(req): Body<TrunkIn>,
) -> ApiResult<(StatusCode, Json<TrunkOut>)> {
    let st = store(&s)?;
    check("name", validate::trunk_name(&req.name))?;
    let host: IpAddr = req.host.trim().parse().map_err(|_| {
        Failure::bad(
            "host",
            format!("host {:?} is not an IP address literal", req.host),
        )
    })?;
    if req.port == Some(0) {
        return Err(Failure::bad(
            "port",
            "port must be 1 to 65535, or left out to match any port",
        ));
    }
    if let Some(c) = &req.context {
        check("context", validate::context(c))?;
    }
    st.add_trunk(&NewTrunk {
        name: req.name.clone(),
        host,
        port: req.port,
        context: req.context,
    })
    .await?;
    let t = find_trunk(st, &req.name).await?;
    Ok((StatusCode::CREATED, Json(trunk_out(t))))
}

async fn find_trunk(st: &Store, name: &str) -> ApiResult<Trunk> {
    st.list_trunks()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Failure::not_found(format!("trunk {name:?} does not exist")))
}

#[utoipa::path(get, path = "/api/v1/trunks/{name}", tag = "trunks",
    params(("name" = String, Path)),
    responses((status = 200, body = TrunkOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_trunk(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<Json<TrunkOut>> {
    Ok(Json(trunk_out(find_trunk(store(&s)?, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/trunks/{name}", tag = "trunks",
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_trunk(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.delete_trunk(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("trunk {name:?} does not exist")))
    }
}
