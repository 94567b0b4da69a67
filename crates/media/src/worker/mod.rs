//! Media threads: each one owns many bridges and runs their relays from one event
//! loop, as a minimal relay would. This is the crate's I/O edge: the sockets, the
//! readiness loop, the clock and the sends all live here; the relay it drives is
//! plain state (`relay`).
//!
//! Why not a task per bridge: at 50 packets per second per leg the cost of a relay
//! is the wake-ups, not the packet work. A tokio task per bridge paid for an epoll
//! round, a task wake-up (often a futex to another worker thread) and a poll of
//! every socket's future for every packet. Here one `epoll_wait` returns the ready
//! sockets of all the thread's bridges, each socket is drained with `recvmmsg`
//! (`udp_batch`), and each packet is rewritten in the receive buffer and sent on the
//! spot with one non-blocking `send_to`.
//!
//! Why not `sendmmsg`: it batches sends on one socket, and a bridge's socket has one
//! or two packets to send per wake-up at call rates (one per datagram read from the
//! other leg, one per tick); a batch would save nothing and delay the first packet.
//!
//! The clock is read once per `recvmmsg` batch (every datagram of it had arrived by
//! then), once per tick and once per burst of controls, and handed to the relay.

mod clock;
mod handle;

pub(crate) use handle::{LegSockets, Msg, WorkerHandle};

use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::control::BridgeId;
use crate::ports::PortLease;
use crate::relay::{Port, Relay, Transmit};
use crate::stats::Shared;
use crate::udp_batch::{RecvBatch, BATCH};
use clock::{next_grid_point, TICK};

/// Sockets per bridge: RTP and RTCP of legs A and B.
const SOCKETS: usize = 4;
/// The token of the worker's own waker (control messages).
const WAKER: Token = Token(usize::MAX);
/// Datagrams read from one socket before the loop serves the others; a flooded
/// port cannot starve the rest of the thread's calls.
const DRAIN_BUDGET: usize = 64;

/// One bridge on a worker.
struct Entry {
    id: BridgeId,
    relay: Relay,
    sockets: [LegSockets; 2],
    /// The relay's counters too: the edge counts what the OS accepted.
    shared: Arc<Shared>,
    lease: PortLease,
    closed: Arc<AtomicBool>,
    /// Listed in the worker's `ticking` (on the decode path, or just left it).
    ticking: bool,
}

impl Entry {
    /// Sends what the relay made (ticks, or anything a control produced).
    fn flush(&mut self) {
        while let Some((t, data)) = self.relay.poll_transmit() {
            send(&self.sockets, &self.shared, t, data);
        }
    }
}

/// Non-blocking send: a relay that waited for a full socket buffer would delay
/// every other packet of the call, so such a packet is dropped and counted.
fn send(sockets: &[LegSockets; 2], shared: &Shared, t: Transmit, data: &[u8]) {
    let sent = handle::socket(sockets, t.via).send_to(data, t.dest).is_ok();
    shared[t.via.side.index()].count_send(t.via.is_rtcp(), data.len(), sent);
}

struct Worker {
    poll: Poll,
    rx: mpsc::Receiver<Msg>,
    wake_pending: Arc<AtomicBool>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// Where each bridge sits in `slots`.
    ids: HashMap<BridgeId, usize>,
    /// Bridges on the decode path, all ticked together at each grid point. One that
    /// left the decode path (or closed) is dropped from the list at its next tick.
    ticking: Vec<(usize, BridgeId)>,
    /// The grid point of the next tick, while any bridge is ticking.
    next_tick: Option<Instant>,
    /// Sockets that hit `DRAIN_BUDGET` and still have datagrams queued.
    backlog: VecDeque<Token>,
    shutting_down: bool,
    bridges: Arc<AtomicUsize>,
}

fn token(slot: usize, port: Port) -> Token {
    Token(slot * SOCKETS + port.index())
}

