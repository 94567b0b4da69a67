//! Guessing PINs across calls (`Authenticate`, the 779/778 monitoring codes).
//!
//! `Authenticate` allows three tries per call, so without memory across calls a
//! guesser simply calls again (the right PIN was found after 30 wrong ones). This
//! guard remembers failures, fed with the time like the switch, and locks:
//! - **the caller** (its extension or trunk: digest-authenticated or known by
//!   address, so nobody can fail in someone else's name) after `CALLER_LIMIT`
//!   failures within `CALLER_WINDOW`, for `CALLER_LOCK`, doubling with each lock in
//!   a row up to a day;
//! - **the PIN** after `PIN_LIMIT` failures from any callers within `PIN_WINDOW` (a
//!   guess spread over many extensions), for `PIN_LOCK`, except for callers who
//!   have entered that PIN correctly before: the distributed guesser cannot lock the
//!   real supervisor out.
//!
//! A success clears the caller's failures. State is in memory: a restart forgets it
//! (issue 17 item 5 makes lockouts survive restarts).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const CALLER_LIMIT: usize = 5;
pub const CALLER_WINDOW: Duration = Duration::from_secs(15 * 60);
pub const CALLER_LOCK: Duration = Duration::from_secs(15 * 60);
const MAX_LOCK: Duration = Duration::from_secs(24 * 3600);
pub const PIN_LIMIT: usize = 20;
pub const PIN_WINDOW: Duration = Duration::from_secs(3600);
pub const PIN_LOCK: Duration = Duration::from_secs(15 * 60);

/// Why a caller may not try now, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// Too many failures by this caller.
    Caller(Instant),
    /// Too many failures on this PIN, from any callers.
    Pin(Instant),
}

impl Locked {
    pub fn until(self) -> Instant {
        match self {
            Locked::Caller(t) | Locked::Pin(t) => t,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Locked::Caller(_) => "too many wrong PINs from this caller: locked out",
            Locked::Pin(_) => "too many wrong tries of this PIN from any caller: locked",
        }
    }
}

#[derive(Default)]
struct Record {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
    /// Locks in a row (a success resets it): each doubles the next.
    locks: u32,
}

impl Record {
    fn locked(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|t| *t > now)
    }

    /// Counts a failure; true when it makes `limit` within `window`.
    fn fail(&mut self, now: Instant, window: Duration, limit: usize) -> bool {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > window)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        self.failures.len() >= limit
    }
}

#[derive(Default)]
struct State {
    callers: HashMap<String, Record>,
    pins: HashMap<String, Record>,
    /// (caller, PIN) pairs that succeeded: the PIN lock lets them through.
    known_good: HashSet<(String, String)>,
}

/// Shared by every channel task; cheap to clone.
#[derive(Clone, Default)]
pub struct PinGuard(Arc<Mutex<State>>);

impl PinGuard {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May `caller` try `pin` (the stored value it is checked against) now?
    pub fn check(&self, caller: &str, pin: &str, now: Instant) -> Result<(), Locked> {
        let s = self.lock();
        if let Some(t) = s.callers.get(caller).and_then(|r| r.locked(now)) {
            return Err(Locked::Caller(t));
        }
        let trusted = s
            .known_good
            .contains(&(caller.to_string(), pin.to_string()));
        if let Some(t) = s.pins.get(pin).and_then(|r| r.locked(now)) {
            if !trusted {
                return Err(Locked::Pin(t));
            }
        }
        Ok(())
    }

