//! G.711 RTP streams, 20 ms pacing, many legs per worker thread.
//!
//! Each leg is one UDP socket (one phone's RTP port). A worker thread owns a set of
//! legs, one epoll (mio) for their readability, and a 20-slot timer wheel of 1 ms slots:
//! leg i sends in slot i % 20, so a worker's sends are spread evenly over each 20 ms.
//!
//! Every payload begins with a stamp that survives G.711 decode/mix/encode: 28 mu-law
//! codes 0x10..0x1F, each carrying one nibble of (magic u16, sequence u32, send time
//! u64 ns since the tool's epoch). The rest of the payload is mu-law silence, so a
//! mixer adding silence (a whisperer sending silence) leaves the stamp intact.
//!
//! Why the arrival time is the kernel's (`SO_TIMESTAMPNS`), not the moment the tool
//! read the packet: on one core of its own the tool is as busy as the relay it
//! drives, and a reading taken when the tool got round to the socket measured the
//! tool's own backlog as the relay's latency. The kernel stamps a datagram when the
//! relay's send delivers it on loopback, so latency = that stamp - the send time in
//! the payload is the time the packet spent in the relay (and its socket). How long
//! the tool then took to read it is kept apart (`tool_rx_delay`), as is how late it
//! sent (`send_late`), so a step where the tool fell behind is visible as such.
//!
//! Why the loop wakes on its 1 ms clock only, not on readability: waking for every
//! arriving packet cost the tool a wake-up per packet near the relay's limit; with
//! kernel arrival times a packet read up to a slot later measures the same, so each
//! slot sends its legs, then collects whatever arrived (epoll with no wait).
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PAYLOAD: usize = 160;
const STAMP_NIBBLES: usize = 28;
const MAGIC: u16 = 0x5b1a;
/// Histogram resolution and range: 10 us buckets up to 500 ms, then overflow.
const BUCKET_NS: u64 = 10_000;
const BUCKETS: usize = 50_001;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the tool started (shared by senders and receivers).
pub fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What a leg's call is, for the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plain call (fast relay path).
    Plain = 0,
    /// A call under listen (ChanSpy q).
    Listen = 1,
    /// The caller's leg of a call under whisper (ChanSpy qw): what the caller hears
    /// is not changed by the whisper.
    Whisper = 2,
    /// A supervisor's own leg: sends silence without stamps, counts what it hears.
    Spy = 3,
    /// The agent's leg of a call under whisper: hears the caller mixed with the
    /// supervisor (decode, jitter buffer, mix, encode).
    WhisperAgent = 4,
}

pub const KINDS: [Kind; 5] = [
    Kind::Plain,
    Kind::Listen,
    Kind::Whisper,
    Kind::Spy,
    Kind::WhisperAgent,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Listen => "listen",
            Kind::Whisper => "whisper",
            Kind::Spy => "spy",
            Kind::WhisperAgent => "whisper_agent",
        }
    }
}

/// One phone's RTP endpoint.
pub struct Leg {
    pub sock: UdpSocket,
    pub remote: SocketAddr,
    pub kind: Kind,
    pub ssrc: u32,
    seq: u32,
    last: Option<(u64, u64)>,
}

impl Leg {
    pub fn new(sock: UdpSocket, remote: SocketAddr, kind: Kind, ssrc: u32) -> Leg {
        Leg {
            sock,
            remote,
            kind,
            ssrc,
            seq: 0,
            last: None,
        }
    }
}

/// A latency/jitter histogram in 10 us buckets.
#[derive(Clone)]
pub struct Hist {
    b: Vec<u64>,
    n: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            b: vec![0; BUCKETS],
            n: 0,
        }
    }
}

impl Hist {
    pub fn add(&mut self, ns: u64) {
        let i = ((ns / BUCKET_NS) as usize).min(BUCKETS - 1);
        self.b[i] += 1;
        self.n += 1;
    }
    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.b.iter_mut().zip(&o.b) {
            *a += b;
        }
        self.n += o.n;
    }
    /// The largest sample in milliseconds (upper edge of its bucket); None when empty.
    pub fn max_ms(&self) -> Option<f64> {
        let i = self.b.iter().rposition(|&c| c > 0)?;
        Some(((i as u64 + 1) * BUCKET_NS) as f64 / 1e6)
    }
    /// The q-quantile in milliseconds (upper edge of its bucket); None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let target = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.b.iter().enumerate() {
            acc += c;
            if acc >= target {
                return Some(((i as u64 + 1) * BUCKET_NS) as f64 / 1e6);
            }
        }
        Some((BUCKETS as u64 * BUCKET_NS) as f64 / 1e6)
    }
}

