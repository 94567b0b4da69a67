//! A supervisor takes a call over, in virtual time: the spied phone's leg is
//! released, so it is sent nothing and nothing it sends is heard, while its peer
//! gets a stream the PBX makes, carrying the supervisor's voice.
//!
//! A (spied, "agent") says 1000 Hz, B ("client") 400 Hz, the supervisor 1500 Hz,
//! all at -12 dBFS and through PCMU as on the wire.

use super::voices::{absent, attach, decoded, present, Talker, Voice, AGENT, CLIENT, SUPERVISOR};
use super::{addr, header, Bench, PHONE_A, PHONE_A_RTCP, PHONE_B, PHONE_B_RTCP};
use crate::control::Control;
use crate::frame::Frame;
use crate::mix::SpyMode;
use crate::relay::{Port, Transmit};
use crate::side::Side::{A, B};

/// B's RTP socket sending to B's phone.
fn to_b() -> Transmit {
    Transmit {
        via: Port::rtp(B),
        dest: addr(PHONE_B),
        len: 172,
    }
}

#[test]
fn a_released_leg_is_silent_both_ways_and_its_peer_hears_the_supervisor() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    let mut supervisor = Voice::new(SUPERVISOR);

    // The call as it was: forwarded both ways (and both phones latched).
    let (t, first) = b.rtp(0, A, PHONE_A, &agent.packet()).unwrap();
    assert_eq!(t, to_b());
    let (t, _) = b.rtp(1, B, PHONE_B, &client.packet()).unwrap();
    assert_eq!(t.dest, addr(PHONE_A));

    let link = attach(&mut b, 2, A, SpyMode::Takeover);
    b.control(2, Control::Release { side: A });
    assert!(b.relay.needs_clock());
    let before = b.stats();
    assert_eq!((before.a.dropped_foreign, before.a.dropped_held), (0, 0));

    let b_ssrc = header(&first).ssrc;
    let mut b_seq = header(&first).sequence;
    let mut b_hears = Vec::new();
    let mut sup_hears = Vec::new();
    const TICKS: u64 = 30;
    for k in 1..=TICKS {
        let at = 20 * k;
        // (a) The released phone still sends: it goes nowhere.
        assert!(
            b.rtp(at, A, PHONE_A, &agent.packet()).is_none(),
            "tick {k}: A's RTP is not forwarded"
        );
        // (b) B's phone still talks, but A's phone is sent none of it.
        assert!(
            b.rtp(at + 1, B, PHONE_B, &client.packet()).is_none(),
            "tick {k}: B's RTP is not sent to the released phone"
        );
        link.says.send(&supervisor.frame()).unwrap();

        let out = b.tick(at + 5);
        assert_eq!(out.len(), 1, "tick {k}: one packet, for B only");
        let (t, pkt) = &out[0];
        assert_eq!(*t, to_b(), "tick {k}");
        // (c) B's stream goes on as one stream, the PBX's packets spliced in.
        let h = header(pkt);
        assert_eq!(h.ssrc, b_ssrc, "tick {k}");
        b_seq = b_seq.wrapping_add(1);
        assert_eq!(h.sequence, b_seq, "tick {k}");
        // Every one of them carries the supervisor, from the first tick on.
        let heard = decoded(pkt);
        present(heard.samples(), SUPERVISOR, &format!("B at tick {k}"));
        b_hears.extend_from_slice(heard.samples());
        let frames: Vec<Frame> = std::iter::from_fn(|| link.hears.try_recv().ok()).collect();
        assert_eq!(frames.len(), 1, "tick {k}: the supervisor hears every tick");
        // B's own voice reaches the supervisor after the jitter buffer's delay.
        if k > 3 {
            sup_hears.extend_from_slice(frames[0].samples());
        }
    }
    // B hears the supervisor only: not the released agent, not itself.
    present(&b_hears, SUPERVISOR, "B");
    absent(&b_hears, AGENT, "B");
    absent(&b_hears, CLIENT, "B");
    // The supervisor hears B, and neither the released agent nor themselves.
    present(&sup_hears, CLIENT, "supervisor");
    absent(&sup_hears, AGENT, "supervisor");
    absent(&sup_hears, SUPERVISOR, "supervisor");

    let s = b.stats();
    assert_eq!(
        s.a.dropped_foreign, TICKS,
        "A's packets, counted as foreign"
    );
    assert_eq!(s.a.packets_in, before.a.packets_in, "and not as A's audio");
    assert_eq!(s.a.dropped_held, TICKS, "every B packet kept from A");
    assert_eq!(s.b.packets_in, before.b.packets_in + TICKS);
    // Nor does B's RTCP reach the released phone.
    let sr = [0x80, 200, 0, 1, 0, 0, 0x22, 0x22];
    assert!(b
        .datagram(TICKS * 20 + 10, Port::rtcp(B), PHONE_B_RTCP, &sr)
        .is_none());
    assert_eq!(b.stats().a.dropped_held, TICKS + 1);

    // The supervisor pauses: B's stream keeps going, in silence (what A still
    // sends does not fill the gap).
    let at = 20 * (TICKS + 1);
    assert!(b.rtp(at, A, PHONE_A, &agent.packet()).is_none());
    let out = b.tick(at + 5);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, to_b());
    assert_eq!(header(&out[0].1).sequence, b_seq.wrapping_add(1));
    assert!(decoded(&out[0].1).is_silent());
    assert!(b.relay.needs_clock());
}

