//! What a bridge's handle asks of its relay, and the bridge's name on its media
//! thread.
//!
//! These sit between the handle (`bridge`), the media thread (`worker`) and the relay
//! (`relay`), each of which needs them; kept here, none of the three depends on
//! another to name them, and the relay knows nothing of the threads that carry them.

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use crate::codec::AudioCodec;
use crate::hooked::{FrameSender, PlayEnd, SpyLink};
use crate::mix::{SpyMode, SupervisorId, VolumeStep};
use crate::rtp::PayloadTypes;
use crate::side::Side;
use crate::tone::FrameSource;

/// The SDES keys of one leg (RFC 4568): the phone's, from its SDP, which its
/// packets are decrypted with, and ours, from our SDP, which what we send it is
/// encrypted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub inbound: crate::srtp::SrtpKey,
    pub outbound: crate::srtp::SrtpKey,
}

/// A bridge's name on its worker, unique for the process's life: late controls for
/// a closed bridge are dropped, never applied to a later bridge in the same slot.
pub(crate) type BridgeId = u64;

/// A new, unique bridge id.
pub(crate) fn next_bridge_id() -> BridgeId {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One command to a bridge's relay. Replies (a spy link, how a prompt ended) travel
/// back on the channels the command carries, so the relay never blocks on them.
pub(crate) enum Control {
    SetRemote {
        side: Side,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        payload_types: PayloadTypes,
    },
    /// That side's phone speaks SRTP with these keys (None: plain RTP).
    SetSrtp {
        side: Side,
        keys: Option<SrtpKeys>,
    },
    SetHold {
        side: Side,
        held: bool,
    },
    SetCodec {
        side: Side,
        codec: AudioCodec,
        dtmf_pt: Option<u8>,
    },
    SetLocal {
        side: Side,
        local: bool,
    },
    /// The phone on `side` left for good while the call goes on (a takeover).
    Release {
        side: Side,
    },
    /// Starts recording a channel of the bridge.
    MixMonitor {
        monitor: crate::hooked::MixMonitor,
    },
    /// Stops one MixMonitor (its files are completed), or every one (None).
    StopMixMonitor {
        id: Option<crate::hooked::MixMonitorId>,
    },
    /// A short sound mixed over what the phone on `side` hears (a notice).
    Notice {
        side: Side,
        sound: Box<dyn FrameSource + Send>,
    },
    /// Music the phone on `side` hears instead of its peer while the peer holds
    /// it (None: the peer resumed).
    HoldMusic {
        side: Side,
        music: Option<Box<dyn FrameSource + Send>>,
    },
    Play {
        side: Side,
        source: Box<dyn FrameSource + Send>,
        done: oneshot::Sender<PlayEnd>,
    },
    StopPlay {
        side: Side,
    },
    DtmfTo {
        side: Side,
        tx: mpsc::UnboundedSender<char>,
    },
    TalkTo {
        side: Side,
        tx: Option<FrameSender>,
    },
    AttachSpy {
        target: Side,
        mode: SpyMode,
        volume: VolumeStep,
        one_way: bool,
        reply: oneshot::Sender<SpyLink>,
    },
    SpyMode {
        id: SupervisorId,
        mode: SpyMode,
    },
    SpyVolume {
        id: SupervisorId,
        volume: VolumeStep,
    },
    DetachSpy {
        id: SupervisorId,
    },
}
