//! `spygroup dialplan check|show`: work on a dialplan file alone, no database
//! and no running server needed.

use std::path::{Path, PathBuf};

use anyhow::bail;
use dialplan::{Dialplan, Severity};

use crate::cli::DialplanCommand;
use crate::exit::Missing;

/// The dialplan `serve` would run when none is named.
const DEFAULT_DIALPLAN: &str = "config/extensions.conf";

/// `config_dialplan` is the config file's `dialplan`, the default for `show`.
pub fn run(
    cmd: DialplanCommand,
    config_dialplan: Option<&Path>,
    config_http: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    match cmd {
        DialplanCommand::Reload { http } => {
            let addr = http
                .or(config_http)
                .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8088)));
            reload(addr)
        }
        DialplanCommand::Check { file } => check(&file),
        DialplanCommand::Show { target, dialplan } => {
            let file = dialplan
                .or_else(|| config_dialplan.map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DIALPLAN));
            show(&file, target.as_deref().unwrap_or(""))
        }
    }
}

/// POSTs to the running server's reload endpoint (it answers local callers without a
/// token) and prints its answer.
fn reload(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let (status, body) = super::http::request(addr, "POST", "/api/v1/dialplan/reload", None, None)?;
    if status == 200 {
        println!(
            "dialplan reloaded, {} warning(s) (see the server log)",
            body["warnings"]
        );
        Ok(())
    } else {
        bail!(
            "{}",
            body["error"]
                .as_str()
                .unwrap_or("unexpected answer from the server")
        )
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    let diags = match Dialplan::load_with(file, &pbx::apps::load_options()) {
        Ok((_, warnings)) => warnings,
        Err(e) => e.diagnostics,
    };
    for d in &diags {
        println!("{d}");
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    if errors > 0 {
        bail!(Missing(format!(
            "{}: {errors} error(s), {warnings} warning(s): the dialplan would not load",
            file.display()
        )));
    }
    println!("{}: loads, {warnings} warning(s)", file.display());
    Ok(())
}

fn show(file: &Path, target: &str) -> anyhow::Result<()> {
    let plan = match Dialplan::load_with(file, &pbx::apps::load_options()) {
        Ok((plan, _)) => plan,
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            bail!(
                "{} does not load; run `spygroup dialplan check {}`",
                file.display(),
                file.display()
            );
        }
    };
    let (exten, context) = match target.split_once('@') {
        Some((e, c)) => (Some(e), c),
        None => (None, target),
    };
    let out = plan.show(context, exten);
    if out.starts_with("There is no existence") {
        bail!(Missing(out.trim_end().to_string()));
    }
    print!("{out}");
    Ok(())
}
