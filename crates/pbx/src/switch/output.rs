//! What the switch asks its shell to do, polled out after every input: SIP to send,
//! media to steer, store writes, events, channel tasks to start and what to tell
//! them, and the live-channel table it publishes.
//!
//! The switch itself does no I/O: tests poll these and check them.

use std::net::SocketAddr;

use media::codec::AudioCodec;
use media::mix::SpyMode;
use media::rtp::PayloadTypes;
use media::Side;

use super::call::CallId;
use crate::chan::{CallerInfo, ChanEvent};
use crate::events::Event;
use crate::monitor::MonitorId;
use crate::LoadedPlan;

/// A media bridge as the switch knows it: an id the shell maps to the real bridge,
/// and the PBX's RTP port of each side (for our SDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeId(pub u64);

/// A bridge just opened: its id and the RTP ports of sides A and B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedBridge {
    pub id: BridgeId,
    pub ports: [u16; 2],
}

impl OpenedBridge {
    pub fn port(&self, side: Side) -> u16 {
        match side {
            Side::A => self.ports[0],
            Side::B => self.ports[1],
        }
    }
}

/// Why no bridge could be opened (no free RTP ports, no media thread).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MediaUnavailable(pub String);

/// Where bridges come from. Opening one binds sockets, but synchronously and
/// quickly, and the switch needs the ports at once for its SDP; so this is the one
/// call the switch makes out, instead of an output. Everything else done to a
/// bridge is a [`MediaOp`] output.
pub trait MediaPorts: Send {
    fn open(&mut self) -> Result<OpenedBridge, MediaUnavailable>;
}

/// A change to one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOp {
    /// Where that side's phone receives RTP (and RTCP; None: RTP port + 1), and
    /// the payload types its SDP lists. Sent once the phone also has our SDP (the
    /// offer/answer on that leg is complete): the bridge latches nothing on a leg
    /// before this, so a stranger spraying our ports while it rings gets nowhere.
    SetRemote {
        side: Side,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        payload_types: PayloadTypes,
    },
    /// That side's phone speaks SRTP with these keys (None: plain RTP). Sent with
    /// every `SetRemote`; the relay keeps its crypto state when the keys repeat.
    SetSrtp {
        side: Side,
        keys: Option<media::SrtpKeys>,
    },
    /// The codec that side's phone uses and its telephone-event payload type.
    SetCodec {
        side: Side,
        codec: AudioCodec,
        dtmf_pt: Option<u8>,
    },
    /// That side's phone left while the call goes on (a supervisor took it over):
    /// send it nothing, hear nothing from it.
    Release { side: Side },
    /// That side's phone hears this music-on-hold class in place of its peer (the
    /// peer holds it); None: the peer resumed.
    HoldMusic { side: Side, class: Option<String> },
    /// The call is over: stop relaying and free the ports.
    Close,
}

/// A channel task to start.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub call: CallId,
    pub bridge: BridgeId,
    /// The channel the task speaks for.
    pub channel: String,
    pub kind: SpawnKind,
}

#[derive(Debug, Clone)]
pub enum SpawnKind {
    /// Run the dialplan for a new call from a phone or trunk.
    Dialplan {
        caller: CallerInfo,
        dialled: String,
        plan: LoadedPlan,
    },
    /// Click-to-spy: ring the supervisor, then spy on `target` in `mode`.
    ClickToSpy {
        monitor: MonitorId,
        supervisor: String,
        target: String,
        mode: SpyMode,
        /// Where the session goes when the call is transferred.
        follow: model::Follow,
        /// The supervisor's channel when its leg is already answered (a browser's
        /// WebRTC leg): nothing to ring.
        answered: Option<String>,
    },
}

