//! Client transaction state machines: INVITE (RFC 3261 17.1.1 with the RFC 6026
//! Accepted state) and non-INVITE (17.1.2).

use std::time::{Duration, Instant};

use super::key::ClientKey;
use super::server::Fate;
use super::{ClientTxId, Config, Event, Output};
use crate::message::{Method, Request, Response};
use crate::peer::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientState {
    /// INVITE sent, nothing heard (Timer A/B).
    Calling,
    /// Non-INVITE sent, nothing heard (Timer E/F).
    Trying,
    /// Provisional received.
    Proceeding,
    /// Final non-2xx (INVITE, Timer D) or any final (non-INVITE, Timer K) received.
    Completed,
    /// INVITE only: 2xx received; later 2xx (retransmissions, forks) still go to the
    /// TU so it can ACK them (Timer M).
    Accepted,
}

pub(super) struct ClientTx {
    pub(super) id: ClientTxId,
    pub(super) key: ClientKey,
    pub(super) peer: Peer,
    pub(super) state: ClientState,
    request: Request,
    request_bytes: Vec<u8>,
    ack_bytes: Option<Vec<u8>>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    expire_at: Option<Instant>,
}

impl ClientTx {
    /// Create the transaction for a request that has just been transmitted.
    pub(super) fn new(
        id: ClientTxId,
        key: ClientKey,
        request: Request,
        request_bytes: Vec<u8>,
        peer: Peer,
        now: Instant,
        cfg: &Config,
    ) -> Self {
        let invite = request.method == Method::Invite;
        ClientTx {
            id,
            key,
            peer,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            request_bytes,
            ack_bytes: None,
            retransmit_at: (!peer.transport.is_reliable()).then(|| now + cfg.t1), // A / E
            interval: cfg.t1,
            expire_at: Some(now + cfg.t1 * 64), // B / F
        }
    }

    fn invite(&self) -> bool {
        self.request.method == Method::Invite
    }

    fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match (self.retransmit_at, self.expire_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// RFC 3261 9.1: once a CANCEL is sent for a proceeding INVITE, give the far end
    /// 64*T1 to send its final response before giving up on the INVITE.
    pub(super) fn on_cancel_sent(&mut self, now: Instant, cfg: &Config) {
        if self.state == ClientState::Proceeding && self.expire_at.is_none() {
            self.expire_at = Some(now + cfg.t1 * 64);
        }
    }

    pub(super) fn on_response(
        &mut self,
        resp: Response,
        peer: Peer,
        now: Instant,
        cfg: &Config,
        out: &mut Output,
    ) -> Fate {
        let status = resp.status;
        let deliver = |out: &mut Output, resp: Response| {
            out.event(Event::Response {
                tx: self.id,
                response: resp,
                peer,
            })
        };
        match self.state {
            ClientState::Calling | ClientState::Trying | ClientState::Proceeding => {}
            ClientState::Accepted => {
                if (200..300).contains(&status) {
                    deliver(out, resp);
                }
                return Fate::Alive;
            }
            ClientState::Completed => {
                // A retransmitted final: the INVITE ACK is repeated, anything else absorbed.
                if let Some(ack) = &self.ack_bytes {
                    if status >= 300 {
                        out.transmit(self.peer, ack.clone());
                    }
                }
                return Fate::Alive;
            }
        }
        if status < 200 {
            if self.invite() {
                // Timer A stops; Timer B only guards the Calling state (17.1.1.2).
                self.retransmit_at = None;
                self.expire_at = None;
            }
            self.state = ClientState::Proceeding;
            deliver(out, resp);
            return Fate::Alive;
        }
        self.retransmit_at = None;
        if self.invite() && status < 300 {
            self.state = ClientState::Accepted;
            self.expire_at = Some(now + cfg.t1 * 64); // Timer M
            deliver(out, resp);
            return Fate::Alive;
        }
        if self.invite() {
            let ack = build_ack(&self.request, &resp).to_bytes();
            out.transmit(self.peer, ack.clone());
            self.ack_bytes = Some(ack);
        }
        self.state = ClientState::Completed;
        deliver(out, resp);
        if self.reliable() {
            return Fate::Terminated; // Timers D and K are zero
        }
        self.expire_at = Some(
            now + if self.invite() {
                cfg.t1 * 64 // Timer D: at least 32 s (64*T1 with the default T1)
            } else {
                cfg.t4 // Timer K
            },
        );
        Fate::Alive
    }

    /// Fire due timers; expiry first so nothing is sent by a dying transaction.
    pub(super) fn on_timeout(&mut self, now: Instant, cfg: &Config, out: &mut Output) -> Fate {
        if self.expire_at.is_some_and(|t| t <= now) {
            if matches!(
                self.state,
                ClientState::Calling | ClientState::Trying | ClientState::Proceeding
            ) {
                out.event(Event::Timeout { tx: self.id }); // Timer B / F
            }
            return Fate::Terminated;
        }
        if self.retransmit_at.is_some_and(|t| t <= now) {
            out.transmit(self.peer, self.request_bytes.clone());
            self.interval = match self.state {
                ClientState::Calling => self.interval * 2, // Timer A: no cap
                ClientState::Trying => (self.interval * 2).min(cfg.t2),
                _ => cfg.t2, // Timer E in Proceeding
            };
            self.retransmit_at = Some(now + self.interval);
        }
        Fate::Alive
    }
}

/// The ACK for a non-2xx final response (RFC 3261 17.1.1.3): same Request-URI, top Via
/// (so the same branch), Call-ID, From and Route set as the INVITE, the To of the
/// response (with its tag) and the INVITE's CSeq number with method ACK.
pub(super) fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.get("Via") {
        ack.headers.push("Via", via);
    }
    ack.headers.push("Max-Forwards", "70");
    for route in invite.headers.get_all("Route") {
        ack.headers.push("Route", route);
    }
    for name in ["From", "To", "Call-ID"] {
        let source = if name == "To" {
            resp.headers.get(name).or_else(|| invite.headers.get(name))
        } else {
            invite.headers.get(name)
        };
        if let Some(v) = source {
            ack.headers.push(name, v);
        }
    }
    let seq = invite
        .cseq()
        .map(|c| c.seq)
        .or_else(|_| resp.cseq().map(|c| c.seq))
        .unwrap_or(0);
    ack.headers.push("CSeq", format!("{seq} ACK"));
    ack.headers.push("Content-Length", "0");
    ack
}
