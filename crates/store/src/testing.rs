//! Test support for this crate's tests and its users' (feature `testing`): a scratch
//! PostgreSQL database per test on the server `SPYGROUP_TEST_POSTGRES_URL` names
//! (`scripts/test.sh` starts one and sets it), dropped afterwards.

use sqlx::Connection;

/// A database made for one test.
#[derive(Debug)]
pub struct ScratchPostgres {
    /// Connect the store here.
    pub url: String,
    server: String,
    db: String,
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("SPYGROUP_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Creates `<prefix>_<pid>_<random>` on the test server; None when no server is set.
pub async fn scratch_postgres(prefix: &str) -> Option<ScratchPostgres> {
    let server = postgres_url()?;
    let db = format!(
        "{prefix}_{}_{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    exec(&server, &format!("CREATE DATABASE {db}")).await;
    Some(ScratchPostgres {
        url: with_database(&server, &db),
        server,
        db,
    })
}

impl ScratchPostgres {
    /// Drops the database (connections still open are closed by the server).
    pub async fn drop_db(self) {
        exec(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db),
        )
        .await;
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Runs administrative SQL on the test server; a test set-up failure panics.
async fn exec(server: &str, sql: &str) {
    let mut conn = sqlx::postgres::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to SPYGROUP_TEST_POSTGRES_URL: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

/// The value of an SQLite `PRAGMA` on one of the store's connections (tests check
/// the settings every connection gets).
pub async fn sqlite_pragma(store: &crate::Store, name: &str) -> Option<i64> {
    if !name.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_optional(&store.pool)
        .await
        .ok()
        .flatten()
}

/// Runs SQL on the store's own pool, as another program writing the database by
/// hand would: tests use it to plant rows the store's doors refuse.
pub async fn raw_sql(store: &crate::Store, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5/old", "new"),
            "postgres://u@h:5/new"
        );
        assert_eq!(
            with_database("postgres://u@h:5", "new"),
            "postgres://u@h:5/new"
        );
        assert_eq!(
            with_database("postgres://u@h/old?ssl=no", "n"),
            "postgres://u@h/n?ssl=no"
        );
    }
}
