//! A bridge's counters: written by its media thread (the relay counts what it
//! receives and withholds, the I/O edge what the OS accepted), read by the handle.
//!
//! Below the relay and the worker so that both can count without knowing each
//! other or the handle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::side::Side;

/// Counters for one leg. "in" is what that leg's phone sent us, "out" what we
/// sent to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    /// Received datagrams that were not valid RTP/RTCP (or late beyond repair).
    pub dropped_bad: u64,
    /// Valid packets that are not this leg's phone's: from an address other than
    /// the latched one (RTP bleed, a phone that left), or from one the latching rules
    /// refuse (anyone before the leg's SDP is known, a stranger on a leg whose phone
    /// is on this host, a payload type the SDP does not list: see `relay`).
    pub dropped_foreign: u64,
    /// Packets for this leg that had nowhere to go (no SDP, nothing latched).
    pub dropped_no_destination: u64,
    /// Packets for this leg withheld because it is on hold (`set_hold`).
    pub dropped_held: u64,
    /// Sends that the OS refused (e.g. socket buffer full).
    pub send_errors: u64,
    /// On the decode path (a spy, a mix, a prompt): packets from this leg's phone
    /// that came too late to be played, and frames that were missing at their
    /// turn and were concealed (lost). Zero while the call is only forwarded.
    pub jitter_late: u64,
    pub jitter_lost: u64,
    pub latched_rtp: Option<SocketAddr>,
    pub latched_rtcp: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeStats {
    pub a: SideStats,
    pub b: SideStats,
}

impl BridgeStats {
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

/// Live counters shared between the media thread and the handle. Counters are
/// relaxed atomics (cheap on the hot path); latched addresses change rarely and sit
/// behind a mutex.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub rtcp_in: AtomicU64,
    pub rtcp_out: AtomicU64,
    pub dropped_bad: AtomicU64,
    pub dropped_foreign: AtomicU64,
    pub dropped_no_destination: AtomicU64,
    pub dropped_held: AtomicU64,
    pub send_errors: AtomicU64,
    /// Copied from the leg's jitter buffer at every tick (totals, not deltas).
    pub jitter_late: AtomicU64,
    pub jitter_lost: AtomicU64,
    pub latched_rtp: Mutex<Option<SocketAddr>>,
    pub latched_rtcp: Mutex<Option<SocketAddr>>,
}

/// Both legs' counters, indexed by `Side::index`.
pub(crate) type Shared = [Counters; 2];

pub(crate) fn bump(counter: &AtomicU64, by: usize) {
    counter.fetch_add(by as u64, Ordering::Relaxed);
}

pub(crate) fn store_addr(slot: &Mutex<Option<SocketAddr>>, addr: Option<SocketAddr>) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = addr;
}

impl Counters {
    /// The I/O edge's report on one send to this leg's phone.
    pub(crate) fn count_send(&self, rtcp: bool, len: usize, sent: bool) {
        match (sent, rtcp) {
            (false, _) => bump(&self.send_errors, 1),
            (true, true) => bump(&self.rtcp_out, 1),
            (true, false) => {
                bump(&self.packets_out, 1);
                bump(&self.bytes_out, len);
            }
        }
    }

    pub(crate) fn snapshot(&self) -> SideStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let addr = |m: &Mutex<Option<SocketAddr>>| *m.lock().unwrap_or_else(|e| e.into_inner());
        SideStats {
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            rtcp_in: get(&self.rtcp_in),
            rtcp_out: get(&self.rtcp_out),
            dropped_bad: get(&self.dropped_bad),
            dropped_foreign: get(&self.dropped_foreign),
            dropped_no_destination: get(&self.dropped_no_destination),
            dropped_held: get(&self.dropped_held),
            send_errors: get(&self.send_errors),
            jitter_late: get(&self.jitter_late),
            jitter_lost: get(&self.jitter_lost),
            latched_rtp: addr(&self.latched_rtp),
            latched_rtcp: addr(&self.latched_rtcp),
        }
    }
}

/// Both legs' counters as one snapshot.
pub(crate) fn snapshot(shared: &Shared) -> BridgeStats {
    BridgeStats {
        a: shared[0].snapshot(),
        b: shared[1].snapshot(),
    }
}
