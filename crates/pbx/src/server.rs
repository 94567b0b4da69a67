//! Starting and stopping the switch: binds the transports, spawns the SIP core task,
//! and hands back a handle for health checks and clean shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::switch::{Command, SharedStats, Switch, SwitchParts};
use crate::PbxConfig;

/// Why the switch could not start.
#[derive(Debug, thiserror::Error)]
pub enum PbxError {
    #[error("cannot bind SIP on {addr} (UDP and TCP): {source}; is another PBX running there? choose another address with --sip")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read settings from the database: {0}")]
    Store(String),
    #[error("the dialplan has errors:\n{0}")]
    Dialplan(String),
}

/// What `/health` reports.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub registrations: usize,
    pub calls: usize,
    /// SIP datagrams or streams that did not parse and were dropped.
    pub unparsable: u64,
    pub sip_addr: Option<std::net::SocketAddr>,
}

/// A running switch.
pub struct PbxHandle {
    commands: mpsc::Sender<Command>,
    stats: Arc<SharedStats>,
    transport: sip::transport::TransportHandle,
    task: tokio::task::JoinHandle<()>,
    registry: crate::registry::Registry,
    events: crate::events::EventBus,
    monitors: crate::chan::Monitors,
}

impl PbxHandle {
    /// Live counters for health checks.
    pub fn status(&self) -> Status {
        status_of(&self.stats, &self.transport)
    }

    /// A cheap, cloneable way to read the status from another task (the HTTP server).
    pub fn status_source(&self) -> impl Fn() -> Status + Send + Sync + 'static {
        let stats = self.stats.clone();
        let transport = self.transport.clone();
        move || status_of(&stats, &transport)
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
        }
    }

    /// Live events (registrations, calls, monitoring).
    pub fn events(&self) -> crate::events::EventBus {
        self.events.clone()
    }

    /// Live channels, for the API.
    pub fn registry(&self) -> crate::registry::Registry {
        self.registry.clone()
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
    monitors: crate::chan::Monitors,
}

impl Controller {
    /// Re-reads the dialplan file; on errors the running dialplan stays and the
    /// errors (file:line) come back. Ok carries the number of warnings.
    pub async fn reload(&self) -> Result<usize, String> {
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::ReloadDialplan(reply))
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        wait.await.map_err(|_| "the switch stopped".to_string())?
    }

    pub async fn monitor_start(
        &self,
        supervisor: &str,
        target: &str,
        mode: media::mix::SpyMode,
    ) -> Result<String, String> {
        let (reply, wait) = oneshot::channel();
        self.commands
            .send(Command::Monitor {
                supervisor: supervisor.to_string(),
                target: target.to_string(),
                mode,
                reply,
            })
            .await
            .map_err(|_| "the switch is not running".to_string())?;
        wait.await.map_err(|_| "the switch stopped".to_string())?
    }

    /// Switches a running monitor's mode; false when there is no such monitor.
    pub fn monitor_mode(&self, id: &str, mode: media::mix::SpyMode) -> bool {
        self.monitors.send(id, crate::chan::MonitorCmd::Mode(mode))
    }

    /// Ends a running monitor; false when there is no such monitor.
    pub fn monitor_stop(&self, id: &str) -> bool {
        self.monitors.send(id, crate::chan::MonitorCmd::Stop)
    }

    /// The supervisor a running monitor belongs to.
    pub fn monitor_owner(&self, id: &str) -> Option<String> {
        self.monitors.owner(id)
    }
}

fn status_of(stats: &SharedStats, transport: &sip::transport::TransportHandle) -> Status {
    Status {
        registrations: stats.registrations.load(Ordering::Relaxed),
        calls: stats.calls.load(Ordering::Relaxed),
        unparsable: transport.stats().unparsable.load(Ordering::Relaxed),
        sip_addr: Some(transport.local_addr()),
    }
}

/// Binds SIP (UDP and TCP on one address) and starts serving.
pub async fn start(cfg: PbxConfig, store: store::Store) -> Result<PbxHandle, PbxError> {
    let realm = store.realm().to_string();
    let (plan, _warnings) =
        crate::switch::LoadedPlan::load(&cfg.dialplan).map_err(PbxError::Dialplan)?;
    let (transport, inbound) =
        sip::transport::bind(cfg.sip_addr)
            .await
            .map_err(|source| PbxError::Bind {
                addr: cfg.sip_addr,
                source,
            })?;
    let stats = Arc::new(SharedStats::default());
    let (commands, command_rx) = mpsc::channel(8);
    tracing::info!(sip = %transport.local_addr(), media_ip = %cfg.media_ip, %realm, "SIP listening on UDP and TCP");
    let registry = crate::registry::Registry::new();
    let events = crate::events::EventBus::new();
    let monitors = crate::chan::Monitors::default();
    let parts = SwitchParts {
        realm,
        stats: stats.clone(),
        plan,
        registry: registry.clone(),
        events: events.clone(),
        monitors: monitors.clone(),
    };
    let switch = Switch::new(cfg, store, transport.clone(), parts);
    let task = tokio::spawn(switch.run(inbound, command_rx));
    Ok(PbxHandle {
        commands,
        stats,
        transport,
        task,
        registry,
        events,
        monitors,
    })
}
