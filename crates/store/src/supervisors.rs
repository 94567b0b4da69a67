//! Supervisors: extensions allowed to monitor others, with their grants (which
//! groups, which modes).

use std::fmt;
use std::str::FromStr;

pub use model::SpyMode;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::groups::{checked_groups, exists, need_extension, need_groups};
use crate::time::now_ms;
use crate::{validate, Store, StoreError};

/// Which calls a supervisor may monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupScope {
    /// Every call, whatever its spy groups (including calls in none).
    All,
    /// Calls in at least one of these groups (sorted, no duplicates when read back).
    Groups(Vec<String>),
}

impl GroupScope {
    /// True when a call whose `SPYGROUP` holds `call_groups` is in scope.
    pub fn covers<S: AsRef<str>>(&self, call_groups: &[S]) -> bool {
        match self {
            GroupScope::All => true,
            GroupScope::Groups(mine) => call_groups
                .iter()
                .any(|g| mine.iter().any(|m| m == g.as_ref())),
        }
    }
}

impl fmt::Display for GroupScope {
    /// `all`, or the groups joined with `,` (the CLI's `--groups` syntax).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupScope::All => f.write_str("all"),
            GroupScope::Groups(g) => f.write_str(&g.join(",")),
        }
    }
}

impl FromStr for GroupScope {
    type Err = StoreError;

    /// `all`, or comma-separated group names (`sales,vip`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(GroupScope::All);
        }
        let groups: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        Ok(GroupScope::Groups(checked_groups("groups", &groups)?))
    }
}

/// What a supervisor may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The supervisor's extension number.
    pub extension: String,
    /// Which calls by spy group. `Groups` may be empty only when `queues` is not.
    pub groups: GroupScope,
    /// Canonical order (listen, whisper, barge, takeover), no duplicates when read
    /// back.
    pub modes: Vec<SpyMode>,
    /// Queues whose calls the supervisor may monitor, whatever the groups of the
    /// agent who answers (sorted, no duplicates when read back).
    pub queues: Vec<String>,
}

impl Grant {
    /// True when this grant lets the supervisor monitor a call whose `SPYGROUP`
    /// holds `call_groups`, in `mode`; `queue` is the queue whose call the
    /// channel carries (its agent answered it), if any.
    pub fn allows<S: AsRef<str>>(
        &self,
        mode: SpyMode,
        call_groups: &[S],
        queue: Option<&str>,
    ) -> bool {
        self.modes.contains(&mode)
            && (self.groups.covers(call_groups)
                || queue.is_some_and(|q| self.queues.iter().any(|g| g == q)))
    }
}

