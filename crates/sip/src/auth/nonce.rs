//! Nonce issuing and checking, I/O-free (fed `now`).
//!
//! A nonce is `hex(issued_ms ‖ serial ‖ HMAC-SHA256(secret, issued_ms ‖ serial)[..16])`:
//! - the MAC makes nonces unforgeable and self-describing, so a nonce we
//!   issued but no longer track is still recognised and answered as `Stale`
//!   (the phone retries silently) instead of `Unknown` (the phone may prompt
//!   the user for a password);
//! - a small map keyed by serial keeps the highest `nc` seen per live nonce
//!   for replay detection. It is bounded: flooding us with unauthenticated
//!   requests (each one earns a challenge) evicts the oldest entries, whose
//!   owners merely get `Stale` and re-authenticate.
//!
//! A nonce may be bound to something of the requester's (the PBX binds its source
//! address): the MAC then covers it too, so a nonce fetched from one address is
//! not ours when presented from another. That is what lets the PBX count only
//! failures against nonces it issued to that very source, so nobody can make
//! failures count against an address they cannot receive packets at.
//!
//! The serial starts at a random value so that a restart with the same
//! secret cannot re-issue a nonce seen in a previous run.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::constant_time_eq;

const TIME_LEN: usize = 8;
const SERIAL_LEN: usize = 8;
const MAC_LEN: usize = 16;
const RAW_LEN: usize = TIME_LEN + SERIAL_LEN + MAC_LEN;

/// Default bound on tracked nonces; ~50 bytes each.
pub const DEFAULT_MAX_LIVE: usize = 16_384;

/// Outcome of [`NonceTracker::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Fresh nonce and a higher `nc` than seen before: accept.
    Valid,
    /// Ours but expired or no longer tracked: re-challenge with `stale=true`.
    Stale,
    /// Not issued by this tracker (forged, garbled, or from before a restart
    /// with another secret): re-challenge without `stale`.
    Unknown,
    /// `nc` not higher than one already accepted for this nonce: reject.
    Replay,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    issued: Instant,
    /// Highest accepted nonce count; 0 before first use, as clients start at 1.
    last_nc: u32,
}

/// Issues and validates digest nonces.
#[derive(Debug)]
pub struct NonceTracker {
    secret: [u8; 32],
    lifetime: Duration,
    max_live: usize,
    /// Reference for the timestamps inside nonces; set on the first `issue`.
    epoch: Option<Instant>,
    next_serial: u64,
    live: HashMap<u64, Entry>,
    /// Serials in issue order, for eviction and purging oldest first.
    order: VecDeque<u64>,
}

