//! What can go wrong in the store, phrased for the person who has to fix it.

use std::path::PathBuf;

/// Every failure of the store. Messages say what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend we ship.
    #[error(
        "unsupported database URL {url:?}: use sqlite://FILE (relative), \
         sqlite:///ABSOLUTE/FILE or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl { url: String },

    /// The SQLite file could not be opened or created.
    #[error(
        "cannot open database file {}: {source}; check that the directory exists \
         and that this user may write to it",
        path.display()
    )]
    File {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The server (or file) refused the connection.
    #[error("cannot connect to database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },

    /// The schema could not be brought up to date.
    #[error("cannot update the schema of database {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },

    /// A realm was requested that differs from the one the database was made with.
    #[error(
        "this database was created with realm {stored:?}, not {requested:?}: stored \
         digest secrets only work with their realm; drop the realm setting or use a new database"
    )]
    RealmMismatch { stored: String, requested: String },

    /// Input that does not fit the schema's rules.
    #[error("invalid {field} {value:?}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },

    /// A unique key is already taken.
    #[error("{what} {key:?} already exists")]
    Exists { what: &'static str, key: String },

    /// An update named a row that is not there.
    #[error("{what} {key:?} does not exist")]
    NotFound { what: &'static str, key: String },

    /// A stored value could not be read back (edited by hand, or a newer schema).
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: &'static str, detail: String },

    /// The write-behind queue is full, so the write was not queued
    /// ([`crate::LiveConfig::db_put`] and friends).
    #[error(
        "the database write queue is full ({bound} writes waiting), so this change was \
         dropped: the database is down or too slow; see /health and the server log"
    )]
    QueueFull { bound: usize },

    /// A recording's file could not be deleted; the recording stays listed.
    #[error(
        "cannot delete recording file {}: {source}; the recording is kept, so once \
         this user may delete the file, delete the recording again",
        path.display()
    )]
    RecordingFile {
        path: PathBuf,
        source: std::io::Error,
    },

    /// An agent tried to log out of a queue it is configured in (Asterisk's
    /// NOTDYNAMIC): only the administrator removes a static member.
    #[error(
        "{extension} is a static member of queue {queue:?}, not a logged-in agent: \
         `spygroup queue member del {queue} {extension}` removes it"
    )]
    NotDynamic { queue: String, extension: String },

    /// Any other database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// True when the caller's input was at fault (so a CLI can exit 2, an API answer 400).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            StoreError::Invalid { .. } | StoreError::UnsupportedUrl { .. }
        )
    }
}

/// Maps a unique-key violation to [`StoreError::Exists`], anything else to `Db`.
pub(crate) fn map_insert(err: sqlx::Error, what: &'static str, key: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists {
            what,
            key: key.to_string(),
        },
        _ => StoreError::Db(err),
    }
}
