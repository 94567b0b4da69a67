//! Live calls, monitor control (click-to-spy), call records and the monitoring
//! audit log (whose sessions recordings' metadata shows too).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::config::{parse_mode, store};
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg, QueryMap};
use crate::live::{LiveChannel, MonitorFailure, Role};
use crate::state::ApiState;
use store::{CallRecord, MonitorRecord, TokenScope};

/// Epoch milliseconds.
pub(crate) fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

// ---------------------------------------------------------------- live calls

/// A live call: its parties' channels, and the channels monitoring it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallOut {
    /// The call's id, safe in a URL path as it is: `POST /api/v1/calls/{id}/monitor`.
    /// The same id names the call's record in `GET /api/v1/cdr` once it ends.
    pub id: String,
    /// The parties, the caller's channel first.
    pub channels: Vec<LiveChannel>,
    /// Supervisors' channels monitoring one of its parties.
    pub monitored_by: Vec<LiveChannel>,
}

/// All live calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallsOut {
    pub calls: Vec<CallOut>,
}

/// Groups channels into their calls, and attaches each monitoring channel to the
/// call it monitors (not to its own). A spy whose target is gone, or a ChanSpy still
/// looking for a channel, is listed as a call of its own. Calls come in the order
/// of their first channel's name.
pub(crate) fn group_calls(channels: Vec<LiveChannel>) -> Vec<CallOut> {
    let call_of_channel: std::collections::HashMap<String, String> = channels
        .iter()
        .map(|c| (c.name.clone(), c.call.clone()))
        .collect();
    let mut calls: Vec<CallOut> = Vec::new();
    let mut spies = Vec::new();
    for ch in channels {
        let target_call = ch
            .spying
            .as_ref()
            .and_then(|s| call_of_channel.get(&s.channel))
            .filter(|c| **c != ch.call)
            .cloned();
        if let Some(target) = target_call {
            spies.push((target, ch));
            continue;
        }
        match calls.iter_mut().find(|c| c.id == ch.call) {
            Some(call) => call.channels.push(ch),
            None => calls.push(CallOut {
                id: ch.call.clone(),
                channels: vec![ch],
                monitored_by: Vec::new(),
            }),
        }
    }
    for (target, spy) in spies {
        match calls.iter_mut().find(|c| c.id == target) {
            Some(call) => call.monitored_by.push(spy),
            // Its target's call holds only spies: list the spy with its own call.
            None => calls.push(CallOut {
                id: spy.call.clone(),
                channels: vec![spy],
                monitored_by: Vec::new(),
            }),
        }
    }
    for call in &mut calls {
        call.channels.sort_by_key(|c| c.role != Role::Caller);
    }
    calls
}

#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    responses((status = 200, body = CallsOut),
              (status = 503, description = "no switch running", body = ErrorBody)))]
pub(crate) async fn list_calls(State(s): State<ApiState>) -> ApiResult<Json<CallsOut>> {
    Ok(Json(CallsOut {
        calls: group_calls(live(&s)?.channels()),
    }))
}

// ---------------------------------------------------------------- monitor control

/// Click-to-spy request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorIn {
    /// The supervisor's extension, whose phone rings.
    pub supervisor: String,
    /// `listen`, `whisper`, `barge` or `takeover`.
    pub mode: String,
    /// When the call is transferred: `none` (default: the monitor ends with the
    /// monitored channel), `agent` (it stays with the monitored extension and
    /// moves to its next call) or `client` (it stays with the party the monitored
    /// channel talks to, across transfers to other agents).
    #[serde(default)]
    pub follow: Option<String>,
    /// Monitor from the browser instead of the supervisor's phone: the
    /// browser's WebRTC offer (ICE, DTLS-SRTP, G.711 µ-law). The answer comes back
    /// in `answer`; no phone rings.
    #[serde(default)]
    pub webrtc: Option<WebRtcIn>,
}

/// A browser's side of a WebRTC monitor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebRtcIn {
    /// The SDP of `RTCPeerConnection.createOffer()`.
    pub offer: String,
}

/// A mode switch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeIn {
    /// `listen`, `whisper` or `barge`.
    pub mode: String,
}

/// A supervise token acts only as its own supervisor; admin tokens as anyone.
fn may_act_as(caller: &Caller, supervisor: Option<&str>) -> ApiResult<()> {
    let token = &caller.0;
    if token.scope == TokenScope::Admin {
        return Ok(());
    }
    match (&token.supervisor, supervisor) {
        (None, _) => Err(Failure::forbidden(
            "this supervise token belongs to no supervisor, so it cannot monitor; \
             create one with `spygroup token create --scope supervise --supervisor EXT`",
        )),
        (Some(own), Some(asked)) if own != asked => Err(Failure::forbidden(format!(
            "this token may only monitor as supervisor {own:?}, not {asked:?}"
        ))),
        _ => Ok(()),
    }
}

