//! Opening a database by URL: backend choice, file checks, schema, realm.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::migrations::migrator;
use crate::{validate, StoreError};

/// The realm a new database gets when none is asked for.
pub const DEFAULT_REALM: &str = "spygroup";

/// How long a PostgreSQL query waits for a pooled connection (see `open_inner`).
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A handle on the database; cheap to clone (clones share one pool).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    realm: Arc<str>,
    /// SQLite, where a write transaction must take the write lock up front.
    sqlite: bool,
    /// The SQLite file, when the database is one: the change poll looks at its
    /// (and its WAL's) size and time before it asks the database anything.
    pub(crate) sqlite_file: Option<PathBuf>,
    /// PostgreSQL: the URL, for the change listener's own connection
    /// ([`crate::LiveConfig`]); `None` on SQLite.
    pg_url: Option<Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// Where a URL points, after we have understood it.
#[derive(Debug)]
enum Target {
    SqliteFile {
        path: PathBuf,
        url: String,
        read_only: bool,
    },
    SqliteMemory {
        url: String,
    },
    Postgres {
        url: String,
    },
}

impl Store {
    /// Opens (and on first use creates) the database at `url`.
    ///
    /// `sqlite://spygroup.db` is relative to the working directory,
    /// `sqlite:///var/lib/spygroup.db` absolute, `postgres://…` a server. A new
    /// database gets the schema and realm [`DEFAULT_REALM`]; an existing one keeps its own.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_inner(url, None).await
    }

    /// Like [`Store::open`], but a new database is created with `realm`; opening an
    /// existing database made with another realm fails with
    /// [`StoreError::RealmMismatch`], because its HA1 values would no longer verify.
    pub async fn open_with_realm(url: &str, realm: &str) -> Result<Store, StoreError> {
        validate::realm(realm)?;
        Self::open_inner(url, Some(realm)).await
    }

    /// The digest realm, fixed when the database was created. Read once at open
    /// and cached: it never changes, because every stored HA1 depends on it.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes
    /// later fails with "database is locked" when another process wrote in between,
    /// instead of waiting its turn.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.pool.begin().await?
        })
    }

    /// True on SQLite (file or memory), false on PostgreSQL.
    pub(crate) fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// The PostgreSQL URL, or `None` on SQLite.
    pub(crate) fn pg_url(&self) -> Option<&str> {
        self.pg_url.as_deref()
    }

    /// Waits for every connection to close; later calls on clones fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn open_inner(url: &str, realm: Option<&str>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let target = classify(url)?;
        let (conn_url, is_sqlite, max) = match &target {
            Target::SqliteFile {
                path,
                url,
                read_only,
            } => {
                check_file(path, *read_only)?;
                (url.clone(), true, 4)
            }
            Target::SqliteMemory { url } => (url.clone(), true, 1),
            Target::Postgres { url } => (url.clone(), false, 8),
        };
        let sqlite_file = match &target {
            Target::SqliteFile { path, .. } => Some(path.clone()),
            _ => None,
        };
        let shown = redact(url);
        let mut options = AnyPoolOptions::new().max_connections(max);
        if !is_sqlite {
            // sqlx waits up to 30 s for a connection by default. While the server is
            // unreachable, that would hold every write-behind retry and reload for
            // 30 s before the failure is even seen (and reported by `/health`). 3 s is
            // long for a healthy server with 8 connections and short queries, and
            // short enough for an outage to show at once. Dead idle connections are
            // caught by the ping sqlx runs before handing one out (on by default),
            // which that timeout also bounds.
            options = options.acquire_timeout(PG_ACQUIRE_TIMEOUT);
        }
        if matches!(target, Target::SqliteFile { .. }) {
            // In WAL mode, `synchronous=NORMAL` syncs at checkpoints instead of at
            // every commit. A committed transaction survives a crash of the process
            // (kill -9) and never corrupts the file; only the last moments before a
            // power loss or OS crash may be lost, as with the server's write-behind
            // queue anyway. With FULL, every call record, registration and audit
            // entry waited for its own fsync, which capped the writes a busy PBX can
            // make per second. The setting is per connection.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous=NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&conn_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.clone(),
                source,
            })?;
        if is_sqlite && matches!(target, Target::SqliteFile { .. }) {
            // WAL lets the CLI write while the server reads; the mode is stored in the
            // file, so setting it on one connection is enough. sqlx already gives each
            // SQLite connection a 5 s busy timeout, which covers concurrent writers.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(|source| StoreError::Connect {
                    url: shown.clone(),
                    source,
                })?;
        }
        migrator()
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                url: shown.clone(),
                source,
            })?;
        let realm = settle_realm(&pool, realm).await?;
        tracing::debug!(url = %shown, %realm, "database open");
        let pg_url = match &target {
            Target::Postgres { url } => Some(Arc::from(url.as_str())),
            _ => None,
        };
        Ok(Store {
            pool,
            realm: realm.into(),
            sqlite: is_sqlite,
            sqlite_file,
            pg_url,
        })
    }
}

