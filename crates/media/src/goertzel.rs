//! Goertzel single-frequency analysis: the energy of one tone in a block of
//! samples, far cheaper than an FFT when only a handful of frequencies matter.
//! Used by the in-band DTMF detector and by tests that check who hears which tone.

/// A Goertzel filter tuned to one frequency (not restricted to FFT bins).
#[derive(Debug, Clone, Copy)]
pub struct Goertzel {
    coeff: f32,
}

impl Goertzel {
    pub fn new(freq: f64, rate: u32) -> Goertzel {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate.max(1));
        Goertzel {
            coeff: (2.0 * w.cos()) as f32,
        }
    }

    /// Squared magnitude of the tone's DFT term over `samples`. A sine of amplitude
    /// `a` over `n` samples gives about `(a * n / 2)^2`.
    pub fn power(&self, samples: &[i16]) -> f32 {
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in samples {
            let s0 = f32::from(x) + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }
}

/// Level of the `freq` component of `samples` in dBFS (a full-scale sine at that
/// frequency reads 0 dBFS); `-inf` when absent. Most exact over whole periods.
pub fn tone_dbfs(samples: &[i16], freq: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let p = f64::from(Goertzel::new(freq, rate).power(samples)).max(0.0);
    let amplitude = 2.0 * p.sqrt() / samples.len() as f64;
    20.0 * (amplitude / 32767.0).log10()
}
