//! The typed values that cross spygroup's crates, so no crate parses another's
//! strings: how a supervisor takes part in a call ([`SpyMode`]), which side of a
//! call a channel is ([`Role`]), why a monitor cannot start or change
//! ([`MonitorFailure`]).
//!
//! Kept tiny on purpose: the media engine, the store, the switch and the API all
//! depend on it, and it depends on nothing of theirs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod queue;
pub use queue::{
    AgentState, AgentStats, EmptyRule, LiveAgent, LiveQueue, QueueEvent, QueueFloor, QueueLogEntry,
    QueueMember, QueuePatch, QueueSettings, QueueStats, QueueStatus, Strategy, WaitingCaller,
};

/// How a supervisor takes part in a call: hear both sides, speak to the agent
/// only, speak to both, or take the call over (the agent's leg is released and the
/// client talks with the supervisor from then on). On the wire (API, database,
/// events): `listen`, `whisper`, `barge`, `takeover`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SpyMode {
    Listen,
    Whisper,
    Barge,
    /// One way: once taken over, the session is the supervisor's call.
    Takeover,
    /// One way: the barge becomes a conference room that goes on when any one
    /// party leaves.
    Conference,
}

impl SpyMode {
    /// Every mode, in canonical order.
    pub const ALL: [SpyMode; 5] = [
        SpyMode::Listen,
        SpyMode::Whisper,
        SpyMode::Barge,
        SpyMode::Takeover,
        SpyMode::Conference,
    ];

    /// `listen`, `whisper`, `barge`, `takeover` or `conference`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpyMode::Listen => "listen",
            SpyMode::Whisper => "whisper",
            SpyMode::Barge => "barge",
            SpyMode::Takeover => "takeover",
            SpyMode::Conference => "conference",
        }
    }
}

impl fmt::Display for SpyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode that is not `listen`, `whisper`, `barge` or `takeover` (the text, cut
/// to 80 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a spy mode: use listen, whisper, barge, takeover or conference")]
pub struct UnknownMode(pub String);

impl FromStr for SpyMode {
    type Err = UnknownMode;

    /// `listen`, `whisper`, `barge`, `takeover` or `conference`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpyMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownMode(s.chars().take(80).collect()))
    }
}

/// Where a monitoring session goes when its call changes under it (a transfer):
/// `none` ends it with the call (the API's default), `agent` stays with the
/// monitored channel's extension (its next call, as ChanSpy without `E`), `client`
/// stays with the party the monitored channel was talking to (ChanSpy's `F`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Follow {
    #[default]
    None,
    Agent,
    Client,
}

impl Follow {
    pub const ALL: [Follow; 3] = [Follow::None, Follow::Agent, Follow::Client];

    pub const fn as_str(self) -> &'static str {
        match self {
            Follow::None => "none",
            Follow::Agent => "agent",
            Follow::Client => "client",
        }
    }
}

/// A follow rule that is not `none`, `agent` or `client`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a follow rule: use none, agent or client")]
pub struct UnknownFollow(pub String);

impl FromStr for Follow {
    type Err = UnknownFollow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Follow::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFollow(s.chars().take(80).collect()))
    }
}

/// Whether a channel placed its call or was called. On the wire: `caller`, `callee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Caller,
    Callee,
}

/// Why a monitor cannot start or change, as its HTTP status says it; the text is
/// the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorFailure {
    /// 404: no such call, channel, monitor or supervisor; the supervisor's phone
    /// is not registered.
    #[error("{0}")]
    NotFound(String),
    /// 403: the supervisor's grant does not allow it (decided before any phone rings).
    #[error("{0}")]
    Forbidden(String),
    /// 409: the supervisor is already on a call; the call was taken over already.
    #[error("{0}")]
    Conflict(String),
    /// 503: out of RTP ports, or no switch.
    #[error("{0}")]
    Unavailable(String),
}

impl MonitorFailure {
    pub fn http_status(&self) -> u16 {
        match self {
            MonitorFailure::NotFound(_) => 404,
            MonitorFailure::Forbidden(_) => 403,
            MonitorFailure::Conflict(_) => 409,
            MonitorFailure::Unavailable(_) => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_text_and_json() {
        for m in SpyMode::ALL {
            assert_eq!(m.as_str().parse::<SpyMode>(), Ok(m));
            assert_eq!(m.to_string().to_uppercase().parse::<SpyMode>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<SpyMode>(&json).unwrap(), m);
        }
        assert!("spy".parse::<SpyMode>().is_err());
        assert!(serde_json::from_str::<SpyMode>("\"Listen\"").is_err());
    }
}

/// One member of a conference room (`ConfBridge`), as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfMember {
    /// The member's channel, e.g. `SIP/101-00000004`.
    pub channel: String,
    /// Its extension (or trunk).
    pub endpoint: String,
    /// May mute and kick others.
    pub admin: bool,
    /// Members with `wait_marked` wait for a marked member.
    pub marked: bool,
    pub muted: bool,
    /// Waiting for a marked member: hears music, is not heard.
    pub waiting: bool,
    /// How loud the others hear it, and how loud it hears them: -4 to 4 (0 as is).
    pub talk_volume: i32,
    pub listen_volume: i32,
    /// When it joined, epoch milliseconds.
    pub joined: u64,
}

/// A change to one conference member (the API's PATCH); what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfChange {
    /// Mute (true: the others stop hearing it) or unmute.
    #[serde(default)]
    pub muted: Option<bool>,
    /// -4 to 4.
    #[serde(default)]
    pub talk_volume: Option<i32>,
    /// -4 to 4.
    #[serde(default)]
    pub listen_volume: Option<i32>,
}

/// One live conference room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfRoom {
    pub name: String,
    /// When its first member joined, epoch milliseconds.
    pub started: u64,
    /// In joining order.
    pub members: Vec<ConfMember>,
}

/// What a lock against guessing holds back: digest authentication from a source,
/// of an extension (under a distributed attack), of an extension from its own
/// known-good source; PIN entry by a caller, or of one PIN from anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockoutKind {
    Source,
    Extension,
    SourceExtension,
    PinCaller,
    Pin,
}

impl LockoutKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            LockoutKind::Source => "source",
            LockoutKind::Extension => "extension",
            LockoutKind::SourceExtension => "source_extension",
            LockoutKind::PinCaller => "pin_caller",
            LockoutKind::Pin => "pin",
        }
    }

    pub fn parse(s: &str) -> Option<LockoutKind> {
        [
            LockoutKind::Source,
            LockoutKind::Extension,
            LockoutKind::SourceExtension,
            LockoutKind::PinCaller,
            LockoutKind::Pin,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A lock in force, as the API and events show it (never a PIN or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lockout {
    /// Names what is locked (the same for every lock of it); lift it by this id.
    pub id: String,
    pub kind: LockoutKind,
    /// What is locked, in words: `source 192.0.2.7`, `extension 110 from
    /// 192.0.2.7`, `PIN at 778`.
    pub subject: String,
    /// When it started and until when it holds, epoch milliseconds.
    pub since: u64,
    pub until: u64,
    /// Locks of this subject in a row (each one twice as long as the last).
    pub count: u32,
    pub reason: String,
}
