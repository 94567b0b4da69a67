//! What the API needs from the running switch, without depending on it.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// The switch's live state as the API sees it. The binary adapts the PBX to this.
pub trait LiveView: Send + Sync {
    /// Live channels as a JSON array of objects with `name` (`SIP/110-0000001a`),
    /// `endpoint`, `spygroup`, `bridged_to` (the peer channel's name or null) and
    /// `spying` (null, the spied channel's name, or an object with a `channel` and a
    /// `mode`). Other members are passed through.
    fn channels(&self) -> Value;
    /// Live events, each a JSON object with at least `seq` (u64, +1 per event),
    /// `at` (epoch ms) and `type`.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Value>>;

    /// Click-to-spy: ring `supervisor`, then monitor the call of channel `target` in
    /// `mode` (`listen`, `whisper`, `barge`). Ok carries the monitor's id; Err says why
    /// it cannot start (no such call, supervisor not registered, ...).
    fn monitor_start(&self, _supervisor: &str, _target: &str, _mode: &str) -> MonitorStart {
        Box::pin(async { Err("monitoring from the API is not available here".to_string()) })
    }

    /// Switches a running monitor's mode; false when no such monitor runs.
    fn monitor_mode(&self, _id: &str, _mode: &str) -> bool {
        false
    }

    /// Ends a running monitor; false when no such monitor runs.
    fn monitor_stop(&self, _id: &str) -> bool {
        false
    }

    /// The supervisor a running monitor belongs to (None: no such monitor).
    fn monitor_owner(&self, _id: &str) -> Option<String> {
        None
    }
}

/// The pending answer of [`LiveView::monitor_start`].
pub type MonitorStart =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>;
