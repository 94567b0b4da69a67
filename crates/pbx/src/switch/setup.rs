//! A new call: the INVITE is authenticated (digest for extensions, source address for
//! trunks), given anchored media, and handed to a channel task that decides what
//! happens (the dialplan; for now the core's fixed rule).

use std::time::{Instant, SystemTime};

use media::sdp::{self, SdpOrigin};
use media::Side;
use sip::transaction::ServerTxId;
use sip::{new_tag, Method, NameAddr, Peer, Request, Response, Uri};
use tokio::sync::mpsc;

use super::auth::AuthOutcome;
use super::call::{Call, CallState, Leg, LegSide};
use super::dialog::Dialog;
use super::Switch;
use crate::chan::{self, CallerInfo, Channel};
use crate::registry::ChannelEntry;

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
        // Like Asterisk: a number with no extension in the caller's context is 404.
        if !self.plan.plan.exists(&caller.context, &dialled) {
            tracing::info!(caller = %caller.number, context = %caller.context, %dialled, "no such extension");
            return self.respond(tx, &req, 404, now);
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
        set_bridge_codec(&bridge.control(), Side::A, &codecs, dtmf.as_ref());

        let id = self.next_call;
        self.next_call += 1;
        let a_channel = self.namer.name(&caller.endpoint);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let call = Call {
            id,
            state: CallState::Ringing,
            a: Leg {
                channel: a_channel.clone(),
                dialog: uas_dialog(&req, peer),
            },
            b: None,
            dial: None,
            invite_tx: Some(tx),
            invite: req,
            bridge: Some(bridge),
            codecs,
            dtmf,
            ptime: offer.ptime,
            a_origin: SdpOrigin::new(),
            b_origin: SdpOrigin::new(),
            caller: caller.number.clone(),
            dialled: dialled.clone(),
            started: SystemTime::now(),
            answered: None,
            early_media: false,
            events: events_tx,
            trunk: caller.trunk.clone(),
            virtual_a: false,
            fail_status: 480,
            no_cdr: false,
            recorded: false,
        };
        tracing::info!(channel = %a_channel, call_id = %call.a.dialog.call_id, caller = %caller.number, %dialled, "new call");
        self.dialogs.insert(
            (
                call.a.dialog.call_id.clone(),
                call.a.dialog.local_tag.clone(),
            ),
            (id, LegSide::A),
        );
        self.server_invites.insert(tx, id);
        self.events.emit(
            "call.start",
            serde_json::json!({
                "call": id,
                "channel": a_channel,
                "caller": caller.number,
                "dialled": dialled,
            }),
        );
        let media = call.bridge.as_ref().map(|b| b.control());
        self.calls.insert(id, call);
        let Some(media) = media else {
            return;
        };
        let static_groups = match &caller.trunk {
            Some(_) => Vec::new(),
            None => self
                .store
                .groups_of(&caller.endpoint)
                .await
                .unwrap_or_default(),
        };
        self.registry.insert(ChannelEntry {
            name: a_channel.clone(),
            endpoint: caller.endpoint.clone(),
            bridge: media.clone(),
            side: Side::A,
            spygroup: String::new(),
            static_groups,
            bridged_to: None,
            spying: false,
            spying_on: None,
        });
        let chan = Channel::new(
            id,
            a_channel,
            caller,
            dialled,
            self.chan_requests.clone(),
            events_rx,
        );
        let env = self.app_env();
        tokio::spawn(chan::run_dialplan(
            chan,
            env,
            self.plan.globals.clone(),
            media,
        ));
    }

    /// Trunks are recognised by source address; everyone else must be an extension
    /// with valid digest credentials. Sends the rejection itself and returns None.
    async fn identify_caller(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        peer: Peer,
        now: Instant,
    ) -> Option<CallerInfo> {
        match self
            .store
            .find_trunk_by_source(peer.addr.ip(), peer.addr.port())
            .await
        {
            Ok(Some(trunk)) => {
                let from = req.from().ok();
                return Some(CallerInfo {
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
            Ok(None) => {}
            Err(e) => {
                tracing::error!("store lookup failed: {e}");
                self.respond(tx, req, 503, now);
                return None;
            }
        }
        match self.auth.check(req, peer.addr.ip(), &self.store, now).await {
            AuthOutcome::Accepted(ext) => Some(CallerInfo {
                endpoint: ext.number.clone(),
                number: ext.number.clone(),
                name: ext.name.clone().filter(|n| !n.is_empty()),
                context: ext.context.clone(),
                trunk: None,
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

pub(super) struct ContactTarget(pub Uri);

pub(super) fn contact_target(resp: &Response) -> Option<ContactTarget> {
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
pub(super) fn cancel_for(invite: &Request) -> Request {
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

/// Where to send requests for a registered contact. Behind NAT the Contact names an
/// address nobody can reach, so the source the REGISTER came from is used (as
/// Asterisk's `nat=force_rport`); when the Contact's IP is the source IP the phone is
/// not NATed and its Contact port is honoured (a phone may register from one port and
/// listen on another). TCP always reuses the phone's connection.
pub(super) fn contact_peer(contact: &Uri, source: Peer) -> Peer {
    if source.transport != sip::Transport::Udp {
        return source;
    }
    match contact.host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip == source.addr.ip() => Peer::new(
            source.transport,
            std::net::SocketAddr::new(ip, contact.port.unwrap_or(5060)),
        ),
        _ => source,
    }
}

/// Tells the bridge which codec a leg's phone uses, so the decode path (prompts,
/// mixing) encodes what that phone negotiated.
pub(super) fn set_bridge_codec(
    media: &media::BridgeControl,
    side: Side,
    codecs: &[media::sdp::Codec],
    dtmf: Option<&media::sdp::Codec>,
) {
    let codec = codecs
        .iter()
        .find_map(|c| media::codec::AudioCodec::from_payload_type(c.pt).ok())
        .unwrap_or(media::codec::AudioCodec::Pcmu);
    media.set_codec(side, codec, dtmf.map(|d| d.pt));
}

#[cfg(test)]
mod tests {
    use super::contact_peer;
    use sip::{Peer, Transport, Uri};

    fn peer(t: Transport, a: &str) -> Peer {
        Peer::new(t, a.parse().unwrap())
    }

    #[test]
    fn nat_contacts_use_the_source() {
        let c: Uri = "sip:101@192.168.1.20:5062".parse().unwrap();
        let src = peer(Transport::Udp, "203.0.113.7:40001");
        assert_eq!(contact_peer(&c, src), src);
    }

    #[test]
    fn direct_contacts_keep_their_port() {
        let c: Uri = "sip:101@127.0.0.1:5070".parse().unwrap();
        let src = peer(Transport::Udp, "127.0.0.1:40001");
        assert_eq!(
            contact_peer(&c, src),
            peer(Transport::Udp, "127.0.0.1:5070")
        );
        let c: Uri = "sip:101@127.0.0.1".parse().unwrap();
        assert_eq!(
            contact_peer(&c, src),
            peer(Transport::Udp, "127.0.0.1:5060")
        );
    }

    #[test]
    fn tcp_reuses_the_connection() {
        let c: Uri = "sip:101@127.0.0.1:5070;transport=tcp".parse().unwrap();
        let src = peer(Transport::Tcp, "127.0.0.1:40001");
        assert_eq!(contact_peer(&c, src), src);
    }
}