/// Parses comma-separated modes (`listen,whisper`), sorted, without duplicates.
pub fn parse_modes(s: &str) -> Result<Vec<SpyMode>, StoreError> {
    let modes = s
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            m.parse::<SpyMode>().map_err(|_| StoreError::Invalid {
                field: "modes",
                value: m.chars().take(80).collect(),
                reason: "must be listen, whisper, barge or takeover",
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    checked_modes(&modes)
}

fn checked_modes(modes: &[SpyMode]) -> Result<Vec<SpyMode>, StoreError> {
    if modes.is_empty() {
        return Err(StoreError::Invalid {
            field: "modes",
            value: String::new(),
            reason: "must name at least one of listen, whisper, barge and takeover",
        });
    }
    let mut out = modes.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A flag column. Flags are BIGINT 0/1 on both backends (SQLite has no BOOLEAN, and
/// one column type keeps one schema and one decoding for both), so it is read as an
/// integer; anything but 0 is true.
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    let v: i64 = row.try_get(column)?;
    Ok(v != 0)
}

/// [`StoreError::NotFound`] unless queue `name` exists.
async fn need_queue(conn: &mut AnyConnection, name: &str) -> Result<(), StoreError> {
    if exists(conn, "SELECT COUNT(*) FROM queues WHERE name = $1", name).await? {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "queue",
            key: name.to_string(),
        })
    }
}

/// The (supervisor, name) rows of a grant's link table (`supervisor_groups` or
/// `supervisor_queues`) for `only` or for everyone, ordered by both.
async fn grant_links(
    conn: &mut AnyConnection,
    column: &'static str,
    table: &'static str,
    only: Option<&str>,
) -> Result<Vec<(String, String)>, StoreError> {
    let filter = if only.is_some() {
        " WHERE supervisor = $1"
    } else {
        ""
    };
    let sql =
        format!("SELECT supervisor, {column} FROM {table}{filter} ORDER BY supervisor, {column}");
    // Safe: the table and column are constants of this module.
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(ext) = only {
        q = q.bind(ext);
    }
    Ok(q.fetch_all(&mut *conn).await?)
}

/// Reads the grants of `only` (one supervisor) or of everyone, ordered by extension.
pub(crate) async fn read_grants(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<Vec<Grant>, StoreError> {
    let rows =
        match only {
            Some(ext) => sqlx::query(
                "SELECT extension, all_groups, may_listen, may_whisper, may_barge, may_takeover, \
                 may_conference \
                 FROM supervisors WHERE extension = $1",
            )
            .bind(ext)
            .fetch_all(&mut *conn)
            .await?,
            None => sqlx::query(
                "SELECT extension, all_groups, may_listen, may_whisper, may_barge, may_takeover, \
                 may_conference FROM supervisors ORDER BY extension",
            )
            .fetch_all(&mut *conn)
            .await?,
        };
    let links = grant_links(conn, "group_name", "supervisor_groups", only).await?;
    let queue_links = grant_links(conn, "queue_name", "supervisor_queues", only).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let extension: String = row.try_get("extension")?;
        let groups = if flag(row, "all_groups")? {
            GroupScope::All
        } else {
            GroupScope::Groups(
                links
                    .iter()
                    .filter(|(s, _)| *s == extension)
                    .map(|(_, g)| g.clone())
                    .collect(),
            )
        };
        let mut modes = Vec::new();
        for (column, mode) in [
            ("may_listen", SpyMode::Listen),
            ("may_whisper", SpyMode::Whisper),
            ("may_barge", SpyMode::Barge),
            ("may_takeover", SpyMode::Takeover),
            ("may_conference", SpyMode::Conference),
        ] {
            if flag(row, column)? {
                modes.push(mode);
            }
        }
        let queues = queue_links
            .iter()
            .filter(|(s, _)| *s == extension)
            .map(|(_, q)| q.clone())
            .collect();
        out.push(Grant {
            extension,
            groups,
            modes,
            queues,
        });
    }
    Ok(out)
}

impl Store {
    /// Makes `g.extension` a supervisor with exactly this grant, replacing any
    /// previous one (its API tokens are kept). The extension, every group and
    /// every queue must exist ([`StoreError::NotFound`]); modes must not be empty,
    /// and groups only when queues are named.
    pub async fn supervisor_grant(&self, g: &Grant) -> Result<(), StoreError> {
        validate::extension_number(&g.extension)?;
        let modes = checked_modes(&g.modes)?;
        let mut queues = g.queues.clone();
        for q in &queues {
            validate::queue_name(q)?;
        }
        queues.sort();
        queues.dedup();
        let groups = match &g.groups {
            GroupScope::All => None,
            GroupScope::Groups(list) if list.is_empty() && !queues.is_empty() => Some(Vec::new()),
            GroupScope::Groups(list) => Some(checked_groups("groups", list)?),
        };
        let may = |m| i64::from(modes.contains(&m));
        let now = now_ms();

        let mut tx = self.write_tx().await?;
        need_extension(&mut tx, &g.extension).await?;
        if let Some(list) = &groups {
            need_groups(&mut tx, list).await?;
        }
        for q in &queues {
            need_queue(&mut tx, q).await?;
        }
        // An upsert, not delete + insert: deleting would cascade to the tokens.
        sqlx::query(
            "INSERT INTO supervisors \
               (extension, all_groups, may_listen, may_whisper, may_barge, may_takeover, \
                may_conference, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (extension) DO UPDATE SET \
               all_groups = excluded.all_groups, may_listen = excluded.may_listen, \
               may_whisper = excluded.may_whisper, may_barge = excluded.may_barge, \
               may_takeover = excluded.may_takeover, may_conference = excluded.may_conference, \
               updated_at = excluded.updated_at",
        )
        .bind(&g.extension)
        .bind(i64::from(groups.is_none()))
        .bind(may(SpyMode::Listen))
        .bind(may(SpyMode::Whisper))
        .bind(may(SpyMode::Barge))
        .bind(may(SpyMode::Takeover))
        .bind(may(SpyMode::Conference))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM supervisor_groups WHERE supervisor = $1")
            .bind(&g.extension)
            .execute(&mut *tx)
            .await?;
        for group in groups.iter().flatten() {
            sqlx::query("INSERT INTO supervisor_groups (supervisor, group_name) VALUES ($1, $2)")
                .bind(&g.extension)
                .bind(group)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM supervisor_queues WHERE supervisor = $1")
            .bind(&g.extension)
            .execute(&mut *tx)
            .await?;
        for queue in &queues {
            sqlx::query("INSERT INTO supervisor_queues (supervisor, queue_name) VALUES ($1, $2)")
                .bind(&g.extension)
                .bind(queue)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes away every monitoring right of `ext`, and deletes its supervise API
    /// tokens; `false` if it was not a supervisor.
    pub async fn supervisor_revoke(&self, ext: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        for sql in [
            "DELETE FROM api_tokens WHERE supervisor = $1",
            "DELETE FROM supervisor_groups WHERE supervisor = $1",
            "DELETE FROM supervisor_queues WHERE supervisor = $1",
        ] {
            sqlx::query(sql).bind(ext).execute(&mut *tx).await?;
        }
        let gone = sqlx::query("DELETE FROM supervisors WHERE extension = $1")
            .bind(ext)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    /// The grant of `ext`, or `None` when it is not a supervisor.
    pub async fn supervisor_get(&self, ext: &str) -> Result<Option<Grant>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let grants = read_grants(&mut tx, Some(ext)).await?;
        tx.commit().await?;
        Ok(grants.into_iter().next())
    }

    /// Every supervisor's grant, ordered by extension.
    pub async fn supervisor_list(&self) -> Result<Vec<Grant>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let grants = read_grants(&mut tx, None).await?;
        tx.commit().await?;
        Ok(grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        assert_eq!("Whisper".parse::<SpyMode>().unwrap(), SpyMode::Whisper);
        assert!("spy".parse::<SpyMode>().is_err());
        assert_eq!(
            parse_modes("barge, listen,barge").unwrap(),
            [SpyMode::Listen, SpyMode::Barge]
        );
        assert!(parse_modes("").is_err());
        assert!(parse_modes("listen,eavesdrop").is_err());
        for m in SpyMode::ALL {
            assert_eq!(m.to_string().parse::<SpyMode>().unwrap(), m);
        }
    }

    #[test]
    fn scopes() {
        assert_eq!("ALL".parse::<GroupScope>().unwrap(), GroupScope::All);
        assert_eq!(
            "vip,sales,vip".parse::<GroupScope>().unwrap(),
            GroupScope::Groups(vec!["sales".into(), "vip".into()])
        );
        assert!("".parse::<GroupScope>().is_err());
        assert!("a:b".parse::<GroupScope>().is_err());
        let s = GroupScope::Groups(vec!["sales".into()]);
        assert!(s.covers(&["vip", "sales"]));
        assert!(!s.covers(&["vip"]));
        assert!(!s.covers::<&str>(&[]));
        assert!(GroupScope::All.covers::<&str>(&[]));
        assert_eq!(s.to_string(), "sales");
    }

    #[test]
    fn grant_allows() {
        let g = Grant {
            extension: "200".into(),
            groups: GroupScope::Groups(vec!["sales".into()]),
            modes: vec![SpyMode::Listen],
            queues: vec!["support".into()],
        };
        assert!(g.allows(SpyMode::Listen, &["sales"], None));
        assert!(!g.allows(SpyMode::Barge, &["sales"], None));
        assert!(!g.allows(SpyMode::Listen, &["vip"], None));
        // The agent of a call of a granted queue, whatever the agent's groups.
        assert!(g.allows(SpyMode::Listen, &["vip"], Some("support")));
        assert!(!g.allows(SpyMode::Listen, &["vip"], Some("billing")));
        assert!(!g.allows(SpyMode::Barge, &["vip"], Some("support")));
    }
}
