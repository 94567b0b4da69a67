//! `Authenticate(password[,options[,maxdigits[,prompt]]])`, as Asterisk's: up to
//! three tries of "agent-pass", digits ended by `#`, "auth-thankyou" or
//! "auth-incorrect"; three failures hang up after "vm-goodbye".
//!
//! The password may be:
//! - digits (Asterisk's literal form; better kept out of the dialplan, see below);
//! - with option `d`: a database key prefix: the entry `<prefix>/<digits>` must exist
//!   (Asterisk's AstDB form; option `r` removes it after use);
//! - a path starting with `/`: a file of accepted passwords, one per line;
//! - `argon2:<PHC>`: the PIN as `spygroup pin set` stores it (salted argon2id, see
//!   `store::pins`), so neither dialplan nor database holds it, nor a hash that
//!   falls to a dictionary; `sha256:<hex>` (unsalted, earlier versions' form) still
//!   works.
//!
//! Option `a` sets `ACCOUNTCODE` to the password entered.
//!
//! Failures count across calls (`crate::pinguard`): a caller that keeps guessing is
//! locked out, and a PIN guessed at from many callers is locked for all but those
//! who entered it before. Every failure and every refusal by a lock is in the
//! monitoring audit trail and the events (`monitor.denied`), with the code dialled.

use std::time::Duration;

use dialplan::{AppOutcome, ChannelVars};

use super::play::Played;
use super::{Input, PbxHost};

const TRIES: usize = 3;
const DIGIT_TIMEOUT: Duration = Duration::from_secs(10);

impl PbxHost {
    pub(super) async fn authenticate(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let password = a.first().copied().unwrap_or_default().to_string();
        let options = a.get(1).copied().unwrap_or_default().to_string();
        let max: usize = a
            .get(2)
            .and_then(|m| m.parse().ok())
            .filter(|m| *m > 0)
            .unwrap_or(64);
        let prompt = a
            .get(3)
            .copied()
            .filter(|p| !p.is_empty())
            .unwrap_or("agent-pass")
            .to_string();
        if password.is_empty() {
            return AppOutcome::Fail(
                "Authenticate: no password given (is the PIN set in the database? e.g. `spygroup db put spygroup pin_779 sha256:<hex>`)".into(),
            );
        }
        if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let caller = self.chan.caller.endpoint.clone();
        if let Err(locked) = self
            .env
            .pins
            .check(&caller, &password, std::time::Instant::now())
        {
            tracing::warn!(channel = %self.chan.name, %caller, "Authenticate: {}", locked.reason());
            self.audit_pin(locked.reason());
            return self.goodbye().await;
        }
        for attempt in 1..=TRIES {
            self.input.clear();
            let mut entered = String::new();
            let mut first = match self.play_file(&prompt, true).await {
                Played::Hangup => return AppOutcome::Hangup,
                Played::Digit(d) => Some(d),
                Played::Done | Played::Missing => None,
            };
            loop {
                let input = match first.take() {
                    Some(d) => Input::Digit(d),
                    None => self.input.next(&mut self.chan, Some(DIGIT_TIMEOUT)).await,
                };
                match input {
                    Input::Hangup => {
                        self.hung_up = true;
                        return AppOutcome::Hangup;
                    }
                    Input::Timeout | Input::Digit('#') | Input::Remote(_) => break,
                    Input::Digit(d) => {
                        entered.push(d);
                        if entered.len() >= max {
                            break;
                        }
                    }
                }
            }
            if self.password_ok(&password, &options, &entered).await {
                tracing::info!(channel = %self.chan.name, "Authenticate: accepted");
                self.env.pins.succeeded(&caller, &password);
                if options.contains('a') {
                    // Asterisk's `a`: the account code becomes what was entered.
                    vars.set("ACCOUNTCODE", &entered);
                }
                if let Played::Hangup = self.play_file("auth-thankyou", false).await {
                    return AppOutcome::Hangup;
                }
                return AppOutcome::Continue;
            }
            tracing::warn!(channel = %self.chan.name, caller = %self.chan.caller.number, attempt, "Authenticate: wrong password");
            let now = std::time::Instant::now();
            let locked = self
                .env
                .pins
                .failed(&caller, &password, &self.chan.dialled, now);
            self.env.pins.purge(now);
            self.audit_pin(&format!("wrong PIN (try {attempt} of {TRIES})"));
            if let Some(locked) = locked {
                tracing::warn!(channel = %self.chan.name, %caller, "Authenticate: {}", locked.reason());
                self.audit_pin(locked.reason());
                let _ = self.play_file("auth-incorrect", false).await;
                return self.goodbye().await;
            }
            if let Played::Hangup = self.play_file("auth-incorrect", false).await {
                return AppOutcome::Hangup;
            }
        }
        self.goodbye().await
    }

    async fn goodbye(&mut self) -> AppOutcome {
        let _ = self.play_file("vm-goodbye", false).await;
        self.chan.hangup(None);
        self.hung_up = true;
        AppOutcome::Hangup
    }

    /// A refused PIN in the monitoring audit trail and the events: who, from which
    /// channel, which code (what they dialled), why.
    fn audit_pin(&self, reason: &str) {
        let supervisor = self.chan.caller.endpoint.clone();
        let attempt = store::MonitorStart {
            id: format!("pin-{:016x}", rand::random::<u64>()),
            supervisor: supervisor.clone(),
            supervisor_channel: self.chan.name.clone(),
            target_endpoint: self.chan.dialled.clone(),
            target_channel: String::new(),
            peer_channel: None,
            mode: store::SpyMode::Listen.as_str().into(),
            started_at: std::time::SystemTime::now(),
        };
        let reason = format!("Authenticate at {}: {reason}", self.chan.dialled);
        self.env.config.submit(store::Write::MonitorDenied {
            attempt,
            reason: reason.clone(),
        });
        self.env.events.emit(crate::events::Event::MonitorDenied {
            supervisor,
            target_channel: String::new(),
            mode: store::SpyMode::Listen.as_str().into(),
            reason,
            session: None,
        });
    }

    async fn password_ok(&mut self, password: &str, options: &str, entered: &str) -> bool {
        if entered.is_empty() {
            return false;
        }
        if options.contains('d') {
            let prefix = password.trim_matches('/');
            let (family, key) = match prefix.split_once('/') {
                Some((f, k)) => (f.to_string(), format!("{k}/{entered}")),
                None => (prefix.to_string(), entered.to_string()),
            };
            let ok = self.env.config.db_get(&family, &key).is_some();
            if ok && options.contains('r') {
                let _ = self.env.config.db_del(&family, &key);
            }
            return ok;
        }
        if store::pins::is_secret(password) {
            // argon2 is slow on purpose: off the async threads.
            let (stored, entered) = (password.to_string(), entered.to_string());
            return tokio::task::spawn_blocking(move || store::pins::verify_pin(&stored, &entered))
                .await
                .unwrap_or(false);
        }
        if password.starts_with('/') {
            return match tokio::fs::read_to_string(password).await {
                Ok(text) => text.lines().any(|l| {
                    let l = l.trim();
                    !l.is_empty() && sip::auth::constant_time_eq(l.as_bytes(), entered.as_bytes())
                }),
                Err(e) => {
                    tracing::error!("Authenticate: cannot read password file {password}: {e}");
                    false
                }
            };
        }
        sip::auth::constant_time_eq(password.as_bytes(), entered.as_bytes())
    }
}
