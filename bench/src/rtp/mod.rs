//! G.711 RTP streams, 20 ms pacing, many legs per worker thread.
//!
//! Each leg is one phone's RTP endpoint: a UDP socket of its own, or one that many
//! legs share (`RtpPool`, the capacity scenarios). A worker thread (`worker`) owns a
//! set of legs, one epoll (mio) for their sockets, and a 20-slot timer wheel of 1 ms
//! slots: leg i sends in slot i % 20, so a worker's sends are spread evenly over
//! each 20 ms, and a slot's packets on one socket go out in one `sendmmsg`
//! (`batch`).
//!
//! Every payload begins with a stamp that survives G.711 decode/mix/encode: 36 mu-law
//! codes 0x10..0x1F, each carrying one nibble of (magic u16, sequence u32, send time
//! u64 ns since the tool's epoch, the sender's SSRC u32). The rest of the payload is mu-law silence, so a
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
mod batch;
mod worker;

pub use batch::RtpPool;

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PAYLOAD: usize = 160;
/// Magic u16, sequence u32, send time u64, the sender's SSRC u32.
const STAMP_BYTES: usize = 18;
const STAMP_NIBBLES: usize = 2 * STAMP_BYTES;
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
    /// The local port of the leg's socket (shared by other legs from an [`RtpPool`]).
    pub fn port(&self) -> Option<u16> {
        self.sock.local_addr().ok().map(|a| a.port())
    }

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
    /// Packets that arrived on a shared socket without a stamp naming their
    /// sender: no leg to count them for.
    pub unattributed: u64,
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
        self.unattributed += o.unattributed;
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

/// Writes the stamp of packet `seq` of the leg with SSRC `ssrc`, sent at `t`.
fn stamp(payload: &mut [u8], seq: u32, t: u64, ssrc: u32) {
    let mut raw = [0u8; STAMP_BYTES];
    raw[..2].copy_from_slice(&MAGIC.to_be_bytes());
    raw[2..6].copy_from_slice(&seq.to_be_bytes());
    raw[6..14].copy_from_slice(&t.to_be_bytes());
    raw[14..18].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in raw.iter().enumerate() {
        payload[2 * i] = 0x10 | (b >> 4);
        payload[2 * i + 1] = 0x10 | (b & 0x0f);
    }
}

/// A payload's stamp: (sequence, send time, the sender's SSRC).
fn unstamp(payload: &[u8]) -> Option<(u32, u64, u32)> {
    if payload.len() < STAMP_NIBBLES {
        return None;
    }
    let mut raw = [0u8; STAMP_BYTES];
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
    let ssrc = u32::from_be_bytes(raw[14..18].try_into().ok()?);
    Some((seq, t, ssrc))
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
    // The legs of one shared socket stay together: their packets arrive on it
    // mixed, for the worker that reads it to sort out.
    for (i, l) in legs.into_iter().enumerate() {
        let w = l.port().map_or(i, usize::from) % workers;
        shares[w].push(l);
    }
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| std::thread::spawn(move || worker::run(share, start, w0, w1, end)))
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
        stamp(&mut p, 77, 123_456_789_012, 4242);
        assert_eq!(unstamp(&p), Some((77, 123_456_789_012, 4242)));
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