/// Counters of one kind of leg over the measurement window.
#[derive(Clone, Default)]
pub struct KindStats {
    /// Stamped packets sent with a send time inside the window.
    pub sent: u64,
    /// Stamped packets received whose send time is inside the window.
    pub recv: u64,
    /// Packets received (any) while the window was open, stamped or not.
    pub recv_any: u64,
    /// Packets received whose payload did not carry a valid stamp.
    pub unstamped: u64,
    /// Of those, the ones that are not mu-law silence (0xff/0x7f and the codes
    /// next to them): sound, e.g. the PBX's music on hold.
    pub audible: u64,
    /// One-way latency (receive time - send time).
    pub latency: Hist,
    /// |D| of RFC 3550 between consecutive stamped packets of a stream.
    pub jitter: Hist,
    /// Spy legs: inter-arrival deviation from 20 ms (no stamps to use).
    pub arrival_dev: Hist,
}

impl KindStats {
    fn merge(&mut self, o: &KindStats) {
        self.sent += o.sent;
        self.recv += o.recv;
        self.recv_any += o.recv_any;
        self.unstamped += o.unstamped;
        self.audible += o.audible;
        self.latency.merge(&o.latency);
        self.jitter.merge(&o.jitter);
        self.arrival_dev.merge(&o.arrival_dev);
    }
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            (self.sent.saturating_sub(self.recv)) as f64 / self.sent as f64
        }
    }
}

#[derive(Clone, Default)]
pub struct Stats {
    pub kinds: [KindStats; 5],
    /// Sends that failed (socket buffer full and the like).
    pub send_errors: u64,
    /// How far behind its timer wheel a worker ever fell, in ms.
    pub max_lag_ms: f64,
    /// How late each timer slot's sends went out (now - the slot's due time), one
    /// sample per slot: the tool's own pacing.
    pub send_late: Hist,
    /// How long a received datagram waited in the tool's socket (read time - the
    /// kernel's arrival stamp): up to a slot by design, more when the tool is behind.
    pub rx_delay: Hist,
    /// Legs that received no packet at all while the window was open (the queue
    /// scenario's proof that every waiting caller hears music).
    pub silent_legs: usize,
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        for (a, b) in self.kinds.iter_mut().zip(&o.kinds) {
            a.merge(b);
        }
        self.send_errors += o.send_errors;
        self.max_lag_ms = self.max_lag_ms.max(o.max_lag_ms);
        self.send_late.merge(&o.send_late);
        self.rx_delay.merge(&o.rx_delay);
        self.silent_legs += o.silent_legs;
    }
    /// All stamped kinds together (the calls' own streams, not the supervisors').
    pub fn calls(&self) -> KindStats {
        let mut t = KindStats::default();
        for k in [Kind::Plain, Kind::Listen, Kind::Whisper, Kind::WhisperAgent] {
            t.merge(&self.kinds[k as usize]);
        }
        t
    }
}

/// The measurement plan: warm-up, then the window, then a grace period for packets
/// in flight (sending stops at the window's end).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub warmup: Duration,
    pub window: Duration,
    pub grace: Duration,
}

fn stamp(payload: &mut [u8], seq: u32, t: u64) {
    let mut raw = [0u8; 14];
    raw[..2].copy_from_slice(&MAGIC.to_be_bytes());
    raw[2..6].copy_from_slice(&seq.to_be_bytes());
    raw[6..14].copy_from_slice(&t.to_be_bytes());
    for (i, b) in raw.iter().enumerate() {
        payload[2 * i] = 0x10 | (b >> 4);
        payload[2 * i + 1] = 0x10 | (b & 0x0f);
    }
}

fn unstamp(payload: &[u8]) -> Option<(u32, u64)> {
    if payload.len() < STAMP_NIBBLES {
        return None;
    }
    let mut raw = [0u8; 14];
    for (i, r) in raw.iter_mut().enumerate() {
        let (h, l) = (payload[2 * i], payload[2 * i + 1]);
        if h & 0xf0 != 0x10 || l & 0xf0 != 0x10 {
            return None;
        }
        *r = ((h & 0x0f) << 4) | (l & 0x0f);
    }
    if u16::from_be_bytes([raw[0], raw[1]]) != MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes(raw[2..6].try_into().ok()?);
    let t = u64::from_be_bytes(raw[6..14].try_into().ok()?);
    Some((seq, t))
}

