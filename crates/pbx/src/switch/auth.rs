//! Digest authentication of extensions (REGISTER and INVITE), over the HA1 values
//! of the configuration snapshot.
//!
//! One answer for every failure: an unknown user, a wrong password and a locked-out
//! source all get the same response, so nobody can learn which extensions exist.
//!
//! Nonces are bound to the source address they were sent to, and only a wrong
//! answer to one of ours from that address counts as a failure (see
//! `sip::auth::LockoutTracker` for the rules): credentials with a made-up or
//! foreign nonce earn a fresh challenge and count for nothing, so nobody can lock
//! an extension or an address out by forging requests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sip::auth::{
    Algorithm, Challenge, Credentials, Lock, LockSubject, LockoutConfig, LockoutTracker,
    NonceCheck, NonceTracker,
};
use sip::{Request, Response};

/// What the authenticator decided about a request.
pub enum AuthOutcome {
    /// Credentials check out for this extension.
    Accepted(store::Extension),
    /// Send this (401/407 with fresh challenges, or 403).
    Reject(Response),
    /// The user is not in this snapshot; it may be in a fresher one (an extension
    /// added a moment ago): ask again with a newer snapshot before refusing.
    Unknown,
}

/// Digest verifier over HA1 values kept in the store.
pub struct Authenticator {
    realm: String,
    /// Offered in this order, one challenge header each.
    algorithms: Vec<Algorithm>,
    nonces: NonceTracker,
    lockout: LockoutTracker,
    /// Locks started since the switch last took them (to record and announce).
    started: Vec<Lock>,
    /// Compared against when the user does not exist (see `check`).
    dummy_ha1: String,
}

impl Authenticator {
    pub fn new(realm: String, algorithms: Vec<Algorithm>, lockout: LockoutConfig) -> Self {
        let secret: [u8; 32] = rand::random();
        Authenticator {
            realm,
            algorithms,
            nonces: NonceTracker::new(secret, Duration::from_secs(300)),
            lockout: LockoutTracker::with_config(lockout),
            started: Vec::new(),
            dummy_ha1: hex_of(&rand::random::<[u8; 16]>()),
        }
    }

    /// Checks the request's credentials. REGISTER uses 401/WWW-Authenticate, other
    /// requests 407/Proxy-Authenticate.
    /// With `may_wait`, an unknown user is answered `Unknown` (nothing recorded)
    /// rather than refused.
    pub fn check(
        &mut self,
        req: &Request,
        source: IpAddr,
        config: &store::ConfigSnapshot,
        may_wait: bool,
        now: Instant,
    ) -> AuthOutcome {
        let proxy = req.method != sip::Method::Register;
        let header = if proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        // Several credentials may be present (one per realm); use ours.
        let creds = req
            .headers
            .get_all(header)
            .filter_map(|v| Credentials::parse(v).ok())
            .find(|c| c.realm == self.realm && self.algorithms.contains(&c.algorithm));
        let Some(creds) = creds else {
            return AuthOutcome::Reject(self.challenge(req, source, proxy, false, now));
        };
        if let Some(lock) = self.lockout.locked(source, &creds.username, now) {
            tracing::warn!(%source, user = %creds.username, "authentication refused: {} locked out", lock.subject);
            return AuthOutcome::Reject(forbidden(req));
        }
        let binding = binding(source);
        if !self.nonces.recognises(&creds.nonce, now, &binding) {
            // Not a nonce we gave this address: no failure to count, just a challenge.
            return AuthOutcome::Reject(self.challenge(req, source, proxy, false, now));
        }
        // From the configuration snapshot: no database round trip, and a database
        // outage locks nobody out.
        let ext = config.extension(&creds.username).cloned();
        if ext.is_none() && may_wait {
            return AuthOutcome::Unknown;
        }
        // The password is checked before the nonce is consumed, so forged responses
        // cannot burn a phone's nonce counts. Unknown users are checked against a
        // dummy HA1 so they cost the same time as real ones.
        let ha1 = ext
            .as_ref()
            .map_or(self.dummy_ha1.as_str(), |ext| match creds.algorithm {
                Algorithm::Md5 => ext.ha1_md5.as_str(),
                Algorithm::Sha256 => ext.ha1_sha256.as_str(),
            });
        let ok = sip::auth::verify(&creds, req.method.as_str(), ha1) && ext.is_some();
        if ok {
            match self.nonces.check_for(&creds.nonce, creds.nc, now, &binding) {
                NonceCheck::Valid => {}
                NonceCheck::Stale => {
                    return AuthOutcome::Reject(self.challenge(req, source, proxy, true, now))
                }
                NonceCheck::Unknown | NonceCheck::Replay => {
                    return AuthOutcome::Reject(self.challenge(req, source, proxy, false, now))
                }
            }
        }
        match (ok, ext) {
            (true, Some(ext)) => {
                self.lockout.record_success(source, &creds.username, now);
                AuthOutcome::Accepted(ext)
            }
            _ => {
                tracing::warn!(%source, user = %creds.username, "authentication failed");
                let started = self.lockout.record_failure(source, &creds.username, now);
                self.started.extend(started);
                AuthOutcome::Reject(forbidden(req))
            }
        }
    }

