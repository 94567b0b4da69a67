//! Keeping the snapshot current: reloads, and when to run them.
//!
//! A reload reads every configuration table and publishes a new snapshot whole.
//! It runs when the database says something changed ([`crate::notify`]), after
//! the PostgreSQL listener reconnects (notifications sent while it was away are
//! lost), every minute as a safety net, and on request ([`crate::LiveConfig::refresh_now`]).
//! Changes that arrive during a reload are folded into one more reload, so a burst
//! of writes costs two reloads, not one per write.
//!
//! It also runs when a queued AstDB write of ours has finished, so that its
//! read-your-writes overlay entry can go: the database's own signal may arrive
//! before the writer has marked the write finished, and a reload that started
//! then could not count it as included.
//!
//! A reload that fails (the database is down) leaves the last snapshot in force,
//! so calls go on with the configuration they had, and is retried with backoff
//! (100 ms doubling to 2 s) until one works.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{interval, interval_at, sleep_until, Instant, MissedTickBehavior};

use crate::health::{lock, Part, Status};
use crate::load::load;
use crate::notify::{poll_counter, Event, FileStamp};
use crate::overlay::Overlay;
use crate::snapshot::ConfigSnapshot;
use crate::transient::Backoff;
use crate::{Store, StoreError, WriteBehind};

/// When reloads run; [`Default`] is what the server uses.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Writes that may wait in the write-behind queue (default 100 000).
    pub queue_bound: usize,
    /// SQLite: how often the change counter is read (default 50 ms: one indexed
    /// one-row read, cheap enough to keep a change made with the CLI in effect
    /// before the phone it set up registers).
    pub poll_interval: Duration,
    /// A full reload at least this often, whatever the signals (default 60 s).
    pub full_reload_interval: Duration,
    /// The longest wait between retries of a failed reload or write (default 2 s).
    pub max_backoff: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            queue_bound: crate::write_behind::DEFAULT_QUEUE_BOUND,
            poll_interval: Duration::from_millis(50),
            full_reload_interval: Duration::from_secs(60),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// What the refresh task and the [`crate::LiveConfig`] handles share.
pub(crate) struct Shared {
    pub store: Store,
    pub tx: watch::Sender<Arc<ConfigSnapshot>>,
    /// Serialises reloads (the task's and `refresh_now`'s), so a slow reload that
    /// started first can never publish over a newer one; holds the last version.
    reload_lock: tokio::sync::Mutex<u64>,
    pub overlay: Mutex<Overlay>,
    pub writer: WriteBehind,
    pub status: Arc<Status>,
    /// SQLite: the change counter the current snapshot was read at.
    loaded_counter: AtomicI64,
}

impl Shared {
    pub(crate) fn new(
        store: Store,
        first: ConfigSnapshot,
        counter: Option<i64>,
        writer: WriteBehind,
        status: Arc<Status>,
    ) -> Shared {
        let version = first.version();
        Shared {
            store,
            tx: watch::channel(Arc::new(first)).0,
            reload_lock: tokio::sync::Mutex::new(version),
            overlay: Mutex::new(Overlay::default()),
            writer,
            status,
            loaded_counter: AtomicI64::new(counter.unwrap_or(0)),
        }
    }

    /// Reads the configuration and publishes it.
    pub(crate) async fn reload(&self) -> Result<(), StoreError> {
        let mut version = self.reload_lock.lock().await;
        // Writes finished now are committed, so the read below sees them.
        let covered = self.writer.done_seq();
        let loaded = match load(&self.store).await {
            Ok(l) => l,
            Err(e) => {
                self.reload_failed(&e, *version);
                return Err(e);
            }
        };
        *version += 1;
        let snap = Arc::new(ConfigSnapshot::from_parts(loaded.parts, *version));
        if let Some(c) = loaded.counter {
            self.loaded_counter.store(c, Ordering::Relaxed);
        }
        {
            // Publication and pruning under the overlay lock: see `overlay`.
            let mut overlay = lock(&self.overlay);
            self.tx.send_replace(snap);
            overlay.prune(covered);
        }
        if self.status.ok(Part::Reload) {
            tracing::info!(version = *version, "configuration reloads work again");
        }
        tracing::debug!(version = *version, "configuration reloaded");
        Ok(())
    }

