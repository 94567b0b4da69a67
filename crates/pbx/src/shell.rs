//! The switch's async shell: everything the I/O-free [`Switch`] cannot do itself.
//! It owns the SIP transport, the media bridges, the write-behind store, the event
//! bus and the channel tasks; it feeds the switch what arrives (SIP, channel
//! requests, commands, configuration snapshots, time) and carries out what the
//! switch asks (its [`Output`]s), in order, until there is nothing left.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::{MediaBridge, MediaEngine};
use sip::transport::{Inbound, TransportHandle};
use store::ConfigSnapshot;
use tokio::sync::{mpsc, oneshot, watch};

use crate::apps::AppEnv;
use crate::chan::{self, CallId, ChanEvent, ChanRequest, Channel};
use crate::monitor::{MonitorError, MonitorId, Monitors};
use crate::registry::{ChannelEntry, Registry};
use crate::switch::{
    BridgeId, MediaOp, MediaPorts, MediaUnavailable, OpenedBridge, Output, Spawn, SpawnKind, Switch,
};
use crate::{EventBus, LoadedPlan, PbxConfig, SharedStats};

/// How long a stopping switch waits for its BYEs and CANCELs to be answered.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(1);
/// How long a stopping switch waits for queued database writes.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);
/// How long shutdown waits for recordings' files to be complete (a slow disk).
const SHUTDOWN_RECORDINGS: Duration = Duration::from_secs(3);
/// Reloads the switch asks for start at least this far apart, so a flood of
/// requests naming unknown users cannot keep the database busy reloading.
const REFRESH_GAP: Duration = Duration::from_millis(200);

/// Requests from the outside world (the HTTP API, signals) to the switch.
pub enum Command {
    Shutdown(oneshot::Sender<()>),
    /// Re-read the dialplan file; the old one stays when the new one has errors.
    ReloadDialplan(oneshot::Sender<Result<usize, String>>),
    /// Click-to-spy: ring `supervisor`, then monitor `target` (a call id or a
    /// channel name).
    Monitor {
        supervisor: String,
        target: String,
        mode: media::mix::SpyMode,
        follow: model::Follow,
        reply: oneshot::Sender<Result<MonitorId, MonitorError>>,
    },
    /// Click-to-spy to a browser: the supervisor's leg is the WebRTC gateway's
    /// loopback socket `browser`; the reply carries the bridge port for it.
    BrowserMonitor {
        supervisor: String,
        target: String,
        mode: media::mix::SpyMode,
        follow: model::Follow,
        browser: std::net::SocketAddr,
        reply: oneshot::Sender<Result<(MonitorId, u16), MonitorError>>,
    },
    /// The web console's sign-in with an extension's secret (see `Switch::sign_in`).
    SignIn {
        extension: String,
        secret: String,
        source: std::net::IpAddr,
        reply: oneshot::Sender<Option<crate::switch::ConsoleUser>>,
    },
    /// The digest locks in force.
    Lockouts(oneshot::Sender<Vec<model::Lockout>>),
    /// Lift the digest lock with this id; the answer says whether there was one.
    LiftLockout {
        id: String,
        by: String,
        reply: oneshot::Sender<bool>,
    },
}

/// How often the bridges' received-packet counters are handed to the switch.
const MEDIA_TICK: std::time::Duration = std::time::Duration::from_secs(2);

/// A click-to-spy request on its way to the switch.
pub(crate) struct MonitorRequest {
    supervisor: String,
    target: String,
    mode: media::mix::SpyMode,
    follow: model::Follow,
    reply: MonitorReply,
}

/// Whose leg a click-to-spy rings, and where its answer goes.
enum MonitorReply {
    /// The supervisor's registered phone.
    Phone(oneshot::Sender<Result<MonitorId, MonitorError>>),
    /// A browser's WebRTC leg at this loopback socket: the answer carries the
    /// bridge port the gateway sends to.
    Browser(
        std::net::SocketAddr,
        oneshot::Sender<Result<(MonitorId, u16), MonitorError>>,
    ),
}

/// Bridges opened from the real media engine, kept by id for the shell.
pub(crate) struct EngineMedia {
    engine: MediaEngine,
    next: u64,
    bridges: Arc<Mutex<HashMap<BridgeId, MediaBridge>>>,
}

