//! The switch's SIP core: one task that owns the transaction layer, the registrar, the
//! authenticator and every live call, fed by the transport edge.
//!
//! All SIP state lives in this one task, so no locks guard it; the transaction layer
//! under it is I/O-free and says what to send and when to wake up.

mod auth;
mod call;
mod dial;
mod dialog;
mod indialog;
mod lifecycle;
mod monitor;
mod register;
mod setup;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::MediaEngine;
use sip::transaction::{ClientTxId, Config as TxConfig, Event, ServerTxId, TransactionLayer};
use sip::transport::{Inbound, TransportHandle};
use sip::{Message, Method, Peer, Request, Response};
use tokio::sync::{mpsc, oneshot};

use crate::apps::AppEnv;
use crate::chan::ChanRequest;
use crate::channel::ChannelNamer;
use crate::registrar::{Registrar, RegistrarConfig};
use crate::registry::Registry;
use crate::PbxConfig;
use auth::Authenticator;
use call::{Call, CallId, LegSide};

pub(crate) const USER_AGENT: &str = concat!("spygroup/", env!("CARGO_PKG_VERSION"));
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";
/// How often expired registrations, nonces and lockouts are swept.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// Counters shared with the health endpoint.
#[derive(Debug, Default)]
pub struct SharedStats {
    pub registrations: AtomicUsize,
    pub calls: AtomicUsize,
}

/// What the switch shares with the rest of the PBX, made by `pbx::start`.
pub struct SwitchParts {
    /// The digest realm (from the database).
    pub realm: String,
    pub stats: Arc<SharedStats>,
    pub plan: LoadedPlan,
    pub registry: Registry,
    pub events: crate::events::EventBus,
    pub monitors: crate::chan::Monitors,
}

