//! Click-to-spy: the PBX rings the supervisor's phone and, when it is answered, runs
//! ChanSpy on the requested call, steerable from the API (mode changes, stop).
//!
//! The call the PBX places has no caller phone: its A side is virtual (nothing is
//! sent there), and the supervisor's phone is side B of its bridge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialplan::ChannelVars;
use media::mix::SpyMode;
use media::{BridgeControl, Side};
use tokio::sync::mpsc;

use super::{ChanEvent, Channel};
use crate::apps::{AppEnv, PbxHost};

/// What the API can ask of a running monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorCmd {
    Mode(SpyMode),
    Stop,
}

/// A running monitor: its supervisor, and the keys channel of its ChanSpy.
type Running = (String, mpsc::UnboundedSender<char>);

/// Live API monitors by id.
#[derive(Clone, Default)]
pub struct Monitors {
    inner: Arc<Mutex<HashMap<String, Running>>>,
}

/// The key a monitor's ChanSpy treats as "stop" (never sent by a phone).
pub(crate) const STOP_KEY: char = '\u{1b}';

impl Monitors {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (String, mpsc::UnboundedSender<char>)>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert(&self, id: &str, supervisor: &str) -> mpsc::UnboundedReceiver<char> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock()
            .insert(id.to_string(), (supervisor.to_string(), tx));
        rx
    }

    /// The supervisor a running monitor belongs to.
    pub fn owner(&self, id: &str) -> Option<String> {
        self.lock().get(id).map(|(s, _)| s.clone())
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Steers a monitor: false when no such monitor is running.
    pub fn send(&self, id: &str, cmd: MonitorCmd) -> bool {
        let key = match cmd {
            MonitorCmd::Mode(SpyMode::Listen) => '4',
            MonitorCmd::Mode(SpyMode::Whisper) => '5',
            MonitorCmd::Mode(SpyMode::Barge) => '6',
            MonitorCmd::Stop => STOP_KEY,
        };
        self.lock()
            .get(id)
            .is_some_and(|(_, tx)| tx.send(key).is_ok())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }
}

/// How long the supervisor's phone may ring.
const RING: Duration = Duration::from_secs(30);

/// Rings `supervisor`; on answer spies on `target` (a channel name) in `mode`.
#[allow(clippy::too_many_arguments)]
pub async fn run_click_to_spy(
    mut chan: Channel,
    env: AppEnv,
    media: BridgeControl,
    supervisor: String,
    target: String,
    mode: SpyMode,
    id: String,
    monitors: Monitors,
) {
    let control = monitors.insert(&id, &supervisor);
    let mut dial = chan.dial_start(vec![supervisor.clone()], Some(RING));
    let answered = loop {
        tokio::select! {
            ev = chan.next_event() => match ev {
                ChanEvent::Answered(channel) => {
                    // From now on this task speaks for the supervisor's channel.
                    chan.name = channel;
                    break true;
                }
                ChanEvent::Hangup => break false,
                ChanEvent::Dtmf(_) => {}
            },
            outcome = &mut dial => {
                tracing::info!(monitor = %id, %supervisor, status = ?outcome.map(|o| o.status.as_str()), "click-to-spy: supervisor did not answer");
                break false;
            }
        }
    };
    if answered {
        let name = chan.name.clone();
        let mut host = PbxHost::on_side(chan, env, media, Side::B);
        host.answered = true;
        host.input.set_remote(control);
        let opts = crate::apps::SpyOptions {
            mode: Some(mode),
            quiet: true,
            dtmf_modes: true,
            exit_on_hangup: true,
            stop_when_none: true,
            exit_digit: Some(STOP_KEY),
            ..Default::default()
        };
        let mut vars = ChannelVars::new(name, id.clone());
        let _ = host.spy_with(target, &opts, &mut vars).await;
        host.chan.hangup(None);
    } else {
        chan.hangup(None);
    }
    monitors.remove(&id);
}
