//! The switch: the B2BUA as a plain state machine, in the style of
//! `sip::transaction` (quinn-proto and str0m are the models).
//!
//! It is fed inputs with the current time — SIP messages from the transport edge,
//! requests from channel tasks, timer expiries, configuration snapshots — and polled
//! for outputs ([`Output`]: SIP to send, media commands, store writes, events,
//! channel tasks to start) and for its next deadline. It does no I/O and never
//! waits: the async shell (`crate::shell`) owns the sockets, the store and the tasks.
//! Routing and permission checks read the in-memory [`ConfigSnapshot`], so a slow or
//! absent database costs no call. Every flow is tested in virtual time
//! (`switch/tests`).

mod admission;
mod answer;
mod auth;
mod call;
mod channels;
mod conference;
mod dialog;
mod flood;
mod fork;
mod hangup;
mod indialog;
mod lockouts;
mod monitor;
mod output;
mod queue;
mod register;
mod reinvite;
mod sdp;
mod session_timer;
mod setup;
mod sign_in;
mod srtp;
mod takeover;
#[cfg(test)]
mod tests;
mod transfer;
mod watchdog;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sip::transaction::TransactionLayer;
use sip::transaction::{ClientTxId, Config as TxConfig, Event as TxEvent, ServerTxId};
use sip::{Message, Method, Peer, Request, Response};
use store::ConfigSnapshot;

use crate::chan::{ChanOp, ChanRequest};
use crate::channel::ChannelNamer;
use crate::events::Event;
use crate::registrar::{Registrar, RegistrarConfig};
use crate::{LoadedPlan, PbxConfig};
use auth::Authenticator;
use call::{Call, LegSide};
use channels::Channels;

pub use call::CallId;
pub use output::{
    BridgeId, ChannelInfo, MediaOp, MediaPorts, MediaUnavailable, OpenedBridge, Output, Role,
    Spawn, SpawnKind, SpyingOn,
};
pub use sign_in::ConsoleUser;

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY";
/// How often expired registrations, nonces and lockouts are swept.
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// How many requests may wait for a fresher snapshot at once, and for how long.
const MAX_PARKED: usize = 256;
const PARK_LIMIT: Duration = Duration::from_secs(1);

/// What a client transaction we started was for.
#[derive(Debug, Clone, Copy)]
enum TxPurpose {
    /// The INVITE of branch `n` of a call.
    Branch(usize),
    /// BYE, CANCEL: only their completion matters.
    Other,
    /// `Transfer()`'s REFER to leg A.
    Refer,
    /// A re-INVITE of one leg (a phone a transfer moved to this call's bridge).
    Reinvite(LegSide),
    /// Our session refresh (UPDATE) of one leg.
    Refresh(LegSide),
}

/// What a new switch starts from.
pub struct SwitchInit {
    pub cfg: PbxConfig,
    /// The SIP address the transport bound (its port is what we advertise).
    pub local: SocketAddr,
    /// The TLS listener's address, when there is one.
    pub tls_local: Option<SocketAddr>,
    /// The digest realm (fixed in the database).
    pub realm: String,
    pub config: Arc<ConfigSnapshot>,
    pub plan: LoadedPlan,
    pub media: Box<dyn MediaPorts>,
    /// The time now, on both clocks: monotonic for timers, wall for records.
    pub now: Instant,
    pub wall: SystemTime,
}