/// A started monitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorOut {
    /// Steers the monitor: `PATCH`/`DELETE /api/v1/monitors/{id}`.
    pub id: String,
    /// For a WebRTC monitor: the SDP answer for the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

pub(crate) fn live(s: &ApiState) -> ApiResult<&std::sync::Arc<dyn crate::LiveView>> {
    s.live
        .as_ref()
        .ok_or_else(|| Failure::new(StatusCode::SERVICE_UNAVAILABLE, "no switch is running"))
}

/// A typed refusal from the switch, as its HTTP status.
fn refused(f: MonitorFailure) -> Failure {
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Failure::new(status, f.to_string())
}

#[utoipa::path(post, path = "/api/v1/calls/{id}/monitor", tag = "monitors",
    description = "Click-to-spy: rings the supervisor's phone (or, with `webrtc`, answers \
                   the browser's offer: the browser is the supervisor's leg) and, when it answers, \
                   monitors the call (the supervisor's grants apply, as for ChanSpy). \
                   Everything that can be decided before the phone rings is: a mode or a \
                   call the grant does not cover is refused with 403 (and recorded in the \
                   audit log), the supervisor's phone never rings.",
    params(("id" = String, Path, description = "a call id from GET /api/v1/calls (or, URL-encoded, \
                                                  one of its channel names)")),
    request_body = MonitorIn,
    responses((status = 201, description = "the supervisor's phone rings", body = MonitorOut),
              (status = 400, body = ErrorBody),
              (status = 403, description = "the grant does not allow this mode or call, or a \
                                            supervise token naming another supervisor", body = ErrorBody),
              (status = 404, description = "no such call, no such supervisor, or its phone \
                                            is not registered", body = ErrorBody),
              (status = 409, description = "the supervisor is already on a call", body = ErrorBody),
              (status = 503, description = "out of RTP ports, or no switch running", body = ErrorBody)))]
pub(crate) async fn start_monitor(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathArg(id): PathArg<String>,
    Body(req): Body<MonitorIn>,
) -> ApiResult<(StatusCode, Json<MonitorOut>)> {
    store::validate::extension_number(&req.supervisor).map_err(Failure::field("supervisor"))?;
    let mode = parse_mode("mode", &req.mode)?;
    let follow = match req.follow.as_deref() {
        None => model::Follow::None,
        Some(f) => f
            .parse::<model::Follow>()
            .map_err(|e| Failure::bad("follow", e.to_string()))?,
    };
    may_act_as(&caller, Some(&req.supervisor))?;
    let live = live(&s)?;
    let out = match req.webrtc {
        Some(w) => {
            if mode == model::SpyMode::Conference {
                return Err(Failure::bad(
                    "mode",
                    "a conference needs the supervisor's phone: a browser's leg may listen, \
                     whisper, barge and take over",
                ));
            }
            if !w.offer.trim_start().starts_with("v=0") {
                return Err(Failure::bad(
                    "webrtc.offer",
                    "not an SDP offer (it starts with `v=0`)",
                ));
            }
            let m = live
                .monitor_start_browser(&req.supervisor, &id, mode, follow, &w.offer)
                .await
                .map_err(refused)?;
            MonitorOut {
                id: m.id,
                answer: Some(m.answer),
            }
        }
        None => MonitorOut {
            id: live
                .monitor_start(&req.supervisor, &id, mode, follow)
                .await
                .map_err(refused)?,
            answer: None,
        },
    };
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(patch, path = "/api/v1/monitors/{id}", tag = "monitors",
    description = "Switches a running monitor's mode without a gap; a mode the \
                   supervisor's grant lacks is refused at once (403).",
    params(("id" = String, Path)), request_body = ModeIn,
    responses((status = 204, description = "mode switched"), (status = 400, body = ErrorBody),
              (status = 403, description = "the grant does not allow this mode", body = ErrorBody),
              (status = 404, description = "no such monitor", body = ErrorBody)))]
pub(crate) async fn change_monitor(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathArg(id): PathArg<String>,
    Body(req): Body<ModeIn>,
) -> ApiResult<StatusCode> {
    let mode = parse_mode("mode", &req.mode)?;
    let live = live(&s)?;
    may_act_as(&caller, live.monitor_owner(&id).as_deref())?;
    live.monitor_mode(&id, mode).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/monitors/{id}", tag = "monitors",
    description = "Ends a running monitor.",
    params(("id" = String, Path)),
    responses((status = 204, description = "ended"),
              (status = 404, description = "no such monitor", body = ErrorBody)))]
pub(crate) async fn stop_monitor(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathArg(id): PathArg<String>,
) -> ApiResult<StatusCode> {
    let live = live(&s)?;
    may_act_as(&caller, live.monitor_owner(&id).as_deref())?;
    live.monitor_stop(&id).map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- cdr

/// One finished call. Times are epoch milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrOut {
    pub id: String,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    pub caller_channel: String,
    pub callee_channel: Option<String>,
    pub start_at: u64,
    pub answer_at: Option<u64>,
    pub end_at: u64,
    /// `ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CANCELLED`, `CONGESTION`.
    pub disposition: String,
    /// `caller`, `callee` or `system`.
    pub hangup_by: String,
    pub duration_ms: u64,
    pub billsec_ms: u64,
    /// The supervisor (extension) who took the call over, if one did.
    pub taken_over_by: Option<String>,
    /// When, epoch milliseconds.
    pub taken_over_at: Option<u64>,
}

