//! The monitoring audit trail: every ChanSpy/ExtenSpy session, and every refused
//! attempt, recorded as it happens.
//!
//! Monitoring a call is listening to people who may not know it, so a call center
//! must be able to show afterwards who listened to whom, when, in which mode, and
//! who was turned away. That is why each step is written at once (not when the
//! session ends, as CDRs are): a crash mid-session still leaves the start on record.
//!
//! A session is one `monitor_sessions` row plus its `monitor_events` (`start`,
//! `mode`, `end`, or a single `denied`), numbered per session by `seq`.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::error::map_insert;
use crate::time::{from_ms, to_ms};
use crate::{SpyMode, Store, StoreError};

/// What the PBX knows when a supervisor starts (or is refused) a monitoring session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorStart {
    /// Unique id chosen by the writer; later calls name the session by it.
    pub id: String,
    /// The supervisor's extension (who is listening).
    pub supervisor: String,
    /// The channel running ChanSpy/ExtenSpy, e.g. `SIP/200-00000003`.
    pub supervisor_channel: String,
    /// The monitored endpoint, e.g. `110`.
    pub target_endpoint: String,
    /// The spied channel, e.g. `SIP/110-0000001a`. May be empty for a refused
    /// attempt that was turned away before any channel was chosen.
    pub target_channel: String,
    /// The spied channel's bridged peer (usually the customer), if it had one.
    pub peer_channel: Option<String>,
    /// `listen`, `whisper` or `barge`.
    pub mode: String,
    pub started_at: SystemTime,
}

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEvent {
    pub at: SystemTime,
    /// `start`, `mode`, `end` or `denied`.
    pub kind: String,
    /// `start`: the mode; `mode`: the new mode; `end`/`denied`: the reason.
    pub detail: String,
}

/// A session as read back, with its events in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRecord {
    pub id: String,
    pub supervisor: String,
    pub supervisor_channel: String,
    pub target_endpoint: String,
    pub target_channel: String,
    pub peer_channel: Option<String>,
    /// The mode the session started in; later changes are `mode` events.
    pub mode: String,
    pub started_at: SystemTime,
    /// `None` while the session runs, or if the server stopped before ending it.
    pub ended_at: Option<SystemTime>,
    pub end_reason: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: String,
    pub events: Vec<MonitorEvent>,
}

/// The modes a supervisor can be in. Checked on write so the audit trail never holds
/// a spelling a reader (or a regulator's report) would not recognise.
const MODES: [&str; 5] = [
    SpyMode::Listen.as_str(),
    SpyMode::Whisper.as_str(),
    SpyMode::Barge.as_str(),
    SpyMode::Takeover.as_str(),
    SpyMode::Conference.as_str(),
];

/// Length bounds of one free-text field, with the words used when they are broken.
pub(crate) struct Limit {
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) words: &'static str,
}

pub(crate) const ID: Limit = Limit {
    min: 1,
    max: 128,
    words: "must be 1 to 128 characters long",
};
pub(crate) const NAME: Limit = Limit {
    min: 1,
    max: 80,
    words: "must be 1 to 80 characters long",
};
pub(crate) const CHANNEL: Limit = Limit {
    min: 1,
    max: 128,
    words: "must be 1 to 128 characters long",
};
const OPTIONAL_CHANNEL: Limit = Limit {
    min: 0,
    max: 128,
    words: "must be at most 128 characters long",
};
const REASON: Limit = Limit {
    min: 1,
    max: 255,
    words: "must be 1 to 255 characters long",
};

/// Invalid-input error; echoes at most 80 characters so a huge value cannot flood a log.
pub(crate) fn invalid(field: &'static str, value: &str, reason: &'static str) -> StoreError {
    StoreError::Invalid {
        field,
        value: value.chars().take(80).collect(),
        reason,
    }
}

/// Free text that ends up in CLI output and logs: bounded, no control characters
/// (which could forge lines or terminal escapes in a report). Same rules and words
/// as [`crate::validate`].
pub(crate) fn text(field: &'static str, value: &str, limit: &Limit) -> Result<(), StoreError> {
    let len = value.chars().count();
    if len < limit.min || len > limit.max {
        return Err(invalid(field, value, limit.words));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, value, "must not contain control characters"));
    }
    Ok(())
}

fn mode(value: &str) -> Result<(), StoreError> {
    if MODES.contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            "monitor mode",
            value,
            "must be listen, whisper, barge or takeover",
        ))
    }
}

