//! Noticing that the configuration changed, whoever changed it.
//!
//! The writer may be this process, the CLI in another process, another server on
//! the same PostgreSQL, or an integrator running SQL by hand, so the signal must
//! come from the database itself: triggers on every configuration table.
//!
//! - **PostgreSQL**: a row trigger (and a TRUNCATE statement trigger) calls
//!   `pg_notify('spygroup_config', <table>)`; [`crate::LiveConfig`] LISTENs on its
//!   own connection and reloads on each notification. PostgreSQL delivers it at
//!   commit (never for a rolled-back change), folds duplicates within a
//!   transaction, and drops nothing while the listener is connected.
//! - **SQLite** has no notifications: row triggers bump the one-row table
//!   `config_version`, which is polled (one indexed read) every 200 ms.
//!
//! The trigger syntax differs between the two (PL/pgSQL functions and `EXECUTE
//! FUNCTION` against inline `BEGIN … END` bodies), while the migrations are one
//! shared set of files whose checksums sqlx pins. So the triggers are **installed
//! per backend when a [`crate::LiveConfig`] starts**, idempotently, instead of in a
//! migration:
//! - the list of watched tables lives here, next to the loader that reads them, so
//!   a table added to the snapshot gets its trigger from the same change;
//! - a database restored without them, or whose triggers someone dropped, is
//!   repaired at the next start;
//! - a start that finds everything in place runs one catalog query and no DDL, so
//!   opening the same database from many servers costs nothing.
//!
//! Only `LiveConfig` installs them (the CLI does not need them to write); once
//! installed they fire for every writer.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::AnyConnection;
use tokio::sync::mpsc;

use crate::transient::Backoff;
use crate::{Store, StoreError};

/// The tables the snapshot is made of; a change to any of them reloads it.
pub(crate) const CONFIG_TABLES: [&str; 13] = [
    "settings",
    "extensions",
    "trunks",
    "kv",
    "spy_groups",
    "group_members",
    "supervisors",
    "supervisor_groups",
    "supervisor_queues",
    "monitor_rules",
    "monitor_rule_groups",
    "queues",
    "queue_members",
];

/// The PostgreSQL notification channel (payload: the table that changed).
pub(crate) const PG_CHANNEL: &str = "spygroup_config";

/// How long the listener waits for its connection before reporting failure.
const LISTENER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serialises installers on PostgreSQL (two servers starting at once).
const PG_INSTALL_LOCK: i64 = 0x0053_7947_726f_7570; // "SyGroup" in ASCII

/// Installs the triggers (and on SQLite the counter) unless already there.
pub(crate) async fn install(store: &Store) -> Result<(), StoreError> {
    if store.is_sqlite() {
        install_sqlite(store).await
    } else {
        install_postgres(store).await
    }
}

const SQLITE_OPS: [(&str, &str); 3] = [("ins", "INSERT"), ("upd", "UPDATE"), ("del", "DELETE")];

