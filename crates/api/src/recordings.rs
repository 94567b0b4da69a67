//! Recordings (`/api/v1/recordings`): MixMonitor's and ChanSpy's WAV files with
//! their call, parties and the monitoring sessions that ran meanwhile; listed and
//! downloaded with a read token, deleted (files and rows) only with an admin token.
//!
//! A download names a recording id and a track, never a path: the file served is
//! the one the recording's row stores, and only if it is a plain relative path that
//! resolves (symbolic links followed) inside the configured recordings folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::{Body as HttpBody, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;

use crate::calls::{audit_out, ms, AuditOut};
use crate::config::store;
use crate::fail::{ApiResult, ErrorBody, Failure, PathArg, QueryMap};
use crate::state::ApiState;
use store::{Recording, RecordingDetail, RecordingFilter, RecordingTrack};

/// One file of a recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackOut {
    /// `mixed` (both directions), `read` (what the recorded channel's phone said),
    /// `write` (what it heard), `supervisors` (what supervisors said), `heard`
    /// (ChanSpy: what the supervisor heard).
    pub track: String,
    /// Relative to the server's recordings folder.
    pub path: String,
    /// 20 ms frames, once the file is complete.
    pub frames: Option<u64>,
    /// The file's size, once complete.
    pub bytes: Option<u64>,
    /// Frames left out because the disk was too slow.
    pub dropped_frames: Option<u64>,
    /// Where to download it (`audio/wav`).
    pub url: String,
}

/// A recording. Times are epoch milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingOut {
    /// 32 hex digits.
    pub id: String,
    /// `mixmonitor` or `chanspy`.
    pub kind: String,
    /// The call's id (as in `GET /api/v1/calls` and `GET /api/v1/cdr`), when known.
    pub call: Option<String>,
    /// The recorded channel: MixMonitor's own, or the channel ChanSpy spied on.
    pub channel: String,
    /// Its bridged peer.
    pub peer_channel: Option<String>,
    /// The parties' numbers, as the recorded channel knew them.
    pub caller: Option<String>,
    pub callee: Option<String>,
    /// ChanSpy: the monitoring session (`GET /api/v1/audit`) and its supervisor.
    pub monitor_session: Option<String>,
    pub supervisor: Option<String>,
    pub started_at: u64,
    /// Null while recording, or if the server stopped before the files were complete.
    pub ended_at: Option<u64>,
    /// The audio's length (the longest track).
    pub duration_ms: Option<u64>,
    pub tracks: Vec<TrackOut>,
}

/// A recording with the monitoring sessions on its channels while it ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingDetailOut {
    #[serde(flatten)]
    pub recording: RecordingOut,
    /// Supervisors who listened, whispered or barged into the recorded channel or its
    /// peer while it recorded, oldest first, with their mode changes (`events`).
    pub sessions: Vec<AuditOut>,
}

/// A WAV file: 8 kHz, 16-bit, mono (for the OpenAPI document only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // never built: the handler streams the file
pub struct WavFile(Vec<u8>);

fn track_out(id: &str, t: RecordingTrack) -> TrackOut {
    TrackOut {
        url: format!("/api/v1/recordings/{id}/tracks/{}", t.track),
        track: t.track,
        path: t.path,
        frames: t.frames,
        bytes: t.bytes,
        dropped_frames: t.dropped_frames,
    }
}

fn recording_out(r: Recording) -> RecordingOut {
    let tracks = r.tracks.into_iter().map(|t| track_out(&r.id, t)).collect();
    RecordingOut {
        id: r.id,
        kind: r.kind,
        call: r.call,
        channel: r.channel,
        peer_channel: r.peer_channel,
        caller: r.caller,
        callee: r.callee,
        monitor_session: r.monitor_session,
        supervisor: r.supervisor,
        started_at: ms(r.started_at),
        ended_at: r.ended_at.map(ms),
        duration_ms: r.duration_ms,
        tracks,
    }
}

fn unknown(id: &str) -> Failure {
    Failure::not_found(format!("recording {id:?} does not exist"))
}

/// The folder the server records to, or a `503` when it was not given one.
fn folder(s: &ApiState) -> ApiResult<&Path> {
    s.recordings.as_deref().ok_or_else(|| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no recordings folder",
        )
    })
}

#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings",
    params(
        ("channel" = Option<String>, Query, description = "the recorded channel or its peer, e.g. SIP/110-0000001a"),
        ("since" = Option<u64>, Query, description = "started at or after (epoch ms)"),
        ("until" = Option<u64>, Query, description = "started before (epoch ms)"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "newest first", body = Vec<RecordingOut>),
              (status = 400, body = ErrorBody)))]
