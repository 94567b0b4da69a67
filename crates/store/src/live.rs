//! [`LiveConfig`]: the one handle the PBX keeps on its database.
//!
//! It owns the two halves that keep the database off the call path: the
//! configuration snapshot, kept current by a background task ([`crate::refresh`]),
//! and the write-behind queue ([`WriteBehind`]). The AstDB methods join the two,
//! so the dialplan's `DB()` reads its own writes at once ([`crate::overlay`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::health::{lock, Status};
use crate::load::load;
use crate::notify;
use crate::refresh::{self, LiveOptions, Shared};
use crate::snapshot::ConfigSnapshot;
use crate::write_behind::TaskGuard;
use crate::{validate, Store, StoreError, StoreHealth, Write, WriteBehind};

/// The live configuration and the write queue; cheap to clone (clones share both).
/// Dropping the last clone stops the background tasks: [`LiveConfig::flush`] first.
#[derive(Clone)]
pub struct LiveConfig {
    shared: Arc<Shared>,
    _tasks: Arc<TaskGuard>,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("version", &self.snapshot().version())
            .field("health", &self.health())
            .finish()
    }
}

impl LiveConfig {
    /// Loads the configuration (this first load must work) and starts keeping it
    /// current, with [`LiveOptions::default`].
    pub async fn start(store: Store) -> Result<LiveConfig, StoreError> {
        Self::start_with(store, LiveOptions::default()).await
    }

    /// Like [`LiveConfig::start`], with other intervals or queue bound.
    pub async fn start_with(store: Store, opts: LiveOptions) -> Result<LiveConfig, StoreError> {
        notify::install(&store).await?;
        // Listen before the first load, so a change committed during it is not lost.
        let listener = match store.pg_url() {
            Some(url) => Some((Arc::<str>::from(url), notify::connect_listener(url).await?)),
            None => None,
        };
        let loaded = load(&store).await?;
        let status = Arc::new(Status::default());
        let writer = WriteBehind::start_with(
            store.clone(),
            opts.queue_bound,
            opts.max_backoff,
            status.clone(),
        );
        let first = ConfigSnapshot::from_parts(loaded.parts, 1);
        let shared = Arc::new(Shared::new(store, first, loaded.counter, writer, status));

        let mut tasks = Vec::new();
        let events = listener.map(|(url, listener)| {
            let (tx, rx) = mpsc::channel(64);
            let task = notify::run_listener(url, listener, tx, opts.max_backoff);
            tasks.push(tokio::spawn(task).abort_handle());
            rx
        });
        tasks.push(tokio::spawn(refresh::run(shared.clone(), events, opts)).abort_handle());
        Ok(LiveConfig {
            shared,
            _tasks: Arc::new(TaskGuard(tasks)),
        })
    }

    /// The configuration in force now.
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.shared.tx.borrow().clone()
    }

    /// A receiver that wakes on each new snapshot.
    pub fn watch(&self) -> watch::Receiver<Arc<ConfigSnapshot>> {
        self.shared.tx.subscribe()
    }

    /// Reloads at once (after a write through the [`Store`], or in tests); on
    /// success the snapshot shows every change committed before the call.
    pub async fn refresh_now(&self) -> Result<(), StoreError> {
        self.shared.reload().await
    }

    /// Reloads now, waiting at most `within`: before a refusal that a change made a
    /// moment ago could turn round. A database that cannot answer in time leaves
    /// the last snapshot in force (logged at debug).
    pub async fn catch_up(&self, within: Duration) {
        match tokio::time::timeout(within, self.refresh_now()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("no fresher configuration: {e}"),
            Err(_) => tracing::debug!("no fresher configuration within {within:?}"),
        }
    }

    /// The database handle, for what is not on the call path (CLI, API).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The write-behind queue.
    pub fn writer(&self) -> &WriteBehind {
        &self.shared.writer
    }

    /// Queues a write ([`WriteBehind::submit`]); false when the queue was full.
    pub fn submit(&self, w: Write) -> bool {
        self.shared.writer.submit(w)
    }

    /// Waits for every write submitted so far ([`WriteBehind::flush`]).
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.shared.writer.flush(timeout).await
    }

    /// Reloads, listener and writes, for `/health`.
    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            config_version: self.shared.tx.borrow().version(),
            ..self.shared.writer.health()
        }
    }

    /// `DB(family/key)`: the value, pending writes included.
    pub fn db_get(&self, family: &str, key: &str) -> Option<String> {
        let overlay = lock(&self.shared.overlay);
        let snap = self.shared.tx.borrow();
        overlay.get(&snap, family, key)
    }

    /// The `(key, value)` pairs of exactly `family`, pending writes included.
    pub fn db_family(&self, family: &str) -> Vec<(String, String)> {
        let overlay = lock(&self.shared.overlay);
        let snap = self.shared.tx.borrow();
        overlay.family(&snap, family)
    }

    /// `Set(DB(family/key)=value)`: seen by the next `db_get` at once, written behind.
    pub fn db_put(&self, family: &str, key: &str, value: &str) -> Result<(), StoreError> {
        validate::db_name("family", family)?;
        validate::db_name("key", key)?;
        let mut overlay = lock(&self.shared.overlay);
        // Queued under the overlay lock, so queue order and overlay order agree.
        let seq = self.queue(Write::KvPut {
            family: family.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })?;
        overlay.set(family, key, Some(value.to_string()), seq);
        Ok(())
    }

    /// `DBdel(family/key)`: true when there was a value.
    pub fn db_del(&self, family: &str, key: &str) -> Result<bool, StoreError> {
        let mut overlay = lock(&self.shared.overlay);
        let existed = {
            let snap = self.shared.tx.borrow();
            overlay.get(&snap, family, key).is_some()
        };
        let seq = self.queue(Write::KvDel {
            family: family.to_string(),
            key: key.to_string(),
        })?;
        overlay.set(family, key, None, seq);
        Ok(existed)
    }

    /// `DBdeltree(family)`: the family and its sub-families; returns how many
    /// entries there were.
    pub fn db_deltree(&self, family: &str) -> Result<usize, StoreError> {
        let tree = family.trim_matches('/');
        validate::db_name("family", tree)?;
        let mut overlay = lock(&self.shared.overlay);
        let count = {
            let snap = self.shared.tx.borrow();
            overlay.tree_keys(&snap, tree).len()
        };
        let seq = self.queue(Write::KvDelTree {
            family: tree.to_string(),
        })?;
        overlay.delete_tree(tree, seq);
        Ok(count)
    }

    fn queue(&self, w: Write) -> Result<u64, StoreError> {
        self.shared
            .writer
            .submit_seq(w)
            .ok_or(StoreError::QueueFull {
                bound: self.shared.writer.bound(),
            })
    }

    /// Pending AstDB changes not yet in the snapshot (for tests).
    #[doc(hidden)]
    pub fn pending_kv(&self) -> usize {
        lock(&self.shared.overlay).len()
    }
}
