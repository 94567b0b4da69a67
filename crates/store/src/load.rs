//! Reading every configuration table into a [`Parts`], in one read transaction.
//!
//! One transaction because the tables refer to each other: read one by one, a
//! snapshot could hold a rule naming a group deleted between two queries. On
//! PostgreSQL that takes REPEATABLE READ (READ COMMITTED gives each statement its
//! own view); on SQLite a read transaction in WAL mode already sees one state of
//! the file from its first statement on.
//!
//! A row another system wrote badly (a trunk host that is no IP address, a port
//! out of range) is skipped with a warning instead of failing the load: one bad row
//! must not freeze the whole configuration at its previous state. Store queries
//! could never match such a row either.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::rules::MonitorRule;
use crate::snapshot::Parts;
use crate::supervisors::read_grants;
use crate::{extensions, trunks, Store, StoreError, MONITORING_OPEN};

/// What one load read: the tables, and (SQLite) the change counter they match.
pub(crate) struct Loaded {
    pub parts: Parts,
    pub counter: Option<i64>,
}

/// Reads the whole configuration.
pub(crate) async fn load(store: &Store) -> Result<Loaded, StoreError> {
    let mut tx = if store.is_sqlite() {
        store.pool.begin().await?
    } else {
        store
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?
    };
    // The counter first: on SQLite the read snapshot starts with the first
    // statement, so it and every table below come from the same state.
    let counter = if store.is_sqlite() {
        Some(crate::notify::read_counter(&mut tx).await?)
    } else {
        None
    };
    let parts = read_parts(&mut tx, store.realm()).await?;
    tx.commit().await?;
    Ok(Loaded { parts, counter })
}

async fn read_parts(conn: &mut AnyConnection, realm: &str) -> Result<Parts, StoreError> {
    let open: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(MONITORING_OPEN)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(other) = open.as_deref().filter(|v| !matches!(*v, "true" | "false")) {
        tracing::warn!(
            value = other,
            "setting monitoring.open is neither true nor false: monitoring stays restricted"
        );
    }

    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM extensions ORDER BY number",
        extensions::COLUMNS
    )))
    .fetch_all(&mut *conn)
    .await?;
    let extensions = rows
        .iter()
        .filter_map(|r| skip_bad("extension", extensions::from_row(r)))
        .collect();

    let rows = sqlx::query("SELECT name, host, port, context FROM trunks ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    let trunks = rows
        .iter()
        .filter_map(|r| skip_bad("trunk", trunk_row(r)))
        .collect();

    let group_rows: Vec<(String, Option<String>, String, i64)> = sqlx::query_as(
        "SELECT name, description, notice, notice_every_s FROM spy_groups ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let notices = group_rows
        .iter()
        .map(|(name, _, n, every)| (name.clone(), crate::groups::notice_of(n.clone(), *every)))
        .collect();
    let groups = group_rows
        .into_iter()
        .map(|(name, description, _, _)| (name, description))
        .collect();
    let members: Vec<(String, String)> =
        sqlx::query_as("SELECT group_name, extension FROM group_members")
            .fetch_all(&mut *conn)
            .await?;

    let rules = read_rules(conn).await?;
    let supervisors = read_grants(conn, None).await?;

    let kv: Vec<(String, String, String)> = sqlx::query_as("SELECT family, key, value FROM kv")
        .fetch_all(&mut *conn)
        .await?;

    let (queues, queue_members) = crate::queues::read_all(conn).await?;

    Ok(Parts {
        realm: realm.to_string(),
        extensions,
        trunks,
        groups,
        notices,
        members,
        rules,
        supervisors,
        monitoring_open: open.as_deref() == Some("true"),
        kv,
        queues,
        queue_members,
    })
}

/// A trunk with the host text as stored, which lookups compare against.
fn trunk_row(row: &AnyRow) -> Result<(String, crate::Trunk), StoreError> {
    let host: String = row.try_get("host")?;
    Ok((host, trunks::from_row(row)?))
}

async fn read_rules(conn: &mut AnyConnection) -> Result<Vec<MonitorRule>, StoreError> {
    let rows: Vec<(i64, Option<String>, String, String)> =
        sqlx::query_as("SELECT id, trunk, low, high FROM monitor_rules ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    let links: Vec<(i64, String)> = sqlx::query_as(
        "SELECT rule_id, group_name FROM monitor_rule_groups ORDER BY rule_id, group_name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_rule: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for (rule, group) in links {
        by_rule.entry(rule).or_default().push(group);
    }
    Ok(rows
        .into_iter()
        .map(|(id, trunk, low, high)| MonitorRule {
            id,
            trunk,
            low,
            high,
            groups: by_rule.remove(&id).unwrap_or_default(),
        })
        .collect())
}

/// Keeps a good row; logs and drops an unreadable one.
fn skip_bad<T>(what: &'static str, row: Result<T, StoreError>) -> Option<T> {
    match row {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!("skipping an unreadable {what} row in the configuration: {e}");
            None
        }
    }
}
