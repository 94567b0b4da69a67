//! The Asterisk reference matrix (NOTES.md): client sends 400 Hz, agent 1000 Hz,
//! supervisor 1500 Hz, all at -12 dBFS, each through G.711 as on the wire.

use super::*;
use crate::codec::AudioCodec;
use crate::frame::Frame;
use crate::goertzel::tone_dbfs;
use crate::side::Side;
use crate::tone::{FrameSource, ToneGenerator, ToneSpec};

const CLIENT: f64 = 400.0;
const AGENT: f64 = 1000.0;
const SUPERVISOR: f64 = 1500.0;
/// The agent's channel is the spied one (A); the client is B.
const AGENT_SIDE: Side = Side::A;

/// A frame as it arrives after a trip through PCMU.
fn through_g711(f: &Frame) -> Frame {
    let mut enc = [0u8; 160];
    AudioCodec::Pcmu.encode_frame(f, &mut enc).unwrap();
    let mut out = Frame::silence();
    AudioCodec::Pcmu.decode_frame(&enc, &mut out).unwrap();
    out
}

struct Heard {
    agent: Vec<i16>,
    client: Vec<i16>,
    supervisors: Vec<Vec<i16>>,
}

impl Heard {
    fn level(samples: &[i16], hz: f64) -> f64 {
        tone_dbfs(samples, hz, 8000)
    }
}

/// Runs `ticks` ticks with the given supervisors (all saying 1500 Hz) and returns
/// what everyone heard after a short warm-up.
fn run(mixer: &mut CallMixer, sups: &[SupervisorId], ticks: usize) -> Heard {
    let mut client = ToneGenerator::new(ToneSpec::sine(CLIENT, -12.0));
    let mut agent = ToneGenerator::new(ToneSpec::sine(AGENT, -12.0));
    let mut sup = ToneGenerator::new(ToneSpec::sine(SUPERVISOR, -12.0));
    let (mut fc, mut fa, mut fs) = (Frame::silence(), Frame::silence(), Frame::silence());
    let mut heard = Heard {
        agent: vec![],
        client: vec![],
        supervisors: vec![vec![]; sups.len()],
    };
    for t in 0..ticks {
        client.next_frame(&mut fc);
        agent.next_frame(&mut fa);
        sup.next_frame(&mut fs);
        let fs = through_g711(&fs);
        let inj: Vec<(SupervisorId, &Frame)> = sups.iter().map(|&s| (s, &fs)).collect();
        let out = mixer.tick_all(&through_g711(&fa), &through_g711(&fc), &inj);
        if t < 2 {
            continue;
        }
        heard
            .agent
            .extend_from_slice(through_g711(&out.a_hears).samples());
        heard
            .client
            .extend_from_slice(through_g711(&out.b_hears).samples());
        for (i, s) in sups.iter().enumerate() {
            let f = out
                .supervisors_hear
                .iter()
                .find(|(id, _)| id == s)
                .map(|(_, f)| through_g711(f))
                .expect("a supervisor hears something every tick");
            heard.supervisors[i].extend_from_slice(f.samples());
        }
    }
    heard
}

fn present(samples: &[i16], hz: f64) {
    let l = Heard::level(samples, hz);
    assert!(
        (l - -12.0).abs() < 0.6,
        "{hz} Hz expected at -12 dBFS, got {l:.2}"
    );
}

fn absent(samples: &[i16], hz: f64) {
    let l = Heard::level(samples, hz);
    assert!(l < -50.0, "{hz} Hz expected absent, got {l:.2} dBFS");
}

#[test]
fn no_supervisor_parties_hear_each_other_only() {
    let mut m = CallMixer::new();
    assert!(!m.is_hooked());
    let h = run(&mut m, &[], 27);
    present(&h.agent, CLIENT);
    absent(&h.agent, AGENT);
    present(&h.client, AGENT);
    absent(&h.client, CLIENT);
}

#[test]
fn listen_supervisor_hears_both_parties_hear_nothing_new() {
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::UNITY);
    assert!(m.is_hooked());
    let h = run(&mut m, &[s], 27);
    present(&h.supervisors[0], CLIENT);
    present(&h.supervisors[0], AGENT);
    absent(&h.supervisors[0], SUPERVISOR);
    present(&h.agent, CLIENT);
    absent(&h.agent, SUPERVISOR);
    present(&h.client, AGENT);
    absent(&h.client, SUPERVISOR);
}

