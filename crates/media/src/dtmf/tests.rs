use super::*;
use crate::frame::Frame;
use crate::tone::{FrameSource, ToneGenerator, ToneSpec};
use std::time::{Duration, Instant};

/// Digit '1' exactly as in SIPp's `dtmf_2833_1.pcap` (Debian sip-tester): RTP
/// timestamp, marker, payload; packets 20 ms apart, three identical end packets.
const CAPTURE_1: [(u32, bool, [u8; 4]); 10] = [
    (13280, true, [0x01, 0x0a, 0x00, 0x00]),
    (13280, false, [0x01, 0x0a, 0x01, 0x40]),
    (13280, false, [0x01, 0x0a, 0x02, 0x80]),
    (13280, false, [0x01, 0x0a, 0x03, 0xc0]),
    (13280, false, [0x01, 0x0a, 0x05, 0x00]),
    (13280, false, [0x01, 0x0a, 0x06, 0x40]),
    (13280, false, [0x01, 0x0a, 0x07, 0x80]),
    (13280, false, [0x01, 0x8a, 0x08, 0xc0]),
    (13280, false, [0x01, 0x8a, 0x08, 0xc0]),
    (13280, false, [0x01, 0x8a, 0x08, 0xc0]),
];

fn feed(rx: &mut Rfc4733Receiver, pkts: &[(u32, bool, [u8; 4])]) -> Vec<DtmfEvent> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    for (i, (ts, _, p)) in pkts.iter().enumerate() {
        let now = t0 + Duration::from_millis(20 * i as u64);
        out.extend(rx.on_packet(*ts, p, now));
    }
    out
}

#[test]
fn capture_of_digit_1_yields_one_digit() {
    let mut rx = Rfc4733Receiver::default();
    let ev = feed(&mut rx, &CAPTURE_1);
    assert_eq!(
        ev,
        vec![
            DtmfEvent::Begin { digit: '1' },
            DtmfEvent::End {
                digit: '1',
                duration_ms: 280
            }
        ]
    );
    assert_eq!(rx.last_volume(), Some(10));
    assert_eq!(rx.active(), None);
}

/// Reads the RTP payloads of a classic little-endian pcap with Ethernet/IPv4/UDP
/// frames, as SIPp's DTMF captures are. Anything else yields nothing.
fn pcap_rtp(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if bytes.len() < 24 || bytes[..4] != [0xd4, 0xc3, 0xb2, 0xa1] {
        return out;
    }
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let incl = u32::from_le_bytes([
            bytes[off + 8],
            bytes[off + 9],
            bytes[off + 10],
            bytes[off + 11],
        ]) as usize;
        off += 16;
        let Some(frame) = bytes.get(off..off + incl) else {
            break;
        };
        off += incl;
        let Some(ip) = frame.get(14..) else { continue };
        let ihl = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
        if let Some(rtp) = ip.get(ihl + 8..) {
            out.push(rtp.to_vec());
        }
    }
    out
}

#[test]
fn every_sipp_capture_decodes_to_its_digit() {
    // Debian's sip-tester ships these; the project's test script installs it.
    let dir = std::path::Path::new("/usr/share/sip-tester");
    let cases = [
        ("0", '0'),
        ("1", '1'),
        ("3", '3'),
        ("4", '4'),
        ("7", '7'),
        ("9", '9'),
        ("star", '*'),
        ("pound", '#'),
    ];
    let mut checked = 0;
    for (name, digit) in cases {
        let Ok(bytes) = std::fs::read(dir.join(format!("dtmf_2833_{name}.pcap"))) else {
            continue;
        };
        let mut rx = Rfc4733Receiver::default();
        let t0 = Instant::now();
        let mut events = Vec::new();
        for (i, dg) in pcap_rtp(&bytes).iter().enumerate() {
            events.extend(rx.on_rtp(dg, 101, t0 + Duration::from_millis(20 * i as u64)));
        }
        assert_eq!(events.len(), 2, "{name}: {events:?}");
        assert_eq!(events[0], DtmfEvent::Begin { digit });
        assert!(matches!(events[1], DtmfEvent::End { digit: d, duration_ms: 280 } if d == digit));
        checked += 1;
    }
    if checked == 0 {
        eprintln!(
            "sip-tester captures not installed; covered by capture_of_digit_1_yields_one_digit"
        );
    }
}

