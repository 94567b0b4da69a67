//! Lockouts on record: every lock the PBX starts against guessing (digest
//! passwords, PINs), and every lift, one row per lock.
//!
//! Kept for two reasons. A restart must not be a way to lift a lock (an attacker
//! who can crash or outwait a restart would get a fresh budget), so the PBX puts
//! back the locks still in force when it starts. And a lock is a security event
//! an administrator must be able to find afterwards: who was locked, why, until
//! when, and who lifted it.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::map_insert;
use crate::monitor::{text, Limit, CHANNEL, ID};
use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError};

/// One lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutRecord {
    /// This lock's own id (unique per lock).
    pub id: String,
    /// What is locked, the same for every lock of it: the API's id.
    pub subject_id: String,
    /// `source`, `extension`, `source_extension`, `pin_caller` or `pin`.
    pub kind: String,
    /// What the PBX's tracker keys on (for a PIN its stored hash): never shown.
    pub key: String,
    /// What is locked, in words (`source 192.0.2.7`, `PIN at 778`).
    pub subject: String,
    pub started_at: SystemTime,
    pub until: SystemTime,
    /// Locks of this subject in a row, this one included.
    pub count: u32,
    pub reason: String,
    pub lifted_at: Option<SystemTime>,
    /// Who lifted it (a token's name or `cli`).
    pub lifted_by: Option<String>,
}

const KINDS: [&str; 5] = [
    "source",
    "extension",
    "source_extension",
    "pin_caller",
    "pin",
];

const KEY: Limit = Limit {
    min: 1,
    max: 512,
    words: "must be 1 to 512 characters long",
};
const REASON: Limit = Limit {
    min: 1,
    max: 255,
    words: "must be 1 to 255 characters long",
};

fn check(r: &LockoutRecord) -> Result<(), StoreError> {
    text("lockout id", &r.id, &ID)?;
    text("lockout subject id", &r.subject_id, &ID)?;
    if !KINDS.contains(&r.kind.as_str()) {
        return Err(crate::monitor::invalid(
            "lockout kind",
            &r.kind,
            "must be source, extension, source_extension, pin_caller or pin",
        ));
    }
    text("lockout key", &r.key, &KEY)?;
    text("lockout subject", &r.subject, &CHANNEL)?;
    text("lockout reason", &r.reason, &REASON)
}

fn from_row(row: &AnyRow) -> Result<LockoutRecord, StoreError> {
    let count: i64 = row.try_get("lock_count")?;
    Ok(LockoutRecord {
        id: row.try_get("id")?,
        subject_id: row.try_get("subject_id")?,
        kind: row.try_get("kind")?,
        key: row.try_get("lock_key")?,
        subject: row.try_get("subject")?,
        started_at: from_ms(row.try_get("started_at")?),
        until: from_ms(row.try_get("until_at")?),
        count: u32::try_from(count).unwrap_or(u32::MAX),
        reason: row.try_get("reason")?,
        lifted_at: row.try_get::<Option<i64>, _>("lifted_at")?.map(from_ms),
        lifted_by: row.try_get("lifted_by")?,
    })
}

impl Store {
    /// Records a lock as it starts.
    pub async fn lockout_started(&self, r: &LockoutRecord) -> Result<(), StoreError> {
        check(r)?;
        sqlx::query(
            "INSERT INTO lockouts (id, subject_id, kind, lock_key, subject, started_at, \
               until_at, lock_count, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(r.id.clone())
        .bind(r.subject_id.clone())
        .bind(r.kind.clone())
        .bind(r.key.clone())
        .bind(r.subject.clone())
        .bind(to_ms(r.started_at))
        .bind(to_ms(r.until))
        .bind(i64::from(r.count))
        .bind(r.reason.clone())
        .execute(&self.pool)
        .await
        .map_err(|e| map_insert(e, "lockout", &r.id))?;
        Ok(())
    }

    /// Marks the locks of `subject_id` still in force at `at` as lifted by `by`;
    /// how many were.
    pub async fn lockout_lifted(
        &self,
        subject_id: &str,
        at: SystemTime,
        by: &str,
    ) -> Result<u64, StoreError> {
        text("lockout subject id", subject_id, &ID)?;
        text("lifted by", by, &crate::monitor::NAME)?;
        let done = sqlx::query(
            "UPDATE lockouts SET lifted_at = $1, lifted_by = $2 \
             WHERE subject_id = $3 AND lifted_at IS NULL AND until_at > $1",
        )
        .bind(to_ms(at))
        .bind(by.to_string())
        .bind(subject_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The locks in force at `now` (not expired, not lifted), oldest first.
    pub async fn active_lockouts(&self, now: SystemTime) -> Result<Vec<LockoutRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subject_id, kind, lock_key, subject, started_at, until_at, \
               lock_count, reason, lifted_at, lifted_by \
             FROM lockouts WHERE lifted_at IS NULL AND until_at > $1 \
             ORDER BY started_at, id",
        )
        .bind(to_ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The `limit` most recent locks, in force or not, newest first.
    pub async fn lockout_history(&self, limit: u32) -> Result<Vec<LockoutRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subject_id, kind, lock_key, subject, started_at, until_at, \
               lock_count, reason, lifted_at, lifted_by \
             FROM lockouts ORDER BY started_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
