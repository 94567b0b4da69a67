//! The relay over real sockets on 127.0.0.1, with ports picked at run time.

use media::rtp::PayloadTypes;
use media::rtp::RtpHeader;
use media::{BridgeStats, MediaBridge, MediaEngine, MediaError, Side};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{sleep, timeout};

/// What a G.711 phone's SDP lists: PCMU, PCMA, telephone-event.
const G711: PayloadTypes = PayloadTypes::of(&[0, 8, 101]);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Finds `pairs` consecutive free port pairs (checked by binding them all).
fn free_range(pairs: u16) -> RangeInclusive<u16> {
    for _ in 0..200 {
        let probe = std::net::UdpSocket::bind((LOCALHOST, 0)).unwrap();
        let start = probe.local_addr().unwrap().port() & !1;
        drop(probe);
        let Some(end) = start.checked_add(pairs * 2 - 1) else {
            continue;
        };
        let held: Result<Vec<_>, _> = (start..=end)
            .map(|p| std::net::UdpSocket::bind((LOCALHOST, p)))
            .collect();
        if held.is_ok() {
            return start..=end;
        }
    }
    panic!("no free port range found");
}

/// A fake phone: an RTP and an RTCP socket.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

impl Phone {
    async fn new(ssrc: u32) -> Phone {
        Phone {
            rtp: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            rtcp: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            seq: 1000,
            ts: 50_000,
            ssrc,
        }
    }

    fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().unwrap()
    }

    fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().unwrap()
    }

    /// Tells the bridge this phone's SDP addresses for `side`.
    fn announce(&self, bridge: &MediaBridge, side: Side) {
        bridge.set_remote(side, self.rtp_addr(), Some(self.rtcp_addr()), G711);
    }

    fn next_packet(&mut self, fill: u8) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(&[fill; 160]);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        p
    }

    async fn send_rtp(&mut self, bridge: &MediaBridge, side: Side, fill: u8) {
        let p = self.next_packet(fill);
        self.rtp
            .send_to(&p, (LOCALHOST, bridge.port(side)))
            .await
            .unwrap();
    }

    async fn recv_rtp(&self) -> (RtpHeader, Vec<u8>, SocketAddr) {
        recv(&self.rtp).await
    }
}

async fn recv(sock: &UdpSocket) -> (RtpHeader, Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, src) = timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("packet expected")
        .unwrap();
    let pkt = buf[..n].to_vec();
    (RtpHeader::parse(&pkt).unwrap(), pkt, src)
}

async fn expect_silence(sock: &UdpSocket) {
    let mut buf = [0u8; 2048];
    let r = timeout(Duration::from_millis(200), sock.recv_from(&mut buf)).await;
    assert!(r.is_err(), "no packet expected, got {:?}", r);
}

/// The bridge's counters once `done` holds (at most 2 s). The media thread counts a
/// packet just after sending it, so a test that has just received that packet may
/// read the counters a moment too early.
async fn stats_when(bridge: &MediaBridge, done: impl Fn(&BridgeStats) -> bool) -> BridgeStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let s = bridge.stats();
        if done(&s) || tokio::time::Instant::now() >= deadline {
            return s;
        }
        sleep(Duration::from_millis(5)).await;
    }
}

async fn engine_and_bridge(pairs: u16) -> (MediaEngine, MediaBridge) {
    let engine = MediaEngine::new(LOCALHOST, free_range(pairs));
    let bridge = engine.open_bridge().await.unwrap();
    (engine, bridge)
}

