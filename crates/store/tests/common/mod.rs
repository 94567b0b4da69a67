//! Shared helpers: a fresh database per test, on SQLite and (when
//! `SPYGROUP_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod proxy;

/// An extension numbered `number`, secret `pw<number>`, default context.
pub fn ext(number: &str) -> store::NewExtension {
    store::NewExtension {
        number: number.into(),
        secret: format!("pw{number}"),
        name: None,
        context: None,
        ..Default::default()
    }
}

/// A trunk at `host` (an IP literal), any port when `port` is None.
pub fn trunk(name: &str, host: &str, port: Option<u16>) -> store::NewTrunk {
    store::NewTrunk {
        name: name.into(),
        host: host.parse().unwrap(),
        port,
        context: None,
    }
}

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
    /// PostgreSQL: the database made for this test, dropped after.
    pg: Option<store::testing::ScratchPostgres>,
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
    match store::testing::scratch_postgres("spygroup_test").await {
        Some(pg) => out.push(Backend {
            name: "postgres",
            url: pg.url.clone(),
            _dir: None,
            pg: Some(pg),
        }),
        None => eprintln!(
            "note: SPYGROUP_TEST_POSTGRES_URL is not set, so this test ran on SQLite only \
             (scripts/test.sh starts a PostgreSQL server and sets it)"
        ),
    }
    out
}

impl Backend {
    /// Drops the test's PostgreSQL database.
    pub async fn cleanup(self) {
        if let Some(pg) = self.pg {
            pg.drop_db().await;
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

/// Waits until the live snapshot satisfies `pred`; returns how long that took, or
/// panics after `limit` naming `what`.
pub async fn shows(
    live: &store::LiveConfig,
    limit: Duration,
    what: &str,
    pred: impl Fn(&store::ConfigSnapshot) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut rx = live.watch();
    let seen =
        tokio::time::timeout(limit, rx.wait_for(|s: &Arc<store::ConfigSnapshot>| pred(s))).await;
    match seen {
        Ok(Ok(_)) => start.elapsed(),
        _ => panic!("{what}: not in the snapshot after {limit:?}"),
    }
}

/// Polls `cond` every 10 ms for up to `limit`; true once it holds.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
