//! One side of a B2BUA call as a SIP dialog (RFC 3261 section 12): the identifiers and
//! route state needed to send in-dialog requests (BYE, re-INVITE) and to match the ones
//! that arrive; and the message helpers around dialogs (CANCEL, To tags, where a
//! contact is reached).

use sip::{new_branch, new_tag, CSeq, Method, NameAddr, Peer, Request, Response, Transport, Uri};

/// Dialog state for one leg. The PBX is UAS on the caller's leg and UAC on the callee's.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our identity in this dialog (From when we send), without the tag.
    pub local: NameAddr,
    /// The other party's identity (To when we send), without the tag.
    pub remote: NameAddr,
    /// Where in-dialog requests go: the remote Contact.
    pub remote_target: Uri,
    /// Route headers for in-dialog requests, in sending order.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    /// Highest CSeq seen from the remote side, to spot retransmissions and reordering.
    pub remote_cseq: u32,
    /// Where the other party is reachable: the source of its messages, which works
    /// through NAT where its Contact may not.
    pub peer: Peer,
}

impl Dialog {
    /// Builds an in-dialog request, with our address for the dialog's transport in
    /// the Via.
    pub fn request(&mut self, method: Method, sent_by: &SentBy, contact: &str) -> Request {
        if method != Method::Ack && method != Method::Cancel {
            self.local_cseq += 1;
        }
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        let h = &mut req.headers;
        h.push(
            "Via",
            format!(
                "SIP/2.0/{} {};branch={};rport",
                self.peer.transport,
                sent_by.host(self.peer.transport),
                new_branch()
            ),
        );
        h.push("Max-Forwards", "70");
        for r in &self.route_set {
            h.push("Route", r.clone());
        }
        let mut from = self.local.clone();
        from.set_tag(&self.local_tag);
        let mut to = self.remote.clone();
        if !self.remote_tag.is_empty() {
            to.set_tag(&self.remote_tag);
        }
        h.push("From", from.to_string());
        h.push("To", to.to_string());
        h.push("Call-ID", self.call_id.clone());
        h.push(
            "CSeq",
            CSeq {
                seq: self.local_cseq,
                method,
            }
            .to_string(),
        );
        h.push("Contact", contact.to_string());
        req
    }
}

/// Our own SIP address as written in Via `sent-by` and in our Contact: the UDP/TCP
/// address, or the TLS listener's for a leg over TLS (a phone that opens a new
/// connection to us must reach the TLS port, not the plain one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBy {
    plain: String,
    tls: Option<String>,
}

impl SentBy {
    pub fn new(ip: std::net::IpAddr, port: u16, tls_port: Option<u16>) -> SentBy {
        let host = |port: u16| match ip {
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            std::net::IpAddr::V4(ip) => format!("{ip}:{port}"),
        };
        SentBy {
            plain: host(port),
            tls: tls_port.map(host),
        }
    }

    /// `host:port` for a leg on `transport`.
    pub fn host(&self, transport: Transport) -> &str {
        match (transport, &self.tls) {
            (Transport::Tls, Some(tls)) => tls,
            _ => &self.plain,
        }
    }

    /// The Contact we put in requests and responses on a leg using `transport`.
    pub fn contact(&self, transport: Transport) -> String {
        let host = self.host(transport);
        match transport.uri_param() {
            None => format!("<sip:spygroup@{host}>"),
            Some(t) => format!("<sip:spygroup@{host};transport={t}>"),
        }
    }
}

impl std::fmt::Display for SentBy {
    /// The plain (UDP/TCP) address: for Call-IDs and URIs not tied to one leg.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.plain)
    }
}

/// The caller's leg as a dialog in which we are the UAS.
pub(super) fn uas_dialog(req: &Request, peer: Peer) -> Dialog {
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

#[cfg(test)]
mod tests {
    use super::*;
    use sip::{Message, Transport};

    fn dialog() -> Dialog {
        Dialog {
            call_id: "abc@127.0.0.1".into(),
            local_tag: "ours".into(),
            remote_tag: "theirs".into(),
            local: "<sip:101@127.0.0.1:5060>".parse().unwrap(),
            remote: "\"Bob\" <sip:102@127.0.0.1:5060>".parse().unwrap(),
            remote_target: "sip:102@10.0.0.5:5062;transport=tcp".parse().unwrap(),
            route_set: vec!["<sip:proxy.example;lr>".into()],
            local_cseq: 7,
            remote_cseq: 3,
            peer: Peer::new(Transport::Tcp, "127.0.0.1:40000".parse().unwrap()),
        }
    }

    #[test]
    fn in_dialog_request_carries_dialog_identifiers() {
        let mut d = dialog();
        let local = SentBy::new([127, 0, 0, 1].into(), 5060, None);
        let bye = d.request(Method::Bye, &local, "<sip:spygroup@127.0.0.1:5060>");
        assert_eq!(bye.uri.to_string(), "sip:102@10.0.0.5:5062;transport=tcp");
        assert_eq!(bye.from().unwrap().tag(), Some("ours"));
        assert_eq!(bye.to().unwrap().tag(), Some("theirs"));
        assert_eq!(
            bye.cseq().unwrap().seq,
            8,
            "CSeq advances for a new request"
        );
        assert_eq!(bye.headers.get("Route"), Some("<sip:proxy.example;lr>"));
        let via = bye.top_via().unwrap();
        assert_eq!(via.transport, "TCP");
        assert!(via.branch().unwrap().starts_with("z9hG4bK"));
        // It must be a valid request on the wire.
        let wire = Message::Request(bye).to_bytes();
        let back = sip::parse_datagram(&wire).unwrap();
        let Message::Request(back) = back else {
            panic!("not a request")
        };
        back.validate().unwrap();
    }

    #[test]
    fn a_tls_leg_names_the_tls_port_in_via_and_contact() {
        let local = SentBy::new([192, 0, 2, 1].into(), 5060, Some(5061));
        let mut d = dialog();
        d.peer = Peer::new(Transport::Tls, "192.0.2.9:40000".parse().unwrap());
        let bye = d.request(Method::Bye, &local, &local.contact(Transport::Tls));
        let via = bye.top_via().unwrap();
        assert_eq!(
            (via.transport.as_str(), via.host.as_str()),
            ("TLS", "192.0.2.1")
        );
        assert_eq!(via.port, Some(5061));
        assert_eq!(
            bye.headers.get("Contact"),
            Some("<sip:spygroup@192.0.2.1:5061;transport=tls>")
        );
        // UDP and TCP legs keep the plain port.
        assert_eq!(local.host(Transport::Udp), "192.0.2.1:5060");
        assert_eq!(
            local.contact(Transport::Tcp),
            "<sip:spygroup@192.0.2.1:5060;transport=tcp>"
        );
        assert_eq!(local.to_string(), "192.0.2.1:5060");
    }

    #[test]
    fn ack_reuses_the_invite_cseq() {
        let mut d = dialog();
        let local = SentBy::new([192, 0, 2, 1].into(), 1, None);
        let invite = d.request(Method::Invite, &local, "<sip:s@h:1>");
        let ack = d.request(Method::Ack, &local, "<sip:s@h:1>");
        assert_eq!(invite.cseq().unwrap().seq, ack.cseq().unwrap().seq);
        assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    }
}

#[cfg(test)]
mod peer_tests {
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
