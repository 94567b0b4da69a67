//! 8 kHz ⇄ 48 kHz for Opus toward browsers: G.711's rate to Opus's and back, by
//! a factor of 6 through one windowed-sinc low-pass (cut at 3.6 kHz, below the
//! 4 kHz that 8 kHz can hold), run at 48 kHz with its history kept between
//! 20 ms frames so the frame edges make no clicks.

/// Taps of the low-pass (odd: a symmetric filter with a centre tap).
const TAPS: usize = 121;
const FACTOR: usize = 6;

fn lowpass() -> [f32; TAPS] {
    let fc = 3600.0 / 48000.0; // cycles per sample
    let mid = (TAPS / 2) as f32;
    let mut h = [0f32; TAPS];
    for (i, tap) in h.iter_mut().enumerate() {
        let n = i as f32 - mid;
        let sinc = if n == 0.0 {
            2.0 * fc
        } else {
            (2.0 * std::f32::consts::PI * fc * n).sin() / (std::f32::consts::PI * n)
        };
        // Blackman window: about 74 dB down outside the passband.
        let x = 2.0 * std::f32::consts::PI * i as f32 / (TAPS - 1) as f32;
        let w = 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos();
        *tap = sinc * w;
    }
    let sum: f32 = h.iter().sum();
    h.map(|t| t / sum)
}

/// The last TAPS - 1 samples at 48 kHz, and the filter.
#[derive(Debug)]
struct Fir {
    h: [f32; TAPS],
    history: Vec<f32>,
}

impl Fir {
    fn new() -> Fir {
        Fir {
            h: lowpass(),
            history: vec![0.0; TAPS - 1],
        }
    }

    /// Filters `input` (48 kHz), returning every `step`-th output sample.
    fn run(&mut self, input: &[f32], step: usize, gain: f32) -> Vec<f32> {
        let mut buf = std::mem::take(&mut self.history);
        buf.extend_from_slice(input);
        let mut out = Vec::with_capacity(input.len() / step + 1);
        let mut i = 0;
        while i + TAPS <= buf.len() {
            let acc: f32 = buf[i..i + TAPS]
                .iter()
                .zip(&self.h)
                .map(|(x, h)| x * h)
                .sum();
            out.push(acc * gain);
            i += step;
        }
        self.history = buf.split_off(buf.len() - (TAPS - 1));
        out
    }
}

/// 8 kHz to 48 kHz.
#[derive(Debug)]
pub struct Up {
    fir: Fir,
}

impl Default for Up {
    fn default() -> Self {
        Up { fir: Fir::new() }
    }
}

impl Up {
    /// `n` samples at 8 kHz in, `6 n` at 48 kHz out.
    pub fn run(&mut self, input: &[i16]) -> Vec<i16> {
        let mut spread = vec![0f32; input.len() * FACTOR];
        for (i, s) in input.iter().enumerate() {
            spread[i * FACTOR] = f32::from(*s);
        }
        to_i16(&self.fir.run(&spread, 1, FACTOR as f32))
    }
}

/// 48 kHz to 8 kHz.
#[derive(Debug)]
pub struct Down {
    fir: Fir,
    /// Where in the next frame the next kept sample is (the frame need not be a
    /// multiple of 6 long).
    phase: usize,
}

impl Default for Down {
    fn default() -> Self {
        Down {
            fir: Fir::new(),
            phase: 0,
        }
    }
}

impl Down {
    /// `6 n` samples at 48 kHz in, `n` at 8 kHz out.
    pub fn run(&mut self, input: &[i16]) -> Vec<i16> {
        let x: Vec<f32> = input.iter().map(|s| f32::from(*s)).collect();
        let all = self.fir.run(&x, 1, 1.0);
        let kept: Vec<f32> = all
            .iter()
            .skip(self.phase)
            .step_by(FACTOR)
            .copied()
            .collect();
        // The next sample to keep, counted from the start of the next frame.
        self.phase = (self.phase + FACTOR * kept.len()).saturating_sub(all.len());
        to_i16(&kept)
    }
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|v| v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::level_db;

    fn sine(freq: f32, rate: f32, n: usize, start: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate).sin()) as i16)
            .collect()
    }

    /// Level of `freq` in `x` (Goertzel), relative to an 8000-peak sine.
    #[test]
    fn a_tone_keeps_its_level_up_and_down_across_frames() {
        let (mut up, mut down) = (Up::default(), Down::default());
        let mut at48 = Vec::new();
        let mut back = Vec::new();
        for frame in 0..20 {
            let x = sine(1000.0, 8000.0, 160, frame * 160);
            let y = up.run(&x);
            assert_eq!(y.len(), 960);
            back.extend(down.run(&y));
            at48.extend(y);
        }
        assert_eq!(back.len(), 20 * 160);
        // Past the filters' settling: the tone at full level, nothing else.
        let lv48 = level_db(&at48[1920..], 1000.0, 48000.0);
        assert!(lv48.abs() < 1.0, "1 kHz at 48 kHz: {lv48:.1} dB");
        let lv8 = level_db(&back[320..], 1000.0, 8000.0);
        assert!(lv8.abs() < 1.0, "1 kHz back at 8 kHz: {lv8:.1} dB");
        let image = level_db(&at48[1920..], 7000.0, 48000.0);
        assert!(
            image < -50.0,
            "the 7 kHz image of upsampling: {image:.1} dB"
        );
    }

    #[test]
    fn what_8_khz_cannot_hold_is_filtered_not_folded() {
        // 5 kHz at 48 kHz would fold to 3 kHz at 8 kHz without the filter.
        let mut down = Down::default();
        let mut out = Vec::new();
        for frame in 0..10 {
            out.extend(down.run(&sine(5000.0, 48000.0, 960, frame * 960)));
        }
        let folded = level_db(&out[320..], 3000.0, 8000.0);
        assert!(folded < -50.0, "5 kHz folded to 3 kHz: {folded:.1} dB");
        // Frames of any length come out at a sixth, with no sample lost.
        let mut d = Down::default();
        let n: usize = [500, 461, 1000, 959]
            .iter()
            .map(|&k| d.run(&vec![0; k]).len())
            .sum();
        assert_eq!(n, (500 + 461 + 1000 + 959usize).div_ceil(6));
    }
}
