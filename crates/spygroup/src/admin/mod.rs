//! The admin CLI: each command opens the database, does one thing, and exits.
//! It works whether or not the server runs (SQLite in WAL mode, or PostgreSQL).

mod audit;
mod cdr;
pub mod conf;
mod db;
pub mod dialplan;
mod ext;
pub mod group;
mod http;
pub mod live;
pub mod monitoring;
pub mod queue;
pub mod recordings;
pub mod rule;
pub mod security;
pub mod supervisor;
mod table;
pub mod token;
mod trunk;

use std::path::Path;

use anyhow::Context;
use store::Store;

use crate::cli::{Command, DbCommand, ExtCommand, TrunkCommand};

/// Runs one admin command against the database at `url`; `origin` says where the
/// URL came from (`--db`, a config file, the default), for the message when a
/// SQLite file is missing. `recordings` is the config file's recordings folder.
pub async fn run(
    command: Command,
    url: &str,
    origin: &str,
    recordings: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = store::sqlite_file(url) {
        if !path.exists() && !may_create_database(&command) {
            anyhow::bail!(missing_database(&path, url, origin));
        }
    }
    let store = Store::open(url)
        .await
        .with_context(|| format!("cannot use database {}", store::redact_url(url)))?;
    let result = match command {
        Command::Ext(c) => ext::run(&store, c).await,
        Command::Trunk(c) => trunk::run(&store, c).await,
        Command::Db(c) => db::run(&store, c).await,
        Command::Pin(c) => db::pin(&store, c).await,
        Command::Cdr(c) => cdr::run(&store, c).await,
        Command::Audit(c) => audit::run(&store, c).await,
        Command::Group(c) => group::run(&store, c).await,
        Command::Supervisor(c) => supervisor::run(&store, c).await,
        Command::Token(c) => token::run(&store, c).await,
        Command::Rule(c) => rule::run(&store, c).await,
        Command::Queue(c) => queue::run(&store, c).await,
        Command::Agent(c) => queue::agent(&store, c).await,
        Command::Monitoring(c) => monitoring::run(&store, c).await,
        Command::Recordings(c) => recordings::run(&store, c, recordings).await,
        Command::Serve(_) => Err(anyhow::anyhow!("serve is not an admin command")),
        Command::Dialplan(c) => dialplan::run(c, None, None),
        Command::Calls(api) => live::calls(api, None),
        Command::Monitor(c) => live::monitor(c, None),
        Command::Conf(c) => conf::run(c, None),
        Command::Security(c) => security::run(c, None),
    };
    store.close().await;
    result
}

/// Whether `command` can do its job on a database that does not exist yet, because
/// it adds something that needs nothing else stored: those create the database (as
/// `serve` does), so a first `spygroup ext add` works before the server ever ran.
/// Every other command refuses on a missing file rather than create an empty one:
/// a read (`ext list`, `db show`, `cdr list`, ...) would show nothing and hide that
/// it ran in the wrong directory, and a change, a delete or a link between stored
/// things (`group member add`, `supervisor grant`, `rule add`, a supervisor's token)
/// could only fail on an empty database.
fn may_create_database(command: &Command) -> bool {
    use group::{GroupCommand, MemberCommand};
    match command {
        Command::Ext(c) => matches!(c, ExtCommand::Add { .. }),
        Command::Trunk(c) => matches!(c, TrunkCommand::Add { .. }),
        Command::Db(c) => matches!(c, DbCommand::Put { .. }),
        Command::Pin(_) => true,
        Command::Queue(c) => matches!(c, queue::QueueCommand::Add { .. }),
        Command::Agent(_) => false,
        Command::Group(c) => match c {
            GroupCommand::Add { .. } => true,
            GroupCommand::Del { .. }
            | GroupCommand::List
            | GroupCommand::Notice { .. }
            | GroupCommand::Member(MemberCommand::Add { .. } | MemberCommand::Del { .. }) => false,
        },
        Command::Token(c) => matches!(
            c,
            token::TokenCommand::Create {
                supervisor: None,
                ..
            }
        ),
        Command::Monitoring(args) => args.policy.is_some(),
        Command::Cdr(_)
        | Command::Audit(_)
        | Command::Recordings(_)
        | Command::Supervisor(_)
        | Command::Rule(_)
        | Command::Serve(_)
        | Command::Dialplan(_)
        | Command::Calls(_)
        | Command::Conf(_)
        | Command::Security(_)
        | Command::Monitor(_) => false,
    }
}

/// What to say when the SQLite file `path` does not exist: where we looked, why
/// there, and the ways out.
fn missing_database(path: &Path, url: &str, origin: &str) -> String {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!(
        "no database at {} ({url}: {origin}); nothing was created\n  \
         `spygroup serve` creates it on first start, and so do the commands that add \
         configuration (`ext add`, `trunk add`, `group add`, `db put`, ...).\n  \
         To use an existing database: run the command in the directory `spygroup serve` \
         runs in, pass --db URL, or set `db` in spygroup.toml.",
        shown.display()
    )
}

/// Value parsers shared by the spy group commands: the store's own rules, so bad
/// input exits 2 before the database is opened.
fn store_rule(
    rule: impl Fn(&str) -> Result<(), store::StoreError>,
    s: &str,
) -> Result<String, String> {
    rule(s).map(|()| s.to_string()).map_err(|e| e.to_string())
}

fn parse_number(s: &str) -> Result<String, String> {
    store_rule(store::validate::extension_number, s)
}

fn parse_group(s: &str) -> Result<String, String> {
    store_rule(store::validate::group_name, s)
}

fn parse_trunk(s: &str) -> Result<String, String> {
    store_rule(store::validate::trunk_name, s)
}

/// A checked comma-separated list of group names (a newtype: clap would read a bare
/// Vec as repeated values).
#[derive(Debug, Clone)]
pub struct GroupList(pub Vec<String>);

fn parse_group_list(s: &str) -> Result<GroupList, String> {
    match s.parse::<store::GroupScope>() {
        Ok(store::GroupScope::Groups(g)) => Ok(GroupList(g)),
        Ok(store::GroupScope::All) => Err("name the spy groups; `all` is not allowed here".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces control characters: other systems may write the database directly,
/// and a listing must not let a stored value forge lines or drive the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
