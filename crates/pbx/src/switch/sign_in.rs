//! Signing in to the web console with an extension's number and secret.
//!
//! The secret is the one the extension's phone registers with, so the check goes
//! through the digest authenticator and its locks: a guess typed into the console
//! counts as a wrong REGISTER from the same address does, a source locked for
//! guessing over SIP cannot go on guessing in the browser, and the other way round.

use std::net::IpAddr;
use std::time::Instant;

use super::Switch;

/// Who signed in: the extension, and its supervisor grant if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub extension: store::Extension,
    pub grant: Option<store::Grant>,
}

impl Switch {
    /// `None` for every refusal alike (no such extension, a wrong secret, a lock),
    /// so the console tells nobody which extensions exist. Locks this failure
    /// starts are recorded and announced as digest locks are.
    pub fn sign_in(
        &mut self,
        extension: &str,
        secret: &str,
        source: IpAddr,
        now: Instant,
    ) -> Option<ConsoleUser> {
        let ext = self
            .auth
            .check_password(extension, secret, source, &self.config, now);
        self.publish_locks(now);
        let ext = ext?;
        let grant = self.config.supervisor(&ext.number).cloned();
        Some(ConsoleUser {
            extension: ext,
            grant,
        })
    }
}
