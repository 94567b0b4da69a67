//! Agents (`/api/v1/agents`): every member of a queue with its live state, and
//! what an agent does on the floor, as `spygroup agent …` and the feature codes
//! do it: log in to a queue and out, pause with a reason and unpause. Each
//! change is in the queue log (ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE), goes out
//! as a `queue.log` event, and reaches a running switch with its next snapshot.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::queues::{announce, floor, joined, MemberIn};
use super::{check, store};
use crate::fail::{ApiResult, ErrorBody, Failure, OptionalBody, PathArg, QueryMap};
use crate::state::ApiState;
use model::AgentState;
use store::validate;

/// An agent: an extension that is a member of a queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentOut {
    pub extension: String,
    pub queues: Vec<String>,
    /// Paused in every queue it is in.
    pub paused: bool,
    pub reason: String,
    /// Live state (null without a running switch).
    pub state: Option<AgentState>,
    pub calls_taken: u64,
    pub last_call_ms: i64,
}

/// A pause: why, and in which queue (left out: every queue the agent is in).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseIn {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub queue: Option<String>,
}

/// The queues a change touched.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuesOut {
    pub queues: Vec<String>,
}

/// Every agent (every member of a queue) with its live state.
async fn all_agents(s: &ApiState) -> ApiResult<Vec<AgentOut>> {
    let list = store(s)?.queue_list().await?;
    let mut by_ext: BTreeMap<String, AgentOut> = BTreeMap::new();
    for (q, members) in list {
        for m in members {
            let a = by_ext
                .entry(m.extension.clone())
                .or_insert_with(|| AgentOut {
                    extension: m.extension.clone(),
                    queues: Vec::new(),
                    paused: true,
                    reason: String::new(),
                    state: None,
                    calls_taken: 0,
                    last_call_ms: 0,
                });
            a.queues.push(q.name.clone());
            a.paused &= m.paused;
            if m.paused && a.reason.is_empty() {
                a.reason = m.reason.clone();
            }
        }
    }
    if let Some(f) = floor(s) {
        for live in f.agents {
            if let Some(a) = by_ext.get_mut(&live.extension) {
                a.state = Some(live.state);
                a.calls_taken = live.calls_taken;
                a.last_call_ms = live.last_call_ms;
            }
        }
    }
    let mut out: Vec<AgentOut> = by_ext.into_values().collect();
    for a in &mut out {
        if !a.paused {
            a.reason.clear();
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/agents", tag = "queues",
    responses((status = 200, body = Vec<AgentOut>)))]
pub(crate) async fn list_agents(State(s): State<ApiState>) -> ApiResult<Json<Vec<AgentOut>>> {
    Ok(Json(all_agents(&s).await?))
}

/// Announces a pause's lines; the queues they name.
fn changed(s: &ApiState, lines: Vec<model::QueueLogEntry>) -> QueuesOut {
    announce(s, &lines);
    QueuesOut {
        queues: lines.into_iter().map(|l| l.queue).collect(),
    }
}

/// One agent as [`AgentOut`] after a change.
async fn agent(s: &ApiState, extension: &str) -> ApiResult<AgentOut> {
    all_agents(s)
        .await?
        .into_iter()
        .find(|a| a.extension == extension)
        .ok_or_else(|| Failure::not_found(format!("{extension} is a member of no queue")))
}

#[utoipa::path(put, path = "/api/v1/agents/{extension}/queues/{queue}", tag = "queues",
    params(("extension" = String, Path), ("queue" = String, Path)), request_body = MemberIn,
    responses((status = 201, description = "logged in (a dynamic member)", body = AgentOut),
              (status = 200, description = "already a member: its penalty changed", body = AgentOut),
              (status = 400, body = ErrorBody),
              (status = 404, description = "no such queue or extension", body = ErrorBody)))]
pub(crate) async fn login(
    State(s): State<ApiState>,
    PathArg((extension, queue)): PathArg<(String, String)>,
    OptionalBody(req): OptionalBody<MemberIn>,
) -> ApiResult<(StatusCode, Json<AgentOut>)> {
    check("extension", validate::extension_number(&extension))?;
    check("queue", validate::queue_name(&queue))?;
    let added = store(&s)?
        .member_join(&queue, &extension, req.penalty, true)
        .await?;
    let status = joined(&s, added);
    Ok((status, Json(agent(&s, &extension).await?)))
}

#[utoipa::path(delete, path = "/api/v1/agents/{extension}/queues/{queue}", tag = "queues",
    params(("extension" = String, Path), ("queue" = String, Path)),
    responses((status = 204, description = "logged out"),
              (status = 404, body = ErrorBody),
              (status = 409, description = "a static member: the administrator removes it \
                 (`DELETE /queues/{queue}/members/{extension}`)", body = ErrorBody)))]
pub(crate) async fn logout(
    State(s): State<ApiState>,
    PathArg((extension, queue)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    let lines = store(&s)?.agent_logout(&extension, Some(&queue)).await?;
    announce(&s, &lines);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/agents/{extension}/pause", tag = "queues",
    params(("extension" = String, Path)), request_body = PauseIn,
    responses((status = 200, description = "paused in these queues", body = QueuesOut),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn pause(
    State(s): State<ApiState>,
    PathArg(extension): PathArg<String>,
    OptionalBody(req): OptionalBody<PauseIn>,
) -> ApiResult<Json<QueuesOut>> {
    let lines = store(&s)?
        .member_set_paused(req.queue.as_deref(), &extension, true, &req.reason)
        .await?;
    Ok(Json(changed(&s, lines)))
}

#[utoipa::path(delete, path = "/api/v1/agents/{extension}/pause", tag = "queues",
    params(("extension" = String, Path),
        ("queue" = Option<String>, Query, description = "only this queue; default every queue")),
    responses((status = 200, description = "unpaused in these queues", body = QueuesOut),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn unpause(
    State(s): State<ApiState>,
    PathArg(extension): PathArg<String>,
    q: QueryMap,
) -> ApiResult<Json<QueuesOut>> {
    let lines = store(&s)?
        .member_set_paused(q.text("queue"), &extension, false, "")
        .await?;
    Ok(Json(changed(&s, lines)))
}
