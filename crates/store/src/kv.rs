//! Key/value families: Asterisk's AstDB (`database put/get/del/show`, `DB()`).

use crate::{validate, Store, StoreError};

/// Escapes `%`, `_` and `\` so a family can be used as a literal LIKE prefix.
fn like_prefix(family: &str) -> String {
    let mut out = String::with_capacity(family.len() + 2);
    for c in family.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("/%");
    out
}

impl Store {
    /// Sets `family/key` to `value`, replacing any previous value.
    pub async fn db_put(&self, family: &str, key: &str, value: &str) -> Result<(), StoreError> {
        validate::db_name("family", family)?;
        validate::db_name("key", key)?;
        sqlx::query(
            "INSERT INTO kv (family, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (family, key) DO UPDATE SET value = excluded.value",
        )
        .bind(family)
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The value at `family/key`, or `None`.
    pub async fn db_get(&self, family: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM kv WHERE family = $1 AND key = $2")
                .bind(family)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes `family/key`; `false` if it did not exist.
    pub async fn db_del(&self, family: &str, key: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM kv WHERE family = $1 AND key = $2")
            .bind(family)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes `family` with all its keys and its sub-families (`family/...`), as
    /// Asterisk's `database deltree` and `DBdeltree()` do; returns how many entries
    /// went.
    pub async fn db_deltree(&self, family: &str) -> Result<u64, StoreError> {
        let f = family.trim_matches('/');
        validate::db_name("family", f)?;
        let result = sqlx::query("DELETE FROM kv WHERE family = $1 OR family LIKE $2 ESCAPE '\\'")
            .bind(f)
            .bind(like_prefix(f))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// `(family, key, value)` triples ordered by family then key. With a family, only
    /// that family and its sub-families (`family/...`), as `database show` does.
    pub async fn db_show(
        &self,
        family: Option<&str>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = match family {
            None => {
                sqlx::query_as("SELECT family, key, value FROM kv ORDER BY family, key")
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(f) => {
                let f = f.trim_matches('/');
                sqlx::query_as(
                    "SELECT family, key, value FROM kv \
                     WHERE family = $1 OR family LIKE $2 ESCAPE '\\' \
                     ORDER BY family, key",
                )
                .bind(f)
                .bind(like_prefix(f))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows)
    }
}
