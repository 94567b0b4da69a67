//! Telling a failure worth retrying from one that will fail again.
//!
//! The write-behind queue retries a write until the database takes it, and keeps
//! its order while it does; that is only right when the failure is about the
//! database being unreachable or busy, not about the write itself. A write the
//! database refused (a constraint, bad data) would block the queue forever if it
//! were retried, so it is logged and dropped instead.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use crate::StoreError;

/// True when `err` says the database could not be reached or was busy, so the same
/// statement may well succeed later: connection refused/reset/closed, pool timeout
/// or closed, PostgreSQL SQLSTATE class 08 (connection exception), 57P01-57P03
/// (shutdown, crash, cannot connect now), 53300 (too many connections), 40001/40P01
/// (serialization failure, deadlock: PostgreSQL asks for a retry), SQLite
/// BUSY/LOCKED.
pub(crate) fn is_transient(err: &StoreError) -> bool {
    match err {
        StoreError::Db(e) | StoreError::Connect { source: e, .. } => sqlx_transient(e),
        _ => false,
    }
}

fn sqlx_transient(err: &sqlx::Error) -> bool {
    match err {
        // Refused, reset, broken pipe, EOF mid-answer: the connection, not the query.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        // A connection cut mid-message leaves the protocol out of step.
        | sqlx::Error::Protocol(_)
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => database_transient(db.as_ref()),
        _ => false,
    }
}

fn database_transient(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        return pg_code_transient(pg.code());
    }
    if db.try_downcast_ref::<SqliteError>().is_some() {
        return db
            .code()
            .as_deref()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(sqlite_code_transient);
    }
    // Another driver behind `Any`: fall back to the SQLSTATE-looking code.
    db.code()
        .is_some_and(|c: Cow<'_, str>| pg_code_transient(&c))
}

/// PostgreSQL SQLSTATE values that say "try again".
fn pg_code_transient(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

/// SQLite result codes (extended codes carry the primary one in the low byte).
fn sqlite_code_transient(code: i32) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)
}

/// Exponential backoff between retries: 100 ms doubling to a cap, so a short
/// blip costs little and a long outage does not hammer the server.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

/// The first wait after a failure.
const FIRST: Duration = Duration::from_millis(100);

impl Backoff {
    pub(crate) fn new(cap: Duration) -> Backoff {
        Backoff {
            next: FIRST.min(cap),
            cap,
        }
    }

    /// The wait before the next attempt (and doubles the one after).
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        d
    }

    /// Back to the first wait, after a success.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST.min(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_transient() {
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let e = StoreError::Db(sqlx::Error::Io(kind.into()));
            assert!(is_transient(&e), "{e}");
        }
        assert!(is_transient(&StoreError::Db(sqlx::Error::PoolTimedOut)));
        assert!(is_transient(&StoreError::Db(sqlx::Error::PoolClosed)));
    }

    #[test]
    fn bad_writes_are_permanent() {
        let e = StoreError::Invalid {
            field: "f",
            value: String::new(),
            reason: "r",
        };
        assert!(!is_transient(&e));
        assert!(!is_transient(&StoreError::NotFound {
            what: "monitor session",
            key: "x".into()
        }));
        assert!(!is_transient(&StoreError::Db(sqlx::Error::RowNotFound)));
        assert!(!is_transient(&StoreError::Db(sqlx::Error::ColumnNotFound(
            "x".into()
        ))));
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let mut b = Backoff::new(Duration::from_millis(500));
        let waits: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[test]
    fn codes() {
        for c in ["08000", "08006", "08P01", "57P01", "57P03", "40001"] {
            assert!(pg_code_transient(c), "{c}");
        }
        for c in ["23505", "23503", "22001", "42P01", "57014"] {
            assert!(!pg_code_transient(c), "{c}");
        }
        assert!(sqlite_code_transient(5));
        assert!(sqlite_code_transient(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_code_transient(262)); // SQLITE_LOCKED_SHAREDCACHE
        assert!(!sqlite_code_transient(2067)); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_code_transient(19));
    }
}
