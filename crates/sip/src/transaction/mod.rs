//! An I/O-free SIP transaction layer (RFC 3261 section 17, RFC 6026), in the style of
//! quinn-proto: feed it messages (`handle_input`) and the time (`handle_timeout`),
//! then drain `poll_transmit` and `poll_event`, and sleep until `poll_timeout`.
//!
//! Differences from a textbook RFC 3261 layer, chosen so the TU stays simple:
//! - the layer retransmits a 2xx to INVITE itself until the ACK arrives, and reports
//!   `Event::AckTimeout` if none comes within 64*T1;
//! - over TCP nothing is retransmitted and Timers D, I, J and K are zero, while B, F,
//!   H, L and M still run;
//! - after a CANCEL is sent for a proceeding INVITE, the INVITE gives up (Timeout)
//!   if no final response arrives within 64*T1 (RFC 3261 9.1).

mod client;
mod key;
mod server;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::ids::new_branch;
use crate::message::{Message, Method, Request, Response};
use crate::peer::Peer;

use client::ClientTx;
use key::{ClientKey, ServerKey};
use server::{Fate, ServerTx};

/// Timer base values (RFC 3261 17.1.1.1, table 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RTT estimate; retransmission intervals start here and timeouts are 64*T1.
    pub t1: Duration,
    /// Cap for non-INVITE and response retransmission intervals.
    pub t2: Duration,
    /// How long the network may keep a message (Timers I and K).
    pub t4: Duration,
    /// Who we say we are: `User-Agent` on every request and `Server` on every
    /// response that has none of its own; None sends neither.
    pub user_agent: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            user_agent: None,
        }
    }
}

/// Bytes to send to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub data: Vec<u8>,
}

/// Handle of a server transaction, used to respond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(u64);

/// Handle of a client transaction, reported with its responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(u64);

/// The transaction an entry of the timer heap belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerOwner {
    Server(ServerTxId),
    Client(ClientTxId),
}

/// What the transaction user must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new request (not a retransmission). `tx` is None for ACK (and for requests
    /// the layer does not track).
    Request {
        tx: Option<ServerTxId>,
        request: Request,
        peer: Peer,
    },
    /// ACK for a 2xx we sent (matched by Call-ID + CSeq number), or a stray ACK.
    Ack { request: Request, peer: Peer },
    /// Response to one of our client transactions: every 1xx, the final once, and
    /// retransmitted 2xx to INVITE while Accepted so the TU can re-ACK.
    Response {
        tx: ClientTxId,
        response: Response,
        peer: Peer,
    },
    /// Client transaction got no final answer (Timer B or F).
    Timeout { tx: ClientTxId },
    /// No ACK within 64*T1 for our 2xx (the TU should BYE the dialog) or for our
    /// non-2xx final (Timer H).
    AckTimeout { tx: ServerTxId },
}

/// Queues filled by the state machines.
#[derive(Default)]
struct Output {
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Output {
    fn transmit(&mut self, peer: Peer, data: Vec<u8>) {
        self.transmits.push_back(Transmit { peer, data });
    }

    fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }
}

/// All live transactions of one SIP endpoint.
pub struct TransactionLayer {
    cfg: Config,
    next_id: u64,
    servers: HashMap<ServerTxId, ServerTx>,
    server_index: HashMap<ServerKey, ServerTxId>,
    /// (Call-ID, CSeq number) of INVITEs answered 2xx, to match the 2xx ACK.
    ack_index: HashMap<(String, u32), ServerTxId>,
    clients: HashMap<ClientTxId, ClientTx>,
    client_index: HashMap<ClientKey, ClientTxId>,
    out: Output,
    stray_responses: u64,
    /// Every deadline a transaction has had, earliest first. Entries whose
    /// transaction is gone or has moved on are stale and skipped when they come
    /// due: looking for the next timer is then a peek, not a scan of every
    /// transaction (thousands at a few hundred calls per second, since finished
    /// UDP transactions linger for Timers J/K).
    timers: BinaryHeap<Reverse<(Instant, TimerOwner)>>,
}

