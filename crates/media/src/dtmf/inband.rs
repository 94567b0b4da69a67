//! In-band DTMF detection, for phones that send digits as audio only.
//!
//! Each 20 ms frame is analysed in two 160-sample windows that overlap by half
//! (10 ms hop), with Goertzel filters on the 8 DTMF frequencies. A window holds a
//! digit when the strongest low and high tones are both above -36 dBFS, their
//! twist is within 8 dB (low louder) or 4 dB (high louder) as in ITU-T Q.24, every
//! other tone of each group is at least 6 dB weaker, and the pair carries most of
//! the window's energy (speech and noise spread it). A digit begins after two
//! windows agree and ends after two windows without it, so one noisy window
//! neither starts nor splits a digit.

use super::DtmfEvent;
use crate::frame::{Frame, SAMPLES_8K};
use crate::goertzel::Goertzel;

const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
const WINDOW: usize = SAMPLES_8K;
const HOP_MS: u32 = 10;
/// Mean power of a -36 dBFS sine: (32767 * 10^(-36/20))^2 / 2.
const MIN_TONE_POWER: f32 = 134_800.0;
const NORMAL_TWIST: f32 = 6.31; // 8 dB
const REVERSE_TWIST: f32 = 2.51; // 4 dB
const OTHER_TONE_RATIO: f32 = 0.25; // 6 dB
const MIN_ENERGY_SHARE: f32 = 0.5;

#[derive(Debug, Clone)]
pub struct InbandDetector {
    /// The four row tones, then the four column tones.
    bank: [Goertzel; 8],
    /// The second half of the previous frame, for the overlapping window.
    prev_half: [i16; WINDOW / 2],
    candidate: Option<char>,
    agree: u32,
    current: Option<char>,
    misses: u32,
    active_windows: u32,
}

impl Default for InbandDetector {
    fn default() -> Self {
        InbandDetector::new()
    }
}

impl InbandDetector {
    pub fn new() -> InbandDetector {
        InbandDetector {
            bank: std::array::from_fn(|k| {
                let f = if k < 4 { LOW[k] } else { HIGH[k - 4] };
                Goertzel::new(f, 8000)
            }),
            prev_half: [0; WINDOW / 2],
            candidate: None,
            agree: 0,
            current: None,
            misses: 0,
            active_windows: 0,
        }
    }

    /// Feeds one 8 kHz frame; returns the begin/end events it completed (other
    /// rates are ignored until wideband detection exists).
    pub fn process(&mut self, frame: &Frame) -> Vec<DtmfEvent> {
        let mut out = Vec::new();
        if frame.rate() != 8000 || frame.len() != WINDOW {
            return out;
        }
        let s = frame.samples();
        let mut overlap = [0i16; WINDOW];
        overlap[..WINDOW / 2].copy_from_slice(&self.prev_half);
        overlap[WINDOW / 2..].copy_from_slice(&s[..WINDOW / 2]);
        let first = self.classify(&overlap);
        self.step(first, &mut out);
        let second = self.classify(s);
        self.step(second, &mut out);
        self.prev_half.copy_from_slice(&s[WINDOW / 2..]);
        out
    }

    fn step(&mut self, seen: Option<char>, out: &mut Vec<DtmfEvent>) {
        if let Some(cur) = self.current {
            if seen == Some(cur) {
                self.misses = 0;
                self.active_windows += 1;
                return;
            }
            self.misses += 1;
            if self.misses < 2 {
                return;
            }
            out.push(DtmfEvent::End {
                digit: cur,
                duration_ms: self.active_windows * HOP_MS,
            });
            self.current = None;
            self.candidate = None;
            self.agree = 0;
        }
        if seen.is_some() && seen == self.candidate {
            self.agree += 1;
        } else {
            self.candidate = seen;
            self.agree = u32::from(seen.is_some());
        }
        if let (Some(d), true) = (self.candidate, self.agree >= 2) {
            self.current = Some(d);
            self.misses = 0;
            self.active_windows = self.agree;
            out.push(DtmfEvent::Begin { digit: d });
        }
    }

    /// The digit one window holds, if any (see the module docs).
    fn classify(&self, w: &[i16]) -> Option<char> {
        let mean =
            w.iter().map(|&x| i64::from(x) * i64::from(x)).sum::<i64>() as f32 / w.len() as f32;
        // A tone's power can't exceed twice the window's mean power (Cauchy-Schwarz),
        // so quiet windows (most of a call) need no filtering at all.
        if 2.0 * mean < MIN_TONE_POWER {
            return None;
        }
        let n2 = (w.len() * w.len()) as f32;
        let p = Goertzel::powers(&self.bank, w).map(|p| 2.0 * p / n2);
        let lows = [p[0], p[1], p[2], p[3]];
        let highs = [p[4], p[5], p[6], p[7]];
        let (r, &row) = argmax(&lows)?;
        let (c, &col) = argmax(&highs)?;
        if row < MIN_TONE_POWER || col < MIN_TONE_POWER {
            return None;
        }
        if row > col * NORMAL_TWIST || col > row * REVERSE_TWIST {
            return None;
        }
        let others_ok = |v: &[f32; 4], i: usize, peak: f32| {
            v.iter()
                .enumerate()
                .all(|(j, &p)| j == i || p <= peak * OTHER_TONE_RATIO)
        };
        if !others_ok(&lows, r, row) || !others_ok(&highs, c, col) {
            return None;
        }
        if row + col < MIN_ENERGY_SHARE * mean {
            return None;
        }
        Some(KEYS[r][c])
    }
}

fn argmax(v: &[f32; 4]) -> Option<(usize, &f32)> {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
}