impl EngineMedia {
    pub fn new(engine: MediaEngine) -> (EngineMedia, Arc<Mutex<HashMap<BridgeId, MediaBridge>>>) {
        let bridges = Arc::new(Mutex::new(HashMap::new()));
        (
            EngineMedia {
                engine,
                next: 1,
                bridges: bridges.clone(),
            },
            bridges,
        )
    }
}

impl MediaPorts for EngineMedia {
    fn open(&mut self) -> Result<OpenedBridge, MediaUnavailable> {
        let bridge = self
            .engine
            .open()
            .map_err(|e| MediaUnavailable(e.to_string()))?;
        let id = BridgeId(self.next);
        self.next += 1;
        let ports = [bridge.port(media::Side::A), bridge.port(media::Side::B)];
        lock(&self.bridges).insert(id, bridge);
        Ok(OpenedBridge { id, ports })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the shell runs with, besides the switch.
pub(crate) struct ShellParts {
    pub cfg: PbxConfig,
    pub transport: TransportHandle,
    pub bridges: Arc<Mutex<HashMap<BridgeId, MediaBridge>>>,
    pub config: store::LiveConfig,
    pub registry: Registry,
    pub events: EventBus,
    pub monitors: Monitors,
    pub conferences: crate::conference::Conferences,
    pub pins: crate::pinguard::PinGuard,
    pub stats: Arc<SharedStats>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub prompts: Arc<media::wav::Prompts>,
    pub music: Arc<crate::moh::MusicLibrary>,
    /// Recordings waiting for their files to be complete.
    pub pending_recordings: crate::apps::PendingRecordings,
    /// The call-center floor's view, as the switch last published it.
    pub floor: crate::queue::FloorView,
}

pub(crate) struct Shell {
    switch: Switch,
    parts: ShellParts,
    /// A reload the switch asked for is running; its end is signalled here. Asked
    /// again meanwhile: one more must run (it may have read before the change).
    refreshing: bool,
    refresh_again: bool,
    last_refresh: Option<tokio::time::Instant>,
    refreshed_tx: mpsc::UnboundedSender<()>,
    refreshed_rx: Option<mpsc::UnboundedReceiver<()>>,
    /// Click-to-spy requests the configuration would refuse, waiting for that
    /// reload before the real attempt (a grant made a moment ago counts).
    pending_monitors: Vec<MonitorRequest>,
    /// Each live call's channel task, by call.
    tasks: HashMap<CallId, mpsc::UnboundedSender<ChanEvent>>,
    chan_requests: mpsc::UnboundedSender<ChanRequest>,
}

impl Shell {
    pub fn new(switch: Switch, parts: ShellParts) -> (Shell, mpsc::UnboundedReceiver<ChanRequest>) {
        let (chan_requests, rx) = mpsc::unbounded_channel();
        let (refreshed_tx, refreshed_rx) = mpsc::unbounded_channel();
        (
            Shell {
                switch,
                parts,
                refreshing: false,
                refresh_again: false,
                last_refresh: None,
                refreshed_tx,
                refreshed_rx: Some(refreshed_rx),
                pending_monitors: Vec::new(),
                tasks: HashMap::new(),
                chan_requests,
            },
            rx,
        )
    }

    /// Serves until a shutdown command arrives (or every handle is gone).
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<Command>,
        mut chan_requests: mpsc::UnboundedReceiver<ChanRequest>,
    ) {
        let mut snapshots: watch::Receiver<Arc<ConfigSnapshot>> = self.parts.config.watch();
        let Some(mut refreshed) = self.refreshed_rx.take() else {
            return;
        };
        let mut done = None;
        // False once the configuration's publisher is gone (it never is while
        // `parts.config` lives; then the last snapshot simply stays).
        let mut watching = true;
        // How often the media counters go to the switch's watchdog (RTP timeout).
        let mut media_tick = tokio::time::interval(MEDIA_TICK);
        media_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.apply_outputs();
            let wake = self.switch.poll_timeout();
            tokio::select! {
                msg = inbound.recv() => match msg {
                    Some(Inbound { peer, message }) => {
                        if matches!(message, sip::Message::Request(_)) {
                            self.parts.metrics.count_request_received();
                        }
                        self.switch.handle_sip(peer, message, Instant::now())
                    }
                    None => break,
                },
                Some(req) = chan_requests.recv() => self.switch.handle_chan(req, Instant::now()),
                cmd = commands.recv() => match cmd {
                    Some(Command::ReloadDialplan(reply)) => {
                        let _ = reply.send(self.reload_dialplan());
                    }
                    Some(Command::Monitor { supervisor, target, mode, follow, reply }) => {
                        let reply = MonitorReply::Phone(reply);
                        self.monitor_or_refresh(MonitorRequest { supervisor, target, mode, follow, reply });
                    }
                    Some(Command::BrowserMonitor { supervisor, target, mode, follow, browser, reply }) => {
                        let reply = MonitorReply::Browser(browser, reply);
                        self.monitor_or_refresh(MonitorRequest { supervisor, target, mode, follow, reply });
                    }
                    Some(Command::SignIn { extension, secret, source, reply }) => {
                        let user = self.switch.sign_in(&extension, &secret, source, Instant::now());
                        let _ = reply.send(user);
                    }
                    Some(Command::Lockouts(reply)) => {
                        let _ = reply.send(self.switch.lockouts(Instant::now()));
                    }
                    Some(Command::LiftLockout { id, by, reply }) => {
                        let _ = reply.send(self.switch.lift_lockout(&id, &by, Instant::now()));
                    }
                    Some(Command::Shutdown(reply)) => {
                        done = Some(reply);
                        break;
                    }
                    None => break,
                },
                Some(()) = refreshed.recv() => {
                    self.refreshing = false;
                    if std::mem::take(&mut self.refresh_again) {
                        self.refresh();
                    } else {
                        let snap = snapshots.borrow_and_update().clone();
                        self.switch.config_refreshed(snap, Instant::now());
                        for req in std::mem::take(&mut self.pending_monitors) {
                            self.monitor(req);
                        }
                    }
                }
                changed = snapshots.changed(), if watching => match changed {
                    Ok(()) => {
                        let snap = snapshots.borrow_and_update().clone();
                        self.switch.set_config(snap, Instant::now());
                    }
                    Err(_) => watching = false,
                },
                _ = tokio::time::sleep_until(wake.into()) => self.switch.handle_timeout(Instant::now()),
                _ = media_tick.tick() => {
                    let activity: Vec<(BridgeId, [u64; 2])> = lock(&self.parts.bridges)
                        .iter()
                        .map(|(id, b)| {
                            let s = b.stats();
                            (*id, [s.a.packets_in + s.a.rtcp_in, s.b.packets_in + s.b.rtcp_in])
                        })
                        .collect();
                    self.switch.media_activity(&activity, Instant::now());
                }
            }
        }
        self.shutdown(&mut inbound, &mut chan_requests).await;
        if let Some(reply) = done {
            let _ = reply.send(());
        }
    }

