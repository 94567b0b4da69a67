//! Registrar bindings, kept in the database so registrations survive a restart.

use std::net::SocketAddr;
use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError};

/// One contact bound to an address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLocation {
    /// The address of record, e.g. the extension number.
    pub aor: String,
    pub contact_uri: String,
    /// `udp` or `tcp` (as the registrar names it).
    pub source_transport: String,
    /// Where the REGISTER came from (for rport / NAT).
    pub source_addr: SocketAddr,
    /// When the binding lapses (stored as epoch milliseconds).
    pub expires_at: SystemTime,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
}

fn from_row(row: &AnyRow) -> Result<StoredLocation, StoreError> {
    let addr: String = row.try_get("source_addr")?;
    let source_addr = addr.parse().map_err(|_| StoreError::Corrupt {
        what: "location source address",
        detail: format!("{addr:?} is not an address:port"),
    })?;
    let cseq: i64 = row.try_get("cseq")?;
    let cseq = u32::try_from(cseq).map_err(|_| StoreError::Corrupt {
        what: "location cseq",
        detail: format!("{cseq} is out of range"),
    })?;
    Ok(StoredLocation {
        aor: row.try_get("aor")?,
        contact_uri: row.try_get("contact_uri")?,
        source_transport: row.try_get("source_transport")?,
        source_addr,
        expires_at: from_ms(row.try_get("expires_at")?),
        call_id: row.try_get("call_id")?,
        cseq,
        user_agent: row.try_get("user_agent")?,
    })
}

/// Inserts or refreshes one binding, on the pool or inside a transaction.
async fn upsert<'e, E>(ex: E, loc: &StoredLocation) -> Result<(), StoreError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO locations (aor, contact_uri, source_transport, source_addr, expires_at, \
               call_id, cseq, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (aor, contact_uri) DO UPDATE SET \
               source_transport = excluded.source_transport, \
               source_addr = excluded.source_addr, \
               expires_at = excluded.expires_at, \
               call_id = excluded.call_id, \
               cseq = excluded.cseq, \
               user_agent = excluded.user_agent",
    )
    .bind(&loc.aor)
    .bind(&loc.contact_uri)
    .bind(&loc.source_transport)
    .bind(loc.source_addr.to_string())
    .bind(to_ms(loc.expires_at))
    .bind(&loc.call_id)
    .bind(i64::from(loc.cseq))
    .bind(loc.user_agent.clone())
    .execute(ex)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts or refreshes the binding `(aor, contact_uri)`.
    pub async fn save_location(&self, loc: &StoredLocation) -> Result<(), StoreError> {
        upsert(&self.pool, loc).await
    }

    /// Replaces every binding of `aor` with `bindings`, in one transaction, so a
    /// reader (or a restart) sees either the old set or the new one, never a mix.
    /// Every binding must belong to `aor` ([`StoreError::Invalid`] otherwise).
    pub async fn replace_locations(
        &self,
        aor: &str,
        bindings: &[StoredLocation],
    ) -> Result<(), StoreError> {
        if let Some(other) = bindings.iter().find(|b| b.aor != aor) {
            return Err(StoreError::Invalid {
                field: "location aor",
                value: other.aor.chars().take(80).collect(),
                reason: "every binding must belong to the address of record being replaced",
            });
        }
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM locations WHERE aor = $1")
            .bind(aor)
            .execute(&mut *tx)
            .await?;
        for loc in bindings {
            upsert(&mut *tx, loc).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes one binding; `false` if there was none.
    pub async fn delete_location(&self, aor: &str, contact_uri: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM locations WHERE aor = $1 AND contact_uri = $2")
            .bind(aor)
            .bind(contact_uri)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes every binding of `aor` (a `Contact: *` unregister); returns how many.
    pub async fn delete_locations(&self, aor: &str) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM locations WHERE aor = $1")
            .bind(aor)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Removes bindings that lapsed at or before `now`; returns how many.
    pub async fn purge_expired_locations(&self, now: SystemTime) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM locations WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Every stored binding, expired or not (the registrar decides), by aor then contact.
    pub async fn load_locations(&self) -> Result<Vec<StoredLocation>, StoreError> {
        let rows = sqlx::query(
            "SELECT aor, contact_uri, source_transport, source_addr, expires_at, call_id, cseq, \
               user_agent FROM locations ORDER BY aor, contact_uri",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
