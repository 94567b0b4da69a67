//! RTP and RTCP datagrams from phones: `RtpHeader::parse`, RTCP validation and
//! sender-SSRC rewriting, and the per-leg `StreamRewriter` fed a sequence of
//! packets in virtual time.
//!
//! Input layout: the whole input is tried as one RTP packet and as one RTCP
//! packet; then, after a 4-byte clock rate, it is read as records of
//! `[len: u8][ms since previous: u16 BE][len bytes of packet]` for the rewriter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::rtp::{looks_like_rtcp, rtcp, RtpError, RtpHeader, StreamRewriter};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    header(data);
    rtcp_packet(data);
    if data.len() >= 4 {
        let rate = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        rewriter(rate, &data[4..]);
    }
});

fn header(pkt: &[u8]) {
    let _ = looks_like_rtcp(pkt);
    if let Ok(h) = RtpHeader::parse(pkt) {
        let end = h
            .payload_offset
            .checked_add(h.payload_len)
            .expect("payload end overflows");
        assert!(end <= pkt.len(), "payload runs past the packet");
        assert!(h.payload_offset >= 12 + 4 * usize::from(h.csrc_count));
        assert!(h.payload_type < 128);
        let _ = &pkt[h.payload_offset..end];
    }
}

fn rtcp_packet(pkt: &[u8]) {
    let valid = rtcp::validate(pkt);
    let mut copy = pkt.to_vec();
    let rewritten = rtcp::rewrite_sender_ssrc(&mut copy, 0x5350_5947);
    assert_eq!(valid, rewritten, "validate and rewrite disagree");
    match rewritten {
        Ok(()) => {
            assert_eq!(copy.len(), pkt.len());
            rtcp::validate(&copy).expect("a rewritten packet is still valid");
        }
        Err(_) => assert_eq!(copy, pkt, "a rejected packet was changed"),
    }
}

fn rewriter(clock_rate: u32, mut rest: &[u8]) {
    let mut rw = StreamRewriter::with_initial(0x1122_3344, clock_rate, 65_000, u32::MAX - 500);
    let mut now = Instant::now();
    while rest.len() >= 3 {
        let len = usize::from(rest[0]);
        let ms = u16::from_be_bytes([rest[1], rest[2]]);
        rest = &rest[3..];
        let take = len.min(rest.len());
        let mut pkt = rest[..take].to_vec();
        rest = &rest[take..];
        now += Duration::from_millis(u64::from(ms));
        let before = pkt.clone();
        match rw.rewrite(&mut pkt, now) {
            Ok(()) => {
                let h = RtpHeader::parse(&pkt).expect("a rewritten packet parses");
                let orig = RtpHeader::parse(&before).expect("an accepted packet parsed");
                assert_eq!(h.ssrc, rw.ssrc(), "SSRC not rewritten");
                assert_eq!(h.payload_type, orig.payload_type);
                assert_eq!(h.payload_offset, orig.payload_offset);
                assert_eq!(h.payload_len, orig.payload_len);
                assert_eq!(pkt[12..], before[12..], "rewriting touched the payload");
            }
            Err(RtpError::Stale) => assert_eq!(pkt, before, "a dropped packet was changed"),
            Err(_) => {
                assert_eq!(pkt, before, "a malformed packet was changed");
                assert!(RtpHeader::parse(&before).is_err());
            }
        }
    }
}
