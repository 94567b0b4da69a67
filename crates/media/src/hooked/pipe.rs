//! A frame pipe: the bounded queue between two bridges' clocks, such as a spied
//! call's and its supervisor's, each ticking every 20 ms on its own media thread.
//!
//! It holds a few frames of slack for the two clocks and drops the oldest frame when
//! the reader falls behind: a supervisor wants to hear the call now, not late. Each
//! end learns when the other is gone, which is how a bridge notices that a
//! supervisor left. Frames are copied into and out of preallocated slots under a
//! short lock that is almost never contended: no allocation and no task wake-up
//! per frame, since both ends only ever poll on their own tick.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::frame::Frame;

/// The other end of the pipe is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the other end of the frame pipe is gone")]
pub struct Closed;

/// What `FrameReceiver::recv_into` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// A frame was copied into `out`.
    Frame,
    /// Nothing queued (yet).
    Empty,
    /// Nothing queued, and every sender is gone.
    Closed,
}

struct Ring {
    slots: Box<[Frame]>,
    head: usize,
    len: usize,
    senders: usize,
    receiver: bool,
    dropped: u64,
}

impl Ring {
    fn slot(&self, k: usize) -> usize {
        (self.head + k) % self.slots.len()
    }

    fn drop_oldest(&mut self) {
        self.head = self.slot(1);
        self.len -= 1;
        self.dropped += 1;
    }
}

struct Shared {
    ring: Mutex<Ring>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ring> {
        // The ring's state is valid between any two statements: a panic while
        // holding the lock leaves nothing half-done.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A new pipe holding at most `capacity` frames (at least one).
pub fn frame_pipe(capacity: usize) -> (FrameSender, FrameReceiver) {
    let shared = Arc::new(Shared {
        ring: Mutex::new(Ring {
            slots: vec![Frame::silence(); capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
            senders: 1,
            receiver: true,
            dropped: 0,
        }),
    });
    (FrameSender(shared.clone()), FrameReceiver(shared))
}

/// The writing end; clones write into the same pipe.
pub struct FrameSender(Arc<Shared>);

impl FrameSender {
    /// Queues a copy of `frame`, dropping the oldest queued frame when full.
    pub fn send(&self, frame: &Frame) -> Result<(), Closed> {
        let mut ring = self.0.lock();
        if !ring.receiver {
            return Err(Closed);
        }
        if ring.len == ring.slots.len() {
            ring.drop_oldest();
        }
        let at = ring.slot(ring.len);
        ring.slots[at].clone_from(frame);
        ring.len += 1;
        Ok(())
    }

    /// True once the receiver is gone.
    pub fn is_closed(&self) -> bool {
        !self.0.lock().receiver
    }
}

impl Clone for FrameSender {
    fn clone(&self) -> FrameSender {
        self.0.lock().senders += 1;
        FrameSender(self.0.clone())
    }
}

impl Drop for FrameSender {
    fn drop(&mut self) {
        self.0.lock().senders -= 1;
    }
}

impl std::fmt::Debug for FrameSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameSender")
    }
}

/// The reading end.
pub struct FrameReceiver(Arc<Shared>);

impl FrameReceiver {
    /// Copies the oldest queued frame into `out` and removes it from the pipe.
    pub fn recv_into(&self, out: &mut Frame) -> Recv {
        Self::take(&mut self.0.lock(), out)
    }

    /// As `recv_into`, after dropping the oldest frames until at most `keep` are
    /// queued (one lock for both): a reader that fell behind catches up instead of
    /// staying late.
    pub fn recv_newest_into(&self, out: &mut Frame, keep: usize) -> Recv {
        let mut ring = self.0.lock();
        while ring.len > keep {
            ring.drop_oldest();
        }
        Self::take(&mut ring, out)
    }

    fn take(ring: &mut Ring, out: &mut Frame) -> Recv {
        if ring.len == 0 {
            return if ring.senders == 0 {
                Recv::Closed
            } else {
                Recv::Empty
            };
        }
        out.clone_from(&ring.slots[ring.head]);
        ring.head = ring.slot(1);
        ring.len -= 1;
        Recv::Frame
    }

    /// The oldest queued frame, or why there is none (tests, tools).
    pub fn try_recv(&self) -> Result<Frame, Recv> {
        let mut f = Frame::silence();
        match self.recv_into(&mut f) {
            Recv::Frame => Ok(f),
            other => Err(other),
        }
    }

    /// Frames queued now.
    pub fn len(&self) -> usize {
        self.0.lock().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frames dropped so far because the reader fell behind.
    pub fn dropped(&self) -> u64 {
        self.0.lock().dropped
    }
}

impl Drop for FrameReceiver {
    fn drop(&mut self) {
        self.0.lock().receiver = false;
    }
}

impl std::fmt::Debug for FrameReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameReceiver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Frame {
        Frame::from_samples(&[v; 160]).unwrap()
    }

    fn first(rx: &FrameReceiver) -> Option<i16> {
        rx.try_recv().ok().map(|f| f.samples()[0])
    }

    #[test]
    fn frames_come_out_in_order_and_the_oldest_go_when_full() {
        let (tx, rx) = frame_pipe(3);
        for v in 1..=5 {
            tx.send(&frame(v)).unwrap();
        }
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.dropped(), 2);
        assert_eq!(first(&rx), Some(3));
        tx.send(&frame(6)).unwrap();
        tx.send(&frame(7)).unwrap();
        let mut out = Frame::silence();
        assert_eq!(rx.recv_newest_into(&mut out, 2), Recv::Frame);
        assert_eq!(out.samples()[0], 6);
        assert_eq!(first(&rx), Some(7));
        assert_eq!(rx.try_recv().err(), Some(Recv::Empty));
    }

    #[test]
    fn each_end_learns_the_other_left() {
        let (tx, rx) = frame_pipe(2);
        let tx2 = tx.clone();
        tx.send(&frame(1)).unwrap();
        drop(tx);
        // One sender is left, and what was sent is still delivered.
        assert_eq!(first(&rx), Some(1));
        assert_eq!(rx.try_recv().err(), Some(Recv::Empty));
        drop(tx2);
        assert_eq!(rx.try_recv().err(), Some(Recv::Closed));

        let (tx, rx) = frame_pipe(2);
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(&frame(1)), Err(Closed));
    }

    #[test]
    fn the_ends_work_from_two_threads() {
        let (tx, rx) = frame_pipe(4);
        let writer = std::thread::spawn(move || {
            for v in 0..1000 {
                tx.send(&frame(v)).unwrap();
            }
        });
        let mut last = -1;
        let mut got = 0;
        loop {
            match rx.try_recv() {
                Ok(f) => {
                    let v = f.samples()[0];
                    assert!(v > last, "{v} after {last}");
                    assert!(f.samples().iter().all(|&s| s == v), "a torn frame");
                    last = v;
                    got += 1;
                }
                Err(Recv::Closed) => break,
                Err(_) => std::thread::yield_now(),
            }
        }
        writer.join().unwrap();
        assert_eq!(last, 999);
        assert_eq!(got as u64 + rx.dropped(), 1000);
    }
}
