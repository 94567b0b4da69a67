//! HTTP API bearer tokens.
//!
//! A token reads `sgt_<id>_<secret>`: `id` is 16 hex digits naming the token in
//! lists (it is not secret), `secret` 64 hex digits (256 random bits). The token is
//! shown once, when created; only its SHA-256 is stored, and a presented token is
//! checked by comparing hashes in constant time.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::groups::exists;
use crate::time::{from_ms, now_ms};
use crate::{Store, StoreError};

/// Every token starts with this, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "sgt_";

/// What a token may do. Ordered: each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenScope {
    /// Read anything (calls, configuration, audit, CDRs).
    Read,
    /// Read, and monitor calls as the token's supervisor, within that supervisor's grant.
    Supervise,
    /// Everything, including changing configuration.
    Admin,
}

impl TokenScope {
    /// `read`, `supervise` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Supervise => "supervise",
            TokenScope::Admin => "admin",
        }
    }

    /// True when a token of this scope may do what `needed` allows.
    pub fn includes(self, needed: TokenScope) -> bool {
        self >= needed
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [TokenScope::Read, TokenScope::Supervise, TokenScope::Admin]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| StoreError::Invalid {
                field: "scope",
                value: s.chars().take(80).collect(),
                reason: "must be read, supervise or admin",
            })
    }
}

/// A token as stored: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// 16 hex digits; also found inside the token (`sgt_<id>_…`).
    pub id: String,
    pub scope: TokenScope,
    /// The supervisor extension a supervise token acts as; `None` for other scopes.
    pub supervisor: Option<String>,
    pub created_at: SystemTime,
    /// Last successful [`Store::token_verify`] (updated at most once a second).
    pub last_used: Option<SystemTime>,
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality that takes the same time wherever the inputs differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The id inside a well-formed token.
fn token_id(token: &str) -> Option<&str> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    (is_hex(id, 16) && is_hex(secret, 64)).then_some(id)
}

fn from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let scope: String = row.try_get("scope")?;
    let scope = scope.parse().map_err(|_| StoreError::Corrupt {
        what: "API token scope",
        detail: format!("{scope:?} is not read, supervise or admin"),
    })?;
    let last_used: Option<i64> = row.try_get("last_used")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        scope,
        supervisor: row.try_get("supervisor")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used: last_used.map(from_ms),
    })
}

impl Store {
    /// Creates a token and returns it with its secret, which is not stored and
    /// cannot be shown again. A supervise token needs `supervisor`, an extension
    /// that has a grant ([`StoreError::NotFound`] otherwise); the other scopes take
    /// none. Revoking the supervisor deletes its tokens.
    pub async fn token_create(
        &self,
        scope: TokenScope,
        supervisor: Option<&str>,
    ) -> Result<(ApiToken, String), StoreError> {
        match (scope, supervisor) {
            (TokenScope::Supervise, None) => {
                return Err(StoreError::Invalid {
                    field: "supervisor",
                    value: String::new(),
                    reason: "a supervise token must name the supervisor extension it acts as",
                })
            }
            (TokenScope::Supervise, Some(s)) => crate::validate::extension_number(s)?,
            (_, Some(s)) => {
                return Err(StoreError::Invalid {
                    field: "supervisor",
                    value: s.chars().take(80).collect(),
                    reason: "only supervise tokens belong to a supervisor",
                })
            }
            (_, None) => {}
        }
        let id = hex::encode(rand::random::<[u8; 8]>());
        let secret = format!(
            "{TOKEN_PREFIX}{id}_{}",
            hex::encode(rand::random::<[u8; 32]>())
        );
        let now = now_ms();

        let mut tx = self.write_tx().await?;
        if let Some(s) = supervisor {
            if !exists(
                &mut tx,
                "SELECT COUNT(*) FROM supervisors WHERE extension = $1",
                s,
            )
            .await?
            {
                return Err(StoreError::NotFound {
                    what: "supervisor",
                    key: s.to_string(),
                });
            }
        }
        sqlx::query(
            "INSERT INTO api_tokens (id, secret_sha256, scope, supervisor, created_at, last_used) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&id)
        .bind(hex::encode(sha256(&secret)))
        .bind(scope.as_str())
        .bind(supervisor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            ApiToken {
                id,
                scope,
                supervisor: supervisor.map(str::to_string),
                created_at: from_ms(now),
                last_used: None,
            },
            secret,
        ))
    }

    /// The token `secret` belongs to, or `None` when it is malformed, unknown,
    /// revoked or does not match. Records the use in `last_used`.
    pub async fn token_verify(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        let Some(id) = token_id(secret) else {
            return Ok(None);
        };
        let presented = sha256(secret);
        let row = sqlx::query(
            "SELECT id, secret_sha256, scope, supervisor, created_at, last_used \
             FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: String = row.try_get("secret_sha256")?;
        let mut want = [0u8; 32];
        hex::decode_to_slice(&stored, &mut want).map_err(|_| StoreError::Corrupt {
            what: "API token hash",
            detail: format!("token {id} has no valid SHA-256"),
        })?;
        if !ct_eq(&presented, &want) {
            return Ok(None);
        }
        let mut token = from_row(&row)?;
        // At most one write a second per token: every API request verifies.
        let now = now_ms();
        let updated = sqlx::query(
            "UPDATE api_tokens SET last_used = $2 \
             WHERE id = $1 AND (last_used IS NULL OR last_used < $3)",
        )
        .bind(id)
        .bind(now)
        .bind(now - 1000)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() > 0 {
            token.last_used = Some(from_ms(now));
        }
        Ok(Some(token))
    }

    /// Every token (never their secrets), oldest first.
    pub async fn token_list(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, scope, supervisor, created_at, last_used FROM api_tokens \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a token so it no longer verifies; `false` if there was none.
    pub async fn token_revoke(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let t = format!("sgt_{}_{}", "0123456789abcdef", "a".repeat(64));
        assert_eq!(token_id(&t), Some("0123456789abcdef"));
        assert_eq!(token_id(&t[..t.len() - 1]), None);
        assert_eq!(token_id(&t.replace("sgt_", "xyz_")), None);
        assert_eq!(token_id(&t.to_uppercase()), None);
        assert_eq!(token_id(""), None);
    }

    #[test]
    fn constant_time_equality() {
        let a = sha256("x");
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn scopes_order() {
        assert!(TokenScope::Admin.includes(TokenScope::Supervise));
        assert!(TokenScope::Supervise.includes(TokenScope::Read));
        assert!(!TokenScope::Read.includes(TokenScope::Supervise));
        assert_eq!("ADMIN".parse::<TokenScope>().unwrap(), TokenScope::Admin);
        assert!("root".parse::<TokenScope>().is_err());
    }
}
