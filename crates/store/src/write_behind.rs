//! The write-behind queue: the switch's writes, performed later, in order.
//!
//! [`WriteBehind::submit`] only appends to a queue in memory, so the switch (a
//! synchronous state machine) never waits for the database, and a database outage
//! costs no call. One task drains the queue in submission order, because order
//! matters: a monitoring session's start must be on record before its end, an
//! AOR's newest bindings must win over older ones.
//!
//! - A failure that says the database is unreachable or busy
//!   ([`crate::transient`]) is retried, with backoff, until it works; later writes
//!   wait behind it, so nothing is lost and order holds.
//! - A failure that says the write itself is wrong (a constraint, bad data) would
//!   fail forever: it is logged with its kind and dropped (`failed`), and the queue
//!   goes on.
//! - The queue is bounded (100 000 writes by default, a few tens of MB): past it,
//!   writes are dropped (`dropped`) with an error logged at most every 10 s, because
//!   an outage long enough to fill it must not also exhaust memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use crate::health::{lock, Part, Status, StoreHealth};
use crate::transient::{is_transient, Backoff};
use crate::{Store, Write};

/// Writes that may wait in the queue unless told otherwise.
pub const DEFAULT_QUEUE_BOUND: usize = 100_000;

/// One attempt may take this long before it counts as a (transient) failure: a
/// connection that hangs must not hold the queue forever. Above SQLite's 5 s busy
/// timeout and the pool's 3 s acquire timeout on PostgreSQL.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// At most one "queue full" or "still failing" line per this period.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The handle on the queue; cheap to clone. Dropping the last clone stops the
/// writer task, losing what is still queued: call [`WriteBehind::flush`] first.
#[derive(Clone)]
pub struct WriteBehind {
    queue: Arc<Queue>,
    _task: Arc<TaskGuard>,
}

pub(crate) struct Queue {
    state: Mutex<State>,
    wake: Notify,
    bound: usize,
    /// The sequence number of the last write finished (written or failed).
    done: watch::Sender<u64>,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    drop_log: Mutex<RateLimit>,
    status: Arc<Status>,
}

#[derive(Default)]
struct State {
    items: VecDeque<(u64, Write)>,
    /// The writer holds one write taken from `items`.
    in_flight: bool,
    /// The sequence number given to the last accepted write (they start at 1).
    last_seq: u64,
}

/// Counts events between log lines.
#[derive(Default)]
struct RateLimit {
    last: Option<Instant>,
    since: u64,
}

impl RateLimit {
    /// Counts one event; returns how many to report when a line is due.
    fn hit(&mut self, now: Instant) -> Option<u64> {
        self.since += 1;
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}

/// Aborts background tasks when the last handle goes.
pub(crate) struct TaskGuard(pub(crate) Vec<tokio::task::AbortHandle>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl std::fmt::Debug for WriteBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBehind")
            .field("health", &self.health())
            .finish()
    }
}

impl WriteBehind {
    /// Starts the writer task, with room for `bound` waiting writes. Call it from
    /// within a tokio runtime (the task is spawned on it). [`crate::LiveConfig`]
    /// starts its own; this one is for a process that only writes.
    pub fn start(store: Store, bound: usize) -> WriteBehind {
        Self::start_with(
            store,
            bound,
            Duration::from_secs(2),
            Arc::new(Status::default()),
        )
    }

    pub(crate) fn start_with(
        store: Store,
        bound: usize,
        max_backoff: Duration,
        status: Arc<Status>,
    ) -> WriteBehind {
        let queue = Arc::new(Queue {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            bound: bound.max(1),
            done: watch::channel(0).0,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            drop_log: Mutex::new(RateLimit::default()),
            status,
        });
        let task = tokio::spawn(run(queue.clone(), store, max_backoff));
        WriteBehind {
            queue,
            _task: Arc::new(TaskGuard(vec![task.abort_handle()])),
        }
    }

    /// Queues `w`; never blocks. False when the queue was full and `w` was dropped
    /// (counted in [`StoreHealth::dropped`], logged).
    pub fn submit(&self, w: Write) -> bool {
        self.submit_seq(w).is_some()
    }

    /// Queues `w` and returns its sequence number, or `None` when dropped.
    pub(crate) fn submit_seq(&self, w: Write) -> Option<u64> {
        let q = &self.queue;
        let mut s = lock(&q.state);
        if s.items.len() + usize::from(s.in_flight) >= q.bound {
            drop(s);
            q.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = lock(&q.drop_log).hit(Instant::now()) {
                tracing::error!(
                    bound = q.bound,
                    dropped = n,
                    dropped_total = q.dropped.load(Ordering::Relaxed),
                    kind = w.kind(),
                    "write-behind queue full: database writes are being dropped (the database \
                     is down or too slow); check the database and /health"
                );
            }
            return None;
        }
        s.last_seq += 1;
        let seq = s.last_seq;
        s.items.push_back((seq, w));
        drop(s);
        q.wake.notify_one();
        Some(seq)
    }

