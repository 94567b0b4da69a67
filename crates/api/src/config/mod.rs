//! CRUD for the stored configuration, one module per resource: extensions, trunks,
//! spy groups and their members, supervisors and their grants, inbound monitoring
//! rules, AstDB entries. This module holds what they share.
//!
//! Every write checks its whole input first and then makes one store call, so a bad
//! request (`400`) changes nothing.

pub(crate) mod agents;
pub(crate) mod db;
pub(crate) mod extensions;
pub(crate) mod groups;
pub(crate) mod queues;
pub(crate) mod rules;
pub(crate) mod supervisors;
pub(crate) mod trunks;

use axum::http::StatusCode;

use crate::fail::{ApiResult, Failure};
use crate::state::ApiState;
use store::{validate, Store};

/// The database behind the handlers, or a `503` when the server runs without one.
pub(crate) fn store(state: &ApiState) -> ApiResult<&Store> {
    state.store.as_ref().ok_or_else(|| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server runs without a database",
        )
    })
}

/// Runs a `store::validate` check, naming request field `field` on failure.
fn check(field: &str, r: Result<(), store::StoreError>) -> ApiResult<()> {
    r.map_err(Failure::field(field))
}

/// Group names end up in `SPYGROUP` (colon-separated) and ChanSpy's `g(grp)`.
/// Groups, grants and rules all name groups, so all three check them here.
fn check_group_name(field: &str, name: &str) -> ApiResult<()> {
    check(field, validate::group_name(name))
}

/// A monitor mode named in request field `field`; grants and monitors both take one.
pub(crate) fn parse_mode<M: std::str::FromStr>(field: &str, s: &str) -> ApiResult<M> {
    // Exactly as the API documents them (lower case), then the one parser of modes.
    let parsed = model::SpyMode::ALL
        .iter()
        .any(|m| m.as_str() == s)
        .then(|| s.parse::<M>().ok())
        .flatten();
    parsed.ok_or_else(|| {
        Failure::bad(
            field,
            format!("{field} {s:?} is not a mode: use listen, whisper, barge or takeover"),
        )
    })
}
