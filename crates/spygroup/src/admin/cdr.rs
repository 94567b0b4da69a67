//! `spygroup cdr list`

use store::Store;

use crate::cli::CdrCommand;
use crate::timefmt;

pub async fn run(store: &Store, cmd: CdrCommand) -> anyhow::Result<()> {
    match cmd {
        CdrCommand::List { limit } => {
            for r in store.list_cdr(limit).await? {
                let taken = r.taken_over.as_ref().map_or(String::new(), |t| {
                    format!("  taken over by {} at {} UTC", t.by, timefmt::utc(t.at))
                });
                println!(
                    "{} UTC  {} -> {}  {}  {} (billsec {}){taken}",
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