pub struct Switch {
    cfg: PbxConfig,
    layer: TransactionLayer,
    registrar: Registrar,
    auth: Authenticator,
    media: Box<dyn MediaPorts>,
    namer: ChannelNamer,
    config: Arc<ConfigSnapshot>,
    /// The dialplan new calls run.
    plan: LoadedPlan,
    calls: HashMap<CallId, Call>,
    /// (Call-ID, our tag) -> the call and leg an in-dialog request belongs to.
    dialogs: HashMap<(String, String), (CallId, LegSide)>,
    client_txs: HashMap<ClientTxId, (CallId, TxPurpose)>,
    /// A's INVITE transactions, to find the call a CANCEL refers to.
    server_invites: HashMap<ServerTxId, CallId>,
    /// Dialogs of calls that just ended, until when: a BYE that crossed ours is
    /// answered 200 rather than 481 (RFC 3261 15.1.2 allows either; phones like 200).
    ended_dialogs: HashMap<(String, String), Instant>,
    /// Supervisor's call -> the call it took over (see `takeover`).
    takeovers: HashMap<CallId, CallId>,
    next_call: u64,
    /// The live channels: this switch is their one owner, and publishes them.
    channels: Channels,
    /// Registered contacts, counted where bindings change (not on every poll).
    registrations: usize,
    /// Our SIP address as others should reach it: `host:port`.
    via_host: dialog::SentBy,
    advertised: SocketAddr,
    next_housekeeping: Instant,
    /// No-answer deadlines of Dials, earliest first; an entry whose call has since
    /// been answered or ended is skipped when it comes due.
    dial_deadlines: BinaryHeap<Reverse<(Instant, CallId)>>,
    out: VecDeque<Output>,
    /// Requests from a user this snapshot does not know, waiting for a fresher one
    /// (an extension added a moment ago, not yet seen), and until when at most.
    parked: Vec<(ServerTxId, Request, Peer)>,
    parked_until: Option<Instant>,
    /// Replaying parked requests: an unknown user is now refused.
    replaying: bool,
    /// The wall-clock time at `epoch.0`, so records get wall times from `now`.
    epoch: (Instant, SystemTime),
    shutting_down: bool,
    /// Media activity per answered call (see `watchdog`).
    media_seen: HashMap<CallId, watchdog::Seen>,
    /// New transactions per source (None: no limit).
    flood: Option<flood::SourceLimiter>,
    admission: admission::Admission,
    /// The call-center floor: queues, waiting callers, agents (see `queue`).
    floor: crate::queue::Floor,
    queue: queue::FloorState,
}

impl Switch {
    pub fn new(init: SwitchInit) -> Switch {
        let SwitchInit {
            cfg,
            local,
            tls_local,
            realm,
            config,
            plan,
            media,
            now,
            wall,
        } = init;
        let ip = if local.ip().is_unspecified() {
            cfg.media_ip
        } else {
            local.ip()
        };
        let advertised = SocketAddr::new(ip, local.port());
        let via_host = dialog::SentBy::new(ip, local.port(), tls_local.map(|t| t.port()));
        let registrar = Registrar::new(RegistrarConfig {
            min_expires: cfg.min_expires,
            max_expires: cfg.max_expires,
            default_expires: cfg.default_expires,
            max_bindings_per_aor: 10,
        });
        // What we say we are, on everything we send: the name only by default, so
        // a scan does not learn which version to attack (a setting).
        let user_agent = Some(cfg.user_agent.trim().to_string()).filter(|u| !u.is_empty());
        Switch {
            layer: TransactionLayer::new(TxConfig {
                user_agent,
                ..TxConfig::default()
            }),
            registrar,
            auth: Authenticator::new(realm, cfg.digest_algorithms.clone(), cfg.lockout),
            media,
            namer: ChannelNamer::new(),
            config,
            plan,
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            client_txs: HashMap::new(),
            server_invites: HashMap::new(),
            ended_dialogs: HashMap::new(),
            takeovers: HashMap::new(),
            next_call: 1,
            channels: Channels::default(),
            registrations: 0,
            via_host,
            advertised,
            next_housekeeping: now + HOUSEKEEPING,
            dial_deadlines: BinaryHeap::new(),
            out: VecDeque::new(),
            parked: Vec::new(),
            parked_until: None,
            replaying: false,
            epoch: (now, wall),
            shutting_down: false,
            media_seen: HashMap::new(),
            flood: cfg.sip_rate_limit.map(flood::SourceLimiter::new),
            admission: admission::Admission::new(cfg.max_calls, cfg.max_cps),
            floor: crate::queue::Floor::new(now, floor_seed(wall)),
            queue: queue::FloorState {
                stale: true,
                ..Default::default()
            },
            cfg,
        }
    }

    // ------------------------------------------------------------------ inputs

