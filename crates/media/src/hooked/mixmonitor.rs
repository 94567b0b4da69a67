//! MixMonitor on the decode path: a recorder of one channel of the bridge, fed
//! every 20 ms tick with what that channel's phone said (its read), what it heard
//! (its write: the other party, and a supervisor who barges; never a whisper to
//! the other party), and what supervisors said into the call. Each file is a
//! `RecordingTap`: the media thread only copies frames into a bounded queue, a
//! writer thread of the file's own writes them.

use crate::frame::Frame;
use crate::mix::{mix_into, VolumeStep};
use crate::recording::RecordingTap;
use crate::side::Side;

/// A MixMonitor's name on its bridge (for `StopMixMonitor`).
pub type MixMonitorId = u64;

/// One MixMonitor: the files it writes and how.
pub struct MixMonitor {
    pub id: MixMonitorId,
    /// The channel recorded: its phone's side of the bridge.
    pub side: Side,
    /// Both directions mixed (the main file).
    pub mixed: Option<RecordingTap>,
    /// `r()`: what the channel's phone said.
    pub read: Option<RecordingTap>,
    /// `t()`: what the channel's phone heard.
    pub write: Option<RecordingTap>,
    /// `S()`: what every supervisor said into the call, whisper included: the only
    /// file where a whisper is (besides what the whispered-to agent heard).
    pub supervisors: Option<RecordingTap>,
    /// `b`: only while the channel is bridged to another phone.
    pub only_bridged: bool,
    /// `v()`: the gain of what was heard; `V()`: of what was said.
    pub heard_gain: VolumeStep,
    pub said_gain: VolumeStep,
}

/// One tick of a bridge, as a MixMonitor sees it (per side, A then B).
pub(crate) struct TickAudio<'a> {
    pub said: [&'a Frame; 2],
    pub heard: [&'a Frame; 2],
    pub supervisors: &'a Frame,
    /// The side's peer is a phone on the call now.
    pub bridged: [bool; 2],
}

impl MixMonitor {
    pub(crate) fn record(&mut self, t: &TickAudio<'_>) {
        let i = self.side.index();
        if self.only_bridged && !t.bridged[i] {
            return;
        }
        let gained = |f: &Frame, g: VolumeStep| {
            let mut f = f.clone();
            if !g.is_unity() {
                g.apply(f.samples_mut());
            }
            f
        };
        let said = gained(t.said[i], self.said_gain);
        let heard = gained(t.heard[i], self.heard_gain);
        if let Some(tap) = &mut self.mixed {
            let mut both = said.clone();
            mix_into(&mut both, &heard, VolumeStep::UNITY);
            tap.push(&both);
        }
        if let Some(tap) = &mut self.read {
            tap.push(&said);
        }
        if let Some(tap) = &mut self.write {
            tap.push(&heard);
        }
        if let Some(tap) = &mut self.supervisors {
            tap.push(t.supervisors);
        }
    }
}
