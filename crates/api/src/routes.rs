//! The router, the OpenAPI document and the small handlers (health, reload, the
//! document itself). Every answer, errors included, is JSON.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Extension, Json, Router};
use serde_json::{Map, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, Response as DocResponse, ResponseBuilder,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::{agents, db, extensions, groups, queues, rules, supervisors, trunks};
use crate::fail::{ErrorBody, Failure};
use crate::state::{ApiState, HealthFn};
use crate::{auth, calls, conferences, console, events, recordings, security};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "spygroup",
        description = "The HTTP API of spygroup, a SIP PBX for supervised call centers.\n\n\
            Every endpoint but `/health` and `/openapi.json` needs `Authorization: Bearer \
            <token>` (tokens: `spygroup token create --scope read|supervise|admin`). A \
            `read` token may use every GET; `supervise` adds the monitor endpoints, acting \
            only as its own supervisor; `admin` may do everything. Missing or unknown \
            tokens answer 401, a scope too low 403; errors are `{\"error\": ..., \
            \"field\": ...}`."
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "extensions"), (name = "trunks"), (name = "groups"), (name = "supervisors"),
        (name = "rules"), (name = "queues", description = "call-center queues, agents, statistics"),
        (name = "db", description = "AstDB key/value families"),
        (name = "calls"), (name = "monitors"), (name = "conferences"), (name = "records"),
        (name = "recordings", description = "MixMonitor and ChanSpy recordings: metadata, \
            WAV files; deleting needs an admin token"),
        (name = "security", description = "locks against password and PIN guessing"),
        (name = "events"),
        (name = "console", description = "the web console's sign-in: a session cookie that \
            stands in for the bearer token on every endpoint (changes also need its \
            `X-CSRF-Token`)"),
        (name = "system")
    )
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole API as a router, for embedding or for tests without a socket.
pub fn router(health: HealthFn) -> Router {
    router_with(ApiState::new(health))
}

/// Every route with its OpenAPI description, before state and fallbacks.
fn documented(state: &ApiState) -> OpenApiRouter<ApiState> {
    let protected = OpenApiRouter::new()
        .routes(routes!(
            extensions::list_extensions,
            extensions::add_extension
        ))
        .routes(routes!(
            extensions::get_extension,
            extensions::update_extension,
            extensions::delete_extension
        ))
        .routes(routes!(extensions::groups_of_extension))
        .routes(routes!(trunks::list_trunks, trunks::add_trunk))
        .routes(routes!(trunks::get_trunk, trunks::delete_trunk))
        .routes(routes!(groups::list_groups, groups::add_group))
        .routes(routes!(groups::get_group, groups::delete_group))
        .routes(routes!(groups::list_members, groups::add_member))
        .routes(routes!(groups::delete_member))
        .routes(routes!(groups::set_notice))
        .routes(routes!(supervisors::list_supervisors))
        .routes(routes!(
            supervisors::get_supervisor,
            supervisors::grant_supervisor,
            supervisors::revoke_supervisor
        ))
        .routes(routes!(queues::list_queues, queues::add_queue))
        .routes(routes!(
            queues::get_queue,
            queues::update_queue,
            queues::delete_queue
        ))
        .routes(routes!(queues::put_member, queues::delete_member))
        .routes(routes!(queues::queue_stats))
        .routes(routes!(agents::list_agents))
        .routes(routes!(agents::login, agents::logout))
        .routes(routes!(agents::pause, agents::unpause))
        .routes(routes!(rules::list_rules, rules::add_rule))
        .routes(routes!(rules::get_rule, rules::delete_rule))
        .routes(routes!(db::list_kv))
        .routes(routes!(db::get_kv, db::put_kv, db::delete_kv))
        .routes(routes!(calls::list_calls))
        .routes(routes!(calls::start_monitor))
        .routes(routes!(calls::change_monitor, calls::stop_monitor))
        .routes(routes!(conferences::list_conferences))
        .routes(routes!(
            conferences::change_member,
            conferences::kick_member
        ))
        .routes(routes!(calls::list_cdr))
        .routes(routes!(calls::list_audit))
        .routes(routes!(recordings::list_recordings))
        .routes(routes!(
            recordings::get_recording,
            recordings::delete_recording
        ))
        .routes(routes!(recordings::download_track))
        .routes(routes!(security::list_lockouts))
        .routes(routes!(security::lockout_history))
        .routes(routes!(security::lift_lockout))
        .routes(routes!(events::events))
        .routes(routes!(reload_handler))
        .routes(routes!(metrics_handler))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health_handler))
        .routes(routes!(openapi_handler))
        .routes(routes!(
            console::sign_in,
            console::current,
            console::sign_out
        ))
        .merge(protected)
}

