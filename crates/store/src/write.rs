//! Every write the PBX makes while calls run, as data.
//!
//! A call must not wait for the database, so the switch does not call the
//! [`Store`] while a call runs: it hands a [`Write`] to the write-behind queue
//! ([`crate::WriteBehind`]), which performs it later, in order, retrying through
//! outages. A write may therefore be attempted more than once when a connection
//! broke after the database committed but before it answered; each kind is applied
//! so that a second attempt neither fails forever nor records twice.

use std::time::SystemTime;

use crate::time::to_ms;
use crate::{
    CallRecord, LockoutRecord, MonitorStart, RecordingEnd, RecordingStart, Store, StoreError,
    StoredLocation,
};

/// One write, with everything it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A finished call ([`Store::insert_cdr`]).
    Cdr(CallRecord),
    /// A supervisor started monitoring ([`Store::monitor_started`]).
    MonitorStarted(MonitorStart),
    /// A running session changed mode ([`Store::monitor_mode_changed`]).
    MonitorModeChanged {
        id: String,
        mode: String,
        at: SystemTime,
    },
    /// A session ended ([`Store::monitor_ended`]).
    MonitorEnded {
        id: String,
        reason: String,
        at: SystemTime,
    },
    /// A refused attempt ([`Store::monitor_denied`]).
    MonitorDenied {
        attempt: MonitorStart,
        reason: String,
    },
    /// A recording started ([`Store::recording_started`]).
    RecordingStarted(RecordingStart),
    /// Every file of a recording is complete ([`Store::recording_ended`]).
    RecordingEnded(RecordingEnd),
    /// All current bindings of an AOR (delete then insert, one transaction:
    /// [`Store::replace_locations`]); empty to unregister everything.
    Locations {
        aor: String,
        bindings: Vec<StoredLocation>,
    },
    /// One binding removed ([`Store::delete_location`]).
    LocationDeleted { aor: String, contact_uri: String },
    /// [`Store::db_put`].
    KvPut {
        family: String,
        key: String,
        value: String,
    },
    /// [`Store::db_del`].
    KvDel { family: String, key: String },
    /// [`Store::db_deltree`]: the family and its sub-families.
    KvDelTree { family: String },
    /// A lock against guessing started ([`Store::lockout_started`]).
    LockoutStarted(LockoutRecord),
    /// The locks of a subject were lifted ([`Store::lockout_lifted`]).
    LockoutLifted {
        subject_id: String,
        at: SystemTime,
        by: String,
    },
    /// A queue log line ([`Store::queue_log_insert`]).
    QueueLog(model::QueueLogEntry),
    /// A dynamic member added by the dialplan ([`Store::queue_member_add`]).
    QueueMemberAdd {
        queue: String,
        extension: String,
        penalty: u32,
        paused: bool,
        reason: String,
    },
    /// [`Store::queue_member_remove`].
    QueueMemberRemove { queue: String, extension: String },
    /// [`Store::queue_member_pause`]; `queue` None: every queue of the member.
    QueueMemberPause {
        queue: Option<String>,
        extension: String,
        paused: bool,
        reason: String,
    },
}

