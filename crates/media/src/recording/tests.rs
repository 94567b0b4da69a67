//! The recording's two sides: the media side never waits for the disk, and the file
//! is complete once the source ends or is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{RecordingSink, RecordingSource};
use crate::frame::Frame;
use crate::tone::FrameSource;
use crate::wav::{WavError, WavRecorder};

const WAIT: Duration = Duration::from_secs(10);

/// Frame k (from 1) holds the value k in every sample; ends after `len` frames.
struct Counting {
    next: i16,
    len: Option<i16>,
}

impl FrameSource for Counting {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        if self.len.is_some_and(|len| self.next > len) {
            *out = Frame::silence();
            return false;
        }
        out.samples_mut().fill(self.next);
        self.next += 1;
        true
    }
}

fn counting(len: Option<i16>) -> Box<dyn FrameSource + Send> {
    Box::new(Counting { next: 1, len })
}

/// A disk that hangs: each write reports that it started, then waits until the
/// test opens the gate.
struct Stalled {
    entered: mpsc::Sender<()>,
    gate: Arc<(Mutex<bool>, Condvar)>,
    got: Arc<Mutex<Vec<i16>>>,
    finished: Arc<AtomicBool>,
}

impl RecordingSink for Stalled {
    fn write(&mut self, frame: &Frame) -> Result<(), WavError> {
        let _ = self.entered.send(());
        let (open, cv) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        self.got.lock().unwrap().push(frame.samples()[0]);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), WavError> {
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn label(&self) -> String {
        "stalled".into()
    }
}

struct StalledDisk {
    entered: mpsc::Receiver<()>,
    gate: Arc<(Mutex<bool>, Condvar)>,
    got: Arc<Mutex<Vec<i16>>>,
    finished: Arc<AtomicBool>,
}

impl StalledDisk {
    fn new() -> (StalledDisk, Box<dyn RecordingSink>) {
        let (tx, rx) = mpsc::channel();
        let disk = StalledDisk {
            entered: rx,
            gate: Arc::new((Mutex::new(false), Condvar::new())),
            got: Arc::default(),
            finished: Arc::default(),
        };
        let sink = Stalled {
            entered: tx,
            gate: disk.gate.clone(),
            got: disk.got.clone(),
            finished: disk.finished.clone(),
        };
        (disk, Box::new(sink))
    }

    fn unblock(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

/// Plays `n` frames on a thread of its own, as a media thread would; fails the test
/// (instead of hanging it) if that thread does not get through them.
/// Returns the source and the value of the last frame played.
fn play_elsewhere(mut rec: RecordingSource, n: usize) -> (RecordingSource, i16) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Frame::silence();
        for _ in 0..n {
            assert!(rec.next_frame(&mut out));
        }
        let _ = done.send((rec, out.samples()[0]));
    });
    finished
        .recv_timeout(WAIT)
        .expect("the media side waited for the disk")
}

#[test]
fn a_stalled_disk_never_holds_up_the_media_side() {
    let (disk, sink) = StalledDisk::new();
    let mut rec = RecordingSource::with_sink(counting(None), sink, 4);
    let status = rec.status();
    let mut out = Frame::silence();
    assert!(rec.next_frame(&mut out));
    // The writer took frame 1 and now hangs in the disk.
    disk.entered.recv_timeout(WAIT).unwrap();

    let started = Instant::now();
    let (rec, last) = play_elsewhere(rec, 499);
    let took = started.elapsed();
    assert_eq!(last, 500, "what is played is the source, every frame of it");
    // Frames 2-5 wait in the queue; the other 495 were dropped, not waited for.
    assert_eq!(status.frames_dropped(), 495);
    assert_eq!(status.frames_written(), 0);
    assert!(!status.is_finished());
    // Timing is informative only: the proof is that the writer is still stuck.
    eprintln!("499 frames against a stalled disk took {took:?}");

    // Dropping the source (ChanSpy stops) does not wait for the disk either.
    let started = Instant::now();
    drop(rec);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!status.is_finished(), "the writer is still stuck");

    disk.unblock();
    assert!(status.wait_finished(WAIT));
    assert_eq!(*disk.got.lock().unwrap(), vec![1, 2, 3, 4, 5]);
    assert!(
        disk.finished.load(Ordering::SeqCst),
        "finish after the last write"
    );
    assert_eq!(status.frames_written(), 5);
    assert_eq!(status.frames_dropped(), 495);
}