#[test]
fn switching_a_listener_to_takeover_gives_the_peer_the_supervisor_on_the_next_tick() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    let mut supervisor = Voice::new(SUPERVISOR);
    let link = attach(&mut b, 0, A, SpyMode::Listen);

    // Listened to: forwarded at once both ways, no tick makes a packet, and what
    // the supervisor says is heard by nobody.
    let mut last_to_b = None;
    for k in 0..4u64 {
        let at = 20 * k;
        let (t, pkt) = b.rtp(at, A, PHONE_A, &agent.packet()).unwrap();
        assert_eq!(t, to_b());
        last_to_b = Some(header(&pkt));
        let (t, _) = b.rtp(at + 1, B, PHONE_B, &client.packet()).unwrap();
        assert_eq!(t.dest, addr(PHONE_A));
        link.says.send(&supervisor.frame()).unwrap();
        assert!(b.tick(at + 5).is_empty(), "tick {k}: nothing generated");
    }
    let last_to_b = last_to_b.unwrap();

    // The supervisor takes over, as the handle does it: the mode, then the release.
    b.control(
        80,
        Control::SpyMode {
            id: link.id,
            mode: SpyMode::Takeover,
        },
    );
    b.control(80, Control::Release { side: A });
    assert!(b.rtp(80, A, PHONE_A, &agent.packet()).is_none());
    link.says.send(&supervisor.frame()).unwrap();
    let out = b.tick(85);
    assert_eq!(out.len(), 1, "the very next tick makes B's packet");
    assert_eq!(out[0].0, to_b());
    let h = header(&out[0].1);
    assert_eq!(h.ssrc, last_to_b.ssrc);
    assert_eq!(h.sequence, last_to_b.sequence.wrapping_add(1), "no gap");
    let heard = decoded(&out[0].1);
    present(heard.samples(), SUPERVISOR, "B's first generated packet");
    absent(heard.samples(), AGENT, "B's first generated packet");
    assert_eq!(b.stats().a.dropped_foreign, 1);
}

#[test]
fn a_released_phones_rtcp_does_not_reach_its_peer() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    assert_eq!(b.rtp(0, A, PHONE_A, &agent.packet()).unwrap().0, to_b());
    let _link = attach(&mut b, 2, A, SpyMode::Takeover);
    b.control(2, Control::Release { side: A });
    let before = b.stats().a;
    // A sender report from the phone that left: it is no party any more, so its
    // RTCP must not reach B (whose stream is now the PBX's) any more than its RTP.
    let sr = [0x80, 200, 0, 1, 0, 0, 0x11, 0x11];
    assert!(
        b.datagram(10, Port::rtcp(A), PHONE_A_RTCP, &sr).is_none(),
        "A's RTCP was forwarded to B, stamped with B's stream SSRC"
    );
    assert_eq!(b.stats().a.rtcp_in, before.rtcp_in);
    assert_eq!(b.stats().a.dropped_foreign, before.dropped_foreign + 1);
}
