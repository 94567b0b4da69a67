//! RTP header, rewriter and RTCP tests, all in virtual time.

use super::rtcp;
use super::*;
use std::time::{Duration, Instant};

const OUT_SSRC: u32 = 0xdead_beef;

fn pkt(seq: u16, ts: u32, ssrc: u32, marker: bool) -> Vec<u8> {
    let mut p = vec![0x80, if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xff; 160]);
    p
}

/// Feeds one packet and returns the header as it went out.
fn send(rw: &mut StreamRewriter, seq: u16, ts: u32, ssrc: u32, at: Instant) -> RtpHeader {
    let mut p = pkt(seq, ts, ssrc, false);
    rw.rewrite(&mut p, at).unwrap();
    assert_eq!(&p[12..], &[0xff; 160][..], "payload untouched");
    RtpHeader::parse(&p).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn parse_plain_and_full_headers() {
    let h = RtpHeader::parse(&pkt(7, 1234, 42, true)).unwrap();
    assert_eq!(
        (h.sequence, h.timestamp, h.ssrc, h.marker),
        (7, 1234, 42, true)
    );
    assert_eq!(
        (h.payload_type, h.payload_offset, h.payload_len),
        (0, 12, 160)
    );

    // 2 CSRCs, a 1-word extension, 3 bytes of padding, payload type 8.
    let mut p = vec![0x80 | 0x20 | 0x10 | 2, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    p.extend_from_slice(&[0; 8]); // CSRCs
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension
    p.extend_from_slice(&[9; 10]); // payload
    p.extend_from_slice(&[0, 0, 3]); // padding
    let h = RtpHeader::parse(&p).unwrap();
    assert!(h.padding && h.extension);
    assert_eq!(h.csrc_count, 2);
    assert_eq!(h.payload_type, 8);
    assert_eq!(h.payload_offset, 28);
    assert_eq!(h.payload_len, 10);
}

#[test]
fn malformed_packets_are_rejected_and_left_unchanged() {
    let good = pkt(1, 1, 1, false);
    let mut v1 = good.clone();
    v1[0] = 0x40;
    let mut csrc = good[..12].to_vec();
    csrc[0] |= 0x0f;
    let mut ext = good[..14].to_vec();
    ext[0] |= 0x10;
    let mut ext_len = good[..20].to_vec();
    ext_len[0] |= 0x10;
    ext_len[14] = 0xff; // extension claims 65280+ words
    let mut pad0 = good.clone();
    pad0[0] |= 0x20;
    *pad0.last_mut().unwrap() = 0;
    let mut pad_big = good.clone();
    pad_big[0] |= 0x20;
    *pad_big.last_mut().unwrap() = 0xff; // 255 > 160-byte payload

    let cases: Vec<(Vec<u8>, RtpError)> = vec![
        (vec![], RtpError::TooShort(0)),
        (good[..11].to_vec(), RtpError::TooShort(11)),
        (v1, RtpError::BadVersion(1)),
        (csrc, RtpError::TruncatedCsrc),
        (ext, RtpError::TruncatedExtension),
        (ext_len, RtpError::TruncatedExtension),
        (pad0, RtpError::BadPadding(0)),
        (pad_big, RtpError::BadPadding(0xff)),
    ];
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 100, 1000);
    for (mut p, expected) in cases {
        let before = p.clone();
        assert_eq!(RtpHeader::parse(&p), Err(expected));
        assert_eq!(rw.rewrite(&mut p, Instant::now()), Err(expected));
        assert_eq!(p, before);
    }
}

#[test]
fn steady_stream_is_continuous_with_fixed_ssrc() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 100, 5000);
    for i in 0..10u16 {
        let h = send(
            &mut rw,
            40 + i,
            777 + u32::from(i) * 160,
            0x1111,
            t0 + ms(20 * u64::from(i)),
        );
        assert_eq!(h.ssrc, OUT_SSRC);
        assert_eq!(h.sequence, 100 + i);
        assert_eq!(h.timestamp, 5000 + u32::from(i) * 160);
        assert_eq!(h.marker, i == 0, "marker only on the first packet");
    }
}

#[test]
fn random_rewriters_use_distinct_ssrcs() {
    assert_ne!(
        StreamRewriter::new(8000).ssrc(),
        StreamRewriter::new(8000).ssrc()
    );
}

