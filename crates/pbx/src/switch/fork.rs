//! `Dial`, the forking half: an INVITE to every registered contact of the dialled
//! endpoints, ringing and early media relayed to an unanswered caller, failures
//! gathered as a forking proxy would, the no-answer timeout, and CANCEL of the
//! branches that lost (a CANCEL waits for a provisional response, RFC 3261 9.1).
//! What happens when a branch answers is in `answer.rs`.

use std::time::{Duration, Instant};

use media::sdp::{self, Direction};
use media::Side;
use sip::{new_call_id, new_tag, Method, NameAddr, Peer, Response, Uri};

use super::call::{Branch, CallId, CallState, DialState, LegCrypto};
use super::dialog::{cancel_for, contact_peer, set_to_tag, Dialog};
use super::{Switch, TxPurpose};
use crate::chan::{ChanEvent, DialOutcome, DialStatus};

impl Switch {
    pub(super) fn on_dial(
        &mut self,
        id: CallId,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        vars: Vec<(String, String)>,
        now: Instant,
    ) {
        let usable = self.calls.get(&id).is_some_and(|c| {
            c.state != CallState::Ending && !c.dial.as_ref().is_some_and(|d| d.waiting)
        });
        if !usable {
            return self.dial_done(id, DialStatus::Cancel, now);
        }
        let mut branches = Vec::new();
        let mut known = 0;
        for endpoint in &endpoints {
            if self.config.extension(endpoint).is_none() {
                tracing::info!(%endpoint, "Dial: no such extension");
                continue;
            }
            known += 1;
            for binding in self.registrar.lookup(endpoint, now) {
                if let Some(branch) =
                    self.new_branch(id, endpoint, &binding.contact_uri, binding.source)
                {
                    branches.push(branch);
                }
            }
        }
        let callee = endpoints.join("&");
        if branches.is_empty() {
            // As Asterisk: CHANUNAVAIL either way, but a caller who dialled a number
            // that is nobody's hears "no route" (404), one whose callee is not
            // registered "temporarily unavailable" (480).
            let status = if known == 0 { 404 } else { 480 };
            tracing::info!(call = %id, %callee, status, "Dial: nothing to ring");
            if let Some(call) = self.calls.get_mut(&id) {
                call.fail_status = status;
            }
            return self.dial_done(id, DialStatus::ChanUnavail, now);
        }
        let deadline = now + timeout.unwrap_or(self.cfg.no_answer_timeout);
        self.dial_deadlines.push(std::cmp::Reverse((deadline, id)));
        // Branches of an earlier Dial still being cancelled keep their numbers (their
        // transactions name them): the new ones come after.
        let earlier = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.dial.take())
            .map(|d| d.branches)
            .filter(|b| !b.iter().all(Branch::done))
            .unwrap_or_default();
        let base = earlier.len();
        let mut dial = DialState {
            branches: earlier,
            deadline: Some(deadline),
            waiting: true,
            callee,
            answered_at: None,
            vars,
        };
        for (k, (invite, peer, channel, dialog, crypto)) in branches.into_iter().enumerate() {
            let n = base + k;
            let tx = self.layer.send_request(invite.clone(), peer, now);
            self.client_txs.insert(tx, (id, TxPurpose::Branch(n)));
            dial.branches.push(Branch {
                tx,
                invite,
                peer,
                channel,
                dialog,
                provisional: false,
                cancel_pending: false,
                ack: None,
                final_status: None,
                crypto,
            });
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.dial = Some(dial);
        }
    }

    /// Tells the channel task its Dial is over, unless the Dial rang members for
    /// a queue caller: then the floor hears it.
    pub(super) fn dial_done(&mut self, id: CallId, status: DialStatus, now: Instant) {
        if self.queue_dial_done(id, status, now) {
            return;
        }
        self.tell_chan(id, ChanEvent::DialDone(DialOutcome { status }));
    }

    /// Ends a Dial (once): its outcome goes to the channel task.
    pub(super) fn finish_dial(&mut self, id: CallId, status: DialStatus, now: Instant) {
        let done = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.dial.as_mut())
            .and_then(|d| {
                d.deadline = None;
                d.finish(status)
            });
        if let Some(status) = done {
            self.dial_done(id, status, now);
        }
    }

    /// Builds (does not send) the INVITE towards one contact, offering our B-side media:
    /// the request, where to send it, the new channel's name and its dialog.
    fn new_branch(
        &mut self,
        id: CallId,
        endpoint: &str,
        contact_uri: &str,
        source: Peer,
    ) -> Option<(sip::Request, Peer, String, Dialog, Option<LegCrypto>)> {
        let target = contact_uri.parse::<Uri>().ok()?;
        let peer = contact_peer(&target, source);
        let (caller_number, caller_name) = {
            let call = self.calls.get(&id)?;
            (call.caller.clone(), call.a.dialog.remote.display.clone())
        };
        let mut dialog = Dialog {
            call_id: new_call_id(&self.via_host.to_string()),
            local_tag: new_tag(),
            remote_tag: String::new(),
            local: NameAddr {
                display: caller_name,
                uri: self.local_uri(&caller_number),
                params: Vec::new(),
            },
            remote: NameAddr {
                display: None,
                uri: self.local_uri(endpoint),
                params: Vec::new(),
            },
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer,
        };
        let contact = self.contact(peer);
        let media_ip = self.cfg.media_ip;
        let channel = self.namer.name(endpoint);
        let mut invite = dialog.request(Method::Invite, &self.via_host, &contact);
        invite.headers.push("Allow", super::ALLOW);
        // RFC 4028: the callee chooses who refreshes (see `session_timer`).
        invite.headers.push("Supported", "timer");
        invite.headers.push(
            "Session-Expires",
            super::session_timer::DEFAULT_SE.to_string(),
        );
        invite
            .headers
            .push("Min-SE", super::session_timer::MIN_SE.to_string());
        invite.headers.push("Content-Type", "application/sdp");
        let require_srtp = self.requires_srtp(endpoint);
        let crypto = super::srtp::offer_for(require_srtp, peer.transport.is_secure());
        let call = self.calls.get_mut(&id)?;
        let b_port = call.bridge.map_or(0, |b| b.port(Side::B));
        let offer = callee_offer(&call.codecs);
        invite.body = sdp::build_sdp(
            &mut call.b_origin,
            false,
            media_ip,
            b_port,
            &offer,
            call.dtmf.as_ref(),
            Direction::SendRecv,
            call.ptime,
            crypto.as_ref().map_or(sdp::RtpProfile::Avp, |c| c.profile),
            crypto.as_ref().map(|c| &c.ours),
        );
        Some((invite, peer, channel, dialog, crypto))
    }

    pub(super) fn on_branch_response(
        &mut self,
        id: CallId,
        n: usize,
        resp: Response,
        now: Instant,
    ) {
        match resp.status {
            s if s >= 300 => self.on_branch_failed(id, n, s, now),
            s if s < 200 => self.on_branch_provisional(id, n, resp, now),
            _ => self.on_branch_answered(id, n, resp, now),
        }
    }

    fn on_branch_provisional(&mut self, id: CallId, n: usize, resp: Response, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(branch) = call.dial.as_mut().and_then(|d| d.branches.get_mut(n)) else {
            return;
        };
        if resp.status == 100 {
            return;
        }
        branch.provisional = true;
        let crypto = branch.crypto.clone();
        if branch.cancel_pending {
            branch.cancel_pending = false;
            let (cancel, peer) = (cancel_for(&branch.invite), branch.peer);
            let ctx = self.layer.send_request(cancel, peer, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Other));
            return;
        }
        if call.state != CallState::Ringing || !call.dial.as_ref().is_some_and(|d| d.waiting) {
            return;
        }
        // Early media: the callee's SDP sets where B's audio goes, and the caller gets
        // our SDP in a 183 so it hears ringback or announcements from the far end.
        let answer = (!resp.body.is_empty())
            .then(|| sdp::parse_audio(&resp.body).ok())
            .flatten();
        let bridge = call.bridge.map(|b| b.id);
        if let (Some(answer), Some(bridge)) = (&answer, bridge) {
            self.set_remote(bridge, Side::B, answer, crypto.as_ref());
        }
        let status = if answer.is_some() { 183 } else { 180 };
        self.provisional_to_caller(id, status, now);
    }

    /// Sends 180/183 to an unanswered caller. A 183 carries our SDP, unless the
    /// caller made no offer (late offer): an offer cannot go in an unreliable
    /// provisional response, so it gets a 183 without SDP.
    pub(super) fn provisional_to_caller(&mut self, id: CallId, status: u16, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let (Some(tx), CallState::Ringing) = (call.invite_tx, call.state) else {
            return;
        };
        let late_offer = call.late_offer;
        let (invite, tag, peer) = (
            call.invite.clone(),
            call.a.dialog.local_tag.clone(),
            call.a.dialog.peer,
        );
        let mut out = self.response(&invite, status);
        set_to_tag(&mut out, &tag);
        out.headers.push("Contact", self.contact(peer));
        if status == 183 && !late_offer {
            out.headers.push("Content-Type", "application/sdp");
            out.body = self.a_sdp(id, false, Direction::SendRecv);
            self.caller_gets_our_sdp(id);
            if let Some(call) = self.calls.get_mut(&id) {
                call.early_media = true;
            }
        }
        self.layer.respond(tx, out, now);
    }

    pub(super) fn on_branch_failed(&mut self, id: CallId, n: usize, status: u16, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dial) = call.dial.as_mut() else {
            return;
        };
        if let Some(branch) = dial.branches.get_mut(n) {
            if branch.final_status.is_none() {
                branch.final_status = Some(status);
            }
            self.client_txs.remove(&branch.tx);
        }
        let all_failed = dial.branches.iter().all(Branch::done) && call.b.is_none();
        if all_failed && dial.waiting {
            let status = dial.failure_status();
            tracing::info!(call = %id, dialstatus = status.as_str(), "Dial failed");
            call.fail_status = status.sip_status();
            self.finish_dial(id, status, now);
        }
        self.forget_if_settled(id, now);
    }

    /// Dial's timeout: cancel the branches, report NOANSWER.
    pub(super) fn dial_timeout(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.dial.is_none() {
            return;
        }
        tracing::info!(call = %id, "Dial: no answer");
        call.fail_status = DialStatus::NoAnswer.sip_status();
        self.finish_dial(id, DialStatus::NoAnswer, now);
        self.cancel_branches(id, None, now);
    }

    /// CANCELs every pending branch except `keep`.
    pub(super) fn cancel_branches(&mut self, id: CallId, keep: Option<usize>, now: Instant) {
        let Some(dial) = self.calls.get_mut(&id).and_then(|c| c.dial.as_mut()) else {
            return;
        };
        let mut cancels = Vec::new();
        for (n, branch) in dial.branches.iter_mut().enumerate() {
            if Some(n) == keep || branch.done() {
                continue;
            }
            if branch.provisional {
                cancels.push((cancel_for(&branch.invite), branch.peer));
            } else {
                branch.cancel_pending = true;
            }
        }
        for (cancel, peer) in cancels {
            let ctx = self.layer.send_request(cancel, peer, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Other));
        }
    }
}

/// What we offer a callee: the caller's codecs first, then the other G.711 law:
/// the relay converts between the two, so a callee that lacks the caller's law
/// still connects.
pub(super) fn callee_offer(codecs: &[sdp::Codec]) -> Vec<sdp::Codec> {
    let mut offer = codecs.to_vec();
    for other in [sdp::Codec::pcmu(), sdp::Codec::pcma()] {
        if !offer
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&other.name))
        {
            offer.push(other);
        }
    }
    offer
}