    /// Starts a monitor, unless the configuration refuses it: then first a fresher
    /// snapshot (a grant made a moment ago counts), and the attempt after it.
    fn monitor_or_refresh(&mut self, req: MonitorRequest) {
        match self
            .switch
            .check_monitor(&req.supervisor, &req.target, req.mode)
        {
            Err(MonitorError::Forbidden(_) | MonitorError::NoSuchSupervisor(_)) => {
                self.pending_monitors.push(req);
                self.refresh();
            }
            _ => self.monitor(req),
        }
    }

    fn monitor(&mut self, req: MonitorRequest) {
        let now = Instant::now();
        let (who, target) = (&req.supervisor, &req.target);
        match req.reply {
            MonitorReply::Phone(reply) => {
                let r = self
                    .switch
                    .start_monitor(who, target, req.mode, req.follow, now);
                let _ = reply.send(r);
            }
            MonitorReply::Browser(browser, reply) => {
                let r = self
                    .switch
                    .start_browser_monitor(who, target, req.mode, req.follow, browser, now);
                let _ = reply.send(r);
            }
        }
    }

    fn reload_dialplan(&mut self) -> Result<usize, String> {
        let file = self.parts.cfg.dialplan.clone();
        match LoadedPlan::load(&file) {
            Ok((plan, warnings)) => {
                self.switch.set_dialplan(plan);
                tracing::info!(file = %file.display(), warnings, "dialplan reloaded");
                Ok(warnings)
            }
            Err(e) => {
                tracing::error!(file = %file.display(), "dialplan NOT reloaded, the running one stays:\n{e}");
                Err(e)
            }
        }
    }

