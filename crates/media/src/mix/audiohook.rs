//! Audiohooks: taps and injection points on one channel, modelled on Asterisk's.
//!
//! Every 20 ms the channel's media clock hands its hooks two frames: the *read*
//! frame (what the channel's phone sent) and the *write* frame (what the phone is
//! about to hear). Spy hooks copy both; whisper hooks add audio into the write
//! frame. Order matters and follows Asterisk: all spies tap first, then whispers
//! inject, so a supervisor never hears an echo of their own whisper, and two
//! supervisors on one channel hear the call, not each other.
//!
//! Each hook has a small fixed-capacity queue between the channel's clock and the
//! supervisor's: the spy queue is drained by the supervisor's channel, the whisper
//! queue is filled by it. When a side falls behind, the oldest frame is dropped
//! (and counted), so a stalled reader costs a few frames of memory, never more,
//! and latency stays bounded.

use super::gain::VolumeStep;
use super::sum::{mix_into, Accumulator};
use crate::frame::Frame;
use std::collections::VecDeque;
use thiserror::Error;

/// Frames a spy queue holds (100 ms) before the oldest is dropped.
pub const SPY_QUEUE_FRAMES: usize = 5;
/// Frames a whisper queue holds (80 ms): more would only add delay to the whisper.
pub const WHISPER_QUEUE_FRAMES: usize = 4;

/// Identifies one hook on one channel's `Audiohooks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HookError {
    #[error("no audiohook {0:?} on this channel")]
    NoSuchHook(HookId),
    #[error("audiohook {0:?} is not a {1} hook")]
    WrongKind(HookId, &'static str),
}

/// How a spy receives the channel's two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    /// Read and write summed into one frame (what ChanSpy plays to the supervisor).
    Mixed,
    /// Both directions kept apart (recorders that want one track per party).
    Split,
}

/// One tick of what a spy hook captured, with the hook's volume applied.
// Frames are inline on purpose: spy queues are preallocated, and boxing the
// larger variant would allocate on every tick.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpyFrame {
    Mixed(Frame),
    Split { read: Frame, write: Frame },
}

impl SpyFrame {
    /// The two directions summed, whatever the tap (no copy for a mixed tap).
    pub fn into_mixed(self) -> Frame {
        match self {
            SpyFrame::Mixed(f) => f,
            SpyFrame::Split { mut read, write } => {
                mix_into(&mut read, &write, VolumeStep::UNITY);
                read
            }
        }
    }
}

/// Counters of one hook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookStats {
    /// Frames that entered the queue (spy: ticks tapped; whisper: frames pushed).
    pub queued: u64,
    /// Frames that left the queue (spy: frames popped; whisper: frames mixed in).
    pub delivered: u64,
    /// Frames dropped because the queue was full.
    pub dropped: u64,
    /// Whisper: ticks where the supervisor had nothing queued (silence added).
    pub underruns: u64,
    /// Frames in the queue now.
    pub depth: usize,
}

#[derive(Debug)]
enum Kind {
    Spy { tap: Tap, queue: VecDeque<SpyFrame> },
    Whisper { queue: VecDeque<Frame> },
}

#[derive(Debug)]
struct Hook {
    id: HookId,
    volume: VolumeStep,
    kind: Kind,
    stats: HookStats,
}

/// Pushes onto a bounded queue, dropping the oldest entry when it is full.
/// The queue was created with its capacity, so this never reallocates.
fn push_bounded<T>(q: &mut VecDeque<T>, cap: usize, item: T, stats: &mut HookStats) {
    if q.len() >= cap {
        q.pop_front();
        stats.dropped += 1;
    }
    q.push_back(item);
    stats.queued += 1;
    stats.depth = q.len();
}

/// The hooks attached to one channel, in attachment order.
#[derive(Debug, Default)]
pub struct Audiohooks {
    hooks: Vec<Hook>,
    next_id: u32,
}

impl Audiohooks {
    pub fn new() -> Audiohooks {
        Audiohooks::default()
    }