/// Checks a session's description. A refused attempt may lack a target channel:
/// permission can be refused before any channel is picked.
fn check_start(s: &MonitorStart, denied: bool) -> Result<(), StoreError> {
    text("monitor session id", &s.id, &ID)?;
    text("supervisor", &s.supervisor, &NAME)?;
    text("supervisor channel", &s.supervisor_channel, &CHANNEL)?;
    text("target endpoint", &s.target_endpoint, &NAME)?;
    let target = if denied { &OPTIONAL_CHANNEL } else { &CHANNEL };
    text("target channel", &s.target_channel, target)?;
    if let Some(peer) = &s.peer_channel {
        text("peer channel", peer, &CHANNEL)?;
    }
    mode(&s.mode)
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "monitor session",
        key: id.to_string(),
    }
}

/// Appends an event to a session, numbered after the session's last one.
///
/// Callers must first hold a write lock on the session row (an `UPDATE` of it in the
/// same transaction): that serialises writers of one session, so two of them cannot
/// both compute the same `MAX(seq) + 1`. On PostgreSQL (READ COMMITTED) this statement
/// then sees every event committed by the previous lock holder; SQLite has a single
/// writer anyway.
async fn insert_event<'e, E>(
    ex: E,
    id: &str,
    at: i64,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO monitor_events (session_id, seq, at, kind, detail) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 \
         FROM monitor_events WHERE session_id = $1",
    )
    .bind(id.to_string())
    .bind(at)
    .bind(kind.to_string())
    .bind(detail.to_string())
    .execute(ex)
    .await?;
    Ok(())
}

pub(crate) fn event_from_row(row: &AnyRow) -> Result<Option<MonitorEvent>, StoreError> {
    let at: Option<i64> = row.try_get("event_at")?;
    let Some(at) = at else {
        // A session without events (LEFT JOIN): only possible if edited by hand.
        return Ok(None);
    };
    Ok(Some(MonitorEvent {
        at: from_ms(at),
        kind: row.try_get("event_kind")?,
        detail: row.try_get("event_detail")?,
    }))
}

pub(crate) fn session_from_row(row: &AnyRow) -> Result<MonitorRecord, StoreError> {
    let ended_at: Option<i64> = row.try_get("ended_at")?;
    Ok(MonitorRecord {
        id: row.try_get("id")?,
        supervisor: row.try_get("supervisor")?,
        supervisor_channel: row.try_get("supervisor_channel")?,
        target_endpoint: row.try_get("target_endpoint")?,
        target_channel: row.try_get("target_channel")?,
        peer_channel: row.try_get("peer_channel")?,
        mode: row.try_get("mode")?,
        started_at: from_ms(row.try_get("started_at")?),
        ended_at: ended_at.map(from_ms),
        end_reason: row.try_get("end_reason")?,
        outcome: row.try_get("outcome")?,
        events: Vec::new(),
    })
}

impl Store {
    /// Records that a supervisor started monitoring: the session and its `start`
    /// event (detail: the mode), in one transaction so neither exists without the other.
    /// [`StoreError::Exists`] if the id was used before.
    pub async fn monitor_started(&self, s: &MonitorStart) -> Result<(), StoreError> {
        check_start(s, false)?;
        self.insert_session(s, "allowed", None, "start", &s.mode)
            .await
    }

