//! Live events for integrators (the API's WebSocket): registrations, calls,
//! monitoring sessions. Each event is a JSON object with a sequence number, so a
//! client can tell when it missed some, and a time and a type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is told it lagged.
const BACKLOG: usize = 1024;

/// Fan-out of live events; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Value>>,
    seq: Arc<AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(BACKLOG);
        EventBus {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Publishes `{"seq", "at", "type", ...fields}`. Without subscribers it is
    /// dropped (but still numbered, so numbering is global).
    pub fn emit(&self, kind: &str, fields: Value) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut event = json!({ "seq": seq, "at": at, "type": kind });
        if let (Some(obj), Value::Object(extra)) = (event.as_object_mut(), fields) {
            obj.extend(extra);
        }
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Value>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_are_numbered_in_order() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.emit("call.start", json!({ "channel": "SIP/101-00000001" }));
        bus.emit("call.end", json!({ "channel": "SIP/101-00000001" }));
        let a = rx.recv().await.unwrap();
        let b = rx.recv().await.unwrap();
        assert_eq!(a["seq"], 1);
        assert_eq!(b["seq"], 2);
        assert_eq!(a["type"], "call.start");
        assert_eq!(a["channel"], "SIP/101-00000001");
        assert!(b["at"].as_u64().unwrap() >= a["at"].as_u64().unwrap());
    }
}
