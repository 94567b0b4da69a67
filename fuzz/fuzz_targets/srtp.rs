//! SRTP and SRTCP: `SrtpContext::unprotect_rtp`/`unprotect_rtcp` on any datagram
//! (what anyone can send to a media port of an SRTP call), and protect ->
//! unprotect round trips of any packet the relay might send.
//!
//! The first byte picks the suite; the whole input is then the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::srtp::{SrtpContext, SrtpError, SrtpKey, SrtpSuite};

fuzz_target!(|data: &[u8]| {
    let suite = match data.first() {
        Some(b) if b & 1 == 1 => SrtpSuite::AesCm128HmacSha1_32,
        _ => SrtpSuite::AesCm128HmacSha1_80,
    };
    let key = SrtpKey::new(suite, [0x5a; 16], [0xa5; 14]);
    received(&key, data);
    round_trip(&key, data, false);
    round_trip(&key, data, true);
});

/// A datagram from outside: it unprotects to something no longer than itself, or
/// is refused and left exactly as it was.
fn received(key: &SrtpKey, data: &[u8]) {
    let mut rx = SrtpContext::new(key);
    for rtcp in [false, true] {
        let mut buf = data.to_vec();
        let result = if rtcp {
            rx.unprotect_rtcp(&mut buf)
        } else {
            rx.unprotect_rtp(&mut buf)
        };
        match result {
            Ok(n) => assert!(n <= data.len()),
            Err(_) => assert_eq!(buf, data, "a refused packet was changed"),
        }
    }
}

/// A packet we protect unprotects to itself with the same key, exactly once, and
/// any changed byte makes it fail.
fn round_trip(key: &SrtpKey, data: &[u8], rtcp: bool) {
    let mut tx = SrtpContext::new(key);
    let overhead = if rtcp {
        tx.rtcp_overhead()
    } else {
        tx.rtp_overhead()
    };
    let mut buf = data.to_vec();
    buf.resize(data.len() + overhead, 0);
    let protected = if rtcp {
        tx.protect_rtcp(&mut buf, data.len())
    } else {
        tx.protect_rtp(&mut buf, data.len())
    };
    let Ok(n) = protected else {
        return;
    };
    assert_eq!(n, data.len() + overhead);
    let packet = buf[..n].to_vec();
    let unprotect = |ctx: &mut SrtpContext, p: &mut [u8]| {
        if rtcp {
            ctx.unprotect_rtcp(p)
        } else {
            ctx.unprotect_rtp(p)
        }
    };

    let mut rx = SrtpContext::new(key);
    let mut copy = packet.clone();
    let len = unprotect(&mut rx, &mut copy).expect("our own packet unprotects");
    assert_eq!(&copy[..len], data, "round trip changed the packet");
    let mut again = packet.clone();
    assert_eq!(
        unprotect(&mut rx, &mut again),
        Err(SrtpError::Replayed),
        "a replay was accepted"
    );

    let at = usize::from(data.get(1).copied().unwrap_or(0)) % n;
    let mut bad = packet;
    bad[at] ^= 0x04;
    let result = unprotect(&mut SrtpContext::new(key), &mut bad);
    assert!(
        matches!(result, Err(SrtpError::AuthFailed | SrtpError::Malformed(_))),
        "byte {at} changed and the packet gave {result:?}"
    );
}
