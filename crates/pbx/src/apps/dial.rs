//! `Dial(SIP/110[&SIP/111...][,timeout[,options]])`: ring endpoints, bridge the
//! first to answer, return when the call ends (DIALSTATUS). Variables marked `_VAR`
//! and `__VAR` travel to the new channel, so an inbound call's `__SPYGROUP` marks the
//! agent's channel for ChanSpy's `g()`.

use std::time::Duration;

use dialplan::{AppOutcome, ChannelVars};

use super::PbxHost;
use crate::chan::DialStatus;

impl PbxHost {
    pub(super) async fn dial(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let targets = a.first().copied().unwrap_or_default();
        let timeout = a
            .get(1)
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .map(Duration::from_secs_f64);
        let mut endpoints = Vec::new();
        for t in targets.split('&').map(str::trim).filter(|t| !t.is_empty()) {
            match parse_target(t) {
                Some(ep) => endpoints.push(ep),
                None => {
                    tracing::warn!(channel = %self.chan.name, "Dial: cannot dial {t:?} (only SIP/<extension> is supported)")
                }
            }
        }
        if endpoints.is_empty() {
            vars.set("DIALSTATUS", DialStatus::ChanUnavail.as_str());
            return AppOutcome::Continue;
        }
        // The callee's audio replaces whatever the PBX was playing.
        self.media.stop_play(self.side);
        self.media.set_local(self.side, false);
        let outcome = self.chan.dial(endpoints, timeout, vars.inherited()).await;
        vars.set("DIALSTATUS", outcome.status.as_str());
        if self.answered || outcome.status == DialStatus::Answer {
            self.answered = true;
        }
        if outcome.status == DialStatus::Cancel {
            self.hung_up = true;
            return AppOutcome::Hangup;
        }
        if self.answered {
            // Back to the PBX: it may play prompts again.
            self.media.set_local(self.side, true);
        }
        if let Some(t) = self.chan.take_transferred() {
            tracing::info!(channel = %self.chan.name, by = %t.by, "blind transfer to {}@{}", t.exten, t.context);
            vars.set("BLINDTRANSFER", &t.by);
            return AppOutcome::Goto {
                context: t.context,
                exten: t.exten,
            };
        }
        AppOutcome::Continue
    }

    /// `Transfer([tech/]dest)`: sends the caller's phone to `dest` on this PBX (a 302
    /// before answer, a REFER after), sets `TRANSFERSTATUS` (SUCCESS, FAILURE,
    /// UNSUPPORTED) and `TRANSFERSTATUSPROTOCOL` (the SIP status), and goes on, as
    /// Asterisk's. After a success the phone hangs this call up by itself.
    pub(super) async fn transfer(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let dest = args.split(',').next().unwrap_or_default().trim();
        let exten = parse_target(dest).unwrap_or_else(|| dest.to_string());
        let valid = !exten.is_empty()
            && exten.len() <= 64
            && exten.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '+' | '-' | '_' | '.')
            });
        if !valid {
            tracing::warn!(channel = %self.chan.name, "Transfer({args}): not a destination (write Transfer(SIP/120) or Transfer(120))");
            vars.set(
                "TRANSFERSTATUS",
                crate::chan::TransferStatus::Failure.as_str(),
            );
            return AppOutcome::Continue;
        }
        let (status, sip) = self.chan.transfer(&exten).await;
        tracing::info!(channel = %self.chan.name, %exten, status = status.as_str(), sip, "Transfer");
        vars.set("TRANSFERSTATUS", status.as_str());
        vars.set("TRANSFERSTATUSPROTOCOL", &sip.to_string());
        AppOutcome::Continue
    }
}

/// `SIP/110`, `sip/110`, `PJSIP/110` -> `110`.
fn parse_target(t: &str) -> Option<String> {
    let (tech, rest) = t.split_once('/')?;
    if !tech.eq_ignore_ascii_case("sip") && !tech.eq_ignore_ascii_case("pjsip") {
        return None;
    }
    let ep = rest.split('/').next()?.trim();
    (!ep.is_empty()).then(|| ep.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn targets() {
        assert_eq!(parse_target("SIP/110").as_deref(), Some("110"));
        assert_eq!(parse_target("pjsip/110").as_deref(), Some("110"));
        assert_eq!(parse_target("IAX2/110"), None);
        assert_eq!(parse_target("SIP/"), None);
    }
}
