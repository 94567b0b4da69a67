//! Call-progress tones and silence as frame sources.
//!
//! Frequencies and cadences are the North American ones (ANSI T1.401, the "Precise
//! Tone Plan"), which is also what Asterisk's `indications.conf` uses for `us`:
//! - dial: 350 + 440 Hz, continuous, -13 dBm0 per component;
//! - ringback: 440 + 480 Hz, 2 s on / 4 s off, -19 dBm0;
//! - busy: 480 + 620 Hz, 0.5 s on / 0.5 s off, -24 dBm0;
//! - congestion (reorder): 480 + 620 Hz, 0.25 s on / 0.25 s off, -24 dBm0;
//! - beep: 1000 Hz for 250 ms at -10 dBm0 (the "record after the tone" beep).
//!
//! dBm0 becomes dBFS with mu-law's digital milliwatt: 0 dBm0 = -3.17 dBFS. Every
//! burst starts and ends with a short raised-cosine ramp so tones do not click.

mod cue;
#[cfg(test)]
mod tests;

pub use cue::{Cue, Interruptible};

use crate::frame::{Frame, FRAME_MS};

/// Something that produces audio one 20 ms frame at a time (tones, prompts,
/// silence). `next_frame` fills `out` and returns false once the source is over
/// (then `out` is silent), so a player knows when to move on.
pub trait FrameSource {
    fn next_frame(&mut self, out: &mut Frame) -> bool;
}

/// dBm0 to dBFS for G.711 mu-law (its full-scale sine is +3.17 dBm0).
pub const DBM0_TO_DBFS: f64 = -3.17;
/// Ramp at each edge of a burst (4 ms): long enough to avoid a click, short enough
/// not to change the cadence.
const RAMP_MS: u32 = 4;

/// What a tone sounds like: up to two frequencies summed, a level per component,
/// and a cadence of on/off segments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    pub freqs: Vec<f64>,
    /// Level of each component in dBFS.
    pub level_dbfs: f64,
    /// (on ms, off ms) segments, played in order.
    pub cadence: Vec<(u32, u32)>,
    /// Start again after the last segment; otherwise the source ends there.
    pub repeat: bool,
}

impl ToneSpec {
    pub fn dial() -> ToneSpec {
        ToneSpec::continuous(&[350.0, 440.0], -13.0 + DBM0_TO_DBFS)
    }

    pub fn ringback() -> ToneSpec {
        ToneSpec::cadenced(&[440.0, 480.0], -19.0 + DBM0_TO_DBFS, &[(2000, 4000)])
    }

    pub fn busy() -> ToneSpec {
        ToneSpec::cadenced(&[480.0, 620.0], -24.0 + DBM0_TO_DBFS, &[(500, 500)])
    }

    pub fn congestion() -> ToneSpec {
        ToneSpec::cadenced(&[480.0, 620.0], -24.0 + DBM0_TO_DBFS, &[(250, 250)])
    }

    /// One 250 ms 1000 Hz beep, then the source ends.
    pub fn beep() -> ToneSpec {
        ToneSpec {
            freqs: vec![1000.0],
            level_dbfs: -10.0 + DBM0_TO_DBFS,
            cadence: vec![(250, 0)],
            repeat: false,
        }
    }

    /// The monitoring notice: one 1400 Hz beep of 200 ms (the band and length
    /// recording-warning rules ask for, e.g. 1260-1540 Hz, 170-180 ms or more),
    /// distinct from ChanSpy's own 1000 Hz beep.
    pub fn monitor_notice() -> ToneSpec {
        ToneSpec {
            freqs: vec![1400.0],
            level_dbfs: -14.0 + DBM0_TO_DBFS,
            cadence: vec![(200, 0)],
            repeat: false,
        }
    }

    /// A steady sine (tests, calibration).
    pub fn sine(freq: f64, level_dbfs: f64) -> ToneSpec {
        ToneSpec::continuous(&[freq], level_dbfs)
    }

    fn continuous(freqs: &[f64], level_dbfs: f64) -> ToneSpec {
        ToneSpec {
            freqs: freqs.to_vec(),
            level_dbfs,
            cadence: Vec::new(),
            repeat: true,
        }
    }

