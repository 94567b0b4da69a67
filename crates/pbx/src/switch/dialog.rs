//! One side of a B2BUA call as a SIP dialog (RFC 3261 section 12): the identifiers and
//! route state needed to send in-dialog requests (BYE, re-INVITE) and to match the ones
//! that arrive.

use sip::{new_branch, CSeq, Method, NameAddr, Peer, Request, Uri};

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
    /// Builds an in-dialog request. `via_host` is our advertised SIP address.
    pub fn request(&mut self, method: Method, via_host: &str, contact: &str) -> Request {
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
                via_host,
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
        h.push("User-Agent", super::USER_AGENT);
        req
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
        let bye = d.request(
            Method::Bye,
            "127.0.0.1:5060",
            "<sip:spygroup@127.0.0.1:5060>",
        );
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
    fn ack_reuses_the_invite_cseq() {
        let mut d = dialog();
        let invite = d.request(Method::Invite, "h:1", "<sip:s@h:1>");
        let ack = d.request(Method::Ack, "h:1", "<sip:s@h:1>");
        assert_eq!(invite.cseq().unwrap().seq, ack.cseq().unwrap().seq);
        assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    }
}
