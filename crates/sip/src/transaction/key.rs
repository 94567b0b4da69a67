//! Transaction matching keys (RFC 3261 17.1.3 and 17.2.3).
//!
//! Server transactions match on the top Via branch, sent-by and method (ACK counts as
//! INVITE, so an ACK for a non-2xx lands in the INVITE transaction). Requests from
//! RFC 2543 peers lack the magic cookie; for them the branch is replaced by a digest
//! of the fields that stay constant across retransmissions and the ACK/CANCEL of the
//! same INVITE.

use crate::ids::BRANCH_COOKIE;
use crate::message::{Method, Request, Response};
use crate::peer::Peer;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ServerKey {
    branch: String,
    sent_by: String,
    method: Method,
}

impl ServerKey {
    /// Key of the transaction `req` belongs to, with `method` overriding the
    /// request's own (used to look up the INVITE a CANCEL or ACK refers to).
    /// `peer` stands in for sent-by when the request has no usable Via.
    pub(super) fn new(req: &Request, method: Method, peer: Option<&Peer>) -> ServerKey {
        let method = if method == Method::Ack {
            Method::Invite
        } else {
            method
        };
        match req.top_via() {
            Ok(via) => {
                let sent_by = format!(
                    "{}:{}",
                    via.host.to_ascii_lowercase(),
                    via.port.map(|p| p.to_string()).unwrap_or_default()
                );
                match via.branch() {
                    Some(b) if b.starts_with(BRANCH_COOKIE) => ServerKey {
                        branch: b.to_string(),
                        sent_by,
                        method,
                    },
                    _ => ServerKey {
                        branch: legacy_id(req),
                        sent_by,
                        method,
                    },
                }
            }
            Err(_) => ServerKey {
                branch: legacy_id(req),
                sent_by: format!(
                    "noVia|{}|{}",
                    peer.map(|p| p.to_string()).unwrap_or_default(),
                    req.headers.get("Via").unwrap_or_default()
                ),
                method,
            },
        }
    }

    pub(super) fn for_request(req: &Request, peer: &Peer) -> ServerKey {
        ServerKey::new(req, req.method.clone(), Some(peer))
    }
}

/// RFC 2543-style identity: Request-URI, Call-ID, From tag and CSeq number.
fn legacy_id(req: &Request) -> String {
    let cseq = req
        .cseq()
        .map(|c| c.seq.to_string())
        .unwrap_or_else(|_| req.headers.get("CSeq").unwrap_or_default().to_string());
    let from_tag = req
        .from()
        .ok()
        .and_then(|f| f.tag().map(str::to_string))
        .unwrap_or_default();
    format!(
        "2543|{}|{}|{}|{}",
        req.uri,
        req.headers.get("Call-ID").unwrap_or_default(),
        from_tag,
        cseq
    )
}

/// Client transactions match responses on top Via branch + CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ClientKey {
    pub(super) branch: String,
    pub(super) method: Method,
}

impl ClientKey {
    pub(super) fn for_response(resp: &Response) -> Option<ClientKey> {
        let via = resp.top_via().ok()?;
        let branch = via.branch()?.to_string();
        let method = resp.cseq().ok()?.method;
        Some(ClientKey { branch, method })
    }
}