impl Worker {
    fn new(
        poll: Poll,
        rx: mpsc::Receiver<Msg>,
        wake_pending: Arc<AtomicBool>,
        bridges: Arc<AtomicUsize>,
    ) -> Worker {
        Worker {
            poll,
            rx,
            wake_pending,
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            ticking: Vec::new(),
            next_tick: None,
            backlog: VecDeque::new(),
            shutting_down: false,
            bridges,
        }
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut batch = RecvBatch::new();
        loop {
            let timeout = if self.backlog.is_empty() {
                self.next_tick
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    tracing::error!("media thread stops: poll failed: {e}");
                    return;
                }
            }
            // Control first, so a set_remote issued before a packet arrives is
            // applied before that packet is handled.
            if !self.drain_messages() {
                return;
            }
            let mut ready = events.iter().map(|e| e.token()).filter(|&t| t != WAKER);
            let mut next = ready.next();
            while let Some(t) = next {
                // While this socket is read (system calls of a few microseconds),
                // the next one's bridge comes into the cache: with thousands of
                // calls it is rarely there, and waiting for it was most of the
                // time the forwarding path spent outside the kernel.
                next = ready.next();
                if let Some(Some(e)) = next.and_then(|n| self.slots.get(n.0 / SOCKETS)) {
                    prefetch(e);
                }
                self.read(t, &mut batch);
            }
            for _ in 0..self.backlog.len() {
                if let Some(t) = self.backlog.pop_front() {
                    self.read(t, &mut batch);
                }
            }
            self.run_ticks();
        }
    }

    /// Applies queued messages; false when the thread should exit.
    fn drain_messages(&mut self) -> bool {
        // Cleared before reading, so a message sent after the last read wakes us.
        // A swap (acquire) so every message whose sender saw the flag set is visible.
        self.wake_pending.swap(false, Ordering::AcqRel);
        // Read once for the burst, and only if a control is in it.
        let mut now = None;
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Open {
                    id,
                    sockets,
                    lease,
                    shared,
                    closed,
                }) => self.open(id, sockets, lease, shared, closed),
                Ok(Msg::Control(id, c)) => {
                    if let Some(&slot) = self.ids.get(&id) {
                        let now = *now.get_or_insert_with(Instant::now);
                        self.guarded(slot, |e| {
                            e.relay.handle_control(now, c);
                            e.flush();
                        });
                        self.schedule(slot, now);
                    }
                }
                Ok(Msg::Close(id, done)) => {
                    if let Some(slot) = self.ids.remove(&id) {
                        self.close(slot);
                    }
                    if let Some(d) = done {
                        let _ = d.send(());
                    }
                }
                Ok(Msg::Shutdown) => self.shutting_down = true,
                Err(mpsc::TryRecvError::Empty) => break,
                // Every handle is gone: nobody can close the bridges any more.
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.close_all();
                    return false;
                }
            }
        }
        if self.shutting_down && self.bridges.load(Ordering::Relaxed) == 0 {
            return false;
        }
        true
    }

    fn open(
        &mut self,
        id: BridgeId,
        mut sockets: [LegSockets; 2],
        lease: PortLease,
        shared: Arc<Shared>,
        closed: Arc<AtomicBool>,
    ) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let registry = self.poll.registry();
        for (i, s) in sockets
            .iter_mut()
            .flat_map(|l| [&mut l.rtp, &mut l.rtcp])
            .enumerate()
        {
            if let Err(e) =
                registry.register(s, token(slot, Port::from_index(i)), Interest::READABLE)
            {
                tracing::error!("cannot watch an RTP socket: {e}");
                closed.store(true, Ordering::Release);
                self.free.push(slot);
                self.bridges.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
        self.ids.insert(id, slot);
        // The address the sockets are bound to: the relay latches a phone whose SDP
        // names this machine by exact address only.
        let host = sockets[0]
            .rtp
            .local_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        self.slots[slot] = Some(Entry {
            id,
            relay: Relay::new(shared.clone(), host),
            sockets,
            shared,
            lease,
            closed,
            ticking: false,
        });
    }

    /// Closes the sockets first, then frees the ports, so a new bridge can bind
    /// them at once.
    fn close(&mut self, slot: usize) {
        let Some(mut e) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        for s in e.sockets.iter_mut().flat_map(|l| [&mut l.rtp, &mut l.rtcp]) {
            let _ = self.poll.registry().deregister(s);
        }
        e.relay.shutdown();
        e.closed.store(true, Ordering::Release);
        drop(e.sockets);
        drop(e.lease);
        self.free.push(slot);
        self.bridges.fetch_sub(1, Ordering::Relaxed);
    }

    fn close_all(&mut self) {
        self.ids.clear();
        for slot in 0..self.slots.len() {
            self.close(slot);
        }
    }

    /// The bridge `id`, if it still sits in `slot`.
    fn entry(&mut self, slot: usize, id: BridgeId) -> Option<&mut Entry> {
        self.slots.get_mut(slot)?.as_mut().filter(|e| e.id == id)
    }

    /// Runs `f` on a bridge. A panic in one bridge's relay (a bug, never bad
    /// input, which is counted and dropped) closes that bridge and spares the
    /// other calls on this thread.
    fn guarded<R>(&mut self, slot: usize, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let e = self.slots.get_mut(slot)?.as_mut()?;
        let id = e.id;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(e))) {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::error!(bridge = id, "media relay failed; closing this call's media");
                self.ids.remove(&id);
                self.close(slot);
                None
            }
        }
    }

    /// Reads what one socket has queued, up to the budget, relaying each datagram
    /// from the receive buffer it was read into.
    fn read(&mut self, t: Token, batch: &mut RecvBatch) {
        let (slot, port) = (t.0 / SOCKETS, Port::from_index(t.0 % SOCKETS));
        let mut last_read = None;
        let more = self.guarded(slot, |e| {
            // Both legs' counters: another allocation, counted into for every packet.
            prefetch(&e.shared[0]);
            prefetch(&e.shared[1]);
            let mut budget = DRAIN_BUDGET;
            loop {
                let n = match batch.recv(handle::socket(&e.sockets, port)) {
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // WouldBlock: empty. Anything else (an ICMP error reported on
                    // the socket): nothing to read either.
                    Err(_) => return false,
                };
                let now = Instant::now();
                last_read = Some(now);
                for i in 0..n {
                    let (buf, len, src) = batch.get_with_room(i);
                    let Some(src) = src else { continue };
                    if let Some(t) = e.relay.handle_datagram(now, port, src, buf, len) {
                        send(&e.sockets, &e.shared, t, &buf[..t.len.min(buf.len())]);
                    }
                }
                // A short batch emptied the socket; a later datagram is a new event.
                if n < BATCH {
                    return false;
                }
                budget = budget.saturating_sub(n);
                if budget == 0 {
                    return true;
                }
            }
        });
        if more == Some(true) {
            self.backlog.push_back(t);
        }
        if let Some(now) = last_read {
            self.schedule(slot, now);
        }
    }

    /// Starts a bridge's clock when its decode path becomes needed (it stops at the
    /// first tick that finds it no longer needed). Called after every input.
    fn schedule(&mut self, slot: usize, now: Instant) {
        let Some(Some(e)) = self.slots.get_mut(slot) else {
            return;
        };
        if e.ticking || !e.relay.needs_clock() {
            return;
        }
        e.ticking = true;
        self.ticking.push((slot, e.id));
        if self.next_tick.is_none() {
            self.next_tick = Some(next_grid_point(now));
        }
    }

    /// Ticks every bridge on the decode path once the grid point is due.
    fn run_ticks(&mut self) {
        let Some(at) = self.next_tick else {
            return;
        };
        let now = Instant::now();
        if at > now {
            return;
        }
        // Nothing schedules while the list is out: ticks send, they do not read.
        let mut list = std::mem::take(&mut self.ticking);
        list.retain(|&(slot, id)| {
            // Gone: closed (the slot may hold a newer bridge, listed on its own).
            let Some(e) = self.entry(slot, id) else {
                return false;
            };
            if !e.relay.needs_clock() {
                e.ticking = false;
                return false;
            }
            let ticking = self.guarded(slot, |e| {
                e.relay.handle_tick(now);
                e.flush();
                e.relay.needs_clock()
            }) == Some(true);
            if let Some(e) = self.entry(slot, id) {
                e.ticking = ticking;
            }
            ticking
        });
        self.ticking = list;
        self.next_tick = (!self.ticking.is_empty()).then(|| {
            // Stay on the grid; after a stall of more than a tick, skip the missed
            // ticks instead of sending a burst.
            let next = at + TICK;
            if next + TICK < now {
                next_grid_point(now)
            } else {
                next
            }
        });
    }
}

/// Starts loading `value`'s cache lines (all of them) without waiting for them: a
/// hint that never faults and changes nothing but timing.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = (value as *const T).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: SSE is part of x86_64; a prefetch reads nothing the program
            // sees and never faults (wrapping_add: the address is only a hint).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
