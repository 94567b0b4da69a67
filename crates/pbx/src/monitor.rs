//! Monitors started from outside (click-to-spy from the API or the CLI): their ids,
//! the typed commands that steer a running one, and why one cannot start or change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use media::mix::SpyMode;
use model::MonitorFailure;
use tokio::sync::{mpsc, oneshot};

/// A click-to-spy monitor's id: `mon-<call>-<random>`, safe in a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorId(pub String);

impl std::fmt::Display for MonitorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the API can ask of a running monitor's ChanSpy session.
#[derive(Debug)]
pub enum MonitorCmd {
    /// Switch to this mode; the outcome goes back on the reply, if any (a mode the
    /// grant allows can still be refused: the call was taken over).
    Mode(SpyMode, Option<ModeReply>),
    Stop,
}

/// Where a mode change's outcome goes: the API answers only once the session took
/// it (or refused it).
#[derive(Debug)]
pub struct ModeReply(pub oneshot::Sender<Result<(), MonitorError>>);

impl ModeReply {
    pub fn send(self, outcome: Result<(), MonitorError>) {
        // The API gave up waiting: nothing to tell.
        let _ = self.0.send(outcome);
    }
}

/// Why a monitor cannot start or change. Each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    /// No live call or channel by that id or name.
    #[error("no live call or channel {0:?}")]
    NoSuchCall(String),
    #[error("no running monitor {0:?}")]
    NoSuchMonitor(String),
    #[error("no extension {0:?}")]
    NoSuchSupervisor(String),
    #[error("extension {0} is not registered, so its phone cannot ring")]
    NotRegistered(String),
    /// The grant does not allow it (decided before any phone rings).
    #[error("{0}")]
    Forbidden(String),
    /// The supervisor's phone is already on a call.
    #[error("supervisor {0} is already on a call")]
    SupervisorBusy(String),
    /// The call was taken over (by this monitor: no other mode any more; by
    /// another supervisor: no second takeover).
    #[error("{0}")]
    TakenOver(String),
    /// Out of RTP ports, or the switch is not running.
    #[error("{0}")]
    Unavailable(String),
}

impl MonitorError {
    /// The refusal as the API answers it (one HTTP status each).
    pub fn failure(&self) -> MonitorFailure {
        let why = self.to_string();
        match self {
            MonitorError::NoSuchCall(_)
            | MonitorError::NoSuchMonitor(_)
            | MonitorError::NoSuchSupervisor(_)
            | MonitorError::NotRegistered(_) => MonitorFailure::NotFound(why),
            MonitorError::Forbidden(_) => MonitorFailure::Forbidden(why),
            MonitorError::SupervisorBusy(_) | MonitorError::TakenOver(_) => {
                MonitorFailure::Conflict(why)
            }
            MonitorError::Unavailable(_) => MonitorFailure::Unavailable(why),
        }
    }

    /// The HTTP status this refusal answers with.
    pub fn http_status(&self) -> u16 {
        self.failure().http_status()
    }
}

/// A running monitor: its supervisor and the command queue of its ChanSpy session.
struct Running {
    supervisor: String,
    commands: mpsc::UnboundedSender<MonitorCmd>,
}

/// Live click-to-spy monitors by id. The channel task of each registers it and
/// removes it when its session ends.
#[derive(Clone, Default)]
pub struct Monitors {
    inner: Arc<Mutex<HashMap<MonitorId, Running>>>,
}

impl Monitors {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MonitorId, Running>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert(
        &self,
        id: &MonitorId,
        supervisor: &str,
    ) -> mpsc::UnboundedReceiver<MonitorCmd> {
        let (commands, rx) = mpsc::unbounded_channel();
        self.lock().insert(
            id.clone(),
            Running {
                supervisor: supervisor.to_string(),
                commands,
            },
        );
        rx
    }

    /// The supervisor a running monitor belongs to.
    pub fn owner(&self, id: &str) -> Option<String> {
        self.lock()
            .get(&MonitorId(id.to_string()))
            .map(|r| r.supervisor.clone())
    }

    pub(crate) fn remove(&self, id: &MonitorId) {
        self.lock().remove(id);
    }

    /// Hands a command to a running monitor's session.
    pub fn send(&self, id: &str, cmd: MonitorCmd) -> Result<(), MonitorError> {
        let map = self.lock();
        match map.get(&MonitorId(id.to_string())) {
            Some(r) if r.commands.send(cmd).is_ok() => Ok(()),
            _ => Err(MonitorError::NoSuchMonitor(id.to_string())),
        }
    }
}
