//! A recording's writer thread: the only place its file is written.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use super::RecordingStatus;
use crate::frame::Frame;
use crate::wav::{WavError, WavRecorder};

/// Where a recording's frames go. Runs on the recording's writer thread, so it may
/// block as long as the disk does. A WAV file (`WavRecorder`) is the usual sink;
/// tests use sinks that stall like a slow disk.
pub trait RecordingSink: Send + 'static {
    /// Appends one frame. An error ends the recording.
    fn write(&mut self, frame: &Frame) -> Result<(), WavError>;
    /// Completes the recording (a WAV file's header lengths). Called once, last.
    fn finish(self: Box<Self>) -> Result<(), WavError>;
    /// Names the recording in logs.
    fn label(&self) -> String;
}

impl RecordingSink for WavRecorder {
    fn write(&mut self, frame: &Frame) -> Result<(), WavError> {
        WavRecorder::write(self, frame)
    }

    fn finish(self: Box<Self>) -> Result<(), WavError> {
        WavRecorder::finish(*self)
    }

    fn label(&self) -> String {
        self.path().display().to_string()
    }
}

/// Starts the writer thread of one recording.
pub(super) fn spawn(
    sink: Box<dyn RecordingSink>,
    rx: Receiver<Frame>,
    status: RecordingStatus,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("recording".into())
        .spawn(move || run(sink, rx, status))
        .map(drop)
}

/// Marks the recording finished however the writer ends, a panicking sink included,
/// so `wait_finished` never waits for a thread that is gone.
struct FinishGuard(RecordingStatus);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0 .0.mark_finished();
    }
}

fn run(mut sink: Box<dyn RecordingSink>, rx: Receiver<Frame>, status: RecordingStatus) {
    let _guard = FinishGuard(status.clone());
    let file = status.label().to_owned();
    // Ends when the media side closed the queue and everything queued is written.
    while let Ok(frame) = rx.recv() {
        if let Err(e) = sink.write(&frame) {
            tracing::warn!(%file, "recording stopped: {e}");
            break;
        }
        status.0.written.fetch_add(1, Ordering::Relaxed);
    }
    // After a write error, this tells the media side to stop copying.
    drop(rx);
    if let Err(e) = sink.finish() {
        tracing::warn!(%file, "recording not finalised: {e}");
    }
    let (written, dropped) = (status.frames_written(), status.frames_dropped());
    if dropped > 0 {
        tracing::warn!(
            %file,
            written,
            dropped,
            "recording ended; frames were dropped because the disk was too slow"
        );
    } else {
        tracing::debug!(%file, written, "recording ended");
    }
}
