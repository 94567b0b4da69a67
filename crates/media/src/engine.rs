//! The media engine: owns the port range and the media threads, and opens bridges.
//! The top of the crate with `bridge`.

use crate::bridge::MediaBridge;
use crate::ports::{lock, PortLease, PortPool, SharedPool};
use crate::worker::{LegSockets, Msg, WorkerHandle};
use mio::net::UdpSocket;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MediaError {
    #[error(
        "no free RTP port pair in {first}-{last}: {in_use} ports in use by calls, \
         {unbindable} pairs taken by other programs; widen the RTP port range"
    )]
    PortsExhausted {
        first: u16,
        last: u16,
        in_use: usize,
        unbindable: usize,
    },
    #[error("cannot start a media thread: {0}")]
    Thread(std::io::Error),
}

/// Hands out RTP port pairs and relays. Cheap to clone; clones share the pool and
/// the media threads (one per core, started with the first bridge; each bridge
/// lives on the thread with the fewest bridges).
#[derive(Debug, Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bind_ip: IpAddr,
    range: RangeInclusive<u16>,
    pool: SharedPool,
    threads: usize,
    workers: Mutex<Vec<WorkerHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Each thread exits once its last bridge is closed.
        for w in self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            w.send(Msg::Shutdown);
        }
    }
}

impl MediaEngine {
    /// `ports`: RTP uses the even ports of the range, RTCP the odd port above each.
    pub fn new(bind_ip: IpAddr, ports: RangeInclusive<u16>) -> MediaEngine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        MediaEngine::with_threads(bind_ip, ports, cores)
    }

    /// As `new`, with `threads` media threads (at least one).
    pub fn with_threads(
        bind_ip: IpAddr,
        ports: RangeInclusive<u16>,
        threads: usize,
    ) -> MediaEngine {
        let pool = Arc::new(Mutex::new(PortPool::new(&ports)));
        MediaEngine {
            inner: Arc::new(Inner {
                bind_ip,
                range: ports,
                pool,
                threads: threads.max(1),
                workers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The least busy media thread, starting the threads on first use.
    fn worker(&self) -> Result<WorkerHandle, MediaError> {
        // Poisoning leaves a usable list: each update is one push.
        let mut workers = self.inner.workers.lock().unwrap_or_else(|e| e.into_inner());
        while workers.len() < self.inner.threads {
            let name = format!("media-{}", workers.len());
            workers.push(WorkerHandle::spawn(name).map_err(MediaError::Thread)?);
        }
        let least = workers
            .iter()
            .min_by_key(|w| w.bridges.load(Ordering::Relaxed))
            .cloned();
        least.ok_or_else(|| MediaError::Thread(std::io::Error::other("no media thread")))
    }

    /// Allocates and binds two port pairs (legs A and B) and starts their relay.
    /// Pairs some other program holds are skipped.
    ///
    /// Synchronous, and quick enough to call from an async task or a state machine:
    /// four non-blocking `bind`s, a short lock on the port pool and a message to a
    /// media thread (the first call also starts the threads). It never waits for the
    /// media thread, which picks the bridge up on its next loop turn; commands sent
    /// before then queue behind it.
    pub fn open(&self) -> Result<MediaBridge, MediaError> {
        let worker = self.worker()?;
        let mut lease = PortLease::new(self.inner.pool.clone());
        // Pairs we could not bind stay reserved until we are done, so the search
        // moves on instead of trying them again; dropping this returns them.
        let mut unbindable = PortLease::new(self.inner.pool.clone());
        let a = self.bind_next(&mut lease, &mut unbindable)?;
        let b = self.bind_next(&mut lease, &mut unbindable)?;
        drop(unbindable);
        Ok(MediaBridge::start(worker, [a, b], lease))
    }

    /// `open` for async callers; it does not yield.
    pub async fn open_bridge(&self) -> Result<MediaBridge, MediaError> {
        self.open()
    }

    fn bind_next(
        &self,
        lease: &mut PortLease,
        unbindable: &mut PortLease,
    ) -> Result<LegSockets, MediaError> {
        let inner = &self.inner;
        loop {
            let reserved = lock(&inner.pool).reserve();
            let Some(base) = reserved else {
                let held_here = lease.len() + unbindable.len();
                let pairs = lock(&inner.pool).pairs_in_use().saturating_sub(held_here);
                return Err(MediaError::PortsExhausted {
                    first: *inner.range.start(),
                    last: *inner.range.end(),
                    in_use: pairs * 2,
                    unbindable: unbindable.len(),
                });
            };
            match bind_pair(inner.bind_ip, base) {
                Ok(sockets) => {
                    lease.push(base);
                    return Ok(sockets);
                }
                Err(e) => {
                    tracing::debug!(port = base, error = %e, "RTP port pair unavailable");
                    unbindable.push(base);
                }
            }
        }
    }

    /// Ports (RTP and RTCP) held by open bridges: four per bridge.
    pub fn ports_in_use(&self) -> usize {
        lock(&self.inner.pool).pairs_in_use() * 2
    }
}

fn bind_pair(ip: IpAddr, base: u16) -> std::io::Result<LegSockets> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, base))?;
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, base + 1))?;
    Ok(LegSockets { rtp, rtcp })
}
