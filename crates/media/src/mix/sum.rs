//! Summing sources with saturation: accumulate in 32 bits, clamp once at the end,
//! so that intermediate overflows of several loud sources cancel correctly.

use super::gain::{clamp16, VolumeStep};
use crate::frame::{Frame, MAX_SAMPLES};

/// A 32-bit accumulator for one output frame. Lives on the stack; no allocation.
#[derive(Clone)]
pub struct Accumulator {
    rate: u32,
    len: usize,
    acc: [i32; MAX_SAMPLES],
}

impl Accumulator {
    /// An empty (silent) accumulator shaped like `like` (same rate and length).
    pub fn new_like(like: &Frame) -> Accumulator {
        Accumulator {
            rate: like.rate(),
            len: like.len(),
            acc: [0; MAX_SAMPLES],
        }
    }

    /// Adds `src` through `gain`. A frame of another rate is ignored: mixing
    /// different rates needs a resampler, which does not exist yet.
    pub fn add(&mut self, src: &Frame, gain: VolumeStep) -> bool {
        if src.rate() != self.rate || src.len() != self.len {
            return false;
        }
        let acc = &mut self.acc[..self.len];
        if gain.is_unity() {
            for (a, &s) in acc.iter_mut().zip(src.samples()) {
                *a += i32::from(s);
            }
        } else {
            for (a, &s) in acc.iter_mut().zip(src.samples()) {
                *a += gain.apply_wide(s);
            }
        }
        true
    }

    /// Takes `src` back out (a conference member does not hear itself). A frame of
    /// another shape is ignored, as in `add`.
    pub fn subtract(&mut self, src: &Frame) -> bool {
        if src.rate() != self.rate || src.len() != self.len {
            return false;
        }
        for (a, &s) in self.acc[..self.len].iter_mut().zip(src.samples()) {
            *a -= i32::from(s);
        }
        true
    }

    /// Writes the clamped sum into `out` (reshaping it to this rate).
    pub fn write_to(&self, out: &mut Frame) {
        if out.rate() != self.rate {
            if let Some(f) = Frame::silence_at(self.rate) {
                *out = f;
            }
        }
        for (o, &a) in out.samples_mut().iter_mut().zip(&self.acc[..self.len]) {
            *o = clamp16(a);
        }
    }

    /// The clamped sum as a new frame.
    pub fn to_frame(&self) -> Frame {
        let mut f = Frame::silence_at(self.rate).unwrap_or_else(Frame::silence);
        self.write_to(&mut f);
        f
    }
}

/// `dst += src * gain`, saturating; frames of different shapes leave `dst` as is.
pub fn mix_into(dst: &mut Frame, src: &Frame, gain: VolumeStep) {
    if dst.rate() != src.rate() || dst.len() != src.len() {
        return;
    }
    for (d, &s) in dst.samples_mut().iter_mut().zip(src.samples()) {
        *d = clamp16(i32::from(*d) + gain.apply_wide(s));
    }
}
