//! Extensions: the phones that register and call, with their digest secrets as HA1.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::map_insert;
use crate::secrets::ha1_pair;
use crate::supervisors::flag;
use crate::time::now_ms;
use crate::{validate, Store, StoreError};

/// Context a new extension's calls start in unless told otherwise.
pub const DEFAULT_EXTENSION_CONTEXT: &str = "from-internal";

/// An extension as stored. There is no secret field: only its HA1 values exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub number: String,
    /// Display name (caller ID name); `None` when unset.
    pub name: Option<String>,
    pub context: String,
    /// MD5(`number:realm:secret`), lower-case hex.
    pub ha1_md5: String,
    /// SHA-256(`number:realm:secret`), lower-case hex.
    pub ha1_sha256: String,
    /// Only SIP/TLS is accepted from it: a REGISTER or INVITE over UDP or TCP is
    /// refused, so its credentials and signalling never cross the network in clear.
    pub require_tls: bool,
    /// Its calls must use SRTP: an offer from it without SDES crypto is refused, and
    /// calls to it are offered RTP/SAVP only, so its media is never sent in clear.
    pub require_srtp: bool,
}

/// What `add_extension` needs; the secret is hashed and then dropped.
#[derive(Debug, Clone, Default)]
pub struct NewExtension {
    pub number: String,
    pub secret: String,
    pub name: Option<String>,
    /// Defaults to `from-internal`.
    pub context: Option<String>,
    /// See [`Extension::require_tls`]; off by default so existing provisioning
    /// (plain UDP phones) keeps working unchanged.
    pub require_tls: bool,
    /// See [`Extension::require_srtp`]; off by default, like `require_tls`.
    pub require_srtp: bool,
}

/// Fields to change; `None` leaves a field as it is, `Some("")` clears the name.
#[derive(Debug, Clone, Default)]
pub struct ExtensionUpdate {
    pub secret: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub require_tls: Option<bool>,
    pub require_srtp: Option<bool>,
}

fn checked_name(name: Option<&str>) -> Result<Option<String>, StoreError> {
    match name {
        None => Ok(None),
        Some(n) => {
            validate::display_name(n)?;
            Ok(Some(n.to_string()))
        }
    }
}

/// The columns [`from_row`] reads, for every query that loads whole extensions (the
/// Store's own and the snapshot loader's), so that none of them forgets one.
pub(crate) const COLUMNS: &str =
    "number, name, context, ha1_md5, ha1_sha256, require_tls, require_srtp";

pub(crate) fn from_row(row: &AnyRow) -> Result<Extension, StoreError> {
    Ok(Extension {
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        context: row.try_get("context")?,
        ha1_md5: row.try_get("ha1_md5")?,
        ha1_sha256: row.try_get("ha1_sha256")?,
        require_tls: flag(row, "require_tls")?,
        require_srtp: flag(row, "require_srtp")?,
    })
}

impl Store {
    /// Creates an extension; fails with [`StoreError::Exists`] if the number is taken.
    pub async fn add_extension(&self, ext: &NewExtension) -> Result<(), StoreError> {
        validate::extension_number(&ext.number)?;
        validate::secret(&ext.secret)?;
        let name = checked_name(ext.name.as_deref())?.filter(|n| !n.is_empty());
        let context = ext.context.as_deref().unwrap_or(DEFAULT_EXTENSION_CONTEXT);
        validate::context(context)?;
        let (md5, sha256) = ha1_pair(&ext.number, self.realm(), &ext.secret);
        let now = now_ms();
        sqlx::query(
            "INSERT INTO extensions \
               (number, name, context, ha1_md5, ha1_sha256, require_tls, require_srtp, \
                created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&ext.number)
        .bind(name)
        .bind(context)
        .bind(md5)
        .bind(sha256)
        .bind(i64::from(ext.require_tls))
        .bind(i64::from(ext.require_srtp))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| map_insert(e, "extension", &ext.number))?;
        Ok(())
    }

    /// One extension, or `None` if the number is unknown.
    pub async fn get_extension(&self, number: &str) -> Result<Option<Extension>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM extensions WHERE number = $1"
        )))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every extension, ordered by number.
    pub async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM extensions ORDER BY number"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Changes the given fields; [`StoreError::NotFound`] if the number is unknown.
    /// A new secret replaces both HA1 values at once.
    pub async fn update_extension(
        &self,
        number: &str,
        update: &ExtensionUpdate,
    ) -> Result<(), StoreError> {
        validate::extension_number(number)?;
        let hashes = match &update.secret {
            Some(secret) => {
                validate::secret(secret)?;
                let (md5, sha) = ha1_pair(number, self.realm(), secret);
                (Some(md5), Some(sha))
            }
            None => (None, None),
        };
        let name = checked_name(update.name.as_deref())?;
        if let Some(c) = &update.context {
            validate::context(c)?;
        }
        // One statement, so a concurrent writer never sees half an update. An empty
        // name clears it (stored as NULL).
        let result = sqlx::query(
            "UPDATE extensions SET \
               name = CASE WHEN $2 IS NULL THEN name WHEN $2 = '' THEN NULL ELSE $2 END, \
               context = COALESCE($3, context), \
               ha1_md5 = COALESCE($4, ha1_md5), \
               ha1_sha256 = COALESCE($5, ha1_sha256), \
               require_tls = COALESCE($7, require_tls), \
               require_srtp = COALESCE($8, require_srtp), \
               updated_at = $6 \
             WHERE number = $1",
        )
        .bind(number)
        .bind(name)
        .bind(update.context.clone())
        .bind(hashes.0)
        .bind(hashes.1)
        .bind(now_ms())
        .bind(update.require_tls.map(i64::from))
        .bind(update.require_srtp.map(i64::from))
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "extension",
                key: number.to_string(),
            });
        }
        Ok(())
    }

    /// Removes an extension with its group memberships and, when it was a
    /// supervisor, its grant and supervise API tokens; `false` if there was none.
    pub async fn delete_extension(&self, number: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        for sql in [
            "DELETE FROM group_members WHERE extension = $1",
            "DELETE FROM api_tokens WHERE supervisor = $1",
            "DELETE FROM supervisor_groups WHERE supervisor = $1",
            "DELETE FROM supervisor_queues WHERE supervisor = $1",
            "DELETE FROM queue_members WHERE extension = $1",
            "DELETE FROM supervisors WHERE extension = $1",
        ] {
            sqlx::query(sql).bind(number).execute(&mut *tx).await?;
        }
        let gone = sqlx::query("DELETE FROM extensions WHERE number = $1")
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }
}
