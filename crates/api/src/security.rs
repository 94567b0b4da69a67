//! Locks against guessing (digest passwords, PINs): the ones in force, live from
//! the switch (read scope); their history, from the database (read scope); lifting
//! one (admin scope), which is itself recorded with the token that did it.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::calls::live;
use crate::fail::{ApiResult, ErrorBody, Failure, PathArg};
use crate::state::ApiState;

#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutsOut {
    pub lockouts: Vec<model::Lockout>,
}

/// One lock as recorded: in force, expired or lifted.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutRecordOut {
    /// The id of what was locked (as `GET /security/lockouts` shows it).
    pub id: String,
    pub kind: String,
    pub subject: String,
    /// Epoch milliseconds.
    pub since: u64,
    pub until: u64,
    pub count: u32,
    pub reason: String,
    pub lifted_at: Option<u64>,
    /// The token (`token:<id>`) that lifted it.
    pub lifted_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutHistoryOut {
    pub lockouts: Vec<LockoutRecordOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// How many, newest first (1 to 1000, default 100).
    pub limit: Option<u32>,
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn unavailable(why: String) -> Failure {
    Failure::new(StatusCode::SERVICE_UNAVAILABLE, why)
}

#[utoipa::path(get, path = "/api/v1/security/lockouts", tag = "security",
    description = "The locks in force against password and PIN guessing: a source, an \
                   extension under a distributed guess, an extension from its own \
                   known-good source, a caller entering wrong PINs, a PIN guessed at \
                   from many callers. Never shows a secret, a PIN or its hash.",
    responses((status = 200, body = LockoutsOut),
              (status = 503, description = "no switch running", body = ErrorBody)))]
pub(crate) async fn list_lockouts(State(s): State<ApiState>) -> ApiResult<Json<LockoutsOut>> {
    let lockouts = live(&s)?.lockouts().await.map_err(unavailable)?;
    Ok(Json(LockoutsOut { lockouts }))
}

#[utoipa::path(get, path = "/api/v1/security/lockouts/history", tag = "security",
    description = "Every lock on record, newest first, with who lifted it.",
    params(HistoryQuery),
    responses((status = 200, body = LockoutHistoryOut), (status = 400, body = ErrorBody)))]
pub(crate) async fn lockout_history(
    State(s): State<ApiState>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<LockoutHistoryOut>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Failure::bad("limit", "must be 1 to 1000"));
    }
    let store = s
        .store
        .as_ref()
        .ok_or_else(|| unavailable("no database".into()))?;
    let rows = store.lockout_history(limit).await?;
    Ok(Json(LockoutHistoryOut {
        lockouts: rows
            .into_iter()
            .map(|r| LockoutRecordOut {
                id: r.subject_id,
                kind: r.kind,
                subject: r.subject,
                since: ms(r.started_at),
                until: ms(r.until),
                count: r.count,
                reason: r.reason,
                lifted_at: r.lifted_at.map(ms),
                lifted_by: r.lifted_by,
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/security/lockouts/{id}", tag = "security",
    description = "Lifts a lock (its failures and backoff are forgotten too); recorded with \
                   the token that did it, and announced as `security.lockout_lifted`.",
    params(("id" = String, Path, description = "as `GET /api/v1/security/lockouts` shows it")),
    responses((status = 204, description = "lifted"),
              (status = 404, description = "no such lock in force", body = ErrorBody),
              (status = 503, description = "no switch running", body = ErrorBody)))]
pub(crate) async fn lift_lockout(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathArg(id): PathArg<String>,
) -> ApiResult<StatusCode> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Failure::not_found(format!("no lock {id:?} in force")));
    }
    let by = format!("token:{}", caller.0.id);
    if live(&s)?
        .lift_lockout(&id, &by)
        .await
        .map_err(unavailable)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("no lock {id:?} in force")))
    }
}