impl Write {
    /// A short name of the kind of write, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Write::Cdr(_) => "cdr",
            Write::MonitorStarted(_) => "monitor_started",
            Write::MonitorModeChanged { .. } => "monitor_mode_changed",
            Write::MonitorEnded { .. } => "monitor_ended",
            Write::MonitorDenied { .. } => "monitor_denied",
            Write::RecordingStarted(_) => "recording_started",
            Write::RecordingEnded(_) => "recording_ended",
            Write::Locations { .. } => "locations",
            Write::LocationDeleted { .. } => "location_deleted",
            Write::KvPut { .. } => "kv_put",
            Write::KvDel { .. } => "kv_del",
            Write::KvDelTree { .. } => "kv_deltree",
            Write::LockoutStarted(_) => "lockout_started",
            Write::LockoutLifted { .. } => "lockout_lifted",
            Write::QueueLog(_) => "queue_log",
            Write::QueueMemberAdd { .. } => "queue_member_add",
            Write::QueueMemberRemove { .. } => "queue_member_remove",
            Write::QueueMemberPause { .. } => "queue_member_pause",
        }
    }

    /// What the write is about (an id, an AOR, `family/key`), for logs.
    pub fn subject(&self) -> String {
        match self {
            Write::Cdr(r) => r.id.clone(),
            Write::MonitorStarted(s) | Write::MonitorDenied { attempt: s, .. } => s.id.clone(),
            Write::MonitorModeChanged { id, .. } | Write::MonitorEnded { id, .. } => id.clone(),
            Write::RecordingStarted(r) => r.id.clone(),
            Write::RecordingEnded(e) => e.id.clone(),
            Write::Locations { aor, .. } => aor.clone(),
            Write::LocationDeleted { aor, contact_uri } => format!("{aor} {contact_uri}"),
            Write::KvPut { family, key, .. } | Write::KvDel { family, key } => {
                format!("{family}/{key}")
            }
            Write::KvDelTree { family } => family.clone(),
            Write::LockoutStarted(r) => r.id.clone(),
            Write::LockoutLifted { subject_id, .. } => subject_id.clone(),
            Write::QueueLog(e) => format!("{} {} {}", e.queue, e.event, e.call_id),
            Write::QueueMemberAdd {
                queue, extension, ..
            }
            | Write::QueueMemberRemove { queue, extension } => format!("{queue} {extension}"),
            Write::QueueMemberPause {
                queue, extension, ..
            } => format!("{} {extension}", queue.as_deref().unwrap_or("*")),
        }
    }

    /// Performs the write. `retry` says an earlier attempt failed in a way that
    /// leaves open whether it committed.
    pub(crate) async fn apply(&self, store: &Store, retry: bool) -> Result<(), StoreError> {
        match self {
            // Ids are primary keys: "already there" after a retry is the first
            // attempt's row, not a conflict.
            Write::Cdr(rec) => already_there_is_fine(store.insert_cdr(rec).await),
            Write::MonitorStarted(s) => already_there_is_fine(store.monitor_started(s).await),
            Write::MonitorDenied { attempt, reason } => {
                already_there_is_fine(store.monitor_denied(attempt, reason).await)
            }
            Write::MonitorModeChanged { id, mode, at } => {
                // Each change appends an event: ask before appending a second one.
                if retry && mode_recorded(store, id, mode, *at).await? {
                    return Ok(());
                }
                store.monitor_mode_changed(id, mode, *at).await
            }
            // Only the first end counts; later ones are no-ops already.
            Write::MonitorEnded { id, reason, at } => store.monitor_ended(id, reason, *at).await,
            Write::RecordingStarted(r) => already_there_is_fine(store.recording_started(r).await),
            // Only the first end counts. A recording deleted while it recorded (or
            // whose start was dropped from a full queue) has nothing left to end.
            Write::RecordingEnded(e) => match store.recording_ended(e).await {
                Err(StoreError::NotFound { key, .. }) => {
                    tracing::debug!(%key, "recording ended after it was deleted; nothing to record");
                    Ok(())
                }
                other => other,
            },
            Write::Locations { aor, bindings } => store.replace_locations(aor, bindings).await,
            Write::LocationDeleted { aor, contact_uri } => {
                store.delete_location(aor, contact_uri).await.map(drop)
            }
            Write::KvPut { family, key, value } => store.db_put(family, key, value).await,
            Write::KvDel { family, key } => store.db_del(family, key).await.map(drop),
            Write::KvDelTree { family } => store.db_deltree(family).await.map(drop),
            Write::LockoutStarted(r) => already_there_is_fine(store.lockout_started(r).await),
            // Lifting twice lifts nothing the second time.
            Write::LockoutLifted { subject_id, at, by } => {
                store.lockout_lifted(subject_id, *at, by).await.map(drop)
            }
            Write::QueueLog(e) => store.queue_log_insert(e).await,
            // A dynamic member the dialplan added (AddQueueMember, agent login).
            Write::QueueMemberAdd {
                queue,
                extension,
                penalty,
                paused,
                reason,
            } => {
                store
                    .queue_member_add(queue, extension, *penalty, true)
                    .await?;
                if *paused {
                    store
                        .queue_member_pause(Some(queue), extension, true, reason)
                        .await?;
                }
                Ok(())
            }
            Write::QueueMemberRemove { queue, extension } => {
                store.queue_member_remove(queue, extension).await.map(drop)
            }
            Write::QueueMemberPause {
                queue,
                extension,
                paused,
                reason,
            } => store
                .queue_member_pause(queue.as_deref(), extension, *paused, reason)
                .await
                .map(drop),
        }
    }
}

/// True when the last event of session `id` is a change to `mode` at `at`: the
/// first attempt of this very write committed, though its answer was lost.
async fn mode_recorded(
    store: &Store,
    id: &str,
    mode: &str,
    at: SystemTime,
) -> Result<bool, StoreError> {
    let last: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, detail, at FROM monitor_events WHERE session_id = $1 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(id.to_string())
    .fetch_optional(&store.pool)
    .await?;
    Ok(last.is_some_and(|(kind, detail, t)| kind == "mode" && detail == mode && t == to_ms(at)))
}

fn already_there_is_fine(r: Result<(), StoreError>) -> Result<(), StoreError> {
    match r {
        Err(StoreError::Exists { what, key }) => {
            tracing::debug!(what, %key, "already written (a retry after a lost answer)");
            Ok(())
        }
        other => other,
    }
}
