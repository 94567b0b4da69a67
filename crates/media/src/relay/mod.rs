//! The relay of one bridge: packet-by-packet forwarding between the two legs with
//! symmetric RTP latching (comedia) and per-leg stream rewriting, and the decode path
//! (`hooked`) it drives on the 20 ms clock.
//!
//! A sans-I/O core, in the manner of quinn-proto and str0m: it owns no socket and
//! reads no clock. Its inputs are datagrams, controls and ticks, each with the time
//! (`now`) read by the caller; its outputs are `Transmit`s (which socket, which
//! destination) that the caller sends. So the worker can read the clock once per
//! batch of datagrams rather than once per packet, and tests drive a relay in
//! virtual time without sockets (`tests.rs`).
//!
//! Latching (who counts as a leg's phone, `leg.rs`): RTP ports are public the
//! moment a leg's SDP is sent, and anyone can send to them. So nothing latches
//! before the leg's SDP is known (while a callee rings, on the PBX's own side of a
//! call it placed); then the address the SDP names (IP and port) is the phone, and
//! only when that address may be behind a NAT (not loopback, not this host) is the
//! first source carrying a payload type the SDP lists taken for the phone, with
//! its SSRC, until the SDP's own address shows up and takes the leg back. Anything
//! else is dropped and counted (`dropped_foreign`); a new SDP (re-INVITE) re-arms
//! the same rules. RTCP follows the same rule (`Leg::admit_rtcp`).
//!
//! Hot path per packet: a header check, the in-place rewrite in the caller's receive
//! buffer, and a `Transmit` returned by value. Nothing allocates and nothing is
//! copied; the caller sends its own buffer (see `transmit.rs`).

mod leg;
#[cfg(test)]
mod tests;
mod transmit;

pub(crate) use transmit::{Port, Proto, Transmit};

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use crate::control::Control;
use crate::hooked::{PlayEnd, Player, Processing};
use crate::jitter::RtpIn;
use crate::rtp::{looks_like_rtcp, rtcp, RtpHeader};
use crate::side::Side;
use crate::stats::{bump, store_addr, Shared};
use leg::{transcode_for, Admit, Latch, Leg};
use transmit::Generated;

/// One bridge's relay: the two legs' addresses and rewriters, and the decode path.
pub(crate) struct Relay {
    legs: [Leg; 2],
    /// The address the bridge's sockets are bound to (None: all addresses): an SDP
    /// naming it is a phone on this machine, latched by exact address only.
    host: Option<IpAddr>,
    shared: Arc<Shared>,
    /// The decode -> mix -> encode path: `active()` says whether it runs (and takes
    /// a copy of every packet), `generates()` which phones get its output instead
    /// of the other phone's packets.
    proc: Processing,
    /// What the last tick made, until the caller polls it.
    generated: Box<Generated>,
}

/// Counts a packet that goes nowhere.
fn dropped(counter: &AtomicU64) -> Option<Transmit> {
    bump(counter, 1);
    None
}

