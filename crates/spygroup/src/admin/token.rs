//! `spygroup token …`: bearer tokens for the HTTP API.

use anyhow::bail;
use clap::Subcommand;
use store::{Store, TokenScope};

use super::{parse_number, table};
use crate::exit::Usage;
use crate::timefmt;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it alone on stdout. It is shown only this once:
    /// the database keeps a hash.
    Create {
        /// read: read everything; supervise: also monitor calls as --supervisor,
        /// within that supervisor's grant; admin: everything.
        #[arg(long, value_parser = parse_scope)]
        scope: TokenScope,
        /// The supervisor extension a supervise token acts as (required for supervise).
        #[arg(long, value_name = "EXT", value_parser = parse_number)]
        supervisor: Option<String>,
    },
    /// List tokens (ids, never secrets).
    List,
    /// Revoke the token with id ID.
    Revoke { id: String },
}

fn parse_scope(s: &str) -> Result<TokenScope, String> {
    s.parse().map_err(|e: store::StoreError| e.to_string())
}

pub async fn run(store: &Store, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { scope, supervisor } => {
            match (scope, &supervisor) {
                (TokenScope::Supervise, None) => bail!(Usage(
                    "a supervise token acts as a supervisor: give --supervisor EXT".into()
                )),
                (TokenScope::Read | TokenScope::Admin, Some(_)) => bail!(Usage(format!(
                    "--supervisor only goes with --scope supervise, not {scope}"
                ))),
                _ => {}
            }
            let (token, secret) = store.token_create(scope, supervisor.as_deref()).await?;
            println!("{secret}");
            eprintln!(
                "token {} ({}) created; it is not shown again",
                token.id, token.scope
            );
        }
        TokenCommand::List => {
            let rows: Vec<Vec<String>> = store
                .token_list()
                .await?
                .into_iter()
                .map(|t| {
                    vec![
                        t.id,
                        t.scope.to_string(),
                        t.supervisor.unwrap_or_else(|| "-".into()),
                        format!("{} UTC", timefmt::utc(t.created_at)),
                        t.last_used
                            .map_or_else(|| "never".into(), |u| format!("{} UTC", timefmt::utc(u))),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["ID", "SCOPE", "SUPERVISOR", "CREATED", "LAST USED"],
                    &rows
                )
            );
        }
        TokenCommand::Revoke { id } => {
            if !store.token_revoke(&id).await? {
                bail!("token {id:?} does not exist");
            }
            println!("token {id} revoked");
        }
    }
    Ok(())
}
