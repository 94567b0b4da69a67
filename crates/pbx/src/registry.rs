//! Live channels, as ChanSpy and the API see them: name, endpoint, which bridge side
//! carries its audio, its spy groups, who it talks to, and whether it is itself
//! spying. The switch adds and removes entries; channel tasks update what only the
//! dialplan knows (SPYGROUP, spying).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use media::{BridgeControl, Side};

/// One live channel.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    /// `SIP/110-0000001a`.
    pub name: String,
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The bridge carrying this channel's audio, and which of its sides faces this
    /// channel's phone.
    pub bridge: BridgeControl,
    pub side: Side,
    /// The channel's `SPYGROUP` as the dialplan set it (colon-separated groups).
    pub spygroup: String,
    /// Groups from the database: the extension's spy groups, and for a call from a
    /// trunk, the groups inbound rules give it.
    pub static_groups: Vec<String>,
    /// The channel it is bridged to, if any.
    pub bridged_to: Option<String>,
    /// True while this channel runs ChanSpy/ExtenSpy: it is never spied on.
    pub spying: bool,
    /// The channel it is listening to right now, if any.
    pub spying_on: Option<String>,
}

impl ChannelEntry {
    /// Every group of the channel, sorted, colon-separated (as `SPYGROUP` reads).
    pub fn all_groups(&self) -> String {
        let mut all: Vec<&str> = self.groups().collect();
        all.sort_unstable();
        all.dedup();
        all.join(":")
    }

    /// The channel's groups, as ChanSpy's `g()` and permissions compare them: its
    /// extension's groups + rule-assigned groups + what the dialplan set.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.spygroup
            .split(':')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .chain(self.static_groups.iter().map(String::as_str))
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

    pub fn insert(&self, entry: ChannelEntry) {
        self.lock().insert(entry.name.clone(), entry);
    }

    pub fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub fn get(&self, name: &str) -> Option<ChannelEntry> {
        self.lock().get(name).cloned()
    }

    /// Every live channel, ordered by name.
    pub fn snapshot(&self) -> Vec<ChannelEntry> {
        self.lock().values().cloned().collect()
    }

    pub fn update(&self, name: &str, f: impl FnOnce(&mut ChannelEntry)) {
        if let Some(e) = self.lock().get_mut(name) {
            f(e);
        }
    }

    /// Links two channels as talking to each other.
    pub fn bridge(&self, a: &str, b: &str) {
        let mut map = self.lock();
        if let Some(e) = map.get_mut(a) {
            e.bridged_to = Some(b.to_string());
        }
        if let Some(e) = map.get_mut(b) {
            e.bridged_to = Some(a.to_string());
        }
    }

    /// Every live channel as JSON (for the API's live view).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.snapshot()
                .into_iter()
                .map(|e| {
                    serde_json::json!({
                        "name": e.name,
                        "endpoint": e.endpoint,
                        "spygroup": e.all_groups(),
                        "bridged_to": e.bridged_to,
                        "spying": e.spying_on,
                        "in_chanspy": e.spying,
                    })
                })
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
