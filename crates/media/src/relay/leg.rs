//! What the relay knows about one leg's phone: where to send to it (from its SDP,
//! or latched from where it sends from), which sources count as that phone, whether
//! it is held, and the rewriter that makes everything it receives one RTP stream. Also the fast path's only payload
//! work, converting between the two G.711 laws.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::codec::AudioCodec;
use crate::control::SrtpKeys;
use crate::hooked::SideProc;
use crate::rtp::{PayloadTypes, RtpHeader, StreamRewriter};
use crate::srtp::SrtpContext;

/// RTP clock of G.711, the only codecs relayed so far.
const CLOCK_RATE: u32 = 8000;

/// How long the SSRC a NAT guess was made with must have been silent before
/// another SSRC from the same address is taken as the phone's new stream. Five
/// packet times: a phone that restarts its stream (a far-end B2BUA re-bridging)
/// loses about that much, while packets forged with the guessed address, which
/// cannot know the SSRC, are dropped for as long as the phone keeps talking.
pub(super) const SSRC_HANDOVER: Duration = Duration::from_millis(100);

/// Where a leg's RTP is accepted from (and sent to), and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Latch {
    /// Nothing latched yet: we send to the SDP's address, if any.
    None,
    /// The phone sends from the address its SDP names.
    Sdp(SocketAddr),
    /// A NAT guess: the first packet after the SDP was known with a payload type
    /// that SDP lists came from here, with this SSRC, last heard at `last`.
    Guessed {
        addr: SocketAddr,
        ssrc: u32,
        last: Instant,
    },
}

impl Latch {
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Latch::None => None,
            Latch::Sdp(a) | Latch::Guessed { addr: a, .. } => Some(a),
        }
    }
}

/// What `Leg::admit_rtp` decided about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// From the latched source: take it.
    Latched,
    /// It changed the latch (first packet, the SDP's address replacing a guess, a
    /// NAT guess, a new SSRC after a silence): take it; the latch is new.
    Relatched { was: Option<SocketAddr> },
    /// From a stranger (or from anyone while nothing may latch): drop it.
    Foreign,
}

pub(super) struct Leg {
    /// The leg's SDP has been given (`set_remote`): before that nothing latches,
    /// whoever sends. A leg whose SDP never comes (the PBX's own side of a call it
    /// placed, as click-to-spy's) never accepts a packet.
    pub armed: bool,
    pub sdp_rtp: Option<SocketAddr>,
    pub sdp_rtcp: Option<SocketAddr>,
    /// What the SDP lists: the payload types a NAT guess must carry.
    pub sdp_pts: PayloadTypes,
    /// Only the SDP's own address may latch (no NAT guess): see `set_remote`.
    pub exact_only: bool,
    pub latch: Latch,
    pub latched_rtcp: Option<SocketAddr>,
    pub held: bool,
    /// Rewrites everything sent *to* this leg's phone.
    pub out: StreamRewriter,
    /// The leg's SRTP contexts, when its phone speaks SRTP.
    pub srtp: Option<Box<LegSrtp>>,
}

/// An SRTP leg: what it receives is authenticated and decrypted before anything
/// else looks at it (so a forged packet cannot even latch), what it is sent is
/// encrypted last, after the rewrite.
pub(super) struct LegSrtp {
    pub keys: SrtpKeys,
    pub inbound: SrtpContext,
    pub outbound: SrtpContext,
}

impl LegSrtp {
    pub fn new(keys: SrtpKeys) -> LegSrtp {
        LegSrtp {
            inbound: SrtpContext::new(&keys.inbound),
            outbound: SrtpContext::new(&keys.outbound),
            keys,
        }
    }
}

impl Leg {
    pub fn new() -> Leg {
        Leg {
            armed: false,
            sdp_rtp: None,
            sdp_rtcp: None,
            sdp_pts: PayloadTypes::NONE,
            exact_only: true,
            latch: Latch::None,
            latched_rtcp: None,
            held: false,
            out: StreamRewriter::new(CLOCK_RATE),
            srtp: None,
        }
    }

    /// New keys (None: plain RTP). A direction whose key is the same keeps its
    /// context: its rollover counter and replay window must survive a re-INVITE.
    pub fn set_srtp(&mut self, keys: Option<SrtpKeys>) {
        self.srtp = match (self.srtp.take(), keys) {
            (_, None) => None,
            (Some(mut old), Some(keys)) => {
                if old.keys.inbound != keys.inbound {
                    old.inbound = SrtpContext::new(&keys.inbound);
                }
                if old.keys.outbound != keys.outbound {
                    old.outbound = SrtpContext::new(&keys.outbound);
                }
                old.keys = keys;
                Some(old)
            }
            (None, Some(keys)) => Some(Box::new(LegSrtp::new(keys))),
        };
    }