#[test]
fn lost_start_and_lost_end_packets_still_give_one_digit_each() {
    let mut rx = Rfc4733Receiver::default();
    // '1' without its first three packets.
    let ev = feed(&mut rx, &CAPTURE_1[3..]);
    assert_eq!(ev.len(), 2);
    // '5' whose end packets were all lost, followed by '6': '5' ends when '6' starts.
    let five: Vec<(u32, bool, [u8; 4])> = (0..4u16)
        .map(|k| {
            (
                20_000,
                k == 0,
                [5, 10, ((k * 160) >> 8) as u8, (k * 160) as u8],
            )
        })
        .collect();
    let six = [
        (21_600u32, true, [6u8, 10, 0, 160]),
        (21_600, false, [6, 0x8a, 1, 64]),
    ];
    let mut all = five.clone();
    all.extend_from_slice(&six);
    let ev = feed(&mut rx, &all);
    assert_eq!(
        ev,
        vec![
            DtmfEvent::Begin { digit: '5' },
            DtmfEvent::End {
                digit: '5',
                duration_ms: 60
            },
            DtmfEvent::Begin { digit: '6' },
            DtmfEvent::End {
                digit: '6',
                duration_ms: 40
            },
        ]
    );
    // A straggler of '5' after '6' started is ignored.
    assert!(rx
        .on_packet(20_000, &[5, 0x8a, 1, 0], Instant::now())
        .is_empty());
    // Garbage and non-digit events are ignored.
    assert!(rx.on_packet(30_000, &[1, 2], Instant::now()).is_empty());
    assert!(rx
        .on_packet(30_000, &[16, 0, 0, 0], Instant::now())
        .is_empty());
}

#[test]
fn a_digit_without_any_end_packet_times_out() {
    let mut rx = Rfc4733Receiver::default();
    let t0 = Instant::now();
    assert_eq!(
        rx.on_packet(100, &[9, 10, 0, 160], t0),
        vec![DtmfEvent::Begin { digit: '9' }]
    );
    assert_eq!(rx.poll(t0 + Duration::from_millis(100)), None);
    assert_eq!(
        rx.poll(t0 + Duration::from_secs(1)),
        Some(DtmfEvent::End {
            digit: '9',
            duration_ms: 20
        })
    );
    assert_eq!(rx.poll(t0 + Duration::from_secs(2)), None);
}

#[test]
fn sender_packets_round_trip_through_the_receiver() {
    let mut tx = DtmfSender::new('#', Duration::from_millis(100), 10).unwrap();
    let pkts: Vec<EventPacket> = std::iter::from_fn(|| tx.next_packet()).collect();
    // 100 ms = 5 packets, the last of which is the end, sent three times.
    assert_eq!(pkts.len(), 7);
    assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
    let durations: Vec<u16> = pkts
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
        .collect();
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(pkts.iter().filter(|p| p.end).count(), 3);
    assert_eq!(pkts.iter().filter(|p| p.retransmission).count(), 2);
    assert!(pkts
        .iter()
        .all(|p| p.payload[0] == 11 && p.payload[1] & 0x3f == 10));
    let mut rx = Rfc4733Receiver::default();
    let wire: Vec<(u32, bool, [u8; 4])> = pkts.iter().map(|p| (777, p.marker, p.payload)).collect();
    assert_eq!(
        feed(&mut rx, &wire),
        vec![
            DtmfEvent::Begin { digit: '#' },
            DtmfEvent::End {
                digit: '#',
                duration_ms: 100
            }
        ]
    );
    assert!(DtmfSender::new('x', Duration::from_millis(100), 10).is_err());
    // Very long presses are capped at the 16-bit duration field.
    let mut long = DtmfSender::new('1', Duration::from_secs(60), 10).unwrap();
    let last = std::iter::from_fn(|| long.next_packet()).last().unwrap();
    assert_eq!(
        u16::from_be_bytes([last.payload[2], last.payload[3]]),
        65_440
    );
}