/// Run `legs` for one measurement on `workers` threads; returns the legs (for the
/// next step) and the merged statistics.
pub fn measure(legs: Vec<Leg>, workers: usize, plan: Plan) -> (Vec<Leg>, Stats) {
    let workers = workers.max(1);
    let start = now_ns();
    let w0 = start + plan.warmup.as_nanos() as u64;
    let w1 = w0 + plan.window.as_nanos() as u64;
    let end = w1 + plan.grace.as_nanos() as u64;
    let mut shares: Vec<Vec<Leg>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, l) in legs.into_iter().enumerate() {
        shares[i % workers].push(l);
    }
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| std::thread::spawn(move || worker(share, start, w0, w1, end)))
        .collect();
    let mut out = Vec::new();
    let mut stats = Stats::default();
    for h in handles {
        let (l, s) = h.join().expect("rtp worker panicked");
        out.extend(l);
        stats.merge(&s);
    }
    (out, stats)
}

/// The offset from the kernel's clock of socket time stamps (`CLOCK_REALTIME`) to
/// the tool's monotonic clock ([`now_ns`]): read afresh every slot, so a slewing
/// wall clock moves it by nanoseconds between readings.
fn realtime_offset_ns() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let real = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
    real - now_ns() as i128
}

/// Asks the kernel to stamp every datagram the socket receives.
fn enable_rx_timestamps(sock: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with an int option value.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// One datagram and its kernel arrival stamp (`CLOCK_REALTIME` ns; None when the
/// kernel gave none). WouldBlock when the socket is empty.
fn recv_stamped(sock: &UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, Option<i128>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one SCM_TIMESTAMPNS (a timespec) with its header, 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is a valid empty one; the fields set below point
    // at buffers that outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: recvmsg on our socket with the msghdr above.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: walking the control messages the kernel wrote into `control`, with
    // the libc macros made for it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                stamp = Some(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

fn worker(mut legs: Vec<Leg>, start: u64, w0: u64, w1: u64, end: u64) -> (Vec<Leg>, Stats) {
    let mut st = Stats::default();
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(_) => return (legs, st),
    };
    for (i, l) in legs.iter().enumerate() {
        let _ = l.sock.set_nonblocking(true);
        enable_rx_timestamps(&l.sock);
        // Connected: the kernel keeps the route instead of looking it up for every
        // send (a phone's RTP goes to one address; a symmetric relay answers from
        // it, and anything else would be dropped here and counted as loss).
        let _ = l.sock.connect(l.remote);
        let fd = l.sock.as_raw_fd();
        let _ = poll
            .registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE);
    }
    let mut wheel: Vec<Vec<usize>> = vec![Vec::new(); 20];
    for i in 0..legs.len() {
        wheel[i % 20].push(i);
    }
    let mut pkt = [0xffu8; 12 + PAYLOAD];
    pkt[0] = 0x80;
    pkt[1] = 0; // PCMU
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let mut tick: u64 = 0;
    let mut heard = vec![false; legs.len()];
    loop {
        let now = now_ns();
        if now >= end {
            break;
        }
        // Every slot that is due (catching up if the thread was held back).
        while start + tick * 1_000_000 <= now && start + tick * 1_000_000 < w1 {
            let due = start + tick * 1_000_000;
            let late = now_ns().saturating_sub(due);
            // In the window only: before it, the worker's own start (registering
            // thousands of sockets) holds the first slots back.
            if (w0..w1).contains(&due) {
                st.max_lag_ms = st.max_lag_ms.max(late as f64 / 1e6);
                st.send_late.add(late);
            }
            let mut t = 0;
            for (k, &i) in wheel[(tick % 20) as usize].iter().enumerate() {
                let l = &mut legs[i];
                // The clock read once per 8 sends (a few microseconds apart): it
                // was 8% of the tool's time read per packet. A stamp taken before
                // the send it marks can only make a latency look longer.
                if k % 8 == 0 {
                    t = now_ns();
                }
                pkt[2..4].copy_from_slice(&(l.seq as u16).to_be_bytes());
                // the media clock follows real time (gaps between steps included)
                let ts = (due / 20_000_000).wrapping_mul(160) as u32;
                pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                pkt[8..12].copy_from_slice(&l.ssrc.to_be_bytes());
                if l.kind == Kind::Spy {
                    pkt[12..12 + STAMP_NIBBLES].fill(0xff);
                } else {
                    stamp(&mut pkt[12..], l.seq, t);
                }
                match l.sock.send(&pkt) {
                    Ok(_) => {
                        if l.kind != Kind::Spy && (w0..w1).contains(&t) {
                            st.kinds[l.kind as usize].sent += 1;
                        }
                    }
                    Err(_) => st.send_errors += 1,
                }
                l.seq = l.seq.wrapping_add(1);
            }
            tick += 1;
        }
        // Collect what arrived, without waiting: the arrival times are the kernel's.
        let offset = realtime_offset_ns();
        loop {
            if poll.poll(&mut events, Some(Duration::ZERO)).is_err() {
                break;
            }
            // Every datagram of this batch had arrived by now.
            let read_at = now_ns();
            for ev in events.iter() {
                let leg = ev.token().0;
                let seen = (read_at, offset);
                receive(
                    &mut legs[leg],
                    &mut st,
                    &mut heard[leg],
                    &mut buf,
                    seen,
                    (w0, w1, end),
                );
            }
            // A full batch may have left ready sockets for another round.
            if events.iter().count() < events.capacity() {
                break;
            }
        }
        let next = (start + tick * 1_000_000).min(end);
        let wait = next.saturating_sub(now_ns());
        if wait > 0 {
            std::thread::sleep(Duration::from_nanos(wait));
        }
    }
    st.silent_legs = heard.iter().filter(|h| !**h).count();
    for l in &legs {
        let fd = l.sock.as_raw_fd();
        let _ = poll.registry().deregister(&mut SourceFd(&fd));
        // a leg starts each measurement afresh
    }
    for l in legs.iter_mut() {
        l.last = None;
    }
    (legs, st)
}

