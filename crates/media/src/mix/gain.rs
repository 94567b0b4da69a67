//! ChanSpy's volume steps, applied as a gain on one source.
//!
//! Asterisk's `ChanSpy(...,v(N))` takes N in -4..=4 and stores it as the spy
//! audiohook's read and write volume; `#` pressed by the spy cycles it upward and
//! wraps from 4 to -4. The audiohook applies it with `ast_frame_adjust_volume`,
//! which *multiplies* every sample by N when N > 0 and *divides* it by |N| when
//! N < 0, saturating. So a step is not a fixed number of dB: +2 is x2 (+6 dB),
//! +3 is x3 (+9.5 dB), +4 is x4 (+12 dB), -2 is /2 (-6 dB), -4 is /4 (-12 dB), and
//! 0, +1 and -1 all leave the audio unchanged. We apply exactly that, so a
//! supervisor used to Asterisk hears the same levels.

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("volume step {0} is outside ChanSpy's range -4..=4")]
pub struct VolumeOutOfRange(pub i32);

/// One of ChanSpy's nine volume steps, -4..=4 (0 = unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VolumeStep(i8);

impl VolumeStep {
    pub const UNITY: VolumeStep = VolumeStep(0);

    pub fn new(step: i32) -> Result<VolumeStep, VolumeOutOfRange> {
        if (-4..=4).contains(&step) {
            // In range, so the cast is exact.
            Ok(VolumeStep(step as i8))
        } else {
            Err(VolumeOutOfRange(step))
        }
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }

    /// The next step as ChanSpy's `#` key does it: up by one, 4 wraps to -4.
    pub fn cycled(self) -> VolumeStep {
        if self.0 >= 4 {
            VolumeStep(-4)
        } else {
            VolumeStep(self.0 + 1)
        }
    }

    /// The linear factor this step applies (1.0 for -1, 0 and +1).
    pub fn factor(self) -> f64 {
        match self.0 {
            n if n > 1 => f64::from(n),
            n if n < -1 => 1.0 / f64::from(-n),
            _ => 1.0,
        }
    }

    /// True when applying the step changes nothing (lets the mixer skip work).
    pub fn is_unity(self) -> bool {
        (-1..=1).contains(&self.0)
    }

    /// One sample through the step, before saturation (the caller clamps once,
    /// after summing). Division truncates toward zero like C's, as Asterisk does.
    #[inline]
    pub fn apply_wide(self, sample: i16) -> i32 {
        let s = i32::from(sample);
        match self.0 {
            n if n > 1 => s * i32::from(n),
            n if n < -1 => s / i32::from(-n),
            _ => s,
        }
    }

    /// Applies the step to `samples` in place, saturating at the 16-bit limits.
    pub fn apply(self, samples: &mut [i16]) {
        if self.is_unity() {
            return;
        }
        for s in samples {
            *s = clamp16(self.apply_wide(*s));
        }
    }
}

/// Saturates a wide sum to 16 bits: loud overlaps clip rather than wrap (wrapping
/// would turn a peak into a full-scale click of the opposite sign).
#[inline]
pub fn clamp16(x: i32) -> i16 {
    // Clamped into i16's range, so the cast is exact.
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}
