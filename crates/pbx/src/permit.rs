//! Who may monitor whom: supervisors are granted spy groups and modes in the
//! database, on top of ChanSpy's own options. `spygroup monitoring open` restores
//! Asterisk's behaviour (anyone who can reach ChanSpy may spy on anything).
//!
//! Decided from the configuration snapshot, by the switch (click-to-spy, before the
//! supervisor's phone rings) and by ChanSpy (feature codes, mode changes) alike.

use store::{ConfigSnapshot, GroupScope, SpyMode};

/// The rules in force for one supervisor.
#[derive(Debug, Clone)]
pub enum Policy {
    Open,
    /// None: the caller is not a supervisor at all.
    Restricted(Option<store::Grant>),
}

/// Why a session is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    NotSupervisor,
    Mode(SpyMode),
    /// Neither the channel's groups nor its queue are in the grant.
    Group,
}

impl Denied {
    /// The reason as the audit log and the API say it.
    pub fn reason(&self, supervisor: &str, target_endpoint: &str) -> String {
        match self {
            Denied::NotSupervisor => format!("{supervisor} is not a supervisor"),
            Denied::Mode(m) => format!("{supervisor} may not {}", m.as_str()),
            Denied::Group => format!("{target_endpoint} is not in a spy group of {supervisor}"),
        }
    }
}

impl Policy {
    pub fn of(config: &ConfigSnapshot, supervisor: &str) -> Policy {
        if config.monitoring_open() {
            return Policy::Open;
        }
        Policy::Restricted(config.supervisor(supervisor).cloned())
    }

    pub fn is_supervisor(&self) -> bool {
        !matches!(self, Policy::Restricted(None))
    }

    pub fn mode_allowed(&self, mode: SpyMode) -> bool {
        match self {
            Policy::Open => true,
            Policy::Restricted(None) => false,
            Policy::Restricted(Some(g)) => g.modes.contains(&mode),
        }
    }

    /// May this supervisor monitor `channel` in `mode`, by the configuration as
    /// it is now? Its groups (see [`channel_groups`]) or the queue whose call it
    /// answered must be in the grant.
    pub fn check_channel(
        &self,
        channel: &crate::switch::ChannelInfo,
        config: &ConfigSnapshot,
        mode: SpyMode,
    ) -> Result<(), Denied> {
        let groups = channel.groups(config);
        self.check(
            groups.iter().map(String::as_str),
            channel.queue.as_deref(),
            mode,
        )
    }

    /// May this supervisor monitor a channel in `groups` (its SPYGROUP, its
    /// extension's groups and rule-given groups), carrying a call of `queue`, in
    /// `mode`?
    fn check<'a>(
        &self,
        groups: impl IntoIterator<Item = &'a str>,
        queue: Option<&str>,
        mode: SpyMode,
    ) -> Result<(), Denied> {
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
        let groups: Vec<&str> = groups.into_iter().collect();
        if grant.allows(mode, &groups, queue) {
            Ok(())
        } else {
            Err(Denied::Group)
        }
    }
}

/// Every group of a channel, as ChanSpy's `g()` and permissions compare them: what
/// the dialplan set (`SPYGROUP`, colon-separated), its extension's spy groups, and
/// for the agent of a call from a trunk (`inbound`: that trunk) the groups inbound
/// rules give it. Read from the current snapshot, so a change to groups or rules
/// applies to calls already up.
pub fn channel_groups(
    config: &ConfigSnapshot,
    spygroup: &str,
    endpoint: &str,
    inbound: Option<&str>,
) -> Vec<String> {
    let mut groups: Vec<String> = spygroup
        .split(':')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    groups.extend(config.groups_of(endpoint));
    if let Some(trunk) = inbound {
        groups.extend(config.inbound_groups(trunk, endpoint));
    }
    groups
}
