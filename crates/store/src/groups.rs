//! Spy groups and their members.
//!
//! A call's `SPYGROUP` is the colon-separated union of the groups of its extension
//! (kept here), the groups inbound monitoring rules give it, and what the dialplan
//! sets. ChanSpy's `g(grp)` then picks the channels that share a group.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use crate::error::map_insert;
use crate::time::now_ms;
use crate::{validate, Store, StoreError};

/// A spy group with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpyGroup {
    pub name: String,
    pub description: Option<String>,
    /// Member extension numbers, in order.
    pub members: Vec<String>,
    /// What the parties of a monitored call in this group are told.
    pub notice: GroupNotice,
}

/// How the parties of a monitored call learn that they are monitored, by their
/// spy group's policy. Ordered from the least to the most told: a call in several
/// groups gets the most any of them asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Notice {
    /// Nothing (Asterisk's behaviour).
    #[default]
    None,
    /// A beep to the monitored agent.
    Agent,
    /// A beep to both parties.
    Both,
    /// "This call is being monitored", to both parties.
    Announce,
}

impl Notice {
    pub const ALL: [Notice; 4] = [Notice::None, Notice::Agent, Notice::Both, Notice::Announce];

    pub const fn as_str(self) -> &'static str {
        match self {
            Notice::None => "none",
            Notice::Agent => "agent",
            Notice::Both => "both",
            Notice::Announce => "announce",
        }
    }
}

impl std::str::FromStr for Notice {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Notice, StoreError> {
        Notice::ALL
            .into_iter()
            .find(|n| n.as_str() == s.trim())
            .ok_or_else(|| StoreError::Invalid {
                field: "notice",
                value: s.chars().take(80).collect(),
                reason: "must be none, agent, both or announce",
            })
    }
}

/// A group's notice policy: what, at the start and at each mode change, and how
/// often a reminder beep follows while the call is monitored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupNotice {
    pub notice: Notice,
    /// Seconds between reminder beeps while monitored; 0: none.
    pub every_s: u32,
}

impl GroupNotice {
    /// The longest reminder period accepted.
    pub const MAX_EVERY_S: u32 = 3600;

    /// What a call in all of `groups` gets: the most told, and the shortest
    /// reminder period any of them asks for.
    pub fn strongest<'a>(groups: impl IntoIterator<Item = &'a GroupNotice>) -> GroupNotice {
        groups
            .into_iter()
            .fold(GroupNotice::default(), |acc, g| GroupNotice {
                notice: acc.notice.max(g.notice),
                every_s: match (acc.every_s, g.every_s) {
                    (0, e) | (e, 0) => e,
                    (a, b) => a.min(b),
                },
            })
    }
}

impl std::fmt::Display for GroupNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.notice.as_str())?;
        if self.every_s > 0 {
            write!(f, " every {}s", self.every_s)?;
        }
        Ok(())
    }
}

/// A stored notice policy; a value another writer left that this version does not
/// know reads as none (logged), never as an error that would hide the group.
pub(crate) fn notice_of(notice: String, every_s: i64) -> GroupNotice {
    let kind = notice.parse().unwrap_or_else(|_| {
        tracing::warn!(%notice, "unknown spy group notice policy; treated as none");
        Notice::None
    });
    GroupNotice {
        notice: kind,
        every_s: u32::try_from(every_s.clamp(0, i64::from(GroupNotice::MAX_EVERY_S))).unwrap_or(0),
    }
}

/// True when `sql` (a `SELECT COUNT(*) … WHERE x = $1`) counts at least one row.
pub(crate) async fn exists(
    conn: &mut AnyConnection,
    sql: &'static str,
    key: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(sql).bind(key).fetch_one(conn).await?;
    Ok(n > 0)
}

/// [`StoreError::NotFound`] unless extension `number` exists.
pub(crate) async fn need_extension(
    conn: &mut AnyConnection,
    number: &str,
) -> Result<(), StoreError> {
    if exists(
        conn,
        "SELECT COUNT(*) FROM extensions WHERE number = $1",
        number,
    )
    .await?
    {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "extension",
            key: number.to_string(),
        })
    }
}

/// [`StoreError::NotFound`] unless every group in `names` exists.
pub(crate) async fn need_groups(
    conn: &mut AnyConnection,
    names: &[String],
) -> Result<(), StoreError> {
    for name in names {
        if !exists(
            &mut *conn,
            "SELECT COUNT(*) FROM spy_groups WHERE name = $1",
            name,
        )
        .await?
        {
            return Err(StoreError::NotFound {
                what: "spy group",
                key: name.clone(),
            });
        }
    }
    Ok(())
}

