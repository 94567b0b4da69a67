//! The relay in virtual time, without sockets: datagrams, controls and ticks go in
//! with the time, transmits come out. This file: the fast path (forwarding,
//! latching, hold, RTCP); `latch.rs`: who may latch a leg (strangers, NAT,
//! phones on this host); `decode.rs`: the decode path's ticks; `takeover.rs`: a
//! supervisor taking a call over (a released leg).

mod decode;
mod hold;
mod latch;
mod srtp;
mod takeover;
mod voices;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Port, Relay, Transmit};
use crate::control::Control;
use crate::rtp::{PayloadTypes, RtpHeader};
use crate::side::Side::{self, A, B};
use crate::stats::{snapshot, BridgeStats, Shared};

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A phone's outgoing RTP stream.
pub(super) struct Stream {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Stream {
    pub(super) fn new(ssrc: u32) -> Stream {
        Stream {
            ssrc,
            seq: 1000,
            ts: 50_000,
        }
    }

    /// The next PCMU packet, every payload byte `fill`.
    pub(super) fn packet(&mut self, fill: u8) -> Vec<u8> {
        self.packet_pt(fill, 0)
    }

    /// The next packet with payload type `pt`.
    pub(super) fn packet_pt(&mut self, fill: u8, pt: u8) -> Vec<u8> {
        let mut p = vec![0x80, pt & 0x7f];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(&[fill; 160]);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        p
    }
}

/// A relay with both phones' SDP addresses given, and the time it starts at.
pub(super) struct Bench {
    pub(super) relay: Relay,
    shared: Arc<Shared>,
    pub(super) t0: Instant,
}

/// The address the bridge's sockets are bound to (the PBX's host).
pub(super) const PBX_HOST: &str = "192.0.2.1:0";
pub(super) const PHONE_A: &str = "192.0.2.10:4000";
pub(super) const PHONE_A_RTCP: &str = "192.0.2.10:4001";
pub(super) const PHONE_B: &str = "198.51.100.20:6000";
pub(super) const PHONE_B_RTCP: &str = "198.51.100.20:6001";

impl Bench {
    pub(super) fn bare() -> Bench {
        let shared = Arc::new(Shared::default());
        Bench {
            relay: Relay::new(shared.clone(), addr(PBX_HOST).ip()),
            shared,
            // The one clock read of these tests: every instant below is t0 + a
            // virtual offset.
            t0: Instant::now(),
        }
    }

    pub(super) fn new() -> Bench {
        let mut b = Bench::bare();
        b.control(0, remote(A, PHONE_A));
        b.control(0, remote(B, PHONE_B));
        b
    }

    fn at(&self, ms_: u64) -> Instant {
        self.t0 + ms(ms_)
    }

    pub(super) fn control(&mut self, at_ms: u64, c: Control) {
        let now = self.at(at_ms);
        self.relay.handle_control(now, c);
    }

    /// An RTP port datagram; the transmit and the packet as it would leave.
    pub(super) fn rtp(
        &mut self,
        at_ms: u64,
        to: Side,
        src: &str,
        pkt: &[u8],
    ) -> Option<(Transmit, Vec<u8>)> {
        self.datagram(at_ms, Port::rtp(to), src, pkt)
    }

    pub(super) fn datagram(
        &mut self,
        at_ms: u64,
        at: Port,
        src: &str,
        pkt: &[u8],
    ) -> Option<(Transmit, Vec<u8>)> {
        let mut buf = pkt.to_vec();
        buf.resize(pkt.len() + 64, 0);
        let now = self.at(at_ms);
        let t = self
            .relay
            .handle_datagram(now, at, addr(src), &mut buf, pkt.len())?;
        buf.truncate(t.len);
        Some((t, buf))
    }

    /// A tick, and everything it made.
    pub(super) fn tick(&mut self, at_ms: u64) -> Vec<(Transmit, Vec<u8>)> {
        let now = self.at(at_ms);
        self.relay.handle_tick(now);
        let mut out = Vec::new();
        while let Some((t, data)) = self.relay.poll_transmit() {
            out.push((t, data.to_vec()));
        }
        out
    }