    /// A parsed SIP message from the transport edge. Checks that need no
    /// transaction come first: RFC 3581 Via stamping and request validation (400).
    pub fn handle_sip(&mut self, peer: Peer, message: Message, now: Instant) {
        match message {
            Message::Request(mut req) => {
                if let Err(e) = req.validate() {
                    tracing::debug!(%peer, "bad request: {e}");
                    if req.method != Method::Ack && req.headers.get("Via").is_some() {
                        let mut resp = Response::for_request(&req, 400, "Bad Request");
                        resp.headers
                            .push("Warning", format!("399 spygroup \"{e}\""));
                        self.layer.send_stateless(Message::Response(resp), peer);
                    }
                    return;
                }
                stamp_via(&mut req, peer);
                self.layer.handle_input(peer, Message::Request(req), now);
            }
            Message::Response(resp) => self.layer.handle_input(peer, Message::Response(resp), now),
        }
        self.drive(now);
    }

    /// A request from a channel task.
    pub fn handle_chan(&mut self, req: ChanRequest, now: Instant) {
        let ChanRequest { call: id, op } = req;
        match op {
            ChanOp::Answer => {
                let ok = self.answer_caller(id, now);
                self.tell_chan(id, crate::chan::ChanEvent::AnswerDone(ok));
            }
            ChanOp::Ringing => self.provisional_to_caller(id, 180, now),
            ChanOp::Progress => self.provisional_to_caller(id, 183, now),
            ChanOp::Dial {
                endpoints,
                timeout,
                vars,
            } => self.on_dial(id, endpoints, timeout, vars, now),
            ChanOp::Hangup { status } => self.task_hangup(id, status, now),
            ChanOp::NoCdr => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.no_cdr = true;
                }
            }
            ChanOp::MusicClass { class } => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.moh_class = if class.trim().is_empty() {
                        crate::moh::DEFAULT_CLASS.to_string()
                    } else {
                        class.trim().to_string()
                    };
                }
            }
            ChanOp::SpyGroup { channel, groups } => {
                self.channels
                    .update(&channel, &mut self.out, |c| c.spygroup = groups)
            }
            ChanOp::InChanSpy { channel, active } => {
                self.channels
                    .update(&channel, &mut self.out, |c| c.in_chanspy = active)
            }
            ChanOp::Spying { channel, on } => self
                .channels
                .update(&channel, &mut self.out, |c| c.spying_on = on),
            ChanOp::TakeOver {
                supervisor,
                channel,
                target,
            } => self.on_take_over(id, supervisor, channel, target, now),
            ChanOp::Transfer { exten } => self.on_transfer_op(id, exten, now),
            ChanOp::Conference {
                supervisor,
                target,
                room,
            } => self.on_conference(id, supervisor, &target, room),
            ChanOp::HangupChannel { channel } => self.hangup_channel(&channel, now),
            ChanOp::QueueJoin {
                queue,
                timeout,
                no_retry,
                vars,
            } => self.on_queue_join(id, queue, timeout, no_retry, vars, now),
            ChanOp::QueueMember(change) => self.on_queue_member(id, change, now),
        }
        self.drive(now);
    }

    /// Timers: transactions, Dial no-answer deadlines, housekeeping.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        if self.parked_until.is_some_and(|t| t <= now) {
            tracing::warn!("no fresher configuration came: refusing the requests that waited");
            self.replay_parked(now);
        }
        while let Some(&Reverse((due, id))) = self.dial_deadlines.peek() {
            if due > now {
                break;
            }
            self.dial_deadlines.pop();
            let still_ringing = self
                .calls
                .get(&id)
                .and_then(|c| c.dial.as_ref())
                .and_then(|d| d.deadline)
                .is_some_and(|d| d <= now);
            if still_ringing {
                self.dial_timeout(id, now);
            }
        }
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING;
            self.auth.purge(now);
            if let Some(f) = self.flood.as_mut() {
                f.purge(now);
            }
            self.end_overlong_calls(now);
            self.run_session_timers(now);
            self.ended_dialogs.retain(|_, until| *until > now);
            let expired = self.registrar.purge_expired(now);
            if !expired.is_empty() {
                self.count_registrations();
            }
            for (aor, binding) in expired {
                tracing::info!(%aor, contact = %binding.contact_uri, "registration expired");
                self.emit(Event::RegistrationExpired {
                    aor: aor.clone(),
                    contact: binding.contact_uri.clone(),
                });
                self.store(store::Write::LocationDeleted {
                    aor,
                    contact_uri: binding.contact_uri,
                });
            }
        }
        self.drive(now);
    }

    /// A new configuration snapshot (the database changed): later lookups use it,
    /// and the floor takes its queues and members at once (an agent unpaused
    /// from the CLI or the API is rung now, not at the next SIP event).
    pub fn set_config(&mut self, config: Arc<ConfigSnapshot>, now: Instant) {
        self.config = config;
        self.queue.stale = true;
        self.run_floor(now);
    }

    /// The reload asked for by [`Output::RefreshConfig`] is done (or failed):
    /// requests parked for it are handled again with `config`, and refused this
    /// time if their user is still unknown.
    pub fn config_refreshed(&mut self, config: Arc<ConfigSnapshot>, now: Instant) {
        self.config = config;
        self.queue.stale = true;
        self.replay_parked(now);
        self.run_floor(now);
    }

    /// A reloaded dialplan: new calls run it; calls in progress keep theirs.
    pub fn set_dialplan(&mut self, plan: LoadedPlan) {
        self.plan = plan;
    }

    /// Registrations kept in the database, put back at start.
    pub fn restore_locations(&mut self, locations: Vec<store::StoredLocation>, now: Instant) {
        let wall = self.wall(now);
        for loc in locations {
            register::restore(&mut self.registrar, loc, now, wall);
        }
        self.count_registrations();
    }

    /// Ends every live call (BYE to answered ones, 503 to ringing callers). The shell
    /// then keeps feeding responses and time until [`Switch::is_settled`] or a grace
    /// period passes.
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let mut ids: Vec<CallId> = self.calls.keys().copied().collect();
        ids.sort();
        for id in ids {
            if let Some(call) = self.calls.get_mut(&id) {
                call.fail_status = 503;
            }
            self.pbx_hangup(id, now);
        }
        self.drive(now);
    }

    /// True when no request we sent still waits for its answer.
    pub fn is_settled(&self) -> bool {
        self.client_txs.is_empty()
    }

    // ----------------------------------------------------------------- outputs

    /// The next thing to do, until None.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        self.layer.poll_transmit().map(Output::Transmit)
    }

    /// When to call [`Switch::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Instant {
        let mut wake = self.next_housekeeping;
        if let Some(t) = self.layer.poll_timeout() {
            wake = wake.min(t);
        }
        if let Some(Reverse((d, _))) = self.dial_deadlines.peek() {
            wake = wake.min(*d);
        }
        if let Some(t) = self.parked_until {
            wake = wake.min(t);
        }
        if let Some(t) = self.floor.next_deadline() {
            wake = wake.min(t);
        }
        wake
    }

    /// Registered contacts, and live calls (for `/health`).
    pub fn counts(&self) -> (usize, usize) {
        (self.registrations, self.calls.len())
    }

    fn count_registrations(&mut self) {
        self.registrations = self.registrar.all().count();
    }

    /// The live channels, ordered by name.
    pub fn channels(&self) -> impl Iterator<Item = &ChannelInfo> {
        self.channels.iter()
    }

    /// The dialplan new calls run.
    pub fn dialplan(&self) -> &LoadedPlan {
        &self.plan
    }

    // ---------------------------------------------------------------- internals

    /// Handles what the transaction layer has to say, until it has nothing more.
    fn drive(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TxEvent::Request { tx, request, peer } => self.on_request(tx, request, peer, now),
                TxEvent::Ack { request, .. } => self.on_ack(request, now),
                TxEvent::Response { tx, response, .. } => self.on_response(tx, response, now),
                TxEvent::Timeout { tx } => self.on_client_timeout(tx, now),
                TxEvent::AckTimeout { tx } => self.on_ack_timeout(tx, now),
            }
        }
        self.publish_locks(now);
        self.run_floor(now);
    }

    /// True when `peer` (not a trunk) has used up its budget of new requests.
    fn over_budget(&mut self, peer: Peer, now: Instant) -> bool {
        let Some(limiter) = self.flood.as_mut() else {
            return false;
        };
        let trunk = self
            .config
            .trunk_by_source(peer.addr.ip(), peer.addr.port())
            .is_some();
        if trunk || limiter.allow(peer.addr.ip(), now) {
            return false;
        }
        tracing::warn!(%peer, "too many requests from this source: 503");
        true
    }

    fn on_request(&mut self, tx: Option<ServerTxId>, req: Request, peer: Peer, now: Instant) {
        let Some(tx) = tx else {
            return;
        };
        if matches!(req.max_forwards(), Ok(Some(0))) {
            return self.respond(tx, &req, 483, now);
        }
        let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_string));
        if let Some(tag) = to_tag {
            let key = (req.call_id().unwrap_or_default().to_string(), tag);
            return match self.dialogs.get(&key).copied() {
                Some((id, side)) => self.on_in_dialog(tx, req, id, side, now),
                None if req.method == Method::Bye && self.ended_dialogs.contains_key(&key) => {
                    self.respond(tx, &req, 200, now)
                }
                None => self.respond(tx, &req, 481, now),
            };
        }
        if !self.replaying && req.method != Method::Ack && self.over_budget(peer, now) {
            let mut resp = self.response(&req, 503);
            resp.headers.push("Retry-After", "5");
            return self.layer.respond_once(tx, resp, now);
        }
        match req.method {
            Method::Register => self.on_register(tx, req, peer, now),
            Method::Invite if self.shutting_down => self.respond(tx, &req, 503, now),
            Method::Invite => self.on_new_invite(tx, req, peer, now),
            Method::Cancel => self.on_cancel(tx, req, now),
            Method::Options => {
                let mut resp = self.response(&req, 200);
                resp.headers.push("Accept", "application/sdp");
                self.layer.respond(tx, resp, now);
            }
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                self.respond(tx, &req, 481, now)
            }
            Method::Other(_) => self.respond(tx, &req, 501, now),
            _ => self.respond(tx, &req, 405, now),
        }
    }

    fn on_response(&mut self, tx: ClientTxId, resp: Response, now: Instant) {
        let Some((id, purpose)) = self.client_txs.get(&tx).copied() else {
            return;
        };
        match purpose {
            TxPurpose::Branch(n) => self.on_branch_response(id, n, resp, now),
            TxPurpose::Refer if resp.status >= 200 => {
                self.client_txs.remove(&tx);
                self.on_refer_response(id, resp.status);
            }
            TxPurpose::Reinvite(side) => {
                // A 2xx is kept: its retransmissions are ACKed again.
                if resp.status >= 300 {
                    self.client_txs.remove(&tx);
                }
                self.on_reinvite_response(id, side, resp, now);
            }
            TxPurpose::Refresh(side) if resp.status >= 200 => {
                self.client_txs.remove(&tx);
                self.on_refresh_response(id, side, resp.status, now);
            }
            TxPurpose::Other if resp.status >= 200 => {
                self.client_txs.remove(&tx);
            }
            TxPurpose::Other | TxPurpose::Refer | TxPurpose::Refresh(_) => {}
        }
    }

    fn on_client_timeout(&mut self, tx: ClientTxId, now: Instant) {
        match self.client_txs.remove(&tx) {
            Some((id, TxPurpose::Branch(n))) => self.on_branch_failed(id, n, 408, now),
            Some((id, TxPurpose::Refer)) => self.on_refer_timeout(id),
            Some((id, TxPurpose::Reinvite(side))) => self.on_reinvite_timeout(id, side, now),
            Some((id, TxPurpose::Refresh(side))) => self.on_refresh_response(id, side, 408, now),
            Some((_, TxPurpose::Other)) | None => {}
        }
    }

    /// Our 2xx to an INVITE was never acknowledged: the caller is gone, end the call.
    fn on_ack_timeout(&mut self, tx: ServerTxId, now: Instant) {
        if let Some(id) = self.server_invites.remove(&tx) {
            tracing::warn!(call = %id, "no ACK for our 200 OK: ending the call");
            self.caller_gone(id, now);
        }
    }

    /// May a request from an unknown user wait for a fresher snapshot?
    fn may_park(&self) -> bool {
        !self.replaying && self.parked.len() < MAX_PARKED
    }

    /// Holds a request until a fresher snapshot is in (its server transaction
    /// absorbs retransmissions meanwhile); the first one asks the shell for it.
    fn park(&mut self, tx: ServerTxId, req: Request, peer: Peer, now: Instant) {
        if self.parked.is_empty() {
            self.out.push_back(Output::RefreshConfig);
            self.parked_until = Some(now + PARK_LIMIT);
        }
        self.parked.push((tx, req, peer));
    }

    fn replay_parked(&mut self, now: Instant) {
        self.parked_until = None;
        let parked = std::mem::take(&mut self.parked);
        self.replaying = true;
        for (tx, req, peer) in parked {
            self.on_request(Some(tx), req, peer, now);
        }
        self.replaying = false;
        self.drive(now);
    }

    /// A response with our To tag and Allow, as every response we make (the
    /// transaction layer adds `Server`).
    fn response(&self, req: &Request, status: u16) -> Response {
        let mut resp = Response::for_request(req, status, Response::reason_phrase(status));
        ensure_to_tag(&mut resp, status);
        resp.headers.push("Allow", ALLOW);
        resp
    }

    /// `require_tls`: an authenticated request of `ext` that did not come over TLS
    /// is answered 403 with a Warning saying why (the caller proved who it is, so
    /// this tells a stranger nothing). True when it was refused.
    fn refused_without_tls(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        ext: &store::Extension,
        peer: Peer,
        now: Instant,
    ) -> bool {
        if !ext.require_tls || peer.transport.is_secure() {
            return false;
        }
        tracing::warn!(ext = %ext.number, %peer, method = %req.method, "refused: this extension must use SIP over TLS");
        let mut resp = self.response(req, 403);
        resp.headers.push(
            "Warning",
            "399 spygroup \"TLS required for this extension\"",
        );
        self.layer.respond(tx, resp, now);
        true
    }

    fn respond(&mut self, tx: ServerTxId, req: &Request, status: u16, now: Instant) {
        let resp = self.response(req, status);
        self.layer.respond(tx, resp, now);
    }

    /// Our Contact for a leg on this transport.
    fn contact(&self, peer: Peer) -> String {
        self.via_host.contact(peer.transport)
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn store(&mut self, write: store::Write) {
        self.out.push_back(Output::Store(write));
    }

    fn media_op(&mut self, bridge: BridgeId, op: MediaOp) {
        self.out.push_back(Output::Media { bridge, op });
    }

    fn tell_chan(&mut self, call: CallId, event: crate::chan::ChanEvent) {
        self.out.push_back(Output::Chan { call, event });
    }

    /// The wall-clock time at `now`.
    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }
}

