//! Media threads: each one owns many bridges and runs their relays from one event
//! loop, as a minimal relay would.
//!
//! Why not a task per bridge: at 50 packets per second per leg the cost of a relay
//! is the wake-ups, not the packet work. A tokio task per bridge paid for an epoll
//! round, a task wake-up (often a futex to another worker thread) and a poll of
//! every socket's future for every packet. Here one `epoll_wait` returns the ready
//! sockets of all the thread's bridges, each socket is drained with `recvmmsg`
//! (`udp_batch`), and each packet is rewritten and sent on the spot.
//!
//! The relay state machine (`relay::Relay`) does the per-packet and per-tick work;
//! this module is only I/O, control messages and the 20 ms clocks of the bridges
//! on the decode path.

use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::oneshot;

use crate::bridge::{Shared, Side};
use crate::ports::PortLease;
use crate::relay::{Control, LegSockets, Relay};
use crate::udp_batch::{RecvBatch, BATCH};

/// The decode path's clock.
const TICK: Duration = Duration::from_millis(20);
/// Sockets per bridge: RTP and RTCP of legs A and B.
const SOCKETS: usize = 4;
/// The token of the worker's own waker (control messages).
const WAKER: Token = Token(usize::MAX);
/// Datagrams read from one socket before the loop serves the others; a flooded
/// port cannot starve the rest of the thread's calls.
const DRAIN_BUDGET: usize = 64;

/// A bridge's name on its worker, unique for the process's life: late controls for
/// a closed bridge are dropped, never applied to a later bridge in the same slot.
pub(crate) type BridgeId = u64;

/// A new, unique bridge id.
pub(crate) fn next_bridge_id() -> BridgeId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
        let mut worker = Worker {
            poll,
            rx,
            wake_pending: wake_pending.clone(),
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            ticking: Vec::new(),
            next_tick: None,
            backlog: VecDeque::new(),
            shutting_down: false,
            bridges: bridges.clone(),
        };
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

/// One bridge on a worker.
struct Entry {
    id: BridgeId,
    relay: Relay,
    sockets: [LegSockets; 2],
    lease: PortLease,
    closed: Arc<AtomicBool>,
    /// Listed in the worker's `ticking` (on the decode path, or just left it).
    ticking: bool,
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

/// The first point of the process's 20 ms grid after `now`. Every bridge on the
/// decode path ticks on this one grid, so a media thread wakes once per 20 ms for
/// all of its mixed calls instead of once per call, and a spied call's frames reach
/// its supervisors' bridges at a steady phase.
fn next_grid_point(now: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let tick = TICK.as_nanos();
    let since = now.saturating_duration_since(epoch).as_nanos();
    let k = since / tick + 1;
    epoch + Duration::from_nanos(u64::try_from(k * tick).unwrap_or(u64::MAX))
}

fn token(slot: usize, socket: usize) -> Token {
    Token(slot * SOCKETS + socket)
}

impl Worker {
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
            for ev in events.iter() {
                if ev.token() != WAKER {
                    self.read(ev.token(), &mut batch);
                }
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
                        self.guarded(slot, |e| e.relay.apply(c));
                        self.schedule(slot);
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
            if let Err(e) = registry.register(s, token(slot, i), Interest::READABLE) {
                tracing::error!("cannot watch an RTP socket: {e}");
                closed.store(true, Ordering::Release);
                self.free.push(slot);
                self.bridges.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
        self.ids.insert(id, slot);
        self.slots[slot] = Some(Entry {
            id,
            relay: Relay::new(shared),
            sockets,
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

    /// Reads what one socket has queued, up to the budget.
    fn read(&mut self, t: Token, batch: &mut RecvBatch) {
        let (slot, socket) = (t.0 / SOCKETS, t.0 % SOCKETS);
        let side = if socket < 2 { Side::A } else { Side::B };
        let is_rtp = socket % 2 == 0;
        let more = self.guarded(slot, |e| {
            let mut budget = DRAIN_BUDGET;
            loop {
                let leg = &e.sockets[side.index()];
                let sock = if is_rtp { &leg.rtp } else { &leg.rtcp };
                let n = match batch.recv(sock) {
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // WouldBlock: empty. Anything else (an ICMP error reported on
                    // the socket): nothing to read either.
                    Err(_) => return false,
                };
                for i in 0..n {
                    let (pkt, src) = batch.get(i);
                    let Some(src) = src else { continue };
                    if is_rtp {
                        e.relay.on_rtp(side, pkt, src, &e.sockets);
                    } else {
                        e.relay.on_rtcp(side, pkt, src, &e.sockets);
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
        self.schedule(slot);
    }

    /// Starts a bridge's clock when its decode path becomes needed (it stops at the
    /// first tick that finds it no longer needed). Called after every readiness
    /// event: the clock is read only when one starts.
    fn schedule(&mut self, slot: usize) {
        let Some(Some(e)) = self.slots.get_mut(slot) else {
            return;
        };
        if e.ticking || !e.relay.needs_clock() {
            return;
        }
        e.ticking = true;
        self.ticking.push((slot, e.id));
        if self.next_tick.is_none() {
            self.next_tick = Some(next_grid_point(Instant::now()));
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
                e.relay.on_tick(&e.sockets, now);
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
