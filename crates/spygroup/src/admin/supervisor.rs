//! `spygroup supervisor …`: who may monitor, which groups, which modes.

use anyhow::bail;
use clap::Subcommand;
use store::{Grant, GroupScope, SpyMode, Store};

use super::{parse_number, table};

#[derive(Debug, Subcommand)]
pub enum SupervisorCommand {
    /// Let extension EXT monitor calls of GROUPS and of QUEUES in MODES (replaces
    /// its grant).
    #[command(group(clap::ArgGroup::new("scope").required(true).multiple(true).args(["groups", "queues"])))]
    Grant {
        #[arg(value_parser = parse_number)]
        ext: String,
        /// Comma-separated spy groups, or `all` for every call whatever its groups.
        #[arg(long, value_name = "G1,G2|all", value_parser = parse_scope)]
        groups: Option<GroupScope>,
        /// Comma-separated queues: the supervisor may monitor whichever agent
        /// answers these queues' calls, whatever the agent's groups.
        #[arg(long, value_name = "Q1,Q2", value_delimiter = ',')]
        queues: Vec<String>,
        /// Comma-separated modes: listen (hear both sides), whisper (speak to the
        /// agent only), barge (speak to both), takeover (release the agent and keep
        /// the client), conference (make the call a conference room that goes on
        /// when any one party leaves).
        #[arg(long, value_name = "listen,whisper,barge,takeover,conference", value_parser = parse_modes)]
        modes: Modes,
    },
    /// Take away every monitoring right of EXT (and its supervise API tokens).
    Revoke {
        #[arg(value_parser = parse_number)]
        ext: String,
    },
    /// List supervisors with their groups and modes.
    List,
}

/// A parsed `--modes` list (a newtype: clap would read a bare Vec as repeated values).
#[derive(Debug, Clone)]
pub struct Modes(pub Vec<SpyMode>);

fn parse_scope(s: &str) -> Result<GroupScope, String> {
    s.parse().map_err(|e: store::StoreError| e.to_string())
}

fn parse_modes(s: &str) -> Result<Modes, String> {
    store::parse_modes(s).map(Modes).map_err(|e| e.to_string())
}

fn modes_text(modes: &[SpyMode]) -> String {
    modes
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn scope_text(scope: &GroupScope) -> String {
    match scope {
        GroupScope::Groups(g) if g.is_empty() => "(none)".to_string(),
        other => other.to_string(),
    }
}

pub async fn run(store: &Store, cmd: SupervisorCommand) -> anyhow::Result<()> {
    match cmd {
        SupervisorCommand::Grant {
            ext,
            groups,
            modes,
            queues,
        } => {
            let grant = Grant {
                extension: ext.clone(),
                groups: groups.unwrap_or(GroupScope::Groups(Vec::new())),
                modes: modes.0,
                queues: queues
                    .into_iter()
                    .map(|q| q.trim().to_string())
                    .filter(|q| !q.is_empty())
                    .collect(),
            };
            store.supervisor_grant(&grant).await?;
            let mut of = Vec::new();
            match &grant.groups {
                GroupScope::All => of.push("every group".to_string()),
                GroupScope::Groups(g) if g.is_empty() => {}
                g => of.push(format!("spy groups {g}")),
            }
            if !grant.queues.is_empty() {
                of.push(format!("queues {}", grant.queues.join(",")));
            }
            println!(
                "supervisor {ext} may {} calls of {}",
                modes_text(&grant.modes),
                of.join(" and ")
            );
        }
        SupervisorCommand::Revoke { ext } => {
            if !store.supervisor_revoke(&ext).await? {
                bail!("extension {ext:?} is not a supervisor");
            }
            println!("supervisor {ext} revoked");
        }
        SupervisorCommand::List => {
            let rows: Vec<Vec<String>> = store
                .supervisor_list()
                .await?
                .into_iter()
                .map(|g| {
                    let queues = if g.queues.is_empty() {
                        "-".to_string()
                    } else {
                        g.queues.join(",")
                    };
                    vec![
                        g.extension,
                        scope_text(&g.groups),
                        queues,
                        modes_text(&g.modes),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["SUPERVISOR", "GROUPS", "QUEUES", "MODES"], &rows)
            );
        }
    }
    Ok(())
}