#[tokio::test]
async fn two_phones_talk_both_ways() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    assert_ne!(bridge.port(Side::A), bridge.port(Side::B));
    assert_eq!(bridge.port(Side::A) % 2, 0);
    let mut caller = Phone::new(0x1111).await;
    let mut callee = Phone::new(0x2222).await;
    caller.announce(&bridge, Side::A);
    callee.announce(&bridge, Side::B);

    let mut first = None;
    for i in 0..5u8 {
        caller.send_rtp(&bridge, Side::A, i).await;
        let (h, pkt, src) = callee.recv_rtp().await;
        assert_eq!(src, SocketAddr::new(LOCALHOST, bridge.port(Side::B)));
        assert_eq!(&pkt[12..], &[i; 160][..]);
        assert_ne!(h.ssrc, 0x1111, "the callee sees the B leg's own SSRC");
        let (ssrc0, seq0) = *first.get_or_insert((h.ssrc, h.sequence));
        assert_eq!(h.ssrc, ssrc0);
        assert_eq!(h.sequence, seq0.wrapping_add(u16::from(i)));

        callee.send_rtp(&bridge, Side::B, 100 + i).await;
        let (_, pkt, src) = caller.recv_rtp().await;
        assert_eq!(src, SocketAddr::new(LOCALHOST, bridge.port(Side::A)));
        assert_eq!(&pkt[12..], &[100 + i; 160][..]);
    }

    // RTCP from the caller reaches the callee from the B leg's RTCP port, sent by
    // the SSRC the callee knows from RTP.
    let rr = [0x80, 201, 0, 1, 0, 0, 0x11, 0x11];
    caller
        .rtcp
        .send_to(&rr, (LOCALHOST, bridge.port(Side::A) + 1))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, src) = timeout(Duration::from_secs(2), callee.rtcp.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(src.port(), bridge.port(Side::B) + 1);
    assert_eq!(n, 8);
    assert_eq!(
        u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        first.unwrap().0
    );

    let stats = stats_when(&bridge, |s| {
        s.b.rtcp_out == 1 && s.a.packets_out == 5 && s.b.packets_out == 5
    })
    .await;
    assert_eq!(stats.a.packets_in, 5);
    assert_eq!(stats.a.bytes_in, 5 * 172);
    assert_eq!(stats.a.packets_out, 5);
    assert_eq!(stats.b.packets_in, 5);
    assert_eq!(stats.b.packets_out, 5);
    assert_eq!(stats.a.rtcp_in, 1);
    assert_eq!(stats.b.rtcp_out, 1);
    assert_eq!(stats.a.latched_rtp, Some(caller.rtp_addr()));
    assert_eq!(stats.b.latched_rtp, Some(callee.rtp_addr()));
    assert_eq!(stats.a.latched_rtcp, Some(caller.rtcp_addr()));
    bridge.close().await;
}

#[tokio::test]
async fn a_phone_on_this_host_is_latched_by_its_sdp_address_only() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    // The caller's SDP names `sdp_socket`; packets with the right payload type come
    // from another port of 127.0.0.1. No NAT lies between two programs on one
    // host: that is another program (one spraying our ports), not the caller.
    let sdp_socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let mut stranger = Phone::new(1).await;
    let mut callee = Phone::new(2).await;
    bridge.set_remote(Side::A, sdp_socket.local_addr().unwrap(), None, G711);
    callee.announce(&bridge, Side::B);

    stranger.send_rtp(&bridge, Side::A, 1).await;
    expect_silence(&callee.rtp).await;
    callee.send_rtp(&bridge, Side::B, 8).await;
    let (_, pkt, _) = recv(&sdp_socket).await;
    assert_eq!(
        &pkt[12..],
        &[8; 160][..],
        "the caller's audio goes to its SDP"
    );
    expect_silence(&stranger.rtp).await;
    let s = bridge.stats();
    assert_eq!((s.a.dropped_foreign, s.a.latched_rtp), (1, None));

    // The caller itself, from its SDP's address, is heard.
    let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
    p.extend_from_slice(&[5; 160]);
    sdp_socket
        .send_to(&p, (LOCALHOST, bridge.port(Side::A)))
        .await
        .unwrap();
    let (_, pkt, _) = callee.recv_rtp().await;
    assert_eq!(&pkt[12..], &[5; 160][..]);
    assert_eq!(
        bridge.stats().a.latched_rtp,
        Some(sdp_socket.local_addr().unwrap())
    );
}

#[tokio::test]
async fn nothing_is_accepted_on_a_leg_before_its_sdp() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    // The callee is ringing: the PBX sent it our port, its SDP has not come back.
    let mut caller = Phone::new(1).await;
    let mut stranger = Phone::new(3).await;
    caller.announce(&bridge, Side::A);
    stranger.send_rtp(&bridge, Side::B, 66).await;
    expect_silence(&caller.rtp).await;
    caller.send_rtp(&bridge, Side::A, 1).await;
    expect_silence(&stranger.rtp).await;
    let s = stats_when(&bridge, |s| s.b.dropped_no_destination == 1).await;
    assert_eq!((s.b.dropped_foreign, s.b.latched_rtp), (1, None));
    assert_eq!(
        s.b.dropped_no_destination, 1,
        "the caller's audio went nowhere"
    );
}

