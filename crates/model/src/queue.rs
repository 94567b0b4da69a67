//! Queues and agents: the values the store keeps, the switch runs and the API shows.
//! Names and strings follow Asterisk's `queues.conf` and `queue_log`, so an
//! administrator coming from FreePBX reads them as they know them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which free members a waiting caller's call rings, and in which order
/// (`queues.conf` `strategy=`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Every free member at once.
    #[default]
    Ringall,
    /// The member whose last queue call ended longest ago.
    Leastrecent,
    /// The member who took the fewest queue calls.
    Fewestcalls,
    Random,
    /// Round robin, remembering where the last call stopped.
    Rrmemory,
    /// Members in the order they are listed, from the first each time.
    Linear,
    /// Random, weighted by penalty (a lower penalty is rung more often).
    Wrandom,
}

impl Strategy {
    pub const ALL: [Strategy; 7] = [
        Strategy::Ringall,
        Strategy::Leastrecent,
        Strategy::Fewestcalls,
        Strategy::Random,
        Strategy::Rrmemory,
        Strategy::Linear,
        Strategy::Wrandom,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Strategy::Ringall => "ringall",
            Strategy::Leastrecent => "leastrecent",
            Strategy::Fewestcalls => "fewestcalls",
            Strategy::Random => "random",
            Strategy::Rrmemory => "rrmemory",
            Strategy::Linear => "linear",
            Strategy::Wrandom => "wrandom",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue strategy {0:?} (one of ringall, leastrecent, fewestcalls, random, rrmemory, linear, wrandom)")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        // Asterisk's old name for rrmemory.
        if s == "roundrobin" {
            return Ok(Strategy::Rrmemory);
        }
        Strategy::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(UnknownStrategy(s))
    }
}

/// `joinempty` / `leavewhenempty`: which member conditions count as "nobody to
/// answer". Asterisk's list values, reduced to what they mean.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EmptyRule {
    /// Never: callers join (or stay) whatever the members' state (`yes`/`no` in
    /// Asterisk's sense of "join even when empty").
    #[default]
    Never,
    /// No members at all, or all logged out/unregistered (`unavailable`).
    Unavailable,
    /// ... or all paused too (`paused,unavailable`).
    Paused,
    /// ... or all busy, ringing or in wrap-up: nobody free now (`strict`).
    Strict,
}

impl EmptyRule {
    pub const ALL: [EmptyRule; 4] = [
        EmptyRule::Never,
        EmptyRule::Unavailable,
        EmptyRule::Paused,
        EmptyRule::Strict,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EmptyRule::Never => "never",
            EmptyRule::Unavailable => "unavailable",
            EmptyRule::Paused => "paused",
            EmptyRule::Strict => "strict",
        }
    }
}

impl fmt::Display for EmptyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown empty rule {0:?} (one of never, unavailable, paused, strict)")]
pub struct UnknownEmptyRule(pub String);

impl FromStr for EmptyRule {
    type Err = UnknownEmptyRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "no" | "never" | "" => Ok(EmptyRule::Never),
            "yes" | "unavailable" => Ok(EmptyRule::Unavailable),
            "paused" | "paused,unavailable" | "unavailable,paused" => Ok(EmptyRule::Paused),
            "strict" | "loose" => Ok(EmptyRule::Strict),
            _ => Err(UnknownEmptyRule(s)),
        }
    }
}

/// One queue's settings, as stored (`spygroup queue add|set`). Durations in
/// seconds; 0 means "off" where Asterisk's does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSettings {
    pub name: String,
    pub strategy: Strategy,
    /// How long one member rings before the next try (`timeout`, default 15).
    pub timeout: u32,
    /// The pause between tries (`retry`, default 5).
    pub retry: u32,
    /// A member's rest after a queue call (`wrapuptime`, default 0).
    pub wrapuptime: u32,
    /// Most callers waiting at once; 0 is no limit (`maxlen`).
    pub maxlen: u32,
    pub joinempty: EmptyRule,
    pub leavewhenempty: EmptyRule,
    /// How often a waiting caller hears their position and hold time; 0 never
    /// (`announce-frequency`).
    pub announce_frequency: u32,
    /// Say the estimated hold time with the position (`announce-holdtime`).
    pub announce_holdtime: bool,
    /// Say the position (`announce-position`).
    pub announce_position: bool,
    /// A prompt played every `periodic_announce_frequency` seconds
    /// (`periodic-announce`); empty: none.
    pub periodic_announce: String,
    pub periodic_announce_frequency: u32,
    /// Answered within this many seconds counts towards the service level
    /// (`servicelevel`, default 60).
    pub servicelevel: u32,
    /// A member in several queues gets calls from the heavier queue first
    /// (`weight`).
    pub weight: u32,
    /// Music-on-hold class for waiting callers (`musicclass`); empty: `default`.
    pub musicclass: String,
}

