//! The jitter buffer's state machine. See the module docs in `mod.rs`.

use super::played::Played;
use super::{JitterConfig, JitterOutput, JitterStats, PushOutcome, RtpIn};
use crate::codec::AudioCodec;
use crate::frame::{Frame, SAMPLES_8K};
use std::time::{Duration, Instant};

/// Packets held at once: 320 ms of 20 ms packets, far beyond the 60 ms allowed,
/// so only a burst of early packets can fill it.
const SLOTS: usize = 16;
/// Longest payload accepted: 40 ms of G.711.
const MAX_PAYLOAD: usize = 320;
/// Frames over which concealment fades to zero.
const FADE_FRAMES: u32 = 3;
/// Ticks between drift decisions (500 ms).
const WINDOW_TICKS: u32 = 25;
/// Sample rate of the output (G.711).
const RATE: i64 = 8000;
const FRAME: u32 = SAMPLES_8K as u32;
const TICK: Duration = Duration::from_millis(20);
/// A packet that would wait longer than this is from a new timeline.
const JUMP_AHEAD_US: i64 = 200_000;
/// A packet this far behind the playout point, yet newer by sequence number,
/// is from a new timeline too (1 s of samples).
const JUMP_BACK_SAMPLES: i32 = 8000;

/// A queued packet's header; its payload is in the matching entry of `payloads`.
/// Kept apart so the scans on every push and pop touch a few cache lines.
#[derive(Clone, Copy)]
struct Slot {
    seq: u16,
    ts: u32,
    codec: AudioCodec,
    len: usize,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    Buffering { since: Instant },
    Playing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjust {
    None,
    Grow,
    Shrink,
}

/// A jitter buffer for one incoming stream. See the module docs.
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: [Option<Slot>; SLOTS],
    payloads: Box<[[u8; MAX_PAYLOAD]; SLOTS]>,
    state: State,
    ssrc: Option<u32>,
    highest_seq: Option<u16>,
    /// Timestamp of the next sample to play.
    play_ts: u32,
    /// When the next pop is expected (last pop + 20 ms): the playout clock.
    next_pop_at: Option<Instant>,
    last: Frame,
    conceal_run: u32,
    played: Played,
    window_ticks: u32,
    window_min_us: Option<i64>,
    window_max_us: Option<i64>,
    adjust: Adjust,
    stats: JitterStats,
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("state", &self.state)
            .field("queued", &self.queued())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for JitterBuffer {
    fn default() -> Self {
        JitterBuffer::new(JitterConfig::default())
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Signed `a - b` in microseconds.
fn diff_us(a: Instant, b: Instant) -> i64 {
    if a >= b {
        micros(a - b)
    } else {
        -micros(b - a)
    }
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> JitterBuffer {
        JitterBuffer {
            cfg,
            slots: [None; SLOTS],
            payloads: Box::new([[0; MAX_PAYLOAD]; SLOTS]),
            state: State::Idle,
            ssrc: None,
            highest_seq: None,
            play_ts: 0,
            next_pop_at: None,
            last: Frame::silence(),
            conceal_run: FADE_FRAMES,
            played: Played::default(),
            window_ticks: 0,
            window_min_us: None,
            window_max_us: None,
            adjust: Adjust::None,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets waiting to be played.
    pub fn queued(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Forgets the current stream; the fade of its last audio continues.
    fn reset(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.state = State::Idle;
        self.ssrc = None;
        self.highest_seq = None;
        self.next_pop_at = None;
        self.played.clear();
        self.window_ticks = 0;
        self.window_min_us = None;
        self.window_max_us = None;
        self.adjust = Adjust::None;
        self.stats.resets += 1;
    }

    /// Parses an RTP datagram and pushes it; malformed packets count as unsupported.
    pub fn push_rtp(&mut self, datagram: &[u8], arrival: Instant) -> PushOutcome {
        match crate::rtp::RtpHeader::parse(datagram) {
            Ok(h) => {
                let end = h.payload_offset + h.payload_len;
                let payload = datagram.get(h.payload_offset..end).unwrap_or(&[]);
                self.push(
                    RtpIn {
                        ssrc: h.ssrc,
                        seq: h.sequence,
                        timestamp: h.timestamp,
                        payload_type: h.payload_type,
                        payload,
                    },
                    arrival,
                )
            }
            Err(_) => {
                self.stats.unsupported += 1;
                PushOutcome::Unsupported
            }
        }
    }

    /// A packet arrived at `arrival`.
    pub fn push(&mut self, pkt: RtpIn<'_>, arrival: Instant) -> PushOutcome {
        let Ok(codec) = AudioCodec::from_payload_type(pkt.payload_type) else {
            self.stats.unsupported += 1;
            return PushOutcome::Unsupported;
        };
        if pkt.payload.is_empty() || pkt.payload.len() > MAX_PAYLOAD {
            self.stats.unsupported += 1;
            return PushOutcome::Unsupported;
        }
        self.stats.received += 1;
        let mut was_reset = false;
        if self.ssrc.is_some_and(|s| s != pkt.ssrc) {
            self.reset();
            was_reset = true;
        }
        self.ssrc = Some(pkt.ssrc);
        let newer = self
            .highest_seq
            .is_none_or(|h| (pkt.seq.wrapping_sub(h) as i16) > 0);

        match self.state {
            State::Idle => {
                self.state = State::Buffering { since: arrival };
                self.play_ts = pkt.timestamp;
            }
            State::Buffering { .. } => {
                // Reordered first packets: start from the earliest one, within reason.
                let off = pkt.timestamp.wrapping_sub(self.play_ts) as i32;
                if off < 0 && off > -(2 * FRAME as i32) {
                    self.play_ts = pkt.timestamp;
                }
            }
            State::Playing => {
                let off = pkt.timestamp.wrapping_sub(self.play_ts) as i32;
                let wait = self.wait_us(off, arrival);
                let jumped = wait > JUMP_AHEAD_US || (off < -JUMP_BACK_SAMPLES && newer);
                if jumped {
                    self.reset();
                    was_reset = true;
                    self.ssrc = Some(pkt.ssrc);
                    self.state = State::Buffering { since: arrival };
                    self.play_ts = pkt.timestamp;
                } else {
                    self.note_wait(wait);
                    let len = pkt.payload.len() as i32;
                    if off + len <= 0 {
                        return self.too_old(pkt.seq);
                    }
                }
            }
        }
        if newer {
            self.highest_seq = Some(pkt.seq);
        }
        if self.played.contains(pkt.seq) || self.slots.iter().flatten().any(|s| s.seq == pkt.seq) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        let Some(free) = self.slots.iter().position(Option::is_none) else {
            self.stats.overflow += 1;
            return PushOutcome::Overflow;
        };
        self.payloads[free][..pkt.payload.len()].copy_from_slice(pkt.payload);
        self.slots[free] = Some(Slot {
            seq: pkt.seq,
            ts: pkt.timestamp,
            codec,
            len: pkt.payload.len(),
        });
        if was_reset {
            PushOutcome::QueuedAfterReset
        } else {
            PushOutcome::Queued
        }
    }

    fn too_old(&mut self, seq: u16) -> PushOutcome {
        if self.played.contains(seq) {
            self.stats.duplicates += 1;
            PushOutcome::Duplicate
        } else {
            self.stats.late += 1;
            PushOutcome::Late
        }
    }

    /// How long a packet `off` samples past the playout point, arriving at
    /// `arrival`, will wait before being played (negative: it is late).
    fn wait_us(&self, off: i32, arrival: Instant) -> i64 {
        let Some(next) = self.next_pop_at else {
            return 0;
        };
        diff_us(next, arrival) + i64::from(off) * 1_000_000 / RATE
    }

    /// Records a packet's wait for the drift decision. A packet more than a frame
    /// late is an outlier (a delay spike, not a clock): it is dropped as late, and
    /// growing the buffer by one frame would not have saved it anyway.
    fn note_wait(&mut self, wait: i64) {
        if wait < -micros(TICK) {
            return;
        }
        self.window_min_us = Some(self.window_min_us.map_or(wait, |m| m.min(wait)));
        self.window_max_us = Some(self.window_max_us.map_or(wait, |m| m.max(wait)));
    }

    /// One 20 ms tick at `now`: the frame to play.
    pub fn pop(&mut self, now: Instant) -> JitterOutput {
        self.advance(now, true)
    }

    /// One 20 ms tick at `now` whose audio nobody needs (a supervisor's phone while
    /// they only listen): the same timeline, drift handling and counters as `pop`,
    /// without decoding. A frame lost right after skipped ones is concealed as
    /// silence, since there is no decoded audio to fade from.
    pub fn skip(&mut self, now: Instant) {
        let _ = self.advance(now, false);
    }

    fn advance(&mut self, now: Instant, decode: bool) -> JitterOutput {
        match self.state {
            State::Idle => return self.conceal(decode),
            State::Buffering { since } => {
                // Start on the tick nearest to `target` after the first packet.
                if now + TICK / 2 < since + self.cfg.target {
                    return self.conceal(decode);
                }
                self.state = State::Playing;
            }
            State::Playing => {}
        }
        self.next_pop_at = Some(now + TICK);
        match std::mem::replace(&mut self.adjust, Adjust::None) {
            Adjust::Grow => {
                self.stats.drift_repeated += 1;
                self.end_tick();
                return if decode {
                    JitterOutput::Audio(self.last.clone())
                } else {
                    JitterOutput::Silence
                };
            }
            Adjust::Shrink => {
                self.stats.drift_dropped += 1;
                self.take_frame(None);
                self.play_ts = self.play_ts.wrapping_add(FRAME);
            }
            Adjust::None => {}
        }
        // Samples no packet covers keep the concealment; the usual packet covers
        // the whole frame, and then there is nothing to fade.
        let mut frame = match decode {
            false => None,
            true if self.one_packet_covers_frame() => Some(Frame::silence()),
            true => Some(self.concealment(self.conceal_run + 1)),
        };
        let covered = self.take_frame(frame.as_mut());
        self.play_ts = self.play_ts.wrapping_add(FRAME);
        self.end_tick();
        if covered == 0 {
            return self.conceal(decode);
        }
        self.stats.played += 1;
        let Some(frame) = frame else {
            // Nothing decoded to conceal from later.
            self.conceal_run = FADE_FRAMES;
            return JitterOutput::Silence;
        };
        self.conceal_run = 0;
        self.last = frame.clone();
        JitterOutput::Audio(frame)
    }

    /// Drift bookkeeping at the end of a playing tick.
    fn end_tick(&mut self) {
        self.window_ticks += 1;
        if self.window_ticks < WINDOW_TICKS {
            return;
        }
        let (min, max) = (self.window_min_us, self.window_max_us);
        self.window_ticks = 0;
        self.window_min_us = None;
        self.window_max_us = None;
        self.stats.last_min_wait_ms = min.map(|m| m / 1000);
        self.stats.last_max_wait_ms = max.map(|m| m / 1000);
        let (Some(min), Some(max)) = (min, max) else {
            return;
        };
        let target = micros(self.cfg.target);
        let frame = micros(TICK);
        if min > target + 15_000 {
            self.adjust = Adjust::Shrink;
        } else if min < target - 25_000 && max + frame <= micros(self.cfg.max) {
            self.adjust = Adjust::Grow;
        }
    }

    /// True when a queued packet holds all of [play_ts, play_ts + 160).
    fn one_packet_covers_frame(&self) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|s| s.ts == self.play_ts && s.len >= SAMPLES_8K)
    }

    /// Decodes every queued sample in [play_ts, play_ts + 160) into `out` (when
    /// given) and frees the packets that are fully played. Returns how many
    /// samples were covered.
    fn take_frame(&mut self, mut out: Option<&mut Frame>) -> usize {
        let start = self.play_ts;
        let mut covered = 0;
        for (slot, data) in self.slots.iter_mut().zip(self.payloads.iter()) {
            let Some(s) = slot else { continue };
            let off = s.ts.wrapping_sub(start) as i32;
            let end = off + s.len as i32;
            if end <= 0 {
                // Entirely in the past (e.g. skipped by a drift drop).
                self.played.mark(s.seq);
                *slot = None;
                continue;
            }
            if off >= FRAME as i32 {
                continue;
            }
            let from_pkt = (-off).max(0) as usize;
            let to_out = off.max(0) as usize;
            let n = (s.len - from_pkt).min(SAMPLES_8K - to_out);
            covered += match out.as_deref_mut() {
                Some(out) => s.codec.decode_into(
                    &data[from_pkt..from_pkt + n],
                    &mut out.samples_mut()[to_out..to_out + n],
                ),
                None => n,
            };
            if end <= FRAME as i32 {
                self.played.mark(s.seq);
                *slot = None;
            }
        }
        covered
    }

    /// The last audio faded for the `run`-th missing frame (1-based): a linear
    /// ramp from where the previous concealed frame ended down to zero.
    fn concealment(&self, run: u32) -> Frame {
        let mut f = self.last.clone();
        if run == 0 || run > FADE_FRAMES {
            f.clear();
            return f;
        }
        let total = f64::from(FADE_FRAMES) * SAMPLES_8K as f64;
        let base = f64::from(run - 1) * SAMPLES_8K as f64;
        for (i, s) in f.samples_mut().iter_mut().enumerate() {
            let g = 1.0 - (base + i as f64 + 1.0) / total;
            *s = (f64::from(*s) * g) as i16;
        }
        f
    }

    /// Output when nothing arrived for this tick (built only when `decode`).
    fn conceal(&mut self, decode: bool) -> JitterOutput {
        self.conceal_run = self.conceal_run.saturating_add(1);
        if self.conceal_run > FADE_FRAMES {
            self.stats.silent += 1;
            return JitterOutput::Silence;
        }
        self.stats.concealed += 1;
        if !decode {
            return JitterOutput::Silence;
        }
        JitterOutput::Concealed(self.concealment(self.conceal_run))
    }
}
