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
    /// List spy groups with their members and notice policies.
    List,
    /// What the parties of a monitored call in the group are told: none (the
    /// default), agent (a beep to the agent), both (a beep to both) or announce
    /// ("this call is being monitored", to both), at the start and at each mode
    /// change.
    Notice {
        #[arg(value_parser = parse_group)]
        name: String,
        #[arg(value_parser = parse_notice)]
        policy: store::Notice,
        /// A reminder beep every SECS seconds while the call is monitored
        /// (0: none; at most 3600).
        #[arg(long, value_name = "SECS", default_value_t = 0,
              value_parser = clap::value_parser!(u32).range(0..=3600))]
        every: u32,
    },
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

fn parse_notice(s: &str) -> Result<store::Notice, String> {
    s.parse().map_err(|e: store::StoreError| e.to_string())
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
                        g.notice.to_string().replace(' ', "-"),
                        super::clean(&g.description.unwrap_or_default()),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["GROUP", "MEMBERS", "NOTICE", "DESCRIPTION"], &rows)
            );
        }
        GroupCommand::Notice {
            name,
            policy,
            every,
        } => {
            let notice = store::GroupNotice {
                notice: policy,
                every_s: every,
            };
            if !store.group_notice(&name, notice).await? {
                bail!("spy group {name:?} does not exist");
            }
            println!("spy group {name}: notice {notice}");
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
