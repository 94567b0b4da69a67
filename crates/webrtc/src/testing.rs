//! What the tests of this crate share.

/// Level of `freq` in `x` (Goertzel), in dB relative to a sine of peak 8000.
pub fn level_db(x: &[i16], freq: f32, rate: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * freq / rate;
    let (mut s1, mut s2) = (0f32, 0f32);
    for v in x {
        let s = f32::from(*v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let amp = 2.0 * power.sqrt() / x.len() as f32;
    20.0 * (amp / 8000.0).log10()
}