    fn cadenced(freqs: &[f64], level_dbfs: f64, cadence: &[(u32, u32)]) -> ToneSpec {
        ToneSpec {
            freqs: freqs.to_vec(),
            level_dbfs,
            cadence: cadence.to_vec(),
            repeat: true,
        }
    }
}

/// Plays a `ToneSpec` at a given sample rate, phase-continuous across frames.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    rate: u32,
    amplitude: f64,
    /// Phase of each component in cycles, kept in [0, 1).
    phases: Vec<f64>,
    steps: Vec<f64>,
    /// Position in the cadence: segment index and sample within it.
    segment: usize,
    pos: u64,
    done: bool,
}

impl ToneGenerator {
    /// A generator at 8 kHz.
    pub fn new(spec: ToneSpec) -> ToneGenerator {
        ToneGenerator::with_rate(spec, 8000)
    }

    pub fn with_rate(spec: ToneSpec, rate: u32) -> ToneGenerator {
        let rate = rate.max(1);
        let amplitude = 32767.0 * 10f64.powf(spec.level_dbfs / 20.0);
        let steps = spec.freqs.iter().map(|f| f / f64::from(rate)).collect();
        ToneGenerator {
            phases: vec![0.0; spec.freqs.len()],
            steps,
            amplitude,
            rate,
            segment: 0,
            pos: 0,
            done: false,
            spec,
        }
    }

    fn ms_to_samples(&self, ms: u32) -> u64 {
        u64::from(ms) * u64::from(self.rate) / 1000
    }

    /// Envelope of the next sample (0 in an off part), advancing the cadence.
    fn envelope(&mut self) -> f64 {
        if self.spec.cadence.is_empty() {
            return 1.0;
        }
        loop {
            let Some(&(on, off)) = self.spec.cadence.get(self.segment) else {
                if self.spec.repeat {
                    self.segment = 0;
                    continue;
                }
                self.done = true;
                return 0.0;
            };
            let (on, off) = (self.ms_to_samples(on), self.ms_to_samples(off));
            if self.pos >= on + off {
                self.segment += 1;
                self.pos = 0;
                if on + off == 0 && self.segment >= self.spec.cadence.len() && self.spec.repeat {
                    // A cadence of nothing but zero-length segments: stop rather than spin.
                    self.done = true;
                    return 0.0;
                }
                continue;
            }
            let p = self.pos;
            self.pos += 1;
            if p >= on {
                return 0.0;
            }
            let ramp = self.ms_to_samples(RAMP_MS).max(1);
            let edge = p.min(on - 1 - p);
            if edge >= ramp {
                return 1.0;
            }
            let x = (edge as f64 + 0.5) / ramp as f64;
            return 0.5 - 0.5 * (std::f64::consts::PI * x).cos();
        }
    }
}

impl FrameSource for ToneGenerator {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        if let Some(f) = Frame::silence_at(self.rate) {
            *out = f;
        }
        if self.done {
            return false;
        }
        for i in 0..out.len() {
            let env = self.envelope();
            let mut v = 0.0;
            for (ph, step) in self.phases.iter_mut().zip(&self.steps) {
                v += (2.0 * std::f64::consts::PI * *ph).sin();
                *ph = (*ph + step).fract();
            }
            // Bounded by the amplitude (at most full scale per component) and clamped.
            out.samples_mut()[i] = (v * env * self.amplitude).clamp(-32768.0, 32767.0) as i16;
        }
        // A source that finished inside this frame still delivered audio in it.
        true
    }
}

/// Silence, for a number of frames or forever.
#[derive(Debug, Clone)]
pub struct Silence {
    remaining: Option<u64>,
}

impl Silence {
    pub fn forever() -> Silence {
        Silence { remaining: None }
    }

    /// Silence lasting `ms`, rounded up to whole frames.
    pub fn for_ms(ms: u64) -> Silence {
        Silence {
            remaining: Some(ms.div_ceil(u64::from(FRAME_MS))),
        }
    }
}

impl FrameSource for Silence {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        out.clear();
        match &mut self.remaining {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }
}
