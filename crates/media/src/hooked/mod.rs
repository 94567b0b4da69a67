//! The decode -> mix -> encode path of one bridge, run on a 20 ms clock when the PBX
//! itself takes part in a call: it plays something to a leg (prompts, tones, what a
//! spied call sounds like), it listens to a leg (DTMF, a supervisor's voice), or a
//! spy hook is attached. Without any of these the relay forwards packets as they are.
//!
//! The pieces are the I/O-free ones of this crate: a jitter buffer and G.711 per leg,
//! the `CallMixer` with its audiohooks, frame sources and DTMF detectors. This module
//! only wires them to the bridge's legs. It sits below the relay, which drives it
//! (packets in, ticks with the time), and knows nothing of sockets or threads.

mod link;
mod mixmonitor;
mod pipe;
mod side;

pub use mixmonitor::{MixMonitor, MixMonitorId};

pub use link::{LinkSource, SpyLink};
pub use pipe::{frame_pipe, Closed as PipeClosed, FrameReceiver, FrameSender, Recv};
pub use side::PlayEnd;
pub(crate) use side::{Player, SideProc};

use std::time::Instant;

use crate::frame::Frame;
use crate::mix::{CallMixer, SpyMode, SupervisorId, VolumeStep};
use crate::side::Side;

/// A supervisor attached to this bridge: frames out to their bridge, frames in from it.
pub(crate) struct Supervisor {
    pub id: SupervisorId,
    pub hears: FrameSender,
    pub says: FrameReceiver,
}

/// The processing state of one bridge.
pub(crate) struct Processing {
    pub sides: [SideProc; 2],
    pub mixer: CallMixer,
    pub supervisors: Vec<Supervisor>,
    /// MixMonitors recording this bridge's channels.
    pub recorders: Vec<MixMonitor>,
    /// Where a supervisor's voice is copied on its way to the mixer.
    scratch: Box<Frame>,
}

/// Per-leg output of one tick, ready to encode and send: `None` for a phone whose
/// stream the PBX does not generate (it gets the other phone's packets forwarded).
pub(crate) struct TickOutput {
    pub hears: [Option<Frame>; 2],
}

impl Processing {
    pub fn new() -> Processing {
        Processing {
            sides: [SideProc::new(), SideProc::new()],
            mixer: CallMixer::new(),
            supervisors: Vec::new(),
            recorders: Vec::new(),
            scratch: Box::new(Frame::silence()),
        }
    }

    /// True while anything needs the 20 ms clock; false lets the relay go back to
    /// forwarding packets untouched.
    pub fn active(&self) -> bool {
        self.mixer.is_hooked()
            || !self.supervisors.is_empty()
            || !self.recorders.is_empty()
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
        let (hears_tx, hears_rx) = frame_pipe(link::QUEUE_FRAMES);
        let (says_tx, says_rx) = frame_pipe(link::QUEUE_FRAMES);
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
        let recording = !self.recorders.is_empty();
        let tapped = self.mixer.is_hooked() || !self.supervisors.is_empty() || recording;
        // A phone's audio is decoded only when it is used: tapped for a spy, or
        // heard by the other phone in a stream the PBX makes. A supervisor's own
        // leg while they only listen decodes nothing.
        let wanted = [Side::B, Side::A].map(|other| tapped || self.generates(other));
        let read_a = self.sides[0].read(now, wanted[0]);
        let read_b = self.sides[1].read(now, wanted[1]);
        // What each party said, before music on hold takes a holder's place.
        let said =
            recording.then(|| [&read_a, &read_b].map(|r| r.clone().unwrap_or_else(Frame::silence)));
        // A held phone hears music in place of the peer that holds it; a spy and
        // a whisper see the music as that peer's audio (the peer is silent while
        // it holds), so a whisper is heard over the music.
        let read_b = self.sides[0].hears_from_peer(read_b);
        let read_a = self.sides[1].hears_from_peer(read_a);
        if !tapped {
            // Nothing hooked (a prompt, or a supervisor's own leg): each phone hears
            // the other as read, with no mixing and no copies.
            return TickOutput {
                hears: [self.output(Side::A, read_b), self.output(Side::B, read_a)],
            };
        }
        let read_a = read_a.unwrap_or_else(Frame::silence);
        let read_b = read_b.unwrap_or_else(Frame::silence);
        // A supervisor whose bridge went away leaves: their queue is closed.
        let mut gone = Vec::new();
        let mut supervisors_said = recording.then(Frame::silence);
        for s in &mut self.supervisors {
            loop {
                match s.says.recv_into(&mut self.scratch) {
                    Recv::Frame => {
                        let _ = self.mixer.supervisor_says(s.id, &self.scratch);
                        if let Some(sum) = supervisors_said.as_mut() {
                            crate::mix::mix_into(sum, &self.scratch, VolumeStep::UNITY);
                        }
                    }
                    Recv::Empty => break,
                    Recv::Closed => {
                        gone.push(s.id);
                        break;
                    }
                }
            }
        }
        let [a_mix, b_mix] = self.mixer.tick_changes(&read_a, &read_b);
        for s in &mut self.supervisors {
            while let Ok(Some(f)) = self.mixer.supervisor_hears(s.id) {
                // A supervisor's bridge that falls behind loses its oldest frames,
                // never memory: the pipe is bounded.
                if s.hears.send(&f).is_err() {
                    gone.push(s.id);
                    break;
                }
            }
        }
        for id in gone {
            self.detach(id);
        }
        if let (Some(said), Some(sup)) = (&said, &supervisors_said) {
            let peer_is_phone = |s: &SideProc| s.negotiated && !s.released && !s.local;
            let audio = mixmonitor::TickAudio {
                said: [&said[0], &said[1]],
                heard: [
                    a_mix.as_ref().unwrap_or(&read_b),
                    b_mix.as_ref().unwrap_or(&read_a),
                ],
                supervisors: sup,
                bridged: [peer_is_phone(&self.sides[1]), peer_is_phone(&self.sides[0])],
            };
            for r in &mut self.recorders {
                r.record(&audio);
            }
        }
        TickOutput {
            hears: [
                self.output(Side::A, Some(a_mix.unwrap_or(read_b))),
                self.output(Side::B, Some(b_mix.unwrap_or(read_a))),
            ],
        }
    }

    /// What `side`'s phone hears, when the PBX generates its stream: its player,
    /// else `heard` (silence when that was not decoded).
    fn output(&mut self, side: Side, heard: Option<Frame>) -> Option<Frame> {
        if !self.generates(side) {
            return None;
        }
        let frame = self.sides[side.index()].output(heard.unwrap_or_else(Frame::silence));
        // A prompt that just ended hands the phone back to forwarding at once.
        self.generates(side).then_some(frame)
    }
}
