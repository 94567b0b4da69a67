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
}
