//! A call as the switch holds it: the caller's channel (leg A, we are its UAS), the
//! channel task that runs its dialplan, and, while a `Dial` runs, the branches ringing
//! the callee's contacts and the answered callee leg (B). The media bridge anchors the
//! audio of both legs on the PBX.

use std::time::{Instant, SystemTime};

use media::sdp::{Codec, SdpOrigin};
use sip::transaction::{ClientTxId, ServerTxId};
use sip::{Peer, Request};

use super::dialog::Dialog;
use super::output::OpenedBridge;
pub use super::srtp::LegCrypto;
use crate::chan::DialStatus;

/// A call inside the switch: one per caller's channel (or per call the PBX places).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Which leg of a call a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegSide {
    A,
    B,
}

impl LegSide {
    /// The leg across the bridge.
    pub fn other(self) -> LegSide {
        match self {
            LegSide::A => LegSide::B,
            LegSide::B => LegSide::A,
        }
    }

    /// The index of per-leg arrays (`Call::holding`): A 0, B 1.
    pub fn index(self) -> usize {
        match self {
            LegSide::A => 0,
            LegSide::B => 1,
        }
    }
}

/// An established leg: a channel and its dialog.
#[derive(Clone)]
pub struct Leg {
    pub channel: String,
    pub dialog: Dialog,
    /// SRTP on this leg (None: plain RTP). It moves with the leg when a transfer
    /// or takeover joins it to another call.
    pub crypto: Option<LegCrypto>,
    /// RFC 4028 on this leg, once negotiated.
    pub session: Option<super::session_timer::SessionTimer>,
}

/// One INVITE sent to one registered contact of a dialled endpoint.
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
    /// The SRTP our INVITE offered this contact, if any.
    pub crypto: Option<LegCrypto>,
}

impl Branch {
    pub fn done(&self) -> bool {
        self.final_status.is_some()
    }
}

/// Where caller's leg stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// A's INVITE has no final answer yet.
    Ringing,
    /// A got a 200 (from `Answer` or because a dialled callee answered).
    Answered,
    /// A is gone or got its final failure; waiting for branches to settle before the
    /// call is forgotten.
    Ending,
}

/// A `Dial` in progress on the caller's channel.
pub struct DialState {
    pub branches: Vec<Branch>,
    /// Gives up ringing at this time (Dial's timeout).
    pub deadline: Option<Instant>,
    /// The channel task waits for the outcome: it gets `DialDone` once.
    pub waiting: bool,
    /// The callee number, for the call record.
    pub callee: String,
    pub answered_at: Option<SystemTime>,
    /// What the callee's channel inherits (`_VAR`/`__VAR`), e.g. SPYGROUP.
    pub vars: Vec<(String, String)>,
}

impl DialState {
    /// The outcome to report to the channel task, the first time only.
    pub fn finish(&mut self, status: DialStatus) -> Option<DialStatus> {
        std::mem::take(&mut self.waiting).then_some(status)
    }

    /// The status a failed dial reports, from the branches' final responses.
    pub fn failure_status(&self) -> DialStatus {
        let finals: Vec<u16> = self
            .branches
            .iter()
            .filter_map(|b| b.final_status)
            .collect();
        DialStatus::from_sip(best_failure(&finals))
    }
}