#[test]
fn the_file_is_complete_once_the_source_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spy.wav");
    let recorder = WavRecorder::create(&path).unwrap();
    let mut rec = RecordingSource::new(counting(None), recorder);
    let status = rec.status();
    assert_eq!(status.label(), path.display().to_string());
    let mut out = Frame::silence();
    for k in 1..=50 {
        assert!(rec.next_frame(&mut out));
        assert_eq!(out.samples()[0], k, "the player hears the source unchanged");
    }
    drop(rec);
    assert!(status.wait_finished(WAIT));
    assert_eq!((status.frames_written(), status.frames_dropped()), (50, 0));

    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(
        reader.duration(),
        50 * 160,
        "the header has the final length"
    );
    let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
    let firsts: Vec<i16> = samples.chunks(160).map(|c| c[0]).collect();
    assert_eq!(firsts, (1..=50).collect::<Vec<i16>>());
}

#[test]
fn the_file_is_complete_as_soon_as_the_source_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ended.wav");
    let mut rec = RecordingSource::new(counting(Some(3)), WavRecorder::create(&path).unwrap());
    let status = rec.status();
    let mut out = Frame::silence();
    let mut played = 0;
    while rec.next_frame(&mut out) {
        played += 1;
    }
    assert_eq!(played, 3);
    // Still held (a player keeps it until it is replaced), yet finished.
    assert!(status.wait_finished(WAIT));
    // The three frames and the silent one that said the source was over, as before.
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.duration(), 4 * 160);
    // Played again after its end: nothing more is recorded.
    assert!(!rec.next_frame(&mut out));
    assert_eq!(status.frames_written(), 4);
}

/// A disk that fails its second write.
struct Failing {
    writes: usize,
}

impl RecordingSink for Failing {
    fn write(&mut self, _: &Frame) -> Result<(), WavError> {
        self.writes += 1;
        if self.writes == 2 {
            return Err(WavError::Write {
                path: "failing".into(),
                source: hound::Error::IoError(std::io::Error::other("disk full")),
            });
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), WavError> {
        Ok(())
    }

    fn label(&self) -> String {
        "failing".into()
    }
}

#[test]
fn a_write_error_ends_the_recording_and_the_audio_plays_on() {
    let mut rec = RecordingSource::with_sink(counting(None), Box::new(Failing { writes: 0 }), 8);
    let status = rec.status();
    let mut out = Frame::silence();
    for k in 1..=3 {
        assert!(rec.next_frame(&mut out));
        assert_eq!(out.samples()[0], k);
    }
    assert!(status.wait_finished(WAIT));
    assert_eq!(status.frames_written(), 1);
    // The writer is gone: the media side notices and stops copying.
    for k in 4..=10 {
        assert!(rec.next_frame(&mut out));
        assert_eq!(out.samples()[0], k);
    }
    assert!(rec.tap.tx.is_none());
}

#[test]
fn on_finished_runs_once_the_file_is_complete_or_at_once_after() {
    let (disk, sink) = StalledDisk::new();
    let mut rec = RecordingSource::with_sink(counting(None), sink, 4);
    let status = rec.status();
    let (told, heard) = mpsc::channel();
    let before = told.clone();
    let watched = status.clone();
    status.on_finished(move || {
        // The writer is done by the time it is told: the figures are final.
        let _ = before.send(("before", watched.is_finished(), watched.frames_written()));
    });
    let mut out = Frame::silence();
    assert!(rec.next_frame(&mut out));
    disk.entered.recv_timeout(WAIT).unwrap();
    drop(rec);
    assert!(
        heard.recv_timeout(Duration::from_millis(50)).is_err(),
        "not while the disk is stuck"
    );
    disk.unblock();
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), ("before", true, 1));
    assert!(
        disk.finished.load(Ordering::SeqCst),
        "after the sink's finish"
    );

    // Registered after the end: runs at once, on this thread.
    let here = std::thread::current().id();
    status.on_finished(move || {
        assert_eq!(std::thread::current().id(), here);
        let _ = told.send(("after", true, 0));
    });
    assert_eq!(heard.try_recv().unwrap().0, "after");
}
