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
