//! `Transfer()` in the dialplan: the caller's phone is sent elsewhere, with a 302
//! while it rings or a REFER once answered, whose NOTIFYs decide `TRANSFERSTATUS`.

use std::time::Instant;

use sip::{Method, Request, Response};

use super::sipfrag_status;
use crate::chan::{ChanEvent, TransferStatus};
use crate::switch::call::{CallId, CallState, LegSide};
use crate::switch::{Switch, TxPurpose};

impl Switch {
    /// `Transfer(exten)` on the caller's channel: 302 while it rings, else a REFER.
    pub(in crate::switch) fn on_transfer_op(&mut self, id: CallId, exten: String, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return self.transfer_done(id, TransferStatus::Failure, 0);
        };
        if call.virtual_a || call.transferring {
            return self.transfer_done(id, TransferStatus::Unsupported, 0);
        }
        let target = format!("<sip:{exten}@{}>", self.via_host);
        match call.state {
            CallState::Ringing => {
                let Some(tx) = call.invite_tx.take() else {
                    return self.transfer_done(id, TransferStatus::Failure, 0);
                };
                let mut resp =
                    Response::for_request(&call.invite, 302, Response::reason_phrase(302));
                crate::switch::dialog::set_to_tag(&mut resp, &call.a.dialog.local_tag);
                resp.headers.push("Contact", target);
                self.server_invites.remove(&tx);
                self.layer.respond(tx, resp, now);
                tracing::info!(call = %id, %exten, "Transfer: redirected the ringing caller (302)");
                self.transfer_done(id, TransferStatus::Success, 302);
                self.pbx_hangup(id, now);
            }
            CallState::Answered => {
                call.transferring = true;
                let via_host = self.via_host.clone();
                let peer = call.a.dialog.peer;
                let contact = crate::switch::contact_for(&via_host, peer.transport);
                let mut refer = call.a.dialog.request(Method::Refer, &via_host, &contact);
                refer.headers.push("Refer-To", target);
                refer
                    .headers
                    .push("Referred-By", format!("<sip:spygroup@{via_host}>"));
                let ctx = self.layer.send_request(refer, peer, now);
                self.client_txs.insert(ctx, (id, TxPurpose::Refer));
                tracing::info!(call = %id, %exten, "Transfer: REFER sent to the caller");
            }
            CallState::Ending => self.transfer_done(id, TransferStatus::Failure, 0),
        }
    }

    /// The phone answered our REFER: a refusal ends `Transfer()` now; 202 waits for
    /// its NOTIFYs.
    pub(in crate::switch) fn on_refer_response(&mut self, id: CallId, status: u16) {
        if status < 300 {
            return;
        }
        let result = if matches!(status, 405 | 420 | 501) {
            TransferStatus::Unsupported
        } else {
            TransferStatus::Failure
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.transferring = false;
        }
        self.transfer_done(id, result, status);
    }

    /// A NOTIFY from leg A while `Transfer()` waits: its sipfrag's final status ends it.
    pub(in crate::switch) fn on_notify(
        &mut self,
        id: CallId,
        side: LegSide,
        req: &Request,
        _now: Instant,
    ) {
        let waiting = side == LegSide::A && self.calls.get(&id).is_some_and(|c| c.transferring);
        let is_refer = req
            .headers
            .get("Event")
            .is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"));
        if !waiting || !is_refer {
            return;
        }
        let terminated = req
            .headers
            .get("Subscription-State")
            .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
        let status = sipfrag_status(&req.body);
        let result = match status {
            Some(s) if (200..300).contains(&s) => Some(TransferStatus::Success),
            Some(s) if s >= 300 => Some(TransferStatus::Failure),
            _ if terminated => Some(TransferStatus::Failure),
            _ => None,
        };
        if let Some(result) = result {
            if let Some(c) = self.calls.get_mut(&id) {
                c.transferring = false;
            }
            self.transfer_done(id, result, status.unwrap_or(0));
        }
    }

    /// Our REFER got no answer at all.
    pub(in crate::switch) fn on_refer_timeout(&mut self, id: CallId) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.transferring = false;
        }
        self.transfer_done(id, TransferStatus::Failure, 408);
    }

    fn transfer_done(&mut self, id: CallId, status: TransferStatus, sip: u16) {
        self.tell_chan(id, ChanEvent::TransferDone { status, sip });
    }
}
