//! Virtual-time tests: packets arrive at chosen instants, the buffer is popped
//! every 20 ms, and the output is checked frame by frame.

use super::*;
use crate::codec::g711::ulaw_decode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
struct Pkt {
    at_us: i64,
    ssrc: u32,
    seq: u16,
    ts: u32,
    code: u8,
}

/// A stream of 20 ms PCMU packets; packet k carries the constant code `code(k)`,
/// so the output tells which packet was played. `period_us` models the sender's
/// clock (20000 = same as ours).
fn stream(n: usize, period_us: i64, offset_us: i64) -> Vec<Pkt> {
    (0..n)
        .map(|k| Pkt {
            at_us: offset_us + k as i64 * period_us,
            ssrc: 0x1234,
            seq: 1000u16.wrapping_add(k as u16),
            ts: 50_000u32.wrapping_add(160 * k as u32),
            code: code(k),
        })
        .collect()
}

fn code(k: usize) -> u8 {
    0x10 + (k % 100) as u8
}

/// Runs the buffer for `ticks` pops at 0, 20, 40 ... ms, pushing every packet
/// whose arrival time has come before each pop.
fn run(jb: &mut JitterBuffer, pkts: &[Pkt], ticks: usize) -> Vec<JitterOutput> {
    run_skipping(jb, pkts, ticks, |_| false)
}

/// As `run`, but the ticks for which `skipped(tick)` holds call `skip` instead of
/// `pop` (and read as `None`).
fn run_skipping(
    jb: &mut JitterBuffer,
    pkts: &[Pkt],
    ticks: usize,
    skipped: impl Fn(usize) -> bool,
) -> Vec<JitterOutput> {
    let t0 = Instant::now();
    let at = |us: i64| t0 + Duration::from_micros(us.max(0) as u64);
    let mut order: Vec<Pkt> = pkts.to_vec();
    order.sort_by_key(|p| p.at_us);
    let mut next = 0;
    let mut out = Vec::with_capacity(ticks);
    for t in 0..ticks {
        let now_us = t as i64 * 20_000;
        while next < order.len() && order[next].at_us <= now_us {
            let p = order[next];
            let payload = [p.code; 160];
            jb.push(
                RtpIn {
                    ssrc: p.ssrc,
                    seq: p.seq,
                    timestamp: p.ts,
                    payload_type: 0,
                    payload: &payload,
                },
                at(p.at_us),
            );
            next += 1;
        }
        if skipped(t) {
            jb.skip(at(now_us));
            out.push(JitterOutput::Silence);
        } else {
            out.push(jb.pop(at(now_us)));
        }
    }
    out
}

/// Index of the packet an audio frame came from (by its constant sample value).
fn which(o: &JitterOutput) -> Option<usize> {
    match o {
        JitterOutput::Audio(f) => (0..100).find(|&k| f.samples()[0] == ulaw_decode(code(k))),
        _ => None,
    }
}

/// Concealed frames between the first and the last audio frame (the fade after
/// the stream's end does not count).
fn concealed_inside(out: &[JitterOutput]) -> usize {
    let first = out
        .iter()
        .position(|o| matches!(o, JitterOutput::Audio(_)))
        .unwrap_or(0);
    let last = out
        .iter()
        .rposition(|o| matches!(o, JitterOutput::Audio(_)))
        .unwrap_or(0);
    out[first..=last]
        .iter()
        .filter(|o| matches!(o, JitterOutput::Concealed(_)))
        .count()
}

fn audio_indices(out: &[JitterOutput]) -> Vec<usize> {
    out.iter().filter_map(which).collect()
}

#[test]
fn in_order_stream_plays_after_40_ms_and_in_order() {
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &stream(50, 20_000, 5_000), 60);
    // First packet at 5 ms; playout starts on the tick nearest 45 ms.
    assert!(matches!(out[0], JitterOutput::Silence));
    assert!(matches!(out[1], JitterOutput::Silence));
    assert_eq!(which(&out[2]), Some(0));
    assert_eq!(audio_indices(&out), (0..50).collect::<Vec<_>>());
    let s = jb.stats();
    assert_eq!((s.played, s.late, s.duplicates, s.resets), (50, 0, 0, 0));
    let w = s.last_max_wait_ms.unwrap();
    assert!((30..=40).contains(&w), "wait {w} ms");
}

