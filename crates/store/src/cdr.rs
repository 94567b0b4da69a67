//! Call detail records, written once when a call ends.

use std::fmt;
use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::map_insert;
use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError};

/// How a call ended, spelled as Asterisk's CDR `disposition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Answered,
    NoAnswer,
    Busy,
    Failed,
    Cancelled,
    Congestion,
    /// A value written by a newer version or another tool, kept as is.
    Other(String),
}

impl Disposition {
    /// The stored spelling (`ANSWERED`, `NO ANSWER`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Disposition::Answered => "ANSWERED",
            Disposition::NoAnswer => "NO ANSWER",
            Disposition::Busy => "BUSY",
            Disposition::Failed => "FAILED",
            Disposition::Cancelled => "CANCELLED",
            Disposition::Congestion => "CONGESTION",
            Disposition::Other(s) => s,
        }
    }

    /// Reads a stored spelling; unknown ones become [`Disposition::Other`].
    pub fn parse(s: &str) -> Disposition {
        match s {
            "ANSWERED" => Disposition::Answered,
            "NO ANSWER" => Disposition::NoAnswer,
            "BUSY" => Disposition::Busy,
            "FAILED" => Disposition::Failed,
            "CANCELLED" => Disposition::Cancelled,
            "CONGESTION" => Disposition::Congestion,
            other => Disposition::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Unique id chosen by the writer.
    pub id: String,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// `SIP/110-0000001a`.
    pub caller_channel: String,
    /// `None` when no callee channel was ever created.
    pub callee_channel: Option<String>,
    pub start_at: SystemTime,
    pub answer_at: Option<SystemTime>,
    pub end_at: SystemTime,
    pub disposition: Disposition,
    /// Who hung up: `caller`, `callee` or `system`.
    pub hangup_by: String,
    /// From start to end, in milliseconds.
    pub duration_ms: u64,
    /// From answer to end, in milliseconds (0 if never answered).
    pub billsec_ms: u64,
    /// A supervisor took the call over: the agent's leg was released and the
    /// client talked with the supervisor from then on.
    pub taken_over: Option<TakenOver>,
}

/// Who took a call over, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    /// The supervisor's extension.
    pub by: String,
    pub at: SystemTime,
}

fn ms_column(row: &AnyRow, name: &'static str) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(name)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        what: "call record",
        detail: format!("{name} is negative ({v})"),
    })
}

fn from_row(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let disposition: String = row.try_get("disposition")?;
    let answer_at: Option<i64> = row.try_get("answer_at")?;
    Ok(CallRecord {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        caller_channel: row.try_get("caller_channel")?,
        callee_channel: row.try_get("callee_channel")?,
        start_at: from_ms(row.try_get("start_at")?),
        answer_at: answer_at.map(from_ms),
        end_at: from_ms(row.try_get("end_at")?),
        disposition: Disposition::parse(&disposition),
        hangup_by: row.try_get("hangup_by")?,
        duration_ms: ms_column(row, "duration_ms")?,
        billsec_ms: ms_column(row, "billsec_ms")?,
        taken_over: match (
            row.try_get::<Option<String>, _>("taken_over_by")?,
            row.try_get::<Option<i64>, _>("taken_over_at")?,
        ) {
            (Some(by), Some(at)) => Some(TakenOver {
                by,
                at: from_ms(at),
            }),
            _ => None,
        },
    })
}

fn ms_value(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores a finished call; [`StoreError::Exists`] if its id was used before.
    pub async fn insert_cdr(&self, rec: &CallRecord) -> Result<(), StoreError> {
        if rec.id.is_empty() {
            return Err(StoreError::Invalid {
                field: "call record id",
                value: String::new(),
                reason: "must not be empty",
            });
        }
        sqlx::query(
            "INSERT INTO cdr (id, call_id, caller, callee, caller_channel, callee_channel, \
               start_at, answer_at, end_at, disposition, hangup_by, duration_ms, billsec_ms, \
               taken_over_by, taken_over_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&rec.id)
        .bind(&rec.call_id)
        .bind(&rec.caller)
        .bind(&rec.callee)
        .bind(&rec.caller_channel)
        .bind(rec.callee_channel.clone())
        .bind(to_ms(rec.start_at))
        .bind(rec.answer_at.map(to_ms))
        .bind(to_ms(rec.end_at))
        .bind(rec.disposition.as_str())
        .bind(&rec.hangup_by)
        .bind(ms_value(rec.duration_ms))
        .bind(ms_value(rec.billsec_ms))
        .bind(rec.taken_over.as_ref().map(|t| t.by.clone()))
        .bind(rec.taken_over.as_ref().map(|t| to_ms(t.at)))
        .execute(&self.pool)
        .await
        .map_err(|e| map_insert(e, "call record", &rec.id))?;
        Ok(())
    }

    /// The `limit` most recent calls, newest first (by start time).
    pub async fn list_cdr(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, call_id, caller, callee, caller_channel, callee_channel, start_at, \
               answer_at, end_at, disposition, hangup_by, duration_ms, billsec_ms, \
               taken_over_by, taken_over_at \
             FROM cdr ORDER BY start_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
