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
