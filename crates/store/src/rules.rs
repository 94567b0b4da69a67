//! Inbound monitoring rules: a call from a trunk (or from any trunk) to an
//! extension within a numeric range gets spy groups, as the seed's
//! `[spygroup-inbound]` context does with `Set(__SPYGROUP=spygrp)` for 110-160.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::groups::{checked_groups, exists, need_groups};
use crate::time::now_ms;
use crate::validate::{cmp_digits, range};
use crate::{validate, Store, StoreError};

/// One rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRule {
    pub id: i64,
    /// `None` matches calls from every trunk.
    pub trunk: Option<String>,
    /// Range of dialled numbers, decimal digits, compared as numbers, inclusive.
    pub low: String,
    pub high: String,
    /// Sorted; may be empty when its groups were deleted since.
    pub groups: Vec<String>,
}

/// True when `dialled` is a decimal number within `[low, high]`.
pub(crate) fn in_range(dialled: &str, low: &str, high: &str) -> bool {
    !dialled.is_empty()
        && dialled.bytes().all(|b| b.is_ascii_digit())
        && cmp_digits(dialled, low).is_ge()
        && cmp_digits(dialled, high).is_le()
}

impl Store {
    /// Adds a rule and returns its id (ids are never reused). The trunk (when
    /// given) and every group must exist ([`StoreError::NotFound`]).
    pub async fn rule_add(
        &self,
        trunk: Option<&str>,
        low: &str,
        high: &str,
        groups: &[String],
    ) -> Result<i64, StoreError> {
        if let Some(t) = trunk {
            validate::trunk_name(t)?;
        }
        range(low, high)?;
        let groups = checked_groups("groups", groups)?;

        let mut tx = self.write_tx().await?;
        if let Some(t) = trunk {
            if !exists(&mut tx, "SELECT COUNT(*) FROM trunks WHERE name = $1", t).await? {
                return Err(StoreError::NotFound {
                    what: "trunk",
                    key: t.to_string(),
                });
            }
        }
        need_groups(&mut tx, &groups).await?;
        // The next id: one past both the last one handed out and the largest in the
        // table (another system may have inserted rules with ids of its own).
        let id: i64 = sqlx::query_scalar(
            "UPDATE id_counters SET last_id = 1 + CASE \
               WHEN last_id > (SELECT COALESCE(MAX(id), 0) FROM monitor_rules) THEN last_id \
               ELSE (SELECT COALESCE(MAX(id), 0) FROM monitor_rules) END \
             WHERE name = 'monitor_rules' RETURNING last_id",
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO monitor_rules (id, trunk, low, high, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(trunk)
        .bind(low)
        .bind(high)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for g in &groups {
            sqlx::query("INSERT INTO monitor_rule_groups (rule_id, group_name) VALUES ($1, $2)")
                .bind(id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes a rule; `false` if there was none.
    pub async fn rule_del(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM monitor_rule_groups WHERE rule_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM monitor_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    /// Every rule, ordered by id.
    pub async fn rule_list(&self) -> Result<Vec<MonitorRule>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, trunk, low, high FROM monitor_rules ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        let links: Vec<(i64, String)> = sqlx::query_as(
            "SELECT rule_id, group_name FROM monitor_rule_groups ORDER BY rule_id, group_name",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                Ok(MonitorRule {
                    id,
                    trunk: row.try_get("trunk")?,
                    low: row.try_get("low")?,
                    high: row.try_get("high")?,
                    groups: links
                        .iter()
                        .filter(|(r, _)| *r == id)
                        .map(|(_, g)| g.clone())
                        .collect(),
                })
            })
            .collect()
    }

    /// The groups a call from `trunk` to `dialled` gets: the union, sorted, of the
    /// groups of every rule for that trunk or for any trunk whose range holds
    /// `dialled`. A `dialled` that is not a decimal number matches no rule.
    pub async fn inbound_groups(
        &self,
        trunk: &str,
        dialled: &str,
    ) -> Result<Vec<String>, StoreError> {
        if dialled.is_empty() || !dialled.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT r.low, r.high, g.group_name FROM monitor_rules r \
             JOIN monitor_rule_groups g ON g.rule_id = r.id \
             WHERE r.trunk IS NULL OR r.trunk = $1",
        )
        .bind(trunk)
        .fetch_all(&self.pool)
        .await?;
        let groups: BTreeSet<String> = rows
            .into_iter()
            .filter(|(low, high, _)| in_range(dialled, low, high))
            .map(|(_, _, g)| g)
            .collect();
        Ok(groups.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::in_range;

    #[test]
    fn ranges_are_numeric_and_inclusive() {
        assert!(in_range("110", "110", "160"));
        assert!(in_range("160", "110", "160"));
        assert!(in_range("0125", "110", "160"));
        assert!(!in_range("109", "110", "160"));
        assert!(!in_range("1600", "110", "160"));
        assert!(!in_range("", "0", "9"));
        assert!(!in_range("11a", "0", "999"));
        assert!(in_range("100", "99", "100"));
    }
}
