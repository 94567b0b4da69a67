//! SRTP legs in virtual time: leg A's phone speaks SRTP, leg B's plain RTP. What A
//! sends reaches B decrypted, what B sends reaches A encrypted with the PBX's key;
//! a packet that does not authenticate is dropped before it can latch or be
//! heard; a spy on the SRTP leg hears plain audio, and what the decode path makes
//! for an SRTP phone is encrypted too.

use super::voices::{attach, decoded, present, Talker, AGENT, CLIENT};
use super::{addr, Bench, Stream, PHONE_A, PHONE_A_RTCP, PHONE_B};
use crate::control::{Control, SrtpKeys};
use crate::frame::Frame;
use crate::mix::SpyMode;
use crate::relay::Port;
use crate::side::Side::{A, B};
use crate::srtp::{SrtpContext, SrtpKey, SrtpSuite};

/// Leg A's phone: its own sending context, and the one it decrypts ours with.
struct SrtpPhone {
    send: SrtpContext,
    recv: SrtpContext,
}

/// A bench whose leg A is SRTP, with the phone that goes with it.
fn srtp_bench() -> (Bench, SrtpPhone) {
    let phone_key = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80);
    let our_key = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80);
    let mut b = Bench::new();
    b.control(
        0,
        Control::SetSrtp {
            side: A,
            keys: Some(SrtpKeys {
                inbound: phone_key.clone(),
                outbound: our_key.clone(),
            }),
        },
    );
    let phone = SrtpPhone {
        send: SrtpContext::new(&phone_key),
        recv: SrtpContext::new(&our_key),
    };
    (b, phone)
}

fn protect(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 16, 0);
    let n = ctx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(ctx: &mut SrtpContext, pkt: &[u8]) -> Vec<u8> {
    let mut buf = pkt.to_vec();
    let n = ctx.unprotect_rtp(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn an_srtp_leg_is_decrypted_in_and_encrypted_out() {
    let (mut b, mut phone) = srtp_bench();
    let mut a_stream = Stream::new(0xa1);
    let mut b_stream = Stream::new(0xb2);
    for k in 0..5u8 {
        let at = 20 * u64::from(k);
        // A -> B: B gets the plain packet, the PBX's 12-byte header, 160 bytes.
        let sent = protect(&mut phone.send, &a_stream.packet(k));
        assert_eq!(sent.len(), 172 + 10);
        let (t, out) = b.rtp(at, A, PHONE_A, &sent).unwrap();
        assert_eq!((t.via, t.dest, t.len), (Port::rtp(B), addr(PHONE_B), 172));
        assert_eq!(&out[12..], &[k; 160][..], "B hears A's audio in clear");
        // B -> A: A gets SRTP that its key for us opens.
        let (t, out) = b
            .rtp(at + 1, B, PHONE_B, &b_stream.packet(0x40 + k))
            .unwrap();
        assert_eq!((t.dest, t.len), (addr(PHONE_A), 182));
        assert_ne!(&out[12..172], &[0x40 + k; 160][..], "encrypted on the wire");
        let plain = unprotect(&mut phone.recv, &out);
        assert_eq!(&plain[12..], &[0x40 + k; 160][..]);
    }
}

#[test]
fn a_packet_that_does_not_authenticate_is_dropped_and_latches_nothing() {
    let (mut b, mut phone) = srtp_bench();
    let mut stream = Stream::new(0xa1);
    // From the SDP's own address, a payload type the SDP lists, but no valid tag:
    // plain RTP, then a real packet with its tag flipped.
    assert!(b.rtp(0, A, PHONE_A, &stream.packet(1)).is_none());
    let mut forged = protect(&mut phone.send, &stream.packet(2));
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(b.rtp(20, A, PHONE_A, &forged).is_none());
    // From a NAT-guess source, even correctly encrypted by someone without the
    // key (here: another key): nothing.
    let mut stranger = SrtpContext::new(&SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80));
    let spray = protect(&mut stranger, &stream.packet(3));
    assert!(b.rtp(40, A, "203.0.113.9:5000", &spray).is_none());
    let s = b.stats();
    assert_eq!(s.a.dropped_foreign, 3);
    assert_eq!(s.a.packets_in, 0);
    assert!(s.a.latched_rtp.is_none(), "nothing latched");
    // The phone itself gets through at once.
    let good = protect(&mut phone.send, &stream.packet(4));
    assert!(b.rtp(60, A, PHONE_A, &good).is_some());
}

#[test]
fn srtcp_is_decrypted_and_a_plain_rtcp_is_refused() {
    let (mut b, mut phone) = srtp_bench();
    let _ = b.rtp(
        0,
        A,
        PHONE_A,
        &protect(&mut phone.send, &Stream::new(1).packet(0)),
    );
    let sr = [0x80u8, 200, 0, 1, 0, 0, 0x11, 0x11];
    assert!(b.datagram(5, Port::rtcp(A), PHONE_A_RTCP, &sr).is_none());
    let mut buf = sr.to_vec();
    buf.resize(sr.len() + 16, 0);
    let n = phone.send.protect_rtcp(&mut buf, sr.len()).unwrap();
    let (t, out) = b
        .datagram(10, Port::rtcp(A), PHONE_A_RTCP, &buf[..n])
        .unwrap();
    assert_eq!((t.via, t.len), (Port::rtcp(B), 8), "B gets plain RTCP");
    assert_eq!(out[1], 200);
}

#[test]
fn a_spy_on_an_srtp_leg_hears_plain_audio_and_generated_packets_are_encrypted() {
    let (mut b, mut phone) = srtp_bench();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    // Both phones latch.
    let _ = b.rtp(0, A, PHONE_A, &protect(&mut phone.send, &agent.packet()));
    let _ = b.rtp(1, B, PHONE_B, &client.packet());
    // A whisper to A: the PBX makes A's stream from then on.
    let link = attach(&mut b, 2, A, SpyMode::Whisper);
    let mut heard = Vec::new();
    let mut a_hears = Vec::new();
    for k in 1..=20u64 {
        let at = 20 * k;
        let _ = b.rtp(at, A, PHONE_A, &protect(&mut phone.send, &agent.packet()));
        let _ = b.rtp(at + 1, B, PHONE_B, &client.packet());
        link.says.send(&Frame::silence()).unwrap();
        for (t, pkt) in b.tick(at + 5) {
            if t.dest == addr(PHONE_A) {
                assert_eq!(t.len, pkt.len());
                assert_eq!(pkt.len(), 182, "an SRTP packet: 172 and the tag");
                a_hears.extend_from_slice(decoded(&unprotect(&mut phone.recv, &pkt)).samples());
            }
        }
        heard.extend(std::iter::from_fn(|| link.hears.try_recv().ok()));
    }
    // The supervisor hears the SRTP phone (after the jitter buffer's delay).
    let sup: Vec<i16> = heard[5..]
        .iter()
        .flat_map(|f| f.samples().to_vec())
        .collect();
    present(&sup, AGENT, "the supervisor, from the SRTP leg");
    present(
        &a_hears[160 * 5..],
        CLIENT,
        "the SRTP phone, through the decode path",
    );
}
