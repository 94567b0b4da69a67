//! `Dial`, the answering half: the first branch to answer is ACKed and bridged with
//! the caller (who gets our 200 OK), the others are cancelled or, if they answered
//! too, hung up; the callee's channel joins the live-channel table with its spy
//! groups. Also the PBX answering a caller itself (`Answer`).

use std::time::Instant;

use media::sdp::{self, Direction};
use media::Side;
use sip::{Message, Method, Response};

use super::call::{CallId, CallState, Leg, LegSide};
use super::dialog::{contact_target, set_to_tag, ContactTarget};
use super::output::{ChannelInfo, Role};
use super::setup::epoch_ms;
use super::{Switch, TxPurpose};
use crate::chan::ChanEvent;
use crate::events::Event;

impl Switch {
    pub(super) fn on_branch_answered(
        &mut self,
        id: CallId,
        n: usize,
        resp: Response,
        now: Instant,
    ) {
        let via_host = self.via_host.clone();
        let wall = self.wall(now);
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
        let crypto = branch.crypto.clone();
        self.layer
            .send_stateless(Message::Request(ack), dialog.peer);

        let dialling = dial.waiting && call.b.is_none();
        if call.state == CallState::Ending || !dialling {
            // Another contact answered first, or the caller gave up: hang this one up.
            let bye = dialog.request(Method::Bye, &via_host, &contact);
            let ctx = self.layer.send_request(bye, dialog.peer, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Other));
            self.forget_if_settled(id, now);
            return;
        }
        let answer = sdp::parse_audio(&resp.body);
        match &answer {
            Ok(answer) => {
                // An unanswered caller gets the callee's choice when it offered that
                // codec too (no conversion at all); otherwise its own first codec,
                // and the relay converts. A late-offer caller gets both laws offered.
                if let Ok((codecs, dtmf)) = sdp::negotiate(answer, &["PCMU", "PCMA"]) {
                    if call.state == CallState::Ringing && !call.late_offer {
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
        let (a_channel, call_ref, trunk) = (
            call.a.channel.clone(),
            call.public_id.clone(),
            call.trunk.clone(),
        );
        // `__SPYGROUP` keeps its marks so it can travel further.
        let spygroup = call
            .dial
            .as_ref()
            .and_then(|d| {
                d.vars
                    .iter()
                    .find(|(k, _)| k.trim_start_matches('_') == "SPYGROUP")
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let bridge = call.bridge.map(|b| b.id);
        call.b = Some(Leg {
            channel: channel.clone(),
            dialog: dialog.clone(),
            crypto: crypto.clone(),
            session: None,
        });
        if let Some(dial) = call.dial.as_mut() {
            dial.deadline = None;
            dial.answered_at = Some(wall);
        }
        self.callee_timer(id, &resp, now);
        if let Some(bridge) = bridge {
            if let Ok(answer) = &answer {
                self.set_remote(bridge, Side::B, answer, crypto.as_ref());
                self.set_codec(bridge, Side::B, &answer.codecs, answer.dtmf.as_ref());
            }
            let endpoint = crate::channel::endpoint_of(&channel)
                .unwrap_or_default()
                .to_string();
            let b = ChannelInfo::party(
                channel.clone(),
                call_ref.clone(),
                endpoint.clone(),
                endpoint,
                bridge,
                Side::B,
                Role::Callee,
                epoch_ms(wall),
            );
            // The agent of a call from a trunk: inbound rules give it groups.
            let inbound = trunk.clone();
            self.channels.up(
                ChannelInfo {
                    spygroup,
                    inbound,
                    ..b
                },
                &mut self.out,
            );
            self.channels.bridge(&a_channel, &channel, &mut self.out);
            self.emit(Event::CallAnswer {
                call: call_ref,
                channel: a_channel,
                peer: channel.clone(),
            });
        }
        self.dialogs.insert(
            (dialog.call_id.clone(), dialog.local_tag.clone()),
            (id, LegSide::B),
        );
        self.cancel_branches(id, Some(n), now);
        self.answer_caller(id, now);
        self.queue_answered(id, &channel, now);
        if self.calls.get(&id).is_some_and(|c| c.virtual_a) {
            self.tell_chan(id, ChanEvent::PlacedAnswered(channel));
        }
    }

    /// 200 OK to the caller with our A-side SDP, if it is still ringing.
    pub(super) fn answer_caller(&mut self, id: CallId, now: Instant) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
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
        if call.b.is_none() && !call.late_offer {
            // The PBX answers itself: settle on one codec, so a later Dial can offer
            // the callee exactly what the caller sends.
            call.codecs.truncate(1);
        }
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
        self.answer_caller_timer(id, &mut ok, now);
        self.caller_gets_our_sdp(id);
        self.layer.respond(tx, ok, now);
        let wall = self.wall(now);
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        call.invite_tx = None;
        call.state = CallState::Answered;
        call.answered = Some(wall);
        // What we just answered is what the caller's phone will send; after a late
        // offer the phone's answer (in the ACK) says it instead.
        if !call.late_offer {
            let (codecs, dtmf) = (call.codecs.clone(), call.dtmf.clone());
            if let Some(bridge) = call.bridge.map(|b| b.id) {
                self.set_codec(bridge, Side::A, &codecs, dtmf.as_ref());
            }
        }
        true
    }
}