/// A live channel as the switch publishes it (ChanSpy's and the API's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// `SIP/110-0000001a`.
    pub name: String,
    /// The public id (the API's) of the call the channel belongs to.
    pub call_ref: String,
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The number the party is known by: a caller's caller ID (a trunk caller's
    /// own number), a callee's extension.
    pub number: String,
    pub bridge: BridgeId,
    /// The bridge side that faces this channel's phone.
    pub side: Side,
    /// Caller (the phone that started the call) or callee.
    pub role: Role,
    /// `SPYGROUP` as the dialplan set it (colon-separated).
    pub spygroup: String,
    /// For the callee of a call from a trunk: that trunk (its inbound rules give
    /// the channel groups; see `permit::channel_groups`).
    pub inbound: Option<String>,
    /// For an agent's channel: the queue whose call it answered (a supervisor
    /// granted that queue may monitor it).
    pub queue: Option<String>,
    pub bridged_to: Option<String>,
    /// True while the channel runs ChanSpy: it is never spied on.
    pub in_chanspy: bool,
    /// The channel it monitors right now, and how.
    pub spying_on: Option<SpyingOn>,
    /// Wall-clock start, epoch milliseconds.
    pub started_ms: u64,
    /// A trunk's channel (the outside party).
    pub trunk: bool,
}

/// What a supervisor's channel monitors: the roster entry of the spied call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpyingOn {
    /// The spied channel.
    pub target: String,
    pub mode: SpyMode,
    /// The audit session (`spygroup audit list`).
    pub session: String,
    /// When the session started, and when it entered `mode`, epoch milliseconds.
    pub since_ms: u64,
    pub mode_since_ms: u64,
}

impl ChannelInfo {
    /// A party's channel as it comes up: no groups, queue or peer yet, not spying.
    #[allow(clippy::too_many_arguments)]
    pub fn party(
        name: String,
        call_ref: String,
        endpoint: String,
        number: String,
        bridge: BridgeId,
        side: Side,
        role: Role,
        started_ms: u64,
    ) -> ChannelInfo {
        ChannelInfo {
            name,
            call_ref,
            endpoint,
            number,
            bridge,
            side,
            role,
            spygroup: String::new(),
            inbound: None,
            queue: None,
            bridged_to: None,
            in_chanspy: false,
            spying_on: None,
            started_ms,
            trunk: false,
        }
    }

    /// The channel's groups, as ChanSpy's `g()` and permissions compare them (see
    /// `permit::channel_groups`), by the configuration as it is now.
    pub fn groups(&self, config: &store::ConfigSnapshot) -> Vec<String> {
        crate::permit::channel_groups(
            config,
            &self.spygroup,
            &self.endpoint,
            self.inbound.as_deref(),
        )
    }

    /// Every group of the channel, sorted, colon-separated (as `SPYGROUP` reads).
    pub fn all_groups(&self, config: &store::ConfigSnapshot) -> String {
        let mut all = self.groups(config);
        all.sort_unstable();
        all.dedup();
        all.join(":")
    }
}

/// Whether a channel placed its call or was called (the one type the API shows).
pub use model::Role;

/// One thing for the shell to do.
#[derive(Debug)]
pub enum Output {
    /// Send a SIP message.
    Transmit(sip::transaction::Transmit),
    Media {
        bridge: BridgeId,
        op: MediaOp,
    },
    /// Queue a database write (write-behind; nothing waits for it).
    Store(store::Write),
    Event(Event),
    Spawn(Spawn),
    /// Tell a call's channel task something.
    Chan {
        call: CallId,
        event: ChanEvent,
    },
    /// The call is over: its channel task will get nothing more.
    Forget(CallId),
    /// A live channel appeared or changed.
    Channel(ChannelInfo),
    /// A live channel ended.
    ChannelGone(String),
    /// Reload the configuration now and then call `Switch::config_refreshed`:
    /// a request named a user the current snapshot does not know.
    RefreshConfig,
    /// The call-center floor changed: its view for the API and the dialplan.
    QueueFloor(model::QueueFloor),
}