#[test]
fn ssrc_change_continues_the_output() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 100, 5000);
    for i in 0..5u16 {
        send(
            &mut rw,
            10 + i,
            160 * u32::from(i),
            0xaaaa,
            t0 + ms(20 * u64::from(i)),
        );
    }
    // Another phone takes over 20 ms later, with its own numbering.
    let h = send(&mut rw, 60000, 3_000_000_000, 0xbbbb, t0 + ms(100));
    assert_eq!(
        (h.ssrc, h.sequence, h.timestamp, h.marker),
        (OUT_SSRC, 105, 5800, true)
    );
    let h = send(&mut rw, 60001, 3_000_000_160, 0xbbbb, t0 + ms(120));
    assert_eq!((h.sequence, h.timestamp, h.marker), (106, 5960, false));

    // A third source 1005 ms after the last packet: the timestamp advances by the
    // wall clock (8040 units), rounded to whole 160-unit packets (50 of them).
    let h = send(&mut rw, 5, 99, 0xcccc, t0 + ms(1125));
    assert_eq!(
        (h.sequence, h.timestamp, h.marker),
        (107, 5960 + 8000, true)
    );
}

#[test]
fn sequence_jump_in_same_ssrc_is_smoothed() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 0, 0);
    send(&mut rw, 1000, 16000, 7, t0);
    send(&mut rw, 1001, 16160, 7, t0 + ms(20));
    let h = send(&mut rw, 31001, 16320, 7, t0 + ms(40));
    assert_eq!((h.sequence, h.timestamp, h.marker), (2, 320, true));
    let h = send(&mut rw, 31002, 16480, 7, t0 + ms(60));
    assert_eq!((h.sequence, h.timestamp, h.marker), (3, 480, false));
    // A straggler from before the jump keeps its old, older place.
    let h = send(&mut rw, 1000, 16000, 7, t0 + ms(61));
    assert_eq!((h.sequence, h.timestamp), (0, 0));
}

#[test]
fn timestamp_jump_is_smoothed_but_silence_is_kept() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 0, 0);
    send(&mut rw, 1, 0, 7, t0);
    send(&mut rw, 2, 160, 7, t0 + ms(20));
    // Silence suppression: 500 ms without packets, timestamp moves with it.
    let h = send(&mut rw, 3, 160 + 4000, 7, t0 + ms(520));
    assert_eq!((h.sequence, h.timestamp, h.marker), (2, 4160, false));
    // A timestamp jump of an hour in the next packet is a discontinuity.
    let h = send(&mut rw, 4, 4160 + 8000 * 3600, 7, t0 + ms(540));
    assert_eq!((h.sequence, h.timestamp, h.marker), (3, 4320, true));
    // Timestamps going backwards too.
    let h = send(&mut rw, 5, 10, 7, t0 + ms(560));
    assert_eq!((h.sequence, h.timestamp, h.marker), (4, 4480, true));
}

#[test]
fn reordering_is_preserved() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 500, 0);
    let order = [1u16, 2, 4, 3, 5, 5];
    let outs: Vec<u16> = order
        .iter()
        .enumerate()
        .map(|(i, &s)| send(&mut rw, s, u32::from(s) * 160, 9, t0 + ms(20 * i as u64)).sequence)
        .collect();
    assert_eq!(outs, vec![500, 501, 503, 502, 504, 504]);
}

#[test]
fn straggler_after_ssrc_change_keeps_old_mapping() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 0, 0);
    for i in 0..4u16 {
        if i == 2 {
            continue; // packet 2 of the first stream arrives late
        }
        send(
            &mut rw,
            i,
            u32::from(i) * 160,
            0xa,
            t0 + ms(20 * u64::from(i)),
        );
    }
    let h = send(&mut rw, 900, 90, 0xb, t0 + ms(80));
    assert_eq!((h.sequence, h.marker), (4, true));
    let late = send(&mut rw, 2, 320, 0xa, t0 + ms(85));
    assert_eq!((late.sequence, late.timestamp), (2, 320));
    // The new stream goes on undisturbed: no second switch.
    let h = send(&mut rw, 901, 250, 0xb, t0 + ms(100));
    assert_eq!((h.sequence, h.marker), (5, false));
    // A packet of the new SSRC older than its first one cannot be placed.
    let mut p = pkt(899, 0, 0xb, false);
    assert_eq!(rw.rewrite(&mut p, t0 + ms(101)), Err(RtpError::Stale));
}