#[test]
fn reordered_packets_play_in_timestamp_order() {
    let mut pkts = stream(40, 20_000, 1_000);
    // Swap arrival of each pair: 1 arrives before 0, 3 before 2, ...
    for pair in pkts.chunks_mut(2) {
        if let [a, b] = pair {
            std::mem::swap(&mut a.at_us, &mut b.at_us);
        }
    }
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 50);
    assert_eq!(audio_indices(&out), (0..40).collect::<Vec<_>>());
    assert_eq!(concealed_inside(&out), 0);
}

#[test]
fn a_lost_packet_is_concealed_with_a_fade_not_silence() {
    let mut pkts = stream(30, 20_000, 1_000);
    pkts.remove(10);
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 40);
    let i = out
        .iter()
        .position(|o| matches!(o, JitterOutput::Concealed(_)))
        .unwrap();
    assert_eq!(which(&out[i - 1]), Some(9));
    assert_eq!(which(&out[i + 1]), Some(11));
    let JitterOutput::Concealed(f) = &out[i] else {
        unreachable!()
    };
    let last = f64::from(ulaw_decode(code(9)));
    // Starts at the last level and fades toward zero across the frame.
    let first = f64::from(f.samples()[0]);
    let end = f64::from(f.samples()[159]);
    assert!((first / last) > 0.99, "{first} vs {last}");
    assert!((end / last - 2.0 / 3.0).abs() < 0.01, "{end} vs {last}");
    assert_eq!(concealed_inside(&out), 1);
}

#[test]
fn a_long_loss_fades_over_three_frames_then_goes_silent() {
    let mut pkts = stream(40, 20_000, 1_000);
    pkts.drain(10..16);
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 50);
    let i = out
        .iter()
        .position(|o| matches!(o, JitterOutput::Concealed(_)))
        .unwrap();
    let kinds: Vec<&str> = out[i..i + 7]
        .iter()
        .map(|o| match o {
            JitterOutput::Audio(_) => "audio",
            JitterOutput::Concealed(_) => "concealed",
            JitterOutput::Silence => "silence",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "concealed",
            "concealed",
            "concealed",
            "silence",
            "silence",
            "silence",
            "audio"
        ]
    );
    // The fade is continuous across concealed frames and ends at zero.
    let frames: Vec<&Frame> = out[i..i + 3]
        .iter()
        .map(|o| match o {
            JitterOutput::Concealed(f) => f,
            _ => unreachable!(),
        })
        .collect();
    for w in frames.windows(2) {
        let step = (i32::from(w[0].samples()[159]) - i32::from(w[1].samples()[0])).abs();
        assert!(step < 100, "jump of {step} between concealed frames");
    }
    assert!(frames[2].samples()[159].abs() < 100);
}

#[test]
fn late_and_duplicate_packets_are_dropped_and_counted() {
    let mut pkts = stream(30, 20_000, 1_000);
    // Packet 10 arrives 100 ms late: after its turn.
    pkts[10].at_us += 100_000;
    // Every packet from 20 on arrives twice, the copy 3 ms later.
    let dups: Vec<Pkt> = pkts[20..]
        .iter()
        .map(|p| Pkt {
            at_us: p.at_us + 3_000,
            ..*p
        })
        .collect();
    pkts.extend(dups);
    // And packet 5 comes back long after it was played.
    pkts.push(Pkt {
        at_us: 400_000,
        ..pkts[5]
    });
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 40);
    let s = jb.stats();
    assert_eq!(s.late, 1);
    assert_eq!(s.duplicates, 11);
    let mut want: Vec<usize> = (0..30).collect();
    want.remove(10);
    assert_eq!(audio_indices(&out), want);
}

/// Longest run of identical consecutive indices, and the number of skips.
fn gaps(idx: &[usize]) -> (usize, usize) {
    let repeats = idx.windows(2).filter(|w| w[0] == w[1]).count();
    let skips = idx.windows(2).filter(|w| w[1] > w[0] + 1).count();
    (repeats, skips)
}

