//! Recordings: which call, channel and parties a MixMonitor or ChanSpy `r()`
//! recording belongs to, when it ran, and where its WAV files (tracks) are.
//!
//! The files are written by the media side; this module only keeps their
//! description, so the API and the CLI can list, serve and delete them. A recording
//! is written twice, through the write-behind queue like the audit trail: when it
//! starts (so a crash still leaves it listed, with `ended_at` NULL) and when every
//! file is complete (end time, length, frames and bytes per file). Reading one back
//! with the monitoring sessions that overlapped it is in `recording_query.rs`;
//! deleting one with its files in `recording_files.rs`.

use std::fmt;
use std::time::SystemTime;

use crate::error::map_insert;
use crate::monitor::{invalid, text, Limit, CHANNEL, ID, NAME};
use crate::time::to_ms;
use crate::{validate, Store, StoreError};

/// What made a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingKind {
    /// `MixMonitor(file[,options])`: a channel's call.
    MixMonitor,
    /// ChanSpy's `r(name)`: what a supervisor heard.
    ChanSpy,
}

impl RecordingKind {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordingKind::MixMonitor => "mixmonitor",
            RecordingKind::ChanSpy => "chanspy",
        }
    }
}

impl fmt::Display for RecordingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which audio a file of a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    /// Both directions mixed (MixMonitor's main file).
    Mixed,
    /// `r()`: what the recorded channel's phone said.
    Read,
    /// `t()`: what the recorded channel's phone heard.
    Write,
    /// `S()`: what supervisors said into the call.
    Supervisors,
    /// ChanSpy `r()`: what the supervisor heard.
    Heard,
}

impl Track {
    /// Every track, in the order listings show them.
    pub const ALL: [Track; 5] = [
        Track::Mixed,
        Track::Read,
        Track::Write,
        Track::Supervisors,
        Track::Heard,
    ];

    /// The stored spelling (also the API's `{track}`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Track::Mixed => "mixed",
            Track::Read => "read",
            Track::Write => "write",
            Track::Supervisors => "supervisors",
            Track::Heard => "heard",
        }
    }

    /// A stored or requested spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Track> {
        Track::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a starting recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrack {
    pub track: Track,
    /// Relative to the recordings folder ([`validate::recording_path`]).
    pub path: String,
}

/// What the PBX knows when a recording starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStart {
    /// Chosen by the writer: [`new_recording_id`].
    pub id: String,
    pub kind: RecordingKind,
    /// The call's public id (as in `GET /api/v1/calls` and the CDR), when known.
    pub call: Option<String>,
    /// The recorded channel: MixMonitor's own, or the channel ChanSpy spied on.
    pub channel: String,
    /// Its bridged peer, if it had one at the start (the end may tell it later).
    pub peer_channel: Option<String>,
    /// The parties' numbers, as the recorded channel knows them.
    pub caller: Option<String>,
    pub callee: Option<String>,
    /// ChanSpy: the monitoring session the recording belongs to.
    pub monitor_session: Option<String>,
    /// ChanSpy: the supervisor's extension.
    pub supervisor: Option<String>,
    pub started_at: SystemTime,
    /// At least one; each track at most once.
    pub tracks: Vec<NewTrack>,
}

/// A file's figures once its writer finished it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEnd {
    pub track: Track,
    /// 20 ms frames in the file.
    pub frames: u64,
    /// The file's size.
    pub bytes: u64,
    /// Frames left out because the disk was too slow.
    pub dropped_frames: u64,
}

/// A recording whose files are all complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingEnd {
    pub id: String,
    pub at: SystemTime,
    /// The length of the audio (the longest track).
    pub duration_ms: u64,
    /// The peer learnt while recording (MixMonitor usually starts before `Dial`);
    /// kept only where the start had none.
    pub peer_channel: Option<String>,
    pub tracks: Vec<TrackEnd>,
}

/// A recording as read back, its tracks in [`Track::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub id: String,
    /// `mixmonitor` or `chanspy` (a newer version may add kinds).
    pub kind: String,
    pub call: Option<String>,
    pub channel: String,
    pub peer_channel: Option<String>,
    pub caller: Option<String>,
    pub callee: Option<String>,
    pub monitor_session: Option<String>,
    pub supervisor: Option<String>,
    pub started_at: SystemTime,
    /// `None` while recording, or if the server stopped before the files were complete.
    pub ended_at: Option<SystemTime>,
    pub duration_ms: Option<u64>,
    pub tracks: Vec<RecordingTrack>,
}

/// One file of a recording as read back; the figures are `None` until it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingTrack {
    /// `mixed`, `read`, `write`, `supervisors` or `heard`.
    pub track: String,
    /// Relative to the recordings folder.
    pub path: String,
    pub frames: Option<u64>,
    pub bytes: Option<u64>,
    pub dropped_frames: Option<u64>,
}

