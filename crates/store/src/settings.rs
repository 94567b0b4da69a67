//! Named settings kept in the database, so every node and tool sees the same ones.

use crate::{validate, Store, StoreError};

/// `true`: Asterisk's behaviour, anyone who can dial ChanSpy/ExtenSpy may spy on
/// any channel its options select. `false` (the default when unset): supervisors may
/// only monitor calls within their grant's groups and modes.
pub const MONITORING_OPEN: &str = "monitoring.open";

/// Set once when the database is created; every stored HA1 depends on it.
const REALM: &str = "realm";

impl Store {
    /// The value of setting `key`, or `None` when unset.
    pub async fn setting_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets `key` to `value`. `realm` cannot be changed; `monitoring.open` takes
    /// `true` or `false`.
    pub async fn setting_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        validate::setting_key(key)?;
        validate::setting_value(value)?;
        if key == REALM {
            return Err(StoreError::Invalid {
                field: "setting key",
                value: key.to_string(),
                reason: "the realm is fixed when the database is created",
            });
        }
        if key == MONITORING_OPEN && !matches!(value, "true" | "false") {
            return Err(StoreError::Invalid {
                field: "setting value",
                value: value.chars().take(80).collect(),
                reason: "monitoring.open must be true or false",
            });
        }
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether monitoring is open ([`MONITORING_OPEN`]). Unset, or anything but
    /// `true` written by another system, reads as restricted.
    pub async fn monitoring_open(&self) -> Result<bool, StoreError> {
        let v = self.setting_get(MONITORING_OPEN).await?;
        if let Some(other) = v.as_deref().filter(|v| !matches!(*v, "true" | "false")) {
            tracing::warn!(
                value = other,
                "setting monitoring.open is neither true nor false: monitoring stays restricted"
            );
        }
        Ok(v.as_deref() == Some("true"))
    }

    /// Sets [`MONITORING_OPEN`].
    pub async fn set_monitoring_open(&self, open: bool) -> Result<(), StoreError> {
        self.setting_put(MONITORING_OPEN, if open { "true" } else { "false" })
            .await
    }
}
