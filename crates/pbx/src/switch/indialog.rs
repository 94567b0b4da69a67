//! Requests inside an established call: BYE tears both legs down, re-INVITE and UPDATE
//! renegotiate one leg's media (hold/resume) without disturbing the other, INFO and
//! OPTIONS are answered. Also the end of a call: its call record.

use std::time::Instant;

use media::sdp::{self, Direction};
use media::Side;
use sip::transaction::ServerTxId;
use sip::{Method, Peer, Request};

use super::call::{Call, CallId, LegSide};
use super::setup::{rtcp_addr, rtp_addr};
use super::Switch;

impl Switch {
    pub(super) async fn on_in_dialog(
        &mut self,
        tx: ServerTxId,
        req: Request,
        _peer: Peer,
        id: CallId,
        side: LegSide,
        now: Instant,
    ) {
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        if let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) {
            if cseq < leg.dialog.remote_cseq && req.method != Method::Ack {
                return self.respond(tx, &req, 500, now);
            }
            leg.dialog.remote_cseq = cseq;
        }
        match req.method {
            Method::Bye => {
                self.respond(tx, &req, 200, now);
                match side {
                    LegSide::A => self.caller_gone(id, now).await,
                    LegSide::B => self.callee_gone(id, now),
                }
            }
            Method::Invite | Method::Update => self.on_reoffer(tx, req, id, side, now),
            Method::Info => {
                self.respond(tx, &req, 200, now);
                self.on_info_dtmf(id, side, &req);
            }
            Method::Options | Method::Notify => self.respond(tx, &req, 200, now),
            Method::Other(_) => self.respond(tx, &req, 501, now),
            _ => self.respond(tx, &req, 405, now),
        }
    }

    /// A new offer on one leg (hold, resume, address change). The PBX answers it
    /// itself, as Asterisk does: the other leg keeps its media untouched.
    fn on_reoffer(
        &mut self,
        tx: ServerTxId,
        req: Request,
        id: CallId,
        side: LegSide,
        now: Instant,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let direction = if req.body.is_empty() {
            // No offer: we offer in the 200 and the answer comes in the ACK.
            Some(Direction::SendRecv)
        } else {
            match sdp::parse_audio(&req.body) {
                Ok(offer) => {
                    if let Some(bridge) = call.bridge.as_ref() {
                        bridge.set_remote(bridge_side(side), rtp_addr(&offer), rtcp_addr(&offer));
                    }
                    tracing::info!(
                        call = id,
                        ?side,
                        hold = offer.is_hold(),
                        "media renegotiated"
                    );
                    Some(offer.direction.reverse())
                }
                Err(e) => {
                    tracing::info!("rejecting re-offer: {e}");
                    None
                }
            }
        };
        let Some(direction) = direction else {
            return self.respond(tx, &req, 488, now);
        };
        if req.method == Method::Update && req.body.is_empty() {
            return self.respond(tx, &req, 200, now);
        }
        let peer = self
            .calls
            .get(&id)
            .and_then(|c| c.leg(side))
            .map(|l| l.dialog.peer);
        let body = self.leg_sdp(id, side, true, direction);
        let mut ok = self.response(&req, 200);
        if let Some(peer) = peer {
            ok.headers.push("Contact", self.contact(peer));
        }
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = body;
        self.layer.respond(tx, ok, now);
    }
}

impl Switch {
    /// SIP INFO DTMF (`application/dtmf-relay` or `application/dtmf`) from the caller
    /// goes to its channel task.
    fn on_info_dtmf(&mut self, id: CallId, side: LegSide, req: &Request) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let ct = req
            .headers
            .get("Content-Type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = String::from_utf8_lossy(&req.body);
        let digit = if ct.starts_with("application/dtmf-relay") {
            media::dtmf::parse_dtmf_relay(&body).ok()
        } else if ct.starts_with("application/dtmf") {
            media::dtmf::parse_dtmf(&body).ok()
        } else {
            None
        };
        if let (Some(d), LegSide::A) = (digit, side) {
            let _ = call.events.send(crate::chan::ChanEvent::Dtmf(d.digit));
        }
    }
}

/// Applies an SDP carried late (in an ACK) to one leg's media destination.
pub(super) fn apply_remote_sdp(call: &mut Call, side: LegSide, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    if let (Ok(desc), Some(bridge)) = (sdp::parse_audio(body), call.bridge.as_ref()) {
        bridge.set_remote(bridge_side(side), rtp_addr(&desc), rtcp_addr(&desc));
    }
}

fn bridge_side(side: LegSide) -> Side {
    match side {
        LegSide::A => Side::A,
        LegSide::B => Side::B,
    }
}
