//! Channels as the dialplan sees them: a task per caller's channel runs what should
//! happen to the call (the dialplan, or the core's fixed rule) and asks the switch to
//! answer, dial or hang up; the switch tells it when the caller hangs up.
//!
//! This is the seam between call control (SIP, owned by the switch task) and
//! applications (`Dial`, `Playback`, `ChanSpy`, ...): applications never touch SIP.

mod originate;
mod status;
mod task;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use originate::{run_click_to_spy, MonitorCmd, Monitors};
pub use status::{DialOutcome, DialStatus};
pub use task::run_dialplan;

/// Identifies a call inside the switch.
pub type CallId = u64;

/// What the switch tells a channel task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanEvent {
    /// The caller hung up (BYE or CANCEL): stop, run `h` if any.
    Hangup,
    /// A DTMF digit from the caller's phone.
    Dtmf(char),
    /// A call the PBX placed was answered (click-to-spy: the supervisor picked up);
    /// the answering phone's channel.
    Answered(String),
}

/// What a channel task asks of the switch.
#[derive(Debug)]
pub enum ChanRequest {
    /// Answer the caller (200 OK with the PBX's media). Replies false when the caller
    /// is already gone.
    Answer {
        call: CallId,
        reply: oneshot::Sender<bool>,
    },
    /// 180 Ringing / 183 Session Progress to the caller, if not answered yet.
    Ringing {
        call: CallId,
    },
    Progress {
        call: CallId,
    },
    /// Ring these endpoints (extensions) at once; the first to answer is bridged with
    /// the caller. Replies when the dial fails, or when the bridged call ends.
    Dial {
        call: CallId,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        /// Variables the new channel inherits (`_VAR`, `__VAR`), e.g. SPYGROUP.
        vars: Vec<(String, String)>,
        reply: oneshot::Sender<DialOutcome>,
    },
    /// End the channel: BYE if answered, else the given final status (or the status the
    /// last failed Dial left, or 480).
    Hangup {
        call: CallId,
        status: Option<u16>,
    },
    /// Do not write a call record for this call.
    NoCdr {
        call: CallId,
    },
}

/// Who placed the call, as the channel task sees it.
#[derive(Debug, Clone)]
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

/// A channel task's handle on its channel.
pub struct Channel {
    pub call: CallId,
    /// `SIP/101-00000001`.
    pub name: String,
    pub caller: CallerInfo,
    /// What the caller dialled (the Request-URI's user part).
    pub dialled: String,
    requests: mpsc::UnboundedSender<ChanRequest>,
    events: mpsc::UnboundedReceiver<ChanEvent>,
    hung_up: bool,
}

impl Channel {
    pub(crate) fn new(
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
            requests,
            events,
            hung_up: false,
        }
    }

    /// Answers the caller; false when the caller is gone.
    pub async fn answer(&mut self) -> bool {
        let (reply, wait) = oneshot::channel();
        let call = self.call;
        self.send(ChanRequest::Answer { call, reply });
        wait.await.unwrap_or(false)
    }

    pub fn ringing(&mut self) {
        let call = self.call;
        self.send(ChanRequest::Ringing { call });
    }

    pub fn progress(&mut self) {
        let call = self.call;
        self.send(ChanRequest::Progress { call });
    }

    pub fn no_cdr(&mut self) {
        let call = self.call;
        self.send(ChanRequest::NoCdr { call });
    }

    /// Rings endpoints and waits until the dial fails or the bridged call ends. The
    /// caller hanging up meanwhile ends the dial with `Cancel`.
    pub async fn dial(
        &mut self,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        vars: Vec<(String, String)>,
    ) -> DialOutcome {
        let (reply, wait) = oneshot::channel();
        let call = self.call;
        self.send(ChanRequest::Dial {
            call,
            endpoints,
            timeout,
            vars,
            reply,
        });
        wait.await.unwrap_or(DialOutcome {
            status: DialStatus::Cancel,
        })
    }

    /// Starts a Dial without waiting for its end; the receiver gets the outcome.
    pub fn dial_start(
        &mut self,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
    ) -> oneshot::Receiver<DialOutcome> {
        let (reply, wait) = oneshot::channel();
        let call = self.call;
        self.send(ChanRequest::Dial {
            call,
            endpoints,
            timeout,
            vars: Vec::new(),
            reply,
        });
        wait
    }

    /// Ends the channel.
    pub fn hangup(&mut self, status: Option<u16>) {
        if !self.hung_up {
            self.hung_up = true;
            let call = self.call;
            self.send(ChanRequest::Hangup { call, status });
        }
    }

    /// Waits for the next event; `Hangup` when the switch is gone.
    pub async fn next_event(&mut self) -> ChanEvent {
        self.events.recv().await.unwrap_or(ChanEvent::Hangup)
    }

    /// An event if one is waiting.
    pub fn try_event(&mut self) -> Option<ChanEvent> {
        self.events.try_recv().ok()
    }

    fn send(&self, req: ChanRequest) {
        // The switch outlives every channel task; if it is gone we are shutting down.
        let _ = self.requests.send(req);
    }
}

impl Drop for Channel {
    /// A channel task that ends without hanging up hangs up (Asterisk's
    /// autofallthrough).
    fn drop(&mut self) {
        self.hangup(None);
    }
}
