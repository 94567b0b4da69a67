//! Re-INVITEs the PBX sends: a transfer moved a phone's dialog onto another call's
//! bridge, so that phone is offered the new port (RFC 3261 14: a re-INVITE in its
//! existing dialog, its SDP origin going on with a new version), and its answer
//! points the bridge at the phone. A phone that refuses, or never answers, is hung
//! up: it cannot be heard where it is now.

use std::time::Instant;

use media::sdp::{self, Direction};
use sip::{Message, Method, Response};

use super::call::{CallId, LegSide};
use super::dialog::{contact_target, ContactTarget};
use super::sdp::bridge_side;
use super::{Switch, TxPurpose};

impl Switch {
    /// Offers leg `side` our side of this call's bridge, with both G.711 laws as a
    /// Dial's INVITE does (the relay converts between them).
    pub(super) fn reinvite(&mut self, id: CallId, side: LegSide, now: Instant) {
        let via_host = self.via_host.clone();
        let media_ip = self.cfg.media_ip;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let port = call.bridge.map_or(0, |b| b.port(bridge_side(side)));
        let offer = super::fork::callee_offer(&call.codecs);
        let origin = match side {
            LegSide::A => &mut call.a_origin,
            LegSide::B => &mut call.b_origin,
        };
        let body = sdp::build_sdp(
            origin,
            true,
            media_ip,
            port,
            &offer,
            call.dtmf.as_ref(),
            Direction::SendRecv,
            call.ptime,
            sdp::RtpProfile::Avp,
            None,
        );
        call.reinvite_ack[side.index()] = None;
        let Some(leg) = call.leg_mut(side) else {
            return;
        };
        let peer = leg.dialog.peer;
        let contact = super::contact_for(&via_host, peer.transport);
        let mut invite = leg.dialog.request(Method::Invite, &via_host, &contact);
        invite.headers.push("Content-Type", "application/sdp");
        invite.body = body;
        let ctx = self.layer.send_request(invite, peer, now);
        self.client_txs.insert(ctx, (id, TxPurpose::Reinvite(side)));
    }

    /// The moved phone answered: ACK a 2xx (again, if the 2xx is retransmitted) and
    /// point the bridge at it; a refusal hangs it up.
    pub(super) fn on_reinvite_response(
        &mut self,
        id: CallId,
        side: LegSide,
        resp: Response,
        now: Instant,
    ) {
        if resp.status < 200 {
            return;
        }
        if resp.status >= 300 {
            tracing::warn!(call = %id, ?side, status = resp.status, "the transferred phone refused our re-INVITE: hanging it up");
            return self.drop_moved_leg(id, side, now);
        }
        let via_host = self.via_host.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let bridge = call.bridge.map(|b| b.id);
        let resent = call.reinvite_ack[side.index()].clone();
        let Some(leg) = call.leg_mut(side) else {
            return;
        };
        let peer = leg.dialog.peer;
        if let Some(ack) = resent {
            self.layer.send_stateless(Message::Request(ack), peer);
            return;
        }
        if let Some(ContactTarget(uri)) = contact_target(&resp) {
            leg.dialog.remote_target = uri;
        }
        let seq = resp.cseq().map(|c| c.seq).unwrap_or(leg.dialog.local_cseq);
        let contact = super::contact_for(&via_host, peer.transport);
        let mut ack = leg.dialog.request(Method::Ack, &via_host, &contact);
        ack.headers.set(
            "CSeq",
            sip::CSeq {
                seq,
                method: Method::Ack,
            }
            .to_string(),
        );
        call.reinvite_ack[side.index()] = Some(ack.clone());
        self.layer.send_stateless(Message::Request(ack), peer);
        match (sdp::parse_audio(&resp.body), bridge) {
            (Ok(answer), Some(bridge)) => {
                self.set_remote(bridge, bridge_side(side), &answer);
                self.set_codec(
                    bridge,
                    bridge_side(side),
                    &answer.codecs,
                    answer.dtmf.as_ref(),
                );
            }
            (Err(e), _) => {
                tracing::warn!(call = %id, ?side, "the transferred phone's answer is unusable ({e}): hanging it up");
                self.drop_moved_leg(id, side, now);
            }
            _ => {}
        }
    }

    /// Our re-INVITE got no answer at all.
    pub(super) fn on_reinvite_timeout(&mut self, id: CallId, side: LegSide, now: Instant) {
        let unanswered = self
            .calls
            .get(&id)
            .is_some_and(|c| c.leg(side).is_some() && c.reinvite_ack[side.index()].is_none());
        if unanswered {
            tracing::warn!(call = %id, ?side, "the transferred phone never answered our re-INVITE: hanging it up");
            self.drop_moved_leg(id, side, now);
        }
    }

    /// A BYE to the moved phone, and the call goes on as if it had hung up.
    fn drop_moved_leg(&mut self, id: CallId, side: LegSide, now: Instant) {
        self.bye_leg(id, side, now);
        match side {
            LegSide::A => self.caller_gone(id, now),
            LegSide::B => self.callee_gone(id, now),
        }
    }
}
