//! Who may monitor whom: supervisors are granted spy groups and modes in the
//! database, on top of ChanSpy's own options. `spygroup monitoring open` restores
//! Asterisk's behaviour (anyone who can reach ChanSpy may spy on anything).

use media::mix::SpyMode;
use store::{GroupScope, MonitorMode};

use crate::registry::ChannelEntry;

/// The rules in force for one ChanSpy run.
#[derive(Debug, Clone)]
pub(super) enum Policy {
    Open,
    /// None: the caller is not a supervisor at all.
    Restricted(Option<store::Grant>),
}

/// Why a session is refused.
pub(super) enum Denied {
    NotSupervisor,
    Mode(SpyMode),
    Group,
}

impl Denied {
    pub fn reason(&self, supervisor: &str, target: &ChannelEntry) -> String {
        match self {
            Denied::NotSupervisor => format!("{supervisor} is not a supervisor"),
            Denied::Mode(m) => format!("{supervisor} may not {} ", super::chanspy::mode_name(*m))
                .trim_end()
                .to_string(),
            Denied::Group => format!("{} is not in a spy group of {supervisor}", target.endpoint),
        }
    }
}

impl Policy {
    pub async fn load(store: &store::Store, supervisor: &str) -> Policy {
        if matches!(store.monitoring_open().await, Ok(true)) {
            return Policy::Open;
        }
        match store.supervisor_get(supervisor).await {
            Ok(grant) => Policy::Restricted(grant),
            Err(e) => {
                tracing::error!("cannot read supervisor grants: {e}");
                Policy::Restricted(None)
            }
        }
    }

    pub fn mode_allowed(&self, mode: SpyMode) -> bool {
        match self {
            Policy::Open => true,
            Policy::Restricted(None) => false,
            Policy::Restricted(Some(g)) => g.modes.contains(&to_store(mode)),
        }
    }

    /// May this supervisor monitor `target` in `mode`? The target's groups are its
    /// channel's SPYGROUP, its extension's groups and rule-given groups.
    pub fn check(&self, target: &ChannelEntry, mode: SpyMode) -> Result<(), Denied> {
        let grant = match self {
            Policy::Open => return Ok(()),
            Policy::Restricted(None) => return Err(Denied::NotSupervisor),
            Policy::Restricted(Some(g)) => g,
        };
        if !self.mode_allowed(mode) {
            return Err(Denied::Mode(mode));
        }
        if matches!(grant.groups, GroupScope::All) {
            return Ok(());
        }
        let groups: Vec<&str> = target.groups().collect();
        if grant.allows(to_store(mode), &groups) {
            Ok(())
        } else {
            Err(Denied::Group)
        }
    }
}

fn to_store(m: SpyMode) -> MonitorMode {
    match m {
        SpyMode::Listen => MonitorMode::Listen,
        SpyMode::Whisper => MonitorMode::Whisper,
        SpyMode::Barge => MonitorMode::Barge,
    }
}