fn cdr_out(r: CallRecord) -> CdrOut {
    CdrOut {
        id: r.id,
        call_id: r.call_id,
        caller: r.caller,
        callee: r.callee,
        caller_channel: r.caller_channel,
        callee_channel: r.callee_channel,
        start_at: ms(r.start_at),
        answer_at: r.answer_at.map(ms),
        end_at: ms(r.end_at),
        disposition: r.disposition.to_string(),
        hangup_by: r.hangup_by,
        duration_ms: r.duration_ms,
        billsec_ms: r.billsec_ms,
        taken_over_by: r.taken_over.as_ref().map(|t| t.by.clone()),
        taken_over_at: r.taken_over.as_ref().map(|t| ms(t.at)),
    }
}

#[utoipa::path(get, path = "/api/v1/cdr", tag = "records",
    params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "newest first", body = Vec<CdrOut>),
              (status = 400, body = ErrorBody)))]
pub(crate) async fn list_cdr(
    State(s): State<ApiState>,
    q: QueryMap,
) -> ApiResult<Json<Vec<CdrOut>>> {
    let limit = q.limit(100, 1000)?;
    let list = store(&s)?.list_cdr(limit).await?;
    Ok(Json(list.into_iter().map(cdr_out).collect()))
}

// ---------------------------------------------------------------- audit

/// One step of a monitoring session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub at: u64,
    /// `start`, `mode`, `end` or `denied`.
    pub kind: String,
    /// `start`: the mode; `mode`: the new mode; `end`/`denied`: the reason.
    pub detail: String,
}

/// A monitoring session (allowed or denied). Times are epoch milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: String,
    pub supervisor: String,
    pub supervisor_channel: String,
    pub target_endpoint: String,
    pub target_channel: String,
    pub peer_channel: Option<String>,
    pub mode: String,
    /// `allowed` or `denied`.
    pub outcome: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub end_reason: Option<String>,
    pub events: Vec<AuditEventOut>,
}

pub(crate) fn audit_out(r: MonitorRecord) -> AuditOut {
    AuditOut {
        id: r.id,
        supervisor: r.supervisor,
        supervisor_channel: r.supervisor_channel,
        target_endpoint: r.target_endpoint,
        target_channel: r.target_channel,
        peer_channel: r.peer_channel,
        mode: r.mode,
        outcome: r.outcome,
        started_at: ms(r.started_at),
        ended_at: r.ended_at.map(ms),
        end_reason: r.end_reason,
        events: r
            .events
            .into_iter()
            .map(|e| AuditEventOut {
                at: ms(e.at),
                kind: e.kind,
                detail: e.detail,
            })
            .collect(),
    }
}

/// How many recent sessions a filtered audit query looks through.
const AUDIT_SCAN: u32 = 10_000;

#[utoipa::path(get, path = "/api/v1/audit", tag = "records",
    description = "Monitoring sessions, newest first, filtered. Filters apply to the \
                   10000 most recent sessions.",
    params(
        ("supervisor" = Option<String>, Query, description = "the supervisor's extension"),
        ("target" = Option<String>, Query, description = "monitored endpoint or channel name"),
        ("since" = Option<u64>, Query, description = "started at or after (epoch ms)"),
        ("until" = Option<u64>, Query, description = "started before (epoch ms)"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, body = Vec<AuditOut>), (status = 400, body = ErrorBody)))]
pub(crate) async fn list_audit(
    State(s): State<ApiState>,
    q: QueryMap,
) -> ApiResult<Json<Vec<AuditOut>>> {
    let limit = q.limit(100, 1000)? as usize;
    let since: Option<u64> = q.number("since")?;
    let until: Option<u64> = q.number("until")?;
    if let (Some(a), Some(b)) = (since, until) {
        if a > b {
            return Err(Failure::bad(
                "until",
                format!("until={b} is before since={a}"),
            ));
        }
    }
    let supervisor = q.text("supervisor");
    let target = q.text("target");
    let list = store(&s)?.list_monitors(AUDIT_SCAN).await?;
    let out = list
        .into_iter()
        .filter(|r| supervisor.is_none_or(|x| r.supervisor == x))
        .filter(|r| target.is_none_or(|x| r.target_endpoint == x || r.target_channel == x))
        .filter(|r| since.is_none_or(|x| ms(r.started_at) >= x))
        .filter(|r| until.is_none_or(|x| ms(r.started_at) < x))
        .take(limit)
        .map(audit_out)
        .collect();
    Ok(Json(out))
}
