//! `spygroup group …`: spy groups and their members.

use anyhow::bail;
use clap::Subcommand;
use store::Store;

use super::{parse_group, parse_number, table};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a spy group (the name ChanSpy's g(NAME) and SPYGROUP use).
    Add {
        #[arg(value_parser = parse_group)]
        name: String,
        /// What the group is for.
        #[arg(long, value_parser = parse_description)]
        description: Option<String>,
    },
    /// Delete a spy group, its memberships, and its place in grants and rules.
    Del {
        #[arg(value_parser = parse_group)]
        name: String,
    },
    /// List spy groups with their members.
    List,
    /// Manage which extensions are in a group.
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Put extension EXT in GROUP (its calls then carry GROUP in SPYGROUP).
    Add {
        #[arg(value_parser = parse_group)]
        group: String,
        #[arg(value_parser = parse_number)]
        ext: String,
    },
    /// Take extension EXT out of GROUP.
    Del {
        #[arg(value_parser = parse_group)]
        group: String,
        #[arg(value_parser = parse_number)]
        ext: String,
    },
}

fn parse_description(s: &str) -> Result<String, String> {
    store::validate::group_description(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

pub async fn run(store: &Store, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Add { name, description } => {
            store.group_add(&name, description.as_deref()).await?;
            println!("spy group {name} added");
        }
        GroupCommand::Del { name } => {
            if !store.group_del(&name).await? {
                bail!("spy group {name:?} does not exist");
            }
            println!("spy group {name} deleted");
        }
        GroupCommand::List => {
            let rows: Vec<Vec<String>> = store
                .group_list()
                .await?
                .into_iter()
                .map(|g| {
                    vec![
                        g.name,
                        g.members.join(","),
                        super::clean(&g.description.unwrap_or_default()),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["GROUP", "MEMBERS", "DESCRIPTION"], &rows)
            );
        }
        GroupCommand::Member(MemberCommand::Add { group, ext }) => {
            store.group_member_add(&group, &ext).await?;
            println!("extension {ext} is in spy group {group}");
        }
        GroupCommand::Member(MemberCommand::Del { group, ext }) => {
            if !store.group_member_del(&group, &ext).await? {
                bail!("extension {ext:?} is not in spy group {group:?}");
            }
            println!("extension {ext} removed from spy group {group}");
        }
    }
    Ok(())
}
