//! RFC 3711's own vectors, packets from libsrtp, and the behaviours around them:
//! the ROC across a sequence wrap, tampering, replays, CSRCs and extensions.

use super::kdf::{derive, SessionKeys, AUTH_KEY_LEN};
use super::replay::{Streams, Window, MAX_SSRCS};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s).try_into().unwrap()
}

/// An RTP packet with SSRC 0xCAFEBABE and a 20-byte payload, in a buffer with
/// room for a tag; returns the buffer and the packet's length.
fn rtp(seq: u16, payload_byte: u8) -> (Vec<u8>, usize) {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
    p.extend_from_slice(&[payload_byte; 20]);
    let len = p.len();
    p.resize(len + 16, 0);
    (p, len)
}

fn contexts(suite: SrtpSuite) -> (SrtpContext, SrtpContext) {
    let key = SrtpKey::generate(suite);
    (SrtpContext::new(&key), SrtpContext::new(&key))
}

/// RFC 3711 B.2: AES-CM keystream for session key 2B7E..., salt F0F1...FD, SSRC 0,
/// index 0: the first three and the last three 16-byte blocks of the segment.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let keys = SessionKeys::from_session_keys(
        arr("2B7E151628AED2A6ABF7158809CF4F3C"),
        arr("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
        [0; AUTH_KEY_LEN],
    );
    let mut stream = vec![0u8; 0xff02 * 16];
    keys.apply_keystream(0, 0, &mut stream);
    let block = |n: usize| stream[n * 16..n * 16 + 16].to_vec();
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// RFC 3711 B.3: session encryption key, salt and (first 160 bits of the)
/// authentication key from one master key and salt.
#[test]
fn rfc3711_b3_key_derivation() {
    let master = SrtpKey::new(
        SrtpSuite::AesCm128HmacSha1_80,
        arr("E1F97A0D3E018BE0D64FA32C06DE4139"),
        arr("0EC675AD498AFEEBB6960B3AABE6"),
    );
    let mut key = [0u8; 16];
    derive(&master, 0x00, &mut key);
    assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut salt = [0u8; 14];
    derive(&master, 0x02, &mut salt);
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth = [0u8; 20];
    derive(&master, 0x01, &mut auth);
    assert_eq!(
        auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

/// The reference packet of libsrtp's own test driver (the B.3 master key,
/// SSRC 0xCAFEBABE, sequence 0x1234, sixteen bytes of 0xAB), checked against
/// libsrtp 2 through pylibsrtp.
#[test]
fn libsrtp_reference_packet() {
    let master = SrtpKey::new(
        SrtpSuite::AesCm128HmacSha1_80,
        arr("E1F97A0D3E018BE0D64FA32C06DE4139"),
        arr("0EC675AD498AFEEBB6960B3AABE6"),
    );
    let plain = hex("800f1234 decafbad cafebabe abababab abababab abababab abababab");
    let expected = hex(
        "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402
         b78d6acc 99ea179b 8dbb",
    );
    let mut buf = plain.clone();
    buf.resize(64, 0);
    let n = SrtpContext::new(&master)
        .protect_rtp(&mut buf, plain.len())
        .unwrap();
    assert_eq!(&buf[..n], &expected[..]);

    let mut rx = expected.clone();
    let n = SrtpContext::new(&master).unprotect_rtp(&mut rx).unwrap();
    assert_eq!(&rx[..n], &plain[..]);
}

/// Packets protected by libsrtp 2.x (`testdata/libsrtp_vectors.py`): a sequence
/// wrap (ROC 0 -> 1), a packet with two CSRCs and a header extension, and two
/// compound RTCP packets. libsrtp numbers SRTCP from 1, we from 0 (RFC 3711
/// 3.4: the index is incremented *after* each packet is sent); either is
/// accepted by both, and the vectors are compared from our second packet on.
const LIBSRTP_RTP_80: &[(&str, &str)] = &[
    ("8000fffe009ffec0cafebabefefefefefefefefefefefefefefefefefefefefe",
     "8000fffe009ffec0cafebabee8656c037a553a68f4e3b0d290860aa80871696d8cad7ec345e204ef1539"),
    ("8000ffff009fff60cafebabeffffffffffffffffffffffffffffffffffffffff",
     "8000ffff009fff60cafebabe99f485476970fe8bb1985a535401f67b21859e5c3f5e964f3c3b5a05879a"),
    ("8000000000000000cafebabe0000000000000000000000000000000000000000",
     "8000000000000000cafebabe2e7bb072911c531dde8267ca674125d6e457b609b3f24fedb0860915d912"),
    ("80000001000000a0cafebabe0101010101010101010101010101010101010101",
     "80000001000000a0cafebabe64f47f41b96d4453b4490f5601d33ff11e193e4cca38269df9b53a1306d2"),
    ("9200000200000140cafebabe1111111122222222bede000110aa00005555555555555555555555555555555555555555",
     "9200000200000140cafebabe1111111122222222bede000110aa00000f4e2b2aa9cb0f0d26fbc876f8f1d3bcea8363359388669721b97131ef73"),
];

const LIBSRTP_RTP_32: &[(&str, &str)] = &[
    ("8000fffe009ffec0cafebabefefefefefefefefefefefefefefefefefefefefe",
     "8000fffe009ffec0cafebabee8656c037a553a68f4e3b0d290860aa80871696d8cad7ec3"),
    ("8000ffff009fff60cafebabeffffffffffffffffffffffffffffffffffffffff",
     "8000ffff009fff60cafebabe99f485476970fe8bb1985a535401f67b21859e5c3f5e964f"),
    ("8000000000000000cafebabe0000000000000000000000000000000000000000",
     "8000000000000000cafebabe2e7bb072911c531dde8267ca674125d6e457b609b3f24fed"),
    ("80000001000000a0cafebabe0101010101010101010101010101010101010101",
     "80000001000000a0cafebabe64f47f41b96d4453b4490f5601d33ff11e193e4cca38269d"),
    ("9200000200000140cafebabe1111111122222222bede000110aa00005555555555555555555555555555555555555555",
     "9200000200000140cafebabe1111111122222222bede000110aa00000f4e2b2aa9cb0f0d26fbc876f8f1d3bcea83633593886697"),
];

/// The same for both suites: SRTCP keeps its 80-bit tag with `_32`.
const LIBSRTP_RTCP_PLAIN: &str =
    "81c90007cafebabe000102030405060708090a0b0c0d0e0f101112131415161781ca0003cafebabe010361626300";
const LIBSRTP_RTCP: [&str; 2] = [
    "81c90007cafebabe4c17fbad008c91e29cf74ad28ff8108e994ba7d2b706f7bef424bd80482d5cbbd0da324ac92c800000014a344cde0c009569d32b",
    "81c90007cafebabec21d6040bbc3a9989dd682ba2ceb8defd02106f78bfff6f6af8d56e1d2de0f9a04e2621d25cf80000002e6d6ccaa38cff71c01c2",
];

fn libsrtp_key(suite: SrtpSuite) -> SrtpKey {
    SrtpKey::new(
        suite,
        arr("101112131415161718191a1b1c1d1e1f"),
        arr("a0a1a2a3a4a5a6a7a8a9aaabacad"),
    )
}

#[test]
fn libsrtp_known_answers_both_suites() {
    for (suite, vectors) in [
        (SrtpSuite::AesCm128HmacSha1_80, LIBSRTP_RTP_80),
        (SrtpSuite::AesCm128HmacSha1_32, LIBSRTP_RTP_32),
    ] {
        let key = libsrtp_key(suite);
        let mut tx = SrtpContext::new(&key);
        let mut rx = SrtpContext::new(&key);
        for (plain, protected) in vectors {
            let (plain, protected) = (hex(plain), hex(protected));
            let mut buf = plain.clone();
            buf.resize(plain.len() + 10, 0);
            let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
            assert_eq!(&buf[..n], &protected[..], "{suite} protect");

            let mut buf = protected.clone();
            let n = rx.unprotect_rtp(&mut buf).unwrap();
            assert_eq!(&buf[..n], &plain[..], "{suite} unprotect");
        }

        let plain = hex(LIBSRTP_RTCP_PLAIN);
        let mut tx = SrtpContext::new(&key);
        let mut rx = SrtpContext::new(&key);
        // Our first SRTCP index is 0, libsrtp's is 1: spend index 0.
        let mut buf = plain.clone();
        buf.resize(plain.len() + tx.rtcp_overhead(), 0);
        tx.protect_rtcp(&mut buf, plain.len()).unwrap();
        for protected in LIBSRTP_RTCP {
            let protected = hex(protected);
            let mut buf = plain.clone();
            buf.resize(plain.len() + 14, 0);
            let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            assert_eq!(&buf[..n], &protected[..], "{suite} protect_rtcp");

            let mut buf = protected.clone();
            let n = rx.unprotect_rtcp(&mut buf).unwrap();
            assert_eq!(&buf[..n], &plain[..], "{suite} unprotect_rtcp");
        }
    }
}

#[test]
fn rtp_round_trip_across_sequence_wrap_both_suites() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = contexts(suite);
        for i in 0..20u16 {
            let seq = 65530u16.wrapping_add(i);
            let (mut buf, len) = rtp(seq, i as u8);
            let plain = buf[..len].to_vec();
            let n = tx.protect_rtp(&mut buf, len).unwrap();
            assert_eq!(n, len + suite.tag_len());
            assert_eq!(buf[..12], plain[..12], "header stays in clear");
            assert_ne!(buf[12..len], plain[12..], "payload is encrypted");
            let n = rx.unprotect_rtp(&mut buf[..n]).unwrap();
            assert_eq!(&buf[..n], &plain[..]);
        }
        let roc = |c: &SrtpContext| c.rtp_received.get(0xCAFE_BABE).unwrap();
        assert_eq!(roc(&rx), {
            let mut w = Window::starting_at(65530);
            (0..20).for_each(|i| w.accept(65530 + i));
            w
        });
    }
}

