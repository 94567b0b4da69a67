//! CRUD for the stored configuration: extensions, trunks, spy groups and their
//! members, supervisors and their grants, inbound monitoring rules, AstDB entries.
//!
//! Every write checks its whole input first and then makes one store call, so a bad
//! request (`400`) changes nothing.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::fail::{ApiResult, Body, ErrorBody, Failure, PathArg, QueryMap};
use crate::routes::ApiState;
use store::{
    validate, ExtensionUpdate, Grant, GroupScope, MonitorMode, MonitorRule, NewExtension, NewTrunk,
    SpyGroup, Store, Trunk,
};

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

// ---------------------------------------------------------------- extensions

/// An extension as the API shows it. Its secret is write-only: never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionOut {
    /// `[0-9A-Za-z_.-]{1,32}`, e.g. `110`.
    pub number: String,
    /// Display name (caller ID name).
    pub name: Option<String>,
    /// Dialplan context its calls start in.
    pub context: String,
}

/// A new extension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionIn {
    /// `[0-9A-Za-z_.-]{1,32}`.
    pub number: String,
    /// SIP digest secret, 1 to 128 characters; stored only as HA1 hashes.
    pub secret: String,
    pub name: Option<String>,
    /// Defaults to `from-internal`.
    pub context: Option<String>,
}

/// Fields to change; absent ones stay as they are. `"name": ""` clears the name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPatch {
    pub secret: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
}

fn ext_out(e: store::Extension) -> ExtensionOut {
    ExtensionOut {
        number: e.number,
        name: e.name,
        context: e.context,
    }
}

fn check_ext_fields(
    secret: Option<&str>,
    name: Option<&str>,
    context: Option<&str>,
) -> ApiResult<()> {
    if let Some(s) = secret {
        check("secret", validate::secret(s))?;
    }
    if let Some(n) = name {
        check("name", validate::display_name(n))?;
    }
    if let Some(c) = context {
        check("context", validate::context(c))?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions",
    responses((status = 200, body = Vec<ExtensionOut>)))]
pub(crate) async fn list_extensions(
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<ExtensionOut>>> {
    let list = store(&s)?.list_extensions().await?;
    Ok(Json(list.into_iter().map(ext_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/extensions", tag = "extensions", request_body = ExtensionIn,
    responses((status = 201, body = ExtensionOut), (status = 400, body = ErrorBody),
              (status = 409, description = "the number is taken", body = ErrorBody)))]
pub(crate) async fn add_extension(
    State(s): State<ApiState>,
    Body(req): Body<ExtensionIn>,
) -> ApiResult<(StatusCode, Json<ExtensionOut>)> {
    let st = store(&s)?;
    check("number", validate::extension_number(&req.number))?;
    check_ext_fields(
        Some(&req.secret),
        req.name.as_deref(),
        req.context.as_deref(),
    )?;
    st.add_extension(&NewExtension {
        number: req.number.clone(),
        secret: req.secret,
        name: req.name,
        context: req.context,
    })
    .await?;
    let e = st
        .get_extension(&req.number)
        .await?
        .ok_or_else(|| Failure::not_found(format!("extension {:?} vanished", req.number)))?;
    Ok((StatusCode::CREATED, Json(ext_out(e))))
}

#[utoipa::path(get, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 200, body = ExtensionOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<Json<ExtensionOut>> {
    store(&s)?
        .get_extension(&number)
        .await?
        .map(|e| Json(ext_out(e)))
        .ok_or_else(|| Failure::not_found(format!("extension {number:?} does not exist")))
}

#[utoipa::path(patch, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)), request_body = ExtensionPatch,
    responses((status = 200, body = ExtensionOut), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn update_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
    Body(req): Body<ExtensionPatch>,
) -> ApiResult<Json<ExtensionOut>> {
    let st = store(&s)?;
    check("number", validate::extension_number(&number))?;
    // An empty name clears it, so only a non-empty one is checked.
    check_ext_fields(
        req.secret.as_deref(),
        req.name.as_deref().filter(|n| !n.is_empty()),
        req.context.as_deref(),
    )?;
    st.update_extension(
        &number,
        &ExtensionUpdate {
            secret: req.secret,
            name: req.name,
            context: req.context,
        },
    )
    .await?;
    get_extension(State(s), PathArg(number)).await
}

#[utoipa::path(delete, path = "/api/v1/extensions/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.delete_extension(&number).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "extension {number:?} does not exist"
        )))
    }
}

#[utoipa::path(get, path = "/api/v1/extensions/{number}/groups", tag = "groups",
    params(("number" = String, Path)),
    responses((status = 200, description = "names of the groups the extension belongs to",
               body = Vec<String>)))]
pub(crate) async fn groups_of_extension(
    State(s): State<ApiState>,
    PathArg(number): PathArg<String>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(store(&s)?.groups_of(&number).await?))
}

// ---------------------------------------------------------------- trunks

