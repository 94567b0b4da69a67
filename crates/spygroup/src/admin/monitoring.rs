//! `spygroup monitoring [open|restricted]`: who may spy at all.

use clap::{Args, ValueEnum};
use store::Store;

/// Restricted (the default): a supervisor may only monitor calls in the spy groups
/// of its grant, in the modes of its grant (`spygroup supervisor grant`), and an
/// extension that is not a supervisor may not monitor. Open: Asterisk's behaviour,
/// anyone who can dial ChanSpy/ExtenSpy may spy on whatever its options select.
#[derive(Debug, Args)]
pub struct MonitoringArgs {
    /// open | restricted; without it, print the current policy.
    #[arg(value_enum)]
    pub policy: Option<Policy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Asterisk's behaviour: anyone who can dial ChanSpy may spy (no grants checked).
    Open,
    /// Only supervisors, within their granted groups and modes.
    Restricted,
}

fn describe(open: bool) -> &'static str {
    if open {
        "monitoring is open: anyone who can dial ChanSpy/ExtenSpy may spy (Asterisk's behaviour)"
    } else {
        "monitoring is restricted: supervisors may only monitor their granted groups in their granted modes"
    }
}

pub async fn run(store: &Store, args: MonitoringArgs) -> anyhow::Result<()> {
    let open = match args.policy {
        Some(p) => {
            let open = p == Policy::Open;
            store.set_monitoring_open(open).await?;
            open
        }
        None => store.monitoring_open().await?,
    };
    println!("{}", describe(open));
    Ok(())
}