    /// Takes the phone's SDP (its addresses and payload types) and forgets what was
    /// latched, so the phone's next packet latches again under the same rules (after
    /// a re-INVITE the phone may send from elsewhere).
    ///
    /// `host` is the address the PBX's sockets are bound to. An SDP address that is
    /// loopback or `host` is a program on the PBX's own machine: no NAT lies between
    /// it and us, so its packets come from exactly that address, and any other
    /// source there is another local program (or a spoofer), never the phone. Such a
    /// leg latches only the exact address; so does a leg whose SDP has no usable
    /// address (0.0.0.0 or port 0: "send me nothing"), which therefore latches
    /// nothing until its next SDP.
    pub fn set_remote(
        &mut self,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        pts: PayloadTypes,
        host: Option<IpAddr>,
    ) {
        self.armed = true;
        self.sdp_rtp = usable(rtp);
        self.sdp_rtcp = match rtcp {
            Some(r) => usable(r),
            None => self.sdp_rtp.and_then(next_port),
        };
        self.sdp_pts = pts;
        self.exact_only = match self.sdp_rtp {
            None => true,
            Some(a) => {
                let ip = a.ip().to_canonical();
                ip.is_loopback() || host.is_some_and(|h| h.to_canonical() == ip)
            }
        };
        self.latch = Latch::None;
        self.latched_rtcp = None;
    }

    /// Whether an RTP packet from `src` is this leg's phone's, latching it if it
    /// may be:
    /// - the address the SDP names (IP and port: every phone of a test shares
    ///   127.0.0.1) always latches, replacing a NAT guess;
    /// - otherwise, with nothing latched yet and a NAT possible, the first source
    ///   whose packet carries a payload type the SDP lists is the phone behind its
    ///   NAT; that guess keeps the packet's SSRC (see `SSRC_HANDOVER`);
    /// - anything else is foreign: a stranger spraying predictable ports, RTP bleed
    ///   from an ended call, a phone that has left the leg.
    pub fn admit_rtp(&mut self, src: SocketAddr, pt: u8, ssrc: u32, now: Instant) -> Admit {
        match &mut self.latch {
            Latch::Sdp(a) if *a == src => return Admit::Latched,
            Latch::Guessed {
                addr,
                ssrc: kept,
                last,
            } if *addr == src => {
                if *kept == ssrc {
                    *last = now;
                    return Admit::Latched;
                }
                if now.saturating_duration_since(*last) < SSRC_HANDOVER {
                    return Admit::Foreign;
                }
                // The guessed stream fell silent and the same address carries on
                // with another SSRC: the phone restarted its stream.
                *kept = ssrc;
                *last = now;
                return Admit::Relatched { was: Some(src) };
            }
            _ => {}
        }
        if !self.armed {
            return Admit::Foreign;
        }
        let was = self.latch.addr();
        if self.sdp_rtp == Some(src) {
            self.latch = Latch::Sdp(src);
            // An RTCP address latched next to a NAT guess was a guess too.
            self.latched_rtcp = None;
            return Admit::Relatched { was };
        }
        if self.latch == Latch::None && !self.exact_only && self.sdp_pts.contains(pt) {
            self.latch = Latch::Guessed {
                addr: src,
                ssrc,
                last: now,
            };
            return Admit::Relatched { was };
        }
        Admit::Foreign
    }

    /// Whether an RTCP packet from `src` is this leg's phone's, by the same rule as
    /// RTP: the SDP's RTCP address (`a=rtcp` or RTP port + 1) or its RTP address
    /// (RFC 5761 multiplexing), or, once RTP latched, that address or the port next
    /// to it. The first such source latches; after that only it, or the SDP's own
    /// RTCP address (which replaces a guess), is accepted. The bool says whether the
    /// latch changed.
    pub fn admit_rtcp(&mut self, src: SocketAddr) -> Option<bool> {
        if self.latched_rtcp == Some(src) {
            return Some(false);
        }
        if !self.armed {
            return None;
        }
        let sdp = self.sdp_rtcp == Some(src) || self.sdp_rtp == Some(src);
        let by_rtp = self
            .latch
            .addr()
            .is_some_and(|l| l == src || next_port(l) == Some(src));
        if sdp || (by_rtp && self.latched_rtcp.is_none()) {
            self.latched_rtcp = Some(src);
            return Some(true);
        }
        None
    }

    pub fn rtp_dest(&self) -> Option<SocketAddr> {
        self.latch.addr().or(self.sdp_rtp)
    }

    /// RTCP goes where the phone sends it from; failing that, to the SDP's RTCP
    /// address if the phone's RTP came from where its SDP said (no NAT), else next
    /// to the latched RTP address (the usual NAT guess).
    pub fn rtcp_dest(&self) -> Option<SocketAddr> {
        if let Some(a) = self.latched_rtcp {
            return Some(a);
        }
        match self.latch {
            Latch::Guessed { addr, .. } => next_port(addr),
            Latch::Sdp(_) | Latch::None => self.sdp_rtcp,
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

/// When the two phones negotiated different G.711 laws (or telephone-event payload
/// types), a packet is converted in place by table look-up, so neither phone needs
/// to support the other's codec.
pub(super) fn transcode_for(from: &SideProc, to: &SideProc, header: &RtpHeader, pkt: &mut [u8]) {
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
