//! `spygroup db …`, shaped like Asterisk's `database` CLI commands.

use anyhow::bail;
use store::Store;

use crate::cli::{DbCommand, PinCommand};
use crate::exit::Missing;

pub async fn run(store: &Store, cmd: DbCommand) -> anyhow::Result<()> {
    match cmd {
        DbCommand::Put { family, key, value } => {
            store.db_put(&family, &key, &value).await?;
            println!("Updated database successfully");
        }
        DbCommand::Get { family, key } => match store.db_get(&family, &key).await? {
            // The value alone, so scripts can capture it.
            Some(v) => println!("{v}"),
            None => bail!(Missing(format!("database entry /{family}/{key} not found"))),
        },
        DbCommand::Del { family, key } => {
            if !store.db_del(&family, &key).await? {
                bail!(Missing(format!(
                    "database entry /{family}/{key} does not exist"
                )));
            }
            println!("Database entry removed.");
        }
        DbCommand::Show { family } => {
            let entries = store.db_show(family.as_deref()).await?;
            for (f, k, v) in &entries {
                // Asterisk pads the key column to 50.
                println!("{:<50}: {v}", format!("/{f}/{k}"));
            }
            println!(
                "{} result{} found.",
                entries.len(),
                if entries.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

/// `spygroup pin set NAME PIN`.
pub async fn pin(store: &Store, cmd: PinCommand) -> anyhow::Result<()> {
    match cmd {
        PinCommand::Set { name, pin } => {
            let value = tokio::task::spawn_blocking(move || store::pins::hash_pin(&pin)).await?;
            store
                .db_put("spygroup", &format!("pin_{name}"), &value)
                .await?;
            println!("PIN for {name} stored (argon2id): /spygroup/pin_{name}");
        }
    }
    Ok(())
}
