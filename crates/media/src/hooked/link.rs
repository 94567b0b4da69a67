//! The two pipes between a spied call's bridge and its supervisor's bridge. Each
//! bridge runs its own 20 ms clock; bounded pipes absorb the difference and keep
//! the delay short by dropping the oldest frames when a reader falls behind.

use super::pipe::{FrameReceiver, FrameSender, Recv};
use crate::frame::Frame;
use crate::mix::SupervisorId;
use crate::tone::FrameSource;

/// Frames held between two bridges at most (200 ms); more is only delay.
pub(crate) const QUEUE_FRAMES: usize = 10;
/// Frames kept when a reader catches up: 40 ms of slack for the two clocks.
const KEEP_FRAMES: usize = 2;

/// A supervisor's end of a spy hook.
#[derive(Debug)]
pub struct SpyLink {
    pub id: SupervisorId,
    /// What the supervisor hears (the spied call, mixed).
    pub hears: FrameReceiver,
    /// What the supervisor says (heard by the call in whisper and barge).
    pub says: FrameSender,
}

/// Plays frames that arrive on a pipe, silence while none is there; ends when the
/// sending side closes (the spied call ended or the hook was detached).
pub struct LinkSource {
    rx: FrameReceiver,
}

impl LinkSource {
    pub fn new(rx: FrameReceiver) -> LinkSource {
        LinkSource { rx }
    }
}

impl FrameSource for LinkSource {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        match self.rx.recv_newest_into(out, KEEP_FRAMES) {
            Recv::Frame => true,
            Recv::Empty => {
                *out = Frame::silence();
                true
            }
            Recv::Closed => {
                *out = Frame::silence();
                false
            }
        }
    }
}
