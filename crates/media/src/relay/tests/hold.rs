//! Music on hold, in virtual time: while side A has hold music its phone is sent
//! the music in place of what B's phone says (a whisper to A mixed on top), and once
//! the music is removed A gets B's packets forwarded again as on the fast path.
//!
//! A says 1000 Hz, B 400 Hz, the supervisor 1500 Hz, the music 600 Hz, all at
//! -12 dBFS and through PCMU as on the wire.

use super::voices::{absent, attach, decoded, present, Talker, Voice, AGENT, CLIENT, SUPERVISOR};
use super::{addr, header, Bench, PHONE_A, PHONE_B};
use crate::control::Control;
use crate::frame::Frame;
use crate::mix::SpyMode;
use crate::relay::{Port, Transmit};
use crate::side::Side::{self, A, B};
use crate::tone::{ToneGenerator, ToneSpec};

const MUSIC: f64 = 600.0;

fn tone(hz: f64) -> ToneGenerator {
    ToneGenerator::new(ToneSpec::sine(hz, -12.0))
}

/// The music on hold a bridge would be given: an endless 600 Hz tone.
fn music() -> Control {
    Control::HoldMusic {
        side: A,
        music: Some(Box::new(tone(MUSIC))),
    }
}

fn no_music() -> Control {
    Control::HoldMusic {
        side: A,
        music: None,
    }
}

fn to(side: Side) -> Transmit {
    match side {
        A => Transmit {
            via: Port::rtp(A),
            dest: addr(PHONE_A),
            len: 172,
        },
        B => Transmit {
            via: Port::rtp(B),
            dest: addr(PHONE_B),
            len: 172,
        },
    }
}

/// The call before anyone holds: both phones latched, each packet forwarded.
/// Returns the last header A's phone was sent.
fn talking(b: &mut Bench, agent: &mut Talker, client: &mut Talker) -> crate::rtp::RtpHeader {
    let (t, _) = b.rtp(0, A, PHONE_A, &agent.packet()).unwrap();
    assert_eq!(t, to(B));
    let (t, pkt) = b.rtp(1, B, PHONE_B, &client.packet()).unwrap();
    assert_eq!(t, to(A));
    assert!(!b.relay.needs_clock(), "a plain call is only forwarded");
    header(&pkt)
}

/// One 20 ms step of a held call at `at`: each phone sends a packet; A's goes to B
/// untouched, B's is kept from A; the tick makes A's packet (and only A's).
/// Returns the packet A's phone is sent.
fn held_step(b: &mut Bench, at: u64, agent: &mut Talker, client: &mut Talker) -> Vec<u8> {
    let sent = agent.packet();
    let (t, out) = b
        .rtp(at, A, PHONE_A, &sent)
        .expect("A's voice still reaches B");
    assert_eq!(t, to(B), "at {at} ms");
    assert_eq!(
        &out[12..],
        &sent[12..],
        "at {at} ms: B gets A's audio as sent"
    );
    assert!(
        b.rtp(at + 1, B, PHONE_B, &client.packet()).is_none(),
        "at {at} ms: B's RTP is not forwarded to the held phone"
    );
    let mut out = b.tick(at + 5);
    assert_eq!(out.len(), 1, "at {at} ms: one generated packet, for A");
    let (t, pkt) = out.remove(0);
    assert_eq!(t, to(A), "at {at} ms");
    pkt
}

#[test]
fn the_held_phone_hears_the_music_instead_of_its_peer() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    let before = talking(&mut b, &mut agent, &mut client);

    b.control(10, music());
    assert!(b.relay.needs_clock(), "the music needs the 20 ms clock");
    let mut a_hears = Vec::new();
    let mut seq = before.sequence;
    for k in 1..=25u64 {
        let pkt = held_step(&mut b, 20 * k, &mut agent, &mut client);
        // The music is spliced into the stream A's phone already receives.
        let h = header(&pkt);
        assert_eq!(h.ssrc, before.ssrc, "tick {k}: one stream to A");
        seq = seq.wrapping_add(1);
        assert_eq!(h.sequence, seq, "tick {k}: no gap");
        let heard = decoded(&pkt);
        // From the very first tick: music, and nothing of B.
        present(heard.samples(), MUSIC, &format!("A at tick {k}"));
        a_hears.extend_from_slice(heard.samples());
    }
    present(&a_hears, MUSIC, "A");
    absent(&a_hears, CLIENT, "A");
    absent(&a_hears, AGENT, "A");
    let s = b.stats();
    assert_eq!(
        (s.a.packets_in, s.b.packets_in),
        (26, 26),
        "both phones' packets are received"
    );
    assert_eq!(
        (s.a.dropped_held, s.a.dropped_no_destination),
        (0, 0),
        "B's are replaced, not counted as dropped"
    );
}