/// The same payload under ROC 0 and ROC 1 encrypts differently: the ROC is part
/// of the index, so a wrap does not reuse keystream.
#[test]
fn wrap_changes_the_keystream() {
    let (mut tx, _) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    let (mut first, len) = rtp(5, 0);
    tx.protect_rtp(&mut first, len).unwrap();
    for seq in (6..=u16::MAX).step_by(1000).chain([u16::MAX, 0, 2]) {
        let (mut b, len) = rtp(seq, 0);
        tx.protect_rtp(&mut b, len).unwrap();
    }
    let (mut again, len) = rtp(5, 0);
    tx.protect_rtp(&mut again, len).unwrap();
    assert_ne!(first[12..len], again[12..len]);
}

#[test]
fn rtcp_round_trip_and_index_word() {
    for suite in SrtpSuite::ALL {
        let (mut tx, mut rx) = contexts(suite);
        let plain = hex(LIBSRTP_RTCP_PLAIN);
        for index in 0..3u32 {
            let mut buf = plain.clone();
            buf.resize(plain.len() + 32, 0);
            let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            assert_eq!(n, plain.len() + 4 + 10, "{suite}: SRTCP tag is 80 bits");
            assert_eq!(buf[..8], plain[..8], "first header stays in clear");
            assert_ne!(buf[8..plain.len()], plain[8..]);
            let word = &buf[plain.len()..plain.len() + 4];
            assert_eq!(word, (0x8000_0000 | index).to_be_bytes(), "E=1, index");
            let n = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
            assert_eq!(&buf[..n], &plain[..]);
        }
    }
}

