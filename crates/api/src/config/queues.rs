//! Queues and agents (`/api/v1/queues`, `/api/v1/agents`): the stored settings
//! and members, the live floor (waiting callers, agent states) when a switch
//! runs, and statistics from the queue log. Changes go through the CLI
//! (`spygroup queue …`, `spygroup agent …`) or the feature codes for now.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::store;
use crate::fail::{ApiResult, ErrorBody, Failure, PathArg, QueryMap};
use crate::state::ApiState;
use model::{
    AgentState, AgentStats, LiveQueue, QueueFloor, QueueMember, QueueSettings, QueueStats,
};

/// A queue: its settings, members and, with a switch running, its live state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    pub settings: QueueSettings,
    pub members: Vec<QueueMember>,
    /// Waiting callers in order (null without a running switch).
    pub live: Option<LiveQueue>,
}

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

/// Statistics of a queue and its agents over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub since_ms: i64,
    pub until_ms: i64,
    pub queue: QueueStats,
    pub agents: Vec<AgentStats>,
}

fn floor(s: &ApiState) -> Option<QueueFloor> {
    s.live.as_ref().and_then(|l| l.queue_floor())
}

#[utoipa::path(get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, body = Vec<QueueOut>)))]
pub(crate) async fn list_queues(State(s): State<ApiState>) -> ApiResult<Json<Vec<QueueOut>>> {
    let list = store(&s)?.queue_list().await?;
    let live = floor(&s);
    Ok(Json(
        list.into_iter()
            .map(|(settings, members)| QueueOut {
                live: live.as_ref().map(|f| {
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
            })
            .collect(),
    ))
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

#[utoipa::path(get, path = "/api/v1/agents", tag = "queues",
    responses((status = 200, body = Vec<AgentOut>)))]
pub(crate) async fn list_agents(State(s): State<ApiState>) -> ApiResult<Json<Vec<AgentOut>>> {
    let list = store(&s)?.queue_list().await?;
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
    if let Some(f) = floor(&s) {
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
    Ok(Json(out))
}
