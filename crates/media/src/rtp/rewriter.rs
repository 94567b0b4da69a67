//! Makes the packets sent to one phone look like a single continuous RTP stream.
//!
//! A B2BUA's outgoing stream on a leg is fed by whatever is on the other side:
//! first one phone, then maybe another after a transfer or re-INVITE, later the
//! mixer. Phones cope badly with a stream whose SSRC, sequence numbers or
//! timestamps jump (jitter buffers reset, some phones go silent), so each leg gets
//! one fixed SSRC, and incoming streams are mapped onto it with offsets that are
//! recomputed whenever the input changes discontinuously.

use super::header::RtpHeader;
use super::RtpError;
use std::time::{Duration, Instant};

/// RFC 3550 appendix A.1: a forward sequence jump larger than this is a restart.
const MAX_DROPOUT: i16 = 3000;
/// RFC 3550 appendix A.1: a packet at most this far behind is a reordered one.
const MAX_MISORDER: i16 = 100;

/// How the offsets map one input stream (an SSRC between two discontinuities)
/// onto the output.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// First input sequence number mapped with these offsets; anything older
    /// belongs to an earlier mapping.
    first_in_seq: u16,
    last_in_seq: u16,
    last_in_ts: u32,
    last_at: Instant,
}

enum Class {
    /// Next packet of the current stream (possibly after some loss).
    Forward,
    /// Reordered or duplicate packet of the current stream.
    LateCurrent,
    /// Straggler of the stream that was replaced by the current one.
    LatePrevious,
    /// A packet of the current SSRC older than where the current mapping starts
    /// and not from the previous stream either: it cannot be placed.
    Stale,
    /// New stream or discontinuity: compute new offsets.
    Resync,
}

/// Rewrites RTP packets in place for one outgoing leg. See the module docs.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    ssrc: u32,
    clock_rate: u32,
    /// Packet duration in timestamp units, learnt from the input (20 ms until known).
    step: u32,
    /// Output sequence number and timestamp for the very first packet.
    first_seq: u16,
    first_ts: u32,
    cur: Option<Mapping>,
    prev: Option<Mapping>,
    /// Output position of the newest packet sent, and when it was sent.
    last_out_seq: u16,
    last_out_ts: u32,
    last_out_at: Option<Instant>,
}

impl StreamRewriter {
    /// A rewriter with a random SSRC and random starting sequence number and
    /// timestamp (RFC 3550 section 5.1). `clock_rate` is the RTP clock of the leg's
    /// codec (8000 for G.711).
    pub fn new(clock_rate: u32) -> StreamRewriter {
        StreamRewriter::with_initial(rand::random(), clock_rate, rand::random(), rand::random())
    }