/// A seed for the floor's `random` strategy: different at each start.
fn floor_seed(wall: SystemTime) -> u64 {
    wall.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The Contact we put in requests and responses on a leg using `transport`.
pub(super) fn contact_for(via_host: &dialog::SentBy, transport: sip::Transport) -> String {
    via_host.contact(transport)
}

/// RFC 3581 and RFC 3261 18.2.1: note where the request really came from in its top Via,
/// so responses (sent to the source anyway) carry `received`/`rport` for the client.
fn stamp_via(req: &mut Request, peer: Peer) {
    let Ok(mut via) = req.top_via() else {
        return;
    };
    let ip = peer.addr.ip().to_string();
    if via.host.trim_start_matches('[').trim_end_matches(']') != ip {
        via.set_param("received", Some(&ip));
    }
    if via.rport().is_some() {
        via.set_param("rport", Some(&peer.addr.port().to_string()));
        via.set_param("received", Some(&ip));
    }
    req.headers.remove_first("Via");
    req.headers.insert_first("Via", via.to_string());
}

/// RFC 3261 8.2.6.2: a UAS adds a tag to To in every response but 100.
fn ensure_to_tag(resp: &mut Response, status: u16) {
    if status == 100 {
        return;
    }
    if let Some(to) = resp.headers.get("To") {
        if let Ok(mut na) = to.parse::<sip::NameAddr>() {
            if na.tag().is_none() {
                na.set_tag(&sip::new_tag());
                resp.headers.set("To", na.to_string());
            }
        }
    }
}
