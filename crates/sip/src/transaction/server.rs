//! Server transaction state machines: INVITE (RFC 3261 17.2.1 with the RFC 6026
//! Accepted state) and non-INVITE (17.2.2).
//!
//! Unlike plain RFC 3261, the layer itself retransmits a 2xx to INVITE until the ACK
//! arrives, so the TU only has to hand over the response once.

use std::time::{Duration, Instant};

use super::key::ServerKey;
use super::{Config, Output, ServerTxId};
use crate::peer::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServerState {
    /// Non-INVITE only: nothing sent yet.
    Trying,
    /// Provisional sent (or, for INVITE, nothing sent yet).
    Proceeding,
    /// Final non-2xx sent; INVITE waits for the ACK (Timer G/H), non-INVITE absorbs
    /// retransmissions (Timer J).
    Completed,
    /// INVITE only: ACK received, absorbing ACK retransmissions (Timer I).
    Confirmed,
    /// INVITE only: 2xx sent, retransmitted until ACK, kept for 64*T1 (Timer L).
    Accepted,
}

pub(super) struct ServerTx {
    pub(super) id: ServerTxId,
    pub(super) key: ServerKey,
    pub(super) invite: bool,
    pub(super) peer: Peer,
    pub(super) state: ServerState,
    /// Call-ID and CSeq number, to match the ACK of a 2xx (it has a new branch).
    pub(super) ack_key: Option<(String, u32)>,
    /// Set once the ACK for our 2xx arrived.
    pub(super) acked: bool,
    last_response: Option<Vec<u8>>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    expire_at: Option<Instant>,
}

/// What happened to a transaction after an input or timer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Alive,
    Terminated,
}

impl ServerTx {
    pub(super) fn new(
        id: ServerTxId,
        key: ServerKey,
        invite: bool,
        peer: Peer,
        ack_key: Option<(String, u32)>,
    ) -> Self {
        ServerTx {
            id,
            key,
            invite,
            peer,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            ack_key,
            acked: false,
            last_response: None,
            retransmit_at: None,
            interval: Duration::ZERO,
            expire_at: None,
        }
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

    /// A retransmitted request: repeat the last response, if any (17.2.1, 17.2.2).
    pub(super) fn on_retransmission(&self, out: &mut Output) {
        if let Some(resp) = &self.last_response {
            out.transmit(self.peer, resp.clone());
        }
    }

    /// The TU's response. Responses the state machine cannot take (a second final,
    /// a provisional after a final) are dropped.
    pub(super) fn respond(
        &mut self,
        status: u16,
        bytes: Vec<u8>,
        now: Instant,
        cfg: &Config,
        out: &mut Output,
    ) -> Fate {
        let provisional = status < 200;
        let success = (200..300).contains(&status);
        match self.state {
            ServerState::Trying | ServerState::Proceeding => {}
            // RFC 6026: further 2xx from the TU pass straight through in Accepted.
            ServerState::Accepted if success => {
                out.transmit(self.peer, bytes.clone());
                self.last_response = Some(bytes);
                return Fate::Alive;
            }
            _ => return Fate::Alive,
        }
        out.transmit(self.peer, bytes.clone());
        self.last_response = Some(bytes);
        if provisional {
            self.state = ServerState::Proceeding;
            return Fate::Alive;
        }
        let retransmit = (!self.reliable()).then(|| now + cfg.t1);
        self.interval = cfg.t1;
        match (self.invite, success) {
            (true, true) => {
                self.state = ServerState::Accepted;
                self.retransmit_at = retransmit;
                self.expire_at = Some(now + cfg.t1 * 64);
            }
            (true, false) => {
                self.state = ServerState::Completed;
                self.retransmit_at = retransmit; // Timer G
                self.expire_at = Some(now + cfg.t1 * 64); // Timer H
            }
            (false, _) => {
                self.state = ServerState::Completed;
                if self.reliable() {
                    return Fate::Terminated; // Timer J is zero
                }
                self.expire_at = Some(now + cfg.t1 * 64); // Timer J
            }
        }
        Fate::Alive
    }

    /// An ACK that matched this INVITE transaction by branch. Returns true if it is the
    /// first ACK for a 2xx and must go to the TU.
    pub(super) fn on_ack(&mut self, now: Instant, cfg: &Config) -> (Fate, bool) {
        match self.state {
            ServerState::Completed => {
                self.state = ServerState::Confirmed;
                self.retransmit_at = None;
                if self.reliable() {
                    return (Fate::Terminated, false); // Timer I is zero
                }
                self.expire_at = Some(now + cfg.t4); // Timer I
                (Fate::Alive, false)
            }
            // Some UAs reuse the INVITE branch for the 2xx ACK.
            ServerState::Accepted => (Fate::Alive, self.ack_2xx()),
            _ => (Fate::Alive, false),
        }
    }

    /// No more retransmissions of the final response on a timer (it is still
    /// repeated once for each retransmitted request).
    pub(super) fn stop_retransmitting(&mut self) {
        if self.state == ServerState::Completed {
            self.retransmit_at = None;
        }
    }

    /// The ACK for our 2xx arrived: stop retransmitting. True if it is the first.
    pub(super) fn ack_2xx(&mut self) -> bool {
        if self.acked {
            return false;
        }
        self.acked = true;
        self.retransmit_at = None;
        true
    }

    /// Fire due timers. Expiry is checked first so a retransmission never goes out
    /// at the instant the transaction dies.
    pub(super) fn on_timeout(&mut self, now: Instant, cfg: &Config, out: &mut Output) -> Fate {
        if self.expire_at.is_some_and(|t| t <= now) {
            let no_ack = match self.state {
                ServerState::Completed => self.invite, // Timer H
                ServerState::Accepted => !self.acked,  // Timer L without ACK
                _ => false,                            // Timers I, J
            };
            if no_ack {
                out.event(super::Event::AckTimeout { tx: self.id });
            }
            return Fate::Terminated;
        }
        if self.retransmit_at.is_some_and(|t| t <= now) {
            // Timer G, or the 2xx retransmission: doubling, capped at T2.
            self.on_retransmission(out);
            self.interval = (self.interval * 2).min(cfg.t2);
            self.retransmit_at = Some(now + self.interval);
        }
        Fate::Alive
    }
}
