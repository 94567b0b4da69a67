//! The live channels, owned by the switch: every change is published as an output
//! (the shell mirrors it into the shared registry that ChanSpy and the API read).
//! Channel tasks never write the table; they ask the switch (`ChanOp::SpyGroup`, ...).

use std::collections::{BTreeMap, VecDeque};

use super::output::{ChannelInfo, Output};

#[derive(Debug, Default)]
pub(super) struct Channels {
    map: BTreeMap<String, ChannelInfo>,
}

impl Channels {
    pub fn up(&mut self, info: ChannelInfo, out: &mut VecDeque<Output>) {
        out.push_back(Output::Channel(info.clone()));
        self.map.insert(info.name.clone(), info);
    }

    /// Changes a channel and publishes it, if it exists and changed.
    pub fn update(
        &mut self,
        name: &str,
        out: &mut VecDeque<Output>,
        f: impl FnOnce(&mut ChannelInfo),
    ) {
        if let Some(c) = self.map.get_mut(name) {
            let before = c.clone();
            f(c);
            if *c != before {
                out.push_back(Output::Channel(c.clone()));
            }
        }
    }

    /// Links two channels as talking to each other.
    pub fn bridge(&mut self, a: &str, b: &str, out: &mut VecDeque<Output>) {
        self.update(a, out, |c| c.bridged_to = Some(b.to_string()));
        self.update(b, out, |c| c.bridged_to = Some(a.to_string()));
    }

    pub fn gone(&mut self, name: &str, out: &mut VecDeque<Output>) {
        let Some(info) = self.map.remove(name) else {
            return;
        };
        out.push_back(Output::ChannelGone(name.to_string()));
        // Whoever it was bridged to no longer is.
        if let Some(peer) = info.bridged_to {
            self.update(&peer, out, |c| {
                if c.bridged_to.as_deref() == Some(name) {
                    c.bridged_to = None;
                }
            });
        }
    }

    pub fn get(&self, name: &str) -> Option<&ChannelInfo> {
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ChannelInfo> {
        self.map.values()
    }
}
