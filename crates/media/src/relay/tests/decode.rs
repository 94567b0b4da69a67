//! The decode path driven by the relay, in virtual time: what a tick makes, and when.

use tokio::sync::oneshot;

use super::{addr, header, Bench, Stream, PHONE_A, PHONE_B};
use crate::codec::AudioCodec;
use crate::control::Control;
use crate::frame::Frame;
use crate::hooked::PlayEnd;
use crate::mix::{SpyMode, VolumeStep};
use crate::relay::Port;
use crate::side::Side::{A, B};
use crate::tone::FrameSource;

#[test]
fn a_local_leg_hears_the_other_phone_after_the_jitter_delay() {
    let mut b = Bench::new();
    assert!(b.tick(0).is_empty(), "no decode path: a tick makes nothing");
    b.control(
        0,
        Control::SetLocal {
            side: A,
            local: true,
        },
    );
    assert!(b.relay.needs_clock());
    let silence = AudioCodec::Pcmu.silence_code();
    let mut b_phone = Stream::new(2);
    let mut a_stream = Vec::new();
    // B sends packet k at 20k ms; the relay ticks 5 ms after each.
    for k in 0..6u8 {
        let at = 20 * u64::from(k);
        let fill = 0x10 + k;
        assert!(
            b.rtp(at, B, PHONE_B, &b_phone.packet(fill)).is_none(),
            "A's stream is the PBX's: B's packets wait for the tick"
        );
        let out = b.tick(at + 5);
        assert_eq!(out.len(), 1, "only A's stream is generated");
        let (t, pkt) = &out[0];
        assert_eq!(t.via, Port::rtp(A));
        assert_eq!(t.dest, addr(PHONE_A));
        // Playout starts on the tick nearest to 40 ms after the first packet:
        // here the tick at 45 ms, so packet k is heard at 45 + 20k ms.
        let expected = if k < 2 { silence } else { 0x10 + k - 2 };
        assert_eq!(&pkt[12..], &[expected; 160][..], "tick {k}");
        a_stream.push(header(pkt));
    }
    for w in a_stream.windows(2) {
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(160));
    }
    // What A sends is forwarded to B at once: B's stream is not generated.
    let (t, _) = b.rtp(121, A, PHONE_A, &Stream::new(1).packet(1)).unwrap();
    assert_eq!(t.dest, addr(PHONE_B));

    b.control(
        130,
        Control::SetLocal {
            side: A,
            local: false,
        },
    );
    assert!(!b.relay.needs_clock());
    assert!(b.rtp(140, B, PHONE_B, &b_phone.packet(0x30)).is_some());
}

/// Plays `n` frames whose samples are all `level`.
struct Level {
    level: i16,
    left: usize,
}

impl FrameSource for Level {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        *out = Frame::silence();
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        out.samples_mut().fill(self.level);
        true
    }
}

#[test]
fn a_prompt_plays_in_the_legs_stream_then_forwarding_resumes_seamlessly() {
    let mut b = Bench::new();
    let mut b_phone = Stream::new(2);
    let (_, first) = b.rtp(0, B, PHONE_B, &b_phone.packet(1)).unwrap();
    let (done, mut ended) = oneshot::channel();
    let source = Box::new(Level {
        level: 1000,
        left: 2,
    });
    b.control(
        10,
        Control::Play {
            side: A,
            source,
            done,
        },
    );

    let mut code = [0u8; 160];
    let prompt = Frame::from_samples(&[1000; 160]).unwrap();
    AudioCodec::Pcmu.encode_frame(&prompt, &mut code).unwrap();
    let mut seqs = vec![header(&first).sequence];
    for tick in [20, 40] {
        let out = b.tick(tick);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].1[12..], &code[..], "the prompt, at tick {tick}");
        assert_eq!(header(&out[0].1).ssrc, header(&first).ssrc);
        seqs.push(header(&out[0].1).sequence);
        // Meanwhile B's packets are held back from A.
        assert!(b.rtp(tick + 1, B, PHONE_B, &b_phone.packet(2)).is_none());
    }
    // The prompt is over: that tick sends nothing, and says so.
    assert!(b.tick(60).is_empty());
    assert_eq!(ended.try_recv(), Ok(PlayEnd::Finished));
    assert!(!b.relay.needs_clock());
    let (_, back) = b.rtp(61, B, PHONE_B, &b_phone.packet(3)).unwrap();
    assert_eq!(
        header(&back).ssrc,
        header(&first).ssrc,
        "one stream throughout"
    );
    seqs.push(header(&back).sequence);
    let start = seqs[0];
    let expected: Vec<u16> = (0..4).map(|k| start.wrapping_add(k)).collect();
    assert_eq!(seqs, expected);
}

#[test]
fn a_listened_call_is_forwarded_at_once_and_the_spy_hears_it_at_the_tick() {
    let mut b = Bench::new();
    let (reply, mut link) = oneshot::channel();
    b.control(
        0,
        Control::AttachSpy {
            target: A,
            mode: SpyMode::Listen,
            volume: VolumeStep::UNITY,
            one_way: false,
            reply,
        },
    );
    let link = link.try_recv().unwrap();
    assert!(b.relay.needs_clock());
    let mut a_phone = Stream::new(1);
    for k in 0..4u64 {
        // Listening adds no delay: the packet is forwarded as it arrives.
        let (t, _) = b.rtp(20 * k, A, PHONE_A, &a_phone.packet(0x20)).unwrap();
        assert_eq!(t.dest, addr(PHONE_B));
        assert!(
            b.tick(20 * k + 5).is_empty(),
            "no phone's stream is generated"
        );
    }
    // Four ticks, four frames for the supervisor (the first two before playout
    // started, so silent; then what A said).
    let frames: Vec<Frame> = std::iter::from_fn(|| link.hears.try_recv().ok()).collect();
    assert_eq!(frames.len(), 4);
    assert!(frames[0].is_silent() && frames[1].is_silent());
    assert!(!frames[2].is_silent() && !frames[3].is_silent());

    b.control(100, Control::DetachSpy { id: link.id });
    assert!(!b.relay.needs_clock());
}

#[test]
fn the_jitter_buffers_late_and_lost_frames_reach_the_bridge_stats() {
    let mut b = Bench::new();
    b.control(
        0,
        Control::SetLocal {
            side: A,
            local: true,
        },
    );
    let mut b_phone = Stream::new(2);
    let mut held_back = None;
    for k in 0..12u8 {
        let at = 20 * u64::from(k);
        let pkt = b_phone.packet(0x20 + k);
        match k {
            // Lost for good: its frame is concealed at its turn.
            5 => {}
            // Held back, then sent 200 ms after its time: too late to play.
            6 => held_back = Some(pkt),
            _ => {
                let _ = b.rtp(at, B, PHONE_B, &pkt);
            }
        }
        let _ = b.tick(at + 5);
    }
    let late = held_back.unwrap();
    let _ = b.rtp(20 * 12, B, PHONE_B, &late);
    let _ = b.tick(20 * 12 + 5);
    let s = b.stats();
    assert_eq!(s.b.jitter_late, 1, "{s:?}");
    assert!(s.b.jitter_lost >= 2, "frames 5 and 6 were concealed: {s:?}");
    assert_eq!((s.a.jitter_late, s.a.jitter_lost), (0, 0));
}