#[test]
fn whisper_reaches_the_agent_only() {
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Whisper, VolumeStep::UNITY);
    let h = run(&mut m, &[s], 27);
    present(&h.supervisors[0], CLIENT);
    present(&h.supervisors[0], AGENT);
    absent(&h.supervisors[0], SUPERVISOR);
    present(&h.agent, CLIENT);
    present(&h.agent, SUPERVISOR);
    present(&h.client, AGENT);
    absent(&h.client, SUPERVISOR);
}

#[test]
fn barge_reaches_both_parties() {
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Barge, VolumeStep::UNITY);
    let h = run(&mut m, &[s], 27);
    present(&h.supervisors[0], CLIENT);
    present(&h.supervisors[0], AGENT);
    absent(&h.supervisors[0], SUPERVISOR);
    present(&h.agent, CLIENT);
    present(&h.agent, SUPERVISOR);
    present(&h.client, AGENT);
    present(&h.client, SUPERVISOR);
}

#[test]
fn switching_modes_and_detaching_returns_to_unhooked() {
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::UNITY);
    m.set_mode(s, SpyMode::Barge).unwrap();
    assert_eq!(m.mode(s), Some(SpyMode::Barge));
    assert_eq!(m.hooks(Side::A).len(), 2);
    assert_eq!(m.hooks(Side::B).len(), 1);
    let h = run(&mut m, &[s], 12);
    present(&h.client, SUPERVISOR);
    m.set_mode(s, SpyMode::Whisper).unwrap();
    assert_eq!(m.hooks(Side::B).len(), 0);
    let h = run(&mut m, &[s], 12);
    absent(&h.client, SUPERVISOR);
    present(&h.agent, SUPERVISOR);
    assert!(m.detach(s));
    assert!(!m.detach(s));
    assert!(!m.is_hooked());
    assert_eq!(m.supervisor_hears(s), Err(MixError::NoSuchSupervisor(s)));
}

#[test]
fn a_listener_does_not_hear_another_supervisors_barge() {
    // Asterisk order: spies tap before whispers are added.
    let mut m = CallMixer::new();
    let listener = m.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::UNITY);
    let barger = m.attach(AGENT_SIDE, SpyMode::Barge, VolumeStep::UNITY);
    let h = run(&mut m, &[listener, barger], 27);
    for heard in &h.supervisors {
        present(heard, CLIENT);
        present(heard, AGENT);
        absent(heard, SUPERVISOR);
    }
    present(&h.client, SUPERVISOR);
}

#[test]
fn volume_steps_follow_asterisk() {
    // ast_frame_adjust_volume: multiply by N for N > 0, divide by |N| for N < 0.
    let f = Frame::from_samples(&[1000i16; 160]).unwrap();
    let cases = [
        (-4, 250),
        (-3, 333),
        (-2, 500),
        (-1, 1000),
        (0, 1000),
        (1, 1000),
        (2, 2000),
        (3, 3000),
        (4, 4000),
    ];
    for (step, want) in cases {
        let mut g = f.clone();
        VolumeStep::new(step).unwrap().apply(g.samples_mut());
        assert_eq!(g.samples()[0], want, "step {step}");
    }
    assert!(VolumeStep::new(5).is_err());
    assert!(VolumeStep::new(-5).is_err());
    assert_eq!(
        VolumeStep::new(4).unwrap().cycled(),
        VolumeStep::new(-4).unwrap()
    );
    assert_eq!(VolumeStep::new(2).unwrap().factor(), 2.0);

    // In a call: v(2) raises what the supervisor hears by 6 dB, not the parties.
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::new(2).unwrap());
    let h = run(&mut m, &[s], 27);
    let l = Heard::level(&h.supervisors[0], AGENT);
    assert!((l - -6.0).abs() < 0.6, "{l:.2}");
    present(&h.client, AGENT);
    m.set_volume(s, VolumeStep::new(-2).unwrap()).unwrap();
    let h = run(&mut m, &[s], 27);
    let l = Heard::level(&h.supervisors[0], AGENT);
    assert!((l - -18.0).abs() < 0.6, "{l:.2}");
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let loud = Frame::from_samples(&[30_000i16; 160]).unwrap();
    let quiet_neg = Frame::from_samples(&[-20_000i16; 160]).unwrap();
    let mut acc = Accumulator::new_like(&loud);
    acc.add(&loud, VolumeStep::UNITY);
    acc.add(&loud, VolumeStep::UNITY);
    assert!(acc.to_frame().samples().iter().all(|&s| s == i16::MAX));
    // Accumulating in 32 bits: an overflow cancelled by a later source is exact.
    acc.add(&quiet_neg, VolumeStep::UNITY);
    acc.add(&quiet_neg, VolumeStep::UNITY);
    assert!(acc.to_frame().samples().iter().all(|&s| s == 20_000));
    let neg = Frame::from_samples(&[-30_000i16; 160]).unwrap();
    let mut d = neg.clone();
    mix_into(&mut d, &neg, VolumeStep::new(4).unwrap());
    assert!(d.samples().iter().all(|&s| s == i16::MIN));
    // Different rates are not mixed.
    let mut wide = Frame::silence_at(16_000).unwrap();
    mix_into(&mut wide, &loud, VolumeStep::UNITY);
    assert!(wide.is_silent());
    assert!(!Accumulator::new_like(&wide).add(&loud, VolumeStep::UNITY));
}

