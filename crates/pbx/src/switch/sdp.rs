//! Our SDP on each leg and what a phone's SDP tells the media bridge: where to send
//! RTP, which codec the phone uses.

use media::sdp::{self, Direction};
use media::Side;

use super::call::{CallId, LegCrypto, LegSide};
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
        let crypto = call.leg(side).and_then(|l| l.crypto.clone());
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
            crypto.as_ref().map_or(sdp::RtpProfile::Avp, |c| c.profile),
            crypto.as_ref().map(|c| &c.ours),
        )
    }

    /// Points one side of a call's bridge at the address a phone's SDP gives, and
    /// arms its latching (`MediaBridge::set_remote`): only once the phone has our
    /// SDP too, see `caller_gets_our_sdp`. With the leg's SRTP (`crypto`, what our
    /// SDP gave it), the phone's key from `desc` goes to the bridge first.
    pub(super) fn set_remote(
        &mut self,
        bridge: BridgeId,
        side: Side,
        desc: &sdp::AudioDescription,
        crypto: Option<&LegCrypto>,
    ) {
        let keys = crypto.and_then(|c| c.keys(desc));
        match (crypto, &keys) {
            (Some(c), Some(_)) => {
                tracing::info!(?bridge, ?side, suite = c.ours.key.suite.name(), profile = %c.profile, "SRTP on this leg");
            }
            (Some(c), None) if c.profile.is_secure() => {
                tracing::warn!(
                    ?bridge,
                    ?side,
                    "the phone's SDP has no key for our SRTP line: its media stays plain"
                );
            }
            _ => {}
        }
        self.media_op(bridge, MediaOp::SetSrtp { side, keys });
        let payload_types = desc.codecs.iter().chain(&desc.dtmf).map(|c| c.pt).collect();
        self.media_op(
            bridge,
            MediaOp::SetRemote {
                side,
                rtp: rtp_addr(desc),
                rtcp: Some(rtcp_addr(desc)),
                payload_types,
            },
        );
    }

    /// The caller's phone is getting our SDP (a 183 or the 200): only now can it
    /// know which port to send to, so only now does the bridge get its offer and
    /// start latching leg A. Told at the INVITE, a bridge would take a stranger
    /// spraying our ports while the call rings (with a plausible payload type) for
    /// a caller behind NAT, and keep it. Once per call (a 200 after a 183 changes
    /// nothing); after a late offer the caller's answer in the ACK does it.
    pub(super) fn caller_gets_our_sdp(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.late_offer || call.early_media {
            return;
        }
        let Some(bridge) = call.bridge.map(|b| b.id) else {
            return;
        };
        // The INVITE's offer, parsed at setup already; a call the PBX placed (no
        // phone on leg A) has none, and its leg A never latches.
        let crypto = call.a.crypto.clone();
        if let Ok(offer) = sdp::parse_audio(&call.invite.body) {
            self.set_remote(bridge, Side::A, &offer, crypto.as_ref());
        }
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
