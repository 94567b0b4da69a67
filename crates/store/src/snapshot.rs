//! The configuration as the call path reads it: all in memory, immutable.
//!
//! Routing a call or checking a supervisor's rights must never wait for the
//! database (an outage, a slow disk or a locked SQLite file would stall calls).
//! So everything those decisions read is loaded into one [`ConfigSnapshot`], shared
//! as `Arc<ConfigSnapshot>` and replaced whole when the database changes
//! ([`crate::LiveConfig`]). Whole replacement means a call never sees half of a
//! change: a new member and the rule that needs it arrive together.
//!
//! Every lookup answers exactly as the [`Store`](crate::Store) query of the same
//! name does on the same data, so moving a caller from the database to the
//! snapshot changes no decision. Names sort in byte order, as SQLite and
//! PostgreSQL's `C` collation do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use crate::rules::in_range;
use crate::trunks::canonical;
use crate::{Extension, Grant, MonitorRule, SpyGroup, Trunk};

/// One consistent copy of the configuration tables. Build one with
/// [`ConfigSnapshot::builder`] (no database needed) or get the live one from
/// [`crate::LiveConfig`].
pub struct ConfigSnapshot {
    version: u64,
    realm: String,
    extensions: BTreeMap<String, Extension>,
    /// Ordered by name.
    trunks: Vec<Trunk>,
    /// Stored host text -> indexes into `trunks`, in name order. Keyed by the text
    /// because the database compares text (`host = $1`), and so must we.
    trunks_by_host: HashMap<String, Vec<usize>>,
    groups: BTreeMap<String, SpyGroup>,
    /// Extension -> its groups, ordered by name.
    member_of: HashMap<String, Vec<String>>,
    /// Ordered by id.
    rules: Vec<MonitorRule>,
    supervisors: BTreeMap<String, Grant>,
    monitoring_open: bool,
    kv: BTreeMap<String, BTreeMap<String, String>>,
    queues: BTreeMap<String, model::QueueSettings>,
    queue_members: BTreeMap<String, Vec<model::QueueMember>>,
}

/// The raw tables a snapshot is built from (by the loader or the builder).
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub realm: String,
    pub extensions: Vec<Extension>,
    /// `(stored host text, trunk)`.
    pub trunks: Vec<(String, Trunk)>,
    pub groups: Vec<(String, Option<String>)>,
    /// Each group's notice policy (a group without an entry has none).
    pub notices: Vec<(String, crate::GroupNotice)>,
    /// `(group, extension)`.
    pub members: Vec<(String, String)>,
    pub rules: Vec<MonitorRule>,
    pub supervisors: Vec<Grant>,
    pub monitoring_open: bool,
    /// `(family, key, value)`.
    pub kv: Vec<(String, String, String)>,
    pub queues: Vec<model::QueueSettings>,
    pub queue_members: Vec<model::QueueMember>,
}

impl ConfigSnapshot {
    /// Starts a snapshot made by hand, for tests that run without a database.
    pub fn builder() -> crate::ConfigBuilder {
        crate::ConfigBuilder::default()
    }

    /// Indexes the tables. Duplicate keys (impossible from the database, possible
    /// from a builder) keep the last row.
    pub(crate) fn from_parts(p: Parts, version: u64) -> ConfigSnapshot {
        let extensions = p
            .extensions
            .into_iter()
            .map(|e| (e.number.clone(), e))
            .collect();

        let mut trunks = p.trunks;
        trunks.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        trunks.dedup_by(|later, earlier| later.1.name == earlier.1.name);
        let mut trunks_by_host: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (host, _)) in trunks.iter().enumerate() {
            trunks_by_host.entry(host.clone()).or_default().push(i);
        }
        let trunks = trunks.into_iter().map(|(_, t)| t).collect();

