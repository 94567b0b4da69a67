//! The relay of one bridge: packet-by-packet forwarding between the two legs with
//! symmetric RTP latching (comedia) and per-leg stream rewriting.
//!
//! Hot path per packet: the media thread reads it (`recvmmsg`) into its buffer, then a
//! header check, the in-place rewrite and one non-blocking `send_to`. Nothing
//! allocates.

use crate::bridge::{bump, store_addr, Counters, Shared, Side};
use crate::codec::AudioCodec;
use crate::hooked::{PlayEnd, Player, Processing, SpyLink};
use crate::mix::{SpyMode, SupervisorId, VolumeStep};
use crate::rtp::{looks_like_rtcp, rtcp, RtpHeader, StreamRewriter};
use crate::tone::FrameSource;
use mio::net::UdpSocket;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// RTP clock of G.711, the only codecs relayed so far.
const CLOCK_RATE: u32 = 8000;

#[derive(Debug)]
pub(crate) struct LegSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

impl LegSockets {
    pub(crate) fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

pub(crate) enum Control {
    SetRemote {
        side: Side,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
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
        tx: Option<crate::hooked::FrameSender>,
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

/// What the relay knows about one leg's phone.
struct Leg {
    sdp_rtp: Option<SocketAddr>,
    sdp_rtcp: Option<SocketAddr>,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    held: bool,
    /// Rewrites everything sent *to* this leg's phone.
    out: StreamRewriter,
}

impl Leg {
    fn new() -> Leg {
        Leg {
            sdp_rtp: None,
            sdp_rtcp: None,
            latched_rtp: None,
            latched_rtcp: None,
            held: false,
            out: StreamRewriter::new(CLOCK_RATE),
        }
    }

    fn rtp_dest(&self) -> Option<SocketAddr> {
        self.latched_rtp.or(self.sdp_rtp)
    }

    /// RTCP goes where the phone sends it from; failing that, to the SDP's RTCP
    /// address if the phone's RTP came from where its SDP said (no NAT), else next
    /// to the latched RTP address (the usual NAT guess).
    fn rtcp_dest(&self) -> Option<SocketAddr> {
        if let Some(a) = self.latched_rtcp {
            return Some(a);
        }
        match self.latched_rtp {
            Some(l) if Some(l) != self.sdp_rtp => next_port(l),
            _ => self.sdp_rtcp,
        }
    }
}

fn next_port(a: SocketAddr) -> Option<SocketAddr> {
    a.port().checked_add(1).map(|p| SocketAddr::new(a.ip(), p))
}

/// An address we may send to: not 0.0.0.0 / :: (hold) and not port 0 (disabled).
fn usable(a: SocketAddr) -> Option<SocketAddr> {
    (!a.ip().is_unspecified() && a.port() != 0).then_some(a)
}

/// One bridge's relay: the two legs' addresses and rewriters, and the decode path.
/// Plain state fed datagrams, controls and ticks; `worker` owns the I/O.
pub(crate) struct Relay {
    legs: [Leg; 2],
    shared: Arc<Shared>,
    /// The decode -> mix -> encode path: `active()` says whether it runs (and takes
    /// a copy of every packet), `generates()` which phones get its output instead
    /// of the other phone's packets.
    proc: Processing,
}

impl Relay {
    pub(crate) fn new(shared: Arc<Shared>) -> Relay {
        Relay {
            legs: [Leg::new(), Leg::new()],
            shared,
            proc: Processing::new(),
        }
    }

    /// True while the decode path needs its 20 ms clock; false lets the bridge
    /// go back to forwarding packets untouched.
    pub(crate) fn needs_clock(&self) -> bool {
        self.proc.active()
    }

    /// The bridge is closing: whoever waits for a prompt to end hears that it stopped.
    pub(crate) fn shutdown(&mut self) {
        for side in &mut self.proc.sides {
            if let Some(p) = side.player.take() {
                p.end(PlayEnd::Stopped);
            }
        }
    }

    pub(crate) fn apply(&mut self, c: Control) {
        match c {
            Control::SetRemote { side, rtp, rtcp } => {
                let leg = &mut self.legs[side.index()];
                leg.sdp_rtp = usable(rtp);
                leg.sdp_rtcp = match rtcp {
                    Some(r) => usable(r),
                    None => leg.sdp_rtp.and_then(next_port),
                };
                leg.latched_rtp = None;
                leg.latched_rtcp = None;
                let c = &self.shared[side.index()];
                store_addr(&c.latched_rtp, None);
                store_addr(&c.latched_rtcp, None);
            }
            Control::SetHold { side, held } => self.legs[side.index()].held = held,
            Control::SetCodec {
                side,
                codec,
                dtmf_pt,
            } => {
                let p = &mut self.proc.sides[side.index()];
                p.codec = codec;
                p.dtmf_pt = dtmf_pt;
                p.negotiated = true;
            }
            Control::SetLocal { side, local } => self.proc.sides[side.index()].local = local,
            Control::Play { side, source, done } => {
                let p = &mut self.proc.sides[side.index()];
                if let Some(old) = p.player.take() {
                    old.end(PlayEnd::Stopped);
                }
                p.player = Some(Player {
                    source,
                    done: Some(done),
                });
            }
            Control::StopPlay { side } => {
                if let Some(old) = self.proc.sides[side.index()].player.take() {
                    old.end(PlayEnd::Stopped);
                }
            }
            Control::DtmfTo { side, tx } => self.proc.sides[side.index()].dtmf = Some(tx),
            Control::TalkTo { side, tx } => self.proc.sides[side.index()].talk = tx,
            Control::AttachSpy {
                target,
                mode,
                volume,
                one_way,
                reply,
            } => {
                let link = self.proc.attach(target, mode, volume, one_way);
                let _ = reply.send(link);
            }
            Control::SpyMode { id, mode } => {
                let _ = self.proc.mixer.set_mode(id, mode);
            }
            Control::SpyVolume { id, volume } => {
                let _ = self.proc.mixer.set_volume(id, volume);
            }
            Control::DetachSpy { id } => self.proc.detach(id),
        }
    }

    /// A datagram on `from`'s RTP port.
    pub(crate) fn on_rtp(
        &mut self,
        from: Side,
        pkt: &mut [u8],
        src: SocketAddr,
        sockets: &[LegSockets; 2],
    ) {
        if looks_like_rtcp(pkt) {
            // RFC 5761 multiplexing: a phone that muxes sends RTCP here.
            return self.on_rtcp(from, pkt, src, sockets);
        }
        let c = &self.shared[from.index()];
        // Parsed once; everything below reads this header.
        let Ok(header) = RtpHeader::parse(pkt) else {
            return bump(&c.dropped_bad, 1);
        };
        let leg = &mut self.legs[from.index()];
        match leg.latched_rtp {
            None => {
                leg.latched_rtp = Some(src);
                store_addr(&c.latched_rtp, Some(src));
                tracing::debug!(?from, %src, "RTP latched");
            }
            Some(l) if l != src => return bump(&c.dropped_foreign, 1),
            Some(_) => {}
        }
        bump(&c.packets_in, 1);
        bump(&c.bytes_in, pkt.len());

        // DTMF from this phone is always seen (the dialplan may be waiting for it);
        // it is still forwarded on the fast path so the far end gets it too.
        let now = Instant::now();
        let is_event = {
            let p = &self.proc.sides[from.index()];
            p.dtmf_pt == Some(header.payload_type)
        };
        if is_event {
            let side = &mut self.proc.sides[from.index()];
            let local = side.local;
            let ended = match side.dtmf_pt {
                Some(pt) => side.on_telephone_event(pkt, pt, now),
                None => Vec::new(),
            };
            // While the other phone's stream is ours, replay the digit there (an
            // IVR behind a whispered-to call still gets it).
            if self.proc.active() && self.proc.generates(from.other()) && !local {
                for (digit, ms) in ended {
                    self.proc.sides[from.other().index()].queue_dtmf(digit, ms);
                }
            }
        }
        // On the decode path the packet waits in the jitter buffer for the next
        // tick; it is also forwarded unless the PBX makes the other phone's stream.
        let to = from.other();
        if self.proc.active() {
            if !is_event {
                let end = (header.payload_offset + header.payload_len).min(pkt.len());
                let rtp = crate::jitter::RtpIn {
                    ssrc: header.ssrc,
                    seq: header.sequence,
                    timestamp: header.timestamp,
                    payload_type: header.payload_type,
                    payload: &pkt[header.payload_offset..end],
                };
                self.proc.sides[from.index()].jitter.push(rtp, now);
            }
            if self.proc.generates(to) {
                return;
            }
        }

        let out = &mut self.legs[to.index()];
        let oc = &self.shared[to.index()];
        if out.held {
            return bump(&oc.dropped_held, 1);
        }
        let Some(dest) = out.rtp_dest() else {
            return bump(&oc.dropped_no_destination, 1);
        };
        transcode_for(
            &self.proc.sides[from.index()],
            &self.proc.sides[to.index()],
            &header,
            pkt,
        );
        if out.out.rewrite(pkt, now).is_err() {
            return bump(&c.dropped_bad, 1);
        }
        send(&sockets[to.index()].rtp, pkt, dest, oc, true);
    }

    /// One 20 ms tick of the decode path: mix, encode, send to both phones.
    pub(crate) fn on_tick(&mut self, sockets: &[LegSockets; 2], now: Instant) {
        let out = self.proc.tick(now);
        let mut buf = [0u8; 12 + crate::frame::SAMPLES_8K];
        for (i, hears) in out.hears.iter().enumerate() {
            // None: this phone's packets are forwarded as they arrive.
            let Some(hears) = hears else { continue };
            let leg = &mut self.legs[i];
            let c = &self.shared[i];
            if leg.held {
                continue;
            }
            let Some(dest) = leg.rtp_dest() else {
                continue;
            };
            let n = match self.proc.sides[i].packetize_dtmf(&mut buf) {
                Some(n) => n,
                None => self.proc.sides[i].packetize(hears, &mut buf),
            };
            if n == 0 || leg.out.rewrite(&mut buf[..n], now).is_err() {
                continue;
            }
            send(&sockets[i].rtp, &buf[..n], dest, c, true);
        }
    }

    /// A datagram on `from`'s RTCP port (or RTCP muxed onto its RTP port).
    pub(crate) fn on_rtcp(
        &mut self,
        from: Side,
        pkt: &mut [u8],
        src: SocketAddr,
        sockets: &[LegSockets; 2],
    ) {
        let c = &self.shared[from.index()];
        if rtcp::validate(pkt).is_err() {
            return bump(&c.dropped_bad, 1);
        }
        let leg = &mut self.legs[from.index()];
        match leg.latched_rtcp {
            None => {
                leg.latched_rtcp = Some(src);
                store_addr(&c.latched_rtcp, Some(src));
            }
            Some(l) if l != src => return bump(&c.dropped_foreign, 1),
            Some(_) => {}
        }
        bump(&c.rtcp_in, 1);

        let to = from.other();
        let out = &self.legs[to.index()];
        let oc = &self.shared[to.index()];
        if out.held {
            return bump(&oc.dropped_held, 1);
        }
        let Some(dest) = out.rtcp_dest() else {
            return bump(&oc.dropped_no_destination, 1);
        };
        if rtcp::rewrite_sender_ssrc(pkt, out.out.ssrc()).is_err() {
            return bump(&c.dropped_bad, 1);
        }
        send(&sockets[to.index()].rtcp, pkt, dest, oc, false);
    }
}

/// The fast path's only payload work: when the two phones negotiated different
/// G.711 laws (or telephone-event payload types), a packet is converted in place by
/// table look-up, so neither phone needs to support the other's codec.
fn transcode_for(
    from: &crate::hooked::SideProc,
    to: &crate::hooked::SideProc,
    header: &RtpHeader,
    pkt: &mut [u8],
) {
    if !from.negotiated || !to.negotiated {
        return;
    }
    let pt = header.payload_type;
    if from.dtmf_pt == Some(pt) {
        if let Some(out) = to.dtmf_pt.filter(|&o| o != pt) {
            pkt[1] = (pkt[1] & 0x80) | out;
        }
        return;
    }
    let Ok(codec) = AudioCodec::from_payload_type(pt) else {
        return;
    };
    if codec == to.codec {
        return;
    }
    let end = (header.payload_offset + header.payload_len).min(pkt.len());
    crate::codec::transcode_in_place(codec, to.codec, &mut pkt[header.payload_offset..end]);
    pkt[1] = (pkt[1] & 0x80) | to.codec.payload_type();
}

/// Non-blocking send: a relay that waited for a full socket buffer would delay
/// every other packet of the call, so such a packet is dropped and counted.
fn send(socket: &UdpSocket, pkt: &[u8], dest: SocketAddr, c: &Counters, is_rtp: bool) {
    match socket.send_to(pkt, dest) {
        Ok(_) if is_rtp => {
            bump(&c.packets_out, 1);
            bump(&c.bytes_out, pkt.len());
        }
        Ok(_) => bump(&c.rtcp_out, 1),
        Err(_) => bump(&c.send_errors, 1),
    }
}
