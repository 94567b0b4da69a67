//! Brute-force throttling of digest authentication, I/O-free.
//!
//! Failures are counted separately per source IP and per username, so both a
//! scanner trying many names from one address and a distributed guess at one
//! extension's password are stopped. The price of the per-username limit is
//! that an attacker can keep a known extension locked out; the per-IP limit
//! alone would not stop botnets, so we accept that (as fail2ban setups do).
//!
//! Unknown users and wrong passwords must be indistinguishable: the PBX
//! answers both with the same 401/403 flow, records both here, and while a
//! lockout holds answers every attempt the same way as a wrong password
//! without even checking it — so a lockout reveals nothing about whether an
//! account exists.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Thresholds for [`LockoutTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failures within `window` that trigger a lockout.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a triggered lockout lasts.
    pub lockout: Duration,
    /// Bound on tracked IPs and on tracked usernames (each), so spoofed
    /// sources cannot grow memory without limit.
    pub max_tracked: usize,
}

impl Default for LockoutConfig {
    /// 5 failures in 60 s lock out for 5 minutes.
    fn default() -> Self {
        LockoutConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            max_tracked: 65_536,
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
    last_seen: Option<Instant>,
}

impl Record {
    fn is_locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// Adds a failure; returns true when this one triggers a lockout.
    fn fail(&mut self, cfg: &LockoutConfig, now: Instant) -> bool {
        self.last_seen = Some(now);
        while self
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= cfg.window)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= cfg.max_failures.max(1) as usize {
            self.failures.clear();
            self.locked_until = Some(now + cfg.lockout);
            true
        } else {
            false
        }
    }

    fn is_idle(&self, cfg: &LockoutConfig, now: Instant) -> bool {
        !self.is_locked(now)
            && self
                .failures
                .back()
                .is_none_or(|&t| now.saturating_duration_since(t) >= cfg.window)
    }
}

/// Counts failed authentications per source IP and per username.
#[derive(Debug)]
pub struct LockoutTracker {
    cfg: LockoutConfig,
    ips: HashMap<IpAddr, Record>,
    users: HashMap<String, Record>,
}

impl Default for LockoutTracker {
    fn default() -> Self {
        LockoutTracker::with_config(LockoutConfig::default())
    }
}

impl LockoutTracker {
    /// `max_failures` within `window` lock the IP or username for `lockout`;
    /// other limits as in [`LockoutConfig::default`].
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> LockoutTracker {
        LockoutTracker::with_config(LockoutConfig {
            max_failures,
            window,
            lockout,
            ..LockoutConfig::default()
        })
    }