    /// True when nothing is attached: the channel can go back to packet relay.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    pub fn len(&self) -> usize {
        self.hooks.len()
    }

    /// True when a hook changes what this channel hears (a whisper). Spy hooks
    /// only copy: a channel with nothing but spies hears its peer unchanged.
    pub fn alters_output(&self) -> bool {
        self.hooks
            .iter()
            .any(|h| matches!(h.kind, Kind::Whisper { .. }))
    }

    fn attach(&mut self, volume: VolumeStep, kind: Kind) -> HookId {
        let id = HookId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.hooks.push(Hook {
            id,
            volume,
            kind,
            stats: HookStats::default(),
        });
        id
    }

    /// A spy tap; `volume` is applied to what the spy receives (ChanSpy `v()`).
    pub fn attach_spy(&mut self, tap: Tap, volume: VolumeStep) -> HookId {
        let queue = VecDeque::with_capacity(SPY_QUEUE_FRAMES);
        self.attach(volume, Kind::Spy { tap, queue })
    }

    /// A whisper injection; `volume` is applied to the injected audio.
    pub fn attach_whisper(&mut self, volume: VolumeStep) -> HookId {
        let queue = VecDeque::with_capacity(WHISPER_QUEUE_FRAMES);
        self.attach(volume, Kind::Whisper { queue })
    }

    /// Removes a hook and whatever it had queued. False if it was not attached.
    pub fn detach(&mut self, id: HookId) -> bool {
        let before = self.hooks.len();
        self.hooks.retain(|h| h.id != id);
        self.hooks.len() != before
    }

    fn hook_mut(&mut self, id: HookId) -> Result<&mut Hook, HookError> {
        self.hooks
            .iter_mut()
            .find(|h| h.id == id)
            .ok_or(HookError::NoSuchHook(id))
    }

    pub fn set_volume(&mut self, id: HookId, volume: VolumeStep) -> Result<(), HookError> {
        self.hook_mut(id)?.volume = volume;
        Ok(())
    }

    pub fn stats(&self, id: HookId) -> Option<HookStats> {
        self.hooks.iter().find(|h| h.id == id).map(|h| h.stats)
    }

    /// The channel's clock tick: taps `read` and `write` for every spy, then adds
    /// every whisper's next frame into `write`.
    pub fn process(&mut self, read: &Frame, write: &mut Frame) {
        self.tap(read, write);
        self.inject(write);
    }

    /// The first half of a tick: every spy copies `read` and `write` (before any
    /// whisper is added, so a supervisor never hears their own voice back).
    pub fn tap(&mut self, read: &Frame, write: &Frame) {
        for h in &mut self.hooks {
            if let Kind::Spy { tap, queue } = &mut h.kind {
                let frame = match tap {
                    Tap::Mixed => {
                        let mut acc = Accumulator::new_like(read);
                        acc.add(read, h.volume);
                        acc.add(write, h.volume);
                        SpyFrame::Mixed(acc.to_frame())
                    }
                    Tap::Split => {
                        let (mut r, mut w) = (read.clone(), write.clone());
                        h.volume.apply(r.samples_mut());
                        h.volume.apply(w.samples_mut());
                        SpyFrame::Split { read: r, write: w }
                    }
                };
                push_bounded(queue, SPY_QUEUE_FRAMES, frame, &mut h.stats);
            }
        }
    }

    /// The second half of a tick: every whisper's next frame is added to `write`.
    /// Only needed when `alters_output`.
    pub fn inject(&mut self, write: &mut Frame) {
        for h in &mut self.hooks {
            if let Kind::Whisper { queue } = &mut h.kind {
                match queue.pop_front() {
                    Some(f) => {
                        mix_into(write, &f, h.volume);
                        h.stats.delivered += 1;
                    }
                    None => h.stats.underruns += 1,
                }
                h.stats.depth = queue.len();
            }
        }
    }

    /// The supervisor's side of a whisper hook: queue one frame to be added to the
    /// channel's write stream on a coming tick.
    pub fn push_whisper(&mut self, id: HookId, frame: &Frame) -> Result<(), HookError> {
        let h = self.hook_mut(id)?;
        match &mut h.kind {
            Kind::Whisper { queue } => {
                push_bounded(queue, WHISPER_QUEUE_FRAMES, frame.clone(), &mut h.stats);
                Ok(())
            }
            Kind::Spy { .. } => Err(HookError::WrongKind(id, "whisper")),
        }
    }

    /// The supervisor's side of a spy hook: the oldest captured tick, if any.
    pub fn pop_spy(&mut self, id: HookId) -> Result<Option<SpyFrame>, HookError> {
        let h = self.hook_mut(id)?;
        match &mut h.kind {
            Kind::Spy { queue, .. } => {
                let f = queue.pop_front();
                if f.is_some() {
                    h.stats.delivered += 1;
                }
                h.stats.depth = queue.len();
                Ok(f)
            }
            Kind::Whisper { .. } => Err(HookError::WrongKind(id, "spy")),
        }
    }
}
