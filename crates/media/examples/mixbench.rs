//! Prints what mixing costs on one core (figures, not a test):
//! - frames mixed per second (three sources summed with saturation);
//! - one 20 ms call tick of a hooked call (both directions through the jitter
//!   buffer, decode, the call mixer with one listening supervisor, encode) against
//!   an unhooked call (two packets rewritten and copied, as the relay does).
//!
//! Run: cargo run --release -p media --example mixbench

use media::codec::AudioCodec;
use media::frame::Frame;
use media::jitter::{JitterBuffer, RtpIn};
use media::mix::{Accumulator, CallMixer, SpyMode, VolumeStep};
use media::rtp::StreamRewriter;
use media::tone::{FrameSource, ToneGenerator, ToneSpec};
use media::Side;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn tone(hz: f64) -> Frame {
    let mut f = Frame::silence();
    ToneGenerator::new(ToneSpec::sine(hz, -12.0)).next_frame(&mut f);
    f
}

fn rtp_packet(seq: u16, ts: u32, payload: &[u8; 160]) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p[12..].copy_from_slice(payload);
    p
}

fn bench_mix() {
    let sources = [tone(400.0), tone(1000.0), tone(1500.0)];
    let mut out = Frame::silence();
    let n = 2_000_000u32;
    let t = Instant::now();
    for _ in 0..n {
        let mut acc = Accumulator::new_like(&out);
        for s in &sources {
            acc.add(black_box(s), VolumeStep::UNITY);
        }
        acc.write_to(&mut out);
        black_box(&out);
    }
    let el = t.elapsed();
    println!(
        "mix: {:.2} M frames/s ({} sources each, {:.0} ns per 20 ms frame)",
        f64::from(n) / el.as_secs_f64() / 1e6,
        sources.len(),
        el.as_nanos() as f64 / f64::from(n)
    );
}

fn bench_call(ticks: u32) {
    let enc_a = {
        let mut b = [0u8; 160];
        AudioCodec::Pcmu
            .encode_frame(&tone(1000.0), &mut b)
            .unwrap();
        b
    };
    let enc_b = {
        let mut b = [0u8; 160];
        AudioCodec::Pcmu.encode_frame(&tone(400.0), &mut b).unwrap();
        b
    };
    let t0 = Instant::now();

    // Unhooked: each tick, one packet per direction is rewritten in place and copied.
    let mut rw = [StreamRewriter::new(8000), StreamRewriter::new(8000)];
    let mut sent = [[0u8; 172]; 2];
    let t = Instant::now();
    for k in 0..ticks {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        for (side, payload) in [(0usize, &enc_a), (1, &enc_b)] {
            let mut p = rtp_packet(k as u16, k * 160, payload);
            let _ = rw[side].rewrite(&mut p, now);
            sent[side].copy_from_slice(&p);
        }
        black_box(&sent);
    }
    let plain = t.elapsed().as_nanos() as f64 / f64::from(ticks);

    // Hooked: jitter buffer + decode, mix with a listener, encode three streams.
    let mut jb = [JitterBuffer::default(), JitterBuffer::default()];
    let mut mixer = CallMixer::new();
    let spy = mixer.attach(Side::A, SpyMode::Listen, VolumeStep::UNITY);
    let mut out = [[0u8; 160]; 3];
    let t = Instant::now();
    for k in 0..ticks {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        for (side, payload) in [(0usize, &enc_a), (1, &enc_b)] {
            let rtp = RtpIn {
                ssrc: 1,
                seq: k as u16,
                timestamp: k * 160,
                payload_type: 0,
                payload,
            };
            jb[side].push(rtp, now);
        }
        let a = jb[0].pop(now).into_frame();
        let b = jb[1].pop(now).into_frame();
        let heard = mixer.tick(&a, &b);
        let sup = mixer
            .supervisor_hears(spy)
            .ok()
            .flatten()
            .unwrap_or_else(Frame::silence);
        let _ = AudioCodec::Pcmu.encode_frame(&heard.a_hears, &mut out[0]);
        let _ = AudioCodec::Pcmu.encode_frame(&heard.b_hears, &mut out[1]);
        let _ = AudioCodec::Pcmu.encode_frame(&sup, &mut out[2]);
        black_box(&out);
    }
    let hooked = t.elapsed().as_nanos() as f64 / f64::from(ticks);

    let pct = |ns: f64| ns / 20e6 * 100.0;
    println!(
        "call tick, unhooked (rewrite + copy 2 packets): {plain:.0} ns = {:.4}% of a core per call",
        pct(plain)
    );
    println!(
        "call tick, hooked (jitter+decode 2, mix, encode 3 incl. spy): {hooked:.0} ns = {:.4}% of a core per call",
        pct(hooked)
    );
    println!(
        "hooked / unhooked: {:.1}x; one core could carry ~{:.0} hooked calls (DSP only, no sockets)",
        hooked / plain,
        20e6 / hooked
    );
}

fn main() {
    if cfg!(debug_assertions) {
        println!("(debug build: figures are meaningless, use --release)");
    }
    bench_mix();
    bench_call(200_000);
}
