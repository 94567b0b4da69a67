//! Inbound monitoring rules (`/api/v1/rules`): which groups a call from a trunk to
//! a number range joins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, check_group_name, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::state::ApiState;
use store::{validate, MonitorRule, Store};

/// An inbound monitoring rule: calls from `trunk` (any trunk if null) to a number in
/// `low..=high` get `groups` added to their `SPYGROUP`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub trunk: Option<String>,
    pub low: String,
    pub high: String,
    pub groups: Vec<String>,
}

/// A new rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    pub trunk: Option<String>,
    /// Lowest number of the range.
    pub low: String,
    /// Highest number of the range.
    pub high: String,
    /// One or more group names.
    pub groups: Vec<String>,
}

fn rule_out(r: MonitorRule) -> RuleOut {
    RuleOut {
        id: r.id,
        trunk: r.trunk,
        low: r.low,
        high: r.high,
        groups: r.groups,
    }
}

fn rule_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| Failure::bad("id", format!("rule id {id:?} is not a number")))
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = Vec<RuleOut>)))]
pub(crate) async fn list_rules(State(s): State<ApiState>) -> ApiResult<Json<Vec<RuleOut>>> {
    let list = store(&s)?.rule_list().await?;
    Ok(Json(list.into_iter().map(rule_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 400, body = ErrorBody),
              (status = 404, description = "no such trunk or group", body = ErrorBody)))]
pub(crate) async fn add_rule(
    State(s): State<ApiState>,
    Body(req): Body<RuleIn>,
) -> ApiResult<(StatusCode, Json<RuleOut>)> {
    let st = store(&s)?;
    if let Some(t) = &req.trunk {
        check("trunk", validate::trunk_name(t))?;
    }
    check("low", validate::range_end("low", &req.low))?;
    check("high", validate::range_end("high", &req.high))?;
    check("high", validate::range(&req.low, &req.high))?;
    if req.groups.is_empty() {
        return Err(Failure::bad(
            "groups",
            "groups must name at least one group",
        ));
    }
    for (i, g) in req.groups.iter().enumerate() {
        check_group_name(&format!("groups[{i}]"), g)?;
    }
    let id = st
        .rule_add(req.trunk.as_deref(), &req.low, &req.high, &req.groups)
        .await?;
    let rule = find_rule(st, id).await?;
    Ok((StatusCode::CREATED, Json(rule_out(rule))))
}

async fn find_rule(st: &Store, id: i64) -> ApiResult<MonitorRule> {
    st.rule_list()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Failure::not_found(format!("rule {id} does not exist")))
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn get_rule(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<Json<RuleOut>> {
    let id = rule_id(&id)?;
    Ok(Json(rule_out(find_rule(store(&s)?, id).await?)))
}

#[utoipa::path(delete, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_rule(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<StatusCode> {
    let id = rule_id(&id)?;
    if store(&s)?.rule_del(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("rule {id} does not exist")))
    }
}
