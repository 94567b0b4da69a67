//! Spy groups (`/api/v1/groups`) and their members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, check_group_name, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::state::ApiState;
use store::{validate, SpyGroup, Store};

/// A spy group with its member extensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub name: String,
    pub description: Option<String>,
    /// Extension numbers.
    pub members: Vec<String>,
    /// What the parties of a monitored call in the group are told: `none`,
    /// `agent`, `both` or `announce`.
    pub notice: String,
    /// Seconds between reminder beeps while monitored (0: none).
    pub notice_every_s: u32,
}

/// A group's notice policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeIn {
    /// `none`, `agent` (a beep to the agent), `both` (a beep to both) or
    /// `announce` ("this call is being monitored", to both).
    pub notice: String,
    /// A reminder beep every so many seconds while monitored (0 or absent: none;
    /// at most 3600).
    #[serde(default)]
    pub every_s: u32,
}

/// A new spy group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIn {
    /// Group name as used in `SPYGROUP` and ChanSpy's `g()` option.
    pub name: String,
    pub description: Option<String>,
}

/// A new member of a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// Extension number.
    pub extension: String,
}

fn group_out(g: SpyGroup) -> GroupOut {
    GroupOut {
        name: g.name,
        description: g.description,
        members: g.members,
        notice: g.notice.notice.as_str().to_string(),
        notice_every_s: g.notice.every_s,
    }
}

async fn find_group(st: &Store, name: &str) -> ApiResult<SpyGroup> {
    st.group_list()
        .await?
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| Failure::not_found(format!("spy group {name:?} does not exist")))
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups",
    responses((status = 200, body = Vec<GroupOut>)))]
pub(crate) async fn list_groups(State(s): State<ApiState>) -> ApiResult<Json<Vec<GroupOut>>> {
    let list = store(&s)?.group_list().await?;
    Ok(Json(list.into_iter().map(group_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = GroupIn,
    responses((status = 201, body = GroupOut), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn add_group(
    State(s): State<ApiState>,
    Body(req): Body<GroupIn>,
) -> ApiResult<(StatusCode, Json<GroupOut>)> {
    let st = store(&s)?;
    check_group_name("name", &req.name)?;
    if let Some(d) = &req.description {
        check("description", validate::group_description(d))?;
    }
    st.group_add(&req.name, req.description.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(group_out(find_group(st, &req.name).await?)),
    ))
}

#[utoipa::path(get, path = "/api/v1/groups/{name}", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 200, body = GroupOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_group(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<Json<GroupOut>> {
    Ok(Json(group_out(find_group(store(&s)?, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted, with its memberships"),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_group(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.group_del(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "spy group {name:?} does not exist"
        )))
    }
}

#[utoipa::path(put, path = "/api/v1/groups/{name}/notice", tag = "groups",
    params(("name" = String, Path)), request_body = NoticeIn,
    responses((status = 200, description = "the group with its policy", body = GroupOut),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn set_notice(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
    Body(req): Body<NoticeIn>,
) -> ApiResult<Json<GroupOut>> {
    let st = store(&s)?;
    let notice = req
        .notice
        .parse::<store::Notice>()
        .map_err(Failure::field("notice"))?;
    let policy = store::GroupNotice {
        notice,
        every_s: req.every_s,
    };
    if !st.group_notice(&name, policy).await? {
        return Err(Failure::not_found(format!(
            "spy group {name:?} does not exist"
        )));
    }
    Ok(Json(group_out(find_group(st, &name).await?)))
}

#[utoipa::path(get, path = "/api/v1/groups/{name}/members", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 200, description = "member extension numbers", body = Vec<String>),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn list_members(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(find_group(store(&s)?, &name).await?.members))
}

#[utoipa::path(post, path = "/api/v1/groups/{name}/members", tag = "groups",
    params(("name" = String, Path)), request_body = MemberIn,
    responses((status = 201, description = "the group with its new member", body = GroupOut),
              (status = 400, body = ErrorBody),
              (status = 404, description = "no such group or extension", body = ErrorBody),
              (status = 409, description = "already a member", body = ErrorBody)))]
pub(crate) async fn add_member(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
    Body(req): Body<MemberIn>,
) -> ApiResult<(StatusCode, Json<GroupOut>)> {
    let st = store(&s)?;
    check("extension", validate::extension_number(&req.extension))?;
    st.group_member_add(&name, &req.extension).await?;
    Ok((
        StatusCode::CREATED,
        Json(group_out(find_group(st, &name).await?)),
    ))
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}/members/{extension}", tag = "groups",
    params(("name" = String, Path), ("extension" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_member(
    State(s): State<ApiState>,
    PathArg((name, ext)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    if store(&s)?.group_member_del(&name, &ext).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "extension {ext:?} is not a member of spy group {name:?}"
        )))
    }
}
