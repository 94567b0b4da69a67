//! Recording what a source plays (ChanSpy's `r()`: what the supervisor hears) to a
//! WAV file, with no disk write on the media thread.
//!
//! A `RecordingSource` is played by a media thread, whose every call shares its
//! 20 ms. So the media side only copies each frame it plays into a bounded queue
//! (`std::sync::mpsc::sync_channel`: its slots are allocated once, when it is made,
//! and a send into a free slot is a copy and, if the writer sleeps, one wake-up). A
//! writer thread of the recording's own (`writer.rs`) owns the file, does every
//! write and finalises the WAV header when the queue closes: when the played source
//! ends, or when the `RecordingSource` is dropped (ChanSpy stopping, the bridge
//! closing). Neither end of the media side waits for the writer. A
//! `RecordingStatus` tells how far the writer got and, through `on_finished`, when
//! the file is complete (the PBX then records its size in the store).
//!
//! A disk slower than the queue is long (two seconds of audio) loses frames from the
//! recording, never from what the supervisor hears: a frame that finds the queue
//! full is dropped and counted, with a warning at the first drop and every five
//! seconds of dropping after it (counted in frames, so the media side reads no
//! clock), and the total is logged when the recording ends. A write error ends the
//! recording (logged once by the writer); the audio plays on.
//!
//! Why a thread per recording rather than one shared writer: recordings are few
//! (one per recording supervisor), and a file stuck on a hung disk or a dead network
//! mount then stalls only its own recording.

#[cfg(test)]
mod tests;
mod writer;

pub use writer::RecordingSink;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::frame::Frame;
use crate::tone::FrameSource;
use crate::wav::WavRecorder;

/// Frames a recording's queue holds: two seconds of audio (about 66 KB) covers a
/// disk's usual stalls (a journal commit, a busy spindle).
pub const RECORDING_QUEUE_FRAMES: usize = 100;
/// Dropped frames between two warnings: five seconds of dropping.
const WARN_EVERY: u64 = 250;

/// Plays a source and records every frame it plays. See the module docs.
pub struct RecordingSource {
    inner: Box<dyn FrameSource + Send>,
    tap: RecordingTap,
}

/// The media side of one recording: frames pushed here reach its writer thread
/// without waiting (see the module docs); dropping it completes the file.
pub struct RecordingTap {
    /// None once the recording ended (closed, or the writer stopped).
    tx: Option<SyncSender<Frame>>,
    status: RecordingStatus,
}

impl RecordingTap {
    /// Records to a WAV file (created by the caller, so a bad path is its error).
    pub fn new(recorder: WavRecorder) -> RecordingTap {
        RecordingTap::with_sink(Box::new(recorder), RECORDING_QUEUE_FRAMES)
    }

    /// Records to any sink, through a queue of `queue_frames` frames (at least one).
    /// Starts the sink's writer thread; if that fails nothing is recorded (logged).
    pub fn with_sink(sink: Box<dyn RecordingSink>, queue_frames: usize) -> RecordingTap {
        let status = RecordingStatus::new(sink.label());
        let (tx, rx) = sync_channel(queue_frames.max(1));
        let tx = match writer::spawn(sink, rx, status.clone()) {
            Ok(()) => Some(tx),
            Err(e) => {
                tracing::error!(file = %status.label(), "recording not started: no writer thread: {e}");
                status.0.mark_finished();
                None
            }
        };
        RecordingTap { tx, status }
    }

    /// A handle on the recording's progress, valid after the tap is gone.
    pub fn status(&self) -> RecordingStatus {
        self.status.clone()
    }

    /// Copies one frame to the writer; never waits.
    pub fn push(&mut self, frame: &Frame) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(frame.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.status.0.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(WARN_EVERY) {
                    tracing::warn!(
                        file = %self.status.label(),
                        dropped = n,
                        "recording: the disk is too slow, frames are being dropped"
                    );
                }
            }
            // The writer stopped (a write error, which it logged).
            Err(TrySendError::Disconnected(_)) => self.tx = None,
        }
    }

    /// Ends the recording now: the writer completes the file.
    pub fn close(&mut self) {
        self.tx = None;
    }
}

