//! How calls end: the caller hangs up or cancels, the callee hangs up, the channel
//! task hangs up, the PBX stops; and what an ended call leaves: its call record,
//! its `call.end` event, its media released.

use std::time::{Instant, SystemTime};

use sip::transaction::ServerTxId;
use sip::{Method, Request, Response};

use super::call::{Call, CallId, CallState, LegSide};
use super::dialog::set_to_tag;
use super::output::{MediaOp, Output};
use super::{Switch, TxPurpose};

/// How long an ended call's dialogs still answer a crossing BYE with 200 (Timer F:
/// as long as the other side may retransmit it).
pub(super) const ENDED_DIALOG_LINGER: std::time::Duration = std::time::Duration::from_secs(32);
use crate::chan::{ChanEvent, DialStatus};
use crate::events::Event;

impl Switch {
    /// CANCEL from the caller (RFC 3261 9.2): 200 to the CANCEL, 487 to the INVITE.
    pub(super) fn on_cancel(&mut self, tx: ServerTxId, req: Request, now: Instant) {
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
        tracing::info!(call = %id, "caller cancelled");
        self.final_to_caller(id, 487, now);
        self.caller_gone(id, now);
    }

    /// The caller left (BYE, CANCEL, or no ACK): the callee leg gets a BYE, ringing
    /// branches a CANCEL, the channel task a Hangup, and the call is recorded.
    pub(super) fn caller_gone(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state == CallState::Ending {
            return;
        }
        if self.conference_caller_left(id, now) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let was_answered = call.state == CallState::Answered;
        call.state = CallState::Ending;
        self.tell_chan(id, ChanEvent::Hangup);
        self.finish_dial(id, DialStatus::Cancel, now);
        self.bye_leg(id, LegSide::B, now);
        self.cancel_branches(id, None, now);
        let disposition = if was_answered {
            store::Disposition::Answered
        } else {
            store::Disposition::Cancelled
        };
        self.record(id, disposition, "caller", now);
        self.forget_if_settled(id, now);
    }

    /// The bridged callee hung up: the Dial returns (ANSWER) and the caller's dialplan
    /// goes on, as in Asterisk.
    pub(super) fn callee_gone(&mut self, id: CallId, now: Instant) {
        if self.conference_callee_left(id, now) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let virtual_a = call.virtual_a;
        // A callee that leaves while holding the caller stops its music.
        self.hold_changed(id, LegSide::B, false);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(b) = call.b.take() {
            tracing::info!(a = %call.a.channel, b = %b.channel, "callee hung up");
            self.channels.gone(&b.channel, &mut self.out);
            self.dialogs.remove(&(b.dialog.call_id, b.dialog.local_tag));
        }
        self.finish_dial(id, DialStatus::Answer, now);
        if virtual_a {
            // The only phone of a call the PBX placed hung up.
            self.tell_chan(id, ChanEvent::Hangup);
        }
        if self.calls.get(&id).is_some_and(|c| c.no_task) {
            // No dialplan goes on after it: the other phone is hung up too.
            self.pbx_hangup(id, now);
        }
    }

    /// The channel task hangs up: BYE to whatever is answered, a final failure to a
    /// ringing caller.
    pub(super) fn task_hangup(&mut self, id: CallId, status: Option<u16>, now: Instant) {
        if self.conference_keeps_call(id) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let state = call.state;
        if state == CallState::Ending {
            return;
        }
        call.state = CallState::Ending;
        let status = status.unwrap_or(call.fail_status);
        self.finish_dial(id, DialStatus::Cancel, now);
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
        self.record(id, disposition, "pbx", now);
        self.forget_if_settled(id, now);
    }

    /// The switch itself ends a call (shutdown, a broken offer/answer): as a task
    /// hangup, and the channel task is told.
    pub(super) fn pbx_hangup(&mut self, id: CallId, now: Instant) {
        if self
            .calls
            .get(&id)
            .is_some_and(|c| c.state != CallState::Ending)
        {
            self.tell_chan(id, ChanEvent::Hangup);
        }
        self.task_hangup(id, None, now);
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
        self.server_invites.remove(&tx);
        self.layer.respond(tx, resp, now);
    }

    /// Sends a BYE on one established leg of a call.
    pub(super) fn bye_leg(&mut self, id: CallId, side: LegSide, now: Instant) {
        let via_host = self.via_host.clone();
        let virtual_leg = |c: &super::call::Call| match side {
            LegSide::A => c.virtual_a,
            LegSide::B => c.virtual_b,
        };
        if self.calls.get(&id).is_some_and(virtual_leg) {
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

    /// Forgets an ended call once no branch can still answer.
    pub(super) fn forget_if_settled(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state != CallState::Ending || !call.branches_settled() {
            return;
        }
        self.calls.remove(&id);
        let linger = now + ENDED_DIALOG_LINGER;
        let ended = &mut self.ended_dialogs;
        self.dialogs.retain(|key, (cid, _)| {
            let keep = *cid != id;
            if !keep {
                ended.insert(key.clone(), linger);
            }
            keep
        });
        self.server_invites.retain(|_, cid| *cid != id);
        // BYEs and CANCELs still in flight stay in `client_txs` until answered (or
        // timed out), so a shutdown can wait for them.
        self.client_txs
            .retain(|_, (cid, purpose)| *cid != id || matches!(purpose, TxPurpose::Other));
        self.out.push_back(Output::Forget(id));
    }

    /// Once per call: its channels leave the table, its media is released, and its
    /// record and `call.end` event go out.
    pub(super) fn record(
        &mut self,
        id: CallId,
        disposition: store::Disposition,
        hangup_by: &str,
        now: Instant,
    ) {
        let end = self.wall(now);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.recorded {
            return;
        }
        call.recorded = true;
        self.queue_call_over(id, now);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let a = call.a.channel.clone();
        let b = call.b.as_ref().map(|b| b.channel.clone());
        let bridge = call.bridge.take();
        let rec = call_record(call, disposition, hangup_by, end);
        let no_cdr = call.no_cdr;
        let event = Event::CallEnd {
            call: call.public_id.clone(),
            channel: rec.caller_channel.clone(),
            peer: rec.callee_channel.clone(),
            disposition: rec.disposition.as_str().to_string(),
            hangup_by: hangup_by.to_string(),
        };
        self.channels.gone(&a, &mut self.out);
        if let Some(b) = b {
            self.channels.gone(&b, &mut self.out);
        }
        if let Some(bridge) = bridge {
            self.media_op(bridge.id, MediaOp::Close);
        }
        self.emit(event);
        if !no_cdr {
            self.store(store::Write::Cdr(rec));
        }
        // A taken-over call ended: its supervisor holds nothing any more.
        self.takeovers.retain(|_, taken| *taken != id);
        self.supervisor_left(id, now);
    }
}

fn call_record(
    call: &Call,
    disposition: store::Disposition,
    hangup_by: &str,
    end: SystemTime,
) -> store::CallRecord {
    let since = |t: SystemTime| end.duration_since(t).map_or(0, |d| d.as_millis() as u64);
    let dial = call.dial.as_ref();
    store::CallRecord {
        id: call.public_id.clone(),
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
        taken_over: call.taken_over.as_ref().map(|t| store::TakenOver {
            by: t.by.clone(),
            at: t.at,
        }),
    }
}
