//! Requests inside an established call: BYE tears both legs down, re-INVITE and UPDATE
//! renegotiate one leg's media (hold/resume) without disturbing the other, INFO and
//! OPTIONS are answered. Also the end of a call: its call record.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use media::sdp::{self, Direction};
use media::Side;
use sip::transaction::ServerTxId;
use sip::{Method, Peer, Request};

use super::call::{Call, CallId, CallState, LegSide};
use super::setup::{rtcp_addr, rtp_addr};
use super::{Switch, TxPurpose};

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
                self.hangup(id, side, now).await;
            }
            Method::Invite | Method::Update => self.on_reoffer(tx, req, id, side, now),
            Method::Info | Method::Options | Method::Notify => self.respond(tx, &req, 200, now),
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
        let media_ip = self.cfg.media_ip;
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
        let call = self.calls.get_mut(&id).expect("call checked above");
        let port = call
            .bridge
            .as_ref()
            .map_or(0, |b| b.port(bridge_side(side)));
        let origin = match side {
            LegSide::A => &mut call.a_origin,
            LegSide::B => &mut call.b_origin,
        };
        let body = sdp::build_sdp(
            origin,
            true,
            media_ip,
            port,
            &call.codecs,
            call.dtmf.as_ref(),
            direction,
            call.ptime,
        );
        let peer = call.leg(side).map(|l| l.dialog.peer);
        let mut ok = self.response(&req, 200);
        if let Some(peer) = peer {
            ok.headers.push("Contact", self.contact(peer));
        }
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = body;
        self.layer.respond(tx, ok, now);
    }

    /// Sends a BYE on one established leg of a call.
    fn bye_leg(&mut self, id: CallId, side: LegSide, now: Instant) {
        let via_host = self.via_host.clone();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) else {
            return;
        };
        let peer = leg.dialog.peer;
        let contact = match peer.transport {
            sip::Transport::Udp => format!("<sip:spygroup@{via_host}>"),
            sip::Transport::Tcp => format!("<sip:spygroup@{via_host};transport=tcp>"),
        };
        let bye = leg.dialog.request(Method::Bye, &via_host, &contact);
        let ctx = self.layer.send_request(bye, peer, now);
        self.client_txs.insert(ctx, (id, TxPurpose::Other));
    }

    /// `side` hung up (or is gone): BYE the other leg, free the media, write the record.
    pub(super) async fn hangup(&mut self, id: CallId, side: LegSide, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state == CallState::Ending {
            return;
        }
        call.state = CallState::Ending;
        let other = match side {
            LegSide::A => LegSide::B,
            LegSide::B => LegSide::A,
        };
        self.bye_leg(id, other, now);
        let by = match side {
            LegSide::A => "caller",
            LegSide::B => "callee",
        };
        tracing::info!(call = id, hangup_by = by, "call ended");
        self.record(id, store::Disposition::Answered, by).await;
        self.forget_if_settled(id);
    }

    /// Ends a call because the PBX is stopping.
    pub(super) async fn shutdown_call(&mut self, id: CallId, now: Instant) {
        match self.calls.get(&id).map(|c| c.state) {
            Some(CallState::Answered) => {
                // BYE both legs: A here, B as the "other side" of A's hang-up.
                self.bye_leg(id, LegSide::A, now);
                self.hangup(id, LegSide::A, now).await;
            }
            Some(CallState::Ringing) => {
                self.fail_caller(id, 503, store::Disposition::Failed, now)
                    .await
            }
            _ => {}
        }
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(bridge) = call.bridge.take() {
                bridge.close().await;
            }
        }
    }

    /// Writes the call record once, and releases the media.
    pub(super) async fn record(
        &mut self,
        id: CallId,
        disposition: store::Disposition,
        hangup_by: &str,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(bridge) = call.bridge.take() {
            bridge.close().await;
        }
        if call.recorded {
            return;
        }
        call.recorded = true;
        let rec = call_record(call, disposition, hangup_by);
        if let Err(e) = self.store.insert_cdr(&rec).await {
            tracing::error!("cannot write the call record: {e}");
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

fn call_record(call: &Call, disposition: store::Disposition, hangup_by: &str) -> store::CallRecord {
    let end = SystemTime::now();
    let since = |t: SystemTime| end.duration_since(t).map_or(0, |d| d.as_millis() as u64);
    let start_ms = call
        .started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    store::CallRecord {
        id: format!("{start_ms}-{}", call.id),
        call_id: call.a.dialog.call_id.clone(),
        caller: call.caller.clone(),
        callee: call.callee.clone(),
        caller_channel: call.a.channel.clone(),
        callee_channel: call.b.as_ref().map(|b| b.channel.clone()),
        start_at: call.started,
        answer_at: call.answered,
        end_at: end,
        disposition,
        hangup_by: hangup_by.to_string(),
        duration_ms: since(call.started),
        billsec_ms: call.answered.map_or(0, since),
    }
}
