//! Requests inside an established call: BYE tears the call down, re-INVITE and
//! UPDATE renegotiate one leg's media (hold/resume) without disturbing the other,
//! INFO carries DTMF, ACK may carry the answer to an offer we made.

use std::time::Instant;

use media::sdp::{self, Direction};
use sip::transaction::ServerTxId;
use sip::{Method, Request};

use super::call::{CallId, LegSide};
use super::output::MediaOp;
use super::sdp::bridge_side;
use super::Switch;
use crate::chan::ChanEvent;
use crate::events::Event;

impl Switch {
    pub(super) fn on_in_dialog(
        &mut self,
        tx: ServerTxId,
        req: Request,
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
                    LegSide::A => self.caller_gone(id, now),
                    LegSide::B => self.callee_gone(id, now),
                }
            }
            Method::Invite | Method::Update => self.on_reoffer(tx, req, id, side, now),
            Method::Info => {
                self.respond(tx, &req, 200, now);
                self.on_info_dtmf(id, side, &req);
            }
            Method::Refer => self.on_refer(tx, req, id, side, now),
            Method::Notify => {
                self.respond(tx, &req, 200, now);
                self.on_notify(id, side, &req, now);
            }
            Method::Options => self.respond(tx, &req, 200, now),
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
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let bridge = call.bridge.map(|b| b.id);
        let direction = if req.body.is_empty() {
            // No offer: we offer in the 200 and the answer comes in the ACK.
            Some(Direction::SendRecv)
        } else {
            match sdp::parse_audio(&req.body) {
                Ok(offer) => {
                    let Some(crypto) = self.reanswer_crypto(id, side, &offer) else {
                        tracing::info!(call = %id, ?side, "rejecting re-offer: this extension must use SRTP");
                        return self.respond(tx, &req, 488, now);
                    };
                    if let Some(bridge) = bridge {
                        self.set_remote(bridge, bridge_side(side), &offer, crypto.as_ref());
                    }
                    tracing::info!(call = %id, ?side, hold = offer.is_hold(), "media renegotiated");
                    self.hold_changed(id, side, offer.is_hold());
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
        let timer = self.refreshed_by_phone(id, side, now);
        if req.method == Method::Update && req.body.is_empty() {
            let mut ok = self.response(&req, 200);
            for (k, v) in timer {
                ok.headers.push(k, v);
            }
            return self.layer.respond(tx, ok, now);
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
        for (k, v) in timer {
            ok.headers.push(k, v);
        }
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = body;
        self.layer.respond(tx, ok, now);
    }

    /// A leg held its peer or resumed: the held phone hears the call's music on
    /// hold in place of the peer, until the peer resumes. Only between two phones:
    /// a leg the PBX answers itself (a prompt, ChanSpy) has no peer to hear.
    pub(super) fn hold_changed(&mut self, id: CallId, side: LegSide, hold: bool) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // In a conference both legs hear the room, not each other: no music.
        if call.conference.is_some() {
            return;
        }
        let i = side.index();
        let two_phones = call.b.is_some() && !call.virtual_a;
        // Resuming needs no peer: a leg that leaves (hangs up, is taken over)
        // stops the music it caused.
        if call.holding[i] == hold || (hold && !two_phones) {
            return;
        }
        call.holding[i] = hold;
        let Some(bridge) = call.bridge.map(|b| b.id) else {
            return;
        };
        let held = side.other();
        let class = hold.then(|| call.moh_class.clone());
        let event = Event::CallHold {
            call: call.public_id.clone(),
            channel: call
                .leg(side)
                .map(|l| l.channel.clone())
                .unwrap_or_default(),
            held: hold,
        };
        tracing::info!(call = %id, ?side, hold, "hold changed");
        self.media_op(
            bridge,
            MediaOp::HoldMusic {
                side: bridge_side(held),
                class,
            },
        );
        self.emit(event);
    }

    /// SIP INFO DTMF (`application/dtmf-relay` or `application/dtmf`) from the caller
    /// goes to its channel task.
    fn on_info_dtmf(&mut self, id: CallId, side: LegSide, req: &Request) {
        if side != LegSide::A || !self.calls.contains_key(&id) {
            return;
        }
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
        if let Some(d) = digit {
            self.tell_chan(id, ChanEvent::Dtmf(d.digit));
        }
    }

    /// An ACK for our 2xx. It carries the phone's answer when we made the offer: in
    /// our 200 to a late-offer INVITE, or to a re-INVITE without SDP.
    pub(super) fn on_ack(&mut self, req: Request, now: Instant) {
        let Some(tag) = req.to().ok().and_then(|t| t.tag().map(str::to_string)) else {
            return;
        };
        let key = (req.call_id().unwrap_or_default().to_string(), tag);
        let Some((id, side)) = self.dialogs.get(&key).copied() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let awaited = side == LegSide::A && call.late_offer;
        if awaited {
            call.late_offer = false;
        }
        let bridge = call.bridge.map(|b| b.id);
        let answer = (!req.body.is_empty()).then(|| sdp::parse_audio(&req.body));
        match (answer, bridge) {
            (Some(Ok(desc)), Some(bridge)) => {
                let crypto = call.leg(side).and_then(|l| l.crypto.clone());
                self.set_remote(bridge, bridge_side(side), &desc, crypto.as_ref());
                if awaited {
                    // The phone chose among the codecs we offered.
                    self.set_codec(bridge, bridge_side(side), &desc.codecs, desc.dtmf.as_ref());
                } else {
                    // The answer to our offer in a 200 to an offerless re-INVITE:
                    // how some phones resume (or hold).
                    self.hold_changed(id, side, desc.is_hold());
                }
            }
            (Some(Err(e)), _) if awaited => {
                tracing::warn!(call = %id, "the ACK's answer is unusable ({e}): ending the call");
                self.pbx_hangup(id, now);
            }
            (None, _) if awaited => {
                tracing::warn!(call = %id, "late offer: the ACK carried no answer: ending the call");
                self.pbx_hangup(id, now);
            }
            _ => {}
        }
    }
}
