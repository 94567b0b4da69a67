//! Live events for integrators (the API's WebSocket): registrations, calls,
//! monitoring sessions. One typed [`Event`] per kind of thing that happened,
//! serialised in one place ([`EventBus::emit`]): a JSON object with a sequence
//! number (so a client can tell when it missed some), a time and a type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is told it lagged.
const BACKLOG: usize = 1024;

/// Something that happened on the switch. The `type` on the wire is the serde tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "registration")]
    Registration {
        aor: String,
        source: String,
        contacts: Vec<String>,
    },
    #[serde(rename = "registration.expired")]
    RegistrationExpired { aor: String, contact: String },
    /// A call began: a phone or trunk called, or the PBX placed a call (click-to-spy).
    #[serde(rename = "call.start")]
    CallStart {
        /// The call's id, as `GET /api/v1/calls` shows it.
        call: String,
        channel: String,
        caller: String,
        dialled: String,
    },
    #[serde(rename = "call.answer")]
    CallAnswer {
        call: String,
        channel: String,
        peer: String,
    },
    #[serde(rename = "call.end")]
    CallEnd {
        call: String,
        channel: String,
        peer: Option<String>,
        disposition: String,
        hangup_by: String,
    },
    /// A party put the other on hold (`held`), or resumed; `channel` is the one
    /// that holds.
    #[serde(rename = "call.hold")]
    CallHold {
        call: String,
        channel: String,
        held: bool,
    },
    /// A supervisor took the call over: `agent_channel` was released, the call
    /// goes on between its other party and the supervisor.
    #[serde(rename = "call.takeover")]
    CallTakeover {
        call: String,
        agent_channel: String,
        supervisor: String,
        supervisor_channel: String,
    },
    /// A party transferred the other: `blind` (REFER to `target`, an extension the
    /// transferee's dialplan now dials) or `attended` (REFER with Replaces: the
    /// transferee now talks with `target`, the channel the transferer consulted).
    /// The transferer's legs are released.
    #[serde(rename = "call.transfer")]
    CallTransfer {
        call: String,
        kind: String,
        transferer: String,
        transferee: String,
        target: String,
    },
    /// A supervisor turned a barge into a conference: the call's two parties and
    /// the supervisor are members of `room` now, and each may leave on its own.
    #[serde(rename = "call.conference")]
    CallConference {
        call: String,
        room: String,
        supervisor: String,
    },
    /// A channel joined a conference room (`ConfBridge`).
    #[serde(rename = "conference.join")]
    ConferenceJoin {
        room: String,
        channel: String,
        endpoint: String,
    },
    /// A member left: `hangup`, `kicked`, `endmarked`, `dtmf`, or `stopped` (a
    /// monitor in the room, stopped through the API).
    #[serde(rename = "conference.leave")]
    ConferenceLeave {
        room: String,
        channel: String,
        reason: String,
    },
    #[serde(rename = "conference.mute")]
    ConferenceMute {
        room: String,
        channel: String,
        muted: bool,
    },
    /// The last member left: the room is gone.
    #[serde(rename = "conference.end")]
    ConferenceEnd { room: String },
    #[serde(rename = "monitor.start")]
    MonitorStart {
        session: String,
        supervisor: String,
        supervisor_channel: String,
        target: String,
        target_channel: String,
        peer_channel: Option<String>,
        mode: String,
        /// The click-to-spy monitor this session belongs to, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        monitor: Option<String>,
    },
    #[serde(rename = "monitor.mode")]
    MonitorMode { session: String, mode: String },
    #[serde(rename = "monitor.stop")]
    MonitorStop {
        session: String,
        target_channel: String,
        reason: String,
    },
    /// A refused attempt (no grant for the mode or the group, not a supervisor).
    #[serde(rename = "monitor.denied")]
    MonitorDenied {
        supervisor: String,
        /// Empty when the refusal came before any channel was looked at.
        target_channel: String,
        mode: String,
        reason: String,
        /// Set when a running session's mode change was refused.
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// A lock against guessing started (digest passwords or PINs).
    #[serde(rename = "security.lockout")]
    Lockout {
        #[serde(flatten)]
        lockout: model::Lockout,
    },
    /// A line of the queue log (Asterisk's `queue_log`): a caller entered,
    /// connected, abandoned ...; a member was added, paused ...
    #[serde(rename = "queue.log")]
    QueueLog {
        #[serde(flatten)]
        entry: model::QueueLogEntry,
    },
    /// An agent's state changed (available, ringing, on a call, wrap-up, paused).
    #[serde(rename = "agent.state")]
    AgentState {
        extension: String,
        state: model::AgentState,
        reason: String,
        queues: Vec<String>,
    },
    /// An administrator lifted a lock.
    #[serde(rename = "security.lockout_lifted")]
    LockoutLifted {
        id: String,
        subject: String,
        by: String,
    },
}

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
    pub fn emit(&self, event: Event) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut out = serde_json::Map::new();
        out.insert("seq".into(), seq.into());
        out.insert("at".into(), at.into());
        if let Ok(Value::Object(fields)) = serde_json::to_value(&event) {
            out.extend(fields);
        }
        let _ = self.tx.send(Arc::new(Value::Object(out)));
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
        let start = Event::CallStart {
            call: "1-1".into(),
            channel: "SIP/101-00000001".into(),
            caller: "101".into(),
            dialled: "102".into(),
        };
        bus.emit(start);
        bus.emit(Event::CallEnd {
            call: "1-1".into(),
            channel: "SIP/101-00000001".into(),
            peer: None,
            disposition: "CANCELLED".into(),
            hangup_by: "caller".into(),
        });
        let a = rx.recv().await.unwrap();
        let b = rx.recv().await.unwrap();
        assert_eq!(a["seq"], 1);
        assert_eq!(b["seq"], 2);
        assert_eq!(a["type"], "call.start");
        assert_eq!(a["channel"], "SIP/101-00000001");
        assert!(b["at"].as_u64().unwrap() >= a["at"].as_u64().unwrap());
    }

    #[test]
    fn optional_fields_are_left_out() {
        let e = Event::MonitorDenied {
            supervisor: "201".into(),
            target_channel: "SIP/110-00000001".into(),
            mode: "barge".into(),
            reason: "201 may not barge".into(),
            session: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "monitor.denied");
        assert!(v.get("session").is_none());
    }
}