#[tokio::test]
async fn foreign_source_is_dropped_until_relatched() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    let mut caller = Phone::new(1).await;
    let callee = Phone::new(2).await;
    let mut intruder = Phone::new(3).await;
    caller.announce(&bridge, Side::A);
    callee.announce(&bridge, Side::B);

    caller.send_rtp(&bridge, Side::A, 1).await;
    callee.recv_rtp().await;

    intruder.send_rtp(&bridge, Side::A, 66).await;
    expect_silence(&callee.rtp).await;
    let stats = bridge.stats();
    assert_eq!(stats.a.dropped_foreign, 1);
    assert_eq!(stats.a.packets_in, 1);

    // Garbage is dropped and counted as bad, even from the latched address.
    caller
        .rtp
        .send_to(b"hello", (LOCALHOST, bridge.port(Side::A)))
        .await
        .unwrap();
    expect_silence(&callee.rtp).await;
    assert_eq!(bridge.stats().a.dropped_bad, 1);

    // A re-INVITE moves the caller: set_remote re-arms latching.
    intruder.announce(&bridge, Side::A);
    intruder.send_rtp(&bridge, Side::A, 67).await;
    let (_, pkt, _) = callee.recv_rtp().await;
    assert_eq!(&pkt[12..], &[67; 160][..]);
    assert_eq!(bridge.stats().a.latched_rtp, Some(intruder.rtp_addr()));
    caller.send_rtp(&bridge, Side::A, 2).await;
    expect_silence(&callee.rtp).await;
}

#[tokio::test]
async fn ssrc_change_keeps_output_continuous() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    let mut caller = Phone::new(0xaaaa).await;
    let callee = Phone::new(2).await;
    caller.announce(&bridge, Side::A);
    callee.announce(&bridge, Side::B);

    let mut seen = Vec::new();
    for i in 0..6u8 {
        if i == 3 {
            // The caller's side switches streams (say, after a transfer).
            caller.ssrc = 0xbbbb;
            caller.seq = 40_000;
            caller.ts = 7;
        }
        caller.send_rtp(&bridge, Side::A, i).await;
        let (h, _, _) = callee.recv_rtp().await;
        seen.push(h);
        sleep(Duration::from_millis(20)).await;
    }
    let ssrc = seen[0].ssrc;
    for (i, h) in seen.iter().enumerate() {
        assert_eq!(h.ssrc, ssrc);
        assert_eq!(h.sequence, seen[0].sequence.wrapping_add(i as u16));
        assert_eq!(
            h.marker,
            i == 0 || i == 3,
            "marker at start and at the switch"
        );
    }
    // The timestamp after the switch moved forward by about the 20 ms that passed.
    let jump = seen[3].timestamp.wrapping_sub(seen[2].timestamp);
    assert!((160..=800).contains(&jump), "timestamp jump {jump}");
    assert_eq!(seen[4].timestamp.wrapping_sub(seen[3].timestamp), 160);
}

#[tokio::test]
async fn nothing_is_sent_without_a_destination_or_while_held() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    let mut caller = Phone::new(1).await;
    let callee = Phone::new(2).await;
    caller.announce(&bridge, Side::A);

    caller.send_rtp(&bridge, Side::A, 1).await;
    sleep(Duration::from_millis(100)).await;
    assert_eq!(bridge.stats().b.dropped_no_destination, 1);

    // Hold with c=0.0.0.0: still nowhere to send.
    bridge.set_remote(Side::B, "0.0.0.0:4000".parse().unwrap(), None, G711);
    caller.send_rtp(&bridge, Side::A, 2).await;
    sleep(Duration::from_millis(100)).await;
    assert_eq!(bridge.stats().b.dropped_no_destination, 2);

    callee.announce(&bridge, Side::B);
    bridge.set_hold(Side::B, true);
    caller.send_rtp(&bridge, Side::A, 3).await;
    expect_silence(&callee.rtp).await;
    assert_eq!(bridge.stats().b.dropped_held, 1);

    bridge.set_hold(Side::B, false);
    caller.send_rtp(&bridge, Side::A, 4).await;
    let (_, pkt, _) = callee.recv_rtp().await;
    assert_eq!(&pkt[12..], &[4; 160][..]);
}

