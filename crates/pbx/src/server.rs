//! Starting and stopping the switch: binds the transports, builds the I/O-free switch
//! and its shell, spawns the shell, and hands back a handle for health checks, the
//! HTTP API and a clean shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use media::mix::SpyMode;
use tokio::sync::{mpsc, oneshot};

use crate::monitor::{ModeReply, MonitorCmd, MonitorError, MonitorId, Monitors};
use crate::permit::{Denied, Policy};
use crate::pinguard::{Announce, PinGuard};
use crate::shell::{Command, EngineMedia, Shell, ShellParts};
use crate::switch::{Switch, SwitchInit};
use crate::{EventBus, LoadedPlan, PbxConfig};

/// How long a refusal waits for a fresh configuration snapshot before it stands.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a mode change waits for its session to take it (a takeover waits for
/// the switch); the session answers within milliseconds unless it is stuck.
const MODE_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Why the switch could not start.
#[derive(Debug, thiserror::Error)]
pub enum PbxError {
    #[error("cannot bind SIP on {addr} (UDP and TCP): {source}; is another PBX running there? choose another address with --sip")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot bind SIP over TLS on {addr}: {source}; choose another address with --sip-tls")]
    BindTls {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] sip::transport::TlsError),
    #[error("cannot read settings from the database: {0}")]
    Store(String),
    #[error("the dialplan has errors:\n{0}")]
    Dialplan(String),
}

/// Counters shared with the health endpoint.
#[derive(Debug, Default)]
pub struct SharedStats {
    pub registrations: AtomicUsize,
    pub calls: AtomicUsize,
}

/// What `/health` reports.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub registrations: usize,
    pub calls: usize,
    /// SIP datagrams or streams that did not parse and were dropped.
    pub unparsable: u64,
    pub sip_addr: Option<std::net::SocketAddr>,
    /// The database as the switch sees it: reachable, and what waits to be written.
    pub store: store::StoreHealth,
}

/// A running switch.
pub struct PbxHandle {
    commands: mpsc::Sender<Command>,
    stats: Arc<SharedStats>,
    transport: sip::transport::TransportHandle,
    task: tokio::task::JoinHandle<()>,
    registry: crate::registry::Registry,
    events: EventBus,
    monitors: Monitors,
    conferences: crate::conference::Conferences,
    config: store::LiveConfig,
    pins: PinGuard,
    metrics: Arc<crate::metrics::Metrics>,
    bridges: Bridges,
    floor: crate::queue::FloorView,
}

type Bridges =
    Arc<std::sync::Mutex<std::collections::HashMap<crate::switch::BridgeId, media::MediaBridge>>>;

/// The TLS side of the transport, from another task.
#[derive(Clone)]
pub struct TlsControl {
    transport: sip::transport::TransportHandle,
}

impl TlsControl {
    /// Where SIP over TLS listens, if it does.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        self.transport.tls_addr()
    }

    /// Reads the certificate and key files again; false when there is no TLS.
    /// On error the certificate in use stays.
    pub fn reload(&self) -> Result<bool, sip::transport::TlsError> {
        self.transport.reload_tls()
    }
}

/// Reads everything `/metrics` shows, from another task; cheap to clone.
#[derive(Clone)]
pub struct MetricsSource {
    metrics: Arc<crate::metrics::Metrics>,
    bridges: Bridges,
    stats: Arc<SharedStats>,
    transport: sip::transport::TransportHandle,
    config: store::LiveConfig,
    registry: crate::registry::Registry,
    control: Controller,
}

impl MetricsSource {
    /// The Prometheus text of this moment.
    pub async fn render(&self) -> String {
        let status = status_of(&self.stats, &self.transport, &self.config);
        let channels = self.registry.snapshot();
        let mut monitors = std::collections::BTreeMap::new();
        for c in &channels {
            if let Some(on) = &c.info.spying_on {
                *monitors.entry(on.mode.as_str()).or_insert(0) += 1;
            }
        }
        let mut lockouts = std::collections::BTreeMap::new();
        for l in self.control.lockouts().await.unwrap_or_default() {
            *lockouts.entry(l.kind.as_str()).or_insert(0) += 1;
        }
        let live: Vec<media::BridgeStats> = {
            let bridges = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
            bridges.values().map(|b| b.stats()).collect()
        };
        let snapshot = crate::metrics::Snapshot {
            registrations: status.registrations,
            calls: status.calls,
            channels: channels.len(),
            bridges: live.len(),
            monitors,
            lockouts,
            sip_unparsable: status.unparsable,
            connections: connections_of(&self.transport),
            store: status.store,
            media: Default::default(),
        }
        .with_media(&self.metrics, live.into_iter());
        crate::metrics::render(&snapshot, &self.metrics)
    }
}

