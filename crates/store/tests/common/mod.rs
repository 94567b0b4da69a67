//! Shared helpers: a fresh SQLite file per test.

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