/// Validates a list of group names and returns it sorted, without duplicates.
/// `field` names the list in errors; an empty list is refused.
pub(crate) fn checked_groups(
    field: &'static str,
    groups: &[String],
) -> Result<Vec<String>, StoreError> {
    if groups.is_empty() {
        return Err(StoreError::Invalid {
            field,
            value: String::new(),
            reason: "must name at least one spy group",
        });
    }
    for g in groups {
        validate::group_name(g)?;
    }
    let mut out = groups.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

impl Store {
    /// Creates a spy group; [`StoreError::Exists`] if the name is taken. An empty
    /// description is stored as none.
    pub async fn group_add(&self, name: &str, description: Option<&str>) -> Result<(), StoreError> {
        validate::group_name(name)?;
        if let Some(d) = description {
            validate::group_description(d)?;
        }
        let description = description.filter(|d| !d.is_empty());
        sqlx::query("INSERT INTO spy_groups (name, description, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(description)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| map_insert(e, "spy group", name))?;
        Ok(())
    }

    /// Deletes a spy group with its memberships, and removes it from every
    /// supervisor's grant and every monitoring rule; `false` if there was none.
    pub async fn group_del(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        for sql in [
            "DELETE FROM group_members WHERE group_name = $1",
            "DELETE FROM supervisor_groups WHERE group_name = $1",
            "DELETE FROM monitor_rule_groups WHERE group_name = $1",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        let gone = sqlx::query("DELETE FROM spy_groups WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    /// Sets a group's notice policy; `false` if there is no such group.
    pub async fn group_notice(&self, name: &str, notice: GroupNotice) -> Result<bool, StoreError> {
        validate::group_name(name)?;
        if notice.every_s > GroupNotice::MAX_EVERY_S {
            return Err(StoreError::Invalid {
                field: "every",
                value: notice.every_s.to_string(),
                reason: "must be 0 to 3600 seconds",
            });
        }
        let n =
            sqlx::query("UPDATE spy_groups SET notice = $2, notice_every_s = $3 WHERE name = $1")
                .bind(name)
                .bind(notice.notice.as_str())
                .bind(i64::from(notice.every_s))
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    /// Every spy group with its members, ordered by name.
    pub async fn group_list(&self) -> Result<Vec<SpyGroup>, StoreError> {
        // One read transaction, so members match the groups listed.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT name, description, notice, notice_every_s FROM spy_groups ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut groups = BTreeMap::new();
        for row in &rows {
            let name: String = row.try_get("name")?;
            let notice = notice_of(row.try_get("notice")?, row.try_get("notice_every_s")?);
            groups.insert(
                name.clone(),
                SpyGroup {
                    name,
                    description: row.try_get("description")?,
                    members: Vec::new(),
                    notice,
                },
            );
        }
        let members: Vec<(String, String)> = sqlx::query_as(
            "SELECT group_name, extension FROM group_members ORDER BY group_name, extension",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for (group, ext) in members {
            if let Some(g) = groups.get_mut(&group) {
                g.members.push(ext);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// Puts extension `ext` in `group`; [`StoreError::NotFound`] if either is
    /// missing. Adding a member twice is not an error.
    pub async fn group_member_add(&self, group: &str, ext: &str) -> Result<(), StoreError> {
        validate::group_name(group)?;
        validate::extension_number(ext)?;
        let mut tx = self.write_tx().await?;
        need_groups(&mut tx, &[group.to_string()]).await?;
        need_extension(&mut tx, ext).await?;
        sqlx::query(
            "INSERT INTO group_members (group_name, extension, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_name, extension) DO NOTHING",
        )
        .bind(group)
        .bind(ext)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes `ext` out of `group`; `false` if it was not a member.
    pub async fn group_member_del(&self, group: &str, ext: &str) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND extension = $2")
                .bind(group)
                .bind(ext)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The groups extension `ext` is a member of, ordered by name (empty for an
    /// unknown extension).
    pub async fn groups_of(&self, ext: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT group_name FROM group_members WHERE extension = $1 ORDER BY group_name",
        )
        .bind(ext)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_in_several_groups_gets_the_most_told_and_the_shortest_reminder() {
        let g = |notice, every_s| GroupNotice { notice, every_s };
        let got = GroupNotice::strongest(&[
            g(Notice::Agent, 30),
            g(Notice::None, 0),
            g(Notice::Both, 0),
            g(Notice::None, 15),
        ]);
        assert_eq!(got, g(Notice::Both, 15));
        assert_eq!(GroupNotice::strongest(&[]), GroupNotice::default());
        assert_eq!(got.to_string(), "both every 15s");
        for n in Notice::ALL {
            assert_eq!(n.as_str().parse::<Notice>().unwrap(), n);
        }
        assert!("loud".parse::<Notice>().is_err());
        assert_eq!(notice_of("shout".into(), 10).notice, Notice::None);
        assert_eq!(
            notice_of("agent".into(), 99_999).every_s,
            GroupNotice::MAX_EVERY_S
        );
    }
}
