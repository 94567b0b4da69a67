//! The media engine: owns the port range and opens bridges.

use crate::bridge::MediaBridge;
use crate::ports::{lock, PortLease, PortPool, SharedPool};
use crate::relay::LegSockets;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::net::UdpSocket;

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
}

/// Hands out RTP port pairs and relays. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bind_ip: IpAddr,
    range: RangeInclusive<u16>,
    pool: SharedPool,
}

impl MediaEngine {
    /// `ports`: RTP uses the even ports of the range, RTCP the odd port above each.
    pub fn new(bind_ip: IpAddr, ports: RangeInclusive<u16>) -> MediaEngine {
        let pool = Arc::new(Mutex::new(PortPool::new(&ports)));
        MediaEngine {
            inner: Arc::new(Inner {
                bind_ip,
                range: ports,
                pool,
            }),
        }
    }

    /// Allocates and binds two port pairs (legs A and B) and starts their relay.
    /// Pairs some other program holds are skipped.
    pub async fn open_bridge(&self) -> Result<MediaBridge, MediaError> {
        let mut lease = PortLease::new(self.inner.pool.clone());
        // Pairs we could not bind stay reserved until we are done, so the search
        // moves on instead of trying them again; dropping this returns them.
        let mut unbindable = PortLease::new(self.inner.pool.clone());
        let a = self.bind_next(&mut lease, &mut unbindable).await?;
        let b = self.bind_next(&mut lease, &mut unbindable).await?;
        drop(unbindable);
        Ok(MediaBridge::start([a, b], lease))
    }

    async fn bind_next(
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
            match bind_pair(inner.bind_ip, base).await {
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

async fn bind_pair(ip: IpAddr, base: u16) -> std::io::Result<LegSockets> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, base)).await?;
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, base + 1)).await?;
    Ok(LegSockets { rtp, rtcp })
}