/// A trunk: a peer recognised by its source address.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkOut {
    pub name: String,
    /// IP address literal.
    pub host: String,
    /// Source port; null matches any.
    pub port: Option<u16>,
    pub context: String,
}

/// A new trunk.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkIn {
    /// `[0-9A-Za-z_.-]{1,32}`.
    pub name: String,
    /// IP address literal (IPv4 or IPv6).
    pub host: String,
    /// 1 to 65535; absent matches any source port.
    pub port: Option<u16>,
    /// Defaults to `from-trunk`.
    pub context: Option<String>,
}

fn trunk_out(t: Trunk) -> TrunkOut {
    TrunkOut {
        name: t.name,
        host: t.host.to_string(),
        port: t.port,
        context: t.context,
    }
}

#[utoipa::path(get, path = "/api/v1/trunks", tag = "trunks",
    responses((status = 200, body = Vec<TrunkOut>)))]
pub(crate) async fn list_trunks(State(s): State<ApiState>) -> ApiResult<Json<Vec<TrunkOut>>> {
    let list = store(&s)?.list_trunks().await?;
    Ok(Json(list.into_iter().map(trunk_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/trunks", tag = "trunks", request_body = TrunkIn,
    responses((status = 201, body = TrunkOut), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(crate) async fn add_trunk(
    State(s): State<ApiState>,
    Body(req): Body<TrunkIn>,
) -> ApiResult<(StatusCode, Json<TrunkOut>)> {
    let st = store(&s)?;
    check("name", validate::trunk_name(&req.name))?;
    let host: IpAddr = req.host.trim().parse().map_err(|_| {
        Failure::bad(
            "host",
            format!("host {:?} is not an IP address literal", req.host),
        )
    })?;
    if req.port == Some(0) {
        return Err(Failure::bad(
            "port",
            "port must be 1 to 65535, or left out to match any port",
        ));
    }
    if let Some(c) = &req.context {
        check("context", validate::context(c))?;
    }
    st.add_trunk(&NewTrunk {
        name: req.name.clone(),
        host,
        port: req.port,
        context: req.context,
    })
    .await?;
    let t = find_trunk(st, &req.name).await?;
    Ok((StatusCode::CREATED, Json(trunk_out(t))))
}

async fn find_trunk(st: &Store, name: &str) -> ApiResult<Trunk> {
    st.list_trunks()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Failure::not_found(format!("trunk {name:?} does not exist")))
}

#[utoipa::path(get, path = "/api/v1/trunks/{name}", tag = "trunks",
    params(("name" = String, Path)),
    responses((status = 200, body = TrunkOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_trunk(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<Json<TrunkOut>> {
    Ok(Json(trunk_out(find_trunk(store(&s)?, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/trunks/{name}", tag = "trunks",
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_trunk(
    State(s): State<ApiState>,
    PathArg(name): PathArg<String>,
) -> ApiResult<StatusCode> {
    if store(&s)?.delete_trunk(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("trunk {name:?} does not exist")))
    }
}

// ---------------------------------------------------------------- groups

/// A spy group with its member extensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub name: String,
    pub description: Option<String>,
    /// Extension numbers.
    pub members: Vec<String>,
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
    }
}

/// Group names end up in `SPYGROUP` (colon-separated) and ChanSpy's `g(grp)`.
fn check_group_name(field: &str, name: &str) -> ApiResult<()> {
    check(field, validate::group_name(name))
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

// ---------------------------------------------------------------- supervisors

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
    /// Any of `listen`, `whisper`, `barge`.
    pub modes: Vec<String>,
}

/// A grant to set (replacing any previous one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    pub groups: GroupsJson,
    /// One or more of `listen`, `whisper`, `barge`.
    pub modes: Vec<String>,
}

pub(crate) fn parse_mode(field: &str, s: &str) -> ApiResult<MonitorMode> {
    match s {
        "listen" => Ok(MonitorMode::Listen),
        "whisper" => Ok(MonitorMode::Whisper),
        "barge" => Ok(MonitorMode::Barge),
        other => Err(Failure::bad(
            field,
            format!("{field} {other:?} is not a mode: use listen, whisper or barge"),
        )),
    }
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
    let groups = match req.groups {
        GroupsJson::All(a) if a == "all" => GroupScope::All,
        GroupsJson::All(other) => {
            return Err(Failure::bad(
                "groups",
                format!("groups {other:?} must be \"all\" or a list of group names"),
            ))
        }
        GroupsJson::Groups(list) => {
            if list.is_empty() {
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

// ---------------------------------------------------------------- rules

/// An inbound monitoring rule: calls from `trunk` (any trunk if null) to a number in
/// `low..=high` get `groups` added to their `SPYGROUP`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub trunk: Option<String>,
    pub low: String,
    pub high: String,
    pub groups: Vec<String>,
}

/// A new rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    pub trunk: Option<String>,
    /// Lowest number of the range.
    pub low: String,
    /// Highest number of the range.
    pub high: String,
    /// One or more group names.
    pub groups: Vec<String>,
}

fn rule_out(r: MonitorRule) -> RuleOut {
    RuleOut {
        id: r.id,
        trunk: r.trunk,
        low: r.low,
        high: r.high,
        groups: r.groups,
    }
}

fn rule_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| Failure::bad("id", format!("rule id {id:?} is not a number")))
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = Vec<RuleOut>)))]
pub(crate) async fn list_rules(State(s): State<ApiState>) -> ApiResult<Json<Vec<RuleOut>>> {
    let list = store(&s)?.rule_list().await?;
    Ok(Json(list.into_iter().map(rule_out).collect()))
}

#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 400, body = ErrorBody),
              (status = 404, description = "no such trunk or group", body = ErrorBody)))]
pub(crate) async fn add_rule(
    State(s): State<ApiState>,
    Body(req): Body<RuleIn>,
) -> ApiResult<(StatusCode, Json<RuleOut>)> {
    let st = store(&s)?;
    if let Some(t) = &req.trunk {
        check("trunk", validate::trunk_name(t))?;
    }
    check("low", validate::range_end("low", &req.low))?;
    check("high", validate::range_end("high", &req.high))?;
    check("high", validate::range(&req.low, &req.high))?;
    if req.groups.is_empty() {
        return Err(Failure::bad(
            "groups",
            "groups must name at least one group",
        ));
    }
    for (i, g) in req.groups.iter().enumerate() {
        check_group_name(&format!("groups[{i}]"), g)?;
    }
    let id = st
        .rule_add(req.trunk.as_deref(), &req.low, &req.high, &req.groups)
        .await?;
    let rule = find_rule(st, id).await?;
    Ok((StatusCode::CREATED, Json(rule_out(rule))))
}

async fn find_rule(st: &Store, id: i64) -> ApiResult<MonitorRule> {
    st.rule_list()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Failure::not_found(format!("rule {id} does not exist")))
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn get_rule(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<Json<RuleOut>> {
    let id = rule_id(&id)?;
    Ok(Json(rule_out(find_rule(store(&s)?, id).await?)))
}

#[utoipa::path(delete, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_rule(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<StatusCode> {
    let id = rule_id(&id)?;
    if store(&s)?.rule_del(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!("rule {id} does not exist")))
    }
}

