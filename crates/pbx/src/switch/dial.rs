//! `Dial`: fork an INVITE to every registered contact of the dialled endpoints, relay
//! ringing and early media to an unanswered caller, bridge the first to answer, cancel
//! the rest, and report the outcome (`DIALSTATUS`) to the channel task.

use std::time::{Duration, Instant, SystemTime};

use media::sdp::{self, Direction};
use media::Side;
use sip::{new_call_id, new_tag, Message, Method, NameAddr, Peer, Response, Uri};
use tokio::sync::oneshot;

use super::call::{Branch, CallId, CallState, DialState, Leg, LegSide};
use super::dialog::Dialog;
use super::setup::{
    cancel_for, contact_peer, contact_target, rtcp_addr, rtp_addr, set_to_tag, ContactTarget,
};
use super::{Switch, TxPurpose};
use crate::chan::{DialOutcome, DialStatus};

impl Switch {
    pub(super) async fn on_dial(
        &mut self,
        id: CallId,
        endpoints: Vec<String>,
        timeout: Option<Duration>,
        vars: Vec<(String, String)>,
        reply: oneshot::Sender<DialOutcome>,
        now: Instant,
    ) {
        let busy_with_dial = self
            .calls
            .get(&id)
            .map(|c| c.dial.as_ref().is_some_and(|d| d.reply.is_some()));
        let gone = self
            .calls
            .get(&id)
            .is_none_or(|c| c.state == CallState::Ending);
        if gone || busy_with_dial == Some(true) {
            let _ = reply.send(DialOutcome {
                status: DialStatus::Cancel,
            });
            return;
        }
        let mut branches = Vec::new();
        for endpoint in &endpoints {
            match self.store.get_extension(endpoint).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::info!(%endpoint, "Dial: no such extension");
                    continue;
                }
                Err(e) => {
                    tracing::error!("store lookup failed: {e}");
                    continue;
                }
            }
            for binding in self.registrar.lookup(endpoint, now) {
                if let Some(branch) =
                    self.new_branch(id, endpoint, &binding.contact_uri, binding.source)
                {
                    branches.push(branch);
                }
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let callee = endpoints.join("&");
        if branches.is_empty() {
            tracing::info!(call = id, %callee, "Dial: nothing to ring");
            call.fail_status = DialStatus::ChanUnavail.sip_status();
            let _ = reply.send(DialOutcome {
                status: DialStatus::ChanUnavail,
            });
            return;
        }
        let deadline = now + timeout.unwrap_or(self.cfg.no_answer_timeout);
        self.dial_deadlines.push(std::cmp::Reverse((deadline, id)));
        let mut dial = DialState {
            branches: Vec::new(),
            deadline: Some(deadline),
            reply: Some(reply),
            callee,
            answered_at: None,
            vars,
        };
        for (n, (invite, peer, channel, dialog)) in branches.into_iter().enumerate() {
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
            });
        }
        call.dial = Some(dial);
    }

    /// Builds (does not send) the INVITE towards one contact, offering our B-side media:
    /// the request, where to send it, the new channel's name and its dialog.
    fn new_branch(
        &mut self,
        id: CallId,
        endpoint: &str,
        contact_uri: &str,
        source: Peer,
    ) -> Option<(sip::Request, Peer, String, Dialog)> {
        let target = contact_uri.parse::<Uri>().ok()?;
        let peer = contact_peer(&target, source);
        let (caller_number, caller_name) = {
            let call = self.calls.get(&id)?;
            let name = call.a.dialog.remote.display.clone();
            (call.caller.clone(), name)
        };
        let mut dialog = Dialog {
            call_id: new_call_id(&self.via_host),
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
        invite.headers.push("Content-Type", "application/sdp");
        let call = self.calls.get_mut(&id)?;
        let b_port = call.bridge.as_ref().map_or(0, |b| b.port(Side::B));
        // The caller's codecs first, then the other G.711 law: the relay converts
        // between the two, so a callee that lacks the caller's law still connects.
        let mut offer = call.codecs.clone();
        for other in [sdp::Codec::pcmu(), sdp::Codec::pcma()] {
            if !offer
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&other.name))
            {
                offer.push(other);
            }
        }
        invite.body = sdp::build_sdp(
            &mut call.b_origin,
            false,
            media_ip,
            b_port,
            &offer,
            call.dtmf.as_ref(),
            Direction::SendRecv,
            call.ptime,
        );
        Some((invite, peer, channel, dialog))
    }

    pub(super) async fn on_branch_response(
        &mut self,
        id: CallId,
        n: usize,
        resp: Response,
        now: Instant,
    ) {
        let status = resp.status;
        if status >= 300 {
            return self.on_branch_failed(id, n, status, now).await;
        }
        if status < 200 {
            return self.on_branch_provisional(id, n, resp, now);
        }
        self.on_branch_answered(id, n, resp, now).await;
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
        if branch.cancel_pending {
            branch.cancel_pending = false;
            let cancel = cancel_for(&branch.invite);
            let peer = branch.peer;
            let ctx = self.layer.send_request(cancel, peer, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Other));
            return;
        }
        if call.state != CallState::Ringing || call.dial.as_ref().is_none_or(|d| d.reply.is_none())
        {
            return;
        }
        // Early media: the callee's SDP sets where B's audio goes, and the caller gets
        // our SDP in a 183 so it hears ringback or announcements from the far end.
        let answer = (!resp.body.is_empty())
            .then(|| sdp::parse_audio(&resp.body).ok())
            .flatten();
        if let (Some(answer), Some(bridge)) = (&answer, call.bridge.as_ref()) {
            bridge.set_remote(Side::B, rtp_addr(answer), rtcp_addr(answer));
            call.early_media = true;
        }
        let status = if answer.is_some() { 183 } else { 180 };
        self.provisional_to_caller(id, status, now);
    }

    /// Sends 180/183 to an unanswered caller (183 carries our SDP).
    pub(super) fn provisional_to_caller(&mut self, id: CallId, status: u16, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let (Some(tx), CallState::Ringing) = (call.invite_tx, call.state) else {
            return;
        };
        let (invite, tag, peer) = (
            call.invite.clone(),
            call.a.dialog.local_tag.clone(),
            call.a.dialog.peer,
        );
        let mut out = self.response(&invite, status);
        set_to_tag(&mut out, &tag);
        out.headers.push("Contact", self.contact(peer));
        if status == 183 {
            out.headers.push("Content-Type", "application/sdp");
            out.body = self.a_sdp(id, false, Direction::SendRecv);
            if let Some(call) = self.calls.get_mut(&id) {
                call.early_media = true;
            }
        }
        self.layer.respond(tx, out, now);
    }

    async fn on_branch_answered(&mut self, id: CallId, n: usize, resp: Response, now: Instant) {
        let via_host = self.via_host.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dial) = call.dial.as_mut() else {
            return;
        };
        let Some(branch) = dial.branches.get_mut(n) else {
            return;
        };
        // A retransmitted 2xx: our ACK was lost.
        if let Some(ack) = &branch.ack {
            self.layer
                .send_stateless(Message::Request(ack.clone()), branch.peer);
            return;
        }
        branch.final_status = Some(resp.status);
        let mut dialog = branch.dialog.clone();
        dialog.remote_tag = resp
            .to()
            .ok()
            .and_then(|t| t.tag().map(str::to_string))
            .unwrap_or_default();
        if let Some(ContactTarget(uri)) = contact_target(&resp) {
            dialog.remote_target = uri;
        }
        dialog.route_set = resp
            .headers
            .get_all("Record-Route")
            .map(str::to_string)
            .collect();
        dialog.route_set.reverse();
        let contact = super::contact_for(&via_host, dialog.peer.transport);
        let ack = dialog.request(Method::Ack, &via_host, &contact);
        branch.ack = Some(ack.clone());
        let channel = branch.channel.clone();
        self.layer
            .send_stateless(Message::Request(ack), dialog.peer);

        let dialling = dial.reply.is_some() && call.b.is_none();
        if call.state == CallState::Ending || !dialling {
            // Another contact answered first, or the caller gave up: hang this one up.
            let bye = dialog.request(Method::Bye, &via_host, &contact);
            let ctx = self.layer.send_request(bye, dialog.peer, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Other));
            self.forget_if_settled(id);
            return;
        }
        match sdp::parse_audio(&resp.body) {
            Ok(answer) => {
                if let Some(bridge) = call.bridge.as_ref() {
                    bridge.set_remote(Side::B, rtp_addr(&answer), rtcp_addr(&answer));
                }
                // An unanswered caller gets the callee's choice when it offered that
                // codec too (no conversion at all); otherwise its own first codec,
                // and the relay converts.
                if let Ok((codecs, dtmf)) = sdp::negotiate(&answer, &["PCMU", "PCMA"]) {
                    if call.state == CallState::Ringing {
                        let chosen = codecs.first().and_then(|b| {
                            call.codecs
                                .iter()
                                .find(|a| a.name.eq_ignore_ascii_case(&b.name))
                                .cloned()
                        });
                        match chosen {
                            Some(c) => call.codecs = vec![c],
                            None => call.codecs.truncate(1),
                        }
                        call.dtmf = call.dtmf.take().filter(|_| dtmf.is_some());
                    }
                }
            }
            Err(e) if !call.early_media => {
                tracing::warn!("callee answered without usable SDP: {e}")
            }
            Err(_) => {}
        }
        tracing::info!(a = %call.a.channel, b = %channel, "answered");
        if let Some(media) = call.bridge.as_ref().map(|b| b.control()) {
            if let Ok(answer) = sdp::parse_audio(&resp.body) {
                super::setup::set_bridge_codec(
                    &media,
                    Side::B,
                    &answer.codecs,
                    answer.dtmf.as_ref(),
                );
            }
            let spygroup = call
                .dial
                .as_ref()
                // `__SPYGROUP` keeps its marks so it can travel further.
                .and_then(|d| {
                    d.vars
                        .iter()
                        .find(|(k, _)| k.trim_start_matches('_') == "SPYGROUP")
                })
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let endpoint = crate::channel::endpoint_of(&channel)
                .unwrap_or_default()
                .to_string();
            // The agent's extension groups, and for a call from a trunk the groups
            // inbound rules (trunk, dialled range) give it, add to what the
            // dialplan passed down.
            let trunk = call.trunk.clone();
            let mut static_groups = self.store.groups_of(&endpoint).await.unwrap_or_default();
            if let Some(trunk) = trunk {
                match self.store.inbound_groups(&trunk, &endpoint).await {
                    Ok(groups) => static_groups.extend(groups),
                    Err(e) => tracing::warn!("cannot read inbound monitoring rules: {e}"),
                }
            }
            self.registry.insert(crate::registry::ChannelEntry {
                name: channel.clone(),
                endpoint,
                bridge: media,
                side: Side::B,
                spygroup,
                static_groups,
                bridged_to: None,
                spying: false,
                spying_on: None,
            });
            self.registry.bridge(&call.a.channel, &channel);
            self.events.emit(
                "call.answer",
                serde_json::json!({ "call": id, "channel": call.a.channel, "peer": channel }),
            );
        }
        call.b = Some(Leg {
            channel,
            dialog: dialog.clone(),
        });
        if let Some(dial) = call.dial.as_mut() {
            dial.deadline = None;
            dial.answered_at = Some(SystemTime::now());
        }
        self.dialogs.insert(
            (dialog.call_id.clone(), dialog.local_tag.clone()),
            (id, LegSide::B),
        );
        self.cancel_branches(id, Some(n), now);
        self.answer_caller(id, now);
        if let Some(call) = self.calls.get(&id) {
            if call.virtual_a {
                let b = call
                    .b
                    .as_ref()
                    .map(|b| b.channel.clone())
                    .unwrap_or_default();
                let _ = call.events.send(crate::chan::ChanEvent::Answered(b));
            }
        }
    }

    /// 200 OK to the caller with our A-side SDP, if it is still ringing.
    pub(super) fn answer_caller(&mut self, id: CallId, now: Instant) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        match call.state {
            CallState::Answered => return true,
            CallState::Ending => return false,
            CallState::Ringing => {}
        }
        let Some(tx) = call.invite_tx else {
            return false;
        };
        if call.b.is_none() {
            // The PBX answers itself: settle on one codec, so a later Dial can offer
            // the callee exactly what the caller sends (the relay does not transcode).
            if let Some(call) = self.calls.get_mut(&id) {
                call.codecs.truncate(1);
            }
        }
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        let (invite, tag, peer) = (
            call.invite.clone(),
            call.a.dialog.local_tag.clone(),
            call.a.dialog.peer,
        );
        let mut ok = self.response(&invite, 200);
        set_to_tag(&mut ok, &tag);
        ok.headers.push("Contact", self.contact(peer));
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = self.a_sdp(id, false, Direction::SendRecv);
        self.layer.respond(tx, ok, now);
        if let Some(call) = self.calls.get(&id) {
            // What we just answered is what the caller's phone will send.
            if let Some(bridge) = call.bridge.as_ref() {
                super::setup::set_bridge_codec(
                    &bridge.control(),
                    Side::A,
                    &call.codecs,
                    call.dtmf.as_ref(),
                );
            }
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.invite_tx = None;
            call.state = CallState::Answered;
            call.answered = Some(SystemTime::now());
        }
        true
    }

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
        let bridge_side = match side {
            LegSide::A => Side::A,
            LegSide::B => Side::B,
        };
        let port = call.bridge.as_ref().map_or(0, |b| b.port(bridge_side));
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

    pub(super) async fn on_branch_failed(
        &mut self,
        id: CallId,
        n: usize,
        status: u16,
        _now: Instant,
    ) {
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
        if all_failed && dial.reply.is_some() {
            let status = dial.failure_status();
            tracing::info!(call = id, dialstatus = status.as_str(), "Dial failed");
            dial.deadline = None;
            dial.finish(status);
            call.fail_status = status.sip_status();
        }
        self.forget_if_settled(id);
    }

    /// Dial's timeout: cancel the branches, report NOANSWER.
    pub(super) fn dial_timeout(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dial) = call.dial.as_mut() else {
            return;
        };
        dial.deadline = None;
        tracing::info!(call = id, "Dial: no answer");
        dial.finish(DialStatus::NoAnswer);
        call.fail_status = DialStatus::NoAnswer.sip_status();
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
