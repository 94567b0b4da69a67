//! `spygroup cdr list`

use store::Store;

use crate::cli::CdrCommand;
use crate::timefmt;

pub async fn run(store: &Store, cmd: CdrCommand) -> anyhow::Result<()> {
    match cmd {
        CdrCommand::List { limit } => {
            for r in store.list_cdr(limit).await? {
                println!(
                    "{} UTC  {} -> {}  {}  {} (billsec {})",
                    timefmt::utc(r.start_at),
                    r.caller,
                    r.callee,
                    r.disposition,
                    timefmt::duration_ms(r.duration_ms),
                    timefmt::duration_ms(r.billsec_ms),
                );
            }
        }
    }
    Ok(())
}
