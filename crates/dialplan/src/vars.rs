//! Channel variables with Asterisk's inheritance, caller ID, and the globals
//! shared by every call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How a variable passes to channels this one creates (Dial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inherit {
    /// `VAR`: stays on this channel.
    No,
    /// `_VAR`: copied once, to channels this one creates, as a plain variable.
    Once,
    /// `__VAR`: copied to every channel descending from this one.
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Var {
    value: String,
    inherit: Inherit,
}

/// Where a channel is in the dialplan (`${CONTEXT}`, `${EXTEN}`, `${PRIORITY}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub context: String,
    pub exten: String,
    pub priority: u32,
}

/// Caller ID of a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub num: String,
    pub name: String,
}

impl CallerId {
    /// `"Name" <num>`, or the number alone when there is no name.
    pub fn all(&self) -> String {
        match (self.name.is_empty(), self.num.is_empty()) {
            (true, _) => self.num.clone(),
            (false, true) => format!("\"{}\"", self.name),
            (false, false) => format!("\"{}\" <{}>", self.name, self.num),
        }
    }

    /// Parses `"Name" <num>`, `Name <num>` or a bare number.
    pub fn parse_all(s: &str) -> CallerId {
        let s = s.trim();
        match (s.rfind('<'), s.rfind('>')) {
            (Some(lt), Some(gt)) if lt < gt => CallerId {
                num: s[lt + 1..gt].trim().to_string(),
                name: s[..lt].trim().trim_matches('"').to_string(),
            },
            _ => CallerId {
                num: s.trim_matches('"').to_string(),
                name: String::new(),
            },
        }
    }
}

/// The variables of one channel. Names are case-sensitive, as in Asterisk; the
/// `_`/`__` prefix only sets inheritance and is not part of the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelVars {
    /// The channel's name, e.g. `SIP/110-0000001a`.
    pub channel: String,
    pub uniqueid: String,
    pub caller: CallerId,
    /// Where the application being run sits; set by the interpreter before each
    /// host call, so applications that collect digits (Background, WaitExten) can
    /// ask the dialplan which extensions the current context has.
    pub location: Location,
    vars: BTreeMap<String, Var>,
}

/// Strips the inheritance prefix: `__X` → (X, Always), `_X` → (X, Once).
fn split_name(name: &str) -> (&str, Inherit) {
    if let Some(rest) = name.strip_prefix("__") {
        (rest, Inherit::Always)
    } else if let Some(rest) = name.strip_prefix('_') {
        (rest, Inherit::Once)
    } else {
        (name, Inherit::No)
    }
}

impl ChannelVars {
    pub fn new(channel: impl Into<String>, uniqueid: impl Into<String>) -> Self {
        ChannelVars {
            channel: channel.into(),
            uniqueid: uniqueid.into(),
            ..Default::default()
        }
    }

    /// Sets `name` (with an optional `_`/`__` prefix). An empty value deletes
    /// the variable, as `Set(VAR=)` does in Asterisk.
    pub fn set(&mut self, name: &str, value: &str) {
        let (bare, inherit) = split_name(name.trim());
        if bare.is_empty() {
            return;
        }
        if value.is_empty() {
            self.vars.remove(bare);
            return;
        }
        self.vars.insert(
            bare.to_string(),
            Var {
                value: value.to_string(),
                inherit,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let (bare, _) = split_name(name);
        self.vars.get(bare).map(|v| v.value.as_str())
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let (bare, _) = split_name(name);
        self.vars.remove(bare).map(|v| v.value)
    }

    /// How `name` is inherited, if set.
    pub fn inheritance(&self, name: &str) -> Option<Inherit> {
        self.vars.get(split_name(name).0).map(|v| v.inherit)
    }

    /// Every variable as (name, value), without prefixes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
    }

    /// What a channel created by this one (Dial) starts with, each name written
    /// as the child should [`set`](Self::set) it: `_X` arrives as `X` (no further
    /// inheritance), `__X` arrives as `__X` (inherited again).
    pub fn inherited(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter_map(|(k, v)| match v.inherit {
                Inherit::No => None,
                Inherit::Once => Some((k.clone(), v.value.clone())),
                Inherit::Always => Some((format!("__{k}"), v.value.clone())),
            })
            .collect()
    }

    /// A new channel created by this one, with the inherited variables set.
    pub fn child(&self, channel: impl Into<String>, uniqueid: impl Into<String>) -> ChannelVars {
        let mut c = ChannelVars::new(channel, uniqueid);
        for (k, v) in self.inherited() {
            c.set(&k, &v);
        }
        c
    }
}

/// Global variables, shared by every call of one dialplan. Cloning shares.
#[derive(Debug, Clone, Default)]
pub struct Globals(Arc<Mutex<BTreeMap<String, String>>>);

impl Globals {
    /// Globals holding `[globals]` of a dialplan (values as written).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let g = Globals::default();
        for (k, v) in pairs {
            g.set(k, v);
        }
        g
    }

    // A poisoned lock only means another call panicked mid-write of a map of
    // strings; the map is still usable, so take it rather than panic too.
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.map().get(name).cloned()
    }

    /// Sets a global; an empty value deletes it.
    pub fn set(&self, name: &str, value: &str) {
        let mut m = self.map();
        if value.is_empty() {
            m.remove(name);
        } else {
            m.insert(name.to_string(), value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inheritance_rules() {
        let mut a = ChannelVars::new("SIP/1-1", "1");
        a.set("__SPYGROUP", "spygrp");
        a.set("_ONCE", "o");
        a.set("LOCAL", "l");
        assert_eq!(a.get("SPYGROUP"), Some("spygrp"));
        assert_eq!(a.inheritance("SPYGROUP"), Some(Inherit::Always));
        let mut got = a.inherited();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("ONCE".to_string(), "o".to_string()),
                ("__SPYGROUP".to_string(), "spygrp".to_string())
            ]
        );
        let b = a.child("SIP/2-2", "2");
        assert_eq!(b.get("SPYGROUP"), Some("spygrp"));
        assert_eq!(b.get("ONCE"), Some("o"));
        assert_eq!(b.get("LOCAL"), None);
        let c = b.child("SIP/3-3", "3");
        assert_eq!(c.get("SPYGROUP"), Some("spygrp"));
        assert_eq!(c.get("ONCE"), None);
    }

    #[test]
    fn empty_value_deletes() {
        let mut a = ChannelVars::default();
        a.set("X", "1");
        a.set("X", "");
        assert_eq!(a.get("X"), None);
    }

    #[test]
    fn caller_id_forms() {
        let c = CallerId::parse_all("\"Alice\" <110>");
        assert_eq!((c.name.as_str(), c.num.as_str()), ("Alice", "110"));
        assert_eq!(c.all(), "\"Alice\" <110>");
        assert_eq!(CallerId::parse_all("110").num, "110");
    }
}