pub(crate) async fn list_recordings(
    State(s): State<ApiState>,
    q: QueryMap,
) -> ApiResult<Json<Vec<RecordingOut>>> {
    let limit = q.limit(100, 1000)?;
    let since: Option<u64> = q.number("since")?;
    let until: Option<u64> = q.number("until")?;
    if let (Some(a), Some(b)) = (since, until) {
        if a > b {
            return Err(Failure::bad(
                "until",
                format!("until={b} is before since={a}"),
            ));
        }
    }
    let at = |v: u64| UNIX_EPOCH + Duration::from_millis(v);
    let filter = RecordingFilter {
        channel: q.text("channel").map(str::to_string),
        since: since.map(at),
        until: until.map(at),
        limit,
    };
    let list = store(&s)?.list_recordings(&filter).await?;
    Ok(Json(list.into_iter().map(recording_out).collect()))
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 200, body = RecordingDetailOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_recording(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<Json<RecordingDetailOut>> {
    let RecordingDetail {
        recording,
        sessions,
    } = store(&s)?
        .recording_detail(&id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(RecordingDetailOut {
        recording: recording_out(recording),
        sessions: sessions.into_iter().map(audit_out).collect(),
    }))
}

/// The file of a stored track path, only if it is inside `folder` once symbolic
/// links are followed; the reason otherwise.
async fn served_file(folder: &Path, stored: &str) -> Result<PathBuf, &'static str> {
    let file = store::track_file(folder, stored).ok_or("is not under the recordings folder")?;
    let real = tokio::fs::canonicalize(&file)
        .await
        .map_err(|_| "is gone")?;
    let root = tokio::fs::canonicalize(folder)
        .await
        .map_err(|_| "is gone (no recordings folder)")?;
    if !real.starts_with(&root) {
        return Err("is not under the recordings folder");
    }
    Ok(real)
}

/// Reads a file in chunks as a response body, so a long recording is never held
/// in memory whole.
fn file_body(file: tokio::fs::File) -> HttpBody {
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            // Ends the body after the error (the client sees a short answer).
            Err(e) => Some((Err(e), None)),
        }
    });
    HttpBody::from_stream(chunks)
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/tracks/{track}", tag = "recordings",
    description = "One file of a recording, as `audio/wav` (8 kHz, 16-bit, mono).",
    params(("id" = String, Path),
           ("track" = String, Path, description = "mixed, read, write, supervisors or heard")),
    responses((status = 200, description = "the WAV file", body = WavFile, content_type = "audio/wav"),
              (status = 404, description = "no such recording or track, or its file is gone",
               body = ErrorBody),
              (status = 503, description = "no recordings folder", body = ErrorBody)))]
pub(crate) async fn download_track(
    State(s): State<ApiState>,
    PathArg((id, track)): PathArg<(String, String)>,
) -> ApiResult<Response> {
    let rec = store(&s)?
        .get_recording(&id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    let Some(t) = rec.track(&track) else {
        let have: Vec<&str> = rec.tracks.iter().map(|t| t.track.as_str()).collect();
        return Err(Failure::not_found(format!(
            "recording {id:?} has no track {track:?}; it has {}",
            have.join(", ")
        )));
    };
    let path = served_file(folder(&s)?, &t.path).await.map_err(|why| {
        Failure::not_found(format!(
            "the file of track {track} of recording {id:?} {why}"
        ))
    })?;
    let gone = |_| {
        Failure::not_found(format!(
            "the file of track {track} of recording {id:?} is gone"
        ))
    };
    let file = tokio::fs::File::open(&path).await.map_err(gone)?;
    let meta = file.metadata().await.map_err(gone)?;
    if !meta.is_file() {
        return Err(Failure::not_found(format!(
            "the file of track {track} of recording {id:?} is not a file"
        )));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            (header::CONTENT_LENGTH, meta.len().to_string()),
            (
                header::CONTENT_DISPOSITION,
                // Both parts are known-safe: a hex id and a track name from the row.
                format!("attachment; filename=\"{}-{}.wav\"", rec.id, t.track),
            ),
        ],
        file_body(file),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/v1/recordings/{id}", tag = "recordings",
    description = "Deletes a recording: its files (those no other recording lists), \
                   then its rows. Admin scope only. A file that cannot be deleted keeps \
                   the recording listed (500), so it can be deleted again.",
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted, files included"),
              (status = 404, body = ErrorBody),
              (status = 503, description = "no recordings folder", body = ErrorBody)))]
pub(crate) async fn delete_recording(
    State(s): State<ApiState>,
    PathArg(id): PathArg<String>,
) -> ApiResult<StatusCode> {
    let st = store(&s)?;
    let done = st
        .delete_recording_and_files(folder(&s)?, &id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    tracing::info!(recording = %id, removed = done.removed.len(), missing = done.missing.len(),
        shared = done.shared.len(), "recording deleted through the API");
    Ok(StatusCode::NO_CONTENT)
}
