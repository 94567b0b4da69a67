//! Channels as the dialplan sees them: a task per caller's channel runs what should
//! happen to the call (the dialplan) and asks the switch to answer, dial or hang up;
//! the switch tells it when the caller hangs up and how its requests went.
//!
//! This is the seam between call control (SIP, owned by the switch) and
//! applications (`Dial`, `Playback`, `ChanSpy`, ...): applications never touch SIP,
//! and never write the live-channel table: they ask the switch, which owns it.

mod originate;
mod queue;
mod status;
mod task;

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;

pub use crate::switch::{CallId, SpyingOn};
pub use originate::{run_click_to_spy, ClickToSpy};
pub use status::{DialOutcome, DialStatus};
pub use task::run_dialplan;

/// What the switch tells a channel task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanEvent {
    /// The caller hung up (BYE or CANCEL): stop, run `h` if any.
    Hangup,
    /// A DTMF digit from the caller's phone (SIP INFO).
    Dtmf(char),
    /// The answer to [`ChanOp::Answer`]: false when the caller is already gone.
    AnswerDone(bool),
    /// A [`ChanOp::Dial`] ended: it failed, or the bridged call ended.
    DialDone(DialOutcome),
    /// A call the PBX placed was answered (click-to-spy: the supervisor picked up);
    /// the answering phone's channel.
    PlacedAnswered(String),
    /// The answer to [`ChanOp::TakeOver`].
    TakeOverDone(Result<(), TakeOverRefused>),
    /// The bridged callee transferred this channel away (a blind REFER): the Dial
    /// that bridged them returns next, and the dialplan goes on at the target, in
    /// the transferer's context, as Asterisk's blind transfer does.
    Transferred(Transferred),
    /// The answer to [`ChanOp::Conference`].
    ConferenceDone(Result<(), TakeOverRefused>),
    /// The answer to [`ChanOp::Transfer`]: Asterisk's `TRANSFERSTATUS` and the SIP
    /// status the phone reported.
    TransferDone { status: TransferStatus, sip: u16 },
    /// The answer to [`ChanOp::QueueJoin`]: the caller's position, or why it may
    /// not wait (`QUEUESTATUS`).
    QueueJoined(Result<u32, model::QueueStatus>),
    /// Tell the waiting caller its position (1 is next) and the estimated hold
    /// time in seconds (None: not to be said).
    QueueAnnounce {
        position: Option<u32>,
        holdtime: Option<u64>,
    },
    /// Play the queue's periodic announcement to the waiting caller.
    QueuePeriodic(String),
    /// A member answered: the caller is bridged with `channel` (of extension
    /// `agent`) now; the music stops. A `DialDone` follows when that call ends.
    QueueConnected { agent: String, channel: String },
    /// The caller leaves the queue unanswered (`QUEUESTATUS`: TIMEOUT, LEAVEEMPTY).
    QueueExit(model::QueueStatus),
    /// The answer to [`ChanOp::QueueMember`].
    QueueMemberDone(crate::queue::MemberResult),
}

/// Where a blind transfer sends the transferee's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub context: String,
    pub exten: String,
    /// The transferer's channel (Asterisk's `BLINDTRANSFER`).
    pub by: String,
}

/// How `Transfer()` ended (`TRANSFERSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    Success,
    Failure,
    /// The channel cannot be transferred (no phone, or it refused REFER with 405/501).
    Unsupported,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Success => "SUCCESS",
            TransferStatus::Failure => "FAILURE",
            TransferStatus::Unsupported => "UNSUPPORTED",
        }
    }
}

/// Why the switch would not let a supervisor take a call over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TakeOverRefused {
    #[error("channel {0} is on no answered two-party call")]
    NoCall(String),
    #[error("the call was already taken over by {0}")]
    Already(String),
    #[error("the call is conference {0} now: everyone in it is a party already")]
    InConference(String),
}

