//! Telling the store about the recordings MixMonitor and ChanSpy's `r()` make, so
//! the API and the CLI can list, serve and delete them.
//!
//! A recording is registered when its files are opened (a write-behind `Write`,
//! like the audit trail: no call waits for the database), and marked ended once
//! every file is complete. Completion is learnt from each file's writer thread
//! ([`media::RecordingStatus::on_finished`]) by a small task per recording, so
//! nothing blocks, the media thread least of all. While it waits, the task also
//! looks up the recorded channel's peer, which MixMonitor, run before `Dial`,
//! cannot know at its start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use media::frame::FRAME_MS;
use media::RecordingStatus;

use super::AppEnv;
use crate::registry::ChannelEntry;

/// How often a recording without a known peer looks for one.
const PEER_POLL: Duration = Duration::from_secs(1);

/// How many recordings are waiting for their files to be complete. Shutdown waits
/// for none to be left (bounded) before its last flush of the database writes, so
/// the recordings of the calls it hangs up get their ends on record too.
#[derive(Clone)]
pub struct PendingRecordings(Arc<watch::Sender<usize>>);

impl Default for PendingRecordings {
    fn default() -> Self {
        PendingRecordings(Arc::new(watch::channel(0).0))
    }
}

impl PendingRecordings {
    fn enter(&self) -> Pending {
        self.0.send_modify(|n| *n += 1);
        Pending(self.clone())
    }

    /// Waits until no recording is pending; false after `timeout`.
    pub(crate) async fn settled(&self, timeout: Duration) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// One pending recording; dropped once its end is submitted (or its task is gone).
struct Pending(PendingRecordings);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0 .0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// One file of a recording, as opened.
pub(super) struct TrackFile {
    pub track: store::Track,
    /// Where it is on disk (under the recordings folder).
    pub path: PathBuf,
    pub status: RecordingStatus,
}

/// `file`'s path relative to the recordings folder `dir`, as stored ('/'-separated);
/// `None` when it is not a plain path inside it (never the case for paths the
/// applications build, but the store would refuse it).
fn relative(dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let joined = parts?.join("/");
    store::validate::recording_path(&joined).ok()?;
    Some(joined)
}

/// A number or name from the signalling (a trunk's caller ID), fit for the store:
/// no control characters, at most 80 characters; `None` when nothing is left.
pub(super) fn tidy(s: &str) -> Option<String> {
    let t: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    (!t.is_empty()).then_some(t)
}

/// The caller and callee of the call `t` belongs to, by their endpoints (what the
/// live-channel table knows of a spied channel and its peer).
pub(super) fn parties_of(env: &AppEnv, t: &ChannelEntry) -> (Option<String>, Option<String>) {
    let own = tidy(&t.info.endpoint);
    let peer = t
        .info
        .bridged_to
        .as_deref()
        .and_then(|p| env.registry.get(p))
        .and_then(|p| tidy(&p.info.endpoint));
    match t.info.role {
        model::Role::Caller => (own, peer),
        model::Role::Callee => (peer, own),
    }
}

/// Registers a recording whose files are open, and ends it once they are complete.
/// `start.id` and `start.tracks` are filled in here.
pub(super) fn register(env: &AppEnv, mut start: store::RecordingStart, files: Vec<TrackFile>) {
    let dir = &env.recordings;
    let files: Vec<TrackFile> = files
        .into_iter()
        .filter(|f| match relative(dir, &f.path) {
            Some(path) => {
                start.tracks.push(store::NewTrack {
                    track: f.track,
                    path,
                });
                true
            }
            None => {
                tracing::warn!(file = %f.path.display(), "recording file is not under the recordings folder; not listed");
                false
            }
        })
        .collect();
    if files.is_empty() {
        return;
    }
    start.id = store::new_recording_id();
    tracing::info!(recording = %start.id, channel = %start.channel, kind = %start.kind, "recording started");
    let (id, channel, peer) = (
        start.id.clone(),
        start.channel.clone(),
        start.peer_channel.clone(),
    );
    env.config.submit(store::Write::RecordingStarted(start));
    let pending = env.pending_recordings.enter();
    let env = env.clone();
    tokio::spawn(async move {
        watch_files(env, id, channel, peer, files).await;
        drop(pending);
    });
}

/// Waits for every file to be complete (looking for the channel's peer meanwhile),
/// then records the end with each file's figures.
async fn watch_files(
    env: AppEnv,
    id: String,
    channel: String,
    mut peer: Option<String>,
    files: Vec<TrackFile>,
) {
    let known_at_start = peer.is_some();
    let done = async {
        for f in &files {
            finished(&f.status).await;
        }
    };
    tokio::pin!(done);
    let mut poll = tokio::time::interval(PEER_POLL);
    loop {
        tokio::select! {
            () = &mut done => break,
            _ = poll.tick(), if peer.is_none() => {
                peer = env.registry.get(&channel).and_then(|e| e.info.bridged_to);
            }
        }
    }
    let mut tracks = Vec::with_capacity(files.len());
    for f in &files {
        // The size on disk, header included; 0 if the file is gone already.
        let bytes = tokio::fs::metadata(&f.path).await.map_or(0, |m| m.len());
        tracks.push(store::TrackEnd {
            track: f.track,
            frames: f.status.frames_written(),
            bytes,
            dropped_frames: f.status.frames_dropped(),
        });
    }
    let longest = tracks.iter().map(|t| t.frames).max().unwrap_or(0);
    tracing::info!(recording = %id, frames = longest, "recording ended");
    env.config
        .submit(store::Write::RecordingEnded(store::RecordingEnd {
            id,
            at: SystemTime::now(),
            duration_ms: longest.saturating_mul(u64::from(FRAME_MS)),
            // Only what was learnt here; the store keeps a peer known at the start.
            peer_channel: peer.filter(|_| !known_at_start),
            tracks,
        }));
}

/// Resolves once the writer of `status` is done with its file.
async fn finished(status: &RecordingStatus) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    status.on_finished(move || {
        let _ = tx.send(());
    });
    // An error would mean the callback was dropped unrun: the writer is gone too.
    let _ = rx.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let dir = Path::new("/var/rec");
        assert_eq!(
            relative(dir, Path::new("/var/rec/calls/1-main.wav")).as_deref(),
            Some("calls/1-main.wav")
        );
        assert_eq!(relative(dir, Path::new("/tmp/x.wav")), None);
        assert_eq!(
            relative(Path::new("rec"), Path::new("rec/a.wav")).as_deref(),
            Some("a.wav")
        );
    }

    #[tokio::test]
    async fn shutdown_waits_for_pending_recordings() {
        let pending = PendingRecordings::default();
        assert!(pending.settled(Duration::from_millis(1)).await);
        let one = pending.enter();
        let two = pending.enter();
        assert!(!pending.settled(Duration::from_millis(20)).await);
        drop(one);
        let waiter = pending.clone();
        let settled = tokio::spawn(async move { waiter.settled(Duration::from_secs(5)).await });
        drop(two);
        assert!(settled.await.unwrap());
    }

    #[test]
    fn tidy_values() {
        assert_eq!(tidy("5551234").as_deref(), Some("5551234"));
        assert_eq!(tidy("55\r\n5").as_deref(), Some("555"));
        assert_eq!(tidy("\u{7}"), None);
        assert_eq!(tidy(&"9".repeat(100)).map(|s| s.len()), Some(80));
    }
}
