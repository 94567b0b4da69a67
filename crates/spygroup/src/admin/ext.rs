//! `spygroup ext …`

use anyhow::bail;
use store::{ExtensionUpdate, NewExtension, Store};

use super::table;
use crate::cli::ExtCommand;
use crate::exit::Usage;

pub async fn run(store: &Store, cmd: ExtCommand) -> anyhow::Result<()> {
    match cmd {
        ExtCommand::Add {
            number,
            secret,
            name,
            context,
        } => {
            warn_if_weak(&number, Some(&secret));
            store
                .add_extension(&NewExtension {
                    number: number.clone(),
                    secret,
                    name,
                    context,
                })
                .await?;
            println!("extension {number} added");
        }
        ExtCommand::List => {
            let rows: Vec<Vec<String>> = store
                .list_extensions()
                .await?
                .into_iter()
                .map(|e| vec![e.number, e.name.unwrap_or_default(), e.context])
                .collect();
            print!("{}", table::render(&["NUMBER", "NAME", "CONTEXT"], &rows));
        }
        ExtCommand::Set {
            number,
            secret,
            name,
            context,
        } => {
            if secret.is_none() && name.is_none() && context.is_none() {
                bail!(Usage(
                    "nothing to change: give --secret, --name and/or --context".into()
                ));
            }
            warn_if_weak(&number, secret.as_deref());
            store
                .update_extension(
                    &number,
                    &ExtensionUpdate {
                        secret,
                        name,
                        context,
                    },
                )
                .await?;
            println!("extension {number} updated");
        }
        ExtCommand::Del { number } => {
            if !store.delete_extension(&number).await? {
                bail!("extension {number:?} does not exist");
            }
            println!("extension {number} deleted");
        }
    }
    Ok(())
}

/// Says on stderr when a secret is weak: stored all the same (the administrator
/// decides), but a guesser would find it first.
fn warn_if_weak(number: &str, secret: Option<&str>) {
    if let Some(why) = secret.and_then(|s| store::validate::weak_secret(number, s)) {
        eprintln!("warning: weak secret for {number}: {why}; choose a longer, random one");
    }
}
