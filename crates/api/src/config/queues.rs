//! Queues (`/api/v1/queues`): the stored settings and static members, the live
//! floor (waiting callers) when a switch runs, statistics from the queue log,
//! and the same changes as `spygroup queue …`. A running switch picks changes
//! up with its next snapshot; member changes are logged as Asterisk's
//! ADDMEMBER/REMOVEMEMBER and announced as `queue.log` events.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check, store};
use crate::fail::{
    from_json, ApiResult, Body, ErrorBody, Failure, OptionalBody, PathArg, QueryMap,
};
use crate::state::ApiState;
use model::{
    AgentStats, LiveQueue, QueueFloor, QueueMember, QueuePatch, QueueSettings, QueueStats,
};
use store::validate;

/// A queue: its settings, members and, with a switch running, its live state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    pub settings: QueueSettings,
    pub members: Vec<QueueMember>,
    /// Waiting callers in order (null without a running switch).
    pub live: Option<LiveQueue>,
}

/// Statistics of a queue and its agents over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub since_ms: i64,
    pub until_ms: i64,
    pub queue: QueueStats,
    pub agents: Vec<AgentStats>,
}

/// A new queue: its name and any settings that differ from Asterisk's defaults
/// (the members of [`QueuePatch`]). The handler splits `name` off and reads the
/// rest as a patch, so a bad setting is a `400` naming it.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // the schema of the body; see add_queue
pub struct QueueIn {
    /// Digits, so phones can dial it (`*7<name>`, `*45<name>`).
    pub name: String,
    #[serde(flatten)]
    pub settings: QueuePatch,
}

/// A static member to add, or whose penalty to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// Lower rings first (default 0).
    #[serde(default)]
    pub penalty: u32,
}

/// A member's join: 201 and its ADDMEMBER line announced when it is new, 200 when
/// it was a member already (only its penalty changed).
pub(crate) fn joined(s: &ApiState, added: Option<model::QueueLogEntry>) -> StatusCode {
    match added {
        Some(line) => {
            announce(s, &[line]);
            StatusCode::CREATED
        }
        None => StatusCode::OK,
    }
}

/// Tells event subscribers about queue log lines a change wrote.
pub(crate) fn announce(s: &ApiState, lines: &[model::QueueLogEntry]) {
    if let Some(live) = &s.live {
        live.queue_logged(lines);
    }
}

pub(crate) fn floor(s: &ApiState) -> Option<QueueFloor> {
    s.live.as_ref().and_then(|l| l.queue_floor())
}

fn queue_out(
    settings: QueueSettings,
    members: Vec<QueueMember>,
    live: Option<&QueueFloor>,
) -> QueueOut {
    QueueOut {
        live: live.map(|f| {
            f.queues
                .iter()
                .find(|q| q.name == settings.name)
                .cloned()
                .unwrap_or(LiveQueue {
                    name: settings.name.clone(),
                    waiting: Vec::new(),
                    longest_wait_secs: 0,
                })
        }),
        settings,
        members,
    }
}

/// One queue as [`QueueOut`], or a `404`.
async fn find_queue(s: &ApiState, name: &str) -> ApiResult<QueueOut> {
    let (settings, members) = store(s)?
        .queue_list()
        .await?
        .into_iter()
        .find(|(q, _)| q.name == name)
        .ok_or_else(|| Failure::not_found(format!("queue {name:?} does not exist")))?;
    Ok(queue_out(settings, members, floor(s).as_ref()))
}