/// Reads everything queued on one leg's socket into the statistics. `read_at` is
/// when the tool's poll saw the socket ready, `offset` turns a kernel stamp into the
/// tool's clock; `(w0, w1, end)` is the window and the end of its grace period.
fn receive(
    l: &mut Leg,
    st: &mut Stats,
    heard: &mut bool,
    buf: &mut [u8],
    (read_at, offset): (u64, i128),
    (w0, w1, end): (u64, u64, u64),
) {
    loop {
        let (n, kstamp) = match recv_stamped(&l.sock, buf) {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // WouldBlock: drained; anything else: nothing to read either.
            Err(_) => break,
        };
        // The kernel's arrival time on the tool's clock (the read time without it).
        let r = kstamp
            .map(|k| u64::try_from(k - offset).unwrap_or(0).min(read_at))
            .unwrap_or(read_at);
        if (w0..end).contains(&r) {
            st.rx_delay.add(read_at - r);
        }
        let ks = &mut st.kinds[l.kind as usize];
        if (w0..end).contains(&r) {
            ks.recv_any += 1;
            *heard = true;
        }
        if n < 12 + STAMP_NIBBLES {
            continue;
        }
        match unstamp(&buf[12..n]) {
            Some((_seq, s)) => {
                if (w0..w1).contains(&s) {
                    ks.recv += 1;
                    ks.latency.add(r.saturating_sub(s));
                    if let Some((pr, ps)) = l.last {
                        let d = (r as i64 - pr as i64) - (s as i64 - ps as i64);
                        ks.jitter.add(d.unsigned_abs());
                    }
                }
                l.last = Some((r, s));
            }
            None => {
                if (w0..w1).contains(&r) {
                    ks.unstamped += 1;
                    if buf[12..n].iter().any(|&b| b & 0x7f < 0x7c) {
                        ks.audible += 1;
                    }
                    if let Some((pr, _)) = l.last {
                        let d = r as i64 - pr as i64 - 20_000_000;
                        ks.arrival_dev.add(d.unsigned_abs());
                    }
                }
                l.last = Some((r, 0));
            }
        }
    }
}

/// Drain whatever is queued on a leg's socket (between measurements).
pub fn drain(legs: &[Leg]) {
    let mut buf = [0u8; 2048];
    for l in legs {
        let _ = l.sock.set_nonblocking(true);
        while l.sock.recv(&mut buf).is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trip() {
        let mut p = [0xffu8; PAYLOAD];
        stamp(&mut p, 77, 123_456_789_012);
        assert_eq!(unstamp(&p), Some((77, 123_456_789_012)));
        p[3] = 0xff;
        assert_eq!(unstamp(&p), None);
    }

    #[test]
    fn quantiles() {
        let mut h = Hist::default();
        for i in 0..100 {
            h.add(i * 100_000);
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        assert!((4.9..=5.0).contains(&p50), "{p50}");
        assert!(h.quantile_ms(0.99).unwrap() >= 9.8);
    }
}