#[test]
fn switching_back_to_a_previous_source_resyncs() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 0, 0);
    send(&mut rw, 10, 0, 0xa, t0);
    send(&mut rw, 500, 0, 0xb, t0 + ms(20));
    let h = send(&mut rw, 11, 160, 0xa, t0 + ms(40));
    assert_eq!((h.sequence, h.timestamp, h.marker), (2, 320, true));
}

#[test]
fn input_wraparound_is_seamless() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 10, 10);
    let mut seq: u16 = 65533;
    let mut ts: u32 = u32::MAX - 319;
    for i in 0..6u16 {
        let h = send(&mut rw, seq, ts, 3, t0 + ms(20 * u64::from(i)));
        assert_eq!((h.sequence, h.timestamp), (10 + i, 10 + 160 * u32::from(i)));
        assert_eq!(h.marker, i == 0);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
    }
}

#[test]
fn output_wraparound_is_seamless() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 65534, u32::MAX - 159);
    let outs: Vec<(u16, u32)> = (0..4u16)
        .map(|i| {
            let h = send(
                &mut rw,
                100 + i,
                160 * u32::from(i),
                3,
                t0 + ms(20 * u64::from(i)),
            );
            (h.sequence, h.timestamp)
        })
        .collect();
    assert_eq!(
        outs,
        vec![(65534, u32::MAX - 159), (65535, 0), (0, 160), (1, 320)]
    );
    // A source switch right after the wrap continues from there too.
    let h = send(&mut rw, 7, 7, 4, t0 + ms(80));
    assert_eq!((h.sequence, h.timestamp), (2, 480));
}

#[test]
fn packet_duration_is_learnt_from_the_input() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::with_initial(OUT_SSRC, 8000, 0, 0);
    // 30 ms packets (240 units).
    for i in 0..3u16 {
        send(
            &mut rw,
            i,
            240 * u32::from(i),
            1,
            t0 + ms(30 * u64::from(i)),
        );
    }
    // Switch 100 ms after the last packet: 800 units is 3.33 packets -> 3 packets.
    let h = send(&mut rw, 50, 50, 2, t0 + ms(160));
    assert_eq!(h.timestamp, 480 + 720);
}

#[test]
fn rtcp_sender_ssrc_is_rewritten() {
    // SR (sender info + 0 report blocks) followed by SDES with one chunk.
    let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 0x11];
    sr.extend_from_slice(&[0x22; 20]);
    let mut sdes = vec![0x81, 202, 0, 2, 0, 0, 0, 0x11, 1, 2, b'a', b'b'];
    let mut compound = sr.clone();
    compound.append(&mut sdes);
    rtcp::rewrite_sender_ssrc(&mut compound, OUT_SSRC).unwrap();
    assert_eq!(&compound[4..8], &OUT_SSRC.to_be_bytes());
    assert_eq!(&compound[8..28], &[0x22; 20][..], "sender info untouched");
    assert_eq!(&compound[32..36], &OUT_SSRC.to_be_bytes());

    // RR alone.
    let mut rr = vec![0x80, 201, 0, 1, 1, 2, 3, 4];
    rtcp::rewrite_sender_ssrc(&mut rr, 5).unwrap();
    assert_eq!(&rr[4..8], &5u32.to_be_bytes());
}

#[test]
fn malformed_rtcp_is_rejected() {
    let bad: [&[u8]; 5] = [
        &[0x80, 200, 0],
        &[0x80, 201, 0, 9, 1, 2, 3, 4], // length past the end
        &[0x40, 201, 0, 1, 1, 2, 3, 4], // version 1
        &[0x80, 0, 0, 1, 1, 2, 3, 4],   // RTP payload type, not RTCP
        &[0x80, 201, 0, 1, 1, 2, 3, 4, 0x80, 202], // trailing fragment
    ];
    for b in bad {
        let mut p = b.to_vec();
        assert!(rtcp::rewrite_sender_ssrc(&mut p, 1).is_err(), "{b:?}");
        assert_eq!(p, b);
    }
}

#[test]
fn rtcp_on_rtp_port_is_recognised() {
    assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
    assert!(looks_like_rtcp(&[0x81, 201, 0, 7]));
    assert!(!looks_like_rtcp(&pkt(1, 1, 1, true)));
    assert!(!looks_like_rtcp(&[0x80]));
}