    /// A rewriter with a chosen SSRC and starting point (tests, and callers that
    /// must continue an existing stream).
    pub fn with_initial(ssrc: u32, clock_rate: u32, first_seq: u16, first_ts: u32) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        StreamRewriter {
            ssrc,
            clock_rate,
            step: (clock_rate / 50).max(1),
            first_seq,
            first_ts,
            cur: None,
            prev: None,
            last_out_seq: first_seq,
            last_out_ts: first_ts,
            last_out_at: None,
        }
    }

    /// The SSRC every packet leaves with.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Rewrites SSRC, sequence number, timestamp and (after a switch) the marker of
    /// `pkt` in place. A malformed packet, or a straggler that can no longer be
    /// placed in the output, is an error and is left unchanged: drop it.
    pub fn rewrite(&mut self, pkt: &mut [u8], now: Instant) -> Result<(), RtpError> {
        let h = RtpHeader::parse(pkt)?;
        let (mapping, marker) = match self.classify(&h, now) {
            Class::Forward => {
                let cur = self.cur.as_mut().ok_or(RtpError::Stale)?;
                let dseq = h.sequence.wrapping_sub(cur.last_in_seq);
                let dts = h.timestamp.wrapping_sub(cur.last_in_ts);
                if dseq == 1 && dts > 0 && dts <= self.clock_rate / 8 {
                    self.step = dts;
                }
                cur.last_in_seq = h.sequence;
                cur.last_in_ts = h.timestamp;
                cur.last_at = now;
                (*cur, h.marker)
            }
            Class::LateCurrent => (self.cur.ok_or(RtpError::Stale)?, h.marker),
            Class::LatePrevious => (self.prev.ok_or(RtpError::Stale)?, h.marker),
            Class::Stale => return Err(RtpError::Stale),
            Class::Resync => (self.resync(&h, now), true),
        };
        let out_seq = h.sequence.wrapping_add(mapping.seq_offset);
        let out_ts = h.timestamp.wrapping_add(mapping.ts_offset);
        if self.last_out_at.is_none() || seq_newer(out_seq, self.last_out_seq) {
            self.last_out_seq = out_seq;
            self.last_out_ts = out_ts;
            self.last_out_at = Some(now);
        }
        pkt[1] = (pkt[1] & 0x7f) | if marker { 0x80 } else { 0 };
        pkt[2..4].copy_from_slice(&out_seq.to_be_bytes());
        pkt[4..8].copy_from_slice(&out_ts.to_be_bytes());
        pkt[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Ok(())
    }

    fn classify(&self, h: &RtpHeader, now: Instant) -> Class {
        if let Some(cur) = &self.cur {
            if cur.ssrc == h.ssrc {
                let d = h.sequence.wrapping_sub(cur.last_in_seq) as i16;
                if d > 0 && d <= MAX_DROPOUT && self.timestamp_plausible(cur, h, d, now) {
                    return Class::Forward;
                }
                let since_first = h.sequence.wrapping_sub(cur.first_in_seq) as i16;
                if (-MAX_MISORDER..=0).contains(&d) && since_first >= 0 {
                    return Class::LateCurrent;
                }
            }
        }
        if let Some(prev) = &self.prev {
            if prev.ssrc == h.ssrc {
                let d = h.sequence.wrapping_sub(prev.last_in_seq) as i16;
                if (-MAX_MISORDER..=0).contains(&d) {
                    return Class::LatePrevious;
                }
            }
        }
        match &self.cur {
            Some(cur) if cur.ssrc == h.ssrc => {
                let d = h.sequence.wrapping_sub(cur.last_in_seq) as i16;
                if (-MAX_MISORDER..=0).contains(&d) {
                    Class::Stale
                } else {
                    Class::Resync
                }
            }
            _ => Class::Resync,
        }
    }

    /// In-stream timestamps move with the sequence number, or jump forward over a
    /// silence (DTX / VAD) no longer than the wall-clock time that passed. A jump
    /// beyond that (plus a second of slack for bursts) or backwards is a new stream.
    fn timestamp_plausible(&self, cur: &Mapping, h: &RtpHeader, dseq: i16, now: Instant) -> bool {
        let dts = i64::from(h.timestamp.wrapping_sub(cur.last_in_ts) as i32);
        let rate = i64::from(self.clock_rate);
        let elapsed = units(now.saturating_duration_since(cur.last_at), self.clock_rate);
        let max = elapsed
            .saturating_add(i64::from(dseq) * i64::from(self.step))
            .saturating_add(rate);
        dts >= -rate / 2 && dts <= max
    }

    /// New offsets so that `h` becomes the next output packet: sequence number +1,
    /// timestamp advanced by the wall-clock time since the last packet sent,
    /// rounded to whole packets (at least one).
    fn resync(&mut self, h: &RtpHeader, now: Instant) -> Mapping {
        let (out_seq, out_ts) = match self.last_out_at {
            None => (self.first_seq, self.first_ts),
            Some(at) => {
                let elapsed = units(now.saturating_duration_since(at), self.clock_rate);
                let step = i64::from(self.step);
                let steps = ((elapsed + step / 2) / step).max(1);
                // Truncating to u32 is the intended modulo-2^32 timestamp arithmetic.
                let advance = (steps as u64).wrapping_mul(self.step as u64) as u32;
                (
                    self.last_out_seq.wrapping_add(1),
                    self.last_out_ts.wrapping_add(advance),
                )
            }
        };
        let mapping = Mapping {
            ssrc: h.ssrc,
            seq_offset: out_seq.wrapping_sub(h.sequence),
            ts_offset: out_ts.wrapping_sub(h.timestamp),
            first_in_seq: h.sequence,
            last_in_seq: h.sequence,
            last_in_ts: h.timestamp,
            last_at: now,
        };
        self.prev = self.cur.replace(mapping);
        mapping
    }
}

/// `a` is newer than `b` in 16-bit serial number arithmetic.
fn seq_newer(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) > 0
}

/// A duration in clock units, saturating (a clock cannot run for 2^63 units).
fn units(d: Duration, clock_rate: u32) -> i64 {
    let u = d.as_nanos().saturating_mul(u128::from(clock_rate)) / 1_000_000_000;
    i64::try_from(u).unwrap_or(i64::MAX)
}