impl Recording {
    /// The track named `name`, if the recording has it.
    pub fn track(&self, name: &str) -> Option<&RecordingTrack> {
        self.tracks.iter().find(|t| t.track == name)
    }
}

/// A new recording id: 128 random bits as 32 hex digits. A download names nothing
/// but the id, so knowing one recording's id must not lead to another's.
pub fn new_recording_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

const NUMBER: Limit = Limit {
    min: 1,
    max: 80,
    words: "must be 1 to 80 characters long",
};

fn optional(field: &'static str, v: &Option<String>, limit: &Limit) -> Result<(), StoreError> {
    v.as_deref().map_or(Ok(()), |v| text(field, v, limit))
}

fn check_start(s: &RecordingStart) -> Result<(), StoreError> {
    text("recording id", &s.id, &ID)?;
    optional("call", &s.call, &ID)?;
    text("recorded channel", &s.channel, &CHANNEL)?;
    optional("peer channel", &s.peer_channel, &CHANNEL)?;
    optional("caller", &s.caller, &NUMBER)?;
    optional("callee", &s.callee, &NUMBER)?;
    optional("monitor session id", &s.monitor_session, &ID)?;
    optional("supervisor", &s.supervisor, &NAME)?;
    if s.tracks.is_empty() {
        return Err(invalid("recording", &s.id, "must have at least one track"));
    }
    for (i, t) in s.tracks.iter().enumerate() {
        validate::recording_path(&t.path)?;
        if s.tracks[..i].iter().any(|o| o.track == t.track) {
            return Err(invalid(
                "recording track",
                t.track.as_str(),
                "is named twice",
            ));
        }
    }
    Ok(())
}

/// Counts and sizes are u64 in Rust, BIGINT (i64) in the database.
pub(crate) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records a starting recording and its tracks, in one transaction.
    /// [`StoreError::Exists`] if the id was used before.
    pub async fn recording_started(&self, s: &RecordingStart) -> Result<(), StoreError> {
        check_start(s)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO recordings (id, kind, call_ref, channel, peer_channel, caller, \
               callee, monitor_session, supervisor, started_at, ended_at, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)",
        )
        .bind(&s.id)
        .bind(s.kind.as_str())
        .bind(s.call.clone())
        .bind(&s.channel)
        .bind(s.peer_channel.clone())
        .bind(s.caller.clone())
        .bind(s.callee.clone())
        .bind(s.monitor_session.clone())
        .bind(s.supervisor.clone())
        .bind(to_ms(s.started_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_insert(e, "recording", &s.id))?;
        for t in &s.tracks {
            sqlx::query(
                "INSERT INTO recording_tracks (recording_id, track, path) VALUES ($1, $2, $3)",
            )
            .bind(&s.id)
            .bind(t.track.as_str())
            .bind(&t.path)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that every file of a recording is complete. Only the first end
    /// counts (a retry after a lost answer is a no-op). [`StoreError::NotFound`]
    /// for an unknown id (never started, or deleted while it recorded).
    pub async fn recording_ended(&self, e: &RecordingEnd) -> Result<(), StoreError> {
        text("recording id", &e.id, &ID)?;
        optional("peer channel", &e.peer_channel, &CHANNEL)?;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE recordings SET ended_at = $2, duration_ms = $3, \
               peer_channel = COALESCE(peer_channel, $4) \
             WHERE id = $1 AND ended_at IS NULL",
        )
        .bind(&e.id)
        .bind(to_ms(e.at))
        .bind(big(e.duration_ms))
        .bind(e.peer_channel.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return if self.recording_exists(&e.id).await? {
                Ok(())
            } else {
                Err(not_found(&e.id))
            };
        }
        for t in &e.tracks {
            sqlx::query(
                "UPDATE recording_tracks SET frames = $3, bytes = $4, dropped_frames = $5 \
                 WHERE recording_id = $1 AND track = $2",
            )
            .bind(&e.id)
            .bind(t.track.as_str())
            .bind(big(t.frames))
            .bind(big(t.bytes))
            .bind(big(t.dropped_frames))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a recording's rows (not its files: see
    /// [`Store::delete_recording_and_files`]); false when there was none.
    pub async fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM recording_tracks WHERE recording_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Paths of recording `id`'s files that another recording lists too (a dialplan
    /// that reuses a file name records each call over the last one): deleting `id`
    /// must leave those files alone.
    pub(crate) async fn recording_paths_shared(&self, id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT path FROM recording_tracks \
             WHERE recording_id <> $1 \
               AND path IN (SELECT path FROM recording_tracks WHERE recording_id = $1)",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn recording_exists(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM recordings WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

pub(crate) fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "recording",
        key: id.chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_hex() {
        let a = new_recording_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_recording_id());
    }

    #[test]
    fn tracks_round_trip() {
        for t in Track::ALL {
            assert_eq!(Track::parse(t.as_str()), Some(t));
        }
        assert_eq!(Track::parse("Mixed"), None);
        assert_eq!(Track::parse("../x"), None);
    }
}