/// What a channel task asks of the switch, for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanRequest {
    pub call: CallId,
    pub op: ChanOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanOp {
    /// Answer the caller (200 OK with the PBX's media); answered with `AnswerDone`.
    Answer,
    /// 180 Ringing / 183 Session Progress to the caller, if not answered yet.
    Ringing,
    Progress,
    /// Ring these endpoints (extensions) at once; the first to answer is bridged with
    /// the caller. Answered with `DialDone` when the dial fails or the bridged call
    /// ends.
    Dial {
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        /// Variables the new channel inherits (`_VAR`, `__VAR`), e.g. SPYGROUP.
        vars: Vec<(String, String)>,
    },
    /// End the channel: BYE if answered, else the given final status (or the status
    /// the last failed Dial left, or 480).
    Hangup {
        status: Option<u16>,
    },
    /// Do not write a call record for this call.
    NoCdr,
    /// `SetMusicOnHold(class)`: what a held party of this call hears.
    MusicClass {
        class: String,
    },
    /// The dialplan set the channel's `SPYGROUP` (ChanSpy's `g()` and permissions
    /// read it from the live-channel table).
    SpyGroup {
        channel: String,
        groups: String,
    },
    /// The channel entered or left ChanSpy (it is never spied on meanwhile).
    InChanSpy {
        channel: String,
        active: bool,
    },
    /// The channel monitors a target now (see [`SpyingOn`]), or nothing.
    Spying {
        channel: String,
        on: Option<SpyingOn>,
    },
    /// This call's channel (a supervisor spying on `target`) takes `target`'s call
    /// over: `target`'s leg gets a BYE, its peer stays, and the call now lasts as
    /// long as this one. Answered with `TakeOverDone`.
    TakeOver {
        /// The supervisor's extension, for the call record.
        supervisor: String,
        channel: String,
        target: String,
    },
    /// `Transfer(SIP/120)`: send the caller's phone to `exten` at this PBX: a 302 if
    /// the call is not answered yet, else a REFER (the phone calls the target and
    /// hangs up this call). Answered with `TransferDone`.
    Transfer {
        exten: String,
    },
    /// This call's channel (a supervisor barging on `target`) turns `target`'s call
    /// into conference `room`: from now on each of its two legs leaves on its own,
    /// and the call lasts until both have. Answered with `ConferenceDone`.
    Conference {
        supervisor: String,
        target: String,
        room: String,
    },
    /// Hang up one leg of whichever call has `channel` (a conference member kicked
    /// through the API).
    HangupChannel {
        channel: String,
    },
    /// `Queue()`: the caller waits in `queue` (the floor rings its members through
    /// this call's Dial). Answered with `QueueJoined`, then `QueueAnnounce`,
    /// `QueuePeriodic`, `QueueConnected` + `DialDone`, or `QueueExit`.
    QueueJoin {
        queue: String,
        /// `Queue()`'s own timeout: the longest the caller waits.
        timeout: Option<Duration>,
        /// Option `n`: no second ring after the first times out.
        no_retry: bool,
        /// What the answering agent's channel inherits (`__SPYGROUP`).
        vars: Vec<(String, String)>,
    },
    /// `AddQueueMember`, `RemoveQueueMember`, `PauseQueueMember`,
    /// `UnpauseQueueMember`; answered with `QueueMemberDone`.
    QueueMember(crate::queue::MemberChange),
}

/// Who placed the call, as the channel task sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerInfo {
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The caller ID number and name presented.
    pub number: String,
    pub name: Option<String>,
    /// The context the endpoint's calls enter.
    pub context: String,
    /// The call came in from this trunk (inbound monitoring rules apply).
    pub trunk: Option<String>,
}

/// A cloneable way to make requests for one call from outside its `Channel`
/// (e.g. a guard that must report on drop).
#[derive(Clone)]
pub struct ChanRequester {
    call: CallId,
    requests: mpsc::UnboundedSender<ChanRequest>,
}

impl ChanRequester {
    /// The channel monitors `on` now, or nothing.
    pub fn set_spying(&self, channel: &str, on: Option<SpyingOn>) {
        let channel = channel.to_string();
        self.send(ChanOp::Spying { channel, on });
    }

    /// Hangs up `channel`'s leg, wherever it is (see [`ChanOp::HangupChannel`]).
    pub fn hangup_channel(&self, channel: &str) {
        self.send(ChanOp::HangupChannel {
            channel: channel.to_string(),
        });
    }

    fn send(&self, op: ChanOp) {
        // The switch outlives every channel task; if it is gone we are shutting down.
        let _ = self.requests.send(ChanRequest {
            call: self.call,
            op,
        });
    }
}

/// A channel task's handle on its channel.
pub struct Channel {
    pub call: CallId,
    /// `SIP/101-00000001`.
    pub name: String,
    pub caller: CallerInfo,
    /// What the caller dialled (the Request-URI's user part).
    pub dialled: String,
    requests: ChanRequester,
    events: mpsc::UnboundedReceiver<ChanEvent>,
    /// Events that arrived while a request waited for its answer, in order.
    pending: VecDeque<ChanEvent>,
    hung_up: bool,
    /// The last SPYGROUP told to the switch, so each application does not repeat it.
    told_spygroup: String,
}

impl Channel {
    pub fn new(
        call: CallId,
        name: String,
        caller: CallerInfo,
        dialled: String,
        requests: mpsc::UnboundedSender<ChanRequest>,
        events: mpsc::UnboundedReceiver<ChanEvent>,
    ) -> Channel {
        Channel {
            call,
            name,
            caller,
            dialled,
            requests: ChanRequester { call, requests },
            events,
            pending: VecDeque::new(),
            hung_up: false,
            told_spygroup: String::new(),
        }
    }

    /// Answers the caller; false when the caller is gone.
    pub async fn answer(&mut self) -> bool {
        self.send(ChanOp::Answer);
        match self
            .wait_for(|e| matches!(e, ChanEvent::AnswerDone(_)))
            .await
        {
            Some(ChanEvent::AnswerDone(ok)) => ok,
            _ => false,
        }
    }

    pub fn ringing(&mut self) {
        self.send(ChanOp::Ringing);
    }

    pub fn progress(&mut self) {
        self.send(ChanOp::Progress);
    }

    pub fn no_cdr(&mut self) {
        self.send(ChanOp::NoCdr);
    }

