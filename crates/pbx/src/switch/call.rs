//! A call as the B2BUA holds it: the caller's leg (A, we are its UAS), the ringing
//! branches towards the callee's contacts, the answered callee leg (B), and the media
//! bridge anchoring the audio between them.

use std::time::{Instant, SystemTime};

use media::sdp::{Codec, SdpOrigin};
use media::MediaBridge;
use sip::transaction::{ClientTxId, ServerTxId};
use sip::{Peer, Request};

use super::dialog::Dialog;

pub type CallId = u64;

/// Which leg of a call a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegSide {
    A,
    B,
}

/// An established leg: a channel and its dialog.
pub struct Leg {
    pub channel: String,
    pub dialog: Dialog,
}

/// One INVITE sent to one registered contact of the callee.
pub struct Branch {
    pub tx: ClientTxId,
    pub invite: Request,
    pub peer: Peer,
    pub channel: String,
    pub dialog: Dialog,
    /// A provisional response arrived, so a CANCEL may be sent (RFC 3261 9.1).
    pub provisional: bool,
    /// We want to cancel but must wait for a provisional response first.
    pub cancel_pending: bool,
    /// The ACK we sent for its 2xx, re-sent when the 2xx is retransmitted.
    pub ack: Option<Request>,
    /// Final status, once the branch has one (408 when it timed out).
    pub final_status: Option<u16>,
}

impl Branch {
    pub fn done(&self) -> bool {
        self.final_status.is_some()
    }
}

/// Where the call stands, for routing of events and for the call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Branches are ringing; A has no final answer yet.
    Ringing,
    /// A and B talk.
    Answered,
    /// A got its final answer (failure) or the call was hung up; waiting for branches
    /// to settle before the call is forgotten.
    Ending,
}

pub struct Call {
    pub id: CallId,
    pub state: CallState,
    pub a: Leg,
    pub b: Option<Leg>,
    pub branches: Vec<Branch>,
    /// A's INVITE server transaction, until its final response is sent.
    pub invite_tx: Option<ServerTxId>,
    /// A's INVITE, to build responses from.
    pub invite: Request,
    pub bridge: Option<MediaBridge>,
    pub codecs: Vec<Codec>,
    pub dtmf: Option<Codec>,
    pub ptime: Option<u32>,
    pub a_origin: SdpOrigin,
    pub b_origin: SdpOrigin,
    pub caller: String,
    pub callee: String,
    pub started: SystemTime,
    pub answered: Option<SystemTime>,
    /// When an unanswered call gives up (408).
    pub deadline: Option<Instant>,
    /// 180/183 already relayed to A with our SDP.
    pub early_media: bool,
    /// CDR written.
    pub recorded: bool,
}

impl Call {
    pub fn leg(&self, side: LegSide) -> Option<&Leg> {
        match side {
            LegSide::A => Some(&self.a),
            LegSide::B => self.b.as_ref(),
        }
    }

    pub fn leg_mut(&mut self, side: LegSide) -> Option<&mut Leg> {
        match side {
            LegSide::A => Some(&mut self.a),
            LegSide::B => self.b.as_mut(),
        }
    }

    /// The final status A should get when every branch failed: a 6xx wins, then busy,
    /// then the first failure seen (as a proxy would choose, RFC 3261 16.7).
    pub fn best_failure(&self) -> u16 {
        let finals: Vec<u16> = self
            .branches
            .iter()
            .filter_map(|b| b.final_status)
            .collect();
        if let Some(s) = finals.iter().find(|s| **s >= 600) {
            return *s;
        }
        if finals.contains(&486) {
            return 486;
        }
        match finals.first() {
            // We do not follow redirects: tell the caller the callee is unavailable.
            Some(s) if (300..400).contains(s) => 480,
            Some(s) => *s,
            None => 480,
        }
    }
}
