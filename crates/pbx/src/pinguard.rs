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
//! A success clears the caller's failures. Each lock is announced as it starts
//! (recorded in the lockouts table and sent as an event, by the announcer the
//! server gives), listed by the API, lifted by an administrator, and put back at
//! start from the table, so a restart does not lift it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use model::{Lockout, LockoutKind};

use crate::lockouts::{epoch_ms, instant_at, subject_id, Started};

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
    locked_since: Option<Instant>,
    locked_until: Option<Instant>,
    /// Locks in a row (a success resets it): each doubles the next.
    locks: u32,
    /// In words, for listings: `caller 201`, `PIN at 778`.
    subject: String,
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

/// What the guard tells the rest of the PBX (the store and the events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announce {
    Started(Started),
    Lifted {
        id: String,
        subject: String,
        by: String,
    },
}

type Announcer = Arc<dyn Fn(Announce) + Send + Sync>;

/// Shared by every channel task; cheap to clone.
#[derive(Clone, Default)]
pub struct PinGuard {
    state: Arc<Mutex<State>>,
    announce: Option<Announcer>,
}

impl PinGuard {
    /// A guard that hands every lock and lift to `announce`.
    pub fn with_announcer(announce: impl Fn(Announce) + Send + Sync + 'static) -> PinGuard {
        PinGuard {
            state: Arc::default(),
            announce: Some(Arc::new(announce)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tell(&self, what: Announce) {
        if let Some(announce) = &self.announce {
            announce(what);
        }
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

    /// A wrong PIN entered at `code` (what the caller dialled, for the PIN's
    /// name in listings): the lock it started, if it did.
    pub fn failed(&self, caller: &str, pin: &str, code: &str, now: Instant) -> Option<Locked> {
        let wall = SystemTime::now();
        let at = |t: Instant| wall + t.saturating_duration_since(now);
        let mut started = Vec::new();
        let mut locked = None;
        {
            let mut s = self.lock();
            let c = s.callers.entry(caller.to_string()).or_default();
            if c.fail(now, CALLER_WINDOW, CALLER_LIMIT) {
                let lock = CALLER_LOCK
                    .saturating_mul(1 << c.locks.min(10))
                    .min(MAX_LOCK);
                c.locks += 1;
                c.failures.clear();
                c.locked_since = Some(now);
                c.locked_until = Some(now + lock);
                c.subject = format!("caller {caller}");
                locked = Some(Locked::Caller(now + lock));
                started.push(Started {
                    kind: LockoutKind::PinCaller,
                    key: caller.to_string(),
                    subject: c.subject.clone(),
                    since: wall,
                    until: at(now + lock),
                    count: c.locks,
                    reason: format!(
                        "{CALLER_LIMIT} wrong PINs within {}",
                        crate::lockouts::span(CALLER_WINDOW)
                    ),
                });
            }
            let p = s.pins.entry(pin.to_string()).or_default();
            if p.fail(now, PIN_WINDOW, PIN_LIMIT) {
                p.failures.clear();
                p.locks += 1;
                p.locked_since = Some(now);
                p.locked_until = Some(now + PIN_LOCK);
                p.subject = format!("PIN at {code}");
                locked = locked.or(Some(Locked::Pin(now + PIN_LOCK)));
                started.push(Started {
                    kind: LockoutKind::Pin,
                    key: pin.to_string(),
                    subject: p.subject.clone(),
                    since: wall,
                    until: at(now + PIN_LOCK),
                    count: p.locks,
                    reason: format!(
                        "{PIN_LIMIT} wrong tries within {} from any callers (those who \
                         entered it before still get in)",
                        crate::lockouts::span(PIN_WINDOW)
                    ),
                });
            }
        }
        for s in started {
            self.tell(Announce::Started(s));
        }
        locked
    }

    /// Every PIN lock in force.
    pub fn locks(&self, now: Instant) -> Vec<Lockout> {
        let wall = SystemTime::now();
        let s = self.lock();
        let shown = |kind: LockoutKind, key: &str, r: &Record| {
            let until = r.locked(now)?;
            let since = r.locked_since.unwrap_or(now);
            Some(Lockout {
                id: subject_id(kind, key),
                kind,
                subject: r.subject.clone(),
                since: epoch_ms(wall - now.saturating_duration_since(since)),
                until: epoch_ms(wall + until.saturating_duration_since(now)),
                count: r.locks,
                reason: match kind {
                    LockoutKind::Pin => "wrong tries of this PIN from any callers".into(),
                    _ => "wrong PINs from this caller".into(),
                },
            })
        };
        let mut all: Vec<Lockout> = s
            .callers
            .iter()
            .filter_map(|(k, r)| shown(LockoutKind::PinCaller, k, r))
            .chain(
                s.pins
                    .iter()
                    .filter_map(|(k, r)| shown(LockoutKind::Pin, k, r)),
            )
            .collect();
        all.sort_by(|a, b| a.subject.cmp(&b.subject));
        all
    }

    /// Lifts the PIN lock named `id` on `by`'s say-so (its failures and backoff
    /// are forgotten too); false when no such lock is in force.
    pub fn lift(&self, id: &str, by: &str, now: Instant) -> bool {
        let subject = {
            let mut s = self.lock();
            let caller = s
                .callers
                .iter()
                .find(|(k, r)| {
                    r.locked(now).is_some() && subject_id(LockoutKind::PinCaller, k) == id
                })
                .map(|(k, _)| k.clone());
            let pin = s
                .pins
                .iter()
                .find(|(k, r)| r.locked(now).is_some() && subject_id(LockoutKind::Pin, k) == id)
                .map(|(k, _)| k.clone());
            match (caller, pin) {
                (Some(k), _) => s.callers.remove(&k).map(|r| r.subject),
                (None, Some(k)) => s.pins.remove(&k).map(|r| r.subject),
                (None, None) => None,
            }
        };
        let Some(subject) = subject else {
            return false;
        };
        tracing::warn!(%subject, %by, "PIN lock lifted");
        self.tell(Announce::Lifted {
            id: id.to_string(),
            subject,
            by: by.to_string(),
        });
        true
    }

    /// Puts back the PIN locks kept in the database (at start); digest locks are
    /// skipped. How many were restored.
    pub fn restore(&self, records: &[store::LockoutRecord], now: Instant) -> usize {
        let wall = SystemTime::now();
        let mut s = self.lock();
        let mut restored = 0;
        for r in records {
            let map = match LockoutKind::parse(&r.kind) {
                Some(LockoutKind::PinCaller) => &mut s.callers,
                Some(LockoutKind::Pin) => &mut s.pins,
                _ => continue,
            };
            let until = instant_at(r.until, now, wall);
            if until <= now {
                continue;
            }
            let rec = map.entry(r.key.clone()).or_default();
            let ago = wall.duration_since(r.started_at).unwrap_or_default();
            rec.locked_since = Some(now.checked_sub(ago).unwrap_or(now));
            rec.locked_until = Some(until);
            rec.locks = r.count.max(1);
            rec.subject = r.subject.clone();
            restored += 1;
        }
        restored
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
            assert_eq!(
                g.failed("201", PIN, "778", t0 + Duration::from_secs(i)),
                None
            );
            assert_eq!(g.check("201", PIN, t0), Ok(()));
        }
        let lock = g
            .failed("201", PIN, "778", t0 + Duration::from_secs(4))
            .unwrap();
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
            g.failed("201", PIN, "778", t1 + Duration::from_secs(i));
        }
        let lock = g
            .failed("201", PIN, "778", t1 + Duration::from_secs(4))
            .unwrap();
        assert_eq!(lock.until(), t1 + Duration::from_secs(4) + 2 * CALLER_LOCK);
    }

    #[test]
    fn failures_spread_thinly_in_time_do_not_lock_a_caller() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        for i in 0..20u64 {
            // Four per window at most: under the limit of five.
            let t = t0 + CALLER_WINDOW / 3 * i as u32;
            assert_eq!(g.failed("201", "p", "778", t), None, "try {i}");
        }
    }

    #[test]
    fn a_distributed_guess_locks_the_pin_but_not_its_known_good_callers() {
        let g = PinGuard::default();
        let t0 = Instant::now();
        g.succeeded("201", PIN);
        let mut locked = None;
        for i in 0..PIN_LIMIT {
            locked = g.failed(
                &format!("3{i:02}"),
                PIN,
                "778",
                t0 + Duration::from_secs(i as u64),
            );
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
            g.failed("201", PIN, "778", t0);
        }
        g.succeeded("201", PIN);
        assert_eq!(
            g.failed("201", PIN, "778", t0),
            None,
            "the count started again"
        );
        g.purge(t0 + MAX_LOCK * 2);
        assert!(g.lock().callers.is_empty() && g.lock().pins.is_empty());
    }

    #[test]
    fn locks_are_announced_listed_lifted_and_restored() {
        let told = Arc::new(Mutex::new(Vec::new()));
        let sink = told.clone();
        let g = PinGuard::with_announcer(move |a| sink.lock().unwrap().push(a));
        let t0 = Instant::now();
        for _ in 0..CALLER_LIMIT {
            g.failed("201", PIN, "778", t0);
        }
        let started = match told.lock().unwrap().as_slice() {
            [Announce::Started(s)] => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(started.kind, LockoutKind::PinCaller);
        assert_eq!(started.subject, "caller 201");
        let listed = g.locks(t0);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, started.id());
        assert!(
            !listed[0].subject.contains(PIN),
            "the PIN's stored form is never shown"
        );
        // Restored into a new guard (a restart): locked again, and lifted there.
        let g2 = PinGuard::default();
        assert_eq!(g2.restore(&[started.record()], t0), 1);
        assert!(matches!(g2.check("201", PIN, t0), Err(Locked::Caller(_))));
        assert!(g2.lift(&started.id(), "admin", t0));
        assert_eq!(g2.check("201", PIN, t0), Ok(()));
        assert!(!g2.lift(&started.id(), "admin", t0), "nothing left to lift");
        assert!(g.lift(&started.id(), "admin", t0));
        assert!(matches!(
            told.lock().unwrap().last(),
            Some(Announce::Lifted { by, .. }) if by == "admin"
        ));
    }
}