// ---------------------------------------------------------------- key/value

/// One AstDB entry (`DB(family/key)` in the dialplan).
#[derive(Debug, Serialize, ToSchema)]
pub struct KvEntry {
    pub family: String,
    pub key: String,
    pub value: String,
}

/// A value to store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KvIn {
    pub value: String,
}

#[utoipa::path(get, path = "/api/v1/db", tag = "db",
    params(("family" = Option<String>, Query,
            description = "only this family and its sub-families (`family/...`)")),
    responses((status = 200, body = Vec<KvEntry>)))]
pub(crate) async fn list_kv(
    State(s): State<ApiState>,
    q: QueryMap,
) -> ApiResult<Json<Vec<KvEntry>>> {
    let rows = store(&s)?.db_show(q.text("family")).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(family, key, value)| KvEntry { family, key, value })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path, description = "URL-encode a `/` in a sub-family as %2F"),
           ("key" = String, Path)),
    responses((status = 200, body = KvEntry), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_kv(
    State(s): State<ApiState>,
    PathArg((family, key)): PathArg<(String, String)>,
) -> ApiResult<Json<KvEntry>> {
    match store(&s)?.db_get(&family, &key).await? {
        Some(value) => Ok(Json(KvEntry { family, key, value })),
        None => Err(Failure::not_found(format!(
            "no database entry {family}/{key}"
        ))),
    }
}

#[utoipa::path(put, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path), ("key" = String, Path)), request_body = KvIn,
    responses((status = 200, description = "stored (created or replaced)", body = KvEntry),
              (status = 400, body = ErrorBody)))]
pub(crate) async fn put_kv(
    State(s): State<ApiState>,
    PathArg((family, key)): PathArg<(String, String)>,
    Body(req): Body<KvIn>,
) -> ApiResult<Json<KvEntry>> {
    let st = store(&s)?;
    check("family", validate::db_name("family", &family))?;
    check("key", validate::db_name("key", &key))?;
    if req.value.chars().count() > 4096 {
        return Err(Failure::bad(
            "value",
            "value must be at most 4096 characters",
        ));
    }
    st.db_put(&family, &key, &req.value).await?;
    Ok(Json(KvEntry {
        family,
        key,
        value: req.value,
    }))
}

#[utoipa::path(delete, path = "/api/v1/db/{family}/{key}", tag = "db",
    params(("family" = String, Path), ("key" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_kv(
    State(s): State<ApiState>,
    PathArg((family, key)): PathArg<(String, String)>,
) -> ApiResult<StatusCode> {
    if store(&s)?.db_del(&family, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Failure::not_found(format!(
            "no database entry {family}/{key}"
        )))
    }
}
