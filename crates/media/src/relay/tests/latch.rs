//! Who may latch a leg (issue 17: RTP hijack while ringing). A stranger who sprays
//! the PBX's RTP ports must not become a call's party: not before the leg's SDP is
//! known, not with a payload type that SDP does not list, not on a leg whose phone
//! is on this host, and never in place of the address the SDP names.

use super::{
    addr, remote, remote_with, Bench, Stream, G711, PBX_HOST, PHONE_A, PHONE_B, PHONE_B_RTCP,
};
use crate::control::Control;
use crate::relay::leg::SSRC_HANDOVER;
use crate::relay::Port;
use crate::rtp::PayloadTypes;
use crate::side::Side::{A, B};

const STRANGER: &str = "203.0.113.99:5000";
const STRANGER_RTCP: &str = "203.0.113.99:5001";
/// What a phone behind NAT puts in its SDP, and where its packets really come from.
const PRIVATE: &str = "10.0.0.5:4000";
const NAT: &str = "203.0.113.7:31000";
const NAT_RTCP: &str = "203.0.113.7:31001";

/// An RTCP sender report from SSRC 2.
const SR: [u8; 8] = [0x80, 200, 0, 1, 0, 0, 0, 2];

#[test]
fn while_the_call_rings_nothing_latches_and_nobody_hears_a_stranger() {
    // Neither SDP has reached the bridge: the callee rings, and the caller gets
    // ours only with the answer (the pbx sends leg A's SDP then).
    let mut b = Bench::bare();
    let mut stranger = Stream::new(0xbad);
    for k in 0..10u64 {
        for side in [A, B] {
            assert!(b.rtp(20 * k, side, STRANGER, &stranger.packet(1)).is_none());
            assert!(b
                .datagram(20 * k, Port::rtcp(side), STRANGER_RTCP, &SR)
                .is_none());
        }
    }
    let s = b.stats();
    assert_eq!((s.a.latched_rtp, s.b.latched_rtp), (None, None));
    assert_eq!((s.a.latched_rtcp, s.b.latched_rtcp), (None, None));
    assert_eq!((s.a.dropped_foreign, s.b.dropped_foreign), (20, 20));
    assert_eq!((s.a.packets_in, s.b.packets_in), (0, 0));

    // The answer: both SDPs are known, both phones send, the stranger keeps on.
    b.control(200, remote(A, PHONE_A));
    b.control(200, remote(B, PHONE_B));
    let mut a_phone = Stream::new(1);
    let mut b_phone = Stream::new(2);
    for k in 0..10u64 {
        let at = 210 + 20 * k;
        let (t, _) = b.rtp(at, B, PHONE_B, &b_phone.packet(2)).unwrap();
        assert_eq!(t.dest, addr(PHONE_A));
        let (t, _) = b.rtp(at, A, PHONE_A, &a_phone.packet(3)).unwrap();
        assert_eq!(t.dest, addr(PHONE_B));
        for side in [A, B] {
            assert!(b.rtp(at + 1, side, STRANGER, &stranger.packet(1)).is_none());
        }
    }
    let s = b.stats();
    assert_eq!(s.a.latched_rtp, Some(addr(PHONE_A)));
    assert_eq!(s.b.latched_rtp, Some(addr(PHONE_B)));
    assert_eq!((s.a.dropped_foreign, s.b.dropped_foreign), (30, 30));
}

#[test]
fn a_stranger_before_the_callees_sdp_is_dropped_and_its_audio_goes_nowhere() {
    let mut b = Bench::bare();
    b.control(0, remote(A, PHONE_A));
    // B rings: a stranger on B's port is not B, and the caller's audio is not
    // sent to it.
    assert!(b.rtp(0, B, STRANGER, &Stream::new(9).packet(1)).is_none());
    assert!(b.rtp(10, A, PHONE_A, &Stream::new(1).packet(1)).is_none());
    let s = b.stats();
    assert_eq!((s.b.dropped_foreign, s.b.dropped_no_destination), (1, 1));
    assert_eq!(s.b.latched_rtp, None);

    // B answers from a public address (a NAT is possible) and speaks first.
    b.control(20, remote(B, PHONE_B));
    assert!(b.rtp(30, B, PHONE_B, &Stream::new(2).packet(2)).is_some());
    assert!(b.rtp(40, B, STRANGER, &Stream::new(9).packet(1)).is_none());
    let (t, _) = b.rtp(50, A, PHONE_A, &Stream::new(1).packet(2)).unwrap();
    assert_eq!(t.dest, addr(PHONE_B));
    assert_eq!(b.stats().b.dropped_foreign, 2);
}

