use super::g711::*;
use super::*;

#[test]
fn ulaw_every_code_round_trips() {
    for c in 0..=255u8 {
        let back = ulaw_encode(ulaw_decode(c));
        if c == 0x7F {
            // Negative zero: 16-bit PCM has a single zero, which is 0xFF.
            assert_eq!(back, 0xFF);
        } else {
            assert_eq!(back, c, "code {c:#04x}");
        }
    }
}

#[test]
fn alaw_every_code_round_trips() {
    for c in 0..=255u8 {
        assert_eq!(alaw_encode(alaw_decode(c)), c, "code {c:#04x}");
    }
}

#[test]
fn known_values_from_the_standard_tables() {
    assert_eq!(ulaw_encode(0), 0xFF);
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0);
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ulaw_encode(i16::MIN), 0x00);
    assert_eq!(ulaw_decode(0xFE), 8);
    assert_eq!(alaw_encode(0), 0xD5);
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
    assert_eq!(alaw_decode(0xAA), 32256);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(alaw_encode(i16::MAX), 0xAA);
    assert_eq!(alaw_encode(i16::MIN), 0x2A);
}

#[test]
fn every_linear_value_encodes_to_its_nearest_level() {
    // Decoding after encoding never moves a sample by more than half of the
    // widest quantisation step (1024 for mu-law, 1024 for A-law's top segment).
    for s in i16::MIN..=i16::MAX {
        let u = ulaw_decode(ulaw_encode(s));
        let a = alaw_decode(alaw_encode(s));
        assert!(
            (i32::from(u) - i32::from(s)).abs() <= 1024,
            "ulaw {s} -> {u}"
        );
        assert!(
            (i32::from(a) - i32::from(s)).abs() <= 1024,
            "alaw {s} -> {a}"
        );
    }
}

fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn snr_db(orig: &[i16], got: &[i16]) -> f64 {
    let sig: f64 = orig.iter().map(|&s| f64::from(s).powi(2)).sum();
    let noise: f64 = orig
        .iter()
        .zip(got)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    10.0 * (sig / noise).log10()
}

#[test]
fn a_tone_survives_both_laws_with_g711_quality() {
    let x = sine(1000.0, 8000.0, 1600);
    for codec in [AudioCodec::Pcmu, AudioCodec::Pcma] {
        let mut enc = vec![0u8; x.len()];
        let mut dec = vec![0i16; x.len()];
        assert_eq!(codec.encode_into(&x, &mut enc), x.len());
        assert_eq!(codec.decode_into(&enc, &mut dec), x.len());
        let snr = snr_db(&x, &dec);
        assert!(snr > 33.0, "{codec:?} SNR {snr:.1} dB");
    }
}

#[test]
fn transcoding_tables_match_decode_then_encode() {
    for c in 0..=255u8 {
        assert_eq!(ulaw_to_alaw(c), alaw_encode(ulaw_decode(c)));
        assert_eq!(alaw_to_ulaw(c), ulaw_encode(alaw_decode(c)));
    }
    let mut p: Vec<u8> = (0..=255).collect();
    transcode_in_place(AudioCodec::Pcma, AudioCodec::Pcmu, &mut p);
    assert_eq!(p[0xD5], ulaw_encode(8));
    // Same law: untouched.
    let mut q = vec![1u8, 2, 3];
    transcode_in_place(AudioCodec::Pcmu, AudioCodec::Pcmu, &mut q);
    assert_eq!(q, [1, 2, 3]);
}

#[test]
fn payload_types_and_frame_helpers() {
    assert_eq!(AudioCodec::from_payload_type(0), Ok(AudioCodec::Pcmu));
    assert_eq!(AudioCodec::from_payload_type(8), Ok(AudioCodec::Pcma));
    assert_eq!(
        AudioCodec::from_payload_type(18),
        Err(CodecError::UnsupportedPayloadType(18))
    );
    let mut f = Frame::silence();
    assert!(AudioCodec::Pcmu.decode_frame(&[0xFF; 80], &mut f).is_err());
    let payload = [0x80u8; 160];
    AudioCodec::Pcmu.decode_frame(&payload, &mut f).unwrap();
    assert!(f.samples().iter().all(|&s| s == 32124));
    let mut out = [0u8; 160];
    AudioCodec::Pcmu.encode_frame(&f, &mut out).unwrap();
    assert_eq!(out, payload);
    let wide = Frame::silence_at(16_000).unwrap();
    assert_eq!(
        AudioCodec::Pcma.encode_frame(&wide, &mut out),
        Err(CodecError::WrongRate(16_000))
    );
}
