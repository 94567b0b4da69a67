//! Running the built binary against a temp directory and database.

#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
    pub db: String,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}/pbx.db", dir.path().display());
        Env { dir, db }
    }

    /// Like [`Env::new`], with the database already created (empty), as `spygroup
    /// serve` leaves it: commands that only read refuse a database that does not exist.
    pub fn with_database() -> Env {
        let env = Env::new();
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            store::Store::open(&env.db)
                .await
                .expect("create the database")
                .close()
                .await
        });
        env
    }

    /// The SQLite file behind `db`.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("pbx.db")
    }

    /// A command running in the temp dir (so no stray ./spygroup.toml is read).
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spygroup"));
        c.current_dir(self.dir.path()).env_remove("RUST_LOG");
        c
    }

    /// Runs `spygroup ARGS --db <temp db>`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .args(["--db", &self.db])
            .output()
            .expect("run spygroup")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing the output when it differs.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}