#[tokio::test]
async fn close_frees_ports_and_exhaustion_is_reported() {
    let range = free_range(3);
    let engine = MediaEngine::new(LOCALHOST, range.clone());
    let first = engine.open_bridge().await.unwrap();
    assert_eq!(engine.ports_in_use(), 4);

    let err = engine.open_bridge().await.unwrap_err();
    let MediaError::PortsExhausted { in_use, .. } = &err else {
        panic!("expected exhaustion, got {err}");
    };
    assert_eq!(*in_use, 4);
    assert!(
        err.to_string()
            .contains(&format!("{}-{}", range.start(), range.end())),
        "{err}"
    );
    assert_eq!(engine.ports_in_use(), 4, "a failed open holds nothing");

    first.close().await;
    assert_eq!(engine.ports_in_use(), 0);
    let second = engine.open_bridge().await.unwrap();

    // Dropping frees the ports too (asynchronously).
    drop(second);
    timeout(Duration::from_secs(2), async {
        while engine.ports_in_use() != 0 {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("ports freed after drop");
    let third = engine.open_bridge().await.unwrap();
    third.close().await;
}

#[tokio::test]
async fn pairs_held_by_other_programs_are_skipped() {
    let range = free_range(3);
    let start = *range.start();
    // Another program holds the RTCP port of the first pair.
    let squatter = UdpSocket::bind((LOCALHOST, start + 1)).await.unwrap();
    let engine = MediaEngine::new(LOCALHOST, range);
    let bridge = engine.open_bridge().await.unwrap();
    assert_ne!(bridge.port(Side::A), start);
    assert_ne!(bridge.port(Side::B), start);
    assert_eq!(engine.ports_in_use(), 4);
    let err = engine.open_bridge().await.unwrap_err();
    let MediaError::PortsExhausted { unbindable, .. } = err else {
        panic!("expected exhaustion, got {err}");
    };
    assert_eq!(unbindable, 1);
    drop(squatter);
    bridge.close().await;
}

#[tokio::test]
async fn rtcp_muxed_on_the_rtp_port_is_relayed_as_rtcp() {
    let (_engine, bridge) = engine_and_bridge(2).await;
    let caller = Phone::new(1).await;
    let callee = Phone::new(2).await;
    caller.announce(&bridge, Side::A);
    callee.announce(&bridge, Side::B);
    let sr = [0x80, 201, 0, 1, 0, 0, 0, 1];
    caller
        .rtp
        .send_to(&sr, (LOCALHOST, bridge.port(Side::A)))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = timeout(Duration::from_secs(2), callee.rtcp.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..2], &[0x80, 201]);
    assert_eq!(n, 8);
    let stats = stats_when(&bridge, |s| s.b.rtcp_out == 1).await;
    assert_eq!(
        (stats.a.rtcp_in, stats.a.packets_in, stats.b.rtcp_out),
        (1, 0, 1)
    );
    assert_eq!(stats.a.latched_rtp, None, "RTCP does not latch RTP");
}

#[test]
fn open_needs_no_runtime_and_a_dropped_bridge_frees_its_ports_at_once() {
    // Exactly one bridge's worth of ports: reopening proves they came back and
    // that their sockets were closed before (else they would not bind).
    let engine = MediaEngine::with_threads(LOCALHOST, free_range(2), 1);
    for _ in 0..3 {
        let bridge = engine
            .open()
            .expect("the ports of the last bridge are free");
        assert_eq!(engine.ports_in_use(), 4);
        let control = bridge.control();
        drop(bridge);
        assert!(control.is_closed(), "commands after the drop are ignored");
        let dropped = std::time::Instant::now();
        while engine.ports_in_use() != 0 {
            assert!(
                dropped.elapsed() < Duration::from_secs(2),
                "ports not freed"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        eprintln!("ports freed {:?} after the drop", dropped.elapsed());
    }
}