#[test]
fn sip_info_bodies() {
    assert_eq!(
        parse_dtmf_relay("Signal=5\r\nDuration=160\r\n"),
        Ok(InfoDigit {
            digit: '5',
            duration_ms: Some(160)
        })
    );
    assert_eq!(
        parse_dtmf_relay("signal= #\nduration = 250").unwrap().digit,
        '#'
    );
    assert_eq!(parse_dtmf_relay("Signal=10\r\n").unwrap().digit, '*');
    assert_eq!(parse_dtmf_relay("Signal=11").unwrap().digit, '#');
    assert_eq!(parse_dtmf_relay("Signal=d").unwrap().digit, 'D');
    assert_eq!(parse_dtmf_relay("Duration=100"), Err(DtmfError::NoSignal));
    assert!(matches!(
        parse_dtmf_relay("Signal=Z"),
        Err(DtmfError::NotADigit(_))
    ));
    assert!(matches!(
        parse_dtmf_relay("Signal=1\nDuration=x"),
        Err(DtmfError::BadDuration(_))
    ));
    assert_eq!(parse_dtmf("7\r\n").unwrap().digit, '7');
    assert_eq!(parse_dtmf("11").unwrap().digit, '#');
    assert!(parse_dtmf("").is_err());
}

/// `digits` as DTMF tones (-10 dBFS per tone), `on_ms` on and `off_ms` off each,
/// with white noise at `noise_dbfs` throughout.
fn synth(digits: &str, on_ms: usize, off_ms: usize, noise_dbfs: f64) -> Vec<Frame> {
    let mut samples: Vec<i16> = Vec::new();
    for d in digits.chars() {
        let e = digit_to_event(d).unwrap() as usize;
        let (r, c) = if e == 10 {
            (3, 0)
        } else if e == 11 {
            (3, 2)
        } else if e == 0 {
            (3, 1)
        } else if e >= 12 {
            (e - 12, 3)
        } else {
            ((e - 1) / 3, (e - 1) % 3)
        };
        let lows = [697.0, 770.0, 852.0, 941.0];
        let highs = [1209.0, 1336.0, 1477.0];
        let high = if c == 3 { 1633.0 } else { highs[c] };
        let mut g = ToneGenerator::new(ToneSpec {
            freqs: vec![lows[r], high],
            level_dbfs: -10.0,
            cadence: vec![],
            repeat: true,
        });
        let mut f = Frame::silence();
        let mut tone = Vec::new();
        while tone.len() < on_ms * 8 {
            g.next_frame(&mut f);
            tone.extend_from_slice(f.samples());
        }
        samples.extend_from_slice(&tone[..on_ms * 8]);
        samples.extend(std::iter::repeat_n(0, off_ms * 8));
    }
    let amp = 32767.0 * 10f64.powf(noise_dbfs / 20.0) * 3f64.sqrt();
    let mut x = 7u32;
    for s in &mut samples {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let u = f64::from(x >> 8) / f64::from(1u32 << 24) * 2.0 - 1.0;
        *s = (f64::from(*s) + u * amp).clamp(-32768.0, 32767.0) as i16;
    }
    samples
        .chunks_exact(160)
        .map(|c| Frame::from_samples(c).unwrap())
        .collect()
}

fn detect(frames: &[Frame]) -> Vec<DtmfEvent> {
    let mut d = InbandDetector::new();
    frames.iter().flat_map(|f| d.process(f)).collect()
}

#[test]
fn inband_digits_are_detected_once_each_through_noise() {
    let frames = synth("0123456789*#ABCD", 70, 60, -35.0);
    let ev = detect(&frames);
    let begins: String = ev
        .iter()
        .filter(|e| matches!(e, DtmfEvent::Begin { .. }))
        .map(|e| e.digit())
        .collect();
    assert_eq!(begins, "0123456789*#ABCD");
    let ends = ev
        .iter()
        .filter(|e| matches!(e, DtmfEvent::End { .. }))
        .count();
    assert_eq!(ends, 16);
    for e in &ev {
        if let DtmfEvent::End { duration_ms, .. } = e {
            assert!((40..=90).contains(duration_ms), "{e:?}");
        }
    }
}

#[test]
fn inband_detector_ignores_tones_that_are_not_dtmf() {
    // Ringback (440+480), a 1000 Hz beep, and noise alone.
    let mut frames = Vec::new();
    for spec in [
        ToneSpec::ringback(),
        ToneSpec::sine(1000.0, -6.0),
        ToneSpec::dial(),
    ] {
        let mut g = ToneGenerator::new(spec);
        for _ in 0..50 {
            let mut f = Frame::silence();
            g.next_frame(&mut f);
            frames.push(f);
        }
    }
    frames.extend(synth("", 0, 0, -10.0));
    assert!(detect(&frames).is_empty());
    // Noise loud enough to swamp a digit: nothing, rather than a wrong digit.
    assert!(detect(&synth("5", 100, 100, -3.0))
        .iter()
        .all(|e| e.digit() == '5'));
}