#[test]
fn a_stranger_with_a_payload_type_the_sdp_does_not_list_is_no_nat_phone() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    // The caller's SDP, from behind a NAT, lists PCMU and telephone-event only.
    b.control(0, remote_with(A, PRIVATE, PayloadTypes::of(&[0, 101])));
    let mut stranger = Stream::new(9);
    for (k, pt) in [8u8, 96, 18, 13].into_iter().enumerate() {
        let pkt = stranger.packet_pt(1, pt);
        assert!(b.rtp(10 * k as u64, A, STRANGER, &pkt).is_none(), "PT {pt}");
    }
    let s = b.stats();
    assert_eq!((s.a.dropped_foreign, s.a.latched_rtp), (4, None));

    // The phone's own PCMU, from its NAT mapping, is taken.
    let mut phone = Stream::new(1);
    assert!(b.rtp(50, A, NAT, &phone.packet(1)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(NAT)));
    // And now even a listed payload type from the stranger is foreign.
    assert!(b.rtp(60, A, STRANGER, &stranger.packet_pt(1, 0)).is_none());
    assert!(b
        .rtp(60, A, STRANGER, &stranger.packet_pt(1, 101))
        .is_none());
    assert_eq!(b.stats().a.dropped_foreign, 6);
    // Once latched, the phone's other packets (comfort noise) pass.
    assert!(b.rtp(70, A, NAT, &phone.packet_pt(1, 13)).is_some());
}

#[test]
fn a_nat_phone_latches_after_its_sdp_and_keeps_its_ssrc() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    let mut phone = Stream::new(0x1234);
    // Before its SDP, even the phone's own packets latch nothing.
    assert!(b.rtp(0, A, NAT, &phone.packet(1)).is_none());
    assert_eq!(b.stats().a.latched_rtp, None);

    b.control(10, remote(A, PRIVATE));
    assert!(b.rtp(20, A, NAT, &phone.packet(2)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(NAT)));
    let (t, _) = b.rtp(25, B, PHONE_B, &Stream::new(2).packet(1)).unwrap();
    assert_eq!(
        t.dest,
        addr(NAT),
        "B's audio goes where the phone sends from"
    );
    let (t, _) = b.datagram(26, Port::rtcp(B), PHONE_B_RTCP, &SR).unwrap();
    assert_eq!(t.dest, addr(NAT_RTCP), "RTCP: next to the latched RTP port");

    // Packets forged with the phone's address but another SSRC, while the phone
    // keeps talking, are not its.
    let mut forged = Stream::new(0x6666);
    for k in 0..5u64 {
        let at = 40 + 20 * k;
        assert!(b.rtp(at, A, NAT, &phone.packet(3)).is_some());
        assert!(b.rtp(at + 5, A, NAT, &forged.packet(4)).is_none());
    }
    assert_eq!(b.stats().a.dropped_foreign, 1 + 5);

    // The phone restarts its stream (a new SSRC after its old one fell silent):
    // followed, after the handover time.
    let last = 40 + 20 * 4;
    let mut restarted = Stream::new(0x4321);
    let early = last + SSRC_HANDOVER.as_millis() as u64 - 1;
    assert!(b.rtp(early, A, NAT, &restarted.packet(5)).is_none());
    let later = last + SSRC_HANDOVER.as_millis() as u64;
    assert!(b.rtp(later, A, NAT, &restarted.packet(5)).is_some());
    assert!(b.rtp(later + 20, A, NAT, &restarted.packet(5)).is_some());
    assert!(b.rtp(later + 25, A, NAT, &phone.packet(5)).is_none());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(NAT)));
}

