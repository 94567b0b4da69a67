//! Supervisors (`/api/v1/supervisors`): the extensions allowed to monitor, with
//! the groups and modes of their grant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, check_group_name, parse_mode, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::state::ApiState;
use store::{validate, Grant, GroupScope};

/// Which groups a supervisor may monitor: `"all"` or a list of group names.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum GroupsJson {
    /// The literal `"all"`.
    All(String),
    /// Group names.
    Groups(Vec<String>),
}

/// A supervisor: an extension allowed to monitor, with its grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupervisorOut {
    pub extension: String,
    pub groups: GroupsJson,
    /// Any of `listen`, `whisper`, `barge`, `takeover`, `conference`.
    pub modes: Vec<String>,
    /// Queues whose answered calls the supervisor may monitor, whatever the
    /// agent's groups.
    pub queues: Vec<String>,
}

/// A grant to set (replacing any previous one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// Spy groups (or `"all"`); may be left out when `queues` names one.
    #[serde(default)]
    pub groups: Option<GroupsJson>,
    /// One or more of `listen`, `whisper`, `barge`, `takeover`, `conference`.
    pub modes: Vec<String>,
    /// Queues whose answered calls the supervisor may monitor.
    #[serde(default)]
    pub queues: Vec<String>,
}

fn supervisor_out(g: Grant) -> SupervisorOut {
    SupervisorOut {
        extension: g.extension,
        groups: match g.groups {
            GroupScope::All => GroupsJson::All("all".into()),
            GroupScope::Groups(v) => GroupsJson::Groups(v),
        },
        modes: g
            .modes
            .into_iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        queues: g.queues,
    }
}

#[utoipa::path(get, path = "/api/v1/supervisors", tag = "supervisors",
    responses((status = 200, body = Vec<SupervisorOut>)))]
pub(crate) async fn list_supervisors(
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<SupervisorOut>>> {
    let list = store(&s)?.supervisor_list().await?;
    Ok(Json(list.into_iter().map(supervisor_out).collect()))
}

#[utoipa::path(get, path = "/api/v1/supervisors/{extension}", tag = "supervisors",
    params(("extension" = String, Path)),
    responses((status = 200, body = SupervisorOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_supervisor(
    State(s): State<ApiState>,
    PathArg(ext): PathArg<String>,
) -> ApiResult<Json<SupervisorOut>> {
    store(&s)?
        .supervisor_get(&ext)
        .await?
        .map(|g| Json(supervisor_out(g)))
        .ok_or_else(|| Failure::not_found(format!("extension {ext:?} is not a supervisor")))
}

#[utoipa::path(put, path = "/api/v1/supervisors/{extension}", tag = "supervisors",
    params(("extension" = String, Path)), request_body = GrantIn,
    responses((status = 200, description = "the grant now in force", body = SupervisorOut),
              (status = 400, body = ErrorBody),
              (status = 404, description = "no such extension or group", body = ErrorBody)))]
pub(crate) async fn grant_supervisor(
    State(s): State<ApiState>,
    PathArg(ext): PathArg<String>,
    Body(req): Body<GrantIn>,
) -> ApiResult<Json<SupervisorOut>> {
    let st = store(&s)?;
    check("extension", validate::extension_number(&ext))?;
    for (i, q) in req.queues.iter().enumerate() {
        check(&format!("queues[{i}]"), validate::queue_name(q))?;
    }
    let groups = match req.groups {
        None if !req.queues.is_empty() => GroupScope::Groups(Vec::new()),
        None => {
            return Err(Failure::bad(
                "groups",
                "name groups (or \"all\"), queues, or both",
            ))
        }
        Some(GroupsJson::All(a)) if a == "all" => GroupScope::All,
        Some(GroupsJson::All(other)) => {
            return Err(Failure::bad(
                "groups",
                format!("groups {other:?} must be \"all\" or a list of group names"),
            ))
        }
        Some(GroupsJson::Groups(list)) => {
            if list.is_empty() && req.queues.is_empty() {
                return Err(Failure::bad(
                    "groups",
                    "groups must name at least one group, or be \"all\"",
                ));
            }
            for (i, g) in list.iter().enumerate() {
                check_group_name(&format!("groups[{i}]"), g)?;
            }
            GroupScope::Groups(list)
        }
    };
    if req.modes.is_empty() {
        return Err(Failure::bad(
            "modes",
            "modes must list at least one of listen, whisper, barge",
        ));
    }
    let mut modes = Vec::new();
    for (i, m) in req.modes.iter().enumerate() {
        let m = parse_mode(&format!("modes[{i}]"), m)?;
        if !modes.contains(&m) {
            modes.push(m);
        }
    }
    st.supervisor_grant(&Grant {
        extension: ext.clone(),
        groups,
        modes,
        queues: req.queues,
    })
    .await?;
    get_supervisor(State(s), PathArg(ext)).await
}

#[utoipa::path(delete, path = "/api/v1/supervisors/{extension}", tag = "supervisors",
    params(("extension" = String, Path)),
    responses((status = 204, description = "grant revoked"), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_supervisor(
    State(s): State<ApiState>,
    PathArg(ext): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.supervisor_revoke(&ext).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "extension {ext:?} is not a supervisor"
        )))
    }
}