    pub fn set_music_class(&mut self, class: &str) {
        self.send(ChanOp::MusicClass {
            class: class.to_string(),
        });
    }

    /// Rings endpoints and waits until the dial fails or the bridged call ends. The
    /// caller hanging up meanwhile ends the dial with `Cancel`.
    pub async fn dial(
        &mut self,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        vars: Vec<(String, String)>,
    ) -> DialOutcome {
        self.send(ChanOp::Dial {
            endpoints,
            timeout,
            vars,
        });
        match self.wait_for(|e| matches!(e, ChanEvent::DialDone(_))).await {
            Some(ChanEvent::DialDone(outcome)) => outcome,
            _ => DialOutcome {
                status: DialStatus::Cancel,
            },
        }
    }

    /// Starts a Dial without waiting for its end; `DialDone` comes as an event.
    pub fn dial_start(&mut self, endpoints: Vec<String>, timeout: Option<Duration>) {
        self.send(ChanOp::Dial {
            endpoints,
            timeout,
            vars: Vec::new(),
        });
    }

    /// Ends the channel.
    pub fn hangup(&mut self, status: Option<u16>) {
        if !self.hung_up {
            self.hung_up = true;
            self.send(ChanOp::Hangup { status });
        }
    }

    /// Tells the switch the channel's `SPYGROUP`, when it changed.
    pub fn set_spygroup(&mut self, groups: &str) {
        if self.told_spygroup != groups {
            self.told_spygroup = groups.to_string();
            let channel = self.name.clone();
            self.send(ChanOp::SpyGroup {
                channel,
                groups: groups.to_string(),
            });
        }
    }

    /// This channel runs ChanSpy (true) or no longer (false).
    pub fn set_in_chanspy(&mut self, active: bool) {
        let channel = self.name.clone();
        self.send(ChanOp::InChanSpy { channel, active });
    }

    /// Takes `target`'s call over (see [`ChanOp::TakeOver`]); the switch's answer.
    pub async fn take_over(&mut self, target: &str) -> Result<(), TakeOverRefused> {
        self.send(ChanOp::TakeOver {
            supervisor: self.caller.endpoint.clone(),
            channel: self.name.clone(),
            target: target.to_string(),
        });
        match self
            .wait_for(|e| matches!(e, ChanEvent::TakeOverDone(_)))
            .await
        {
            Some(ChanEvent::TakeOverDone(r)) => r,
            _ => Err(TakeOverRefused::NoCall(target.to_string())),
        }
    }

    /// Where a blind transfer sent this channel, if the Dial that just returned
    /// ended because of one.
    pub fn take_transferred(&mut self) -> Option<Transferred> {
        let i = self
            .pending
            .iter()
            .position(|e| matches!(e, ChanEvent::Transferred(_)))?;
        match self.pending.remove(i) {
            Some(ChanEvent::Transferred(t)) => Some(t),
            _ => None,
        }
    }

    /// Transfers the caller's phone to `exten` (see [`ChanOp::Transfer`]).
    pub async fn transfer(&mut self, exten: &str) -> (TransferStatus, u16) {
        self.send(ChanOp::Transfer {
            exten: exten.to_string(),
        });
        match self
            .wait_for(|e| matches!(e, ChanEvent::TransferDone { .. }))
            .await
        {
            Some(ChanEvent::TransferDone { status, sip }) => (status, sip),
            _ => (TransferStatus::Failure, 0),
        }
    }

    /// Turns `target`'s call into conference `room` (see [`ChanOp::Conference`]).
    pub async fn conference(&mut self, target: &str, room: &str) -> Result<(), TakeOverRefused> {
        self.send(ChanOp::Conference {
            supervisor: self.caller.endpoint.clone(),
            target: target.to_string(),
            room: room.to_string(),
        });
        match self
            .wait_for(|e| matches!(e, ChanEvent::ConferenceDone(_)))
            .await
        {
            Some(ChanEvent::ConferenceDone(r)) => r,
            _ => Err(TakeOverRefused::NoCall(target.to_string())),
        }
    }

    pub fn requester(&self) -> ChanRequester {
        self.requests.clone()
    }

    /// Waits for the next event; `Hangup` when the switch is gone.
    pub async fn next_event(&mut self) -> ChanEvent {
        if let Some(e) = self.pending.pop_front() {
            return e;
        }
        self.events.recv().await.unwrap_or(ChanEvent::Hangup)
    }

    /// Waits for the event `want` picks, keeping every other one for later; None
    /// when the switch is gone.
    async fn wait_for(&mut self, want: impl Fn(&ChanEvent) -> bool) -> Option<ChanEvent> {
        if let Some(i) = self.pending.iter().position(&want) {
            return self.pending.remove(i);
        }
        loop {
            let e = self.events.recv().await?;
            if want(&e) {
                return Some(e);
            }
            self.pending.push_back(e);
        }
    }

    fn send(&self, op: ChanOp) {
        self.requests.send(op);
    }
}

impl Drop for Channel {
    /// A channel task that ends without hanging up hangs up (Asterisk's
    /// autofallthrough).
    fn drop(&mut self) {
        self.hangup(None);
    }
}
