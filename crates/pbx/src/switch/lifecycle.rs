//! How calls end: the caller hangs up or cancels, the callee hangs up, the channel task
//! hangs up, the PBX stops. Also the requests channel tasks make, and the call record.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sip::transaction::ServerTxId;
use sip::{Method, Request, Response};

use super::call::{Call, CallId, CallState, LegSide};
use super::setup::set_to_tag;
use super::{Switch, TxPurpose};
use crate::chan::{ChanEvent, ChanRequest, DialStatus};

impl Switch {
    pub(super) async fn on_chan_request(&mut self, req: ChanRequest, now: Instant) {
        match req {
            ChanRequest::Answer { call, reply } => {
                let ok = self.answer_caller(call, now);
                let _ = reply.send(ok);
            }
            ChanRequest::Ringing { call } => self.provisional_to_caller(call, 180, now),
            ChanRequest::Progress { call } => self.provisional_to_caller(call, 183, now),
            ChanRequest::Dial {
                call,
                endpoints,
                timeout,
                vars,
                reply,
            } => {
                self.on_dial(call, endpoints, timeout, vars, reply, now)
                    .await
            }
            ChanRequest::Hangup { call, status } => self.task_hangup(call, status, now).await,
            ChanRequest::NoCdr { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.no_cdr = true;
                }
            }
        }
    }

    /// CANCEL from the caller (RFC 3261 9.2): 200 to the CANCEL, 487 to the INVITE.
    pub(super) async fn on_cancel(&mut self, tx: ServerTxId, req: Request, now: Instant) {
        let target = self
            .layer
            .cancel_target(&req)
            .and_then(|t| self.server_invites.get(&t).copied());
        let Some(id) = target else {
            return self.respond(tx, &req, 481, now);
        };
        self.respond(tx, &req, 200, now);
        if self.calls.get(&id).map(|c| c.state) != Some(CallState::Ringing) {
            // Too late: the call was answered or already failed.
            return;
        }
        tracing::info!(call = id, "caller cancelled");
        self.final_to_caller(id, 487, now);
        self.caller_gone(id, now).await;
    }

    /// The caller left (BYE, CANCEL, or no ACK): the callee leg gets a BYE, ringing
    /// branches a CANCEL, the channel task a Hangup, and the call is recorded.
    pub(super) async fn caller_gone(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state == CallState::Ending {
            return;
        }
        let was_answered = call.state == CallState::Answered;
        call.state = CallState::Ending;
        let _ = call.events.send(ChanEvent::Hangup);
        if let Some(dial) = call.dial.as_mut() {
            dial.deadline = None;
            dial.finish(DialStatus::Cancel);
        }
        self.bye_leg(id, LegSide::B, now);
        self.cancel_branches(id, None, now);
        let disposition = if was_answered {
            store::Disposition::Answered
        } else {
            store::Disposition::Cancelled
        };
        self.record(id, disposition, "caller").await;
        self.forget_if_settled(id);
    }

    /// The bridged callee hung up: the Dial returns (ANSWER) and the caller's dialplan
    /// goes on, as in Asterisk.
    pub(super) fn callee_gone(&mut self, id: CallId, _now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(b) = call.b.take() {
            tracing::info!(a = %call.a.channel, b = %b.channel, "callee hung up");
            self.registry.remove(&b.channel);
            self.registry
                .update(&call.a.channel, |e| e.bridged_to = None);
            self.dialogs.remove(&(b.dialog.call_id, b.dialog.local_tag));
        }
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(dial) = call.dial.as_mut() {
                dial.finish(DialStatus::Answer);
            }
            if call.virtual_a {
                // The only phone of a call the PBX placed hung up.
                let _ = call.events.send(ChanEvent::Hangup);
            }
        }
    }

    /// The channel task hangs up: BYE to whatever is answered, a final failure to a
    /// ringing caller.
    async fn task_hangup(&mut self, id: CallId, status: Option<u16>, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let state = call.state;
        if state == CallState::Ending {
            return;
        }
        call.state = CallState::Ending;
        let status = status.unwrap_or(call.fail_status);
        if let Some(dial) = call.dial.as_mut() {
            dial.deadline = None;
            dial.finish(DialStatus::Cancel);
        }
        let disposition = match state {
            CallState::Answered => {
                self.bye_leg(id, LegSide::A, now);
                self.bye_leg(id, LegSide::B, now);
                store::Disposition::Answered
            }
            _ => {
                self.final_to_caller(id, status, now);
                match DialStatus::from_sip(status) {
                    DialStatus::Busy => store::Disposition::Busy,
                    DialStatus::NoAnswer => store::Disposition::NoAnswer,
                    _ => store::Disposition::Failed,
                }
            }
        };
        self.cancel_branches(id, None, now);
        self.record(id, disposition, "pbx").await;
        self.forget_if_settled(id);
    }

    /// A final (failure) response to the caller's INVITE.
    pub(super) fn final_to_caller(&mut self, id: CallId, status: u16, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(tx) = call.invite_tx.take() else {
            return;
        };
        let mut resp = Response::for_request(&call.invite, status, Response::reason_phrase(status));
        set_to_tag(&mut resp, &call.a.dialog.local_tag);
        resp.headers.push("User-Agent", super::USER_AGENT);
        self.server_invites.remove(&tx);
        self.layer.respond(tx, resp, now);
    }

    /// Sends a BYE on one established leg of a call.
    pub(super) fn bye_leg(&mut self, id: CallId, side: LegSide, now: Instant) {
        let via_host = self.via_host.clone();
        if side == LegSide::A && self.calls.get(&id).is_some_and(|c| c.virtual_a) {
            return;
        }
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) else {
            return;
        };
        let peer = leg.dialog.peer;
        let contact = super::contact_for(&via_host, peer.transport);
        let bye = leg.dialog.request(Method::Bye, &via_host, &contact);
        let ctx = self.layer.send_request(bye, peer, now);
        self.client_txs.insert(ctx, (id, TxPurpose::Other));
    }

    /// Ends a call because the PBX is stopping.
    pub(super) async fn shutdown_call(&mut self, id: CallId, now: Instant) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.fail_status = 503;
        }
        self.task_hangup(id, None, now).await;
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(bridge) = call.bridge.take() {
                bridge.close().await;
            }
        }
    }

    /// Forgets an ended call once no branch can still answer.
    pub(super) fn forget_if_settled(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state != CallState::Ending || !call.branches_settled() {
            return;
        }
        self.calls.remove(&id);
        self.dialogs.retain(|_, (cid, _)| *cid != id);
        self.client_txs.retain(|_, (cid, _)| *cid != id);
        self.server_invites.retain(|_, cid| *cid != id);
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
        self.registry.remove(&call.a.channel);
        if let Some(b) = &call.b {
            self.registry.remove(&b.channel);
        }
        if let Some(bridge) = call.bridge.take() {
            bridge.close().await;
        }
        if call.recorded || call.no_cdr {
            return;
        }
        call.recorded = true;
        let rec = call_record(call, disposition, hangup_by);
        self.events.emit(
            "call.end",
            serde_json::json!({
                "call": id,
                "channel": rec.caller_channel,
                "peer": rec.callee_channel,
                "disposition": rec.disposition.as_str(),
                "hangup_by": hangup_by,
            }),
        );
        if let Err(e) = self.store.insert_cdr(&rec).await {
            tracing::error!("cannot write the call record: {e}");
        }
    }
}

fn call_record(call: &Call, disposition: store::Disposition, hangup_by: &str) -> store::CallRecord {
    let end = SystemTime::now();
    let since = |t: SystemTime| end.duration_since(t).map_or(0, |d| d.as_millis() as u64);
    let start_ms = call
        .started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dial = call.dial.as_ref();
    store::CallRecord {
        id: format!("{start_ms}-{}", call.id),
        call_id: call.a.dialog.call_id.clone(),
        caller: call.caller.clone(),
        callee: dial.map_or_else(|| call.dialled.clone(), |d| d.callee.clone()),
        caller_channel: call.a.channel.clone(),
        callee_channel: dial
            .and_then(|d| {
                d.branches
                    .iter()
                    .find(|b| b.final_status.is_some_and(|s| s < 300))
            })
            .map(|b| b.channel.clone()),
        start_at: call.started,
        answer_at: call.answered,
        end_at: end,
        disposition,
        hangup_by: hangup_by.to_string(),
        duration_ms: since(call.started),
        billsec_ms: call.answered.map_or(0, since),
    }
}