#[test]
fn tampered_packets_fail_auth_and_change_nothing() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    let (mut buf, len) = rtp(100, 7);
    let n = tx.protect_rtp(&mut buf, len).unwrap();
    let good = buf[..n].to_vec();
    for at in [1, 3, 11, 12, n - 11, n - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert_eq!(
            rx.unprotect_rtp(&mut bad),
            Err(SrtpError::AuthFailed),
            "{at}"
        );
        let unchanged = {
            let mut g = good.clone();
            g[at] ^= 0x01;
            g
        };
        assert_eq!(bad, unchanged, "a failed packet is not decrypted");
    }
    // The genuine packet still passes: the failures moved no state.
    let mut ok = good.clone();
    assert_eq!(rx.unprotect_rtp(&mut ok), Ok(len));

    // The same for RTCP, and a wrong key.
    let plain = hex(LIBSRTP_RTCP_PLAIN);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 14, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    let mut bad = buf[..n].to_vec();
    bad[20] ^= 0x80;
    assert_eq!(rx.unprotect_rtcp(&mut bad), Err(SrtpError::AuthFailed));
    let mut stranger = SrtpContext::new(&SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80));
    let mut copy = buf[..n].to_vec();
    assert_eq!(
        stranger.unprotect_rtcp(&mut copy),
        Err(SrtpError::AuthFailed)
    );
    let mut copy = good.clone();
    assert_eq!(
        stranger.unprotect_rtp(&mut copy),
        Err(SrtpError::AuthFailed)
    );
}

