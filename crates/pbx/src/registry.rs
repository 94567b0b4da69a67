//! Live channels, as ChanSpy and the API see them: a read-only mirror of the table
//! the switch owns (`switch::ChannelInfo`), kept by the shell from the switch's
//! outputs, with each channel's media bridge control attached so a spy can hook it.
//! Channel tasks never write it; they ask the switch (`chan::ChanOp`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use media::mix::SpyMode;
use media::{BridgeControl, Side};

use crate::switch::{ChannelInfo, Role};

/// One live channel.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    /// `SIP/110-0000001a`.
    pub name: String,
    /// The call's public id (`GET /api/v1/calls`).
    pub call_ref: String,
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The bridge carrying this channel's audio, and which of its sides faces this
    /// channel's phone.
    pub bridge: BridgeControl,
    pub side: Side,
    pub role: Role,
    /// The channel's `SPYGROUP` as the dialplan set it (colon-separated groups).
    pub spygroup: String,
    /// For the callee of a call from a trunk: that trunk (inbound rules).
    pub inbound: Option<String>,
    /// The channel it is bridged to, if any.
    pub bridged_to: Option<String>,
    /// True while this channel runs ChanSpy/ExtenSpy: it is never spied on.
    pub spying: bool,
    /// The channel it is monitoring right now, and how.
    pub spying_on: Option<(String, SpyMode)>,
    /// Epoch ms.
    pub started_ms: u64,
    /// A trunk's channel.
    pub trunk: bool,
}

impl ChannelEntry {
    pub fn new(info: ChannelInfo, bridge: BridgeControl) -> ChannelEntry {
        ChannelEntry {
            name: info.name,
            call_ref: info.call_ref,
            endpoint: info.endpoint,
            bridge,
            side: info.side,
            role: info.role,
            spygroup: info.spygroup,
            inbound: info.inbound,
            bridged_to: info.bridged_to,
            spying: info.in_chanspy,
            spying_on: info.spying_on,
            started_ms: info.started_ms,
            trunk: info.trunk,
        }
    }

    /// Every group of the channel, sorted, colon-separated (as `SPYGROUP` reads).
    pub fn all_groups(&self, config: &store::ConfigSnapshot) -> String {
        let mut all = self.groups(config);
        all.sort_unstable();
        all.dedup();
        all.join(":")
    }

    /// The channel's groups, as ChanSpy's `g()` and permissions compare them (see
    /// `permit::channel_groups`), by the configuration as it is now.
    pub fn groups(&self, config: &store::ConfigSnapshot) -> Vec<String> {
        crate::permit::channel_groups(
            config,
            &self.spygroup,
            &self.endpoint,
            self.inbound.as_deref(),
        )
    }
}

/// Shared table of live channels, ordered by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<BTreeMap<String, ChannelEntry>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ChannelEntry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces a channel (the shell, from the switch's outputs).
    pub(crate) fn put(&self, entry: ChannelEntry) {
        self.lock().insert(entry.name.clone(), entry);
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub fn get(&self, name: &str) -> Option<ChannelEntry> {
        self.lock().get(name).cloned()
    }

    /// Every live channel, ordered by name.
    pub fn snapshot(&self) -> Vec<ChannelEntry> {
        self.lock().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
