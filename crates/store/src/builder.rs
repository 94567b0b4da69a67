//! Snapshots made by hand, without a database.
//!
//! The switch is tested as a state machine in virtual time, with no database and
//! no runtime to open one; those tests still need extensions that authenticate,
//! trunks, groups and grants. [`ConfigBuilder`] makes a [`ConfigSnapshot`] that
//! answers exactly as a loaded one would. It is ordinary (not test-only) API so
//! other crates' tests can use it.

use crate::secrets::ha1_pair;
use crate::snapshot::{ConfigSnapshot, Parts};
use crate::trunks::canonical;
use crate::{Extension, Grant, GroupScope, MonitorRule, Trunk, DEFAULT_REALM};

/// Collects configuration for [`ConfigSnapshot::builder`]. Nothing is validated:
/// a test may build what the database would refuse, and lookups still never panic.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    realm: Option<String>,
    /// Extensions with their secret; hashed at `build`, once the realm is known.
    secrets: Vec<(String, String, String)>,
    extensions: Vec<Extension>,
    trunks: Vec<Trunk>,
    groups: Vec<(String, Option<String>)>,
    notices: Vec<(String, crate::GroupNotice)>,
    members: Vec<(String, String)>,
    rules: Vec<(Option<String>, String, String, Vec<String>)>,
    supervisors: Vec<Grant>,
    monitoring_open: bool,
    kv: Vec<(String, String, String)>,
    version: u64,
    /// `(number, require_tls, require_srtp)`, applied at `build`.
    security: Vec<(String, bool, bool)>,
    queues: Vec<model::QueueSettings>,
    queue_members: Vec<model::QueueMember>,
}