        let notices: HashMap<String, crate::GroupNotice> = p.notices.into_iter().collect();
        let mut groups: BTreeMap<String, SpyGroup> = p
            .groups
            .into_iter()
            .map(|(name, description)| {
                let g = SpyGroup {
                    notice: notices.get(&name).copied().unwrap_or_default(),
                    name: name.clone(),
                    description,
                    members: Vec::new(),
                };
                (name, g)
            })
            .collect();
        let members: BTreeSet<(String, String)> = p.members.into_iter().collect();
        let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
        for (group, ext) in members {
            // As the database's foreign key does, a membership needs its group.
            if let Some(g) = groups.get_mut(&group) {
                g.members.push(ext.clone());
                member_of.entry(ext).or_default().push(group);
            }
        }

        let mut rules = p.rules;
        rules.sort_by_key(|r| r.id);

        let mut kv: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (family, key, value) in p.kv {
            kv.entry(family).or_default().insert(key, value);
        }

        let mut queue_members: BTreeMap<String, Vec<model::QueueMember>> = BTreeMap::new();
        for m in p.queue_members {
            queue_members.entry(m.queue.clone()).or_default().push(m);
        }
        ConfigSnapshot {
            queues: p.queues.into_iter().map(|q| (q.name.clone(), q)).collect(),
            queue_members,
            version,
            realm: p.realm,
            extensions,
            trunks,
            trunks_by_host,
            groups,
            member_of,
            rules,
            supervisors: p
                .supervisors
                .into_iter()
                .map(|g| (g.extension.clone(), g))
                .collect(),
            monitoring_open: p.monitoring_open,
            kv,
        }
    }

    /// Grows with each reload (0 for a built snapshot unless set), for logs and tests.
    /// A queue's settings.
    pub fn queue(&self, name: &str) -> Option<&model::QueueSettings> {
        self.queues.get(name)
    }

    /// Every queue, by name.
    pub fn queues(&self) -> impl Iterator<Item = &model::QueueSettings> {
        self.queues.values()
    }

    /// A queue's members, in list order (empty if none).
    pub fn queue_members(&self, queue: &str) -> &[model::QueueMember] {
        self.queue_members.get(queue).map_or(&[], |v| v.as_slice())
    }

    /// The queues `ext` is a member of, by name.
    pub fn queues_of(&self, ext: &str) -> Vec<String> {
        self.queue_members
            .iter()
            .filter(|(_, m)| m.iter().any(|m| m.extension == ext))
            .map(|(q, _)| q.clone())
            .collect()
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The digest realm every HA1 here was computed with.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// One extension, as [`Store::get_extension`](crate::Store::get_extension).
    pub fn extension(&self, number: &str) -> Option<&Extension> {
        self.extensions.get(number)
    }

    /// Every extension, ordered by number.
    pub fn extensions(&self) -> impl Iterator<Item = &Extension> {
        self.extensions.values()
    }

    /// Every trunk, ordered by name.
    pub fn trunks(&self) -> &[Trunk] {
        &self.trunks
    }

    /// The trunk a request from `ip:port` belongs to, as
    /// [`Store::find_trunk_by_source`](crate::Store::find_trunk_by_source): an
    /// IPv4-mapped IPv6 source counts as its IPv4 address, a trunk with that exact
    /// port wins over a port-less one, and among equals the first by name wins.
    pub fn trunk_by_source(&self, ip: IpAddr, port: u16) -> Option<&Trunk> {
        let list = self.trunks_by_host.get(&canonical(ip).to_string())?;
        let mut candidates = list.iter().map(|&i| &self.trunks[i]);
        let exact = candidates.clone().find(|t| t.port == Some(port));
        exact.or_else(|| candidates.find(|t| t.port.is_none()))
    }

    /// Every spy group with its members, ordered by name.
    pub fn groups(&self) -> impl Iterator<Item = &SpyGroup> {
        self.groups.values()
    }

    /// One spy group, or `None`.
    pub fn group(&self, name: &str) -> Option<&SpyGroup> {
        self.groups.get(name)
    }

    /// What the parties of a call in `groups` are told when it is monitored (the
    /// most any of its groups asks for; groups that do not exist ask nothing).
    pub fn notice_for<S: AsRef<str>>(&self, groups: &[S]) -> crate::GroupNotice {
        crate::GroupNotice::strongest(
            groups
                .iter()
                .filter_map(|g| self.groups.get(g.as_ref()))
                .map(|g| &g.notice),
        )
    }

    /// The groups `ext` is a member of, ordered by name (empty for an unknown
    /// extension), as [`Store::groups_of`](crate::Store::groups_of).
    pub fn groups_of(&self, ext: &str) -> Vec<String> {
        self.member_of.get(ext).cloned().unwrap_or_default()
    }

    /// Every inbound monitoring rule, ordered by id.
    pub fn rules(&self) -> &[MonitorRule] {
        &self.rules
    }

    /// The groups a call from `trunk` to `dialled` gets, as
    /// [`Store::inbound_groups`](crate::Store::inbound_groups): the sorted union of
    /// the groups of every rule for that trunk or for any trunk whose range holds
    /// `dialled`; nothing for a `dialled` that is not a decimal number.
    pub fn inbound_groups(&self, trunk: &str, dialled: &str) -> Vec<String> {
        let groups: BTreeSet<&String> = self
            .rules
            .iter()
            .filter(|r| r.trunk.as_deref().is_none_or(|t| t == trunk))
            .filter(|r| in_range(dialled, &r.low, &r.high))
            .flat_map(|r| r.groups.iter())
            .collect();
        groups.into_iter().cloned().collect()
    }

    /// The grant of supervisor `ext`, or `None` when it is not one.
    pub fn supervisor(&self, ext: &str) -> Option<&Grant> {
        self.supervisors.get(ext)
    }

    /// Every supervisor's grant, ordered by extension.
    pub fn supervisors(&self) -> impl Iterator<Item = &Grant> {
        self.supervisors.values()
    }

    /// Whether monitoring is open ([`crate::MONITORING_OPEN`]); unset or any value
    /// but `true` reads as restricted.
    pub fn monitoring_open(&self) -> bool {
        self.monitoring_open
    }

    /// The AstDB value at `family/key`, or `None`.
    pub fn db_get(&self, family: &str, key: &str) -> Option<&str> {
        self.kv.get(family)?.get(key).map(String::as_str)
    }

    /// The `(key, value)` pairs of exactly `family` (not its sub-families), by key.
    pub fn db_family(&self, family: &str) -> Vec<(String, String)> {
        self.kv
            .get(family)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Every `(family, key, value)` of `family` and its sub-families (`family/...`),
    /// or of all families, ordered by family then key, as
    /// [`Store::db_show`](crate::Store::db_show).
    pub(crate) fn kv_tree(&self, family: Option<&str>) -> Vec<(&str, &str, &str)> {
        self.kv
            .iter()
            .filter(|(f, _)| family.is_none_or(|t| in_tree(f, t)))
            .flat_map(|(f, m)| {
                m.iter()
                    .map(move |(k, v)| (f.as_str(), k.as_str(), v.as_str()))
            })
            .collect()
    }
}

/// True when `family` is `tree` or one of its sub-families (`tree/...`).
pub(crate) fn in_tree(family: &str, tree: &str) -> bool {
    let tree = tree.trim_matches('/');
    family == tree
        || family
            .strip_prefix(tree)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl fmt::Debug for ConfigSnapshot {
    /// Counts, not contents: the HA1 values are as good as passwords for SIP.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSnapshot")
            .field("version", &self.version)
            .field("extensions", &self.extensions.len())
            .field("trunks", &self.trunks.len())
            .field("groups", &self.groups.len())
            .field("rules", &self.rules.len())
            .field("supervisors", &self.supervisors.len())
            .field("monitoring_open", &self.monitoring_open)
            .field("kv_families", &self.kv.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::in_tree;

    #[test]
    fn trees() {
        assert!(in_tree("a", "a"));
        assert!(in_tree("a/b", "a"));
        assert!(in_tree("a/b", "/a/"));
        assert!(!in_tree("ab", "a"));
        assert!(!in_tree("b/a", "a"));
    }
}
