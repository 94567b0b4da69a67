//! Conference rooms (`ConfBridge`): listed with read scope; a member muted,
//! unmuted or kicked with admin scope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::calls::live;
use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg};
use crate::live::ConfRefused;
use crate::state::ApiState;

/// Every live room.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConferencesOut {
    pub conferences: Vec<model::ConfRoom>,
}

#[utoipa::path(get, path = "/api/v1/conferences", tag = "conferences",
    responses((status = 200, body = ConferencesOut),
              (status = 503, description = "no switch running", body = ErrorBody)))]
pub(crate) async fn list_conferences(State(s): State<ApiState>) -> ApiResult<Json<ConferencesOut>> {
    Ok(Json(ConferencesOut {
        conferences: live(&s)?.conferences(),
    }))
}

#[utoipa::path(patch, path = "/api/v1/conferences/{room}/members/{channel}", tag = "conferences",
    params(("room" = String, Path), ("channel" = String, Path, description = "URL-encoded, e.g. SIP%2F101-00000004")),
    description = "Mutes or unmutes a member, or sets how loud it is heard (`talk_volume`) \
                   and how loud it hears the room (`listen_volume`), -4 to 4; fields left \
                   out stay as they are.",
    request_body = model::ConfChange,
    responses((status = 204, description = "done"), (status = 400, body = ErrorBody),
              (status = 404, description = "no such room, or the channel is not in it", body = ErrorBody)))]
pub(crate) async fn change_member(
    State(s): State<ApiState>,
    PathArg((room, channel)): PathArg<(String, String)>,
    Body(req): Body<model::ConfChange>,
) -> ApiResult<StatusCode> {
    if req == model::ConfChange::default() {
        return Err(Failure::bad(
            "muted",
            "say what to change: muted, talk_volume or listen_volume",
        ));
    }
    live(&s)?
        .conference_change(&room, &channel, &req)
        .map_err(|e| match e {
            ConfRefused::NotFound(why) => Failure::not_found(why),
            ConfRefused::Bad(field, why) => Failure::bad(field, why),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/conferences/{room}/members/{channel}", tag = "conferences",
    description = "Kicks the member: its ConfBridge returns with CONFBRIDGE_RESULT=KICKED and \
                   its dialplan goes on (the shipped one hangs up).",
    params(("room" = String, Path), ("channel" = String, Path, description = "URL-encoded")),
    responses((status = 204, description = "kicked"),
              (status = 404, description = "no such room, or the channel is not in it", body = ErrorBody)))]
pub(crate) async fn kick_member(
    State(s): State<ApiState>,
    PathArg((room, channel)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    live(&s)?
        .conference_kick(&room, &channel)
        .map_err(Failure::not_found)?;
    Ok(StatusCode::NO_CONTENT)
}