    /// A wrong PIN: the lock it started, if it did.
    pub fn failed(&self, caller: &str, pin: &str, now: Instant) -> Option<Locked> {
        let mut s = self.lock();
        let mut locked = None;
        let c = s.callers.entry(caller.to_string()).or_default();
        if c.fail(now, CALLER_WINDOW, CALLER_LIMIT) {
            let lock = CALLER_LOCK
                .saturating_mul(1 << c.locks.min(10))
                .min(MAX_LOCK);
            c.locks += 1;
            c.failures.clear();
            c.locked_until = Some(now + lock);
            locked = Some(Locked::Caller(now + lock));
        }
        let p = s.pins.entry(pin.to_string()).or_default();
        if p.fail(now, PIN_WINDOW, PIN_LIMIT) {
            p.failures.clear();
            p.locked_until = Some(now + PIN_LOCK);
            locked = locked.or(Some(Locked::Pin(now + PIN_LOCK)));
        }
        locked
    }

    /// The right PIN: the caller's failures are forgotten, and it is known good.
    pub fn succeeded(&self, caller: &str, pin: &str) {
        let mut s = self.lock();
        s.callers.remove(caller);
        s.known_good.insert((caller.to_string(), pin.to_string()));
    }

    /// Forgets what no longer matters (expired locks, old failures).
    pub fn purge(&self, now: Instant) {
        let mut s = self.lock();
        let keep = |r: &Record, window: Duration| {
            r.locked(now).is_some()
                || r.failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) <= window)
        };
        s.callers
            .retain(|_, r| keep(r, CALLER_WINDOW) || r.locks > 0 && keep(r, MAX_LOCK));
        s.pins.retain(|_, r| keep(r, PIN_WINDOW));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "argon2:x";

    #[test]
    fn a_caller_is_locked_after_five_failures_and_the_lock_grows() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(g.failed("201", PIN, t0 + Duration::from_secs(i)), None);
            assert_eq!(g.check("201", PIN, t0), Ok(()));
        }
        let lock = g.failed("201", PIN, t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(
            lock,
            Locked::Caller(t0 + Duration::from_secs(4) + CALLER_LOCK)
        );
        assert!(g.check("201", PIN, t0 + Duration::from_secs(60)).is_err());
        // Another caller is not locked by it.
        assert_eq!(g.check("202", PIN, t0), Ok(()));
        // After the lock, five more failures lock twice as long.
        let t1 = t0 + CALLER_LOCK + Duration::from_secs(5);
        assert_eq!(g.check("201", PIN, t1), Ok(()));
        for i in 0..4 {
            g.failed("201", PIN, t1 + Duration::from_secs(i));
        }
        let lock = g.failed("201", PIN, t1 + Duration::from_secs(4)).unwrap();
        assert_eq!(lock.until(), t1 + Duration::from_secs(4) + 2 * CALLER_LOCK);
    }

    #[test]
    fn failures_spread_thinly_in_time_do_not_lock_a_caller() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        for i in 0..20u64 {
            // Four per window at most: under the limit of five.
            let t = t0 + CALLER_WINDOW / 3 * i as u32;
            assert_eq!(g.failed("201", "p", t), None, "try {i}");
        }
    }

    #[test]
    fn a_distributed_guess_locks_the_pin_but_not_its_known_good_callers() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        g.succeeded("201", PIN);
        let mut locked = None;
        for i in 0..PIN_LIMIT {
            locked = g.failed(&format!("3{i:02}"), PIN, t0 + Duration::from_secs(i as u64));
        }
        assert!(matches!(locked, Some(Locked::Pin(_))), "{locked:?}");
        let t = t0 + Duration::from_secs(60);
        assert!(matches!(g.check("399", PIN, t), Err(Locked::Pin(_))));
        assert_eq!(
            g.check("201", PIN, t),
            Ok(()),
            "the real supervisor still gets in"
        );
        assert_eq!(g.check("399", "another pin", t), Ok(()));
    }

    #[test]
    fn a_success_clears_the_callers_failures() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            g.failed("201", PIN, t0);
        }
        g.succeeded("201", PIN);
        assert_eq!(g.failed("201", PIN, t0), None, "the count started again");
        g.purge(t0 + MAX_LOCK * 2);
        assert!(g.lock().callers.is_empty() && g.lock().pins.is_empty());
    }
}