#[utoipa::path(get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, body = Vec<QueueOut>)))]
pub(crate) async fn list_queues(State(s): State<ApiState>) -> ApiResult<Json<Vec<QueueOut>>> {
    let list = store(&s)?.queue_list().await?;
    let live = floor(&s);
    Ok(Json(
        list.into_iter()
            .map(|(settings, members)| queue_out(settings, members, live.as_ref()))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/queues", tag = "queues", request_body = QueueIn,
    responses((status = 201, body = QueueOut), (status = 400, body = ErrorBody),
              (status = 409, description = "the name is taken", body = ErrorBody)))]
pub(crate) async fn add_queue(
    State(s): State<ApiState>,
    Body(mut req): Body<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<(StatusCode, Json<QueueOut>)> {
    let name = match req.remove("name") {
        Some(serde_json::Value::String(n)) => n,
        Some(_) => return Err(Failure::bad("name", "name must be a string of digits")),
        None => return Err(Failure::bad("name", "missing field `name`")),
    };
    check("name", validate::queue_name(&name))?;
    let patch: QueuePatch = from_json(serde_json::Value::Object(req))?;
    let mut q = QueueSettings::new(&name);
    patch.apply(&mut q);
    store(&s)?.queue_add(&q).await?;
    Ok((StatusCode::CREATED, Json(find_queue(&s, &name).await?)))
}

#[utoipa::path(get, path = "/api/v1/queues/{name}", tag = "queues",
    params(("name" = String, Path)),
    responses((status = 200, body = QueueOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_queue(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<Json<QueueOut>> {
    Ok(Json(find_queue(&s, &name).await?))
}

#[utoipa::path(patch, path = "/api/v1/queues/{name}", tag = "queues",
    params(("name" = String, Path)), request_body = QueuePatch,
    responses((status = 200, description = "the queue as it is now", body = QueueOut),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update_queue(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
    Body(patch): Body<QueuePatch>,
) -> ApiResult<Json<QueueOut>> {
    let st = store(&s)?;
    let mut q = st.queue_get(&name).await?;
    patch.apply(&mut q);
    st.queue_set(&q).await?;
    Ok(Json(find_queue(&s, &name).await?))
}

#[utoipa::path(delete, path = "/api/v1/queues/{name}", tag = "queues",
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted with its members (its queue log stays)"),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_queue(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.queue_delete(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("queue {name:?} does not exist")))
    }
}

#[utoipa::path(put, path = "/api/v1/queues/{name}/members/{extension}", tag = "queues",
    params(("name" = String, Path), ("extension" = String, Path)), request_body = MemberIn,
    responses((status = 201, description = "added as a static member", body = QueueOut),
              (status = 200, description = "already a member: its penalty changed", body = QueueOut),
              (status = 400, body = ErrorBody),
              (status = 404, description = "no such queue or extension", body = ErrorBody)))]
pub(crate) async fn put_member(
    State(s): State<ApiState>,
    PathArg((name, extension)): PathArg<(String, String)>,
    OptionalBody(req): OptionalBody<MemberIn>,
) -> ApiResult<(StatusCode, Json<QueueOut>)> {
    check("extension", validate::extension_number(&extension))?;
    let added = store(&s)?
        .member_join(&name, &extension, req.penalty, false)
        .await?;
    let status = joined(&s, added);
    Ok((status, Json(find_queue(&s, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/queues/{name}/members/{extension}", tag = "queues",
    params(("name" = String, Path), ("extension" = String, Path)),
    responses((status = 204, description = "removed (static or logged in)"),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_member(
    State(s): State<ApiState>,
    PathArg((name, extension)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    let line = store(&s)?.member_remove(&name, &extension).await?;
    announce(&s, &[line]);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/queues/{name}/stats", tag = "queues",
    params(("name" = String, Path),
        ("since" = Option<u64>, Query, description = "from (epoch ms); default 24 h before until"),
        ("until" = Option<u64>, Query, description = "until (epoch ms); default now")),
    responses((status = 200, body = StatsOut), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn queue_stats(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
    q: QueryMap,
) -> ApiResult<Json<StatsOut>> {
    let st = store(&s)?;
    if st.queue_get(&name).await.is_err() {
        return Err(Failure::not_found(format!("queue {name:?} does not exist")));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let until: u64 = q.number("until")?.unwrap_or(now);
    let since: u64 = q
        .number("since")?
        .unwrap_or(until.saturating_sub(86_400_000));
    if since > until {
        return Err(Failure::bad(
            "until",
            format!("until={until} is before since={since}"),
        ));
    }
    let (since_ms, until_ms) = (since as i64, until as i64);
    let (queues, agents) = st.queue_stats(Some(&name), since_ms, until_ms).await?;
    let queue = queues.into_iter().next().unwrap_or_default();
    Ok(Json(StatsOut {
        since_ms,
        until_ms,
        queue,
        agents,
    }))
}
