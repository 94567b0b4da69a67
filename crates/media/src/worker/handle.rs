//! How other threads reach a media thread: a queue of messages and a wake-up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use mio::net::UdpSocket;
use mio::{Poll, Waker};
use tokio::sync::oneshot;

use super::{Worker, WAKER};
use crate::control::{BridgeId, Control};
use crate::ports::PortLease;
use crate::relay::{Port, Proto};
use crate::stats::Shared;

/// One leg's two sockets, bound by the engine and owned by the media thread.
#[derive(Debug)]
pub(crate) struct LegSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

impl LegSockets {
    pub(crate) fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// The socket behind one of a bridge's `Port`s.
pub(super) fn socket(legs: &[LegSockets; 2], port: Port) -> &UdpSocket {
    let leg = &legs[port.side.index()];
    match port.proto {
        Proto::Rtp => &leg.rtp,
        Proto::Rtcp => &leg.rtcp,
    }
}

pub(crate) enum Msg {
    Open {
        id: BridgeId,
        sockets: [LegSockets; 2],
        lease: PortLease,
        shared: Arc<Shared>,
        closed: Arc<AtomicBool>,
    },
    Control(BridgeId, Control),
    /// Stop the bridge; `done` fires once its sockets are closed.
    Close(BridgeId, Option<oneshot::Sender<()>>),
    /// The engine is gone: exit once the last bridge is closed.
    Shutdown,
}

/// A cloneable way to reach one media thread.
#[derive(Debug, Clone)]
pub(crate) struct WorkerHandle {
    tx: mpsc::Sender<Msg>,
    waker: Arc<Waker>,
    /// Set by the first message after the thread last looked at its queue: a
    /// burst of controls (a call being set up sends several) costs one wake-up.
    wake_pending: Arc<AtomicBool>,
    /// Bridges placed on this thread (counted when sent, so a burst of new calls
    /// spreads out before the thread has opened them), for picking the least busy.
    pub bridges: Arc<AtomicUsize>,
}

impl WorkerHandle {
    /// Starts a media thread.
    pub fn spawn(name: String) -> std::io::Result<WorkerHandle> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        let bridges = Arc::new(AtomicUsize::new(0));
        let wake_pending = Arc::new(AtomicBool::new(false));
        let mut worker = Worker::new(poll, rx, wake_pending.clone(), bridges.clone());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run())?;
        Ok(WorkerHandle {
            tx,
            waker,
            wake_pending,
            bridges,
        })
    }

    /// Places a new bridge on this thread.
    pub fn open(&self, msg: Msg) -> bool {
        self.bridges.fetch_add(1, Ordering::Relaxed);
        self.send(msg)
    }

    /// Sends a message; false if the thread is gone.
    pub fn send(&self, msg: Msg) -> bool {
        if self.tx.send(msg).is_err() {
            return false;
        }
        if self.wake_pending.swap(true, Ordering::AcqRel) {
            return true; // the thread has yet to read the queue, and will see this
        }
        // A failed wake means the poll is gone too; the message is moot.
        self.waker.wake().is_ok()
    }
}