impl TransactionLayer {
    pub fn new(cfg: Config) -> Self {
        TransactionLayer {
            cfg,
            next_id: 1,
            servers: HashMap::new(),
            server_index: HashMap::new(),
            ack_index: HashMap::new(),
            clients: HashMap::new(),
            client_index: HashMap::new(),
            out: Output::default(),
            stray_responses: 0,
            timers: BinaryHeap::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Feed a message received from `peer`.
    pub fn handle_input(&mut self, peer: Peer, msg: Message, now: Instant) {
        match msg {
            Message::Request(req) => self.on_request(peer, req, now),
            Message::Response(resp) => self.on_response(peer, resp, now),
        }
        self.prune_timers();
    }

    fn on_request(&mut self, peer: Peer, req: Request, now: Instant) {
        let key = ServerKey::for_request(&req, &peer);
        if req.method == Method::Ack {
            self.on_ack(peer, req, key, now);
            return;
        }
        if let Some(tx) = self
            .server_index
            .get(&key)
            .and_then(|id| self.servers.get(id))
        {
            tx.on_retransmission(&mut self.out);
            return;
        }
        let id = ServerTxId(self.next_id());
        let invite = req.method == Method::Invite;
        let ack_key = match (req.call_id(), req.cseq()) {
            (Ok(call_id), Ok(cseq)) if invite => Some((call_id.to_string(), cseq.seq)),
            _ => None,
        };
        self.server_index.insert(key.clone(), id);
        self.servers
            .insert(id, ServerTx::new(id, key, invite, peer, ack_key));
        self.arm(TimerOwner::Server(id));
        self.out.event(Event::Request {
            tx: Some(id),
            request: req,
            peer,
        });
    }

    fn on_ack(&mut self, peer: Peer, req: Request, key: ServerKey, now: Instant) {
        // ACK for a non-2xx: same branch as the INVITE.
        if let Some(&id) = self.server_index.get(&key) {
            if let Some(tx) = self.servers.get_mut(&id) {
                let (fate, first_2xx_ack) = tx.on_ack(now, &self.cfg);
                if fate == Fate::Terminated {
                    self.remove_server(id);
                } else {
                    self.arm(TimerOwner::Server(id));
                }
                if first_2xx_ack {
                    self.out.event(Event::Ack { request: req, peer });
                }
                return;
            }
        }
        // ACK for a 2xx: new branch, matched by Call-ID and CSeq number.
        let ack_key = match (req.call_id(), req.cseq()) {
            (Ok(call_id), Ok(cseq)) => Some((call_id.to_string(), cseq.seq)),
            _ => None,
        };
        if let Some(&id) = ack_key.as_ref().and_then(|k| self.ack_index.get(k)) {
            if let Some(tx) = self.servers.get_mut(&id) {
                let first = tx.ack_2xx();
                self.arm(TimerOwner::Server(id));
                if first {
                    self.out.event(Event::Ack { request: req, peer });
                }
                return;
            }
        }
        self.out.event(Event::Ack { request: req, peer });
    }

    fn on_response(&mut self, peer: Peer, resp: Response, now: Instant) {
        let Some(id) = ClientKey::for_response(&resp).and_then(|k| self.client_index.get(&k))
        else {
            self.stray_responses += 1;
            return;
        };
        let id = *id;
        let Some(tx) = self.clients.get_mut(&id) else {
            self.stray_responses += 1;
            return;
        };
        if tx.on_response(resp, peer, now, &self.cfg, &mut self.out) == Fate::Terminated {
            self.remove_client(id);
        } else {
            self.arm(TimerOwner::Client(id));
        }
    }

    /// Start a client transaction and transmit `req` to `peer`.
    ///
    /// The caller puts a `z9hG4bK` branch in the top Via; a missing branch is filled
    /// in. An ACK creates no transaction: it is sent statelessly and the returned id
    /// refers to nothing.
    pub fn send_request(&mut self, mut req: Request, peer: Peer, now: Instant) -> ClientTxId {
        self.stamp_request(&mut req);
        let id = ClientTxId(self.next_id());
        if req.method == Method::Ack {
            self.send_stateless(Message::Request(req), peer);
            return id;
        }
        let branch = ensure_branch(&mut req);
        let bytes = req.to_bytes();
        self.out.transmit(peer, bytes.clone());
        let key = ClientKey {
            branch,
            method: req.method.clone(),
        };
        if req.method == Method::Cancel {
            let invite_key = ClientKey {
                branch: key.branch.clone(),
                method: Method::Invite,
            };
            if let Some(&invite_id) = self.client_index.get(&invite_key) {
                if let Some(invite) = self.clients.get_mut(&invite_id) {
                    invite.on_cancel_sent(now, &self.cfg);
                }
                self.arm(TimerOwner::Client(invite_id));
            }
        }
        self.client_index.insert(key.clone(), id);
        self.clients
            .insert(id, ClientTx::new(id, key, req, bytes, peer, now, &self.cfg));
        self.arm(TimerOwner::Client(id));
        self.prune_timers();
        id
    }

    /// Send a message outside any transaction (ACK for 2xx, stateless forwarding).
    pub fn send_stateless(&mut self, mut msg: Message, peer: Peer) {
        match &mut msg {
            Message::Request(r) => self.stamp_request(r),
            Message::Response(r) => self.stamp_response(r),
        }
        self.out.transmit(peer, msg.to_bytes());
    }

    fn stamp_request(&self, req: &mut Request) {
        if let Some(ua) = &self.cfg.user_agent {
            if req.headers.get("User-Agent").is_none() {
                req.headers.push("User-Agent", ua.clone());
            }
        }
    }

    fn stamp_response(&self, resp: &mut Response) {
        if let Some(ua) = &self.cfg.user_agent {
            if resp.headers.get("Server").is_none() && resp.headers.get("User-Agent").is_none() {
                resp.headers.push("Server", ua.clone());
            }
        }
    }

    /// Send the TU's response on a server transaction. Unknown transactions and
    /// responses the state machine cannot take (e.g. a second final) are ignored.
    pub fn respond(&mut self, tx: ServerTxId, resp: Response, now: Instant) {
        self.respond_with(tx, resp, now, true);
    }

    /// [`TransactionLayer::respond`] for a final answer to an INVITE that must not
    /// be retransmitted on its own (Timer G): a challenge to an unauthenticated
    /// INVITE. Over UDP its source may be forged, and ten retransmissions of each
    /// 407 would make us an amplifier aimed at the forged address. The transaction
    /// still answers each retransmitted INVITE once (a real phone that lost the 407
    /// asks again), so we never send more than we are sent.
    pub fn respond_once(&mut self, tx: ServerTxId, resp: Response, now: Instant) {
        self.respond_with(tx, resp, now, false);
    }

    fn respond_with(&mut self, tx: ServerTxId, mut resp: Response, now: Instant, retransmit: bool) {
        if !(100..=699).contains(&resp.status) {
            return;
        }
        self.stamp_response(&mut resp);
        let Some(stx) = self.servers.get_mut(&tx) else {
            return;
        };
        let status = resp.status;
        let fate = stx.respond(status, resp.to_bytes(), now, &self.cfg, &mut self.out);
        if !retransmit && status >= 300 {
            stx.stop_retransmitting();
        }
        if fate == Fate::Terminated {
            self.remove_server(tx);
            self.prune_timers();
            return;
        }
        if stx.invite && (200..300).contains(&status) {
            if let Some(k) = stx.ack_key.clone() {
                self.ack_index.insert(k, tx);
            }
        }
        self.arm(TimerOwner::Server(tx));
        self.prune_timers();
    }

    /// The INVITE server transaction a CANCEL refers to (same branch and sent-by),
    /// if it is still alive.
    pub fn cancel_target(&self, cancel: &Request) -> Option<ServerTxId> {
        let key = ServerKey::new(cancel, Method::Invite, None);
        let id = *self.server_index.get(&key)?;
        self.servers.get(&id).filter(|tx| tx.invite).map(|tx| tx.id)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// Earliest instant at which `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Fire every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, owner))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.deadline_of(owner) != Some(at) {
                continue; // stale: re-armed, stopped or gone since
            }
            let (cfg, out) = (&self.cfg, &mut self.out);
            let fate = match owner {
                TimerOwner::Server(id) => self
                    .servers
                    .get_mut(&id)
                    .map(|tx| tx.on_timeout(now, cfg, out)),
                TimerOwner::Client(id) => self
                    .clients
                    .get_mut(&id)
                    .map(|tx| tx.on_timeout(now, cfg, out)),
            };
            match (fate, owner) {
                (Some(Fate::Terminated), TimerOwner::Server(id)) => self.remove_server(id),
                (Some(Fate::Terminated), TimerOwner::Client(id)) => self.remove_client(id),
                _ => self.arm(owner),
            }
        }
        self.prune_timers();
    }