/// Records the realm on first creation and returns the one in force.
async fn settle_realm(pool: &AnyPool, requested: Option<&str>) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('realm', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(requested.unwrap_or(DEFAULT_REALM))
    .execute(pool)
    .await?;
    let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'realm'")
        .fetch_one(pool)
        .await?;
    match requested {
        Some(r) if r != stored => Err(StoreError::RealmMismatch {
            stored,
            requested: r.to_string(),
        }),
        _ => Ok(stored),
    }
}

/// The file a `sqlite:` URL names, read as [`Store::open`] reads it (relative to
/// the working directory, or absolute; `?query` ignored); `None` for an in-memory
/// database, another backend or a URL that is not understood.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    match classify(url) {
        Ok(Target::SqliteFile { path, .. }) => Some(path),
        _ => None,
    }
}

fn classify(url: &str) -> Result<Target, StoreError> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let memory = path.is_empty()
            || path == ":memory:"
            || query.is_some_and(|q| q.split('&').any(|kv| kv == "mode=memory"));
        if memory {
            return Ok(Target::SqliteMemory {
                url: url.to_string(),
            });
        }
        // Ask SQLite to create the file unless the URL already chose a mode.
        let has_mode = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("mode=")));
        let url = match (query, has_mode) {
            (_, true) => url.to_string(),
            (None, false) => format!("{url}?mode=rwc"),
            (Some(_), false) => format!("{url}&mode=rwc"),
        };
        let read_only = query.is_some_and(|q| q.split('&').any(|kv| kv == "mode=ro"));
        return Ok(Target::SqliteFile {
            path: PathBuf::from(path),
            url,
            read_only,
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres {
            url: url.to_string(),
        });
    }
    Err(StoreError::UnsupportedUrl { url: redact(url) })
}

/// Opens the file ourselves first: SQLite's own error ("unable to open database
/// file") names neither the path nor the OS reason.
/// Opens (and, unless read-only, creates) the SQLite file. A new file is made
/// readable by its owner only: it holds digest HA1s, tokens' hashes and the
/// monitoring audit. SQLite gives its `-wal` and `-shm` files the same mode.
fn check_file(path: &PathBuf, read_only: bool) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options
        .read(true)
        .write(!read_only)
        .create(!read_only)
        .truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::File {
            path: path.clone(),
            source,
        })
}

/// Hides a password in `scheme://user:password@host/...` so a URL can be logged.
pub fn redact_url(url: &str) -> String {
    redact(url)
}

fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{}", &rest[at + 1..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://pbx:hunter2@db:5432/pbx"),
            "postgres://pbx:***@db:5432/pbx"
        );
        assert_eq!(redact("postgres://pbx@db/pbx"), "postgres://pbx@db/pbx");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        match classify("sqlite://spygroup.db").unwrap() {
            Target::SqliteFile { path, url, .. } => {
                assert_eq!(path, PathBuf::from("spygroup.db"));
                assert_eq!(url, "sqlite://spygroup.db?mode=rwc");
            }
            _ => panic!("expected a file"),
        }
        match classify("sqlite:///abs/x.db?mode=ro").unwrap() {
            Target::SqliteFile { path, url, .. } => {
                assert_eq!(path, PathBuf::from("/abs/x.db"));
                assert_eq!(url, "sqlite:///abs/x.db?mode=ro");
            }
            _ => panic!("expected a file"),
        }
        assert!(matches!(
            classify("sqlite::memory:").unwrap(),
            Target::SqliteMemory { .. }
        ));
        assert!(matches!(
            classify("mysql://x").unwrap_err(),
            StoreError::UnsupportedUrl { .. }
        ));
    }
}
