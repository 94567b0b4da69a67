use super::*;
use crate::goertzel::tone_dbfs;

/// Per-frame on/off pattern of a generator: a frame counts as "on" when both
/// components are present above -40 dBFS.
fn pattern(spec: ToneSpec, frames: usize) -> Vec<bool> {
    let freqs = spec.freqs.clone();
    let mut g = ToneGenerator::new(spec);
    let mut f = Frame::silence();
    (0..frames)
        .map(|_| {
            g.next_frame(&mut f);
            freqs
                .iter()
                .all(|&hz| tone_dbfs(f.samples(), hz, 8000) > -40.0)
        })
        .collect()
}

fn runs(p: &[bool]) -> Vec<(bool, usize)> {
    let mut out: Vec<(bool, usize)> = Vec::new();
    for &x in p {
        match out.last_mut() {
            Some((v, n)) if *v == x => *n += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

#[test]
fn busy_is_half_a_second_on_half_off() {
    let r = runs(&pattern(ToneSpec::busy(), 150));
    assert_eq!(
        r,
        vec![
            (true, 25),
            (false, 25),
            (true, 25),
            (false, 25),
            (true, 25),
            (false, 25)
        ]
    );
}

#[test]
fn congestion_is_quarter_second_on_off() {
    // 250 ms is 12.5 frames: edges fall mid-frame, so count samples instead.
    let mut g = ToneGenerator::new(ToneSpec::congestion());
    let mut f = Frame::silence();
    let mut samples = Vec::new();
    for _ in 0..50 {
        g.next_frame(&mut f);
        samples.extend_from_slice(f.samples());
    }
    // 2000-sample on/off bursts: energy in the first 2000 of each 4000 only.
    for cycle in 0..2 {
        let on = &samples[cycle * 4000 + 100..cycle * 4000 + 1900];
        let off = &samples[cycle * 4000 + 2000..cycle * 4000 + 4000];
        assert!(tone_dbfs(on, 480.0, 8000) > -30.0);
        assert!(off.iter().all(|&s| s == 0));
    }
}

#[test]
fn ringback_is_two_seconds_on_four_off_at_us_levels() {
    let p = pattern(ToneSpec::ringback(), 600);
    assert_eq!(
        runs(&p),
        vec![(true, 100), (false, 200), (true, 100), (false, 200)]
    );
    let mut g = ToneGenerator::new(ToneSpec::ringback());
    let mut f = Frame::silence();
    // 200 ms from the steady part: whole periods of both components, no leakage.
    let mut all = Vec::new();
    for _ in 0..12 {
        g.next_frame(&mut f);
        all.extend_from_slice(f.samples());
    }
    let l440 = tone_dbfs(&all[320..1920], 440.0, 8000);
    assert!((l440 - (-22.17)).abs() < 0.5, "440 Hz at {l440:.2} dBFS");
}

#[test]
fn beep_ends_after_250_ms_without_clicks() {
    let mut g = ToneGenerator::new(ToneSpec::beep());
    let mut f = Frame::silence();
    let mut n = 0;
    let mut all = Vec::new();
    while g.next_frame(&mut f) {
        n += 1;
        all.extend_from_slice(f.samples());
        assert!(n < 100, "beep never ends");
    }
    assert_eq!(n, 13); // 250 ms = 12.5 frames
    assert!(f.is_silent());
    // The ramp: first and last samples of the burst are near zero.
    assert!(all[0].abs() < 200 && all[1999].abs() < 200);
    assert!(tone_dbfs(&all[400..1600], 1000.0, 8000) > -14.0);
}

#[test]
fn silence_lasts_what_was_asked() {
    let mut s = Silence::for_ms(50);
    let mut f = Frame::silence();
    let n = std::iter::from_fn(|| s.next_frame(&mut f).then_some(())).count();
    assert_eq!(n, 3);
    assert!(Silence::forever().next_frame(&mut f));
}