impl Relay {
    pub(crate) fn new(shared: Arc<Shared>, host: IpAddr) -> Relay {
        Relay {
            legs: [Leg::new(), Leg::new()],
            host: (!host.is_unspecified()).then_some(host),
            shared,
            proc: Processing::new(),
            generated: Box::new(Generated::new()),
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

    /// A command from the bridge's handle. No control needs the time yet; it is
    /// taken like every other input's, so one that comes to need it (a prompt that
    /// starts on the next tick, music on hold) changes no caller.
    pub(crate) fn handle_control(&mut self, _now: Instant, c: Control) {
        match c {
            Control::SetRemote {
                side,
                rtp,
                rtcp,
                payload_types,
            } => {
                self.legs[side.index()].set_remote(rtp, rtcp, payload_types, self.host);
                let c = &self.shared[side.index()];
                store_addr(&c.latched_rtp, None);
                store_addr(&c.latched_rtcp, None);
            }
            Control::SetSrtp { side, keys } => self.legs[side.index()].set_srtp(keys),
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
            Control::MixMonitor { monitor } => self.proc.recorders.push(monitor),
            Control::StopMixMonitor { id } => self
                .proc
                .recorders
                .retain(|r| id.is_some_and(|id| r.id != id)),
            Control::Notice { side, sound } => {
                self.proc.sides[side.index()].notice = Some(sound);
            }
            Control::HoldMusic { side, music } => {
                self.proc.sides[side.index()].hold_music = music;
            }
            Control::Release { side } => {
                self.legs[side.index()].held = true;
                self.proc.sides[side.index()].released = true;
            }
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

    /// A datagram of `len` bytes from `src` that arrived (by `now`) on the bridge's
    /// socket `at`, at the start of `buf`. It is rewritten in place (decrypted and
    /// encrypted again for SRTP legs, which changes its length, so `buf` should have
    /// room after it); the answer says where to send how much of `buf`, if anything.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        at: Port,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Option<Transmit> {
        let len = len.min(buf.len());
        match at.proto {
            Proto::Rtp => self.on_rtp(now, at.side, src, buf, len),
            Proto::Rtcp => self.on_rtcp(at.side, src, buf, len),
        }
    }

    /// One 20 ms tick of the decode path: mix and encode what each phone whose
    /// stream the PBX makes hears; the packets wait for `poll_transmit`.
    pub(crate) fn handle_tick(&mut self, now: Instant) {
        let out = self.proc.tick(now);
        for side in Side::BOTH {
            let i = side.index();
            let js = self.proc.sides[i].jitter.stats();
            let c = &self.shared[i];
            c.jitter_late
                .store(js.late, std::sync::atomic::Ordering::Relaxed);
            c.jitter_lost
                .store(js.concealed, std::sync::atomic::Ordering::Relaxed);
            // None: this phone's packets are forwarded as they arrive.
            let Some(hears) = &out.hears[i] else { continue };
            let leg = &mut self.legs[i];
            if leg.held {
                continue;
            }
            let Some(dest) = leg.rtp_dest() else {
                continue;
            };
            let buf = self.generated.buf(side);
            let p = &mut self.proc.sides[i];
            let n = match p.packetize_dtmf(buf) {
                Some(n) => n,
                None => p.packetize(hears, buf),
            };
            if n == 0 || leg.out.rewrite(&mut buf[..n], now).is_err() {
                continue;
            }
            let n = match &mut leg.srtp {
                Some(s) => match s.outbound.protect_rtp(buf, n) {
                    Ok(n) => n,
                    Err(_) => continue,
                },
                None => n,
            };
            self.generated.queue(side, dest, n);
        }
    }

    /// The next packet the decode path made, with where to send it. The caller
    /// drains this after every tick (and may after any input).
    pub(crate) fn poll_transmit(&mut self) -> Option<(Transmit, &[u8])> {
        self.generated.pop()
    }

    /// A datagram on `from`'s RTP port.
    fn on_rtp(
        &mut self,
        now: Instant,
        from: Side,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Option<Transmit> {
        let c = &self.shared[from.index()];
        if self.proc.sides[from.index()].released {
            // That phone left the call (taken over): it is no party any more.
            return dropped(&c.dropped_foreign);
        }
        if looks_like_rtcp(&buf[..len]) {
            // RFC 5761 multiplexing: a phone that muxes sends RTCP here.
            return self.on_rtcp(from, src, buf, len);
        }
        // An SRTP leg's packet that does not authenticate is not its phone's,
        // whatever its source: dropped before it can latch or be heard.
        let len = match &mut self.legs[from.index()].srtp {
            Some(s) => match s.inbound.unprotect_rtp(&mut buf[..len]) {
                Ok(n) => n,
                Err(_) => return dropped(&c.dropped_foreign),
            },
            None => len,
        };
        let pkt = &mut buf[..len];
        // Parsed once; everything below reads this header.
        let Ok(header) = RtpHeader::parse(pkt) else {
            return dropped(&c.dropped_bad);
        };
        let leg = &mut self.legs[from.index()];
        match leg.admit_rtp(src, header.payload_type, header.ssrc, now) {
            Admit::Latched => {}
            Admit::Relatched { was } => {
                store_addr(&c.latched_rtp, Some(src));
                store_addr(&c.latched_rtcp, leg.latched_rtcp);
                let how = if leg.latch == Latch::Sdp(src) {
                    "the SDP's address"
                } else {
                    "a NAT guess"
                };
                tracing::debug!(?from, %src, ?was, how, "RTP latched");
            }
            Admit::Foreign => return dropped(&c.dropped_foreign),
        }
        bump(&c.packets_in, 1);
        bump(&c.bytes_in, pkt.len());

        // DTMF from this phone is always seen (the dialplan may be waiting for it);
        // it is still forwarded on the fast path so the far end gets it too.
        let is_event = self.proc.sides[from.index()].dtmf_pt == Some(header.payload_type);
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
                let rtp = RtpIn {
                    ssrc: header.ssrc,
                    seq: header.sequence,
                    timestamp: header.timestamp,
                    payload_type: header.payload_type,
                    payload: &pkt[header.payload_offset..end],
                };
                self.proc.sides[from.index()].jitter.push(rtp, now);
            }
            if self.proc.generates(to) {
                return None;
            }
        }

        let out = &mut self.legs[to.index()];
        let oc = &self.shared[to.index()];
        if out.held {
            return dropped(&oc.dropped_held);
        }
        let Some(dest) = out.rtp_dest() else {
            return dropped(&oc.dropped_no_destination);
        };
        transcode_for(
            &self.proc.sides[from.index()],
            &self.proc.sides[to.index()],
            &header,
            pkt,
        );
        if out.out.rewrite(pkt, now).is_err() {
            return dropped(&c.dropped_bad);
        }
        let len = match &mut out.srtp {
            Some(s) => match s.outbound.protect_rtp(buf, len) {
                Ok(n) => n,
                Err(_) => return dropped(&c.dropped_bad),
            },
            None => len,
        };
        Some(Transmit {
            via: Port::rtp(to),
            dest,
            len,
        })
    }

    /// A datagram on `from`'s RTCP port (or RTCP muxed onto its RTP port). RTCP is
    /// forwarded with its sender SSRC rewritten; its timing is not looked at.
    fn on_rtcp(
        &mut self,
        from: Side,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Option<Transmit> {
        let c = &self.shared[from.index()];
        if self.proc.sides[from.index()].released {
            return dropped(&c.dropped_foreign);
        }
        let len = match &mut self.legs[from.index()].srtp {
            Some(s) => match s.inbound.unprotect_rtcp(&mut buf[..len]) {
                Ok(n) => n,
                Err(_) => return dropped(&c.dropped_foreign),
            },
            None => len,
        };
        let pkt = &mut buf[..len];
        if rtcp::validate(pkt).is_err() {
            return dropped(&c.dropped_bad);
        }
        match self.legs[from.index()].admit_rtcp(src) {
            Some(true) => store_addr(&c.latched_rtcp, Some(src)),
            Some(false) => {}
            None => return dropped(&c.dropped_foreign),
        }
        bump(&c.rtcp_in, 1);

        let to = from.other();
        let out = &mut self.legs[to.index()];
        let oc = &self.shared[to.index()];
        if out.held {
            return dropped(&oc.dropped_held);
        }
        let Some(dest) = out.rtcp_dest() else {
            return dropped(&oc.dropped_no_destination);
        };
        if rtcp::rewrite_sender_ssrc(pkt, out.out.ssrc()).is_err() {
            return dropped(&c.dropped_bad);
        }
        let len = match &mut out.srtp {
            Some(s) => match s.outbound.protect_rtcp(buf, len) {
                Ok(n) => n,
                Err(_) => return dropped(&c.dropped_bad),
            },
            None => len,
        };
        Some(Transmit {
            via: Port::rtcp(to),
            dest,
            len,
        })
    }
}