#[test]
fn a_fast_sender_clock_is_absorbed_by_dropping_frames() {
    // 1% fast: a packet every 19.8 ms. Over 20 s, 200 ms of excess audio.
    let mut jb = JitterBuffer::default();
    let pkts = stream(1000, 19_800, 1_000);
    let mut max_wait = 0;
    let mut out = Vec::new();
    // Run in chunks of one window to watch the delay stay bounded.
    let t0 = Instant::now();
    let mut next = 0;
    for t in 0..1000usize {
        let now = t0 + Duration::from_millis(20 * t as u64);
        while next < pkts.len() && pkts[next].at_us <= t as i64 * 20_000 {
            let p = pkts[next];
            let payload = [p.code; 160];
            let rtp = RtpIn {
                ssrc: p.ssrc,
                seq: p.seq,
                timestamp: p.ts,
                payload_type: 0,
                payload: &payload,
            };
            jb.push(rtp, t0 + Duration::from_micros(p.at_us as u64));
            next += 1;
        }
        out.push(jb.pop(now));
        if let Some(w) = jb.stats().last_max_wait_ms {
            max_wait = max_wait.max(w);
        }
    }
    let s = jb.stats();
    assert!(s.drift_dropped >= 8, "{s:?}");
    assert!(max_wait <= 65, "delay grew to {max_wait} ms");
    assert_eq!(concealed_inside(&out), 0);
    assert_eq!(s.late, 0);
    let idx = audio_indices(&out);
    let (repeats, skips) = gaps(&idx);
    assert_eq!(repeats, 0);
    assert_eq!(skips as u64, s.drift_dropped);
}

#[test]
fn a_slow_sender_clock_is_absorbed_by_repeating_frames() {
    // 1% slow: a packet every 20.2 ms.
    let mut jb = JitterBuffer::default();
    let pkts = stream(990, 20_200, 1_000);
    let out = run(&mut jb, &pkts, 1000);
    let s = jb.stats();
    assert!(s.drift_repeated >= 8, "{s:?}");
    // Without growing, every packet after ~1 s would be late.
    assert!(s.late <= 2, "{s:?}");
    assert!(s.last_max_wait_ms.unwrap() <= 60, "{s:?}");
    let idx = audio_indices(&out);
    let (repeats, _) = gaps(&idx);
    assert_eq!(repeats as u64, s.drift_repeated);
}

#[test]
fn jitter_within_the_target_costs_nothing() {
    // Each packet delayed by a pseudo-random 0..30 ms.
    let mut pkts = stream(200, 20_000, 1_000);
    let mut x = 12345u32;
    for p in &mut pkts {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        p.at_us += i64::from((x >> 16) % 30_000);
    }
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 220);
    assert_eq!(
        audio_indices(&out),
        (0..200).map(|k| k % 100).collect::<Vec<_>>()
    );
    assert_eq!(concealed_inside(&out), 0);
}

#[test]
fn a_new_ssrc_or_timestamp_jump_restarts_cleanly() {
    let mut pkts = stream(20, 20_000, 1_000);
    // Same timing, new SSRC with unrelated seq/ts, from packet 20 on.
    for (k, p) in stream(20, 20_000, 401_000).into_iter().enumerate() {
        pkts.push(Pkt {
            ssrc: 0xBEEF,
            seq: 7 + k as u16,
            ts: 9_999_999 + 160 * k as u32,
            code: code(20 + k),
            ..p
        });
    }
    // Then the same SSRC jumps its timestamps 10 s ahead.
    for (k, p) in stream(20, 20_000, 801_000).into_iter().enumerate() {
        pkts.push(Pkt {
            ssrc: 0xBEEF,
            seq: 27 + k as u16,
            ts: 90_000_000 + 160 * k as u32,
            code: code(40 + k),
            ..p
        });
    }
    let mut jb = JitterBuffer::default();
    let out = run(&mut jb, &pkts, 70);
    assert_eq!(jb.stats().resets, 2);
    let idx = audio_indices(&out);
    // Everything is played except the frames lost at each restart's buffering.
    assert!(idx.windows(2).all(|w| w[1] > w[0]));
    assert!(idx.len() >= 56, "{} frames played", idx.len());
    // The restart is bridged by a fade, never by a sudden silence.
    let first_gap = out
        .iter()
        .position(|o| !matches!(o, JitterOutput::Audio(_)) && which(o).is_none())
        .unwrap();
    let after_start = out[first_gap..]
        .iter()
        .position(|o| matches!(o, JitterOutput::Concealed(_)));
    assert!(after_start.is_some());
}

