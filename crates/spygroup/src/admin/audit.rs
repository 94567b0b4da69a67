//! `spygroup audit list`: the monitoring audit trail, one block per session.
//!
//! The first line of a block says who monitored whom and how it ended:
//!
//! ```text
//! 2025-01-01 00:01:40 UTC  200 (SIP/200-00000003) -> SIP/110-00000001 [SIP/carrier-00000002]  listen  1:05  END 2025-01-01 00:02:45 UTC  supervisor hung up
//!   2025-01-01 00:01:50 UTC  mode whisper
//! 2025-01-01 00:00:10 UTC  300 (SIP/300-00000009) -> SIP/110-00000001  barge  DENIED  not in a spy group of 110
//! ```
//!
//! Indented lines follow with the mode changes, so a block reads top to bottom in time.

use std::fmt::Write as _;
use std::time::Duration;

use store::{MonitorRecord, Store};

use crate::cli::AuditCommand;
use crate::timefmt;

pub async fn run(store: &Store, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List { limit } => {
            for r in store.list_monitors(limit).await? {
                print!("{}", block(&r));
            }
        }
    }
    Ok(())
}

/// Replaces control characters. The store refuses them, but other systems may write
/// to a shared PostgreSQL database directly, and an audit report must not let a stored
/// value forge lines or send escape sequences to the reader's terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The printed block of one session, ending with a newline (also shown under a
/// recording by `recordings show`).
pub(super) fn block(r: &MonitorRecord) -> String {
    // A refused attempt may have been stopped before a channel was chosen.
    let target = if r.target_channel.is_empty() {
        &r.target_endpoint
    } else {
        &r.target_channel
    };
    let mut out = format!(
        "{} UTC  {} ({}) -> {}",
        timefmt::utc(r.started_at),
        clean(&r.supervisor),
        clean(&r.supervisor_channel),
        clean(target),
    );
    if let Some(peer) = &r.peer_channel {
        let _ = write!(out, " [{}]", clean(peer));
    }
    let _ = write!(out, "  {}  ", clean(&r.mode));
    let reason = clean(r.end_reason.as_deref().unwrap_or(""));
    match (r.outcome.as_str(), r.ended_at) {
        ("denied", _) => {
            let _ = write!(out, "DENIED  {reason}");
        }
        (_, Some(end)) => {
            let took = end
                .duration_since(r.started_at)
                .unwrap_or(Duration::ZERO)
                .as_millis();
            let _ = write!(
                out,
                "{}  END {} UTC  {reason}",
                timefmt::duration_ms(u64::try_from(took).unwrap_or(u64::MAX)),
                timefmt::utc(end),
            );
        }
        // Still running, or the server stopped before it could record the end:
        // the store cannot tell which, so say only what is known.
        (_, None) => out.push_str("(no end recorded)"),
    }
    out.push('\n');
    for e in &r.events {
        // The header already shows the start, the end and a refusal; anything else
        // (mode changes, and kinds a newer version may add) gets its own line.
        if matches!(e.kind.as_str(), "start" | "end" | "denied") {
            continue;
        }
        let _ = writeln!(
            out,
            "  {} UTC  {} {}",
            timefmt::utc(e.at),
            clean(&e.kind),
            clean(&e.detail)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};
    use store::MonitorEvent;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn record() -> MonitorRecord {
        MonitorRecord {
            id: "m".into(),
            supervisor: "200".into(),
            supervisor_channel: "SIP/200-1".into(),
            target_endpoint: "110".into(),
            target_channel: "SIP/110-2".into(),
            peer_channel: None,
            mode: "listen".into(),
            started_at: at(0),
            ended_at: None,
            end_reason: None,
            outcome: "allowed".into(),
            events: vec![MonitorEvent {
                at: at(0),
                kind: "start".into(),
                detail: "listen".into(),
            }],
        }
    }

    #[test]
    fn unended_and_denied_sessions() {
        assert_eq!(
            block(&record()),
            "1970-01-01 00:00:00 UTC  200 (SIP/200-1) -> SIP/110-2  listen  (no end recorded)\n"
        );
        let mut denied = record();
        denied.outcome = "denied".into();
        denied.target_channel.clear();
        denied.ended_at = Some(at(0));
        denied.end_reason = Some("wrong PIN".into());
        assert_eq!(
            block(&denied),
            "1970-01-01 00:00:00 UTC  200 (SIP/200-1) -> 110  listen  DENIED  wrong PIN\n"
        );
    }

    #[test]
    fn control_characters_are_not_printed() {
        let mut r = record();
        r.supervisor = "200\n1970-01-01 forged\u{1b}[2J".into();
        let out = block(&r);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(!out.contains('\u{1b}'));
    }
}