    pub(super) fn stats(&self) -> BridgeStats {
        snapshot(&self.shared)
    }
}

/// What a G.711 phone's SDP lists: PCMU, PCMA, telephone-event.
pub(super) const G711: PayloadTypes = PayloadTypes::of(&[0, 8, 101]);

/// A phone's SDP arrived: where it receives, what it lists.
pub(super) fn remote(side: Side, rtp: &str) -> Control {
    remote_with(side, rtp, G711)
}

pub(super) fn remote_with(side: Side, rtp: &str, payload_types: PayloadTypes) -> Control {
    Control::SetRemote {
        side,
        rtp: addr(rtp),
        rtcp: None,
        payload_types,
    }
}

pub(super) fn header(pkt: &[u8]) -> RtpHeader {
    RtpHeader::parse(pkt).unwrap()
}

#[test]
fn forwards_with_each_legs_own_continuous_stream() {
    let mut b = Bench::new();
    let mut a_phone = Stream::new(0x1111);
    let mut first = None;
    for k in 0..5u8 {
        let (t, out) = b
            .rtp(20 * u64::from(k), A, PHONE_A, &a_phone.packet(k))
            .unwrap();
        assert_eq!(
            t,
            Transmit {
                via: Port::rtp(B),
                dest: addr(PHONE_B),
                len: 172,
            }
        );
        let h = header(&out);
        assert_ne!(h.ssrc, 0x1111, "B sees its leg's own SSRC");
        let (ssrc, seq, ts) = *first.get_or_insert((h.ssrc, h.sequence, h.timestamp));
        assert_eq!(h.ssrc, ssrc);
        assert_eq!(h.sequence, seq.wrapping_add(u16::from(k)));
        assert_eq!(h.timestamp, ts.wrapping_add(160 * u32::from(k)));
        assert_eq!(&out[12..], &[k; 160][..], "the payload is untouched");
    }
    let (ssrc, seq, ts) = first.unwrap();

    // The caller's phone restarts its stream (a new SSRC, as after a re-INVITE):
    // B's stream carries on as if nothing happened.
    let mut restarted = Stream::new(0x9999);
    restarted.seq = 7;
    let (_, out) = b.rtp(100, A, PHONE_A, &restarted.packet(9)).unwrap();
    let h = header(&out);
    assert_eq!(h.ssrc, ssrc);
    assert_eq!(h.sequence, seq.wrapping_add(5));
    assert_eq!(h.timestamp, ts.wrapping_add(5 * 160));

    // The other way round, on the other leg's own stream.
    let (t, out) = b
        .rtp(110, B, PHONE_B, &Stream::new(0x2222).packet(7))
        .unwrap();
    assert_eq!(t.via, Port::rtp(A));
    assert_eq!(t.dest, addr(PHONE_A));
    assert!(![0x2222, ssrc].contains(&header(&out).ssrc));

    let s = b.stats();
    assert_eq!(
        (s.a.packets_in, s.a.bytes_in, s.b.packets_in),
        (6, 6 * 172, 1)
    );
    // Sends are counted by the I/O edge, once the OS took them.
    assert_eq!(s.b.packets_out, 0);
}

#[test]
fn latches_to_where_the_phone_really_sends_from() {
    let mut b = Bench::bare();
    // A's SDP names its private address; its packets come through a NAT.
    b.control(0, remote(A, "10.0.0.5:4000"));
    b.control(0, remote(B, PHONE_B));
    let nat = "203.0.113.7:31000";
    let mut a_phone = Stream::new(1);
    let mut b_phone = Stream::new(2);

    let (t, _) = b.rtp(0, B, PHONE_B, &b_phone.packet(1)).unwrap();
    assert_eq!(t.dest, addr("10.0.0.5:4000"), "before latching: the SDP");
    assert!(b.rtp(10, A, nat, &a_phone.packet(1)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(nat)));
    let (t, _) = b.rtp(20, B, PHONE_B, &b_phone.packet(2)).unwrap();
    assert_eq!(t.dest, addr(nat), "after: where the phone sends from");
    // RTCP follows the NAT guess: next to the latched RTP port.
    let sr = [0x80, 200, 0, 1, 0, 0, 0, 2];
    let (t, _) = b.datagram(25, Port::rtcp(B), PHONE_B_RTCP, &sr).unwrap();
    assert_eq!(t.via, Port::rtcp(A));
    assert_eq!(t.dest, addr("203.0.113.7:31001"));

    // Someone else's packets on A's port (RTP bleed) are not taken for A's.
    assert!(b
        .rtp(30, A, "203.0.113.99:5000", &Stream::new(3).packet(1))
        .is_none());
    assert_eq!(b.stats().a.dropped_foreign, 1);

    // A re-INVITE re-arms latching: the next packet, from wherever, is A's.
    b.control(40, remote(A, "10.0.0.5:4000"));
    assert_eq!(b.stats().a.latched_rtp, None);
    let moved = "203.0.113.8:40000";
    assert!(b.rtp(50, A, moved, &a_phone.packet(2)).is_some());
    let (t, _) = b.rtp(60, B, PHONE_B, &b_phone.packet(3)).unwrap();
    assert_eq!(t.dest, addr(moved));
}

#[test]
fn the_address_the_sdp_names_takes_the_leg_back_from_a_stray_latch() {
    let mut b = Bench::bare();
    b.control(0, remote(B, PHONE_B));
    // A re-INVITE moved a new phone onto leg A; the phone that left still sends
    // a packet or two, and is latched first.
    b.control(0, remote(A, PHONE_A));
    let leaving = "127.0.0.1:38150";
    assert!(b.rtp(0, A, leaving, &Stream::new(7).packet(1)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(leaving)));
    // The phone the SDP names takes the leg over.
    assert!(b.rtp(10, A, PHONE_A, &Stream::new(8).packet(1)).is_some());
    assert_eq!(b.stats().a.latched_rtp, Some(addr(PHONE_A)));
    let (t, _) = b.rtp(20, B, PHONE_B, &Stream::new(2).packet(1)).unwrap();
    assert_eq!(t.dest, addr(PHONE_A));
    // And the one that left is foreign from then on.
    assert!(b.rtp(30, A, leaving, &Stream::new(7).packet(2)).is_none());
    assert_eq!(b.stats().a.dropped_foreign, 1);
}

#[test]
fn a_held_leg_gets_nothing_and_a_leg_without_an_address_neither() {
    let mut b = Bench::bare();
    b.control(0, remote(A, PHONE_A));
    let mut a_phone = Stream::new(1);
    let mut b_phone = Stream::new(2);
    assert!(b.rtp(0, A, PHONE_A, &a_phone.packet(1)).is_none());
    assert_eq!(b.stats().b.dropped_no_destination, 1);
    // An SDP address of 0.0.0.0 (old-style hold) is no address either.
    b.control(5, remote(B, "0.0.0.0:6000"));
    assert!(b.rtp(10, A, PHONE_A, &a_phone.packet(2)).is_none());
    assert_eq!(b.stats().b.dropped_no_destination, 2);

    b.control(15, remote(B, PHONE_B));
    b.control(
        15,
        Control::SetHold {
            side: B,
            held: true,
        },
    );
    assert!(b.rtp(20, A, PHONE_A, &a_phone.packet(3)).is_none());
    assert_eq!(b.stats().b.dropped_held, 1);
    // What the held phone sends still reaches the other one.
    let (t, _) = b.rtp(25, B, PHONE_B, &b_phone.packet(1)).unwrap();
    assert_eq!(t.dest, addr(PHONE_A));

    b.control(
        30,
        Control::SetHold {
            side: B,
            held: false,
        },
    );
    let (t, out) = b.rtp(40, A, PHONE_A, &a_phone.packet(4)).unwrap();
    assert_eq!(t.dest, addr(PHONE_B));
    assert_eq!(&out[12..], &[4; 160][..]);
}

#[test]
fn garbage_is_counted_and_never_forwarded() {
    let mut b = Bench::new();
    assert!(b.rtp(0, A, PHONE_A, &[0x80, 0, 1]).is_none());
    assert!(b.rtp(0, A, PHONE_A, &[0x40; 20]).is_none());
    assert!(b
        .datagram(0, Port::rtcp(A), PHONE_A_RTCP, &[1, 2, 3])
        .is_none());
    let s = b.stats();
    assert_eq!(
        (s.a.dropped_bad, s.a.packets_in, s.a.latched_rtp),
        (3, 0, None)
    );
}

#[test]
fn rtcp_leaves_on_the_rtcp_socket_with_the_legs_ssrc() {
    let mut b = Bench::new();
    let (_, rtp) = b.rtp(0, A, PHONE_A, &Stream::new(1).packet(0)).unwrap();
    let b_ssrc = header(&rtp).ssrc;
    let sr = [0x80, 200, 0, 1, 0, 0, 0x11, 0x11];
    let (t, out) = b.datagram(10, Port::rtcp(A), PHONE_A_RTCP, &sr).unwrap();
    assert_eq!(
        t,
        Transmit {
            via: Port::rtcp(B),
            dest: addr(PHONE_B_RTCP),
            len: 8,
        }
    );
    assert_eq!(
        &out[4..8],
        &b_ssrc.to_be_bytes(),
        "B's stream's SSRC, not A's"
    );
    // Muxed onto the RTP port (RFC 5761), it still goes out as RTCP.
    let (t, _) = b.rtp(20, A, PHONE_A_RTCP, &sr).unwrap();
    assert_eq!(t.via, Port::rtcp(B));
    let s = b.stats();
    assert_eq!((s.a.rtcp_in, s.a.packets_in), (2, 1));
}

/// What the relay's own work costs per forwarded packet (no socket): run with
/// `cargo test --release -p media relay::tests::cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn cost_of_forwarding_a_packet() {
    let mut b = Bench::new();
    let mut a_phone = Stream::new(1);
    let mut pkt = a_phone.packet(0x55);
    let n: u32 = 2_000_000;
    let src = addr(PHONE_A);
    let started = Instant::now();
    for k in 0..n {
        // The phone's next packet, written in place as a receive would.
        pkt[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        pkt[4..8].copy_from_slice(&(k * 160).to_be_bytes());
        let now = b.t0 + ms(u64::from(k) * 20);
        let len = pkt.len();
        let t = b
            .relay
            .handle_datagram(now, Port::rtp(A), src, &mut pkt, len);
        std::hint::black_box(t);
    }
    let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
    println!("relay: {ns:.0} ns per forwarded packet (latch check, rewrite, counters)");
    // What the relay saves by not reading the clock itself: the worker reads it
    // once per receive batch instead of once per packet.
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Instant::now());
    }
    let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
    println!("clock: {ns:.0} ns per Instant::now()");
}
