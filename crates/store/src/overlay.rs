//! Read-your-writes for the dialplan's `DB()`.
//!
//! `Set(DB(spygrp/110)=spyon)` followed by `GotoIf($[${DB(spygrp/110)} = spyon]…)`
//! must see the new value at once, yet the write goes through the write-behind
//! queue and reaches the snapshot only after the database took it and a reload
//! ran. The overlay bridges that gap: it holds each pending AstDB change with the
//! queue sequence number of its write, and answers before the snapshot does.
//!
//! An entry goes only when a snapshot that includes its write is published: the
//! reload notes which writes were finished before it started reading, and the
//! publication and the pruning happen under the overlay's lock, which readers take
//! too. So no reader ever falls between "overlay entry gone" and "snapshot not yet
//! updated", and the old value never reappears.

use std::collections::{BTreeMap, HashMap};

use crate::snapshot::{in_tree, ConfigSnapshot};

/// Pending AstDB changes over a snapshot.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// `(family, key)` -> (new value, or `None` for deleted; queue sequence number).
    keys: HashMap<(String, String), (Option<String>, u64)>,
    /// Deleted trees (`DBdeltree`), with their sequence numbers. Every key entry
    /// inside a tree is newer than the tree's deletion (the deletion removes the
    /// older ones).
    trees: Vec<(String, u64)>,
}

impl Overlay {
    /// Records a pending put (`Some`) or delete (`None`).
    pub(crate) fn set(&mut self, family: &str, key: &str, value: Option<String>, seq: u64) {
        self.keys
            .insert((family.to_string(), key.to_string()), (value, seq));
    }

    /// Records a pending deletion of `tree` and its sub-families.
    pub(crate) fn delete_tree(&mut self, tree: &str, seq: u64) {
        let tree = tree.trim_matches('/');
        self.keys.retain(|(f, _), _| !in_tree(f, tree));
        self.trees.push((tree.to_string(), seq));
    }

    /// The value of `family/key` once the pending changes are applied to `snap`.
    pub(crate) fn get(&self, snap: &ConfigSnapshot, family: &str, key: &str) -> Option<String> {
        if let Some((value, _)) = self.keys.get(&(family.to_string(), key.to_string())) {
            return value.clone();
        }
        if self.hidden(family) {
            return None;
        }
        snap.db_get(family, key).map(str::to_string)
    }

    /// The `(key, value)` pairs of exactly `family`, pending changes applied, by key.
    pub(crate) fn family(&self, snap: &ConfigSnapshot, family: &str) -> Vec<(String, String)> {
        let mut out: BTreeMap<String, String> = if self.hidden(family) {
            BTreeMap::new()
        } else {
            snap.db_family(family).into_iter().collect()
        };
        for ((f, k), (value, _)) in &self.keys {
            if f == family {
                match value {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
        }
        out.into_iter().collect()
    }

    /// Every `(family, key)` of `tree` (and its sub-families) that a read would see.
    pub(crate) fn tree_keys(&self, snap: &ConfigSnapshot, tree: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = snap
            .kv_tree(Some(tree))
            .into_iter()
            .filter(|(f, _, _)| !self.hidden(f))
            .map(|(f, k, _)| (f.to_string(), k.to_string()))
            .filter(|fk| !self.keys.contains_key(fk))
            .collect();
        out.extend(
            self.keys
                .iter()
                .filter(|((f, _), (v, _))| v.is_some() && in_tree(f, tree))
                .map(|(fk, _)| fk.clone()),
        );
        out.sort();
        out
    }

    /// Drops what a snapshot holding every write up to `covered` already shows.
    pub(crate) fn prune(&mut self, covered: u64) {
        self.keys.retain(|_, (_, seq)| *seq > covered);
        self.trees.retain(|(_, seq)| *seq > covered);
    }

    /// True when some entry's write is finished (sequence number up to `done`), so
    /// a reload would let it go.
    pub(crate) fn awaiting_reload(&self, done: u64) -> bool {
        self.keys.values().any(|(_, seq)| *seq <= done)
            || self.trees.iter().any(|(_, seq)| *seq <= done)
    }

    fn hidden(&self, family: &str) -> bool {
        self.trees.iter().any(|(t, _)| in_tree(family, t))
    }

    /// Pending entries (for tests and logs).
    pub(crate) fn len(&self) -> usize {
        self.keys.len() + self.trees.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> ConfigSnapshot {
        ConfigSnapshot::builder()
            .kv("spygrp", "110", "old")
            .kv("spygrp", "111", "x")
            .kv("spygrp/sub", "1", "y")
            .kv("other", "k", "v")
            .build()
    }

    #[test]
    fn pending_changes_win_over_the_snapshot() {
        let s = snap();
        let mut o = Overlay::default();
        o.set("spygrp", "110", Some("new".into()), 1);
        o.set("spygrp", "111", None, 2);
        o.set("spygrp", "112", Some("z".into()), 3);
        assert_eq!(o.get(&s, "spygrp", "110").as_deref(), Some("new"));
        assert_eq!(o.get(&s, "spygrp", "111"), None);
        assert_eq!(o.get(&s, "other", "k").as_deref(), Some("v"));
        assert_eq!(
            o.family(&s, "spygrp"),
            [("110".into(), "new".into()), ("112".into(), "z".into())]
        );
        assert!(!o.awaiting_reload(0));
        assert!(o.awaiting_reload(1));
        o.prune(2);
        assert_eq!(o.len(), 1);
        assert!(!o.awaiting_reload(2));
        assert_eq!(o.get(&s, "spygrp", "110").as_deref(), Some("old"));
    }

    #[test]
    fn trees_hide_older_values_and_not_newer_ones() {
        let s = snap();
        let mut o = Overlay::default();
        o.set("spygrp/sub", "2", Some("a".into()), 1);
        o.delete_tree("spygrp", 2);
        o.set("spygrp", "113", Some("b".into()), 3);
        assert_eq!(o.get(&s, "spygrp", "110"), None);
        assert_eq!(o.get(&s, "spygrp/sub", "1"), None);
        assert_eq!(o.get(&s, "spygrp/sub", "2"), None);
        assert_eq!(o.get(&s, "spygrp", "113").as_deref(), Some("b"));
        assert_eq!(o.get(&s, "other", "k").as_deref(), Some("v"));
        assert_eq!(o.family(&s, "spygrp"), [("113".into(), "b".into())]);
        assert_eq!(
            o.tree_keys(&s, "spygrp"),
            [("spygrp".to_string(), "113".to_string())]
        );
        assert_eq!(
            o.tree_keys(&s, "other"),
            [("other".to_string(), "k".to_string())]
        );
        o.prune(2);
        assert_eq!(o.len(), 1);
    }
}