#[test]
fn replays_are_refused_reordering_is_not() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_32);
    let mut sent = Vec::new();
    for seq in 1000..1100u16 {
        let (mut buf, len) = rtp(seq, 0);
        let n = tx.protect_rtp(&mut buf, len).unwrap();
        sent.push(buf[..n].to_vec());
    }
    let mut take = |i: usize| {
        let mut p = sent[i].clone();
        rx.unprotect_rtp(&mut p).map(|_| ())
    };
    assert_eq!(take(10), Ok(()));
    assert_eq!(take(10), Err(SrtpError::Replayed));
    assert_eq!(take(5), Ok(()), "late but inside the window");
    assert_eq!(take(5), Err(SrtpError::Replayed));
    assert_eq!(take(99), Ok(()));
    assert_eq!(take(36), Ok(()), "63 behind the highest");
    assert_eq!(take(35), Err(SrtpError::Replayed), "64 behind: too old");

    // SRTCP keeps its own window.
    let plain = hex(LIBSRTP_RTCP_PLAIN);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 14, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    let packet = buf[..n].to_vec();
    assert!(rx.unprotect_rtcp(&mut packet.clone()).is_ok());
    assert_eq!(
        rx.unprotect_rtcp(&mut packet.clone()),
        Err(SrtpError::Replayed)
    );
}

/// A sender never encrypts two packets under one index: the same keystream over
/// two different payloads would reveal their XOR.
#[test]
fn sender_refuses_to_reuse_an_index_but_sends_out_of_order() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    for seq in [10u16, 12, 11] {
        let (mut buf, len) = rtp(seq, seq as u8);
        let n = tx.protect_rtp(&mut buf, len).unwrap();
        assert!(rx.unprotect_rtp(&mut buf[..n]).is_ok());
    }
    let (mut buf, len) = rtp(11, 0x99);
    assert_eq!(tx.protect_rtp(&mut buf, len), Err(SrtpError::Replayed));
}

#[test]
fn csrcs_and_header_extension_stay_in_clear() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    // V=2 X=1 CC=2, two CSRCs, a one-byte-header extension of 2 words, payload.
    let mut plain =
        hex("92 00 0007 00000460 cafebabe 11111111 22222222 bede0002 10aa2201 02030000");
    let header = plain.len();
    plain.extend_from_slice(&[0x42; 32]);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 10, 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(buf[..header], plain[..header]);
    assert!(buf[header..plain.len()].iter().any(|&b| b != 0x42));
    let n = rx.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..n], &plain[..]);
}