#[test]
fn bad_input_is_counted_not_fatal() {
    let mut jb = JitterBuffer::default();
    let now = Instant::now();
    let big = [0u8; 400];
    let rtp = |pt, payload| RtpIn {
        ssrc: 1,
        seq: 1,
        timestamp: 1,
        payload_type: pt,
        payload,
    };
    assert_eq!(
        jb.push(rtp(101, &[1, 2, 3, 4]), now),
        PushOutcome::Unsupported
    );
    assert_eq!(jb.push(rtp(0, &[]), now), PushOutcome::Unsupported);
    assert_eq!(jb.push(rtp(0, &big), now), PushOutcome::Unsupported);
    assert_eq!(jb.push_rtp(&[0x80, 0, 1], now), PushOutcome::Unsupported);
    assert_eq!(jb.stats().unsupported, 4);
    // Random garbage never panics.
    let mut x = 99u32;
    for i in 0..5000u32 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let len = (x >> 24) as usize;
        let pkt: Vec<u8> = (0..len).map(|j| (x >> (j % 24)) as u8).collect();
        let mut dg = vec![0x80, if x & 1 == 0 { 0 } else { 8 }];
        dg.extend_from_slice(&pkt);
        jb.push_rtp(&dg, now + Duration::from_millis(u64::from(i)));
        if i % 3 == 0 {
            jb.pop(now + Duration::from_millis(u64::from(i)));
        }
    }
}

#[test]
fn ten_ms_packets_fill_a_frame_together() {
    // Some phones send ptime=10: two packets per frame.
    let pkts: Vec<Pkt> = (0..80)
        .map(|k| Pkt {
            at_us: 1_000 + k as i64 * 10_000,
            ssrc: 5,
            seq: k as u16,
            ts: 80 * k as u32,
            code: code(k / 2),
        })
        .collect();
    let mut jb = JitterBuffer::default();
    let t0 = Instant::now();
    let mut played = Vec::new();
    let mut next = 0;
    for t in 0..45usize {
        while next < pkts.len() && pkts[next].at_us <= t as i64 * 20_000 {
            let p = pkts[next];
            let payload = [p.code; 80];
            let rtp = RtpIn {
                ssrc: p.ssrc,
                seq: p.seq,
                timestamp: p.ts,
                payload_type: 0,
                payload: &payload,
            };
            jb.push(rtp, t0 + Duration::from_micros(p.at_us as u64));
            next += 1;
        }
        played.push(jb.pop(t0 + Duration::from_millis(20 * t as u64)));
    }
    assert_eq!(audio_indices(&played), (0..40).collect::<Vec<_>>());
    assert_eq!(concealed_inside(&played), 0);
}

#[test]
fn skipped_ticks_keep_the_timeline_without_decoding() {
    // A supervisor's phone whose audio is needed only from tick 30 on (they start
    // whispering): the frames played from then on are the ones a buffer that
    // decoded all along plays, and the counters agree.
    let pkts = stream(60, 20_000, 3_000);
    let mut all = JitterBuffer::default();
    let mut skipping = JitterBuffer::default();
    let decoded = run(&mut all, &pkts, 60);
    let partly = run_skipping(&mut skipping, &pkts, 60, |t| t < 30);
    let played: Vec<_> = decoded[30..].iter().map(which).collect();
    assert!(played.iter().all(Option::is_some), "{played:?}");
    assert_eq!(partly[30..].iter().map(which).collect::<Vec<_>>(), played);
    assert!(partly[..30]
        .iter()
        .all(|o| matches!(o, JitterOutput::Silence)));
    assert_eq!(skipping.stats(), all.stats());
}

#[test]
fn a_loss_right_after_skipped_ticks_is_silence_not_stale_audio() {
    // Packet 20 is lost, and the ticks up to the one that played packet 19 were
    // skipped: there is no decoded audio to fade from, so the gap is silent, where
    // a buffer that decoded all along conceals it from packet 19.
    let pkts: Vec<Pkt> = stream(40, 20_000, 3_000)
        .into_iter()
        .filter(|p| p.seq != 1020)
        .collect();
    let decoded = run(&mut JitterBuffer::default(), &pkts, 40);
    let t19 = decoded
        .iter()
        .position(|o| which(o) == Some(19))
        .expect("packet 19 is played");
    assert!(matches!(decoded[t19 + 1], JitterOutput::Concealed(_)));
    // Decode the first ten ticks, so there is old audio a stale fade could use.
    let skipped = run_skipping(&mut JitterBuffer::default(), &pkts, 40, |t| {
        (10..=t19).contains(&t)
    });
    assert!(
        matches!(skipped[t19 + 1], JitterOutput::Silence),
        "got {:?}",
        skipped[t19 + 1]
    );
    assert_eq!(which(&skipped[t19 + 2]), Some(21));
}
