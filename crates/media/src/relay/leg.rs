//! What the relay knows about one leg's phone: where to send to it (from its SDP,
//! or latched from where it sends from), whether it is held, and the rewriter that
//! makes everything it receives one RTP stream. Also the fast path's only payload
//! work, converting between the two G.711 laws.

use std::net::SocketAddr;

use crate::codec::AudioCodec;
use crate::hooked::SideProc;
use crate::rtp::{RtpHeader, StreamRewriter};

/// RTP clock of G.711, the only codecs relayed so far.
const CLOCK_RATE: u32 = 8000;

pub(super) struct Leg {
    pub sdp_rtp: Option<SocketAddr>,
    pub sdp_rtcp: Option<SocketAddr>,
    pub latched_rtp: Option<SocketAddr>,
    pub latched_rtcp: Option<SocketAddr>,
    pub held: bool,
    /// Rewrites everything sent *to* this leg's phone.
    pub out: StreamRewriter,
}

impl Leg {
    pub fn new() -> Leg {
        Leg {
            sdp_rtp: None,
            sdp_rtcp: None,
            latched_rtp: None,
            latched_rtcp: None,
            held: false,
            out: StreamRewriter::new(CLOCK_RATE),
        }
    }

    /// Takes the addresses of the phone's SDP and forgets what was latched, so the
    /// next packet from the phone, wherever it comes from, is accepted.
    pub fn set_remote(&mut self, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        self.sdp_rtp = usable(rtp);
        self.sdp_rtcp = match rtcp {
            Some(r) => usable(r),
            None => self.sdp_rtp.and_then(next_port),
        };
        self.latched_rtp = None;
        self.latched_rtcp = None;
    }

    pub fn rtp_dest(&self) -> Option<SocketAddr> {
        self.latched_rtp.or(self.sdp_rtp)
    }

    /// RTCP goes where the phone sends it from; failing that, to the SDP's RTCP
    /// address if the phone's RTP came from where its SDP said (no NAT), else next
    /// to the latched RTP address (the usual NAT guess).
    pub fn rtcp_dest(&self) -> Option<SocketAddr> {
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