async fn install_sqlite(store: &Store) -> Result<(), StoreError> {
    let (triggers, tables): (i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' \
              AND name LIKE 'spygroup\\_cfg\\_%' ESCAPE '\\'), \
           (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'config_version')",
    )
    .fetch_one(&store.pool)
    .await?;
    let expected = i64::try_from(CONFIG_TABLES.len() * SQLITE_OPS.len()).unwrap_or(i64::MAX);
    if triggers == expected && tables == 1 {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM config_version WHERE id = 1")
            .fetch_one(&store.pool)
            .await?;
        if rows == 1 {
            return Ok(());
        }
    }
    let mut tx = store.write_tx().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS config_version (\
           id BIGINT PRIMARY KEY, version BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO config_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    for table in CONFIG_TABLES {
        for (tag, op) in SQLITE_OPS {
            let sql = format!(
                "CREATE TRIGGER IF NOT EXISTS spygroup_cfg_{table}_{tag} AFTER {op} ON {table} \
                 BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    tracing::info!("installed the configuration change triggers (SQLite)");
    Ok(())
}

async fn install_postgres(store: &Store) -> Result<(), StoreError> {
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE t.tgname IN ('spygroup_config_changed', 'spygroup_config_truncated') \
           AND pg_table_is_visible(c.oid)",
    )
    .fetch_one(&store.pool)
    .await?;
    if usize::try_from(present).is_ok_and(|n| n == 2 * CONFIG_TABLES.len()) {
        return Ok(());
    }
    // One DO block: a single transaction, under an advisory lock so concurrent
    // starts do not trip over each other's CREATE OR REPLACE. Row triggers, so a
    // statement that changes nothing (an upsert that did nothing, a DELETE that
    // matched no row) wakes nobody; TRUNCATE has only statement triggers.
    let mut script = format!(
        "DO $install$ BEGIN \
         PERFORM pg_advisory_xact_lock({PG_INSTALL_LOCK}); \
         CREATE OR REPLACE FUNCTION spygroup_config_changed() RETURNS trigger \
           LANGUAGE plpgsql AS $fn$ BEGIN \
             PERFORM pg_notify('{PG_CHANNEL}', TG_TABLE_NAME); RETURN NULL; \
           END $fn$; "
    );
    for table in CONFIG_TABLES {
        script.push_str(&format!(
            "DROP TRIGGER IF EXISTS spygroup_config_changed ON {table}; \
             CREATE TRIGGER spygroup_config_changed \
               AFTER INSERT OR UPDATE OR DELETE ON {table} \
               FOR EACH ROW EXECUTE FUNCTION spygroup_config_changed(); \
             DROP TRIGGER IF EXISTS spygroup_config_truncated ON {table}; \
             CREATE TRIGGER spygroup_config_truncated AFTER TRUNCATE ON {table} \
               FOR EACH STATEMENT EXECUTE FUNCTION spygroup_config_changed(); "
        ));
    }
    script.push_str("END $install$");
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&store.pool)
        .await?;
    tracing::info!("installed the configuration change triggers (PostgreSQL)");
    Ok(())
}

/// The SQLite change counter (0 if its row went missing).
pub(crate) async fn read_counter(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let v: Option<i64> = sqlx::query_scalar("SELECT version FROM config_version WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    Ok(v.unwrap_or(0))
}

/// The SQLite change counter, read on the pool.
pub(crate) async fn poll_counter(store: &Store) -> Result<i64, StoreError> {
    let mut conn = store.pool.acquire().await?;
    read_counter(&mut conn).await
}

/// What the SQLite file and its WAL look like on disk (size and modification
/// time of each). A commit by any process almost always changes one of them, so
/// while the stamp stays the same the poll costs a `stat` instead of a query (an
/// idle server reads it 20 times a second). Almost: file times are coarse (a
/// jiffy) and a WAL restarted after a checkpoint is overwritten in place, so the
/// poll still reads the counter every few ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp(Vec<Option<(u64, std::time::SystemTime)>>);

impl FileStamp {
    pub fn of(db: &std::path::Path) -> FileStamp {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let stat = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        };
        FileStamp(vec![stat(db), stat(std::path::Path::new(&wal))])
    }
}

/// What the listener tells the refresh loop.
#[derive(Debug)]
pub(crate) enum Event {
    /// A configuration table changed.
    Changed,
    /// The listener (re)connected after losing its connection: notifications may
    /// have been missed, so reload everything.
    Reconnected,
    /// The listener lost its connection and could not get it back (yet).
    Down(String),
}

/// A listener on its own one-connection pool, subscribed to [`PG_CHANNEL`].
pub(crate) async fn connect_listener(url: &str) -> Result<PgListener, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(LISTENER_ACQUIRE_TIMEOUT)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect(url)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(PG_CHANNEL).await?;
    Ok(listener)
}

/// Forwards notifications to the refresh loop until it goes away. A listener that
/// fails is dropped and replaced by a fresh one (with backoff), rather than left to
/// sqlx's quiet reconnect, so that every reconnection is reported and followed by a
/// full reload.
pub(crate) async fn run_listener(
    url: Arc<str>,
    first: PgListener,
    events: mpsc::Sender<Event>,
    max_backoff: Duration,
) {
    let mut current = Some(first);
    let mut backoff = Backoff::new(max_backoff);
    loop {
        let mut listener = match current.take() {
            Some(l) => l,
            None => match connect_listener(&url).await {
                Ok(l) => {
                    backoff.reset();
                    if events.send(Event::Reconnected).await.is_err() {
                        return;
                    }
                    l
                }
                Err(e) => {
                    if events.send(Event::Down(e.to_string())).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            },
        };
        loop {
            match listener.try_recv().await {
                // A full channel already holds a reason to reload: nothing is lost.
                Ok(Some(_)) => {
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        events.try_send(Event::Changed)
                    {
                        return;
                    }
                }
                // sqlx noticed the loss and reconnected: we may have missed changes.
                Ok(None) => {
                    if events.send(Event::Reconnected).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let msg = format!("configuration change listener: {e}");
                    if events.send(Event::Down(msg)).await.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}