impl RecordingSource {
    /// Records to a WAV file (created by the caller, so a bad path is its error).
    pub fn new(inner: Box<dyn FrameSource + Send>, recorder: WavRecorder) -> RecordingSource {
        RecordingSource::with_sink(inner, Box::new(recorder), RECORDING_QUEUE_FRAMES)
    }

    /// Records to any sink, through a queue of `queue_frames` frames (at least one).
    /// Starts the sink's writer thread; if that fails the source plays unrecorded.
    pub fn with_sink(
        inner: Box<dyn FrameSource + Send>,
        sink: Box<dyn RecordingSink>,
        queue_frames: usize,
    ) -> RecordingSource {
        RecordingSource {
            inner,
            tap: RecordingTap::with_sink(sink, queue_frames),
        }
    }

    /// A handle on the recording's progress, valid after the source is gone.
    pub fn status(&self) -> RecordingStatus {
        self.tap.status()
    }
}

impl FrameSource for RecordingSource {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        let more = self.inner.next_frame(out);
        self.tap.push(out);
        if !more {
            // Closing the queue lets the writer finish the file now, not at drop.
            self.tap.close();
        }
        more
    }
}

/// Progress of one recording, shared with its writer thread. Cheap to clone.
#[derive(Clone)]
pub struct RecordingStatus(Arc<Status>);

struct Status {
    label: String,
    written: AtomicU64,
    dropped: AtomicU64,
    finished: Mutex<Finish>,
    finished_cv: Condvar,
}

/// A callback run once the writer is done (see [`RecordingStatus::on_finished`]).
type Waiter = Box<dyn FnOnce() + Send>;

/// Whether the writer is done, and who wants to know when it is.
#[derive(Default)]
struct Finish {
    done: bool,
    waiters: Vec<Waiter>,
}

impl Status {
    fn mark_finished(&self) {
        let waiters = {
            let mut f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
            f.done = true;
            std::mem::take(&mut f.waiters)
        };
        self.finished_cv.notify_all();
        // Outside the lock: a callback may read the status.
        for w in waiters {
            w();
        }
    }
}

impl RecordingStatus {
    fn new(label: String) -> RecordingStatus {
        RecordingStatus(Arc::new(Status {
            label,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            finished: Mutex::new(Finish::default()),
            finished_cv: Condvar::new(),
        }))
    }

    /// What the sink calls itself (a WAV file's path).
    pub fn label(&self) -> &str {
        &self.0.label
    }

    /// Frames the sink has taken.
    pub fn frames_written(&self) -> u64 {
        self.0.written.load(Ordering::Relaxed)
    }

    /// Frames left out of the recording because its queue was full.
    pub fn frames_dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// True once the writer is done: the file is complete (or failed, and logged).
    pub fn is_finished(&self) -> bool {
        self.0
            .finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done
    }

    /// Runs `f` once the writer is done: on the writer thread as it finishes, or at
    /// once (on the caller's thread) if it already has. Lets the PBX learn that a
    /// file is complete (to record its size) without a thread blocked waiting, and
    /// without the media thread ever being involved. `f` must be quick and must not
    /// block: the writer thread runs it, e.g. to send on a channel.
    pub fn on_finished(&self, f: impl FnOnce() + Send + 'static) {
        let mut fin = self.0.finished.lock().unwrap_or_else(|e| e.into_inner());
        if fin.done {
            drop(fin);
            f();
        } else {
            fin.waiters.push(Box::new(f));
        }
    }

    /// Waits up to `timeout` for the writer to finish; true if it did. For a
    /// shutdown that wants its recordings complete, and for tests. Never call it on
    /// a media thread.
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let guard = self.0.finished.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .0
            .finished_cv
            .wait_timeout_while(guard, timeout, |f| !f.done)
            .unwrap_or_else(|e| e.into_inner());
        guard.done
    }
}

impl std::fmt::Debug for RecordingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingStatus")
            .field("label", &self.0.label)
            .field("written", &self.frames_written())
            .field("dropped", &self.frames_dropped())
            .field("finished", &self.is_finished())
            .finish()
    }
}