    fn reload_failed(&self, e: &StoreError, version: u64) {
        if self.store.pool.is_closed() {
            // Shutting down, not an outage.
            tracing::debug!("configuration reload after the store was closed: {e}");
            return;
        }
        let msg = format!("reloading the configuration: {e}");
        if self.status.fail(Part::Reload, msg) {
            tracing::warn!(
                version,
                "cannot reload the configuration; calls go on with the last one and \
                 reloads are retried: {e}"
            );
        }
    }
}

/// The refresh task. `events` is the PostgreSQL listener's channel; without one
/// (SQLite) the change counter is polled instead.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut events: Option<mpsc::Receiver<Event>>,
    opts: LiveOptions,
) {
    let poll_counter_too = events.is_none();
    let mut poll = interval(opts.poll_interval.max(Duration::from_millis(1)));
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let every = opts.full_reload_interval.max(Duration::from_millis(1));
    let mut safety = interval_at(Instant::now() + every, every);
    safety.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut backoff = Backoff::new(opts.max_backoff);
    let mut dirty = false;
    let mut retry_at: Option<Instant> = None;
    // The SQLite file's stamp when the counter was last read (see `FileStamp`).
    let mut last_stamp = None;
    let mut skipped = 0u32;
    let mut done = shared.writer.subscribe_done();
    loop {
        if shared.store.pool.is_closed() {
            // `Store::close` was called: nothing will ever load again.
            tracing::debug!("store closed; configuration refresh stops");
            return;
        }
        tokio::select! {
            _ = poll.tick(), if poll_counter_too => {
                let stamp = shared.store.sqlite_file.as_deref().map(FileStamp::of);
                skipped += 1;
                // The stamp can miss a commit (file times are coarse, and a WAL
                // restarted after a checkpoint keeps its size): read the counter
                // anyway every tenth tick, so a change is still seen within 0.5 s.
                if stamp.is_none() || stamp != last_stamp || skipped >= 10 {
                    skipped = 0;
                    match poll_counter(&shared.store).await {
                        Ok(c) => {
                            dirty |= c != shared.loaded_counter.load(Ordering::Relaxed);
                            last_stamp = stamp;
                        }
                        // The reload will fail too, and report it.
                        Err(_) => dirty = true,
                    }
                }
            }
            ev = next_event(&mut events), if !poll_counter_too => match ev {
                Some(ev) => dirty |= handle(&shared, ev),
                None => return,
            },
            _ = safety.tick() => dirty = true,
            Ok(()) = done.changed() => {
                let finished = *done.borrow_and_update();
                dirty |= lock(&shared.overlay).awaiting_reload(finished);
            }
            _ = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                retry_at = None;
            }
        }
        // Fold everything already waiting into this reload.
        if let Some(rx) = events.as_mut() {
            while let Ok(ev) = rx.try_recv() {
                dirty |= handle(&shared, ev);
            }
        }
        if dirty && retry_at.is_none() {
            match shared.reload().await {
                Ok(()) => {
                    dirty = false;
                    backoff.reset();
                }
                Err(_) => retry_at = Some(Instant::now() + backoff.next_delay()),
            }
        }
    }
}

async fn next_event(events: &mut Option<mpsc::Receiver<Event>>) -> Option<Event> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Notes a listener event; true when it calls for a reload.
fn handle(shared: &Shared, ev: Event) -> bool {
    match ev {
        Event::Changed => true,
        Event::Reconnected => {
            if shared.status.ok(Part::Listener) {
                tracing::info!("configuration change listener reconnected; reloading everything");
            }
            true
        }
        Event::Down(msg) => {
            if shared.status.fail(Part::Listener, msg.clone()) {
                tracing::warn!(
                    "lost the configuration change listener; changes by others show \
                     once it is back: {msg}"
                );
            }
            false
        }
    }
}