impl QueueSettings {
    /// A queue with Asterisk's defaults.
    pub fn new(name: &str) -> QueueSettings {
        QueueSettings {
            name: name.to_string(),
            strategy: Strategy::Ringall,
            timeout: 15,
            retry: 5,
            wrapuptime: 0,
            maxlen: 0,
            joinempty: EmptyRule::Never,
            leavewhenempty: EmptyRule::Never,
            announce_frequency: 0,
            announce_holdtime: false,
            announce_position: false,
            periodic_announce: String::new(),
            periodic_announce_frequency: 0,
            servicelevel: 60,
            weight: 0,
            musicclass: String::new(),
        }
    }
}

/// A change to a queue's settings (`spygroup queue add|set`, `POST` and `PATCH`
/// of `/api/v1/queues`): what is left out keeps its value, or for a new queue
/// Asterisk's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    pub strategy: Option<Strategy>,
    pub timeout: Option<u32>,
    pub retry: Option<u32>,
    pub wrapuptime: Option<u32>,
    pub maxlen: Option<u32>,
    pub joinempty: Option<EmptyRule>,
    pub leavewhenempty: Option<EmptyRule>,
    pub announce_frequency: Option<u32>,
    pub announce_holdtime: Option<bool>,
    pub announce_position: Option<bool>,
    pub periodic_announce: Option<String>,
    pub periodic_announce_frequency: Option<u32>,
    pub servicelevel: Option<u32>,
    pub weight: Option<u32>,
    pub musicclass: Option<String>,
}

impl QueuePatch {
    /// Sets every field the patch names.
    pub fn apply(self, q: &mut QueueSettings) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { q.$f = v; } )* };
        }
        set!(
            strategy,
            timeout,
            retry,
            wrapuptime,
            maxlen,
            joinempty,
            leavewhenempty,
            announce_frequency,
            announce_holdtime,
            announce_position,
            periodic_announce,
            periodic_announce_frequency,
            servicelevel,
            weight,
            musicclass
        );
    }
}

/// A member of a queue, as stored: an extension, its penalty, whether it was added
/// at run time (an agent who logged in) or configured, and its pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueMember {
    pub queue: String,
    /// The member's extension (its interface is `SIP/<extension>`).
    pub extension: String,
    /// Lower rings first; members with a higher penalty are rung only when no one
    /// with a lower one is free.
    pub penalty: u32,
    /// Logged in by the agent (AddQueueMember, feature code, API) rather than
    /// configured: logging out removes it.
    pub dynamic: bool,
    pub paused: bool,
    /// Why the agent paused ("lunch"), empty when not paused or none given.
    pub reason: String,
}

/// An agent's state on the floor, as the console and the API show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not a member of any queue, or its phone is not registered.
    LoggedOut,
    /// Registered and free: the next queue call may ring it.
    Available,
    /// A queue call rings its phone now.
    Ringing,
    /// On a call: a queue call or a direct one.
    OnCall,
    /// Resting after a queue call (`wrapuptime`).
    WrapUp,
    /// Paused by the agent or a supervisor.
    Paused,
}

impl AgentState {
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Available => "available",
            AgentState::Ringing => "ringing",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::Paused => "paused",
        }
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Asterisk's `queue_log` events, as stored in the queue log's `event` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum QueueEvent {
    /// data: url, caller id number, original position.
    Enterqueue,
    /// data: hold time, bridged channel's unique id, ring time.
    Connect,
    /// data: hold time, call time, original position.
    Completeagent,
    Completecaller,
    /// data: position, original position, wait time.
    Abandon,
    /// data: position, original position, wait time.
    Exitwithtimeout,
    /// data: position, original position, wait time (nobody to answer).
    Exitempty,
    /// data: ring time in ms.
    Ringnoanswer,
    /// data: extension, context, hold time, call time, original position.
    Transfer,
    Addmember,
    Removemember,
    /// data: reason.
    Pause,
    Unpause,
}

impl QueueEvent {
    pub const ALL: [QueueEvent; 13] = [
        QueueEvent::Enterqueue,
        QueueEvent::Connect,
        QueueEvent::Completeagent,
        QueueEvent::Completecaller,
        QueueEvent::Abandon,
        QueueEvent::Exitwithtimeout,
        QueueEvent::Exitempty,
        QueueEvent::Ringnoanswer,
        QueueEvent::Transfer,
        QueueEvent::Addmember,
        QueueEvent::Removemember,
        QueueEvent::Pause,
        QueueEvent::Unpause,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            QueueEvent::Enterqueue => "ENTERQUEUE",
            QueueEvent::Connect => "CONNECT",
            QueueEvent::Completeagent => "COMPLETEAGENT",
            QueueEvent::Completecaller => "COMPLETECALLER",
            QueueEvent::Abandon => "ABANDON",
            QueueEvent::Exitwithtimeout => "EXITWITHTIMEOUT",
            QueueEvent::Exitempty => "EXITEMPTY",
            QueueEvent::Ringnoanswer => "RINGNOANSWER",
            QueueEvent::Transfer => "TRANSFER",
            QueueEvent::Addmember => "ADDMEMBER",
            QueueEvent::Removemember => "REMOVEMEMBER",
            QueueEvent::Pause => "PAUSE",
            QueueEvent::Unpause => "UNPAUSE",
        }
    }
}