    /// Waits until every write submitted before this call is finished (written, or
    /// refused for good); false if that took longer than `timeout`.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let target = lock(&self.queue.state).last_seq;
        let mut done = self.queue.done.subscribe();
        tokio::time::timeout(timeout, done.wait_for(|d| *d >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The queue's counters, and whether the store is degraded.
    pub fn health(&self) -> StoreHealth {
        let q = &self.queue;
        let queued = {
            let s = lock(&q.state);
            s.items.len() + usize::from(s.in_flight)
        };
        let (degraded, last_error) = q.status.summary();
        StoreHealth {
            degraded,
            last_error,
            queued,
            written: q.written.load(Ordering::Relaxed),
            dropped: q.dropped.load(Ordering::Relaxed),
            failed: q.failed.load(Ordering::Relaxed),
            config_version: 0,
        }
    }

    /// Wakes when writes finish (the value is [`WriteBehind::done_seq`]).
    pub(crate) fn subscribe_done(&self) -> watch::Receiver<u64> {
        self.queue.done.subscribe()
    }

    /// How many writes may wait.
    pub(crate) fn bound(&self) -> usize {
        self.queue.bound
    }

    /// The sequence number of the last finished write: every write numbered up to
    /// it has been committed (or refused) already.
    pub(crate) fn done_seq(&self) -> u64 {
        *self.queue.done.borrow()
    }
}

/// The writer task: one write at a time, in order.
async fn run(q: Arc<Queue>, store: Store, max_backoff: Duration) {
    loop {
        let next = {
            let mut s = lock(&q.state);
            let next = s.items.pop_front();
            s.in_flight = next.is_some();
            next
        };
        let Some((seq, write)) = next else {
            // `notify_one` keeps a permit, so a submit between the check and this
            // wait is not missed.
            q.wake.notified().await;
            continue;
        };
        write_until_done(&q, &store, &write, max_backoff).await;
        lock(&q.state).in_flight = false;
        q.done.send_replace(seq);
    }
}

/// Writes `w`, retrying transient failures; returns once it is written or refused.
async fn write_until_done(q: &Queue, store: &Store, w: &Write, max_backoff: Duration) {
    let mut backoff = Backoff::new(max_backoff);
    let mut retry_log = RateLimit::default();
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        let result = tokio::time::timeout(ATTEMPT_TIMEOUT, w.apply(store, attempts > 1)).await;
        let err = match result {
            Ok(Ok(())) => {
                q.written.fetch_add(1, Ordering::Relaxed);
                if q.status.ok(Part::Writer) {
                    tracing::info!(
                        kind = w.kind(),
                        attempts,
                        "database writes work again; the queued writes follow in order"
                    );
                }
                return;
            }
            Ok(Err(e)) if is_transient(&e) => e.to_string(),
            Err(_) => format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
            Ok(Err(e)) => {
                q.failed.fetch_add(1, Ordering::Relaxed);
                // The database answered, so it is reachable.
                q.status.ok(Part::Writer);
                tracing::error!(
                    kind = w.kind(),
                    subject = %w.subject(),
                    "the database refused a write; it is dropped and the queue goes on: {e}"
                );
                return;
            }
        };
        let first = q
            .status
            .fail(Part::Writer, format!("writing {}: {err}", w.kind()));
        if let Some(n) = retry_log.hit(Instant::now()) {
            let queued = {
                let s = lock(&q.state);
                s.items.len() + 1
            };
            if first {
                tracing::warn!(
                    kind = w.kind(),
                    queued,
                    "database write failed; retrying until it works, later writes wait: {err}"
                );
            } else {
                tracing::warn!(
                    kind = w.kind(),
                    attempts,
                    failures = n,
                    queued,
                    "database writes still failing: {err}"
                );
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;
    use std::time::{Duration, Instant};

    #[test]
    fn rate_limit_reports_counts() {
        let mut r = RateLimit::default();
        let t0 = Instant::now();
        assert_eq!(r.hit(t0), Some(1));
        assert_eq!(r.hit(t0 + Duration::from_secs(1)), None);
        assert_eq!(r.hit(t0 + Duration::from_secs(2)), None);
        assert_eq!(r.hit(t0 + Duration::from_secs(11)), Some(3));
    }
}
