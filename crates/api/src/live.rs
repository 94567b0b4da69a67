//! What the API needs from the running switch, without depending on it: typed live
//! channels, the event stream, and click-to-spy with typed refusals. The binary
//! adapts the PBX to [`LiveView`].

use std::sync::Arc;

use model::SpyMode;
pub use model::{MonitorFailure, Role};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// A live channel (one party's leg of a call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LiveChannel {
    /// `SIP/110-0000001a`.
    pub name: String,
    /// The id of the call it belongs to (as `GET /api/v1/calls` lists it).
    #[serde(skip)]
    pub call: String,
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The number the party is known by: a caller's caller ID (for a call from a
    /// trunk, the outside caller's number), a callee's extension.
    pub number: String,
    /// Every spy group of the channel, sorted, colon-separated.
    pub spygroup: String,
    /// The channel it talks to, if bridged.
    pub bridged_to: Option<String>,
    /// For an agent: the queue whose call it answered.
    pub queue: Option<String>,
    /// The channel it monitors, and how, while it runs a spy session.
    pub spying: Option<Spying>,
    /// True while it runs ChanSpy (it is never monitored itself).
    pub in_chanspy: bool,
    /// `caller` (placed the call) or `callee`.
    pub role: Role,
    /// A trunk's channel: the outside party.
    pub trunk: bool,
    /// When the channel appeared, epoch milliseconds.
    pub started_at: u64,
}

/// Whom a monitoring channel listens to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Spying {
    /// The spied channel.
    pub channel: String,
    pub mode: SpyMode,
    /// The session's id in the audit trail (`GET /api/v1/audit`).
    pub session: String,
    /// When the session started, and when it entered `mode`, epoch milliseconds.
    pub since: u64,
    pub mode_since: u64,
}

/// The switch's live state as the API sees it.
pub trait LiveView: Send + Sync {
    /// Every live channel, ordered by name.
    fn channels(&self) -> Vec<LiveChannel>;
    /// Live events, each a JSON object with at least `seq` (u64, +1 per event),
    /// `at` (epoch ms) and `type`.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Value>>;

    /// The call-center floor (queues' waiting callers, agents' states); None
    /// without one.
    fn queue_floor(&self) -> Option<model::QueueFloor> {
        None
    }

    /// Queue log lines the API wrote (a member added, removed, paused): sent to
    /// subscribers as `queue.log` events, as the floor's own lines are.
    fn queue_logged(&self, _lines: &[model::QueueLogEntry]) {}

    /// Live conference rooms (`ConfBridge`), by name.
    fn conferences(&self) -> Vec<model::ConfRoom> {
        Vec::new()
    }

    /// Mutes, unmutes or sets the volumes of a member of a room. Err: no such room
    /// or member (404), or a volume out of range (400).
    fn conference_change(
        &self,
        room: &str,
        channel: &str,
        _change: &model::ConfChange,
    ) -> Result<(), ConfRefused> {
        Err(ConfRefused::NotFound(format!(
            "channel {channel:?} is not in conference {room:?}"
        )))
    }

    /// Asks a member to leave its room. Err: no such room or member.
    fn conference_kick(&self, room: &str, channel: &str) -> Result<(), String> {
        Err(format!("channel {channel:?} is not in conference {room:?}"))
    }

    /// Click-to-spy: ring `supervisor`, then monitor `target` (a call id, or a
    /// channel name) in `mode`. Ok carries the monitor's id. A view without
    /// click-to-spy knows no call to monitor.
    fn monitor_start(
        &self,
        _supervisor: &str,
        target: &str,
        _mode: SpyMode,
        _follow: model::Follow,
    ) -> MonitorStart {
        let why = format!("no call {target:?}: monitoring from the API is not available here");
        Box::pin(async { Err(MonitorFailure::NotFound(why)) })
    }

    /// Click-to-spy to the browser that sent `offer` (its WebRTC SDP offer): no
    /// phone rings, the supervisor's leg is the browser's. Ok carries the
    /// monitor's id and the SDP answer for the browser. A view without WebRTC
    /// refuses it.
    fn monitor_start_browser(
        &self,
        _supervisor: &str,
        _target: &str,
        _mode: SpyMode,
        _follow: model::Follow,
        _offer: &str,
    ) -> Pending<BrowserMonitor> {
        Box::pin(async {
            Err(MonitorFailure::Unavailable(
                "monitoring from the browser (WebRTC) is not available here".into(),
            ))
        })
    }

    /// Switches a running monitor's mode.
    fn monitor_mode(&self, id: &str, _mode: SpyMode) -> Pending<()> {
        let why = format!("no running monitor {id:?}");
        Box::pin(async { Err(MonitorFailure::NotFound(why)) })
    }

    /// Ends a running monitor.
    fn monitor_stop(&self, id: &str) -> Result<(), MonitorFailure> {
        Err(MonitorFailure::NotFound(format!(
            "no running monitor {id:?}"
        )))
    }

    /// The supervisor a running monitor belongs to (None: no such monitor).
    fn monitor_owner(&self, _id: &str) -> Option<String> {
        None
    }

    /// Checks an extension's secret for the console's sign-in from `source`,
    /// under the same locks as SIP digest. `Ok(None)` for every refusal alike.
    fn sign_in(
        &self,
        _extension: &str,
        _secret: &str,
        _source: std::net::IpAddr,
    ) -> Answer<Option<SignedIn>> {
        Box::pin(async { Ok(None) })
    }

    /// Every lock against guessing in force (digest and PIN).
    fn lockouts(&self) -> Answer<Vec<model::Lockout>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Lifts the lock named `id` on `by`'s say-so; Ok(false): none in force.
    fn lift_lockout(&self, _id: &str, _by: &str) -> Answer<bool> {
        Box::pin(async { Ok(false) })
    }
}

/// A monitor started toward a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserMonitor {
    pub id: String,
    /// The SDP answer for the browser's `RTCPeerConnection.setRemoteDescription`.
    pub answer: String,
}

/// An extension whose secret checked out at the console's sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub extension: String,
    pub name: Option<String>,
    /// It holds a supervisor grant (only supervisors may use the console this way).
    pub supervisor: bool,
}

/// The pending answer of a question to the switch; Err says why it could not answer.
pub type Answer<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>;

/// Why a change to a conference member was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfRefused {
    /// No such room, or the channel is not in it.
    NotFound(String),
    /// A field out of range: the field and why.
    Bad(&'static str, String),
}

/// The pending answer of a monitor request.
pub type Pending<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, MonitorFailure>> + Send>>;

/// The pending answer of [`LiveView::monitor_start`]: the monitor's id.
pub type MonitorStart = Pending<String>;