    /// Records a change of mode (detail: the new mode) in a running session.
    /// [`StoreError::NotFound`] for an unknown id; [`StoreError::Invalid`] if the
    /// session has already ended.
    pub async fn monitor_mode_changed(
        &self,
        id: &str,
        new_mode: &str,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        text("monitor session id", id, &ID)?;
        mode(new_mode)?;
        let mut tx = self.pool.begin().await?;
        // Locks the session row (see `insert_event`), and only while the session runs:
        // a mode change after the end would make the trail contradict itself.
        let open = sqlx::query(
            "UPDATE monitor_sessions SET mode = mode WHERE id = $1 AND ended_at IS NULL",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if open > 0 {
            insert_event(&mut *tx, id, to_ms(at), "mode", new_mode).await?;
            tx.commit().await?;
            return Ok(());
        }
        tx.rollback().await?;
        if !self.monitor_exists(id).await? {
            return Err(not_found(id));
        }
        Err(invalid(
            "monitor session",
            id,
            "has already ended; its mode cannot change",
        ))
    }

    /// Records the end of a session: sets `ended_at`/`end_reason` and adds an `end`
    /// event (detail: the reason). Idempotent, because hangup paths race (both legs,
    /// the spy application, shutdown): only the first call counts, later ones are
    /// no-ops. [`StoreError::NotFound`] for an unknown id.
    pub async fn monitor_ended(
        &self,
        id: &str,
        reason: &str,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        text("monitor session id", id, &ID)?;
        text("end reason", reason, &REASON)?;
        let at = to_ms(at);
        let mut tx = self.pool.begin().await?;
        // The `ended_at IS NULL` guard makes the first caller the only writer, and the
        // update locks the row for `insert_event`.
        let updated = sqlx::query(
            "UPDATE monitor_sessions SET ended_at = $2, end_reason = $3 \
             WHERE id = $1 AND ended_at IS NULL",
        )
        .bind(id.to_string())
        .bind(at)
        .bind(reason.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated > 0 {
            insert_event(&mut *tx, id, at, "end", reason).await?;
            tx.commit().await?;
            return Ok(());
        }
        tx.rollback().await?;
        if self.monitor_exists(id).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// Records a refused attempt: a session with outcome `denied`, ended at its start
    /// with `reason`, and a single `denied` event carrying the reason. Refusals are kept
    /// because repeated attempts to listen without permission are what an audit looks for.
    /// [`StoreError::Exists`] if the id was used before.
    pub async fn monitor_denied(&self, s: &MonitorStart, reason: &str) -> Result<(), StoreError> {
        check_start(s, true)?;
        text("denial reason", reason, &REASON)?;
        self.insert_session(s, "denied", Some(reason), "denied", reason)
            .await
    }

    /// The `limit` most recent sessions (allowed and denied), newest first by start,
    /// each with its events in time order.
    pub async fn list_monitors(&self, limit: u32) -> Result<Vec<MonitorRecord>, StoreError> {
        // One statement, so sessions and events come from the same snapshot: a second
        // query could see a session ended in between, or miss events.
        let rows = sqlx::query(
            "SELECT s.id, s.supervisor, s.supervisor_channel, s.target_endpoint, \
               s.target_channel, s.peer_channel, s.mode, s.outcome, s.started_at, \
               s.ended_at, s.end_reason, \
               e.at AS event_at, e.kind AS event_kind, e.detail AS event_detail \
             FROM (SELECT id, supervisor, supervisor_channel, target_endpoint, \
                     target_channel, peer_channel, mode, outcome, started_at, ended_at, \
                     end_reason \
                   FROM monitor_sessions ORDER BY started_at DESC, id DESC LIMIT $1) AS s \
             LEFT JOIN monitor_events e ON e.session_id = s.id \
             ORDER BY s.started_at DESC, s.id DESC, e.at, e.seq",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<MonitorRecord> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            if out.last().is_none_or(|r| r.id != id) {
                out.push(session_from_row(row)?);
            }
            if let (Some(event), Some(rec)) = (event_from_row(row)?, out.last_mut()) {
                rec.events.push(event);
            }
        }
        Ok(out)
    }

    /// Writes a session row and its first event in one transaction.
    async fn insert_session(
        &self,
        s: &MonitorStart,
        outcome: &str,
        ended: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let started = to_ms(s.started_at);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO monitor_sessions (id, supervisor, supervisor_channel, \
               target_endpoint, target_channel, peer_channel, mode, outcome, started_at, \
               ended_at, end_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&s.id)
        .bind(&s.supervisor)
        .bind(&s.supervisor_channel)
        .bind(&s.target_endpoint)
        .bind(&s.target_channel)
        .bind(s.peer_channel.clone())
        .bind(&s.mode)
        .bind(outcome.to_string())
        .bind(started)
        .bind(ended.map(|_| started))
        .bind(ended.map(str::to_string))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_insert(e, "monitor session", &s.id))?;
        // The new row is ours alone until commit, so numbering needs no extra lock.
        insert_event(&mut *tx, &s.id, started, kind, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tells "no such session" from "already ended" after a guarded update did nothing.
    async fn monitor_exists(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM monitor_sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_rules() {
        assert!(text("f", "SIP/110-0000001a", &CHANNEL).is_ok());
        assert!(text("f", "", &CHANNEL).is_err());
        assert!(text("f", "", &OPTIONAL_CHANNEL).is_ok());
        assert!(text("f", "a\nb", &REASON).is_err());
        assert!(text("f", "a\u{1b}[2J", &REASON).is_err());
        assert!(text("f", &"x".repeat(255), &REASON).is_ok());
        assert!(text("f", &"x".repeat(256), &REASON).is_err());
        // Counted in characters, not bytes.
        assert!(text("f", &"é".repeat(80), &NAME).is_ok());
    }

    #[test]
    fn long_values_are_not_echoed_whole() {
        let err = text("f", &"x".repeat(10_000), &REASON).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn modes() {
        for ok in MODES {
            assert!(mode(ok).is_ok());
        }
        for bad in ["", "Listen", "spy", "barge "] {
            assert!(mode(bad).is_err(), "{bad:?}");
        }
    }
}
