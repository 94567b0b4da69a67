//! A new call: the INVITE is authenticated (digest for extensions, source address for
//! trunks), given anchored media, and handed to a channel task that runs the
//! caller's dialplan.
//!
//! An INVITE without SDP (late offer, RFC 3261 13.2.1) is accepted: the PBX then
//! makes the offer in its 200 OK and takes the phone's answer from the ACK.

use std::time::Instant;

use media::sdp;
use media::Side;
use sip::transaction::ServerTxId;
use sip::{Peer, Request, Uri};

use super::auth::AuthOutcome;
use super::call::{Call, CallId, CallSetup, Leg, LegCrypto, LegSide};
use super::dialog::uas_dialog;
use super::output::{ChannelInfo, Output, Role, Spawn, SpawnKind};
use super::Switch;
use crate::chan::CallerInfo;
use crate::events::Event;

impl Switch {
    pub(super) fn on_new_invite(&mut self, tx: ServerTxId, req: Request, peer: Peer, now: Instant) {
        let caller = match self.identify_caller(tx, &req, peer, now) {
            Identified::Caller(c) => c,
            Identified::Answered => return,
            Identified::Unknown => return self.park(tx, req, peer, now),
        };
        if let Err(over) = self.admission.admit(self.calls.len(), now) {
            tracing::warn!(caller = %caller.number, "new call refused, overloaded: {}", over.reason());
            let mut resp = self.response(&req, 503);
            resp.headers.push("Retry-After", "5");
            resp.headers.push(
                "Warning",
                format!("399 spygroup \"overloaded: {}\"", over.reason()),
            );
            return self.layer.respond(tx, resp, now);
        }
        self.respond(tx, &req, 100, now);
        let dialled = req.uri.user.clone().unwrap_or_default();
        // Like Asterisk: a number with no extension in the caller's context is 404.
        if !self.plan.plan.exists(&caller.context, &dialled) {
            tracing::info!(caller = %caller.number, context = %caller.context, %dialled, "no such extension");
            return self.respond(tx, &req, 404, now);
        }
        if super::session_timer::caller_timer(&req).is_err() {
            let mut resp = self.response(&req, 422);
            resp.headers
                .push("Min-SE", super::session_timer::MIN_SE.to_string());
            return self.layer.respond(tx, resp, now);
        }
        let late_offer = req.body.is_empty();
        let (offer, codecs, dtmf) = if late_offer {
            // We will offer both G.711 laws and telephone-events in our 200.
            let codecs = vec![sdp::Codec::pcmu(), sdp::Codec::pcma()];
            (None, codecs, Some(sdp::Codec::telephone_event(101)))
        } else {
            let offer = match sdp::parse_audio(&req.body) {
                Ok(offer) => offer,
                Err(e) => return self.reject_sdp(tx, &req, &e.to_string(), now),
            };
            match sdp::negotiate(&offer, &["PCMU", "PCMA"]) {
                Ok((codecs, dtmf)) => (Some(offer), codecs, dtmf),
                Err(e) => return self.reject_sdp(tx, &req, &e.to_string(), now),
            }
        };
        // SRTP towards the caller: our answer to its crypto (or, for a late offer
        // from an extension that requires SRTP, our own offer in the 200).
        let must_srtp = caller.trunk.is_none() && self.requires_srtp(&caller.endpoint);
        let a_crypto = match &offer {
            Some(o) => LegCrypto::answer(o),
            None => must_srtp.then(|| LegCrypto::offer(sdp::RtpProfile::Savp)),
        };
        if must_srtp && a_crypto.is_none() {
            let why = format!(
                "extension {} must use SRTP (RTP/SAVP with an SDES a=crypto line)",
                caller.number
            );
            return self.reject_sdp(tx, &req, &why, now);
        }
        let bridge = match self.media.open() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("no media ports for a new call: {e}");
                return self.respond(tx, &req, 503, now);
            }
        };
        // Where the caller receives reaches the bridge with our answer
        // (`caller_gets_our_sdp`): till then the caller cannot be sending to us.
        if offer.is_some() {
            self.set_codec(bridge.id, Side::A, &codecs, dtmf.as_ref());
        }

        let id = self.new_call_id();
        let wall = self.wall(now);
        let a_channel = self.namer.name(&caller.endpoint);
        let a = Leg {
            channel: a_channel.clone(),
            dialog: uas_dialog(&req, peer),
            crypto: a_crypto,
            session: None,
        };
        let ptime = offer.as_ref().and_then(|o| o.ptime);
        let setup = CallSetup {
            caller: caller.number.clone(),
            dialled: dialled.clone(),
            codecs,
            dtmf,
            ptime,
        };
        let mut call = Call::new(id, a, req, bridge, setup, wall);
        call.invite_tx = Some(tx);
        call.late_offer = late_offer;
        call.trunk = caller.trunk.clone();
        let call_ref = call.public_id.clone();
        tracing::info!(channel = %a_channel, call_id = %call.a.dialog.call_id, caller = %caller.number, %dialled, late_offer, "new call");
        self.dialogs.insert(
            (
                call.a.dialog.call_id.clone(),
                call.a.dialog.local_tag.clone(),
            ),
            (id, LegSide::A),
        );
        self.server_invites.insert(tx, id);
        self.emit(Event::CallStart {
            call: call.public_id.clone(),
            channel: a_channel.clone(),
            caller: caller.number.clone(),
            dialled: dialled.clone(),
        });
        self.calls.insert(id, call);
        let a = ChannelInfo::party(
            a_channel.clone(),
            call_ref,
            caller.endpoint.clone(),
            caller.number.clone(),
            bridge.id,
            Side::A,
            Role::Caller,
            epoch_ms(wall),
        );
        let trunk = caller.trunk.is_some();
        self.channels.up(ChannelInfo { trunk, ..a }, &mut self.out);
        self.out.push_back(Output::Spawn(Spawn {
            call: id,
            bridge: bridge.id,
            channel: a_channel,
            kind: SpawnKind::Dialplan {
                caller,
                dialled,
                plan: self.plan.clone(),
            },
        }));
    }

    /// Trunks are recognised by source address; everyone else must be an extension
    /// with valid digest credentials. Sends the rejection itself.
    fn identify_caller(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        peer: Peer,
        now: Instant,
    ) -> Identified {
        if let Some(trunk) = self
            .config
            .trunk_by_source(peer.addr.ip(), peer.addr.port())
        {
            let from = req.from().ok();
            return Identified::Caller(CallerInfo {
                endpoint: trunk.name.clone(),
                number: from
                    .as_ref()
                    .and_then(|f| f.uri.user.clone())
                    .unwrap_or_else(|| trunk.name.clone()),
                name: from.and_then(|f| f.display),
                context: trunk.context.clone(),
                trunk: Some(trunk.name.clone()),
            });
        }
        let may_wait = self.may_park();
        match self
            .auth
            .check(req, peer.addr.ip(), &self.config, may_wait, now)
        {
            AuthOutcome::Accepted(ext) => {
                if self.refused_without_tls(tx, req, &ext, peer, now) {
                    return Identified::Answered;
                }
                Identified::Caller(CallerInfo {
                    endpoint: ext.number.clone(),
                    number: ext.number.clone(),
                    name: ext.name.clone().filter(|n| !n.is_empty()),
                    context: ext.context.clone(),
                    trunk: None,
                })
            }
            AuthOutcome::Reject(resp) => {
                // Its source is not authenticated and may be forged: one answer per
                // INVITE received, no retransmissions aimed at someone else.
                self.layer.respond_once(tx, resp, now);
                Identified::Answered
            }
            AuthOutcome::Unknown => Identified::Unknown,
        }
    }

    fn reject_sdp(&mut self, tx: ServerTxId, req: &Request, why: &str, now: Instant) {
        tracing::info!("rejecting offer: {why}");
        let mut resp = self.response(req, 488);
        resp.headers
            .push("Warning", format!("304 spygroup \"{why}\""));
        self.layer.respond(tx, resp, now);
    }

    pub(super) fn new_call_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        id
    }

    /// `sip:user@<our address>`, for the identities we present on the callee's leg.
    pub(super) fn local_uri(&self, user: &str) -> Uri {
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
}

/// Who a new INVITE is from.
enum Identified {
    Caller(CallerInfo),
    /// Refused or challenged: the response is sent.
    Answered,
    /// A user this snapshot does not know: ask again with a fresher one.
    Unknown,
}

/// The id the API and the call record show for a call: `<start epoch ms>-<n>`,
/// unique across restarts and safe in a URL path.
pub(super) fn public_id(started: std::time::SystemTime, id: CallId) -> String {
    format!("{}-{}", epoch_ms(started), id.0)
}

pub(super) fn epoch_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
