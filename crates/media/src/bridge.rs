//! The handle the PBX holds for one call's media: two legs, relayed by a media thread.

use crate::codec::AudioCodec;
use crate::hooked::{PlayEnd, SpyLink};
use crate::mix::{SpyMode, SupervisorId, VolumeStep};
use crate::ports::PortLease;
use crate::relay::{Control, LegSockets};
use crate::tone::FrameSource;
use crate::worker::{next_bridge_id, BridgeId, Msg, WorkerHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A call leg: A faces the caller, B the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Counters for one leg. "in" is what that leg's phone sent us, "out" what we
/// sent to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    /// Received datagrams that were not valid RTP/RTCP (or late beyond repair).
    pub dropped_bad: u64,
    /// Valid packets from an address other than the latched one (RTP bleed).
    pub dropped_foreign: u64,
    /// Packets for this leg that had nowhere to go (no SDP, nothing latched).
    pub dropped_no_destination: u64,
    /// Packets for this leg withheld because it is on hold (`set_hold`).
    pub dropped_held: u64,
    /// Sends that the OS refused (e.g. socket buffer full).
    pub send_errors: u64,
    pub latched_rtp: Option<SocketAddr>,
    pub latched_rtcp: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeStats {
    pub a: SideStats,
    pub b: SideStats,
}

impl BridgeStats {
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

/// Live counters shared between the media thread and the handle. Counters are
/// relaxed atomics (cheap on the hot path); latched addresses change rarely and sit
/// behind a mutex.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub rtcp_in: AtomicU64,
    pub rtcp_out: AtomicU64,
    pub dropped_bad: AtomicU64,
    pub dropped_foreign: AtomicU64,
    pub dropped_no_destination: AtomicU64,
    pub dropped_held: AtomicU64,
    pub send_errors: AtomicU64,
    pub latched_rtp: Mutex<Option<SocketAddr>>,
    pub latched_rtcp: Mutex<Option<SocketAddr>>,
}

pub(crate) fn bump(counter: &AtomicU64, by: usize) {
    counter.fetch_add(by as u64, Ordering::Relaxed);
}

pub(crate) fn store_addr(slot: &Mutex<Option<SocketAddr>>, addr: Option<SocketAddr>) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = addr;
}

impl Counters {
    fn snapshot(&self) -> SideStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let addr = |m: &Mutex<Option<SocketAddr>>| *m.lock().unwrap_or_else(|e| e.into_inner());
        SideStats {
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            rtcp_in: get(&self.rtcp_in),
            rtcp_out: get(&self.rtcp_out),
            dropped_bad: get(&self.dropped_bad),
            dropped_foreign: get(&self.dropped_foreign),
            dropped_no_destination: get(&self.dropped_no_destination),
            dropped_held: get(&self.dropped_held),
            send_errors: get(&self.send_errors),
            latched_rtp: addr(&self.latched_rtp),
            latched_rtcp: addr(&self.latched_rtcp),
        }
    }
}

pub(crate) type Shared = [Counters; 2];

/// One call's media anchor. Dropping it (or `close`) stops the relay and frees
/// the ports; `close` also waits until they are free.
#[derive(Debug)]
pub struct MediaBridge {
    ports: [u16; 2],
    control: BridgeControl,
    shared: Arc<Shared>,
    /// `close` already told the media thread; dropping need not say it again.
    close_sent: bool,
}

impl MediaBridge {
    /// Hands the sockets to a media thread, which relays from then on.
    pub(crate) fn start(
        worker: WorkerHandle,
        legs: [LegSockets; 2],
        lease: PortLease,
    ) -> MediaBridge {
        let ports = [legs[0].rtp_port(), legs[1].rtp_port()];
        let shared = Arc::new(Shared::default());
        let closed = Arc::new(AtomicBool::new(false));
        let id = next_bridge_id();
        if !worker.open(Msg::Open {
            id,
            sockets: legs,
            lease,
            shared: shared.clone(),
            closed: closed.clone(),
        }) {
            closed.store(true, Ordering::Release);
        }
        MediaBridge {
            ports,
            control: BridgeControl { worker, id, closed },
            shared,
            close_sent: false,
        }
    }

    /// The PBX's RTP port for that leg (RTCP is the next port), to put in that
    /// leg's SDP.
    pub fn port(&self, side: Side) -> u16 {
        self.ports[side.index()]
    }

    /// Where that leg's phone said (in its SDP) it receives RTP and RTCP; `rtcp`
    /// None means RTP port + 1. Also re-arms latching, so after a re-INVITE the
    /// next packet from the phone, wherever it comes from, is accepted and becomes
    /// the new destination. An address of 0.0.0.0 or port 0 (hold, disabled
    /// stream) means "send nothing until the phone sends to us".
    pub fn set_remote(&self, side: Side, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        self.control.send(Control::SetRemote { side, rtp, rtcp });
    }