#[test]
fn a_whisper_to_the_held_phone_is_heard_over_the_music() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    let mut supervisor = Voice::new(SUPERVISOR);
    talking(&mut b, &mut agent, &mut client);
    let link = attach(&mut b, 5, A, SpyMode::Whisper);
    b.control(10, music());

    let mut a_hears = Vec::new();
    let mut sup_hears = Vec::new();
    const TICKS: u64 = 30;
    for k in 1..=TICKS {
        link.says.send(&supervisor.frame()).unwrap();
        let pkt = held_step(&mut b, 20 * k, &mut agent, &mut client);
        let frames: Vec<Frame> = std::iter::from_fn(|| link.hears.try_recv().ok()).collect();
        assert_eq!(frames.len(), 1, "tick {k}: the supervisor hears every tick");
        // Past the jitter buffer's and the whisper queue's first frames.
        if k > 3 {
            a_hears.extend_from_slice(decoded(&pkt).samples());
            sup_hears.extend_from_slice(frames[0].samples());
        }
    }
    // A hears the music with the supervisor on top, still nothing of B.
    present(&a_hears, MUSIC, "A");
    present(&a_hears, SUPERVISOR, "A");
    absent(&a_hears, CLIENT, "A");
    absent(&a_hears, AGENT, "A");
    // The supervisor hears the spied phone and what it hears (the music), not
    // the peer that holds it, nor themselves.
    present(&sup_hears, AGENT, "supervisor");
    present(&sup_hears, MUSIC, "supervisor");
    absent(&sup_hears, CLIENT, "supervisor");
    absent(&sup_hears, SUPERVISOR, "supervisor");

    // The peer resumes while the whisper goes on: A hears B again, with the
    // supervisor on top, and no more music.
    b.control(20 * TICKS + 10, no_music());
    assert!(b.relay.needs_clock(), "the whisper still needs the clock");
    let mut a_hears = Vec::new();
    for k in TICKS + 1..=2 * TICKS {
        let at = 20 * k;
        assert!(b.rtp(at, A, PHONE_A, &agent.packet()).is_some());
        assert!(
            b.rtp(at + 1, B, PHONE_B, &client.packet()).is_none(),
            "tick {k}: whispered to, A still gets a stream the PBX makes"
        );
        link.says.send(&supervisor.frame()).unwrap();
        let out = b.tick(at + 5);
        assert_eq!(out.len(), 1, "tick {k}");
        assert_eq!(out[0].0, to(A));
        if k > TICKS + 3 {
            a_hears.extend_from_slice(decoded(&out[0].1).samples());
        }
        let _ = std::iter::from_fn(|| link.hears.try_recv().ok()).count();
    }
    present(&a_hears, CLIENT, "A after the resume");
    present(&a_hears, SUPERVISOR, "A after the resume");
    absent(&a_hears, MUSIC, "A after the resume");
}

#[test]
fn once_the_music_is_removed_the_peers_packets_are_forwarded_again() {
    let mut b = Bench::new();
    let mut agent = Talker::new(0x1111, AGENT);
    let mut client = Talker::new(0x2222, CLIENT);
    let before = talking(&mut b, &mut agent, &mut client);

    b.control(10, music());
    let mut last = None;
    for k in 1..=10u64 {
        last = Some(header(&held_step(&mut b, 20 * k, &mut agent, &mut client)));
    }
    let last = last.unwrap();

    b.control(215, no_music());
    assert!(
        !b.relay.needs_clock(),
        "nothing left for the decode path: back to forwarding"
    );
    for k in 0..5u64 {
        let at = 220 + 20 * k;
        let sent = client.packet();
        let (t, out) = b
            .rtp(at, B, PHONE_B, &sent)
            .expect("B's packet reaches A again");
        assert_eq!(t, to(A), "packet {k}");
        // Forwarded, not generated: B's own payload, byte for byte, at once.
        assert_eq!(&out[12..], &sent[12..], "packet {k}");
        let h = header(&out);
        assert_eq!(h.ssrc, before.ssrc, "packet {k}: still one stream to A");
        assert_eq!(
            h.sequence,
            last.sequence.wrapping_add(1 + k as u16),
            "packet {k}: continues where the music stopped"
        );
        let (t, _) = b.rtp(at + 1, A, PHONE_A, &agent.packet()).unwrap();
        assert_eq!(t, to(B));
        assert!(
            b.tick(at + 5).is_empty(),
            "packet {k}: the PBX makes no packet any more"
        );
    }
}