impl NonceTracker {
    /// `secret` should be random per process (or shared by cluster nodes that
    /// must accept each other's nonces); `lifetime` is how long a nonce stays
    /// valid after issue.
    pub fn new(secret: [u8; 32], lifetime: Duration) -> NonceTracker {
        NonceTracker {
            secret,
            lifetime,
            max_live: DEFAULT_MAX_LIVE,
            epoch: None,
            next_serial: rand::random(),
            live: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Changes the bound on tracked nonces (at least 1).
    pub fn with_max_live(mut self, max_live: usize) -> NonceTracker {
        self.max_live = max_live.max(1);
        self
    }

    /// Nonce lifetime given at construction.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Number of nonces currently tracked for replay detection.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Issues a fresh nonce (64 lowercase hex characters), bound to nothing.
    pub fn issue(&mut self, now: Instant) -> String {
        self.issue_for(now, &[])
    }

    /// Issues a fresh nonce valid only with the same `binding` (e.g. the source
    /// address's bytes) in [`NonceTracker::check_for`].
    pub fn issue_for(&mut self, now: Instant, binding: &[u8]) -> String {
        let epoch = *self.epoch.get_or_insert(now);
        let ms =
            u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX);
        // Store the instant the nonce encodes, so tracking and decoding agree.
        let issued = epoch + Duration::from_millis(ms);
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);

        while self.live.len() >= self.max_live {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        self.live.insert(serial, Entry { issued, last_nc: 0 });
        self.order.push_back(serial);

        let mut raw = [0u8; RAW_LEN];
        raw[..TIME_LEN].copy_from_slice(&ms.to_be_bytes());
        raw[TIME_LEN..TIME_LEN + SERIAL_LEN].copy_from_slice(&serial.to_be_bytes());
        let mac = self.mac(&raw[..TIME_LEN + SERIAL_LEN], binding);
        raw[TIME_LEN + SERIAL_LEN..].copy_from_slice(&mac[..MAC_LEN]);
        hex::encode(raw)
    }

    /// Checks a nonce presented with credentials that already passed
    /// [`super::verify`]; on `Valid` records `nc` so it cannot be reused.
    ///
    /// `nc` is `None` for RFC 2069 clients (no qop): those reuse the nonce
    /// with no counter, so they get `Valid` until the nonce expires.
    pub fn check(&mut self, nonce: &str, nc: Option<u32>, now: Instant) -> NonceCheck {
        self.check_for(nonce, nc, now, &[])
    }

    /// [`NonceTracker::check`] for a nonce issued with [`NonceTracker::issue_for`]:
    /// another `binding` makes it `Unknown`.
    pub fn check_for(
        &mut self,
        nonce: &str,
        nc: Option<u32>,
        now: Instant,
        binding: &[u8],
    ) -> NonceCheck {
        let Some((issued, serial)) = self.issued_at(nonce, now, binding) else {
            return NonceCheck::Unknown;
        };
        if now.duration_since(issued) > self.lifetime {
            return NonceCheck::Stale;
        }
        let Some(entry) = self.live.get_mut(&serial) else {
            // Ours and young, but evicted: we can no longer rule out a replay.
            return NonceCheck::Stale;
        };
        match nc {
            None => NonceCheck::Valid,
            Some(n) if n > entry.last_nc => {
                entry.last_nc = n;
                NonceCheck::Valid
            }
            Some(_) => NonceCheck::Replay,
        }
    }

    /// True when this tracker issued `nonce` for `binding` (young or expired),
    /// without touching its state: a wrong password against such a nonce comes
    /// from someone who really talked to us from there.
    pub fn recognises(&self, nonce: &str, now: Instant, binding: &[u8]) -> bool {
        self.issued_at(nonce, now, binding).is_some()
    }

    /// When `nonce` was issued and its serial, if it carries our MAC for `binding`.
    fn issued_at(&self, nonce: &str, now: Instant, binding: &[u8]) -> Option<(Instant, u64)> {
        let (ms, serial) = self.decode(nonce, binding)?;
        let issued = self
            .epoch
            .and_then(|e| e.checked_add(Duration::from_millis(ms)))?;
        // Later than now: only possible with a foreign tracker sharing our secret.
        (issued <= now).then_some((issued, serial))
    }

    /// Forgets nonces older than the lifetime. Call periodically; `check`
    /// stays correct without it, this only returns memory.
    pub fn purge(&mut self, now: Instant) {
        let lifetime = self.lifetime;
        self.live
            .retain(|_, e| now.saturating_duration_since(e.issued) <= lifetime);
        let live = &self.live;
        self.order.retain(|s| live.contains_key(s));
    }

    /// Returns `(issued_ms, serial)` when `nonce` carries our MAC.
    fn decode(&self, nonce: &str, binding: &[u8]) -> Option<(u64, u64)> {
        if nonce.len() != RAW_LEN * 2 {
            return None;
        }
        let raw = hex::decode(nonce).ok()?;
        let (body, mac) = raw.split_at(TIME_LEN + SERIAL_LEN);
        if !constant_time_eq(&self.mac(body, binding)[..MAC_LEN], mac) {
            return None;
        }
        let ms = u64::from_be_bytes(body[..TIME_LEN].try_into().ok()?);
        let serial = u64::from_be_bytes(body[TIME_LEN..].try_into().ok()?);
        Some((ms, serial))
    }

    fn mac(&self, body: &[u8], binding: &[u8]) -> [u8; 32] {
        if binding.is_empty() {
            return hmac_sha256(&self.secret, body);
        }
        let mut msg = Vec::with_capacity(body.len() + binding.len());
        msg.extend_from_slice(body);
        msg.extend_from_slice(binding);
        hmac_sha256(&self.secret, &msg)
    }
}

/// HMAC-SHA256 (RFC 2104) for a 32-byte key, which fits one 64-byte block.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    fn tracker() -> NonceTracker {
        NonceTracker::new(SECRET, Duration::from_secs(300))
    }

    #[test]
    fn hmac_matches_python_hmac() {
        // Computed with Python hmac: HMAC-SHA256(key=0x07*32, "spygroup").
        let mac = hmac_sha256(&SECRET, b"spygroup");
        assert_eq!(
            hex::encode(mac),
            "a166eca9ea58896348837582013654914162573532148e273b3e1db730b3acba"
        );
    }

    #[test]
    fn issued_nonce_is_valid_and_unique() {
        let t0 = Instant::now();
        let mut t = tracker();
        let a = t.issue(t0);
        let b = t.issue(t0);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(t.check(&a, Some(1), t0), NonceCheck::Valid);
        assert_eq!(t.check(&b, Some(1), t0), NonceCheck::Valid);
    }

    #[test]
    fn nc_must_strictly_increase() {
        let t0 = Instant::now();
        let mut t = tracker();
        let n = t.issue(t0);
        assert_eq!(t.check(&n, Some(1), t0), NonceCheck::Valid);
        assert_eq!(t.check(&n, Some(1), t0), NonceCheck::Replay);
        assert_eq!(t.check(&n, Some(3), t0), NonceCheck::Valid);
        assert_eq!(t.check(&n, Some(2), t0), NonceCheck::Replay);
        assert_eq!(t.check(&n, Some(0x100), t0), NonceCheck::Valid);
        assert_eq!(t.check(&n, Some(u32::MAX), t0), NonceCheck::Valid);
        assert_eq!(t.check(&n, Some(u32::MAX), t0), NonceCheck::Replay);
        // nc=0 is never valid: clients start at 1.
        let m = t.issue(t0);
        assert_eq!(t.check(&m, Some(0), t0), NonceCheck::Replay);
    }

    #[test]
    fn rfc2069_clients_reuse_until_expiry() {
        let t0 = Instant::now();
        let mut t = tracker();
        let n = t.issue(t0);
        assert_eq!(t.check(&n, None, t0), NonceCheck::Valid);
        assert_eq!(
            t.check(&n, None, t0 + Duration::from_secs(10)),
            NonceCheck::Valid
        );
        assert_eq!(
            t.check(&n, None, t0 + Duration::from_secs(301)),
            NonceCheck::Stale
        );
    }

    #[test]
    fn stale_after_lifetime_in_virtual_time() {
        let t0 = Instant::now();
        let mut t = tracker();
        let n = t.issue(t0);
        assert_eq!(
            t.check(&n, Some(1), t0 + Duration::from_secs(300)),
            NonceCheck::Valid
        );
        assert_eq!(
            t.check(&n, Some(2), t0 + Duration::from_millis(300_001)),
            NonceCheck::Stale
        );
        // Still recognised as ours (stale, not unknown) after purge forgot it.
        t.purge(t0 + Duration::from_secs(400));
        assert_eq!(t.live_count(), 0);
        assert_eq!(
            t.check(&n, Some(3), t0 + Duration::from_secs(400)),
            NonceCheck::Stale
        );
    }

    #[test]
    fn unknown_nonces() {
        let t0 = Instant::now();
        let mut t = tracker();
        assert_eq!(t.check(&"0".repeat(64), Some(1), t0), NonceCheck::Unknown);
        let n = t.issue(t0);
        assert_eq!(t.check(&"0".repeat(64), Some(1), t0), NonceCheck::Unknown);
        assert_eq!(t.check("", Some(1), t0), NonceCheck::Unknown);
        assert_eq!(t.check("xyz", Some(1), t0), NonceCheck::Unknown);
        assert_eq!(t.check(&"zz".repeat(32), Some(1), t0), NonceCheck::Unknown);
        assert_eq!(t.check(&format!("{n}00"), Some(1), t0), NonceCheck::Unknown);
        assert_eq!(
            t.check(&"\u{e9}".repeat(32), Some(1), t0),
            NonceCheck::Unknown
        );
        // Flip one hex digit anywhere: MAC no longer matches.
        for i in 0..n.len() {
            let mut b = n.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let forged = String::from_utf8(b).unwrap();
            assert_eq!(
                t.check(&forged, Some(1), t0),
                NonceCheck::Unknown,
                "digit {i}"
            );
        }
        // Another secret (e.g. before a restart) does not recognise it.
        let mut other = NonceTracker::new([8; 32], Duration::from_secs(300));
        other.issue(t0);
        assert_eq!(other.check(&n, Some(1), t0), NonceCheck::Unknown);
        // The genuine one still works after all that.
        assert_eq!(t.check(&n, Some(1), t0), NonceCheck::Valid);
    }

    #[test]
    fn a_bound_nonce_is_ours_only_with_its_binding() {
        let t0 = Instant::now();
        let mut t = tracker();
        let n = t.issue_for(t0, &[127, 0, 0, 1]);
        assert!(t.recognises(&n, t0, &[127, 0, 0, 1]));
        assert!(!t.recognises(&n, t0, &[127, 0, 0, 2]));
        assert!(!t.recognises(&n, t0, &[]));
        assert!(
            t.recognises(&n, t0 + Duration::from_secs(3600), &[127, 0, 0, 1]),
            "expired is still ours"
        );
        assert_eq!(
            t.check_for(&n, Some(1), t0, &[10, 0, 0, 1]),
            NonceCheck::Unknown
        );
        assert_eq!(t.check(&n, Some(1), t0), NonceCheck::Unknown);
        assert_eq!(
            t.check_for(&n, Some(1), t0, &[127, 0, 0, 1]),
            NonceCheck::Valid
        );
        // An unbound nonce is not ours for a binding either.
        let u = t.issue(t0);
        assert!(!t.recognises(&u, t0, &[127, 0, 0, 1]));
        assert!(t.recognises(&u, t0, &[]));
    }

    #[test]
    fn uppercase_nonce_maps_to_same_state() {
        let t0 = Instant::now();
        let mut t = tracker();
        let n = t.issue(t0);
        assert_eq!(t.check(&n, Some(1), t0), NonceCheck::Valid);
        assert_eq!(
            t.check(&n.to_ascii_uppercase(), Some(1), t0),
            NonceCheck::Replay
        );
    }

    #[test]
    fn eviction_bound() {
        let t0 = Instant::now();
        let mut t = tracker().with_max_live(3);
        let first = t.issue(t0);
        let rest: Vec<String> = (1..=5)
            .map(|i| t.issue(t0 + Duration::from_millis(i)))
            .collect();
        assert_eq!(t.live_count(), 3);
        // Evicted but genuine and young: stale, so the client just retries.
        assert_eq!(t.check(&first, Some(1), t0), NonceCheck::Stale);
        assert_eq!(
            t.check(&rest[1], Some(1), t0 + Duration::from_millis(10)),
            NonceCheck::Stale
        );
        for n in &rest[2..] {
            assert_eq!(
                t.check(n, Some(1), t0 + Duration::from_millis(10)),
                NonceCheck::Valid
            );
        }
    }

    #[test]
    fn purge_keeps_young_nonces() {
        let t0 = Instant::now();
        let mut t = tracker();
        let old = t.issue(t0);
        let young = t.issue(t0 + Duration::from_secs(200));
        t.purge(t0 + Duration::from_secs(350));
        assert_eq!(t.live_count(), 1);
        assert_eq!(
            t.check(&old, Some(1), t0 + Duration::from_secs(350)),
            NonceCheck::Stale
        );
        assert_eq!(
            t.check(&young, Some(1), t0 + Duration::from_secs(350)),
            NonceCheck::Valid
        );
    }
}