    /// While a leg is held nothing is sent to its phone (whatever the other side
    /// sends is counted in `dropped_held`); what the held phone sends is still
    /// relayed. Music on hold will later be injected here.
    pub fn set_hold(&self, side: Side, held: bool) {
        self.control.send(Control::SetHold { side, held });
    }

    /// A handle on this bridge's controls for other tasks.
    pub fn control(&self) -> BridgeControl {
        self.control.clone()
    }

    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            a: self.shared[0].snapshot(),
            b: self.shared[1].snapshot(),
        }
    }

    /// Stops the relay and returns once its sockets are closed and its ports are
    /// back in the pool.
    pub async fn close(mut self) {
        self.close_sent = true;
        let (done, rx) = oneshot::channel();
        let c = &self.control;
        if c.worker.send(Msg::Close(c.id, Some(done))) {
            let _ = rx.await;
        }
    }
}

/// A cloneable handle on a bridge's controls, for tasks other than the owner's (a
/// channel's dialplan playing prompts, a supervisor's ChanSpy attaching a hook).
/// Commands to a closed bridge are ignored.
#[derive(Clone)]
pub struct BridgeControl {
    worker: WorkerHandle,
    id: BridgeId,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for BridgeControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BridgeControl")
    }
}

impl BridgeControl {
    fn send(&self, c: Control) {
        if !self.is_closed() {
            self.worker.send(Msg::Control(self.id, c));
        }
    }

    /// True once the bridge is closed (its call ended).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The codec this leg's phone uses (from the negotiated SDP) and its
    /// telephone-event payload type: what the PBX decodes and encodes for it.
    pub fn set_codec(&self, side: Side, codec: AudioCodec, dtmf_pt: Option<u8>) {
        self.send(Control::SetCodec {
            side,
            codec,
            dtmf_pt,
        });
    }

    /// The PBX terminates this leg (it answered the call itself): keep decoding what
    /// the phone sends (in-band DTMF) and sending it audio (silence when nothing plays).
    pub fn set_local(&self, side: Side, local: bool) {
        self.send(Control::SetLocal { side, local });
    }

    /// Plays a source to this leg's phone, replacing whatever played; the receiver
    /// says how it ended.
    pub fn play(
        &self,
        side: Side,
        source: Box<dyn FrameSource + Send>,
    ) -> oneshot::Receiver<PlayEnd> {
        let (done, rx) = oneshot::channel();
        self.send(Control::Play { side, source, done });
        rx
    }

    pub fn stop_play(&self, side: Side) {
        self.send(Control::StopPlay { side });
    }

    /// DTMF digits this leg's phone sends (RFC 4733, and in-band on a local leg).
    pub fn dtmf(&self, side: Side) -> mpsc::UnboundedReceiver<char> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.send(Control::DtmfTo { side, tx });
        rx
    }

    /// Sends this leg's decoded audio to `tx` every 20 ms (a supervisor's voice to
    /// the spied call); None stops.
    pub fn talk_to(&self, side: Side, tx: Option<crate::hooked::FrameSender>) {
        self.send(Control::TalkTo { side, tx });
    }

    /// Attaches a spy hook on `target` (the spied channel's leg). None if the bridge
    /// is gone.
    pub async fn attach_spy(
        &self,
        target: Side,
        mode: SpyMode,
        volume: VolumeStep,
    ) -> Option<SpyLink> {
        self.attach_spy_tap(target, mode, volume, false).await
    }

    /// As `attach_spy`; `one_way` (ChanSpy's `o`): hear only the spied phone.
    pub async fn attach_spy_tap(
        &self,
        target: Side,
        mode: SpyMode,
        volume: VolumeStep,
        one_way: bool,
    ) -> Option<SpyLink> {
        let (reply, rx) = oneshot::channel();
        self.send(Control::AttachSpy {
            target,
            mode,
            volume,
            one_way,
            reply,
        });
        rx.await.ok()
    }

    /// Switches a spy between listen, whisper and barge without a gap.
    pub fn set_spy_mode(&self, id: SupervisorId, mode: SpyMode) {
        self.send(Control::SpyMode { id, mode });
    }

    pub fn set_spy_volume(&self, id: SupervisorId, volume: VolumeStep) {
        self.send(Control::SpyVolume { id, volume });
    }

    pub fn detach_spy(&self, id: SupervisorId) {
        self.send(Control::DetachSpy { id });
    }
}

impl Drop for MediaBridge {
    fn drop(&mut self) {
        if !self.close_sent {
            let c = &self.control;
            c.worker.send(Msg::Close(c.id, None));
        }
    }
}
