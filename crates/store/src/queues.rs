//! Call-center queues: their settings (Asterisk's `queues.conf` as rows), their
//! members (static, or dynamic agents who logged in), and the queue log with
//! Asterisk's `queue_log` columns, from which statistics are computed.
//!
//! The switch reads queues and members only from the snapshot; it writes member
//! changes made by the dialplan and every queue log line through the
//! write-behind queue (`Write::Queue*`). The CLI and the API write here directly.

use std::collections::BTreeMap;

use model::{
    AgentStats, EmptyRule, QueueEvent, QueueLogEntry, QueueMember, QueueSettings, QueueStats,
    Strategy,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{Store, StoreError};

const COLUMNS: &str = "name, strategy, timeout_s, retry_s, wrapuptime_s, maxlen, joinempty, \
    leavewhenempty, announce_frequency_s, announce_holdtime, announce_position, \
    periodic_announce, periodic_announce_frequency_s, servicelevel_s, weight, musicclass";

/// Checks a queue's settings as the database would keep them. A failure names
/// the setting as the API spells it (`announce_frequency`) and its value.
pub fn check_queue(q: &QueueSettings) -> Result<(), StoreError> {
    crate::validate::queue_name(&q.name)?;
    let bad = |field: &'static str, value: String, reason: &'static str| StoreError::Invalid {
        field,
        value,
        reason,
    };
    if q.timeout == 0 || q.timeout > 3600 {
        return Err(bad(
            "timeout",
            q.timeout.to_string(),
            "must be 1..3600 seconds",
        ));
    }
    for (field, v) in [
        ("retry", q.retry),
        ("wrapuptime", q.wrapuptime),
        ("announce_frequency", q.announce_frequency),
        ("periodic_announce_frequency", q.periodic_announce_frequency),
        ("servicelevel", q.servicelevel),
    ] {
        if v > 86_400 {
            return Err(bad(field, v.to_string(), "must be at most 86400 seconds"));
        }
    }
    if q.maxlen > 100_000 {
        return Err(bad(
            "maxlen",
            q.maxlen.to_string(),
            "must be at most 100000",
        ));
    }
    if q.weight > 1000 {
        return Err(bad("weight", q.weight.to_string(), "must be at most 1000"));
    }
    let name_ok = |s: &str| {
        s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
            && !s.contains("..")
    };
    for (field, v) in [
        ("periodic_announce", &q.periodic_announce),
        ("musicclass", &q.musicclass),
    ] {
        if !name_ok(v) {
            return Err(bad(
                field,
                v.clone(),
                "must be a sound or class name (letters, digits, - _ /)",
            ));
        }
    }
    Ok(())
}

fn from_row(r: &AnyRow) -> Result<QueueSettings, StoreError> {
    let n = |c: &str| -> Result<u32, StoreError> {
        let v: i64 = r.try_get(c)?;
        u32::try_from(v).map_err(|_| StoreError::Invalid {
            field: "queue setting",
            value: v.to_string(),
            reason: "out of range",
        })
    };
    let strategy: String = r.try_get("strategy")?;
    let joinempty: String = r.try_get("joinempty")?;
    let leavewhenempty: String = r.try_get("leavewhenempty")?;
    Ok(QueueSettings {
        name: r.try_get("name")?,
        strategy: strategy
            .parse::<Strategy>()
            .map_err(|_| bad_value("queue setting"))?,
        timeout: n("timeout_s")?,
        retry: n("retry_s")?,
        wrapuptime: n("wrapuptime_s")?,
        maxlen: n("maxlen")?,
        joinempty: joinempty
            .parse::<EmptyRule>()
            .map_err(|_| bad_value("queue setting"))?,
        leavewhenempty: leavewhenempty
            .parse::<EmptyRule>()
            .map_err(|_| bad_value("queue setting"))?,
        announce_frequency: n("announce_frequency_s")?,
        announce_holdtime: n("announce_holdtime")? == 1,
        announce_position: n("announce_position")? == 1,
        periodic_announce: r.try_get("periodic_announce")?,
        periodic_announce_frequency: n("periodic_announce_frequency_s")?,
        servicelevel: n("servicelevel_s")?,
        weight: n("weight")?,
        musicclass: r.try_get("musicclass")?,
    })
}

fn bad_value(field: &'static str) -> StoreError {
    StoreError::Invalid {
        field,
        value: String::new(),
        reason: "stored value is not one spygroup knows",
    }
}

fn member_row(r: &AnyRow) -> Result<QueueMember, StoreError> {
    let penalty: i64 = r.try_get("penalty")?;
    let dynamic: i64 = r.try_get("dynamic")?;
    let paused: i64 = r.try_get("paused")?;
    Ok(QueueMember {
        queue: r.try_get("queue_name")?,
        extension: r.try_get("extension")?,
        penalty: u32::try_from(penalty).unwrap_or(0),
        dynamic: dynamic == 1,
        paused: paused == 1,
        reason: r.try_get("reason")?,
    })
}

/// Every queue and member, for the snapshot (inside the loader's transaction).
pub(crate) async fn read_all(
    conn: &mut AnyConnection,
) -> Result<(Vec<QueueSettings>, Vec<QueueMember>), StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM queues ORDER BY name"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let queues = rows
        .iter()
        .filter_map(|r| match from_row(r) {
            Ok(q) => Some(q),
            Err(e) => {
                tracing::warn!("skipping a queue row: {e}");
                None
            }
        })
        .collect();
    let rows = sqlx::query(
        "SELECT queue_name, extension, penalty, dynamic, paused, reason FROM queue_members \
         ORDER BY queue_name, position, extension",
    )
    .fetch_all(&mut *conn)
    .await?;
    let members = rows.iter().filter_map(|r| member_row(r).ok()).collect();
    Ok((queues, members))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds every setting, `$1` the name, then the columns in [`COLUMNS`] order.
fn bind_settings<'q>(query: AnyQuery<'q>, q: &QueueSettings) -> AnyQuery<'q> {
    query
        .bind(q.name.clone())
        .bind(q.strategy.as_str())
        .bind(i64::from(q.timeout))
        .bind(i64::from(q.retry))
        .bind(i64::from(q.wrapuptime))
        .bind(i64::from(q.maxlen))
        .bind(q.joinempty.as_str())
        .bind(q.leavewhenempty.as_str())
        .bind(i64::from(q.announce_frequency))
        .bind(bool_i(q.announce_holdtime))
        .bind(bool_i(q.announce_position))
        .bind(q.periodic_announce.clone())
        .bind(i64::from(q.periodic_announce_frequency))
        .bind(i64::from(q.servicelevel))
        .bind(i64::from(q.weight))
        .bind(q.musicclass.clone())
}