impl PbxHandle {
    /// What `/metrics` reads from.
    pub fn metrics_source(&self) -> MetricsSource {
        MetricsSource {
            metrics: self.metrics.clone(),
            bridges: self.bridges.clone(),
            stats: self.stats.clone(),
            transport: self.transport.clone(),
            config: self.config.clone(),
            registry: self.registry.clone(),
            control: self.controller(),
        }
    }

    /// Live counters for health checks.
    pub fn status(&self) -> Status {
        status_of(&self.stats, &self.transport, &self.config)
    }

    /// A cheap, cloneable way to read the status from another task (the HTTP server).
    pub fn status_source(&self) -> impl Fn() -> Status + Send + Sync + 'static {
        let stats = self.stats.clone();
        let transport = self.transport.clone();
        let config = self.config.clone();
        move || status_of(&stats, &transport, &config)
    }

    /// The TLS listener, to show its address and reload its certificate (SIGHUP).
    pub fn tls(&self) -> TlsControl {
        TlsControl {
            transport: self.transport.clone(),
        }
    }

    /// The SIP address actually bound (useful when port 0 was asked for).
    pub fn sip_addr(&self) -> std::net::SocketAddr {
        self.transport.local_addr()
    }

    /// A cloneable handle for other tasks (SIGHUP, the HTTP API): dialplan reload
    /// and monitors.
    pub fn controller(&self) -> Controller {
        Controller {
            commands: self.commands.clone(),
            monitors: self.monitors.clone(),
            config: self.config.clone(),
            pins: self.pins.clone(),
        }
    }

    /// Live events (registrations, calls, monitoring).
    pub fn events(&self) -> EventBus {
        self.events.clone()
    }

    /// Conference rooms, for the API (list, mute, kick).
    pub fn conferences(&self) -> crate::conference::Conferences {
        self.conferences.clone()
    }

    /// Live channels, for the API.
    pub fn registry(&self) -> crate::registry::Registry {
        self.registry.clone()
    }

    /// The call-center floor as last published, for the API.
    pub fn floor(&self) -> crate::queue::FloorView {
        self.floor.clone()
    }

    /// Clean shutdown: BYE to every live call, call records written, sockets closed.
    pub async fn shutdown(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
        let _ = self.task.await;
    }
}

/// Steers the running switch from other tasks (the HTTP API).
#[derive(Clone)]
pub struct Controller {
    commands: mpsc::Sender<Command>,
    monitors: Monitors,
    config: store::LiveConfig,
    pins: PinGuard,
}

