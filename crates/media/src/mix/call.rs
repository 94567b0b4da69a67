//! The hooked call: a plain state machine that, once per 20 ms tick, takes what
//! the two phones sent (decoded) and returns what each phone hears, while
//! supervisors listen, whisper or barge through audiohooks.
//!
//! ChanSpy's modes map onto hooks exactly as Asterisk builds them:
//! - listen: a spy hook on the spied channel (its read = what that phone says,
//!   its write = what that phone hears, i.e. the other party);
//! - whisper: the spy hook plus a whisper hook on the spied channel, so the
//!   supervisor is added to what the spied phone hears;
//! - barge: both, plus a whisper hook on the bridged peer, so both parties hear
//!   the supervisor;
//! - takeover: the spy hook and the whisper hook on the peer only: the spied
//!   phone's leg is released (its bridge side stops sending and hearing), so the
//!   peer talks with the supervisor from the same tick on, with no gap.
//!
//! The two parties always hear each other at full level; a supervisor never hears
//! their own voice back.

use super::audiohook::{Audiohooks, HookError, HookId, SpyFrame, Tap};
use super::gain::VolumeStep;
use crate::frame::Frame;
use crate::side::Side;
use thiserror::Error;

/// ChanSpy's monitoring modes (options `q`, `w`, `B`): the one type every crate
/// uses (`model::SpyMode`).
pub use model::SpyMode;

/// One supervisor monitoring this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SupervisorId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MixError {
    #[error("supervisor {0:?} is not monitoring this call")]
    NoSuchSupervisor(SupervisorId),
    #[error(transparent)]
    Hook(#[from] HookError),
}

#[derive(Debug)]
struct Supervisor {
    id: SupervisorId,
    /// The spied channel.
    target: Side,
    mode: SpyMode,
    spy: HookId,
    /// ChanSpy's `o`: hear only what the spied phone sends, not its peer.
    one_way: bool,
    /// Whisper into the spied channel (whisper and barge).
    whisper_target: Option<HookId>,
    /// Whisper into the bridged peer (barge only).
    whisper_peer: Option<HookId>,
}

/// What the two phones hear after one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTick {
    pub a_hears: Frame,
    pub b_hears: Frame,
}

/// One tick's result including every supervisor's audio (see `tick_all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTickAll {
    pub a_hears: Frame,
    pub b_hears: Frame,
    pub supervisors_hear: Vec<(SupervisorId, Frame)>,
}

/// The mixing state of one two-party call. See the module docs.
#[derive(Debug, Default)]
pub struct CallMixer {
    hooks: [Audiohooks; 2],
    supervisors: Vec<Supervisor>,
    next_id: u32,
}

impl CallMixer {
    pub fn new() -> CallMixer {
        CallMixer::default()
    }

    /// True while any hook is attached: the call must run decode -> mix -> encode.
    /// False means the relay may go back to forwarding packets as they are.
    pub fn is_hooked(&self) -> bool {
        self.hooks.iter().any(|h| !h.is_empty())
    }

    /// True when `side` hears something other than its peer's audio (a supervisor
    /// whispers to it or barges in). While only listened to, it does not.
    pub fn alters(&self, side: Side) -> bool {
        self.hooks[side.index()].alters_output()
    }

    /// The hooks of one channel, for other kinds of hooks (recorders).
    pub fn hooks_mut(&mut self, side: Side) -> &mut Audiohooks {
        &mut self.hooks[side.index()]
    }

    pub fn hooks(&self, side: Side) -> &Audiohooks {
        &self.hooks[side.index()]
    }

    /// Starts monitoring channel `target` in `mode`; `volume` is ChanSpy's `v()`
    /// and applies to what the supervisor hears.
    pub fn attach(&mut self, target: Side, mode: SpyMode, volume: VolumeStep) -> SupervisorId {
        self.attach_tap(target, mode, volume, false)
    }

    /// As [`attach`](Self::attach); `one_way` (ChanSpy's `o`) makes the supervisor
    /// hear only the spied phone, from the hook's split read/write tap.
    pub fn attach_tap(
        &mut self,
        target: Side,
        mode: SpyMode,
        volume: VolumeStep,
        one_way: bool,
    ) -> SupervisorId {
        let id = SupervisorId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let tap = if one_way { Tap::Split } else { Tap::Mixed };
        let spy = self.hooks[target.index()].attach_spy(tap, volume);
        let mut s = Supervisor {
            id,
            target,
            mode: SpyMode::Listen,
            spy,
            one_way,
            whisper_target: None,
            whisper_peer: None,
        };
        self.apply_mode(&mut s, mode);
        self.supervisors.push(s);
        id
    }

    /// Adds or removes whisper hooks so that `s` matches `mode`.
    fn apply_mode(&mut self, s: &mut Supervisor, mode: SpyMode) {
        let (want_target, want_peer) = match mode {
            SpyMode::Listen => (false, false),
            SpyMode::Whisper => (true, false),
            SpyMode::Barge => (true, true),
            // The spied phone is leaving (or gone): only the peer hears us.
            SpyMode::Takeover => (false, true),
            // Heard by both until the conference room takes over.
            SpyMode::Conference => (true, true),
        };
        let t = s.target.index();
        let p = s.target.other().index();
        match (want_target, s.whisper_target) {
            (true, None) => {
                s.whisper_target = Some(self.hooks[t].attach_whisper(VolumeStep::UNITY))
            }
            (false, Some(h)) => {
                self.hooks[t].detach(h);
                s.whisper_target = None;
            }
            _ => {}
        }
        match (want_peer, s.whisper_peer) {
            (true, None) => s.whisper_peer = Some(self.hooks[p].attach_whisper(VolumeStep::UNITY)),
            (false, Some(h)) => {
                self.hooks[p].detach(h);
                s.whisper_peer = None;
            }
            _ => {}
        }
        s.mode = mode;
    }