fn bool_i(b: bool) -> i64 {
    i64::from(b)
}

impl Store {
    /// Adds a queue; an existing name is a conflict.
    pub async fn queue_add(&self, q: &QueueSettings) -> Result<(), StoreError> {
        check_queue(q)?;
        let sql = format!(
            "INSERT INTO queues ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        bind_settings(sqlx::query(sqlx::AssertSqlSafe(sql)), q)
            .execute(&self.pool)
            .await
            .map_err(|e| crate::error::map_insert(e, "queue", &q.name))?;
        Ok(())
    }

    /// Replaces a queue's settings.
    pub async fn queue_set(&self, q: &QueueSettings) -> Result<(), StoreError> {
        check_queue(q)?;
        let done = bind_settings(sqlx::query(
            "UPDATE queues SET strategy = $2, timeout_s = $3, retry_s = $4, wrapuptime_s = $5, \
             maxlen = $6, joinempty = $7, leavewhenempty = $8, announce_frequency_s = $9, \
             announce_holdtime = $10, announce_position = $11, periodic_announce = $12, \
             periodic_announce_frequency_s = $13, servicelevel_s = $14, weight = $15, \
             musicclass = $16 WHERE name = $1",
        ), q)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("queue", &q.name));
        }
        Ok(())
    }

    pub async fn queue_get(&self, name: &str) -> Result<QueueSettings, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM queues WHERE name = $1"
        )))
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("queue", name))?;
        from_row(&row)
    }

    /// Every queue with its members, by name.
    pub async fn queue_list(&self) -> Result<Vec<(QueueSettings, Vec<QueueMember>)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (queues, members) = read_all(&mut conn).await?;
        let mut by_queue: BTreeMap<String, Vec<QueueMember>> = BTreeMap::new();
        for m in members {
            by_queue.entry(m.queue.clone()).or_default().push(m);
        }
        Ok(queues
            .into_iter()
            .map(|q| {
                let m = by_queue.remove(&q.name).unwrap_or_default();
                (q, m)
            })
            .collect())
    }

    /// Deletes a queue and its members; false when there was none.
    pub async fn queue_delete(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        for sql in [
            "DELETE FROM queue_members WHERE queue_name = $1",
            "DELETE FROM supervisor_queues WHERE queue_name = $1",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM queues WHERE name = $1")
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `extension` to `queue` (after the others), or updates its penalty if
    /// it is one; `dynamic` for an agent who logged in. Not logged: the CLI and
    /// the API call [`Store::member_join`], which is.
    pub async fn queue_member_add(
        &self,
        queue: &str,
        extension: &str,
        penalty: u32,
        dynamic: bool,
    ) -> Result<bool, StoreError> {
        self.queue_get(queue).await?;
        if self.get_extension(extension).await?.is_none() {
            return Err(not_found("extension", extension));
        }
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT penalty FROM queue_members WHERE queue_name = $1 AND extension = $2",
        )
        .bind(queue.to_string())
        .bind(extension.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_some() {
            sqlx::query(
                "UPDATE queue_members SET penalty = $3 WHERE queue_name = $1 AND extension = $2",
            )
            .bind(queue.to_string())
            .bind(extension.to_string())
            .bind(i64::from(penalty))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(false);
        }
        let position: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM queue_members WHERE queue_name = $1",
        )
        .bind(queue.to_string())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO queue_members (queue_name, extension, penalty, dynamic, paused, reason, \
             position) VALUES ($1, $2, $3, $4, 0, '', $5)",
        )
        .bind(queue.to_string())
        .bind(extension.to_string())
        .bind(i64::from(penalty))
        .bind(bool_i(dynamic))
        .bind(position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a member (any kind); false when it was none.
    pub async fn queue_member_remove(
        &self,
        queue: &str,
        extension: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM queue_members WHERE queue_name = $1 AND extension = $2")
                .bind(queue.to_string())
                .bind(extension.to_string())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Pauses or unpauses a member in `queue`, or in all its queues (None); how
    /// many memberships changed.
    pub async fn queue_member_pause(
        &self,
        queue: Option<&str>,
        extension: &str,
        paused: bool,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let reason = if paused { reason } else { "" };
        let done = match queue {
            Some(q) => {
                sqlx::query(
                    "UPDATE queue_members SET paused = $3, reason = $4 \
                     WHERE queue_name = $1 AND extension = $2",
                )
                .bind(q.to_string())
                .bind(extension.to_string())
                .bind(bool_i(paused))
                .bind(reason.to_string())
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE queue_members SET paused = $2, reason = $3 WHERE extension = $1",
                )
                .bind(extension.to_string())
                .bind(bool_i(paused))
                .bind(reason.to_string())
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected())
    }

    /// The queues `extension` is a member of.
    pub async fn queues_of(&self, extension: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT queue_name FROM queue_members WHERE extension = $1 ORDER BY queue_name",
        )
        .bind(extension.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Appends a queue log line (a retried write of the same line is a no-op).
    pub async fn queue_log_insert(&self, e: &QueueLogEntry) -> Result<(), StoreError> {
        let [d1, d2, d3, d4, d5] = e.data.clone();
        sqlx::query(
            "INSERT INTO queue_log (time_ms, callid, queuename, agent, event, data1, data2, \
             data3, data4, data5) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(e.time_ms)
        .bind(e.call_id.clone())
        .bind(e.queue.clone())
        .bind(e.agent.clone())
        .bind(e.event.as_str())
        .bind(d1)
        .bind(d2)
        .bind(d3)
        .bind(d4)
        .bind(d5)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Queue log lines of `queue` (None: all) in `[since_ms, until_ms)`, oldest first.
    pub async fn queue_log(
        &self,
        queue: Option<&str>,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<QueueLogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT time_ms, callid, queuename, agent, event, data1, data2, data3, data4, data5 \
             FROM queue_log WHERE ($1 = '' OR queuename = $1) AND time_ms >= $2 AND time_ms < $3 \
             ORDER BY time_ms, callid",
        )
        .bind(queue.unwrap_or_default().to_string())
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let event: String = r.try_get("event")?;
            let Ok(event) = event.parse::<QueueEvent>() else {
                continue;
            };
            out.push(QueueLogEntry {
                time_ms: r.try_get("time_ms")?,
                call_id: r.try_get("callid")?,
                queue: r.try_get("queuename")?,
                agent: r.try_get("agent")?,
                event,
                data: [
                    r.try_get("data1")?,
                    r.try_get("data2")?,
                    r.try_get("data3")?,
                    r.try_get("data4")?,
                    r.try_get("data5")?,
                ],
            });
        }
        Ok(out)
    }

    /// Statistics per queue and per agent over `[since_ms, until_ms)`.
    pub async fn queue_stats(
        &self,
        queue: Option<&str>,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<(Vec<QueueStats>, Vec<AgentStats>), StoreError> {
        let log = self.queue_log(queue, since_ms, until_ms).await?;
        let levels: BTreeMap<String, u32> = self
            .queue_list()
            .await?
            .into_iter()
            .map(|(q, _)| (q.name, q.servicelevel))
            .collect();
        Ok(queue_stats_of(&log, &levels, queue))
    }
}

fn not_found(kind: &'static str, key: &str) -> StoreError {
    StoreError::NotFound {
        what: kind,
        key: key.to_string(),
    }
}

/// The statistics a queue log gives (pure, so it is tested on its own).
pub fn queue_stats_of(
    log: &[QueueLogEntry],
    servicelevels: &BTreeMap<String, u32>,
    only: Option<&str>,
) -> (Vec<QueueStats>, Vec<AgentStats>) {
    let mut queues: BTreeMap<String, (QueueStats, Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for name in servicelevels
        .keys()
        .filter(|n| only.is_none_or(|o| o == *n))
    {
        queues.entry(name.clone()).or_default();
    }
    let mut agents: BTreeMap<String, (AgentStats, Vec<u64>)> = BTreeMap::new();
    let num = |s: &str| s.trim().parse::<u64>().unwrap_or(0);
    for e in log {
        let (q, waits, talks) = queues.entry(e.queue.clone()).or_default();
        q.queue = e.queue.clone();
        let agent = (e.agent != "NONE").then(|| {
            let a = agents.entry(e.agent.clone()).or_default();
            a.0.agent = e.agent.clone();
            a
        });
        match e.event {
            QueueEvent::Enterqueue => q.offered += 1,
            QueueEvent::Connect => {
                q.answered += 1;
                waits.push(num(&e.data[0]));
                if let Some(a) = agent {
                    a.0.answered += 1;
                }
            }
            QueueEvent::Abandon => q.abandoned += 1,
            QueueEvent::Exitwithtimeout | QueueEvent::Exitempty => q.timed_out += 1,
            QueueEvent::Completeagent | QueueEvent::Completecaller => {
                talks.push(num(&e.data[1]));
                if let Some(a) = agent {
                    a.0.completed += 1;
                    a.1.push(num(&e.data[1]));
                }
            }
            QueueEvent::Transfer => {
                q.transferred += 1;
                talks.push(num(&e.data[3]));
                if let Some(a) = agent {
                    a.0.completed += 1;
                    a.1.push(num(&e.data[3]));
                }
            }
            QueueEvent::Ringnoanswer => {
                if let Some(a) = agent {
                    a.0.ring_no_answer += 1;
                }
            }
            QueueEvent::Pause => {
                if let Some(a) = agent {
                    a.0.pauses += 1;
                }
            }
            QueueEvent::Addmember | QueueEvent::Removemember | QueueEvent::Unpause => {}
        }
    }
    let avg = |v: &[u64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<u64>() as f64 / v.len() as f64
        }
    };
    let queue_stats = queues
        .into_iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name))
        .map(|(name, (mut q, waits, talks))| {
            q.queue = name.clone();
            q.servicelevel_s = servicelevels.get(&name).copied().unwrap_or(60);
            let within = waits
                .iter()
                .filter(|w| **w <= u64::from(q.servicelevel_s))
                .count() as f64;
            let base = (q.answered + q.abandoned) as f64;
            q.service_level_pct = if base > 0.0 {
                (within / base * 1000.0).round() / 10.0
            } else {
                0.0
            };
            q.avg_wait_s = avg(&waits);
            q.max_wait_s = waits.iter().copied().max().unwrap_or(0);
            q.avg_handle_s = avg(&talks);
            q
        })
        .collect();
    let agent_stats = agents
        .into_values()
        .map(|(mut a, talks)| {
            a.avg_handle_s = avg(&talks);
            a
        })
        .collect();
    (queue_stats, agent_stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(queue: &str, agent: &str, event: QueueEvent, data: &[&str]) -> QueueLogEntry {
        let mut d: [String; 5] = Default::default();
        for (i, v) in data.iter().enumerate() {
            d[i] = v.to_string();
        }
        QueueLogEntry {
            time_ms: 0,
            call_id: "c".into(),
            queue: queue.into(),
            agent: agent.into(),
            event,
            data: d,
        }
    }

    #[test]
    fn stats_from_a_log() {
        use QueueEvent::*;
        let log = vec![
            line("sales", "NONE", Enterqueue, &["", "0123", "1"]),
            line("sales", "NONE", Enterqueue, &["", "0124", "2"]),
            line("sales", "NONE", Enterqueue, &["", "0125", "3"]),
            line("sales", "SIP/101", Ringnoanswer, &["15000"]),
            line("sales", "SIP/102", Connect, &["20", "x", "3"]),
            line("sales", "SIP/102", Completecaller, &["20", "100", "1"]),
            line("sales", "SIP/101", Connect, &["90", "x", "1"]),
            line("sales", "SIP/101", Completeagent, &["90", "50", "2"]),
            line("sales", "NONE", Abandon, &["1", "3", "40"]),
        ];
        let levels = BTreeMap::from([("sales".to_string(), 60), ("other".to_string(), 30)]);
        let (q, a) = queue_stats_of(&log, &levels, None);
        assert_eq!(q.len(), 2, "every queue, with or without calls");
        let s = q.iter().find(|q| q.queue == "sales").unwrap();
        assert_eq!((s.offered, s.answered, s.abandoned), (3, 2, 1));
        assert_eq!(s.service_level_pct, 33.3, "1 of 3 within 60 s");
        assert_eq!(s.avg_wait_s, 55.0);
        assert_eq!(s.max_wait_s, 90);
        assert_eq!(s.avg_handle_s, 75.0);
        let a101 = a.iter().find(|a| a.agent == "SIP/101").unwrap();
        assert_eq!(
            (a101.answered, a101.ring_no_answer, a101.completed),
            (1, 1, 1)
        );
        let (only, _) = queue_stats_of(&log, &levels, Some("sales"));
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut q = QueueSettings::new("support");
        assert!(check_queue(&q).is_ok());
        q.timeout = 0;
        assert!(check_queue(&q).is_err());
        let mut q = QueueSettings::new("bad name");
        assert!(check_queue(&q).is_err());
        q.name = "ok".into();
        q.musicclass = "../etc".into();
        assert!(check_queue(&q).is_err());
    }
}
