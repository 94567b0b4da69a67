//! spygroup: the PBX server (`serve`) and its admin CLI.
//!
//! Exit codes: 0 success, 1 run-time failure (database unreachable, entry not
//! found), 2 bad arguments or a bad config file.

mod admin;
mod cli;
mod config;
mod exit;
mod https;
mod logging;
mod netaddr;
mod serve;
mod settings;
mod timefmt;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // clap prints its own message and exits 2 on bad arguments (0 for --help).
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spygroup: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| c.is::<exit::Missing>()) {
                eprintln!("{e}");
            } else {
                eprintln!("spygroup: error: {}", describe(&e));
            }
            exit::code_for(&e)
        }
    }
}

/// The error chain joined with `: `, skipping causes already quoted by the message
/// above them (our errors embed their OS reason so they read well on their own).
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = config::load(cli.config.as_deref())?;
    let file_cfg = file.as_ref().map(|(_, c)| c);
    match cli.command {
        Command::Serve(args) => {
            let level = file_cfg.and_then(|c| c.log_level.clone());
            if let Some(l) = &level {
                tracing_subscriber::EnvFilter::try_new(l)
                    .map_err(|e| exit::Usage(format!("log_level {l:?} in the config file: {e}")))?;
            }
            logging::init(cli.log_level.as_deref(), level.as_deref().unwrap_or("info"));
            if let Some((path, _)) = &file {
                tracing::info!("config read from {}", path.display());
            }
            let settings = settings::resolve(&args, cli.db.as_deref(), file_cfg)?;
            serve::run(settings).await
        }
        // Works on a file alone: no database to open.
        Command::Dialplan(c) => {
            logging::init(cli.log_level.as_deref(), "warn");
            admin::dialplan::run(
                c,
                file_cfg.and_then(|c| c.dialplan.as_deref()),
                file_cfg.and_then(|c| c.http),
            )
        }
        // Talk to the running server's API, not to the database.
        Command::Calls(api) => {
            logging::init(cli.log_level.as_deref(), "warn");
            admin::live::calls(api, file_cfg.and_then(|c| c.http))
        }
        Command::Monitor(cmd) => {
            logging::init(cli.log_level.as_deref(), "warn");
            admin::live::monitor(cmd, file_cfg.and_then(|c| c.http))
        }
        Command::Conf(cmd) => {
            logging::init(cli.log_level.as_deref(), "warn");
            admin::conf::run(cmd, file_cfg.and_then(|c| c.http))
        }
        Command::Security(cmd) => {
            logging::init(cli.log_level.as_deref(), "warn");
            admin::security::run(cmd, file_cfg.and_then(|c| c.http))
        }
        other => {
            logging::init(cli.log_level.as_deref(), "warn");
            let url = settings::db_url(cli.db.as_deref(), file_cfg);
            let origin = match (&cli.db, &file) {
                (Some(_), _) => "from --db".to_string(),
                (None, Some((path, cfg))) if cfg.db.is_some() => {
                    format!("`db` in {}", path.display())
                }
                (None, Some((path, _))) => {
                    format!(
                        "the default, as there is no --db and no `db` in {}",
                        path.display()
                    )
                }
                (None, None) => format!(
                    "the default, as there is no --db and no ./{}",
                    config::DEFAULT_CONFIG
                ),
            };
            let recordings = file_cfg.and_then(|c| c.recordings.as_deref());
            admin::run(other, &url, &origin, recordings).await
        }
    }
}
