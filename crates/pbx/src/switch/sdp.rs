//! Our SDP on each leg and what a phone's SDP tells the media bridge: where to send
//! RTP, which codec the phone uses.

use media::sdp::{self, Direction};
use media::Side;

use super::call::{CallId, LegSide};
use super::output::{BridgeId, MediaOp};
use super::Switch;

impl Switch {
    /// Our SDP towards the caller (leg A).
    pub(super) fn a_sdp(&mut self, id: CallId, bump: bool, direction: Direction) -> Vec<u8> {
        self.leg_sdp(id, LegSide::A, bump, direction)
    }

    /// Our SDP for one leg: the PBX's media address and that leg's port, the call's
    /// codecs, `direction`; `bump` for a new version (re-offers).
    pub(super) fn leg_sdp(
        &mut self,
        id: CallId,
        side: LegSide,
        bump: bool,
        direction: Direction,
    ) -> Vec<u8> {
        let media_ip = self.cfg.media_ip;
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        let port = call.bridge.map_or(0, |b| b.port(bridge_side(side)));
        let origin = match side {
            LegSide::A => &mut call.a_origin,
            LegSide::B => &mut call.b_origin,
        };
        sdp::build_sdp(
            origin,
            bump,
            media_ip,
            port,
            &call.codecs,
            call.dtmf.as_ref(),
            direction,
            call.ptime,
        )
    }

    /// Points one side of a call's bridge at the address a phone's SDP gives.
    pub(super) fn set_remote(
        &mut self,
        bridge: BridgeId,
        side: Side,
        desc: &sdp::AudioDescription,
    ) {
        self.media_op(
            bridge,
            MediaOp::SetRemote {
                side,
                rtp: rtp_addr(desc),
                rtcp: Some(rtcp_addr(desc)),
            },
        );
    }

    /// Tells the bridge which codec a leg's phone uses, so the decode path (prompts,
    /// mixing) encodes what that phone negotiated.
    pub(super) fn set_codec(
        &mut self,
        bridge: BridgeId,
        side: Side,
        codecs: &[sdp::Codec],
        dtmf: Option<&sdp::Codec>,
    ) {
        let codec = codecs
            .iter()
            .find_map(|c| media::codec::AudioCodec::from_payload_type(c.pt).ok())
            .unwrap_or(media::codec::AudioCodec::Pcmu);
        self.media_op(
            bridge,
            MediaOp::SetCodec {
                side,
                codec,
                dtmf_pt: dtmf.map(|d| d.pt),
            },
        );
    }
}

pub(super) fn bridge_side(side: LegSide) -> Side {
    match side {
        LegSide::A => Side::A,
        LegSide::B => Side::B,
    }
}

fn rtp_addr(desc: &sdp::AudioDescription) -> std::net::SocketAddr {
    std::net::SocketAddr::new(desc.addr, desc.port)
}

fn rtcp_addr(desc: &sdp::AudioDescription) -> std::net::SocketAddr {
    let port = desc.rtcp_port.unwrap_or(desc.port.saturating_add(1));
    std::net::SocketAddr::new(desc.addr, port)
}