/// The OpenAPI document of the API.
pub fn openapi() -> OpenApiDoc {
    let state = ApiState::new(Arc::new(|| Value::Null));
    let mut doc = documented(&state).split_for_parts().1;
    finish(&mut doc);
    doc
}

/// Adds what every operation shares: the 401/403 answers of the protected ones,
/// and a description for each answer that lacks one (OpenAPI requires it).
fn finish(doc: &mut OpenApiDoc) {
    fn error_response(description: &str) -> RefOr<DocResponse> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    }
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let responses = &mut op.responses.responses;
            if op.security.is_none() {
                responses.entry("401".into()).or_insert_with(|| {
                    error_response("missing, malformed, unknown or revoked token")
                });
                responses
                    .entry("403".into())
                    .or_insert_with(|| error_response("the token's scope is too low"));
            }
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(r) = response {
                    if r.description.is_empty() {
                        r.description = match status.as_str() {
                            "200" => "OK",
                            "201" => "created",
                            "204" => "done",
                            "400" => "bad input: `field` names what was wrong; nothing changed",
                            "404" => "no such resource",
                            "409" => "already exists",
                            _ => "see the error body",
                        }
                        .into();
                    }
                }
            }
        }
    }
}

/// The router with every hook the running server offers.
pub fn router_with(state: ApiState) -> Router {
    let (router, mut doc) = documented(&state).split_for_parts();
    finish(&mut doc);
    router
        .route("/console", axum::routing::get(console::index))
        .route("/console/", axum::routing::get(console::index))
        .route("/console/app.js", axum::routing::get(console::script))
        .route("/console/app.css", axum::routing::get(console::style))
        .layer(Extension(Arc::new(doc)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

#[utoipa::path(get, path = "/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "this document")))]
async fn openapi_handler(Extension(doc): Extension<Arc<OpenApiDoc>>) -> Json<OpenApiDoc> {
    Json((*doc).clone())
}

/// Result of a dialplan reload.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Reloaded {
    reloaded: bool,
    /// How many warnings the new dialplan produced.
    warnings: usize,
}

#[utoipa::path(post, path = "/api/v1/dialplan/reload", tag = "system",
    description = "Reloads the dialplan. Allowed with an admin token, or without any \
                   token from the PBX's own host.",
    responses((status = 200, body = Reloaded),
              (status = 422, description = "the new dialplan has errors; the old one stays", body = ErrorBody),
              (status = 503, description = "no switch to reload", body = ErrorBody)))]
async fn reload_handler(State(state): State<ApiState>) -> Response {
    let Some(reload) = state.reload else {
        return Failure::new(StatusCode::SERVICE_UNAVAILABLE, "no switch to reload")
            .into_response();
    };
    match reload().await {
        Ok(warnings) => Json(Reloaded {
            reloaded: true,
            warnings,
        })
        .into_response(),
        Err(errors) => Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("dialplan not reloaded, the running one stays: {errors}"),
        )
        .into_response(),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    description = "Prometheus text (format 0.0.4): calls, channels, registrations, \
                   monitoring sessions by mode, lockouts, SIP responses by class, RTP \
                   packets and drops, the database's write queue. Needs a read token \
                   (Prometheus: `authorization: {credentials_file: ...}`).",
    responses((status = 200, description = "the exposition", content_type = "text/plain"),
              (status = 503, description = "no switch running", body = ErrorBody)))]
async fn metrics_handler(State(state): State<ApiState>) -> Response {
    let Some(metrics) = state.metrics else {
        return Failure::new(StatusCode::SERVICE_UNAVAILABLE, "no switch running").into_response();
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().await,
    )
        .into_response()
}

/// `{"status":"ok"}` merged with what the closure returns; its keys win, so the
/// switch may report `"status":"degraded"`. A non-object lands under `detail`.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, description = "`status` plus the switch's counters")))]
async fn health_handler(State(ApiState { health, .. }): State<ApiState>) -> Json<Value> {
    let mut body = Map::new();
    body.insert("status".into(), Value::from("ok"));
    match health() {
        Value::Object(extra) => body.extend(extra),
        Value::Null => {}
        other => {
            body.insert("detail".into(), other);
        }
    }
    Json(Value::Object(body))
}

async fn not_found(uri: Uri) -> Failure {
    Failure::not_found(format!("no such resource: {}", uri.path()))
}

async fn method_not_allowed(uri: Uri) -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed on {}", uri.path()),
    )
}
