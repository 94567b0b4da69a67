//! Trunks: peers (carriers, other PBXs) recognised by their source address.

use std::net::IpAddr;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::map_insert;
use crate::time::now_ms;
use crate::{validate, Store, StoreError};

/// Context calls from a trunk start in unless told otherwise.
pub const DEFAULT_TRUNK_CONTEXT: &str = "from-trunk";

/// A trunk as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    pub name: String,
    /// An IP literal for now; host names would need DNS at match time.
    pub host: IpAddr,
    /// `None` matches any source port.
    pub port: Option<u16>,
    pub context: String,
}

/// What `add_trunk` needs.
#[derive(Debug, Clone)]
pub struct NewTrunk {
    pub name: String,
    pub host: IpAddr,
    pub port: Option<u16>,
    /// Defaults to `from-trunk`.
    pub context: Option<String>,
}

/// IPv4 peers seen on a dual-stack socket arrive as `::ffff:a.b.c.d`; store and
/// compare the plain IPv4 form so both spellings match.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

pub(crate) fn from_row(row: &AnyRow) -> Result<Trunk, StoreError> {
    let host: String = row.try_get("host")?;
    let host = host.parse::<IpAddr>().map_err(|_| StoreError::Corrupt {
        what: "trunk host",
        detail: format!("{host:?} is not an IP address"),
    })?;
    let port: Option<i64> = row.try_get("port")?;
    let port = port
        .map(|p| {
            u16::try_from(p).map_err(|_| StoreError::Corrupt {
                what: "trunk port",
                detail: format!("{p} is out of range"),
            })
        })
        .transpose()?;
    Ok(Trunk {
        name: row.try_get("name")?,
        host,
        port,
        context: row.try_get("context")?,
    })
}

impl Store {
    /// Creates a trunk; fails with [`StoreError::Exists`] if the name is taken.
    pub async fn add_trunk(&self, trunk: &NewTrunk) -> Result<(), StoreError> {
        validate::trunk_name(&trunk.name)?;
        if trunk.port == Some(0) {
            return Err(StoreError::Invalid {
                field: "trunk port",
                value: "0".into(),
                reason: "must be 1 to 65535, or left out to match any port",
            });
        }
        let context = trunk.context.as_deref().unwrap_or(DEFAULT_TRUNK_CONTEXT);
        validate::context(context)?;
        sqlx::query(
            "INSERT INTO trunks (name, host, port, context, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&trunk.name)
        .bind(canonical(trunk.host).to_string())
        .bind(trunk.port.map(i64::from))
        .bind(context)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| map_insert(e, "trunk", &trunk.name))?;
        Ok(())
    }

    /// Every trunk, ordered by name.
    pub async fn list_trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        let rows = sqlx::query("SELECT name, host, port, context FROM trunks ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Removes a trunk with the inbound monitoring rules made for it; `false` if
    /// there was none.
    pub async fn delete_trunk(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        for sql in [
            "DELETE FROM monitor_rule_groups WHERE rule_id IN \
             (SELECT id FROM monitor_rules WHERE trunk = $1)",
            "DELETE FROM monitor_rules WHERE trunk = $1",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        let gone = sqlx::query("DELETE FROM trunks WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    /// The trunk a request from `ip:port` belongs to. A trunk with that exact port
    /// wins over a port-less one; among equals, the first by name.
    pub async fn find_trunk_by_source(
        &self,
        ip: IpAddr,
        port: u16,
    ) -> Result<Option<Trunk>, StoreError> {
        let row = sqlx::query(
            "SELECT name, host, port, context FROM trunks \
             WHERE host = $1 AND (port IS NULL OR port = $2) \
             ORDER BY CASE WHEN port IS NULL THEN 1 ELSE 0 END, name \
             LIMIT 1",
        )
        .bind(canonical(ip).to_string())
        .bind(i64::from(port))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}