#[test]
fn a_reader_that_never_reads_costs_a_bounded_queue() {
    let mut hooks = Audiohooks::new();
    let spy = hooks.attach_spy(Tap::Split, VolumeStep::UNITY);
    let wh = hooks.attach_whisper(VolumeStep::UNITY);
    let read = Frame::from_samples(&[100i16; 160]).unwrap();
    for _ in 0..1000 {
        let mut write = Frame::from_samples(&[7i16; 160]).unwrap();
        hooks.process(&read, &mut write);
        // The supervisor pushes twice per tick: a fast clock on their side.
        hooks.push_whisper(wh, &read).unwrap();
        hooks.push_whisper(wh, &read).unwrap();
    }
    let s = hooks.stats(spy).unwrap();
    assert_eq!(s.depth, audiohook::SPY_QUEUE_FRAMES);
    assert_eq!(s.dropped, 1000 - audiohook::SPY_QUEUE_FRAMES as u64);
    let w = hooks.stats(wh).unwrap();
    assert!(w.depth <= audiohook::WHISPER_QUEUE_FRAMES);
    assert_eq!(w.underruns, 1);
    // Split tap: the two directions apart, read first.
    match hooks.pop_spy(spy).unwrap().unwrap() {
        SpyFrame::Split { read: r, write: w } => {
            assert_eq!(r.samples()[0], 100);
            assert_eq!(w.samples()[0], 7);
        }
        other => panic!("expected a split tap, got {other:?}"),
    }
    assert_eq!(hooks.pop_spy(wh), Err(HookError::WrongKind(wh, "spy")));
    assert!(hooks.detach(spy) && hooks.detach(wh));
    assert!(hooks.is_empty());
}

#[test]
fn tick_changes_names_only_the_phones_that_hear_something_new() {
    let a = Frame::from_samples(&[100; 160]).unwrap();
    let b = Frame::from_samples(&[-200; 160]).unwrap();
    let mut mixer = CallMixer::new();
    let id = mixer.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::UNITY);
    // Listened to: both phones hear each other as sent, and the spy gets both.
    assert_eq!(mixer.tick_changes(&a, &b), [None, None]);
    let heard = mixer.supervisor_hears(id).unwrap().expect("a tapped frame");
    assert_eq!(heard.samples()[0], -100);

    // Whispered to: the agent's channel now hears the client plus the whisper.
    mixer.set_mode(id, SpyMode::Whisper).unwrap();
    let says = Frame::from_samples(&[7; 160]).unwrap();
    mixer.supervisor_says(id, &says).unwrap();
    let [agent, client] = mixer.tick_changes(&a, &b);
    assert_eq!(agent.expect("the agent hears a mix").samples()[0], -193);
    assert_eq!(client, None);
    // The supervisor hears the call without their own voice.
    let heard = mixer.supervisor_hears(id).unwrap().expect("a tapped frame");
    assert_eq!(heard.samples()[0], -100);
}

