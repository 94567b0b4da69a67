//! Shared helpers: a fresh database per test, on SQLite and (when
//! `SPYGROUP_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(dead_code)] // each test file uses a different subset

use tempfile::TempDir;

pub struct TempDb {
    /// Holds the directory alive for the test's length; not every test reads it.
    #[allow(dead_code)]
    pub dir: TempDir,
    pub url: String,
}

pub fn temp_db() -> TempDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/test.db", dir.path().display());
    TempDb { dir, url }
}

/// A fresh, empty database on one backend, for tests that must pass on every one.
pub struct Backend {
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    pub url: String,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<TempDir>,
    /// PostgreSQL: the server's URL and the database made for this test, dropped after.
    pg: Option<(String, String)>,
}

/// The PostgreSQL server to test against: `SPYGROUP_TEST_POSTGRES_URL`
/// (`scripts/test.sh` starts one and sets it).
pub fn postgres_url() -> Option<String> {
    std::env::var("SPYGROUP_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
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

async fn admin_exec(server: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to SPYGROUP_TEST_POSTGRES_URL: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

/// SQLite always; PostgreSQL too when `SPYGROUP_TEST_POSTGRES_URL` is set (a note
/// is printed when it is not).
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut out = vec![Backend {
        name: "sqlite",
        url: format!("sqlite://{}/test.db", dir.path().display()),
        _dir: Some(dir),
        pg: None,
    }];
    match postgres_url() {
        Some(server) => {
            let db = format!("spygroup_test_{}_{:08x}", std::process::id(), rand_u32());
            admin_exec(&server, &format!("CREATE DATABASE {db}")).await;
            out.push(Backend {
                name: "postgres",
                url: with_database(&server, &db),
                _dir: None,
                pg: Some((server, db)),
            });
        }
        None => eprintln!(
            "note: SPYGROUP_TEST_POSTGRES_URL is not set, so this test ran on SQLite only \
             (scripts/test.sh starts a PostgreSQL server and sets it)"
        ),
    }
    out
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u32
}

impl Backend {
    /// Drops the test's PostgreSQL database.
    pub async fn cleanup(self) {
        if let Some((server, db)) = &self.pg {
            admin_exec(
                server,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// Runs `body` with a store on a fresh database of every backend in turn; a
/// failure names the backend.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(store::Store) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    for backend in backends().await {
        let store = store::Store::open(&backend.url)
            .await
            .unwrap_or_else(|e| panic!("[{}] open: {e}", backend.name));
        let result = tokio::spawn(body(store.clone())).await;
        store.close().await;
        let name = backend.name;
        backend.cleanup().await;
        if let Err(e) = result {
            if e.is_panic() {
                eprintln!("the test failed on {name}");
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("[{name}] {e}");
        }
    }
}