    /// Ends every call, lets BYEs and CANCELs be answered (bounded), releases the
    /// media and waits for the queued database writes.
    async fn shutdown(
        &mut self,
        inbound: &mut mpsc::Receiver<Inbound>,
        chan_requests: &mut mpsc::UnboundedReceiver<ChanRequest>,
    ) {
        self.switch.shutdown(Instant::now());
        let until = tokio::time::Instant::now() + SHUTDOWN_DRAIN;
        loop {
            self.apply_outputs();
            if self.switch.is_settled() {
                break;
            }
            let wake = self.switch.poll_timeout();
            tokio::select! {
                Some(Inbound { peer, message }) = inbound.recv() => {
                    self.switch.handle_sip(peer, message, Instant::now())
                }
                Some(req) = chan_requests.recv() => self.switch.handle_chan(req, Instant::now()),
                _ = tokio::time::sleep_until(wake.into()) => self.switch.handle_timeout(Instant::now()),
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        self.apply_outputs();
        let bridges: Vec<MediaBridge> = lock(&self.parts.bridges).drain().map(|(_, b)| b).collect();
        for b in bridges {
            b.close().await;
        }
        // Closing the bridges completed the recordings' files: let their ends be
        // submitted before the last flush.
        if !self
            .parts
            .pending_recordings
            .settled(SHUTDOWN_RECORDINGS)
            .await
        {
            tracing::warn!(
                "recordings still being completed at shutdown stay without an end on record"
            );
        }
        if !self.parts.config.flush(SHUTDOWN_FLUSH).await {
            tracing::error!("database writes still queued at shutdown were not written");
        }
    }

    /// Carries out everything the switch asked for, in order.
    fn apply_outputs(&mut self) {
        while let Some(out) = self.switch.poll_output() {
            match out {
                Output::Transmit(t) => {
                    self.parts.metrics.count_sent(&t.data);
                    self.parts.transport.send(t.peer, t.data)
                }
                Output::Media { bridge, op } => self.media(bridge, op),
                Output::Store(w) => {
                    self.parts.config.submit(w);
                }
                Output::Event(e) => {
                    if let crate::events::Event::Lockout { lockout } = &e {
                        self.parts.metrics.count_lockout(lockout.kind);
                    }
                    self.parts.events.emit(e)
                }
                Output::Spawn(s) => self.spawn(s),
                Output::Chan { call, event } => {
                    if let Some(tx) = self.tasks.get(&call) {
                        if tx.send(event).is_err() {
                            self.tasks.remove(&call);
                        }
                    }
                }
                Output::Forget(call) => {
                    self.tasks.remove(&call);
                }
                Output::Channel(info) => {
                    let control = lock(&self.parts.bridges)
                        .get(&info.bridge)
                        .map(|b| b.control());
                    if let Some(control) = control {
                        self.parts.registry.put(ChannelEntry {
                            info,
                            bridge: control,
                        });
                    }
                }
                Output::ChannelGone(name) => self.parts.registry.remove(&name),
                Output::RefreshConfig => self.refresh(),
                Output::QueueFloor(view) => self.parts.floor.set(view),
            }
        }
        let (registrations, calls) = self.switch.counts();
        let stats = &self.parts.stats;
        stats.registrations.store(registrations, Ordering::Relaxed);
        stats.calls.store(calls, Ordering::Relaxed);
    }

    /// Reloads the configuration off the switch's task; one at a time (parked
    /// requests wait for the one running).
    fn refresh(&mut self) {
        if std::mem::replace(&mut self.refreshing, true) {
            self.refresh_again = true;
            return;
        }
        let config = self.parts.config.clone();
        let done = self.refreshed_tx.clone();
        let not_before = self.last_refresh.map(|t| t + REFRESH_GAP);
        self.last_refresh = Some(
            not_before
                .unwrap_or_else(tokio::time::Instant::now)
                .max(tokio::time::Instant::now()),
        );
        tokio::spawn(async move {
            if let Some(t) = not_before {
                tokio::time::sleep_until(t).await;
            }
            if let Err(e) = config.refresh_now().await {
                tracing::warn!("cannot reload the configuration: {e}");
            }
            let _ = done.send(());
        });
    }

    fn media(&mut self, id: BridgeId, op: MediaOp) {
        let mut bridges = lock(&self.parts.bridges);
        match op {
            MediaOp::SetRemote {
                side,
                rtp,
                rtcp,
                payload_types,
            } => {
                if let Some(b) = bridges.get(&id) {
                    b.set_remote(side, rtp, rtcp, payload_types);
                }
            }
            MediaOp::SetSrtp { side, keys } => {
                if let Some(b) = bridges.get(&id) {
                    b.set_srtp(side, keys);
                }
            }
            MediaOp::SetCodec {
                side,
                codec,
                dtmf_pt,
            } => {
                if let Some(b) = bridges.get(&id) {
                    b.control().set_codec(side, codec, dtmf_pt);
                }
            }
            MediaOp::Release { side } => {
                if let Some(b) = bridges.get(&id) {
                    b.control().release(side);
                }
            }
            MediaOp::HoldMusic { side, class } => {
                if let Some(b) = bridges.get(&id) {
                    let music = class.and_then(|c| self.parts.music.player(&c));
                    b.control().hold_music(side, music);
                }
            }
            // Dropping the bridge stops its relay and frees its ports.
            MediaOp::Close => {
                if let Some(b) = bridges.remove(&id) {
                    self.parts.metrics.bridge_closed(&b.stats());
                }
            }
        }
    }

    fn spawn(&mut self, s: Spawn) {
        let Spawn {
            call,
            bridge,
            channel,
            kind,
        } = s;
        let Some(media) = lock(&self.parts.bridges).get(&bridge).map(|b| b.control()) else {
            // Cannot happen (the bridge opened with the call); if it did, nothing
            // would ever end the call: end it now.
            tracing::error!(%call, "no media bridge for a new channel task: hanging up");
            let op = chan::ChanOp::Hangup { status: Some(503) };
            self.switch
                .handle_chan(ChanRequest { call, op }, Instant::now());
            return;
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        self.tasks.insert(call, events_tx);
        let env = |plan: &LoadedPlan| AppEnv {
            config: self.parts.config.clone(),
            plan: plan.plan.clone(),
            prompts: self.parts.prompts.clone(),
            music: self.parts.music.clone(),
            registry: self.parts.registry.clone(),
            recordings: self.parts.cfg.recordings.clone(),
            pending_recordings: self.parts.pending_recordings.clone(),
            events: self.parts.events.clone(),
            conferences: self.parts.conferences.clone(),
            pins: self.parts.pins.clone(),
            floor: self.parts.floor.clone(),
        };
        match kind {
            SpawnKind::Dialplan {
                caller,
                dialled,
                plan,
            } => {
                let chan = Channel::new(
                    call,
                    channel,
                    caller,
                    dialled,
                    self.chan_requests.clone(),
                    events_rx,
                );
                let env = env(&plan);
                tokio::spawn(chan::run_dialplan(chan, env, plan.globals.clone(), media));
            }
            SpawnKind::ClickToSpy {
                monitor,
                supervisor,
                target,
                mode,
                follow,
                answered,
            } => {
                let caller = chan::CallerInfo {
                    endpoint: supervisor.clone(),
                    number: supervisor.clone(),
                    name: None,
                    context: "from-internal".into(),
                    trunk: None,
                };
                let chan = Channel::new(
                    call,
                    channel,
                    caller,
                    target.clone(),
                    self.chan_requests.clone(),
                    events_rx,
                );
                let env = env(self.switch.dialplan());
                let monitors = self.parts.monitors.clone();
                let spy = chan::ClickToSpy {
                    supervisor,
                    target,
                    mode,
                    follow,
                    id: monitor,
                    answered,
                };
                tokio::spawn(chan::run_click_to_spy(chan, env, media, spy, monitors));
            }
        }
    }
}