#[test]
fn the_sdp_address_replaces_a_nat_guess_and_its_rtcp() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    b.control(0, remote(A, PHONE_A));
    // A stranger got in first (the phone's SDP address is public, so a NAT was
    // possible), RTCP next to it too.
    assert!(b.rtp(0, A, STRANGER, &Stream::new(9).packet(1)).is_some());
    assert!(b.datagram(1, Port::rtcp(A), STRANGER_RTCP, &SR).is_some());
    let s = b.stats();
    assert_eq!(s.a.latched_rtp, Some(addr(STRANGER)));
    assert_eq!(s.a.latched_rtcp, Some(addr(STRANGER_RTCP)));

    // The phone's first packet from the address its SDP names takes the leg.
    assert!(b.rtp(20, A, PHONE_A, &Stream::new(1).packet(1)).is_some());
    let s = b.stats();
    assert_eq!(s.a.latched_rtp, Some(addr(PHONE_A)));
    assert_eq!(
        s.a.latched_rtcp, None,
        "the guessed RTCP went with the guess"
    );
    let (t, _) = b.rtp(30, B, PHONE_B, &Stream::new(2).packet(1)).unwrap();
    assert_eq!(t.dest, addr(PHONE_A));
    let (t, _) = b.datagram(31, Port::rtcp(B), PHONE_B_RTCP, &SR).unwrap();
    assert_eq!(t.dest, addr("192.0.2.10:4001"), "the SDP's RTCP address");
    // From then on the stranger is out, RTP and RTCP, whatever it sends.
    assert!(b.rtp(40, A, STRANGER, &Stream::new(9).packet(2)).is_none());
    assert!(b.datagram(41, Port::rtcp(A), STRANGER_RTCP, &SR).is_none());
    assert_eq!(b.stats().a.dropped_foreign, 2);
}

#[test]
fn a_phone_on_this_host_is_latched_by_its_exact_address_only() {
    let pbx_host_phone = format!("{}:4000", addr(PBX_HOST).ip());
    for sdp in ["127.0.0.1:4000", "[::1]:4000", pbx_host_phone.as_str()] {
        let mut b = Bench::bare();
        b.control(0, remote(B, PHONE_B));
        b.control(0, remote(A, sdp));
        let sdp = addr(sdp);
        // Another program on the same host (same IP, other port), or anyone else,
        // with a perfectly good payload type: not the phone, even first.
        let same_ip = std::net::SocketAddr::new(sdp.ip(), 38150);
        let others = [same_ip.to_string(), STRANGER.to_string(), NAT.to_string()];
        for (k, src) in others.iter().enumerate() {
            assert!(b.rtp(k as u64, A, src, &Stream::new(9).packet(1)).is_none());
        }
        let rtcp_next_door = std::net::SocketAddr::new(sdp.ip(), 38151).to_string();
        assert!(b.datagram(5, Port::rtcp(A), &rtcp_next_door, &SR).is_none());
        let s = b.stats();
        assert_eq!((s.a.dropped_foreign, s.a.latched_rtp), (4, None), "{sdp}");
        let (t, _) = b.rtp(10, B, PHONE_B, &Stream::new(2).packet(1)).unwrap();
        assert_eq!(t.dest, sdp, "the callee's audio goes to the SDP's address");
        assert!(b
            .rtp(20, A, &sdp.to_string(), &Stream::new(1).packet(1))
            .is_some());
        assert_eq!(b.stats().a.latched_rtp, Some(sdp));
    }
}

#[test]
fn a_leg_whose_sdp_never_comes_takes_nothing_and_is_sent_nothing() {
    // Click-to-spy: the PBX calls the supervisor's phone (leg B) from its own,
    // phoneless, leg A. Leg A never gets an SDP: nobody may become it, and what
    // the supervisor says is sent nowhere (it is only mixed into the spied call).
    let mut b = Bench::bare();
    b.control(
        0,
        Control::SetLocal {
            side: A,
            local: true,
        },
    );
    b.control(0, remote(B, PHONE_B));
    let mut stranger = Stream::new(9);
    let mut sup = Stream::new(2);
    for k in 0..20u64 {
        let at = 20 * k;
        assert!(b.rtp(at, A, STRANGER, &stranger.packet(1)).is_none());
        assert!(b.datagram(at, Port::rtcp(A), STRANGER_RTCP, &SR).is_none());
        assert!(b
            .rtp(at, A, "127.0.0.1:5000", &stranger.packet(1))
            .is_none());
        let _ = b.rtp(at + 1, B, PHONE_B, &sup.packet(2));
        for (t, _) in b.tick(at + 5) {
            assert_eq!(t.via, Port::rtp(B), "nothing leaves on leg A: {t:?}");
        }
    }
    let s = b.stats();
    assert_eq!((s.a.latched_rtp, s.a.latched_rtcp), (None, None));
    assert_eq!(s.a.dropped_foreign, 60);
    assert_eq!(s.b.latched_rtp, Some(addr(PHONE_B)));
}

