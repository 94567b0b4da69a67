//! The handle the PBX holds for one call's media: two legs, relayed by a media thread.
//!
//! The top of the crate with `engine`: a handle only turns calls into `Control`
//! messages for the bridge's media thread and reads the counters that thread keeps.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::codec::AudioCodec;
use crate::control::{next_bridge_id, BridgeId, Control};
use crate::hooked::{FrameSender, PlayEnd, SpyLink};
use crate::mix::{SpyMode, SupervisorId, VolumeStep};
use crate::ports::PortLease;
use crate::rtp::PayloadTypes;
use crate::side::Side;
use crate::stats::{snapshot, BridgeStats, Shared};
use crate::tone::FrameSource;
use crate::worker::{LegSockets, Msg, WorkerHandle};

/// One call's media anchor.
///
/// Dropping it is a complete, synchronous close: the drop marks the bridge closed
/// (its `BridgeControl`s ignore further commands from then on) and queues the close
/// to its media thread, which wakes at once, closes the four sockets and returns the
/// ports to the pool, all within that thread's next loop turn (microseconds; it never
/// waits for a tick or a timeout). A prompt playing on it ends as `Stopped`. So code
/// that cannot await (a synchronous state machine) simply drops the bridge.
/// `close().await` does the same and also waits until the ports are free, for a
/// caller that must reuse them at once (tests, an orderly shutdown).
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
    /// None means RTP port + 1; `payload_types`: those its SDP lists (codecs and
    /// telephone-event).
    ///
    /// Until this is called for a leg, nothing it receives is accepted: a phone's
    /// SDP is what says who it is (a callee that is still ringing has none yet). From
    /// then on the leg latches the SDP's address (IP and port); if the phone may be
    /// behind a NAT (the address is neither loopback nor this host's), it latches
    /// the first source whose packets carry one of `payload_types` instead, until
    /// the SDP's address itself sends. Another call re-arms latching under the same
    /// rules (a re-INVITE may move the phone). An address of 0.0.0.0 or port 0
    /// (hold, disabled stream) means "send nothing", and nothing latches until the
    /// next SDP.
    pub fn set_remote(
        &self,
        side: Side,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        payload_types: PayloadTypes,
    ) {
        self.control.send(Control::SetRemote {
            side,
            rtp,
            rtcp,
            payload_types,
        });
    }

    /// Makes a leg SRTP (or plain again, with None). Keys that did not change keep
    /// the leg's crypto state (rollover counters, replay window), so a re-INVITE
    /// that repeats them costs nothing.
    pub fn set_srtp(&self, side: Side, keys: Option<crate::control::SrtpKeys>) {
        self.control.send(Control::SetSrtp { side, keys });
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
        snapshot(&self.shared)
    }

    /// Stops the relay and returns once its sockets are closed and its ports are
    /// back in the pool.
    pub async fn close(mut self) {
        self.close_sent = true;
        let (done, rx) = oneshot::channel();
        let c = &self.control;
        c.closed.store(true, Ordering::Release);
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

    /// That leg's phone left for good while the call goes on (a supervisor took
    /// the call over): it is sent nothing more, and what it still sends is
    /// dropped, not heard.
    pub fn release(&self, side: Side) {
        self.send(Control::Release { side });
    }

    /// Starts a MixMonitor on this bridge (its files are already open).
    pub fn mix_monitor(&self, monitor: crate::hooked::MixMonitor) {
        self.send(Control::MixMonitor { monitor });
    }

    /// Stops a MixMonitor, or all of them (None); their files are completed.
    pub fn stop_mix_monitor(&self, id: Option<crate::hooked::MixMonitorId>) {
        self.send(Control::StopMixMonitor { id });
    }

    /// Mixes a short sound over what the phone on `side` hears (a monitoring
    /// notice), whatever it hears: its peer, a prompt, music, a whisper.
    pub fn notice(&self, side: Side, sound: Box<dyn FrameSource + Send>) {
        self.send(Control::Notice { side, sound });
    }

    /// Music the phone on `side` hears in place of its peer while the peer holds
    /// it; None when the peer resumes.
    pub fn hold_music(&self, side: Side, music: Option<Box<dyn FrameSource + Send>>) {
        self.send(Control::HoldMusic { side, music });
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
    pub fn talk_to(&self, side: Side, tx: Option<FrameSender>) {
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
    /// See the type's docs: the media thread frees the ports on its next turn.
    fn drop(&mut self) {
        if !self.close_sent {
            let c = &self.control;
            c.closed.store(true, Ordering::Release);
            c.worker.send(Msg::Close(c.id, None));
        }
    }
}
