//! Setting up a call: a new INVITE from an extension or a trunk is authenticated,
//! routed, given anchored media, and forked to every registered contact of the callee;
//! the first contact to answer wins and the others are cancelled.

use std::time::{Instant, SystemTime};

use media::sdp::{self, Direction, SdpOrigin};
use media::Side;
use sip::transaction::ServerTxId;
use sip::{new_call_id, new_tag, Message, Method, NameAddr, Peer, Request, Response, Uri};

use super::auth::AuthOutcome;
use super::call::{Branch, Call, CallId, CallState, Leg, LegSide};
use super::dialog::Dialog;
use super::{Switch, TxPurpose};
use crate::routing::{fixed_route, Origin, Route};

/// Who is calling, once the INVITE has been authenticated.
struct Caller {
    origin: Origin,
    number: String,
    name: Option<String>,
}

impl Switch {
    pub(super) async fn on_new_invite(
        &mut self,
        tx: ServerTxId,
        req: Request,
        peer: Peer,
        now: Instant,
    ) {
        let Some(caller) = self.identify_caller(tx, &req, peer, now).await else {
            return;
        };
        self.respond(tx, &req, 100, now);
        let dialled = req.uri.user.clone().unwrap_or_default();
        let callee = match fixed_route(&caller.origin, &dialled) {
            Route::Extension(num) => num,
            Route::NotFound => return self.respond(tx, &req, 404, now),
        };
        match self.store.get_extension(&callee).await {
            Ok(Some(_)) => {}
            Ok(None) => return self.respond(tx, &req, 404, now),
            Err(e) => {
                tracing::error!("store lookup failed: {e}");
                return self.respond(tx, &req, 503, now);
            }
        }
        let bindings = self.registrar.lookup(&callee, now);
        if bindings.is_empty() {
            return self.respond(tx, &req, 480, now);
        }
        let offer = match sdp::parse_audio(&req.body) {
            Ok(offer) => offer,
            Err(e) => return self.reject_sdp(tx, &req, &e.to_string(), now),
        };
        let (codecs, dtmf) = match sdp::negotiate(&offer, &["PCMU", "PCMA"]) {
            Ok(n) => n,
            Err(e) => return self.reject_sdp(tx, &req, &e.to_string(), now),
        };
        let bridge = match self.media.open_bridge().await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("no media ports for a new call: {e}");
                return self.respond(tx, &req, 503, now);
            }
        };
        bridge.set_remote(Side::A, rtp_addr(&offer), rtcp_addr(&offer));

        let id = self.next_call;
        self.next_call += 1;
        let a_channel = self.namer.name(&caller.origin.endpoint);
        let a_dialog = uas_dialog(&req, peer);
        let mut call = Call {
            id,
            state: CallState::Ringing,
            a: Leg {
                channel: a_channel.clone(),
                dialog: a_dialog,
            },
            b: None,
            branches: Vec::new(),
            invite_tx: Some(tx),
            invite: req,
            bridge: Some(bridge),
            codecs,
            dtmf,
            ptime: offer.ptime,
            a_origin: SdpOrigin::new(),
            b_origin: SdpOrigin::new(),
            caller: caller.number.clone(),
            callee: callee.clone(),
            started: SystemTime::now(),
            answered: None,
            deadline: Some(now + self.cfg.no_answer_timeout),
            early_media: false,
            recorded: false,
        };
        let _span =
            tracing::info_span!("call", channel = %a_channel, call_id = %call.a.dialog.call_id)
                .entered();
        tracing::info!(caller = %caller.number, %callee, contacts = bindings.len(), "new call");

        // One INVITE per registered contact, all offering our B-side media.
        let b_port = call.bridge.as_ref().map_or(0, |b| b.port(Side::B));
        for (n, binding) in bindings.iter().enumerate() {
            let Ok(target) = binding.contact_uri.parse::<Uri>() else {
                continue;
            };
            let mut dialog = Dialog {
                call_id: new_call_id(&self.via_host),
                local_tag: new_tag(),
                remote_tag: String::new(),
                local: NameAddr {
                    display: caller.name.clone(),
                    uri: self.local_uri(&caller.number),
                    params: Vec::new(),
                },
                remote: NameAddr {
                    display: None,
                    uri: self.local_uri(&callee),
                    params: Vec::new(),
                },
                remote_target: target,
                route_set: Vec::new(),
                local_cseq: 0,
                remote_cseq: 0,
                peer: binding.source,
            };
            let contact = self.contact(binding.source);
            let mut invite = dialog.request(Method::Invite, &self.via_host, &contact);
            invite.headers.push("Allow", super::ALLOW);
            invite.headers.push("Content-Type", "application/sdp");
            invite.body = sdp::build_sdp(
                &mut call.b_origin,
                false,
                self.cfg.media_ip,
                b_port,
                &call.codecs,
                call.dtmf.as_ref(),
                offer.direction,
                call.ptime,
            );
            let ctx = self.layer.send_request(invite.clone(), binding.source, now);
            self.client_txs.insert(ctx, (id, TxPurpose::Branch(n)));
            call.branches.push(Branch {
                tx: ctx,
                invite,
                peer: binding.source,
                channel: self.namer.name(&callee),
                dialog,
                provisional: false,
                cancel_pending: false,
                ack: None,
                final_status: None,
            });
        }
        drop(_span);
        if call.branches.is_empty() {
            return self.respond(tx, &call.invite, 480, now);
        }
        self.dialogs.insert(
            (
                call.a.dialog.call_id.clone(),
                call.a.dialog.local_tag.clone(),
            ),
            (id, LegSide::A),
        );
        self.server_invites.insert(tx, id);
        self.calls.insert(id, call);
    }

    /// Trunks are recognised by source address; everyone else must be an extension
    /// with valid digest credentials. Sends the rejection itself and returns None.
    async fn identify_caller(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        peer: Peer,
        now: Instant,
    ) -> Option<Caller> {
        match self
            .store
            .find_trunk_by_source(peer.addr.ip(), peer.addr.port())
            .await
        {
            Ok(Some(trunk)) => {
                let from = req.from().ok();
                return Some(Caller {
                    origin: Origin {
                        endpoint: trunk.name.clone(),
                        context: trunk.context.clone(),
                    },
                    number: from
                        .as_ref()
                        .and_then(|f| f.uri.user.clone())
                        .unwrap_or_else(|| trunk.name.clone()),
                    name: from.and_then(|f| f.display),
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!("store lookup failed: {e}");
                self.respond(tx, req, 503, now);
                return None;
            }
        }
        match self.auth.check(req, peer.addr.ip(), &self.store, now).await {
            AuthOutcome::Accepted(ext) => Some(Caller {
                origin: Origin {
                    endpoint: ext.number.clone(),
                    context: ext.context.clone(),
                },
                number: ext.number.clone(),
                name: ext.name.clone().filter(|n| !n.is_empty()),
            }),
            AuthOutcome::Reject(resp) => {
                self.layer.respond(tx, resp, now);
                None
            }
        }
    }

    fn reject_sdp(&mut self, tx: ServerTxId, req: &Request, why: &str, now: Instant) {
        tracing::info!("rejecting offer: {why}");
        let mut resp = self.response(req, 488);
        resp.headers
            .push("Warning", format!("304 spygroup \"{why}\""));
        self.layer.respond(tx, resp, now);
    }

    /// `sip:user@<our address>`, for the identities we present on the callee's leg.
    fn local_uri(&self, user: &str) -> Uri {
        Uri {
            scheme: "sip".into(),
            user: Some(user.to_string()),
            password: None,
            host: self.advertised.ip().to_string(),
            port: Some(self.advertised.port()),
            params: Vec::new(),
            headers: None,
        }
    }

    pub(super) async fn on_branch_response(
        &mut self,
        id: CallId,
        n: usize,
        resp: Response,
        peer: Peer,
        now: Instant,
    ) {
        let status = resp.status;
        if status >= 300 {
            return self.on_branch_failed(id, n, status, now).await;
        }
        if status < 200 {
            return self.on_branch_provisional(id, n, resp, now);
        }
        self.on_branch_answered(id, n, resp, peer, now).await;
    }

    fn on_branch_provisional(&mut self, id: CallId, n: usize, resp: Response, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(branch) = call.branches.get_mut(n) else {
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
        if call.state != CallState::Ringing {
            return;
        }
        // Early media: the callee's SDP sets where B's audio goes, and the caller gets
        // our SDP in a 183 so it hears ringback or announcements from the far end.
        let early = !resp.body.is_empty() && sdp::parse_audio(&resp.body).is_ok();
        if early {
            if let (Ok(answer), Some(bridge)) = (sdp::parse_audio(&resp.body), call.bridge.as_ref())
            {
                bridge.set_remote(Side::B, rtp_addr(&answer), rtcp_addr(&answer));
            }
        }
        let Some(tx) = call.invite_tx else {
            return;
        };
        let (invite, tag, a_peer) = (
            call.invite.clone(),
            call.a.dialog.local_tag.clone(),
            call.a.dialog.peer,
        );
        let status = if early { 183 } else { 180 };
        let mut out = self.response(&invite, status);
        set_to_tag(&mut out, &tag);
        out.headers.push("Contact", self.contact(a_peer));
        if early {
            let call = self.calls.get_mut(&id).expect("call checked above");
            call.early_media = true;
            out.headers.push("Content-Type", "application/sdp");
            out.body = self.a_sdp(id, false, Direction::SendRecv);
        }
        self.layer.respond(tx, out, now);
    }

    async fn on_branch_answered(
        &mut self,
        id: CallId,
        n: usize,
        resp: Response,
        peer: Peer,
        now: Instant,
    ) {
        let via_host = self.via_host.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(branch) = call.branches.get_mut(n) else {
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
        let _ = peer;
        let contact = match dialog.peer.transport {
            sip::Transport::Udp => format!("<sip:spygroup@{via_host}>"),
            sip::Transport::Tcp => format!("<sip:spygroup@{via_host};transport=tcp>"),
        };
        let ack = dialog.request(Method::Ack, &via_host, &contact);
        branch.ack = Some(ack.clone());
        self.layer
            .send_stateless(Message::Request(ack), dialog.peer);

        let call = self.calls.get_mut(&id).expect("call checked above");
        if call.state != CallState::Ringing {
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
                // The callee chose among what we offered (the caller's codecs): answer
                // the caller with the callee's choice.
                if let Ok((codecs, dtmf)) = sdp::negotiate(&answer, &["PCMU", "PCMA"]) {
                    call.codecs = codecs;
                    call.dtmf = dtmf.or(call.dtmf.take()).filter(|_| answer.dtmf.is_some());
                }
            }
            Err(e) if !call.early_media => {
                tracing::warn!("callee answered without usable SDP: {e}");
            }
            Err(_) => {}
        }
        let branch_channel = call.branches[n].channel.clone();
        call.b = Some(Leg {
            channel: branch_channel,
            dialog: dialog.clone(),
        });
        call.state = CallState::Answered;
        call.answered = Some(SystemTime::now());
        call.deadline = None;
        self.dialogs.insert(
            (dialog.call_id.clone(), dialog.local_tag.clone()),
            (id, LegSide::B),
        );
        self.cancel_branches(id, Some(n), now);

        let call = self.calls.get(&id).expect("call checked above");
        tracing::info!(a = %call.a.channel, b = %call.branches[n].channel, "answered");
        let Some(tx) = call.invite_tx else {
            return;
        };
        let mut ok = self.response(&call.invite, 200);
        set_to_tag(&mut ok, &call.a.dialog.local_tag);
        ok.headers.push("Contact", self.contact(call.a.dialog.peer));
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = self.a_sdp(id, false, Direction::SendRecv);
        self.layer.respond(tx, ok, now);
        if let Some(call) = self.calls.get_mut(&id) {
            call.invite_tx = None;
        }
    }

    /// Our SDP towards the caller (leg A).
    pub(super) fn a_sdp(&mut self, id: CallId, bump: bool, direction: Direction) -> Vec<u8> {
        let media_ip = self.cfg.media_ip;
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        let port = call.bridge.as_ref().map_or(0, |b| b.port(Side::A));
        sdp::build_sdp(
            &mut call.a_origin,
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
        now: Instant,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(branch) = call.branches.get_mut(n) {
            if branch.final_status.is_none() {
                branch.final_status = Some(status);
            }
            self.client_txs.remove(&branch.tx);
        }
        let all_failed = call.branches.iter().all(|b| b.done());
        if call.state == CallState::Ringing && all_failed {
            let status = call.best_failure();
            let disposition = match status {
                486 | 600 => store::Disposition::Busy,
                408 | 480 => store::Disposition::NoAnswer,
                _ => store::Disposition::Failed,
            };
            self.fail_caller(id, status, disposition, now).await;
        }
        self.forget_if_settled(id);
    }

    /// The caller gets a final failure; the call ends without having been answered.
    pub(super) async fn fail_caller(
        &mut self,
        id: CallId,
        status: u16,
        disposition: store::Disposition,
        now: Instant,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = CallState::Ending;
        call.deadline = None;
        if let Some(tx) = call.invite_tx.take() {
            let mut resp =
                Response::for_request(&call.invite, status, Response::reason_phrase(status));
            set_to_tag(&mut resp, &call.a.dialog.local_tag);
            resp.headers.push("User-Agent", super::USER_AGENT);
            self.layer.respond(tx, resp, now);
            self.server_invites.remove(&tx);
        }
        self.cancel_branches(id, None, now);
        self.record(id, disposition, "callee").await;
        self.forget_if_settled(id);
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
        self.fail_caller(id, 487, store::Disposition::Cancelled, now)
            .await;
    }

    /// The callee did not answer in time: the caller gets 408.
    pub(super) async fn no_answer(&mut self, id: CallId, now: Instant) {
        tracing::info!(call = id, "no answer");
        self.fail_caller(id, 408, store::Disposition::NoAnswer, now)
            .await;
    }

    /// CANCELs every pending branch except `keep`.
    fn cancel_branches(&mut self, id: CallId, keep: Option<usize>, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut cancels = Vec::new();
        for (n, branch) in call.branches.iter_mut().enumerate() {
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

    /// Forgets an ended call once no branch can still answer.
    pub(super) fn forget_if_settled(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state != CallState::Ending || !call.branches.iter().all(|b| b.done()) {
            return;
        }
        if let Some(call) = self.calls.remove(&id) {
            self.dialogs.retain(|_, (cid, _)| *cid != id);
            self.client_txs.retain(|_, (cid, _)| *cid != id);
            self.server_invites.retain(|_, cid| *cid != id);
            drop(call);
        }
    }
}

/// The caller's leg as a dialog in which we are the UAS.
fn uas_dialog(req: &Request, peer: Peer) -> Dialog {
    let from = req.from().ok();
    let to = req.to().ok();
    let remote_target = req
        .contacts()
        .unwrap_or_default()
        .into_iter()
        .find_map(|c| match c {
            sip::ContactValue::Addr(na) => Some(na.uri),
            sip::ContactValue::Star => None,
        })
        .or_else(|| from.as_ref().map(|f| f.uri.clone()))
        .unwrap_or_else(|| req.uri.clone());
    let strip = |na: Option<NameAddr>| {
        na.map(|mut n| {
            n.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
            n
        })
    };
    let remote_tag = from
        .as_ref()
        .and_then(|f| f.tag().map(str::to_string))
        .unwrap_or_default();
    let local = strip(to).unwrap_or_else(|| NameAddr {
        display: None,
        uri: req.uri.clone(),
        params: Vec::new(),
    });
    let remote = strip(from).unwrap_or_else(|| local.clone());
    Dialog {
        call_id: req.call_id().unwrap_or_default().to_string(),
        local_tag: new_tag(),
        remote_tag,
        local,
        remote,
        remote_target,
        route_set: req
            .headers
            .get_all("Record-Route")
            .map(str::to_string)
            .collect(),
        local_cseq: 1,
        remote_cseq: req.cseq().map(|c| c.seq).unwrap_or(0),
        peer,
    }
}

struct ContactTarget(Uri);

fn contact_target(resp: &Response) -> Option<ContactTarget> {
    resp.contacts()
        .unwrap_or_default()
        .into_iter()
        .find_map(|c| match c {
            sip::ContactValue::Addr(na) => Some(ContactTarget(na.uri)),
            sip::ContactValue::Star => None,
        })
}

/// RFC 3261 9.1: a CANCEL mirrors the INVITE's Request-URI, top Via, From, To, Call-ID
/// and CSeq number, and its Route headers.
fn cancel_for(invite: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
    for name in ["Via", "From", "To", "Call-ID", "Route"] {
        if name == "Via" {
            if let Some(v) = invite.headers.get("Via") {
                cancel.headers.push("Via", v.to_string());
            }
            continue;
        }
        for v in invite.headers.get_all(name) {
            cancel.headers.push(name, v.to_string());
        }
    }
    cancel.headers.push("Max-Forwards", "70");
    if let Ok(cseq) = invite.cseq() {
        cancel.headers.push(
            "CSeq",
            sip::CSeq {
                seq: cseq.seq,
                method: Method::Cancel,
            }
            .to_string(),
        );
    }
    cancel.headers.push("User-Agent", super::USER_AGENT);
    cancel
}

pub(super) fn set_to_tag(resp: &mut Response, tag: &str) {
    if let Some(to) = resp.headers.get("To") {
        if let Ok(mut na) = to.parse::<NameAddr>() {
            na.set_tag(tag);
            resp.headers.set("To", na.to_string());
        }
    }
}

pub(super) fn rtp_addr(desc: &sdp::AudioDescription) -> std::net::SocketAddr {
    std::net::SocketAddr::new(desc.addr, desc.port)
}

pub(super) fn rtcp_addr(desc: &sdp::AudioDescription) -> Option<std::net::SocketAddr> {
    let port = desc.rtcp_port.unwrap_or(desc.port.saturating_add(1));
    Some(std::net::SocketAddr::new(desc.addr, port))
}