pub struct Call {
    /// The id the API and the call record show: `<start epoch ms>-<n>`, path-safe.
    pub public_id: String,
    pub state: CallState,
    pub a: Leg,
    /// The answered callee leg of the current (or last) Dial.
    pub b: Option<Leg>,
    pub dial: Option<DialState>,
    /// A's INVITE server transaction, until its final response is sent.
    pub invite_tx: Option<ServerTxId>,
    /// A's INVITE, to build responses from.
    pub invite: Request,
    /// The media anchor; None once released.
    pub bridge: Option<OpenedBridge>,
    pub codecs: Vec<Codec>,
    pub dtmf: Option<Codec>,
    pub ptime: Option<u32>,
    pub a_origin: SdpOrigin,
    pub b_origin: SdpOrigin,
    pub caller: String,
    /// What the caller dialled.
    pub dialled: String,
    pub started: SystemTime,
    pub answered: Option<SystemTime>,
    /// A's INVITE had no SDP (late offer): our 200 carries the offer and the
    /// answer comes in the ACK.
    pub late_offer: bool,
    /// 180/183 already relayed to A with our SDP.
    pub early_media: bool,
    /// The trunk the call came in from, if any.
    pub trunk: Option<String>,
    /// A call the PBX placed itself (click-to-spy): leg A has no phone.
    pub virtual_a: bool,
    /// Leg B is a browser's WebRTC leg, answered by the switch itself: it has no
    /// SIP dialog to send a BYE on (the gateway ends it with the monitor).
    pub virtual_b: bool,
    /// The SIP status A gets if its dialplan ends before answering (set by a failed
    /// Dial: 486 after BUSY, 408 after NOANSWER, ...).
    pub fail_status: u16,
    /// Skip the call record (the dialplan ran `NoCDR`).
    pub no_cdr: bool,
    /// CDR written.
    pub recorded: bool,
    /// A supervisor took the call over (the agent's leg is gone).
    pub taken_over: Option<super::takeover::TakenOver>,
    /// `SetMusicOnHold`: what a held party of this call hears.
    pub moh_class: String,
    /// Which legs hold the other one now (their last offer was sendonly or
    /// inactive), by `LegSide` (A, B).
    pub holding: [bool; 2],
    /// No channel task runs this call (two callees an attended transfer joined):
    /// it ends when either leg hangs up.
    pub no_task: bool,
    /// A supervisor turned the call into this conference room: its legs leave one
    /// by one, and the call ends when both have (see `conference.rs`).
    pub conference: Option<String>,
    /// `Transfer()` sent leg A a REFER: the phone's NOTIFYs say how it went.
    pub transferring: bool,
    /// The ACK for the 2xx to our re-INVITE of a leg (a transfer moved that phone
    /// here), by `LegSide`, re-sent if the 2xx is.
    pub reinvite_ack: [Option<Request>; 2],
}

/// What a call starts with: who calls what, the codecs we may use,
/// telephone-events, ptime.
pub struct CallSetup {
    pub caller: String,
    pub dialled: String,
    pub codecs: Vec<Codec>,
    pub dtmf: Option<Codec>,
    pub ptime: Option<u32>,
}

impl Call {
    /// A ringing call whose caller is `a`, started at `started` (wall clock).
    pub fn new(
        id: CallId,
        a: Leg,
        invite: Request,
        bridge: OpenedBridge,
        setup: CallSetup,
        started: SystemTime,
    ) -> Call {
        Call {
            public_id: super::setup::public_id(started, id),
            state: CallState::Ringing,
            a,
            b: None,
            dial: None,
            invite_tx: None,
            invite,
            bridge: Some(bridge),
            codecs: setup.codecs,
            dtmf: setup.dtmf,
            ptime: setup.ptime,
            a_origin: SdpOrigin::new(),
            b_origin: SdpOrigin::new(),
            caller: setup.caller,
            dialled: setup.dialled,
            started,
            answered: None,
            late_offer: false,
            early_media: false,
            trunk: None,
            virtual_a: false,
            virtual_b: false,
            fail_status: 480,
            no_cdr: false,
            recorded: false,
            taken_over: None,
            moh_class: crate::moh::DEFAULT_CLASS.to_string(),
            holding: [false; 2],
            no_task: false,
            conference: None,
            transferring: false,
            reinvite_ack: [None, None],
        }
    }

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

    pub fn branches(&self) -> &[Branch] {
        self.dial.as_ref().map_or(&[], |d| d.branches.as_slice())
    }

    /// True when no dialled branch can still answer.
    pub fn branches_settled(&self) -> bool {
        self.branches().iter().all(Branch::done)
    }
}

/// Chooses among the branches' failures as a forking proxy would (RFC 3261 16.7): a
/// 6xx wins, then busy, then the first failure seen. Redirects become 480: we do not
/// follow them.
pub fn best_failure(finals: &[u16]) -> u16 {
    if let Some(s) = finals.iter().find(|s| **s >= 600) {
        return *s;
    }
    if finals.contains(&486) {
        return 486;
    }
    match finals.first() {
        Some(s) if (300..400).contains(s) => 480,
        Some(s) => *s,
        None => 480,
    }
}

#[cfg(test)]
mod tests {
    use super::best_failure;

    #[test]
    fn forked_failures_pick_what_a_proxy_would() {
        assert_eq!(best_failure(&[480, 603]), 603);
        assert_eq!(best_failure(&[408, 486, 480]), 486);
        assert_eq!(best_failure(&[408]), 408);
        assert_eq!(best_failure(&[302]), 480);
        assert_eq!(best_failure(&[]), 480);
    }
}