/// Requests from the outside world to the switch task.
pub enum Command {
    Shutdown(oneshot::Sender<()>),
    /// Re-read the dialplan file; the old one stays when the new one has errors.
    ReloadDialplan(oneshot::Sender<Result<usize, String>>),
    /// Click-to-spy: ring `supervisor`, then monitor the call of channel `target`.
    Monitor {
        supervisor: String,
        target: String,
        mode: media::mix::SpyMode,
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// A loaded dialplan and its globals, replaced whole on reload; calls in progress
/// keep the one they started with.
#[derive(Clone)]
pub struct LoadedPlan {
    pub plan: Arc<dialplan::Dialplan>,
    pub globals: dialplan::Globals,
}

impl LoadedPlan {
    /// Loads and checks a dialplan file: errors (with file:line) refuse it; warnings
    /// are logged and counted.
    pub fn load(path: &std::path::Path) -> Result<(LoadedPlan, usize), String> {
        match dialplan::Dialplan::load(path) {
            Ok((plan, diags)) => {
                for d in &diags {
                    tracing::warn!("{d}");
                }
                let globals = dialplan::Globals::from_pairs(plan.globals());
                Ok((
                    LoadedPlan {
                        plan: Arc::new(plan),
                        globals,
                    },
                    diags.len(),
                ))
            }
            Err(e) => Err(e
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }
}

/// What a client transaction we started was for.
#[derive(Debug, Clone, Copy)]
enum TxPurpose {
    /// The INVITE of branch `n` of a call.
    Branch(usize),
    /// BYE, CANCEL: only their completion matters.
    Other,
}

pub struct Switch {
    cfg: PbxConfig,
    store: store::Store,
    transport: TransportHandle,
    layer: TransactionLayer,
    registrar: Registrar,
    auth: Authenticator,
    media: MediaEngine,
    namer: ChannelNamer,
    calls: HashMap<CallId, Call>,
    /// (Call-ID, our tag) -> the call and leg an in-dialog request belongs to.
    dialogs: HashMap<(String, String), (CallId, LegSide)>,
    client_txs: HashMap<ClientTxId, (CallId, TxPurpose)>,
    /// A's INVITE transactions, to find the call a CANCEL refers to.
    server_invites: HashMap<ServerTxId, CallId>,
    next_call: CallId,
    stats: Arc<SharedStats>,
    /// Our SIP address as others should reach it: `host:port`.
    via_host: String,
    advertised: std::net::SocketAddr,
    next_housekeeping: Instant,
    /// No-answer deadlines of Dials, earliest first; an entry whose call has since
    /// been answered or ended is skipped when it comes due.
    dial_deadlines: BinaryHeap<Reverse<(Instant, CallId)>>,
    /// The dialplan new calls run.
    plan: LoadedPlan,
    /// Live channels (ChanSpy's view).
    registry: Registry,
    prompts: Arc<media::wav::Prompts>,
    events: crate::events::EventBus,
    /// Monitors started from the API, steerable by id.
    monitors: crate::chan::Monitors,
    /// Channel tasks' requests come in here (each task holds a sender).
    chan_requests: mpsc::UnboundedSender<ChanRequest>,
    chan_requests_rx: Option<mpsc::UnboundedReceiver<ChanRequest>>,
}

impl Switch {
    pub fn new(
        cfg: PbxConfig,
        store: store::Store,
        transport: TransportHandle,
        parts: SwitchParts,
    ) -> Switch {
        let SwitchParts {
            realm,
            stats,
            plan,
            registry,
            events,
            monitors,
        } = parts;
        let advertised = if transport.local_addr().ip().is_unspecified() {
            cfg.media_ip
        } else {
            transport.local_addr().ip()
        };
        let via_host = match advertised {
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", transport.local_addr().port()),
            std::net::IpAddr::V4(ip) => format!("{ip}:{}", transport.local_addr().port()),
        };
        let registrar = Registrar::new(RegistrarConfig {
            min_expires: cfg.min_expires,
            max_expires: cfg.max_expires,
            default_expires: cfg.default_expires,
            max_bindings_per_aor: 10,
        });
        let media = MediaEngine::new(cfg.media_ip, cfg.rtp_ports.clone());
        let (chan_requests, chan_requests_rx) = mpsc::unbounded_channel();
        let advertised = std::net::SocketAddr::new(advertised, transport.local_addr().port());
        Switch {
            store,
            transport,
            layer: TransactionLayer::new(TxConfig::default()),
            registrar,
            auth: Authenticator::new(realm, cfg.digest_algorithms.clone()),
            media,
            namer: ChannelNamer::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            client_txs: HashMap::new(),
            server_invites: HashMap::new(),
            next_call: 1,
            stats,
            via_host,
            advertised,
            chan_requests,
            chan_requests_rx: Some(chan_requests_rx),
            plan,
            registry,
            events,
            monitors,
            prompts: Arc::new(media::wav::Prompts::new(cfg.sounds.clone())),
            next_housekeeping: Instant::now() + HOUSEKEEPING,
            dial_deadlines: BinaryHeap::new(),
            cfg,
        }
    }

    /// Serves until a shutdown command arrives (or every handle is gone).
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        self.restore_registrations().await;
        let Some(mut chan_requests) = self.chan_requests_rx.take() else {
            return;
        };
        loop {
            self.pump().await;
            let wake = self.next_wakeup();
            tokio::select! {
                msg = inbound.recv() => match msg {
                    Some(m) => self.on_inbound(m),
                    None => break,
                },
                Some(req) = chan_requests.recv() => self.on_chan_request(req, Instant::now()).await,
                cmd = commands.recv() => match cmd {
                    Some(Command::ReloadDialplan(reply)) => {
                        let _ = reply.send(self.reload_dialplan());
                    }
                    Some(Command::Monitor { supervisor, target, mode, reply }) => {
                        let r = self.start_monitor(supervisor, target, mode).await;
                        let _ = reply.send(r);
                    }
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                _ = tokio::time::sleep_until(wake.into()) => self.on_tick(Instant::now()).await,
            }
        }
        self.shutdown().await;
    }

    fn next_wakeup(&self) -> Instant {
        let mut wake = self.next_housekeeping;
        if let Some(t) = self.layer.poll_timeout() {
            wake = wake.min(t);
        }
        if let Some(Reverse((d, _))) = self.dial_deadlines.peek() {
            wake = wake.min(*d);
        }
        wake
    }

    async fn on_tick(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
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
            for (aor, binding) in self.registrar.purge_expired(now) {
                tracing::info!(%aor, contact = %binding.contact_uri, "registration expired");
                self.events.emit(
                    "registration.expired",
                    serde_json::json!({ "aor": aor, "contact": binding.contact_uri }),
                );
                if let Err(e) = self.store.delete_location(&aor, &binding.contact_uri).await {
                    tracing::warn!("cannot forget expired location: {e}");
                }
            }
            self.count_registrations();
        }
    }

    /// Hands a parsed message to the transaction layer after the checks that need no
    /// transaction: RFC 3581 Via stamping and request validation (400).
    fn on_inbound(&mut self, Inbound { peer, message }: Inbound) {
        let now = Instant::now();
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
    }

    /// Drains what the transaction layer wants sent and what it has to say, until both
    /// are empty (handling an event may send more).
    async fn pump(&mut self) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.transport.send(t.peer, t.data);
            }
            let Some(event) = self.layer.poll_event() else {
                break;
            };
            self.on_event(event).await;
        }
        self.stats.calls.store(self.calls.len(), Ordering::Relaxed);
    }

    /// Refreshes the health counter of bindings; called where bindings change (a
    /// REGISTER, expiry, restore) rather than on every message.
    fn count_registrations(&self) {
        self.stats
            .registrations
            .store(self.registrar.all().count(), Ordering::Relaxed);
    }

