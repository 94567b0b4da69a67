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

    /// `power` of every filter of a bank over the same samples, in one pass. The
    /// filters' recurrences are independent, so running them side by side lets the
    /// CPU (and the vectoriser) overlap them instead of waiting on one chain.
    pub fn powers<const N: usize>(bank: &[Goertzel; N], samples: &[i16]) -> [f32; N] {
        let coeff: [f32; N] = std::array::from_fn(|k| bank[k].coeff);
        let (mut s1, mut s2) = ([0.0f32; N], [0.0f32; N]);
        for &x in samples {
            let x = f32::from(x);
            for k in 0..N {
                let s0 = x + coeff[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        std::array::from_fn(|k| s1[k] * s1[k] + s2[k] * s2[k] - coeff[k] * s1[k] * s2[k])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_matches_single_filters() {
        let samples: Vec<i16> = (0..160)
            .map(|n| {
                let t = f64::from(n) / 8000.0;
                let tau = 2.0 * std::f64::consts::PI;
                (8000.0 * (tau * 770.0 * t).sin() + 6000.0 * (tau * 1336.0 * t).sin()) as i16
            })
            .collect();
        let bank = [697.0, 770.0, 1336.0, 1633.0].map(|f| Goertzel::new(f, 8000));
        let together = Goertzel::powers(&bank, &samples);
        for (g, p) in bank.iter().zip(together) {
            let alone = g.power(&samples);
            assert!(
                (alone - p).abs() <= alone.abs() * 1e-4 + 1.0,
                "{alone} vs {p}"
            );
        }
        // The two tones present stand far above the two absent ones.
        assert!(together[1] > 10.0 * together[0] && together[2] > 10.0 * together[3]);
    }
}
