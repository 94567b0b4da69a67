//! One spy session: a supervisor's channel hooked onto one target channel, from
//! the hook's attachment to its detachment.
//!
//! [`SpySession`] is the one owner of what a session leaves behind: its audit
//! records (start, every mode change, end and why), its live events, and the
//! supervisor's entry in the live-channel table (whom it monitors, how). It is a
//! guard: a session dropped without `end` (a task cancelled, a panic unwinding)
//! still closes its audit record and its table entry.

use std::time::{SystemTime, UNIX_EPOCH};

use media::mix::SpyMode;

use crate::apps::AppEnv;
use crate::chan::{ChanRequester, SpyingOn};
use crate::events::Event;
use crate::registry::ChannelEntry;

pub(super) struct SpySession {
    id: String,
    env: AppEnv,
    chan: ChanRequester,
    supervisor: String,
    supervisor_channel: String,
    target_channel: String,
    mode: SpyMode,
    since_ms: u64,
    ended: bool,
}

impl SpySession {
    /// Records the start (audit, event) and tells the switch whom we monitor.
    pub fn start(
        env: &AppEnv,
        chan: ChanRequester,
        supervisor: &str,
        supervisor_channel: &str,
        target: &ChannelEntry,
        mode: SpyMode,
        monitor: Option<&str>,
    ) -> SpySession {
        let id = session_id();
        let start = store::MonitorStart {
            id: id.clone(),
            supervisor: supervisor.to_string(),
            supervisor_channel: supervisor_channel.to_string(),
            target_endpoint: target.info.endpoint.clone(),
            target_channel: target.info.name.clone(),
            peer_channel: target.info.bridged_to.clone(),
            mode: mode.as_str().into(),
            started_at: SystemTime::now(),
        };
        tracing::info!(supervisor = %supervisor_channel, target = %target.info.name, ?mode, session = %id, "spy session started");
        env.events.emit(Event::MonitorStart {
            session: id.clone(),
            supervisor: start.supervisor.clone(),
            supervisor_channel: start.supervisor_channel.clone(),
            target: start.target_endpoint.clone(),
            target_channel: start.target_channel.clone(),
            peer_channel: start.peer_channel.clone(),
            mode: start.mode.clone(),
            monitor: monitor.map(str::to_string),
        });
        let since_ms = epoch_ms(start.started_at);
        env.config.submit(store::Write::MonitorStarted(start));
        chan.set_spying(
            supervisor_channel,
            Some(SpyingOn {
                target: target.info.name.clone(),
                mode,
                session: id.clone(),
                since_ms,
                mode_since_ms: since_ms,
            }),
        );
        SpySession {
            id,
            env: env.clone(),
            chan,
            supervisor: supervisor.to_string(),
            supervisor_channel: supervisor_channel.to_string(),
            target_channel: target.info.name.clone(),
            mode,
            since_ms,
            ended: false,
        }
    }

    /// The session's id in the audit trail.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The mode changed: audited, announced, and shown in the live table.
    pub fn mode_changed(&mut self, mode: SpyMode) {
        self.mode = mode;
        tracing::info!(supervisor = %self.supervisor_channel, target = %self.target_channel, ?mode, "spy mode changed");
        self.env.events.emit(Event::MonitorMode {
            session: self.id.clone(),
            mode: mode.as_str().into(),
        });
        let at = SystemTime::now();
        self.env.config.submit(store::Write::MonitorModeChanged {
            id: self.id.clone(),
            mode: mode.as_str().into(),
            at,
        });
        self.chan.set_spying(
            &self.supervisor_channel,
            Some(SpyingOn {
                target: self.target_channel.clone(),
                mode,
                session: self.id.clone(),
                since_ms: self.since_ms,
                mode_since_ms: epoch_ms(at),
            }),
        );
    }

    /// A mode change refused (the grant does not allow it, the call was taken
    /// over): recorded as a denied attempt of its own so the audit trail shows
    /// every refusal.
    pub fn mode_refused(&self, mode: SpyMode, target: &ChannelEntry, reason: String) {
        tracing::warn!(supervisor = %self.supervisor_channel, "spy mode refused: {reason}");
        self.env.events.emit(Event::MonitorDenied {
            supervisor: self.supervisor.clone(),
            target_channel: self.target_channel.clone(),
            mode: mode.as_str().into(),
            reason: reason.clone(),
            session: Some(self.id.clone()),
        });
        self.env.config.submit(store::Write::MonitorDenied {
            attempt: store::MonitorStart {
                id: session_id(),
                supervisor: self.supervisor.clone(),
                supervisor_channel: self.supervisor_channel.clone(),
                target_endpoint: target.info.endpoint.clone(),
                target_channel: target.info.name.clone(),
                peer_channel: target.info.bridged_to.clone(),
                mode: mode.as_str().into(),
                started_at: SystemTime::now(),
            },
            reason,
        });
    }

    /// The session ended, for `reason` (audited as given).
    pub fn end(mut self, reason: &str) {
        self.finish(reason);
    }

    fn finish(&mut self, reason: &str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        tracing::info!(supervisor = %self.supervisor_channel, target = %self.target_channel, reason, "spy session ended");
        self.env.events.emit(Event::MonitorStop {
            session: self.id.clone(),
            target_channel: self.target_channel.clone(),
            reason: reason.to_string(),
        });
        self.env.config.submit(store::Write::MonitorEnded {
            id: self.id.clone(),
            reason: reason.to_string(),
            at: SystemTime::now(),
        });
        self.chan.set_spying(&self.supervisor_channel, None);
    }
}

impl Drop for SpySession {
    fn drop(&mut self) {
        self.finish("session abandoned");
    }
}

/// A monitoring session's id in the audit log: start time, then random bits.
pub(super) fn session_id() -> String {
    let ms = epoch_ms(SystemTime::now());
    format!("{ms}-{:08x}", rand::random::<u32>())
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