impl fmt::Display for QueueEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue_log event {0:?}")]
pub struct UnknownQueueEvent(pub String);

impl FromStr for QueueEvent {
    type Err = UnknownQueueEvent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueEvent::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownQueueEvent(s.to_string()))
    }
}

/// One line of the queue log: Asterisk's `queue_log` columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueLogEntry {
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// The caller's call (its public call reference), or "NONE" for member events.
    pub call_id: String,
    pub queue: String,
    /// `SIP/<extension>` of the member concerned, or "NONE".
    pub agent: String,
    pub event: QueueEvent,
    /// data1..data5, as Asterisk fills them for this event.
    pub data: [String; 5],
}

/// How `Queue()` ended (`QUEUESTATUS`), when no member answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QueueStatus {
    /// No such queue.
    Unknown,
    Timeout,
    Full,
    Joinempty,
    Leaveempty,
    Joinunavail,
    Leaveunavail,
    /// The caller pressed a digit that had somewhere to go, or a member answered
    /// and the call ended (Asterisk leaves QUEUESTATUS unset then; we say so).
    Continue,
}

impl QueueStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Unknown => "UNKNOWN",
            QueueStatus::Timeout => "TIMEOUT",
            QueueStatus::Full => "FULL",
            QueueStatus::Joinempty => "JOINEMPTY",
            QueueStatus::Leaveempty => "LEAVEEMPTY",
            QueueStatus::Joinunavail => "JOINUNAVAIL",
            QueueStatus::Leaveunavail => "LEAVEUNAVAIL",
            QueueStatus::Continue => "CONTINUE",
        }
    }
}

/// A caller waiting in a queue, live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitingCaller {
    /// The caller's call reference (as in `/calls`).
    pub call: String,
    /// The caller's channel (`SIP/trunk1-0000002a`).
    pub channel: String,
    /// Caller ID number.
    pub caller: String,
    /// 1 is next to be answered.
    pub position: u32,
    /// When the caller joined, Unix ms.
    pub since_ms: i64,
    /// Members ringing for this caller now.
    pub ringing: Vec<String>,
}

/// One queue, live: its waiting callers in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveQueue {
    pub name: String,
    pub waiting: Vec<WaitingCaller>,
    /// How long the caller waiting longest has waited, seconds (0: nobody waits).
    pub longest_wait_secs: u64,
}

/// An agent (an extension that is a member of at least one queue), live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveAgent {
    pub extension: String,
    pub state: AgentState,
    /// The pause reason, when paused.
    pub reason: String,
    /// The queues it is a member of.
    pub queues: Vec<String>,
    /// Queue calls answered since the PBX started.
    pub calls_taken: u64,
    /// When its last queue call ended, Unix ms (0: none yet).
    pub last_call_ms: i64,
}

/// The floor as the switch sees it now: every queue and every agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueFloor {
    pub queues: Vec<LiveQueue>,
    pub agents: Vec<LiveAgent>,
}

/// Statistics of one queue over a period, computed from the queue log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub queue: String,
    /// Callers who entered (ENTERQUEUE).
    pub offered: u64,
    /// Answered by an agent (CONNECT).
    pub answered: u64,
    /// Hung up before an answer (ABANDON).
    pub abandoned: u64,
    /// Left by the queue's or Queue()'s timeout, or because it emptied.
    pub timed_out: u64,
    pub transferred: u64,
    /// Answered within the queue's `servicelevel`, over answered + abandoned, %.
    pub service_level_pct: f64,
    pub servicelevel_s: u32,
    /// Average wait of answered callers, seconds.
    pub avg_wait_s: f64,
    /// Longest wait of an answered caller, seconds.
    pub max_wait_s: u64,
    /// Average talk time of completed calls, seconds.
    pub avg_handle_s: f64,
}

/// Statistics of one agent over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentStats {
    /// `SIP/<extension>`.
    pub agent: String,
    pub answered: u64,
    /// Rung and did not answer (RINGNOANSWER).
    pub ring_no_answer: u64,
    pub completed: u64,
    pub avg_handle_s: f64,
    pub pauses: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        assert_eq!("roundrobin".parse::<Strategy>(), Ok(Strategy::Rrmemory));
        assert!("fastest".parse::<Strategy>().is_err());
        for e in QueueEvent::ALL {
            assert_eq!(e.as_str().parse::<QueueEvent>(), Ok(e));
        }
        for r in EmptyRule::ALL {
            assert_eq!(r.as_str().parse::<EmptyRule>(), Ok(r));
        }
        assert_eq!("yes".parse::<EmptyRule>(), Ok(EmptyRule::Unavailable));
    }
}
