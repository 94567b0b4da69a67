//! The decode -> mix -> encode path of one bridge, run on a 20 ms clock when the PBX
//! itself takes part in a call: it plays something to a leg (prompts, tones, what a
//! spied call sounds like), it listens to a leg (DTMF, a supervisor's voice), or a
//! spy hook is attached. Without any of these the relay forwards packets as they are.
//!
//! The pieces are the I/O-free ones of this crate: a jitter buffer and G.711 per leg,
//! the `CallMixer` with its audiohooks, frame sources and DTMF detectors. This module
//! only wires them to the bridge's legs; the relay owns the sockets.

mod link;
mod side;

pub use link::{LinkSource, RecordingSource, SpyLink};
pub use side::PlayEnd;
pub(crate) use side::{Player, SideProc};

use std::time::Instant;

use tokio::sync::mpsc;

use crate::bridge::Side;
use crate::frame::Frame;
use crate::mix::{CallMixer, SpyMode, SupervisorId, VolumeStep};

/// A supervisor attached to this bridge: frames out to their bridge, frames in from it.
pub(crate) struct Supervisor {
    pub id: SupervisorId,
    pub hears: mpsc::Sender<Frame>,
    pub says: mpsc::Receiver<Frame>,
}

/// The processing state of one bridge.
pub(crate) struct Processing {
    pub sides: [SideProc; 2],
    pub mixer: CallMixer,
    pub supervisors: Vec<Supervisor>,
}

/// Per-leg output of one tick, ready to encode and send.
pub(crate) struct TickOutput {
    pub hears: [Frame; 2],
}

impl Processing {
    pub fn new() -> Processing {
        Processing {
            sides: [SideProc::new(), SideProc::new()],
            mixer: CallMixer::new(),
            supervisors: Vec::new(),
        }
    }

    /// True while anything needs the 20 ms clock; false lets the relay go back to
    /// forwarding packets untouched.
    pub fn active(&self) -> bool {
        self.mixer.is_hooked()
            || !self.supervisors.is_empty()
            || self.sides.iter().any(SideProc::needs_processing)
    }

    /// True when the PBX makes the stream `side`'s phone receives (prompts, a
    /// whisper, its own answered leg). Otherwise that phone gets the other phone's
    /// packets forwarded as on the fast path even while the call is tapped, so a
    /// listened-to call sounds exactly as before, with no jitter-buffer delay.
    pub fn generates(&self, side: Side) -> bool {
        self.sides[side.index()].generates() || self.mixer.alters(side)
    }

    pub fn attach(
        &mut self,
        target: Side,
        mode: SpyMode,
        volume: VolumeStep,
        one_way: bool,
    ) -> SpyLink {
        let id = self.mixer.attach_tap(target, mode, volume, one_way);
        let (hears_tx, hears_rx) = mpsc::channel(link::QUEUE_FRAMES);
        let (says_tx, says_rx) = mpsc::channel(link::QUEUE_FRAMES);
        self.supervisors.push(Supervisor {
            id,
            hears: hears_tx,
            says: says_rx,
        });
        SpyLink {
            id,
            hears: hears_rx,
            says: says_tx,
        }
    }

    pub fn detach(&mut self, id: SupervisorId) {
        self.mixer.detach(id);
        self.supervisors.retain(|s| s.id != id);
    }

    /// One tick: what each phone sent comes out of its jitter buffer; supervisors'
    /// voices go in; each phone gets the other (plus whispers), or its player.
    pub fn tick(&mut self, now: Instant) -> TickOutput {
        let read_a = self.sides[0].read(now);
        let read_b = self.sides[1].read(now);
        // Nothing hooked (a prompt, or a supervisor's own leg): each phone hears the
        // other as read, with no mixing and no copies.
        if !self.mixer.is_hooked() && self.supervisors.is_empty() {
            let hears_a = self.sides[0].output(read_b);
            let hears_b = self.sides[1].output(read_a);
            return TickOutput {
                hears: [hears_a, hears_b],
            };
        }
        // A supervisor whose bridge went away leaves: their queue is closed.
        let mut gone = Vec::new();
        for s in &mut self.supervisors {
            loop {
                match s.says.try_recv() {
                    Ok(f) => {
                        let _ = self.mixer.supervisor_says(s.id, &f);
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        gone.push(s.id);
                        break;
                    }
                }
            }
        }
        let tick = self.mixer.tick(&read_a, &read_b);
        for s in &mut self.supervisors {
            while let Ok(Some(f)) = self.mixer.supervisor_hears(s.id) {
                if s.hears.is_closed() {
                    gone.push(s.id);
                    break;
                }
                // A supervisor's bridge that falls behind loses frames, never
                // memory: the queue is bounded.
                let _ = s.hears.try_send(f);
            }
        }
        for id in gone {
            self.detach(id);
        }
        let hears_a = self.sides[0].output(tick.a_hears);
        let hears_b = self.sides[1].output(tick.b_hears);
        TickOutput {
            hears: [hears_a, hears_b],
        }
    }
}