impl ConfigBuilder {
    /// The digest realm the HA1 values are computed with (default
    /// [`DEFAULT_REALM`]); may come after the extensions.
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = Some(realm.to_string());
        self
    }

    /// An extension with this secret (stored as its HA1 pair) and context.
    pub fn extension(mut self, number: &str, secret: &str, context: &str) -> Self {
        self.secrets
            .push((number.to_string(), secret.to_string(), context.to_string()));
        self
    }

    /// An extension exactly as given (HA1 values included), e.g. with a display name.
    pub fn extension_record(mut self, ext: Extension) -> Self {
        self.extensions.push(ext);
        self
    }

    /// A trunk; its host is kept in plain IPv4 form, as the store keeps it.
    pub fn trunk(mut self, trunk: Trunk) -> Self {
        self.trunks.push(trunk);
        self
    }

    /// A spy group with a description (groups named by members or rules exist anyway).
    /// A group's notice policy (the group must also be added or named).
    pub fn group_notice(mut self, name: &str, notice: crate::GroupNotice) -> Self {
        self.notices.push((name.to_string(), notice));
        self
    }

    pub fn group(mut self, name: &str, description: Option<&str>) -> Self {
        self.groups
            .push((name.to_string(), description.map(str::to_string)));
        self
    }

    /// Puts `ext` in `group` (creating the group).
    pub fn group_member(mut self, group: &str, ext: &str) -> Self {
        self.members.push((group.to_string(), ext.to_string()));
        self
    }

    /// An inbound monitoring rule: calls from `trunk` (`None`: any) to a number in
    /// `[low, high]` get `groups` (created). Ids are given in order from 1.
    pub fn rule(mut self, trunk: Option<&str>, low: &str, high: &str, groups: &[&str]) -> Self {
        self.rules.push((
            trunk.map(str::to_string),
            low.to_string(),
            high.to_string(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
        self
    }

    /// A supervisor's grant (modes and groups are put in the store's order).
    pub fn supervisor(mut self, grant: Grant) -> Self {
        self.supervisors.push(grant);
        self
    }

    /// The `monitoring.open` setting.
    pub fn monitoring_open(mut self, open: bool) -> Self {
        self.monitoring_open = open;
        self
    }

    /// An AstDB entry.
    pub fn kv(mut self, family: &str, key: &str, value: &str) -> Self {
        self.kv
            .push((family.to_string(), key.to_string(), value.to_string()));
        self
    }

    /// Sets an extension's `require_tls` and `require_srtp` (added before or after).
    pub fn transport_security(
        mut self,
        number: &str,
        require_tls: bool,
        require_srtp: bool,
    ) -> Self {
        self.security
            .push((number.to_string(), require_tls, require_srtp));
        self
    }

    /// A queue with these settings.
    pub fn queue(mut self, q: model::QueueSettings) -> Self {
        self.queues.push(q);
        self
    }

    /// A member of a queue (added after the queue's others).
    pub fn queue_member(mut self, m: model::QueueMember) -> Self {
        self.queue_members.push(m);
        self
    }

    /// What [`ConfigSnapshot::version`] reports (default 0).
    pub fn version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// The snapshot.
    pub fn build(self) -> ConfigSnapshot {
        let realm = self.realm.unwrap_or_else(|| DEFAULT_REALM.to_string());
        let mut extensions = self.extensions;
        for (number, secret, context) in self.secrets {
            let (ha1_md5, ha1_sha256) = ha1_pair(&number, &realm, &secret);
            extensions.push(Extension {
                number,
                name: None,
                context,
                ha1_md5,
                ha1_sha256,
                require_tls: false,
                require_srtp: false,
            });
        }
        for (number, tls, srtp) in &self.security {
            if let Some(e) = extensions.iter_mut().find(|e| &e.number == number) {
                e.require_tls = *tls;
                e.require_srtp = *srtp;
            }
        }

        let mut groups = self.groups;
        let named = self
            .members
            .iter()
            .map(|(g, _)| g)
            .chain(self.rules.iter().flat_map(|r| r.3.iter()));
        let implied: Vec<String> = named
            .filter(|g| !groups.iter().any(|(n, _)| n == *g))
            .cloned()
            .collect();
        groups.extend(implied.into_iter().map(|g| (g, None)));
        groups.sort();
        groups.dedup_by(|later, earlier| later.0 == earlier.0);

        let rules = self
            .rules
            .into_iter()
            .zip(1..)
            .map(|((trunk, low, high, mut groups), id)| {
                groups.sort();
                groups.dedup();
                MonitorRule {
                    id,
                    trunk,
                    low,
                    high,
                    groups,
                }
            })
            .collect();

        let supervisors = self
            .supervisors
            .into_iter()
            .map(|mut g| {
                g.modes.sort();
                g.modes.dedup();
                if let GroupScope::Groups(list) = &mut g.groups {
                    list.sort();
                    list.dedup();
                }
                g
            })
            .collect();

        let trunks = self
            .trunks
            .into_iter()
            .map(|mut t| {
                t.host = canonical(t.host);
                (t.host.to_string(), t)
            })
            .collect();

        let parts = Parts {
            realm,
            extensions,
            trunks,
            groups,
            notices: self.notices,
            members: self.members,
            rules,
            supervisors,
            monitoring_open: self.monitoring_open,
            kv: self.kv,
            queues: self.queues,
            queue_members: self.queue_members,
        };
        ConfigSnapshot::from_parts(parts, self.version)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::SpyMode;

    fn trunk(name: &str, host: &str, port: Option<u16>) -> Trunk {
        Trunk {
            name: name.into(),
            host: host.parse().unwrap(),
            port,
            context: "from-trunk".into(),
        }
    }

    #[test]
    fn builds_what_the_switch_reads() {
        let snap = ConfigSnapshot::builder()
            .extension("110", "secret", "from-internal")
            .realm("pbx.example")
            .trunk(trunk("carrier", "::ffff:192.0.2.1", None))
            .trunk(trunk("carrier-5060", "192.0.2.1", Some(5060)))
            .group_member("sales", "110")
            .group_member("vip", "110")
            .rule(Some("carrier"), "110", "160", &["sales"])
            .rule(None, "100", "199", &["vip", "all"])
            .supervisor(Grant {
                extension: "200".into(),
                groups: GroupScope::Groups(vec!["vip".into(), "sales".into()]),
                modes: vec![SpyMode::Barge, SpyMode::Listen],
                queues: vec![],
            })
            .monitoring_open(true)
            .kv("spygrp", "110", "spyon")
            .build();

        let e = snap.extension("110").unwrap();
        assert_eq!(
            (e.ha1_md5.clone(), e.ha1_sha256.clone()),
            ha1_pair("110", "pbx.example", "secret")
        );
        assert_eq!(e.context, "from-internal");

        let ip: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(snap.trunk_by_source(ip, 5060).unwrap().name, "carrier-5060");
        assert_eq!(snap.trunk_by_source(ip, 5061).unwrap().name, "carrier");
        assert!(snap
            .trunk_by_source("192.0.2.2".parse().unwrap(), 5060)
            .is_none());

        assert_eq!(snap.groups_of("110"), ["sales", "vip"]);
        assert!(snap.groups_of("111").is_empty());
        assert_eq!(
            snap.inbound_groups("carrier", "0125"),
            ["all", "sales", "vip"]
        );
        assert_eq!(snap.inbound_groups("other", "170"), ["all", "vip"]);
        assert!(snap.inbound_groups("carrier", "12a").is_empty());
        assert!(snap.inbound_groups("carrier", "").is_empty());

        let g = snap.supervisor("200").unwrap();
        assert_eq!(g.modes, [SpyMode::Listen, SpyMode::Barge]);
        assert!(g.allows(SpyMode::Listen, &["vip"], None));
        assert!(snap.monitoring_open());
        assert_eq!(snap.db_get("spygrp", "110"), Some("spyon"));
        assert_eq!(snap.db_family("spygrp"), [("110".into(), "spyon".into())]);
        assert!(snap.db_family("none").is_empty());
        assert_eq!(snap.version(), 0);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let snap = ConfigSnapshot::builder()
            .rule(None, "", "x", &[])
            .rule(None, "9", "1", &["g"])
            .kv("", "", "")
            .build();
        assert!(snap.inbound_groups("t", "5").is_empty());
        assert_eq!(snap.db_get("", ""), Some(""));
    }
}