    pub fn with_config(cfg: LockoutConfig) -> LockoutTracker {
        LockoutTracker {
            cfg,
            ips: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// True while either the source IP or the username is locked out.
    pub fn is_locked(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        self.ips.get(&ip).is_some_and(|r| r.is_locked(now))
            || self.users.get(user).is_some_and(|r| r.is_locked(now))
    }

    /// Records a failed attempt (wrong response *or* unknown user). Returns
    /// true when the IP or the username is locked after it, so the caller can
    /// log the transition.
    pub fn record_failure(&mut self, ip: IpAddr, user: &str, now: Instant) -> bool {
        let cfg = self.cfg;
        let ip_locked = entry(&mut self.ips, ip, &cfg, now).fail(&cfg, now);
        let user_locked = entry(&mut self.users, user.to_string(), &cfg, now).fail(&cfg, now);
        ip_locked || user_locked || self.is_locked(ip, user, now)
    }

    /// Records a success: forgets the username's recent failures (a user who
    /// mistyped then got it right starts afresh). The IP's count is kept, so
    /// an attacker holding one valid account cannot reset its scanning
    /// budget; an active lockout is never lifted early.
    pub fn record_success(&mut self, _ip: IpAddr, user: &str) {
        if let Some(r) = self.users.get_mut(user) {
            r.failures.clear();
        }
    }

    /// Drops records with no active lockout and no failure inside the window.
    pub fn purge(&mut self, now: Instant) {
        let cfg = self.cfg;
        self.ips.retain(|_, r| !r.is_idle(&cfg, now));
        self.users.retain(|_, r| !r.is_idle(&cfg, now));
    }

    /// Number of tracked IPs and usernames (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.ips.len(), self.users.len())
    }
}

/// Record for `key`, making room first when the map is at its bound: idle
/// records go, then the least recently seen one.
fn entry<'a, K: Hash + Eq + Clone>(
    map: &'a mut HashMap<K, Record>,
    key: K,
    cfg: &LockoutConfig,
    now: Instant,
) -> &'a mut Record {
    if !map.contains_key(&key) && map.len() >= cfg.max_tracked.max(1) {
        map.retain(|_, r| !r.is_idle(cfg, now));
        if map.len() >= cfg.max_tracked.max(1) {
            let oldest = map
                .iter()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
    }
    map.entry(key).or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn locks_after_five_failures_for_five_minutes() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for i in 0..4 {
            assert!(!l.record_failure(ip(1), "110", t0 + Duration::from_secs(i)));
            assert!(!l.is_locked(ip(1), "110", t0 + Duration::from_secs(i)));
        }
        assert!(l.record_failure(ip(1), "110", t0 + Duration::from_secs(4)));
        let locked_at = t0 + Duration::from_secs(4);
        assert!(l.is_locked(ip(1), "110", locked_at));
        // IP lock applies to any user; user lock applies from any IP.
        assert!(l.is_locked(ip(1), "other", locked_at));
        assert!(l.is_locked(ip(2), "110", locked_at));
        assert!(!l.is_locked(ip(2), "other", locked_at));
        assert!(l.is_locked(ip(1), "110", locked_at + Duration::from_secs(299)));
        assert!(!l.is_locked(ip(1), "110", locked_at + Duration::from_secs(300)));
    }

    #[test]
    fn custom_thresholds() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::new(2, Duration::from_secs(10), Duration::from_secs(30));
        assert!(!l.record_failure(ip(1), "110", t0));
        assert!(l.record_failure(ip(1), "110", t0 + Duration::from_secs(9)));
        assert!(l.is_locked(ip(1), "110", t0 + Duration::from_secs(38)));
        assert!(!l.is_locked(ip(1), "110", t0 + Duration::from_secs(39)));
    }

    #[test]
    fn failures_outside_window_do_not_count() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for i in 0..20 {
            // One failure every 15 s: never 5 within 60 s.
            assert!(!l.record_failure(ip(1), "110", t0 + Duration::from_secs(15 * i)));
        }
        assert!(!l.is_locked(ip(1), "110", t0 + Duration::from_secs(300)));
    }

    #[test]
    fn per_ip_catches_username_scanning() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for u in ["100", "101", "102", "103", "104"] {
            l.record_failure(ip(9), u, t0);
        }
        assert!(l.is_locked(ip(9), "999", t0));
        assert!(!l.is_locked(ip(10), "100", t0));
    }

    #[test]
    fn per_user_catches_distributed_guessing() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for n in 1..=5 {
            l.record_failure(ip(n), "110", t0);
        }
        assert!(l.is_locked(ip(77), "110", t0));
    }

    #[test]
    fn success_resets_user_but_not_ip() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for _ in 0..4 {
            l.record_failure(ip(1), "110", t0);
        }
        l.record_success(ip(1), "110");
        assert!(l.record_failure(ip(1), "110", t0), "IP count kept");
        assert!(!l.is_locked(ip(2), "110", t0), "user count was reset");
        assert!(l.is_locked(ip(1), "x", t0));
    }

    #[test]
    fn bounded_memory_and_purge() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::with_config(LockoutConfig {
            max_tracked: 4,
            ..LockoutConfig::default()
        });
        for n in 0..50u8 {
            l.record_failure(
                ip(n),
                &format!("u{n}"),
                t0 + Duration::from_millis(n.into()),
            );
        }
        let (ips, users) = l.tracked();
        assert!(ips <= 4 && users <= 4);
        l.purge(t0 + Duration::from_secs(120));
        assert_eq!(l.tracked(), (0, 0));
    }

    #[test]
    fn purge_keeps_active_lockouts() {
        let t0 = Instant::now();
        let mut l = LockoutTracker::default();
        for _ in 0..5 {
            l.record_failure(ip(1), "110", t0);
        }
        l.purge(t0 + Duration::from_secs(120));
        assert!(l.is_locked(ip(1), "110", t0 + Duration::from_secs(120)));
        l.purge(t0 + Duration::from_secs(301));
        assert_eq!(l.tracked(), (0, 0));
    }
}
