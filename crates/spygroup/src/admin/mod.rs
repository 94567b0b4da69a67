//! The admin CLI: each command opens the database, does one thing, and exits.
//! It works whether or not the server runs (SQLite in WAL mode, or PostgreSQL).

mod audit;
mod cdr;
mod db;
pub mod dialplan;
mod ext;
mod table;
mod trunk;

use anyhow::Context;
use store::Store;

use crate::cli::Command;

/// Runs one admin command against the database at `url`.
pub async fn run(command: Command, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url)
        .await
        .with_context(|| format!("cannot use database {}", store::redact_url(url)))?;
    let result = match command {
        Command::Ext(c) => ext::run(&store, c).await,
        Command::Trunk(c) => trunk::run(&store, c).await,
        Command::Db(c) => db::run(&store, c).await,
        Command::Cdr(c) => cdr::run(&store, c).await,
        Command::Audit(c) => audit::run(&store, c).await,
        Command::Serve(_) => Err(anyhow::anyhow!("serve is not an admin command")),
        Command::Dialplan(c) => dialplan::run(c, None, None),
    };
    store.close().await;
    result
}