    /// Checks an extension's secret typed into a form (the console's sign-in),
    /// against the same HA1 as digest and under the same locks: a failure counts
    /// as a digest failure from `source` does, and every refusal (no such user,
    /// wrong secret, locked out) is the same `None`.
    pub fn check_password(
        &mut self,
        user: &str,
        secret: &str,
        source: IpAddr,
        config: &store::ConfigSnapshot,
        now: Instant,
    ) -> Option<store::Extension> {
        if let Some(lock) = self.lockout.locked(source, user, now) {
            tracing::warn!(%source, %user, "console sign-in refused: {} locked out", lock.subject);
            return None;
        }
        let ext = config.extension(user).cloned();
        let stored = ext
            .as_ref()
            .map_or(self.dummy_ha1.as_str(), |e| e.ha1_md5.as_str());
        let typed = sip::auth::ha1(Algorithm::Md5, user, &self.realm, secret);
        let ok = sip::auth::constant_time_eq(typed.as_bytes(), stored.as_bytes()) && ext.is_some();
        if ok {
            self.lockout.record_success(source, user, now);
            ext
        } else {
            tracing::warn!(%source, %user, "console sign-in failed");
            let started = self.lockout.record_failure(source, user, now);
            self.started.extend(started);
            None
        }
    }

    /// The locks started since the last call.
    pub fn take_started(&mut self) -> Vec<Lock> {
        std::mem::take(&mut self.started)
    }

    /// Every lock in force.
    pub fn locks(&self, now: Instant) -> Vec<Lock> {
        self.lockout.locks(now)
    }

    /// Lifts a lock; false when it was not in force.
    pub fn lift(&mut self, subject: &LockSubject, now: Instant) -> bool {
        self.lockout.lift(subject, now)
    }

    /// Puts back a lock kept across a restart.
    pub fn restore(&mut self, subject: LockSubject, until: Instant, count: u32, now: Instant) {
        self.lockout.restore(subject, until, count, now);
    }

    fn challenge(
        &mut self,
        req: &Request,
        source: IpAddr,
        proxy: bool,
        stale: bool,
        now: Instant,
    ) -> Response {
        let nonce = self.nonces.issue_for(now, &binding(source));
        let (status, header) = if proxy {
            (407, "Proxy-Authenticate")
        } else {
            (401, "WWW-Authenticate")
        };
        let mut resp = Response::for_request(req, status, Response::reason_phrase(status));
        for &algorithm in &self.algorithms {
            let c = Challenge {
                realm: self.realm.clone(),
                nonce: nonce.clone(),
                algorithm,
                opaque: None,
                stale,
            };
            resp.headers.push(header, c.to_header_value());
        }
        resp
    }

    /// Forgets expired nonces and lockouts.
    pub fn purge(&mut self, now: Instant) {
        self.nonces.purge(now);
        self.lockout.purge(now);
    }
}

/// What a nonce is bound to: the address it was sent to.
fn binding(source: IpAddr) -> Vec<u8> {
    match source {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn forbidden(req: &Request) -> Response {
    Response::for_request(req, 403, "Forbidden")
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