impl Controller {
    /// Every lock against guessing in force: digest locks (from the switch, their
    /// owner) and PIN locks.
    pub async fn lockouts(&self) -> Result<Vec<model::Lockout>, String> {
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::Lockouts(reply))
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        let mut all = wait.await.map_err(|_| "the switch stopped".to_string())?;
        all.extend(self.pins.locks(Instant::now()));
        Ok(all)
    }

    /// Checks an extension's secret for the web console (see `Switch::sign_in`):
    /// `None` for every refusal alike.
    pub async fn sign_in(
        &self,
        extension: &str,
        secret: &str,
        source: std::net::IpAddr,
    ) -> Result<Option<crate::switch::ConsoleUser>, String> {
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::SignIn {
                extension: extension.to_string(),
                secret: secret.to_string(),
                source,
                reply,
            })
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        wait.await.map_err(|_| "the switch stopped".to_string())
    }

    /// Lifts the lock named `id` (as [`Controller::lockouts`] lists it) on `by`'s
    /// say-so; false when none is in force.
    pub async fn lift_lockout(&self, id: &str, by: &str) -> Result<bool, String> {
        if self.pins.lift(id, by, Instant::now()) {
            return Ok(true);
        }
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::LiftLockout {
                id: id.to_string(),
                by: by.to_string(),
                reply,
            })
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        wait.await.map_err(|_| "the switch stopped".to_string())
    }

    /// Re-reads the dialplan file; on errors the running dialplan stays and the
    /// errors (file:line) come back, and are logged. Ok carries the number of warnings.
    pub async fn reload(&self) -> Result<usize, String> {
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::ReloadDialplan(reply))
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        wait.await.map_err(|_| "the switch stopped".to_string())?
    }

    /// Click-to-spy: rings the supervisor and monitors `target` (a call id from the
    /// API, or a channel name) once answered. Refused before anything rings when it
    /// cannot work.
    pub async fn monitor_start(
        &self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
        follow: model::Follow,
    ) -> Result<MonitorId, MonitorError> {
        let gone = || MonitorError::Unavailable("the switch is not running".into());
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::Monitor {
                supervisor: supervisor.to_string(),
                target: target.to_string(),
                mode,
                follow,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
    }

    /// Click-to-spy to a browser's WebRTC leg, whose plain-RTP side is the
    /// loopback socket `browser`: the monitor's id, and where the gateway sends
    /// the browser's audio (the bridge's port on the media address).
    pub async fn monitor_browser(
        &self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
        follow: model::Follow,
        browser: std::net::SocketAddr,
    ) -> Result<(MonitorId, u16), MonitorError> {
        let gone = || MonitorError::Unavailable("the switch is not running".into());
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::BrowserMonitor {
                supervisor: supervisor.to_string(),
                target: target.to_string(),
                mode,
                follow,
                browser,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
    }

    /// Switches a running monitor's mode; refused at once (403) when the
    /// supervisor's grant lacks the mode (checked again against a fresh snapshot
    /// first, so a grant made a moment ago counts).
    pub async fn monitor_mode(&self, id: &str, mode: SpyMode) -> Result<(), MonitorError> {
        let Some(supervisor) = self.monitors.owner(id) else {
            return Err(MonitorError::NoSuchMonitor(id.to_string()));
        };
        let allowed = || Policy::of(&self.config.snapshot(), &supervisor).mode_allowed(mode);
        if !allowed() {
            self.config.catch_up(REFRESH_WAIT).await;
            if !allowed() {
                let reason = Denied::Mode(mode).reason(&supervisor, "");
                return Err(MonitorError::Forbidden(reason));
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.monitors
            .send(id, MonitorCmd::Mode(mode, Some(ModeReply(tx))))?;
        match tokio::time::timeout(MODE_REPLY_WAIT, rx).await {
            Ok(Ok(outcome)) => outcome,
            // The session ended meanwhile.
            Ok(Err(_)) => Err(MonitorError::NoSuchMonitor(id.to_string())),
            Err(_) => Err(MonitorError::Unavailable(format!(
                "monitor {id} did not take the mode change within {} s",
                MODE_REPLY_WAIT.as_secs()
            ))),
        }
    }

    /// Ends a running monitor.
    pub fn monitor_stop(&self, id: &str) -> Result<(), MonitorError> {
        self.monitors.send(id, MonitorCmd::Stop)
    }

    /// The supervisor a running monitor belongs to.
    pub fn monitor_owner(&self, id: &str) -> Option<String> {
        self.monitors.owner(id)
    }
}

fn connections_of(transport: &sip::transport::TransportHandle) -> crate::metrics::Connections {
    let s = transport.stats();
    crate::metrics::Connections {
        open: transport.open_connections(),
        refused: s.connections_refused.load(Ordering::Relaxed),
        idle_closed: s.connections_idle_closed.load(Ordering::Relaxed),
        tls_handshake_failures: s.tls_handshake_failures.load(Ordering::Relaxed),
    }
}

fn status_of(
    stats: &SharedStats,
    transport: &sip::transport::TransportHandle,
    config: &store::LiveConfig,
) -> Status {
    Status {
        registrations: stats.registrations.load(Ordering::Relaxed),
        calls: stats.calls.load(Ordering::Relaxed),
        unparsable: transport.stats().unparsable.load(Ordering::Relaxed),
        sip_addr: Some(transport.local_addr()),
        store: config.health(),
    }
}

/// Binds SIP (UDP and TCP on one address) and starts serving. `config` serves the
/// switch's lookups from memory and takes its writes; the registrations kept in the
/// database are put back first.
pub async fn start(cfg: PbxConfig, config: store::LiveConfig) -> Result<PbxHandle, PbxError> {
    let realm = config.store().realm().to_string();
    let (plan, _warnings) = LoadedPlan::load(&cfg.dialplan).map_err(PbxError::Dialplan)?;
    let locations = config
        .store()
        .load_locations()
        .await
        .map_err(|e| PbxError::Store(e.to_string()))?;
    let (transport, inbound) = bind_transport(&cfg).await?;
    let stats = Arc::new(SharedStats::default());
    let (commands, command_rx) = mpsc::channel(8);
    tracing::info!(sip = %transport.local_addr(), media_ip = %cfg.media_ip, %realm, "SIP listening on UDP and TCP");
    if let Some(tls) = transport.tls_addr() {
        tracing::info!(%tls, "SIP listening on TLS");
    }
    let (media, bridges) =
        EngineMedia::new(media::MediaEngine::new(cfg.media_ip, cfg.rtp_ports.clone()));
    let now = Instant::now();
    let mut switch = Switch::new(SwitchInit {
        cfg: cfg.clone(),
        local: transport.local_addr(),
        tls_local: transport.tls_addr(),
        realm,
        config: config.snapshot(),
        plan,
        media: Box::new(media),
        now,
        wall: SystemTime::now(),
    });
    let restored = locations.len();
    switch.restore_locations(locations, now);
    if restored > 0 {
        tracing::info!("restored {restored} registrations from the database");
    }
    let registry = crate::registry::Registry::new();
    let floor = crate::queue::FloorView::default();
    let events = EventBus::new();
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let pins = pin_guard(&config, &events, &metrics);
    // Locks survive a restart: a crash must not be a way to a fresh guessing budget.
    let locks = config
        .store()
        .active_lockouts(SystemTime::now())
        .await
        .map_err(|e| PbxError::Store(e.to_string()))?;
    let restored = switch.restore_lockouts(&locks, now) + pins.restore(&locks, now);
    if restored > 0 {
        tracing::warn!("{restored} lockouts still in force, restored from the database");
    }
    let monitors = Monitors::default();
    let conferences = crate::conference::Conferences::new(events.clone());
    let prompts = Arc::new(media::wav::Prompts::new(cfg.sounds.clone()));
    let cfg_sounds = cfg.sounds.clone();
    let (shell, chan_requests) = Shell::new(
        switch,
        ShellParts {
            cfg,
            transport: transport.clone(),
            bridges: bridges.clone(),
            config: config.clone(),
            registry: registry.clone(),
            events: events.clone(),
            monitors: monitors.clone(),
            conferences: conferences.clone(),
            pins: pins.clone(),
            stats: stats.clone(),
            metrics: metrics.clone(),
            prompts,
            music: Arc::new(crate::moh::MusicLibrary::new(&cfg_sounds)),
            pending_recordings: Default::default(),
            floor: floor.clone(),
        },
    );
    let task = tokio::spawn(shell.run(inbound, command_rx, chan_requests));
    Ok(PbxHandle {
        commands,
        stats,
        transport,
        task,
        registry,
        events,
        monitors,
        conferences,
        config,
        pins,
        metrics,
        bridges,
        floor,
    })
}

/// Binds UDP and TCP on the SIP address and, when configured, TLS on its own.
async fn bind_transport(
    cfg: &PbxConfig,
) -> Result<
    (
        sip::transport::TransportHandle,
        tokio::sync::mpsc::Receiver<sip::transport::Inbound>,
    ),
    PbxError,
> {
    let tls = match &cfg.tls {
        Some(t) => {
            let certs = sip::transport::Certificates::load(t.files.clone())?;
            let listener = tokio::net::TcpListener::bind(t.addr)
                .await
                .map_err(|source| PbxError::BindTls {
                    addr: t.addr,
                    source,
                })?;
            Some((listener, certs))
        }
        None => None,
    };
    let config = sip::transport::TransportConfig {
        tls,
        limits: cfg.connections,
    };
    sip::transport::bind_with(cfg.sip_addr, config)
        .await
        .map_err(|source| PbxError::Bind {
            addr: cfg.sip_addr,
            source,
        })
}

/// The PIN guard, recording and announcing its locks and lifts.
fn pin_guard(
    config: &store::LiveConfig,
    events: &EventBus,
    metrics: &Arc<crate::metrics::Metrics>,
) -> PinGuard {
    let (config, events, metrics) = (config.clone(), events.clone(), metrics.clone());
    PinGuard::with_announcer(move |what| match what {
        Announce::Started(started) => {
            metrics.count_lockout(started.kind);
            tracing::warn!(subject = %started.subject, "locked out: {}", started.reason);
            let (write, event) = started.announce();
            config.submit(write);
            events.emit(event);
        }
        Announce::Lifted { id, subject, by } => {
            config.submit(store::Write::LockoutLifted {
                subject_id: id.clone(),
                at: SystemTime::now(),
                by: by.clone(),
            });
            events.emit(crate::events::Event::LockoutLifted { id, subject, by });
        }
    })
}