    async fn on_event(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Request { tx, request, peer } => self.on_request(tx, request, peer, now).await,
            Event::Ack { request, peer } => self.on_ack(request, peer),
            Event::Response { tx, response, .. } => self.on_response(tx, response, now).await,
            Event::Timeout { tx } => self.on_client_timeout(tx, now).await,
            Event::AckTimeout { tx } => self.on_ack_timeout(tx, now).await,
        }
    }

    async fn on_request(&mut self, tx: Option<ServerTxId>, req: Request, peer: Peer, now: Instant) {
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
                Some((id, side)) => self.on_in_dialog(tx, req, peer, id, side, now).await,
                None => self.respond(tx, &req, 481, now),
            };
        }
        match req.method {
            Method::Register => self.on_register(tx, req, peer, now).await,
            Method::Invite => self.on_new_invite(tx, req, peer, now).await,
            Method::Cancel => self.on_cancel(tx, req, now).await,
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

    /// A response with our To tag, Allow and User-Agent, as every response we make.
    fn response(&self, req: &Request, status: u16) -> Response {
        let mut resp = Response::for_request(req, status, Response::reason_phrase(status));
        ensure_to_tag(&mut resp, status);
        resp.headers.push("Allow", ALLOW);
        resp.headers.push("User-Agent", USER_AGENT);
        resp
    }

    fn respond(&mut self, tx: ServerTxId, req: &Request, status: u16, now: Instant) {
        let resp = self.response(req, status);
        self.layer.respond(tx, resp, now);
    }

    /// Our Contact for a leg on this transport.
    fn contact(&self, peer: Peer) -> String {
        contact_for(&self.via_host, peer.transport)
    }

    async fn on_response(&mut self, tx: ClientTxId, resp: Response, now: Instant) {
        let Some((id, purpose)) = self.client_txs.get(&tx).copied() else {
            return;
        };
        if resp.status >= 200 && !matches!(purpose, TxPurpose::Branch(_)) {
            self.client_txs.remove(&tx);
        }
        if let TxPurpose::Branch(n) = purpose {
            self.on_branch_response(id, n, resp, now).await;
        }
    }

    async fn on_client_timeout(&mut self, tx: ClientTxId, now: Instant) {
        match self.client_txs.remove(&tx) {
            Some((id, TxPurpose::Branch(n))) => self.on_branch_failed(id, n, 408, now).await,
            Some((_, TxPurpose::Other)) | None => {}
        }
    }

    /// Our 2xx to an INVITE was never acknowledged: the caller is gone, end the call.
    async fn on_ack_timeout(&mut self, tx: ServerTxId, now: Instant) {
        if let Some(id) = self.server_invites.remove(&tx) {
            tracing::warn!(call = id, "no ACK for our 200 OK: ending the call");
            self.caller_gone(id, now).await;
        }
    }

    fn on_ack(&mut self, req: Request, _peer: Peer) {
        // A late SDP answer in an ACK (after a re-INVITE without offer) updates the media
        // address of that leg.
        let Some(tag) = req.to().ok().and_then(|t| t.tag().map(str::to_string)) else {
            return;
        };
        let key = (req.call_id().unwrap_or_default().to_string(), tag);
        if let Some((id, side)) = self.dialogs.get(&key).copied() {
            if let Some(call) = self.calls.get_mut(&id) {
                indialog::apply_remote_sdp(call, side, &req.body);
            }
        }
    }

    fn reload_dialplan(&mut self) -> Result<usize, String> {
        let (plan, warnings) = LoadedPlan::load(&self.cfg.dialplan)?;
        self.plan = plan;
        tracing::info!(file = %self.cfg.dialplan.display(), warnings, "dialplan reloaded");
        Ok(warnings)
    }

    /// What a new channel task needs.
    fn app_env(&self) -> AppEnv {
        AppEnv {
            store: self.store.clone(),
            plan: self.plan.plan.clone(),
            prompts: self.prompts.clone(),
            registry: self.registry.clone(),
            recordings: self.cfg.recordings.clone(),
            events: self.events.clone(),
        }
    }

    async fn restore_registrations(&mut self) {
        match self.store.load_locations().await {
            Ok(locations) => {
                let n = locations.len();
                for loc in locations {
                    register::restore(&mut self.registrar, loc);
                }
                if n > 0 {
                    tracing::info!("restored {n} registrations from the database");
                }
                self.count_registrations();
            }
            Err(e) => tracing::warn!("cannot load registrations: {e}"),
        }
    }

    /// Ends every live call (BYE to answered ones, 503 to ringing callers), lets the
    /// transaction layer send it all, and writes the call records.
    async fn shutdown(&mut self) {
        let now = Instant::now();
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            self.shutdown_call(id, now).await;
        }
        // Give BYEs and CANCELs a moment to be answered (bounded): answered ones leave
        // `client_txs`.
        let until = Instant::now() + Duration::from_millis(1000);
        while Instant::now() < until && !self.client_txs.is_empty() {
            self.pump().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.layer.handle_timeout(Instant::now());
        }
        self.pump().await;
    }
}

/// The Contact we put in requests and responses on a leg using `transport`.
pub(super) fn contact_for(via_host: &str, transport: sip::Transport) -> String {
    match transport {
        sip::Transport::Udp => format!("<sip:spygroup@{via_host}>"),
        sip::Transport::Tcp => format!("<sip:spygroup@{via_host};transport=tcp>"),
    }
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
