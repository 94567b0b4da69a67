//! Reading recordings back: listed with filters, one by id, and the monitoring
//! sessions that overlapped one (who listened, whispered or barged while it ran,
//! with their mode changes and times: what a listener needs to make sense of the
//! audio).

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::monitor::{event_from_row, session_from_row};
use crate::recordings::{Recording, RecordingTrack};
use crate::time::{from_ms, to_ms};
use crate::{MonitorRecord, Store, StoreError, Track};

/// Which recordings [`Store::list_recordings`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// The recorded channel, or its peer (`SIP/110-0000001a`), exactly.
    pub channel: Option<String>,
    /// Started at or after.
    pub since: Option<SystemTime>,
    /// Started before.
    pub until: Option<SystemTime>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// A recording with the monitoring sessions that overlapped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingDetail {
    pub recording: Recording,
    /// Allowed sessions whose target or peer is the recorded channel or its peer
    /// (and, for ChanSpy, the recording's own session) that ran while it recorded,
    /// oldest first, each with its events.
    pub sessions: Vec<MonitorRecord>,
}

const COLUMNS: &str = "r.id, r.kind, r.call_ref, r.channel, r.peer_channel, r.caller, \
    r.callee, r.monitor_session, r.supervisor, r.started_at, r.ended_at, r.duration_ms, \
    t.track, t.path, t.frames, t.bytes, t.dropped_frames";

fn count(row: &AnyRow, name: &'static str) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = row.try_get(name)?;
    v.map(|v| {
        u64::try_from(v).map_err(|_| StoreError::Corrupt {
            what: "recording",
            detail: format!("{name} is negative ({v})"),
        })
    })
    .transpose()
}

fn recording_from_row(row: &AnyRow) -> Result<Recording, StoreError> {
    let ended_at: Option<i64> = row.try_get("ended_at")?;
    Ok(Recording {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        call: row.try_get("call_ref")?,
        channel: row.try_get("channel")?,
        peer_channel: row.try_get("peer_channel")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        monitor_session: row.try_get("monitor_session")?,
        supervisor: row.try_get("supervisor")?,
        started_at: from_ms(row.try_get("started_at")?),
        ended_at: ended_at.map(from_ms),
        duration_ms: count(row, "duration_ms")?,
        tracks: Vec::new(),
    })
}

fn track_from_row(row: &AnyRow) -> Result<Option<RecordingTrack>, StoreError> {
    let Some(track) = row.try_get::<Option<String>, _>("track")? else {
        // No tracks (LEFT JOIN): only possible if edited by hand.
        return Ok(None);
    };
    Ok(Some(RecordingTrack {
        track,
        path: row.try_get("path")?,
        frames: count(row, "frames")?,
        bytes: count(row, "bytes")?,
        dropped_frames: count(row, "dropped_frames")?,
    }))
}

/// Known tracks in [`Track::ALL`] order, then any a newer version wrote, by name.
fn track_order(t: &RecordingTrack) -> (usize, String) {
    let known = Track::parse(&t.track).map_or(Track::ALL.len(), |k| k as usize);
    (known, t.track.clone())
}

/// Folds joined rows (one per track, ordered by recording) into recordings.
fn fold(rows: &[AnyRow]) -> Result<Vec<Recording>, StoreError> {
    let mut out: Vec<Recording> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        if out.last().is_none_or(|r| r.id != id) {
            out.push(recording_from_row(row)?);
        }
        if let (Some(track), Some(rec)) = (track_from_row(row)?, out.last_mut()) {
            rec.tracks.push(track);
        }
    }
    for rec in &mut out {
        rec.tracks.sort_by_key(track_order);
    }
    Ok(out)
}

impl Store {
    /// Recordings, newest first by start, with their tracks.
    pub async fn list_recordings(&self, f: &RecordingFilter) -> Result<Vec<Recording>, StoreError> {
        // One statement, so recordings and their tracks come from the same snapshot.
        // Absent filters are values that match everything, so the text stays fixed.
        let sql = format!(
            "SELECT {COLUMNS} \
             FROM (SELECT * FROM recordings \
                   WHERE ($1 = '' OR channel = $1 OR peer_channel = $1) \
                     AND started_at >= $2 AND started_at < $3 \
                   ORDER BY started_at DESC, id DESC LIMIT $4) AS r \
             LEFT JOIN recording_tracks t ON t.recording_id = r.id \
             ORDER BY r.started_at DESC, r.id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.channel.clone().unwrap_or_default())
            .bind(f.since.map_or(0, to_ms))
            .bind(f.until.map_or(i64::MAX, to_ms))
            .bind(i64::from(f.limit))
            .fetch_all(&self.pool)
            .await?;
        fold(&rows)
    }

    /// One recording with its tracks; `None` when there is none with this id.
    pub async fn get_recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings r \
             LEFT JOIN recording_tracks t ON t.recording_id = r.id WHERE r.id = $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(fold(&rows)?.pop())
    }

    /// One recording with the monitoring sessions that overlapped it.
    pub async fn recording_detail(&self, id: &str) -> Result<Option<RecordingDetail>, StoreError> {
        let Some(recording) = self.get_recording(id).await? else {
            return Ok(None);
        };
        let sessions = self.sessions_during(&recording).await?;
        Ok(Some(RecordingDetail {
            recording,
            sessions,
        }))
    }

    /// Allowed monitoring sessions on the recorded channel or its peer that ran
    /// while `r` recorded (a recording not ended yet runs until now), oldest first.
    ///
    /// A session the server never ended (it stopped mid-session) counts as still
    /// running, so it shows on later recordings of a channel with the same name.
    async fn sessions_during(&self, r: &Recording) -> Result<Vec<MonitorRecord>, StoreError> {
        let start = to_ms(r.started_at);
        let end = r.ended_at.map_or(i64::MAX, to_ms);
        // Absent values are bound as the channel itself, which changes nothing.
        let peer = r.peer_channel.clone().unwrap_or_else(|| r.channel.clone());
        let own = r.monitor_session.clone().unwrap_or_default();
        let rows = sqlx::query(
            "SELECT s.id, s.supervisor, s.supervisor_channel, s.target_endpoint, \
               s.target_channel, s.peer_channel, s.mode, s.outcome, s.started_at, \
               s.ended_at, s.end_reason, \
               e.at AS event_at, e.kind AS event_kind, e.detail AS event_detail \
             FROM monitor_sessions s \
             LEFT JOIN monitor_events e ON e.session_id = s.id \
             WHERE s.outcome = 'allowed' \
               AND (s.id = $5 OR s.target_channel IN ($1, $2) OR s.peer_channel IN ($1, $2)) \
               AND s.started_at <= $4 \
               AND (s.ended_at IS NULL OR s.ended_at >= $3) \
             ORDER BY s.started_at, s.id, e.at, e.seq",
        )
        .bind(r.channel.clone())
        .bind(peer)
        .bind(start)
        .bind(end)
        .bind(own)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<MonitorRecord> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            if out.last().is_none_or(|s| s.id != id) {
                out.push(session_from_row(row)?);
            }
            if let (Some(event), Some(s)) = (event_from_row(row)?, out.last_mut()) {
                s.events.push(event);
            }
        }
        Ok(out)
    }
}
