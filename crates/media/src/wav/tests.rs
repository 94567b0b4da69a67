use super::*;
use crate::goertzel::tone_dbfs;
use crate::tone::{ToneGenerator, ToneSpec};

fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn record_then_play_back_is_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.wav");
    let mut rec = WavRecorder::create(&path).unwrap();
    let mut g = ToneGenerator::new(ToneSpec::sine(1000.0, -12.0));
    let mut frames = Vec::new();
    for _ in 0..10 {
        let mut f = Frame::silence();
        g.next_frame(&mut f);
        rec.write(&f).unwrap();
        frames.push(f);
    }
    assert!(rec.write(&Frame::silence_at(16_000).unwrap()).is_err());
    rec.finish().unwrap();
    let p = Prompt::open(&path).unwrap();
    assert_eq!(p.duration_ms(), 200);
    let mut player = p.player();
    let mut f = Frame::silence();
    for want in &frames {
        assert!(player.next_frame(&mut f));
        assert_eq!(&f, want);
    }
    assert!(!player.next_frame(&mut f));
    assert!(player.finished());
    assert_eq!(player.position_ms(), 200);
    assert!((tone_dbfs(p.samples(), 1000.0, 8000) + 12.0).abs() < 0.2);
}

#[test]
fn a_partial_last_frame_is_padded_with_silence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.wav");
    write_wav(&path, 8000, 1, &[500i16; 200]);
    let mut player = Prompt::open(&path).unwrap().player();
    let mut f = Frame::silence();
    assert!(player.next_frame(&mut f));
    assert!(player.next_frame(&mut f));
    assert_eq!(f.samples()[39], 500);
    assert_eq!(f.samples()[40], 0);
    assert!(!player.next_frame(&mut f));
}

#[test]
fn other_formats_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.wav");
    write_wav(&wide, 16_000, 1, &[0; 100]);
    let stereo = dir.path().join("stereo.wav");
    write_wav(&stereo, 8000, 2, &[0; 100]);
    for p in [&wide, &stereo] {
        let e = Prompt::open(p).unwrap_err().to_string();
        assert!(
            e.contains(&p.display().to_string()) && e.contains("8000 Hz mono"),
            "{e}"
        );
    }
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"not a wav file at all").unwrap();
    let e = Prompt::open(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.wav"), "{e}");
}

#[test]
fn prompts_are_found_by_asterisk_name_with_english_fallback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en/digits")).unwrap();
    std::fs::create_dir_all(dir.path().join("fr")).unwrap();
    write_wav(&dir.path().join("en/digits/5.wav"), 8000, 1, &[1; 80]);
    write_wav(&dir.path().join("en/beep.wav"), 8000, 1, &[1; 80]);
    write_wav(&dir.path().join("fr/beep.wav"), 8000, 1, &[2; 80]);
    let prompts = Prompts::new(dir.path());
    assert!(prompts.open("en", "digits/5").is_ok());
    assert_eq!(prompts.open("fr", "beep").unwrap().samples()[0], 2);
    assert_eq!(prompts.open("fr", "digits/5").unwrap().samples()[0], 1);
    let e = prompts.open("en", "no-such-prompt").unwrap_err();
    assert!(matches!(e, WavError::Missing { .. }));
    assert!(e.to_string().contains("no-such-prompt"), "{e}");
    for bad in [
        "../secret",
        "/etc/passwd",
        "digits/../../x",
        "",
        "a//b",
        "a b",
    ] {
        assert!(
            matches!(prompts.path("en", bad), Err(WavError::BadName(_))),
            "{bad}"
        );
    }
}

/// The prompts shipped in sounds/en: all present, all in the right format, and
/// the beep is a 1000 Hz tone rather than speech.
#[test]
fn shipped_prompts_are_all_there_and_well_formed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
    let prompts = Prompts::new(&root);
    let mut names: Vec<String> = [
        "extension",
        "invalid",
        "activated",
        "de-activated",
        "beep",
        "agent-pass",
        "auth-thankyou",
        "auth-incorrect",
        "vm-goodbye",
        "pls-try-again",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend((0..10).map(|d| format!("digits/{d}")));
    for n in &names {
        let p = prompts.open("en", n).unwrap_or_else(|e| panic!("{e}"));
        let ms = p.duration_ms();
        assert!((100..=6000).contains(&ms), "{n}: {ms} ms");
        let level = crate::frame::rms_dbfs(p.samples());
        assert!(level > -35.0, "{n} is nearly silent ({level:.1} dBFS)");
    }
    let beep = prompts.open("en", "beep").unwrap();
    let s = beep.samples();
    let mid = &s[s.len() / 4..s.len() * 3 / 4];
    let tone = tone_dbfs(mid, 1000.0, 8000);
    let all = crate::frame::rms_dbfs(mid);
    assert!(
        (tone - all).abs() < 1.0,
        "beep: 1000 Hz at {tone:.1}, total {all:.1} dBFS"
    );
}