#[test]
fn malformed_and_short_packets_are_errors() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    let (mut buf, len) = rtp(1, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf[..len + 9], len),
        Err(SrtpError::NoRoom {
            needed: len + 10,
            have: len + 9
        })
    );
    assert!(matches!(
        tx.protect_rtp(&mut buf, 1000),
        Err(SrtpError::NoRoom { .. })
    ));
    assert_eq!(
        tx.protect_rtp(&mut buf, 11),
        Err(SrtpError::TooShort { len: 11 })
    );
    let mut v1 = buf.clone();
    v1[0] = 0x40;
    assert!(matches!(
        tx.protect_rtp(&mut v1, len),
        Err(SrtpError::Malformed(_))
    ));
    // CC=15 claims 60 bytes of CSRCs in a 32-byte packet.
    let mut cc = buf.clone();
    cc[0] = 0x8f;
    assert!(matches!(
        tx.protect_rtp(&mut cc, len),
        Err(SrtpError::Malformed(_))
    ));
    // An extension header whose length runs past the end.
    let mut ext = buf.clone();
    ext[0] = 0x90;
    ext[12..16].copy_from_slice(&[0xbe, 0xde, 0x00, 0x40]);
    assert!(matches!(
        tx.protect_rtp(&mut ext, len),
        Err(SrtpError::Malformed(_))
    ));

    assert_eq!(
        rx.unprotect_rtp(&mut [0x80; 21]),
        Err(SrtpError::TooShort { len: 21 })
    );
    assert_eq!(
        rx.unprotect_rtcp(&mut [0x80; 21]),
        Err(SrtpError::TooShort { len: 21 })
    );
    assert_eq!(
        tx.protect_rtcp(&mut [0x80; 30], 7),
        Err(SrtpError::TooShort { len: 7 })
    );
    assert_eq!(
        tx.protect_rtcp(&mut [0x80; 21], 8),
        Err(SrtpError::NoRoom {
            needed: 22,
            have: 21
        })
    );
    // Nothing panics on garbage of any length.
    for len in 0..64 {
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x80) as u8).collect();
        let _ = rx.unprotect_rtp(&mut junk.clone());
        let _ = rx.unprotect_rtcp(&mut junk.clone());
        let _ = tx.protect_rtp(&mut junk, len / 2);
        let _ = tx.protect_rtcp(&mut junk, len / 2);
    }
}

/// RFC 3711 3.3.1 in both directions around a wrap, and a packet from before the
/// stream began.
#[test]
fn index_estimation() {
    let w = Window::starting_at(65500);
    assert_eq!(w.estimate(65501), Ok(65501));
    assert_eq!(w.estimate(3), Ok(0x1_0003), "wrapped: ROC + 1");
    let w = Window::starting_at(0x1_0003);
    assert_eq!(
        w.estimate(65535),
        Ok(65535),
        "late from before the wrap: ROC - 1"
    );
    assert_eq!(w.estimate(40000), Ok(40000));
    assert_eq!(w.estimate(30000), Ok(0x1_7530));
    let w = Window::starting_at(10);
    assert_eq!(
        w.estimate(60000),
        Err(SrtpError::Replayed),
        "ROC would be -1"
    );
}

#[test]
fn ssrc_table_is_bounded_and_evicts_the_least_recently_used() {
    let mut t: Streams<u32> = Streams::new();
    for ssrc in 0..MAX_SSRCS as u32 {
        t.put(ssrc, ssrc * 10);
    }
    t.put(0, 1); // 0 used again; 1 is now the oldest
    t.put(100, 1000);
    assert_eq!(t.len(), MAX_SSRCS);
    assert_eq!(t.get(1), None);
    assert_eq!(t.get(0), Some(1));
    assert_eq!(t.get(100), Some(1000));
    assert_eq!(t.get(2), Some(20));
}

/// Forged packets with random SSRCs cannot evict a real stream's replay state,
/// because receive state is stored only for packets that authenticated.
#[test]
fn forged_ssrc_flood_keeps_the_real_stream() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    let (mut buf, len) = rtp(500, 1);
    let n = tx.protect_rtp(&mut buf, len).unwrap();
    let genuine = buf[..n].to_vec();
    assert!(rx.unprotect_rtp(&mut genuine.clone()).is_ok());
    for ssrc in 1..1000u32 {
        let mut forged = genuine.clone();
        forged[8..12].copy_from_slice(&ssrc.to_be_bytes());
        assert_eq!(rx.unprotect_rtp(&mut forged), Err(SrtpError::AuthFailed));
    }
    assert_eq!(rx.rtp_received.len(), 1);
    assert_eq!(
        rx.unprotect_rtp(&mut genuine.clone()),
        Err(SrtpError::Replayed)
    );
}