    fn index_of(&self, id: SupervisorId) -> Result<usize, MixError> {
        self.supervisors
            .iter()
            .position(|s| s.id == id)
            .ok_or(MixError::NoSuchSupervisor(id))
    }

    /// Switches listen / whisper / barge without interrupting what the
    /// supervisor hears (the spy hook stays in place).
    pub fn set_mode(&mut self, id: SupervisorId, mode: SpyMode) -> Result<(), MixError> {
        let i = self.index_of(id)?;
        let mut s = self.supervisors.swap_remove(i);
        self.apply_mode(&mut s, mode);
        self.supervisors.push(s);
        Ok(())
    }

    pub fn mode(&self, id: SupervisorId) -> Option<SpyMode> {
        self.supervisors.iter().find(|s| s.id == id).map(|s| s.mode)
    }

    pub fn set_volume(&mut self, id: SupervisorId, volume: VolumeStep) -> Result<(), MixError> {
        let s = &self.supervisors[self.index_of(id)?];
        let (t, spy) = (s.target.index(), s.spy);
        self.hooks[t].set_volume(spy, volume)?;
        Ok(())
    }

    /// Stops monitoring: removes the supervisor's hooks. False if unknown.
    pub fn detach(&mut self, id: SupervisorId) -> bool {
        let Ok(i) = self.index_of(id) else {
            return false;
        };
        let mut s = self.supervisors.swap_remove(i);
        self.apply_mode(&mut s, SpyMode::Listen);
        self.hooks[s.target.index()].detach(s.spy);
        true
    }

    /// Queues one frame of the supervisor's voice. In listen mode it goes
    /// nowhere (ChanSpy's `q` alone never lets the supervisor be heard).
    pub fn supervisor_says(&mut self, id: SupervisorId, frame: &Frame) -> Result<(), MixError> {
        let s = &self.supervisors[self.index_of(id)?];
        let (t, p) = (s.target.index(), s.target.other().index());
        let (wt, wp) = (s.whisper_target, s.whisper_peer);
        if let Some(h) = wt {
            self.hooks[t].push_whisper(h, frame)?;
        }
        if let Some(h) = wp {
            self.hooks[p].push_whisper(h, frame)?;
        }
        Ok(())
    }

    /// The oldest tick the supervisor has not heard yet: both parties mixed.
    pub fn supervisor_hears(&mut self, id: SupervisorId) -> Result<Option<Frame>, MixError> {
        let s = &self.supervisors[self.index_of(id)?];
        let (t, spy, one_way) = (s.target.index(), s.spy, s.one_way);
        Ok(self.hooks[t].pop_spy(spy)?.map(|f| match f {
            SpyFrame::Split { read, .. } if one_way => read,
            f => f.into_mixed(),
        }))
    }

    /// One 20 ms tick: `a_read` and `b_read` are what the phones sent (after the
    /// jitter buffer). Each phone hears the other plus any whisper aimed at it.
    pub fn tick(&mut self, a_read: &Frame, b_read: &Frame) -> CallTick {
        let [a, b] = self.tick_changes(a_read, b_read);
        CallTick {
            a_hears: a.unwrap_or_else(|| b_read.clone()),
            b_hears: b.unwrap_or_else(|| a_read.clone()),
        }
    }

    /// As `tick`, for the media path: `None` for a phone that hears the other
    /// phone unchanged (nothing whispers to it), so a listened-to call copies no
    /// frames but the spies' own.
    pub fn tick_changes(&mut self, a_read: &Frame, b_read: &Frame) -> [Option<Frame>; 2] {
        let [ha, hb] = &mut self.hooks;
        [(ha, a_read, b_read), (hb, b_read, a_read)].map(|(hooks, read, peer)| {
            hooks.tap(read, peer);
            hooks.alters_output().then(|| {
                let mut write = peer.clone();
                hooks.inject(&mut write);
                write
            })
        })
    }

    /// A whole tick in one call: injects each supervisor's frame, mixes, and
    /// collects what every supervisor hears. Convenient where the supervisors
    /// run on the call's own clock (and in tests); allocates the result list.
    pub fn tick_all(
        &mut self,
        a_read: &Frame,
        b_read: &Frame,
        injected: &[(SupervisorId, &Frame)],
    ) -> CallTickAll {
        for (id, f) in injected {
            // An unknown supervisor has simply left: nothing to inject.
            let _ = self.supervisor_says(*id, f);
        }
        let CallTick { a_hears, b_hears } = self.tick(a_read, b_read);
        let ids: Vec<SupervisorId> = self.supervisors.iter().map(|s| s.id).collect();
        let mut supervisors_hear = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(Some(f)) = self.supervisor_hears(id) {
                supervisors_hear.push((id, f));
            }
        }
        supervisors_hear.sort_by_key(|(id, _)| *id);
        CallTickAll {
            a_hears,
            b_hears,
            supervisors_hear,
        }
    }
}
