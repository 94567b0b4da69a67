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
            require_tls,
            require_srtp,
        } => {
            warn_if_weak(&number, Some(&secret));
            store
                .add_extension(&NewExtension {
                    number: number.clone(),
                    secret,
                    name,
                    context,
                    require_tls,
                    require_srtp,
                })
                .await?;
            println!("extension {number} added");
        }
        ExtCommand::List => {
            let rows: Vec<Vec<String>> = store
                .list_extensions()
                .await?
                .into_iter()
                .map(|e| {
                    let security = security(e.require_tls, e.require_srtp);
                    vec![e.number, e.name.unwrap_or_default(), e.context, security]
                })
                .collect();
            print!(
                "{}",
                table::render(&["NUMBER", "NAME", "CONTEXT", "SECURITY"], &rows)
            );
        }
        ExtCommand::Set {
            number,
            secret,
            name,
            context,
            require_tls,
            require_srtp,
        } => {
            if secret.is_none()
                && name.is_none()
                && context.is_none()
                && require_tls.is_none()
                && require_srtp.is_none()
            {
                bail!(Usage(
                    "nothing to change: give --secret, --name, --context, --require-tls \
                     and/or --require-srtp"
                        .into()
                ));
            }
            warn_if_weak(&number, secret.as_deref());
            store
                .update_extension(
                    &number,
                    &ExtensionUpdate {
                        secret,
                        name,
                        context,
                        require_tls,
                        require_srtp,
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

/// The `SECURITY` cell of `ext list`: `tls`, `srtp` or `tls,srtp` for what the
/// extension is held to, empty (like an unset name) when neither, so the usual
/// plain extension's row stays uncluttered.
fn security(require_tls: bool, require_srtp: bool) -> String {
    [(require_tls, "tls"), (require_srtp, "srtp")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, what)| *what)
        .collect::<Vec<_>>()
        .join(",")
}

/// Says on stderr when a secret is weak: stored all the same (the administrator
/// decides), but a guesser would find it first.
fn warn_if_weak(number: &str, secret: Option<&str>) {
    if let Some(why) = secret.and_then(|s| store::validate::weak_secret(number, s)) {
        eprintln!("warning: weak secret for {number}: {why}; choose a longer, random one");
    }
}
