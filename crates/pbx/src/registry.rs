//! Live channels, as ChanSpy and the API see them: a read-only mirror of the table
//! the switch owns (`switch::ChannelInfo`), kept by the shell from the switch's
//! outputs, with each channel's media bridge control attached so a spy can hook it.
//! Channel tasks never write it; they ask the switch (`chan::ChanOp`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use media::BridgeControl;

use crate::switch::ChannelInfo;

/// One live channel: what the switch publishes of it, and the control of the bridge
/// carrying its audio (so a spy can hook it).
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub info: ChannelInfo,
    pub bridge: BridgeControl,
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
        self.lock().insert(entry.info.name.clone(), entry);
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
