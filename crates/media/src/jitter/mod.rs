//! The jitter buffer of one incoming RTP stream, on the decode path of a hooked
//! call: packets go in as they arrive, one decoded 20 ms frame comes out per tick.
//!
//! - Reordering: packets are placed by RTP timestamp, not arrival.
//! - Delay: playout starts 40 ms after the first packet and is kept between about
//!   15 and 60 ms, measured per packet as the time it waits before being played.
//! - Loss: a missing frame is replaced by the last good one, faded linearly to zero
//!   over three frames (60 ms); then silence. Audio never stops dead (a click).
//! - Drift: a phone whose clock runs fast fills the buffer, a slow one drains it.
//!   Every 500 ms the smallest wait seen is checked: above 55 ms one frame is
//!   dropped, below 15 ms one frame is played twice (if that keeps delay <= 60 ms).
//! - Duplicates, too-late packets and unknown payload types are dropped and counted.
//! - A new SSRC, or a timestamp jump of more than 200 ms ahead or 1 s back, starts
//!   over (the fade of the old stream covers the gap).

mod buffer;
mod played;
#[cfg(test)]
mod tests;

pub use buffer::JitterBuffer;

use crate::frame::Frame;
use std::time::Duration;

/// Settings of a jitter buffer. The defaults are the issue's: 40 ms target,
/// never more than 60 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    pub target: Duration,
    pub max: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            target: Duration::from_millis(40),
            max: Duration::from_millis(60),
        }
    }
}

/// One received RTP packet, as the buffer needs it.
#[derive(Debug, Clone, Copy)]
pub struct RtpIn<'a> {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub payload: &'a [u8],
}

/// What `push` did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Queued,
    /// Queued after the buffer restarted on a new stream.
    QueuedAfterReset,
    /// Its time to play has passed.
    Late,
    /// Already queued or played.
    Duplicate,
    /// Not PCMU/PCMA, empty, or longer than 40 ms.
    Unsupported,
    /// No room (only when far more than the allowed delay is queued).
    Overflow,
}

/// One tick of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JitterOutput {
    /// Received audio (possibly with a concealed part, or a frame played twice
    /// to absorb drift).
    Audio(Frame),
    /// Nothing arrived for this frame: the last audio, fading out.
    Concealed(Frame),
    /// Nothing to play (not started yet, or a loss longer than the fade).
    Silence,
}

impl JitterOutput {
    /// The frame to play (silence for `Silence`).
    pub fn into_frame(self) -> Frame {
        match self {
            JitterOutput::Audio(f) | JitterOutput::Concealed(f) => f,
            JitterOutput::Silence => Frame::silence(),
        }
    }
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    pub concealed: u64,
    pub silent: u64,
    pub late: u64,
    pub duplicates: u64,
    pub unsupported: u64,
    pub overflow: u64,
    pub resets: u64,
    /// Frames dropped to shrink the delay (fast sender clock).
    pub drift_dropped: u64,
    /// Frames played twice to grow the delay (slow sender clock).
    pub drift_repeated: u64,
    /// The smallest and largest wait of a packet in the last completed window.
    pub last_min_wait_ms: Option<i64>,
    pub last_max_wait_ms: Option<i64>,
}
