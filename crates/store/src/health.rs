//! How the database side of the PBX is doing, for `/health` and the logs.
//!
//! Calls keep working through a database outage (the snapshot answers, writes
//! wait in the queue), so an outage is invisible unless something says so: this is
//! that something. Each part that talks to the database (the reloads, the change
//! listener, the writer) reports its own last outcome; the store is degraded while
//! any of them is failing.

use std::sync::Mutex;

/// A summary of the store's background work.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreHealth {
    /// True while the last configuration reload, or the last write attempt, or the
    /// change listener failed and has not succeeded since: the configuration may be
    /// stale, or writes are waiting.
    pub degraded: bool,
    /// The most recent failure while degraded; `None` when healthy.
    pub last_error: Option<String>,
    /// Writes submitted and not yet written (including the one being retried).
    pub queued: usize,
    /// Writes the database has taken.
    pub written: u64,
    /// Writes refused because the queue was full.
    pub dropped: u64,
    /// Writes the database refused for good (logged with their kind).
    pub failed: u64,
    /// The version of the configuration snapshot calls use now, +1 at each reload:
    /// a change made with the CLI is live once this moved past its value before.
    pub config_version: u64,
}

/// The parts whose failures make the store degraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Reload,
    Listener,
    Writer,
}

impl Part {
    fn index(self) -> usize {
        match self {
            Part::Reload => 0,
            Part::Listener => 1,
            Part::Writer => 2,
        }
    }
}

/// The failing state of each [`Part`]: `Some(message)` while failing.
#[derive(Debug, Default)]
pub(crate) struct Status {
    failing: Mutex<[Option<Failure>; 3]>,
}

#[derive(Debug, Clone)]
struct Failure {
    message: String,
    /// Orders failures of different parts, so `last_error` is the latest.
    order: u64,
}

impl Status {
    /// Records a failure of `part`; returns true when it was healthy until now (so
    /// the caller logs the start of an outage once, not on every retry).
    pub(crate) fn fail(&self, part: Part, message: impl Into<String>) -> bool {
        let mut f = lock(&self.failing);
        let order = f.iter().flatten().map(|x| x.order).max().unwrap_or(0) + 1;
        let was_ok = f[part.index()].is_none();
        f[part.index()] = Some(Failure {
            message: message.into(),
            order,
        });
        was_ok
    }

    /// Records a success of `part`; returns true when it was failing until now.
    pub(crate) fn ok(&self, part: Part) -> bool {
        lock(&self.failing)[part.index()].take().is_some()
    }

    /// `(degraded, last_error)`.
    pub(crate) fn summary(&self) -> (bool, Option<String>) {
        let f = lock(&self.failing);
        let latest = f.iter().flatten().max_by_key(|x| x.order);
        (latest.is_some(), latest.map(|x| x.message.clone()))
    }
}

/// Locks a mutex, going on with the data if a panicking thread poisoned it: every
/// value kept under these locks stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degraded_until_each_failing_part_recovers() {
        let s = Status::default();
        assert_eq!(s.summary(), (false, None));
        assert!(s.fail(Part::Writer, "w1"));
        assert!(!s.fail(Part::Writer, "w2"));
        assert!(s.fail(Part::Reload, "r1"));
        assert_eq!(s.summary(), (true, Some("r1".into())));
        assert!(s.ok(Part::Reload));
        assert_eq!(s.summary(), (true, Some("w2".into())));
        assert!(!s.ok(Part::Listener));
        assert!(s.ok(Part::Writer));
        assert_eq!(s.summary(), (false, None));
    }
}