#[test]
fn takeover_reaches_the_peer_only_and_the_supervisor_still_hears_the_call() {
    let mut m = CallMixer::new();
    let s = m.attach(AGENT_SIDE, SpyMode::Takeover, VolumeStep::UNITY);
    assert_eq!(m.mode(s), Some(SpyMode::Takeover));
    // The spy hook alone on the agent's channel, a whisper on the client's.
    assert_eq!(m.hooks(Side::A).len(), 1);
    assert_eq!(m.hooks(Side::B).len(), 1);
    assert!(
        !m.alters(Side::A),
        "nothing is whispered to the spied phone"
    );
    assert!(m.alters(Side::B), "the bridged peer hears the supervisor");
    let h = run(&mut m, &[s], 27);
    present(&h.supervisors[0], CLIENT);
    present(&h.supervisors[0], AGENT);
    absent(&h.supervisors[0], SUPERVISOR);
    present(&h.client, SUPERVISOR);
    absent(&h.agent, SUPERVISOR);
    present(&h.agent, CLIENT);
    // The mixer does not silence the agent (the relay's release does): the client
    // hears whatever is still read on the agent's channel, never itself.
    present(&h.client, AGENT);
    absent(&h.client, CLIENT);
    assert!(m.detach(s));
    assert!(!m.is_hooked());
}

#[test]
fn switching_listen_to_takeover_changes_what_each_side_hears_on_the_next_tick() {
    let a = Frame::from_samples(&[100; 160]).unwrap();
    let b = Frame::from_samples(&[-200; 160]).unwrap();
    let says = Frame::from_samples(&[7; 160]).unwrap();
    let mut m = CallMixer::new();
    let id = m.attach(AGENT_SIDE, SpyMode::Listen, VolumeStep::UNITY);
    // Listening: what the supervisor says goes nowhere, now or later.
    m.supervisor_says(id, &says).unwrap();
    assert_eq!(m.tick_changes(&a, &b), [None, None]);
    assert_eq!(m.supervisor_hears(id).unwrap().unwrap().samples()[0], -100);

    m.set_mode(id, SpyMode::Takeover).unwrap();
    assert_eq!(m.mode(id), Some(SpyMode::Takeover));
    let says = Frame::from_samples(&[9; 160]).unwrap();
    m.supervisor_says(id, &says).unwrap();
    // The very next tick: the client hears the agent plus the supervisor (no tick
    // of silence, and not the frame said while listening); the agent hears the
    // client unchanged.
    let out = m.tick(&a, &b);
    assert_eq!(out.a_hears, b, "the agent hears the client only");
    assert!(
        out.b_hears.samples().iter().all(|&s| s == 109),
        "the client hears agent + supervisor at once: {:?}",
        &out.b_hears.samples()[..4]
    );
    // The supervisor still hears both parties, and not themselves.
    let heard = m.supervisor_hears(id).unwrap().expect("a tapped frame");
    assert!(heard.samples().iter().all(|&s| s == -100));
    let whisper = m
        .hooks(Side::B)
        .stats(HookId(0))
        .expect("the peer's whisper");
    assert_eq!((whisper.delivered, whisper.underruns), (1, 0));
}

#[test]
fn switching_barge_to_takeover_keeps_the_peers_queued_voice_and_mutes_the_target() {
    let a = Frame::from_samples(&[100; 160]).unwrap();
    let b = Frame::from_samples(&[-200; 160]).unwrap();
    let mut m = CallMixer::new();
    let id = m.attach(AGENT_SIDE, SpyMode::Barge, VolumeStep::UNITY);
    m.supervisor_says(id, &Frame::from_samples(&[7; 160]).unwrap())
        .unwrap();
    m.supervisor_says(id, &Frame::from_samples(&[9; 160]).unwrap())
        .unwrap();
    let out = m.tick(&a, &b);
    assert_eq!(out.a_hears.samples()[0], -193);
    assert_eq!(out.b_hears.samples()[0], 107);

    m.set_mode(id, SpyMode::Takeover).unwrap();
    assert_eq!(m.hooks(Side::A).len(), 1, "the agent's whisper is gone");
    assert_eq!(m.hooks(Side::B).len(), 1, "the client's whisper stays");
    // Next tick: the agent no longer hears the supervisor, although a frame was
    // queued for it; the client gets the next queued frame, with no gap.
    let out = m.tick(&a, &b);
    assert_eq!(out.a_hears, b);
    assert!(out.b_hears.samples().iter().all(|&s| s == 109));

    // Back to listening: nobody hears the supervisor any more.
    m.set_mode(id, SpyMode::Listen).unwrap();
    m.supervisor_says(id, &Frame::from_samples(&[5; 160]).unwrap())
        .unwrap();
    assert_eq!(m.tick_changes(&a, &b), [None, None]);
    assert!(m.detach(id));
    assert!(!m.is_hooked());
}
