//! `spygroup supervisor …`: who may monitor, which groups, which modes.

use anyhow::bail;
use clap::Subcommand;
use store::{Grant, GroupScope, SpyMode, Store};

use super::{parse_number, table};

#[derive(Debug, Subcommand)]
pub enum SupervisorCommand {
    /// Let extension EXT monitor calls of GROUPS in MODES (replaces its grant).
    Grant {
        #[arg(value_parser = parse_number)]
        ext: String,
        /// Comma-separated spy groups, or `all` for every call whatever its groups.
        #[arg(long, value_name = "G1,G2|all", value_parser = parse_scope)]
        groups: GroupScope,
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
        SupervisorCommand::Grant { ext, groups, modes } => {
            let grant = Grant {
                extension: ext.clone(),
                groups,
                modes: modes.0,
            };
            store.supervisor_grant(&grant).await?;
            println!(
                "supervisor {ext} may {} calls of {}",
                modes_text(&grant.modes),
                match &grant.groups {
                    GroupScope::All => "every group".to_string(),
                    g => format!("spy groups {g}"),
                }
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
                .map(|g| vec![g.extension, scope_text(&g.groups), modes_text(&g.modes)])
                .collect();
            print!(
                "{}",
                table::render(&["SUPERVISOR", "GROUPS", "MODES"], &rows)
            );
        }
    }
    Ok(())
}