    /// Drops stale entries from the top of the timer heap, so `poll_timeout` is a
    /// peek that names a real deadline.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((at, owner))) = self.timers.peek() {
            if self.deadline_of(owner) == Some(at) {
                break;
            }
            self.timers.pop();
        }
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Responses that matched no client transaction (late retransmissions, forks
    /// after Timer M, misrouted traffic).
    pub fn stray_responses(&self) -> u64 {
        self.stray_responses
    }

    /// The current deadline of a live transaction.
    fn deadline_of(&self, owner: TimerOwner) -> Option<Instant> {
        match owner {
            TimerOwner::Server(id) => self.servers.get(&id).and_then(ServerTx::deadline),
            TimerOwner::Client(id) => self.clients.get(&id).and_then(ClientTx::deadline),
        }
    }

    /// Queues a transaction's current deadline.
    fn arm(&mut self, owner: TimerOwner) {
        if let Some(d) = self.deadline_of(owner) {
            self.timers.push(Reverse((d, owner)));
        }
    }

    fn remove_server(&mut self, id: ServerTxId) {
        if let Some(tx) = self.servers.remove(&id) {
            if self.server_index.get(&tx.key) == Some(&id) {
                self.server_index.remove(&tx.key);
            }
            if let Some(k) = &tx.ack_key {
                if self.ack_index.get(k) == Some(&id) {
                    self.ack_index.remove(k);
                }
            }
        }
    }

    fn remove_client(&mut self, id: ClientTxId) {
        if let Some(tx) = self.clients.remove(&id) {
            if self.client_index.get(&tx.key) == Some(&id) {
                self.client_index.remove(&tx.key);
            }
        }
    }
}

/// Return the top Via branch, adding a fresh one if the caller left it out. Without
/// any Via the branch is still unique, so the transaction simply times out.
fn ensure_branch(req: &mut Request) -> String {
    match req.top_via() {
        Ok(mut via) => match via.branch() {
            Some(b) => b.to_string(),
            None => {
                let b = new_branch();
                via.set_param("branch", Some(&b));
                req.headers.remove_first("Via");
                req.headers.insert_first("Via", via.to_string());
                b
            }
        },
        Err(_) => new_branch(),
    }
}