#[test]
fn rtcp_comes_from_the_sdp_or_next_to_the_latched_rtp_only() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    b.control(0, remote(A, PRIVATE));
    // Before RTP latched, a NAT's RTCP cannot be told from a stranger's.
    assert!(b.datagram(0, Port::rtcp(A), NAT_RTCP, &SR).is_none());
    assert!(b.rtp(10, A, NAT, &Stream::new(1).packet(1)).is_some());
    // The same NAT's other ports, and strangers, are not the phone's RTCP.
    for src in ["203.0.113.7:40000", STRANGER_RTCP, "10.0.0.5:4003"] {
        assert!(b.datagram(20, Port::rtcp(A), src, &SR).is_none(), "{src}");
    }
    let (t, _) = b.datagram(30, Port::rtcp(A), NAT_RTCP, &SR).unwrap();
    assert_eq!(t.dest, addr(PHONE_B_RTCP));
    // Latched, RTCP is taken from that source only (or the SDP's RTCP address):
    // not even muxed onto the RTP port (RFC 5761) from the latched RTP address.
    assert!(b.rtp(40, A, NAT, &SR).is_none());
    let s = b.stats();
    assert_eq!(s.a.latched_rtcp, Some(addr(NAT_RTCP)));
    assert_eq!((s.a.rtcp_in, s.a.dropped_foreign), (1, 5));
}

#[test]
fn a_reinvite_rearms_under_the_same_rules() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    b.control(0, remote(A, "127.0.0.1:4000"));
    assert!(b
        .rtp(0, A, "127.0.0.1:4000", &Stream::new(1).packet(1))
        .is_some());
    // The caller moves (a re-INVITE) to another local port: a stranger on
    // loopback still cannot take the leg, the new address can.
    b.control(10, remote(A, "127.0.0.1:4100"));
    assert_eq!(b.stats().a.latched_rtp, None);
    assert!(b
        .rtp(20, A, "127.0.0.1:5000", &Stream::new(9).packet(1))
        .is_none());
    assert!(b
        .rtp(20, A, "127.0.0.1:4000", &Stream::new(1).packet(2))
        .is_none());
    assert!(b
        .rtp(30, A, "127.0.0.1:4100", &Stream::new(1).packet(3))
        .is_some());
    // To a NAT-able address: the payload type rule applies again.
    b.control(40, remote_with(A, PRIVATE, G711));
    assert!(b
        .rtp(50, A, STRANGER, &Stream::new(9).packet_pt(1, 96))
        .is_none());
    assert!(b.rtp(60, A, NAT, &Stream::new(1).packet(4)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(NAT)));
    assert_eq!(b.stats().a.dropped_foreign, 3);
}

#[test]
fn an_sdp_without_an_address_latches_nothing_until_the_next() {
    let mut b = Bench::new();
    assert!(b.rtp(0, B, PHONE_B, &Stream::new(2).packet(1)).is_some());
    // Old-style hold: c=0.0.0.0. Nothing is sent to B, nothing latches.
    b.control(10, remote(B, "0.0.0.0:6000"));
    assert!(b.rtp(20, B, STRANGER, &Stream::new(9).packet(1)).is_none());
    assert!(b.rtp(20, B, PHONE_B, &Stream::new(2).packet(2)).is_none());
    assert!(b.rtp(30, A, PHONE_A, &Stream::new(1).packet(1)).is_none());
    let s = b.stats();
    assert_eq!(s.b.latched_rtp, None);
    assert_eq!((s.b.dropped_foreign, s.b.dropped_no_destination), (2, 1));
    // Resumed: the phone's address again.
    b.control(40, remote(B, PHONE_B));
    assert!(b.rtp(50, B, PHONE_B, &Stream::new(2).packet(3)).is_some());
    assert_eq!(b.stats().b.latched_rtp, Some(addr(PHONE_B)));
}