/// One SDES key covers every SSRC in its direction (a phone that changes SSRC
/// mid-call keeps its key).
#[test]
fn one_key_serves_several_ssrcs() {
    let (mut tx, mut rx) = contexts(SrtpSuite::AesCm128HmacSha1_80);
    for ssrc in [1u32, 2, 3, 1, 2, 3] {
        let (mut buf, len) = rtp(77, 0);
        buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
        let seq: u16 = 77 + rx.rtp_received.get(ssrc).map_or(0, |_| 1u16);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        let n = tx.protect_rtp(&mut buf, len).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut buf[..n]), Ok(len));
    }
}

#[test]
fn suite_names_and_tags() {
    for suite in SrtpSuite::ALL {
        assert_eq!(suite.name().parse::<SrtpSuite>(), Ok(suite));
        assert_eq!(suite.to_string(), suite.name());
        assert_eq!(suite.rtcp_tag_len(), 10);
    }
    assert_eq!(SrtpSuite::AesCm128HmacSha1_80.tag_len(), 10);
    assert_eq!(SrtpSuite::AesCm128HmacSha1_32.tag_len(), 4);
    assert_eq!(
        "AEAD_AES_256_GCM".parse::<SrtpSuite>(),
        Err(SrtpError::UnknownSuite("AEAD_AES_256_GCM".into()))
    );
    assert_eq!(
        "aes_cm_128_hmac_sha1_80".parse::<SrtpSuite>(),
        Ok(SrtpSuite::AesCm128HmacSha1_80)
    );
    assert!("AES_CM_128_HMAC_SHA1_80 ".parse::<SrtpSuite>().is_err());
}

#[test]
fn inline_keys() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let key = SrtpKey::generate(suite);
    let inline = key.inline();
    assert_eq!(inline.len(), 40);
    assert_eq!(SrtpKey::from_inline(suite, &inline), Ok(key.clone()));
    assert_eq!(
        SrtpKey::from_inline(suite, &format!("inline:{inline}|2^31")),
        Ok(key.clone())
    );
    assert_eq!(
        SrtpKey::from_inline(suite, &format!("{inline}|1048576")),
        Ok(key.clone())
    );
    assert_ne!(SrtpKey::generate(suite), key, "keys are random");

    let known = SrtpKey::from_inline(suite, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz").unwrap();
    assert_eq!(&known.master_key, b"YS___semctl () {");
    assert_eq!(known.inline(), "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");

    let err = |text: &str| match SrtpKey::from_inline(suite, text) {
        Err(SrtpError::BadKey(why)) => why,
        other => panic!("{text}: {other:?}"),
    };
    assert!(err(&format!("{inline}|2^31|1:4")).contains("MKI"));
    assert!(err(&format!("{inline}|1:4")).contains("MKI"));
    assert!(err(&format!("{inline};inline:{inline}")).contains("MKI"));
    assert!(err(&format!("{inline}|forever")).contains("lifetime"));
    assert!(err("AAAA").contains("3 bytes"), "{}", err("AAAA"));
    assert!(err("not base64!").contains("base64"));
    assert!(err("").contains("0 bytes"));
}

#[test]
fn debug_hides_key_material() {
    let key = SrtpKey::new(SrtpSuite::AesCm128HmacSha1_32, [0xAB; 16], [0xCD; 14]);
    let text = format!("{key:?}");
    assert!(text.contains("AesCm128HmacSha1_32"), "{text}");
    assert!(
        !text.contains("171") && !text.contains("AB") && !text.contains("ab"),
        "{text}"
    );
    assert!(!text.contains(&key.inline()), "{text}");
    let ctx = format!("{:?}", SrtpContext::new(&key));
    assert_eq!(ctx, "SrtpContext { suite: AesCm128HmacSha1_32, .. }");
}
