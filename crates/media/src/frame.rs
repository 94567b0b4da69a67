//! The unit of audio that the DSP core moves around: 20 ms of mono linear PCM.
//!
//! Frames live inline (no heap) so that the decode -> mix -> encode path of a hooked
//! call allocates nothing per tick. The buffer is sized for the largest rate we plan
//! to carry (16 kHz wideband), and `rate` says how much of it is in use, so that
//! wideband can be added without changing the type.

/// Length of one frame of the media clock.
pub const FRAME_MS: u32 = 20;
/// G.711's sample rate; everything runs at this rate for now.
pub const NARROWBAND: u32 = 8000;
/// The largest rate a frame can hold (G.722 / L16 wideband).
pub const MAX_RATE: u32 = 16_000;
/// Samples in a 20 ms frame at 8 kHz.
pub const SAMPLES_8K: usize = (NARROWBAND * FRAME_MS / 1000) as usize;
/// Capacity of a frame: 20 ms at `MAX_RATE`.
pub const MAX_SAMPLES: usize = (MAX_RATE * FRAME_MS / 1000) as usize;

/// 20 ms of mono signed 16-bit PCM at `rate` Hz.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    rate: u32,
    len: usize,
    buf: [i16; MAX_SAMPLES],
}

impl Frame {
    /// A silent 20 ms frame at 8 kHz.
    pub fn silence() -> Frame {
        Frame {
            rate: NARROWBAND,
            len: SAMPLES_8K,
            buf: [0; MAX_SAMPLES],
        }
    }

    /// A silent 20 ms frame at `rate` (8000 or 16000); `None` for other rates.
    pub fn silence_at(rate: u32) -> Option<Frame> {
        let len = samples_per_frame(rate)?;
        Some(Frame {
            rate,
            len,
            buf: [0; MAX_SAMPLES],
        })
    }

    /// An 8 kHz frame from exactly 160 samples; `None` when the length is wrong.
    pub fn from_samples(samples: &[i16]) -> Option<Frame> {
        let mut f = Frame::silence();
        if samples.len() != f.len {
            return None;
        }
        f.buf[..f.len].copy_from_slice(samples);
        Some(f)
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true for a frame built by this module; here because clippy asks for it.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn samples(&self) -> &[i16] {
        &self.buf[..self.len]
    }

    pub fn samples_mut(&mut self) -> &mut [i16] {
        &mut self.buf[..self.len]
    }

    /// Sets every sample to zero, keeping the rate.
    pub fn clear(&mut self) {
        self.buf[..self.len].fill(0);
    }

    /// True when every sample is zero.
    pub fn is_silent(&self) -> bool {
        self.samples().iter().all(|&s| s == 0)
    }

    /// Root-mean-square level in dBFS relative to a full-scale sine (a full-scale
    /// sine reads 0 dBFS); `-inf` for digital silence.
    pub fn level_dbfs(&self) -> f64 {
        rms_dbfs(self.samples())
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("rate", &self.rate)
            .field("len", &self.len)
            .field("dbfs", &self.level_dbfs())
            .finish()
    }
}

/// Samples in one 20 ms frame at `rate`, for the rates a frame can hold.
pub fn samples_per_frame(rate: u32) -> Option<usize> {
    match rate {
        8000 | 16_000 => Some((rate * FRAME_MS / 1000) as usize),
        _ => None,
    }
}

/// RMS level of `samples` in dBFS, with a full-scale sine at 0 dBFS.
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / samples.len() as f64).sqrt();
    // A full-scale sine has RMS 32767/sqrt(2).
    20.0 * (rms * std::f64::consts::SQRT_2 / 32767.0).log10()
}
