//! A conference room's mixer: every member hears the sum of what the others say.
//!
//! A member is a channel the PBX answered (`ConfBridge`): its bridge plays the
//! member's [`MemberSource`] to the phone and sends what the phone says into the
//! member's pipe (`BridgeControl::talk_to`). Nothing else is special about it, so
//! a spy on a member's channel hears the room as that member does, and a whisper
//! reaches that member alone.
//!
//! Mixing goes in rounds of one frame. The first member whose bridge asks for a
//! frame in a new round takes one frame from every member's pipe (silence when a
//! pipe is empty or the member is muted) and works out what each member hears:
//! the sum of the others, at the member's listen volume. The other members' bridges
//! then read the same round. A round is new when a member that already read the
//! current one asks again, so the room runs at its members' 20 ms pace without a
//! clock of its own. Members' bridges on one media thread tick on one 20 ms grid,
//! so each round is read once by each of them.
//!
//! Everything is under one short lock per frame read: a room has a handful of
//! members, and the sums are fixed-size stack arrays.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::frame::Frame;
use crate::hooked::{frame_pipe, FrameReceiver, FrameSender, Recv};
use crate::mix::sum::Accumulator;
use crate::mix::VolumeStep;
use crate::tone::FrameSource;

/// Frames a member's pipe holds (what its phone said, not mixed yet).
const PIPE_FRAMES: usize = 6;
/// A member's pipe is drained to this many frames each round, so a member whose
/// phone sends faster than the room reads does not drift late.
const KEEP_FRAMES: usize = 2;

/// A member's name in its room.
pub type MemberId = u64;

/// One conference room's mixer. Cloning gives another handle on the same room.
#[derive(Clone, Default)]
pub struct Room(Arc<Mutex<Core>>);

struct Core {
    members: Vec<Member>,
    round: u64,
    next_id: MemberId,
    /// Sounds every member hears (join and leave beeps), until each ends.
    sounds: Vec<Box<dyn FrameSource + Send>>,
    sound: Frame,
}

impl Default for Core {
    fn default() -> Core {
        Core {
            members: Vec::new(),
            round: 0,
            next_id: 0,
            sounds: Vec::new(),
            sound: Frame::silence(),
        }
    }
}

struct Member {
    id: MemberId,
    says: FrameReceiver,
    /// What it said this round (after mute and talk volume).
    said: Frame,
    /// What it hears this round.
    hears: Frame,
    /// The last round it read.
    read: u64,
    muted: bool,
    /// Hears nothing from the room (waiting for a marked member).
    deaf: bool,
    talk: VolumeStep,
    listen: VolumeStep,
}

/// What a new member gets: the pipe its bridge sends the phone's audio into, and
/// the source its bridge plays (the room, without the member itself). Dropping the
/// source leaves the room.
pub struct Joined {
    pub id: MemberId,
    pub says: FrameSender,
    pub hears: MemberSource,
}

/// A member's side of the room, as its bridge plays it.
pub struct MemberSource {
    room: Room,
    id: MemberId,
}

/// How one member is set now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberState {
    pub muted: bool,
    pub deaf: bool,
    pub talk: VolumeStep,
    pub listen: VolumeStep,
}

impl Room {
    pub fn new() -> Room {
        Room::default()
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a member; it hears the others from the next round on.
    pub fn join(&self, muted: bool, deaf: bool) -> Joined {
        let (tx, rx) = frame_pipe(PIPE_FRAMES);
        let mut core = self.lock();
        core.next_id += 1;
        let id = core.next_id;
        let round = core.round;
        core.members.push(Member {
            id,
            says: rx,
            said: Frame::silence(),
            hears: Frame::silence(),
            read: round,
            muted,
            deaf,
            talk: VolumeStep::UNITY,
            listen: VolumeStep::UNITY,
        });
        Joined {
            id,
            says: tx,
            hears: MemberSource {
                room: self.clone(),
                id,
            },
        }
    }

    /// Members now.
    pub fn len(&self) -> usize {
        self.lock().members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes one member's settings; false if it left.
    pub fn update(&self, id: MemberId, f: impl FnOnce(&mut MemberState)) -> bool {
        let mut core = self.lock();
        let Some(m) = core.members.iter_mut().find(|m| m.id == id) else {
            return false;
        };
        let mut s = MemberState {
            muted: m.muted,
            deaf: m.deaf,
            talk: m.talk,
            listen: m.listen,
        };
        f(&mut s);
        (m.muted, m.deaf, m.talk, m.listen) = (s.muted, s.deaf, s.talk, s.listen);
        true
    }

    /// One member's settings, if it is in the room.
    pub fn state(&self, id: MemberId) -> Option<MemberState> {
        let core = self.lock();
        core.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| MemberState {
                muted: m.muted,
                deaf: m.deaf,
                talk: m.talk,
                listen: m.listen,
            })
    }

    /// Plays `sound` to every member who hears the room, over the room.
    pub fn play(&self, sound: Box<dyn FrameSource + Send>) {
        self.lock().sounds.push(sound);
    }

    fn leave(&self, id: MemberId) {
        self.lock().members.retain(|m| m.id != id);
    }
}

impl Core {
    /// One round: every member's frame in, every member's mix out.
    fn mix(&mut self) {
        self.round += 1;
        let mut total: Option<Accumulator> = None;
        for m in &mut self.members {
            let got = m.says.recv_newest_into(&mut m.said, KEEP_FRAMES);
            if got != Recv::Frame || m.muted {
                m.said.clear();
            } else if !m.talk.is_unity() {
                m.talk.apply(m.said.samples_mut());
            }
            total
                .get_or_insert_with(|| Accumulator::new_like(&m.said))
                .add(&m.said, VolumeStep::UNITY);
        }
        let Some(total) = total else { return };
        let sounding = !self.sounds.is_empty();
        if sounding {
            let mut acc = Accumulator::new_like(&self.sound);
            let mut f = Frame::silence();
            self.sounds.retain_mut(|s| {
                let more = s.next_frame(&mut f);
                if more {
                    acc.add(&f, VolumeStep::UNITY);
                }
                more
            });
            acc.write_to(&mut self.sound);
        }
        for m in &mut self.members {
            if m.deaf {
                m.hears.clear();
                continue;
            }
            // The others: everyone, less what this member said itself.
            let mut others = total.clone();
            others.subtract(&m.said);
            if sounding {
                others.add(&self.sound, VolumeStep::UNITY);
            }
            others.write_to(&mut m.hears);
            if !m.listen.is_unity() {
                m.listen.apply(m.hears.samples_mut());
            }
        }
    }
}

impl FrameSource for MemberSource {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        let mut core = self.room.lock();
        let round = core.round;
        let Some(read) = core
            .members
            .iter()
            .find(|m| m.id == self.id)
            .map(|m| m.read)
        else {
            return false;
        };
        if read >= round {
            core.mix();
        }
        let round = core.round;
        let Some(m) = core.members.iter_mut().find(|m| m.id == self.id) else {
            return false;
        };
        m.read = round;
        out.clone_from(&m.hears);
        true
    }
}

impl Drop for MemberSource {
    fn drop(&mut self) {
        self.room.leave(self.id);
    }
}
