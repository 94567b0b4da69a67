//! `spygroup trunk …`

use anyhow::bail;
use store::{NewTrunk, Store};

use super::table;
use crate::cli::TrunkCommand;

pub async fn run(store: &Store, cmd: TrunkCommand) -> anyhow::Result<()> {
    match cmd {
        TrunkCommand::Add {
            name,
            host,
            context,
        } => {
            store
                .add_trunk(&NewTrunk {
                    name: name.clone(),
                    host: host.ip,
                    port: host.port,
                    context,
                })
                .await?;
            println!("trunk {name} added");
        }
        TrunkCommand::List => {
            let rows: Vec<Vec<String>> = store
                .list_trunks()
                .await?
                .into_iter()
                .map(|t| {
                    let port = t.port.map_or_else(|| "any".to_string(), |p| p.to_string());
                    vec![t.name, t.host.to_string(), port, t.context]
                })
                .collect();
            print!(
                "{}",
                table::render(&["NAME", "HOST", "PORT", "CONTEXT"], &rows)
            );
        }
        TrunkCommand::Del { name } => {
            if !store.delete_trunk(&name).await? {
                bail!("trunk {name:?} does not exist");
            }
            println!("trunk {name} deleted");
        }
    }
    Ok(())
}
