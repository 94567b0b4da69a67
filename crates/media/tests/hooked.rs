//! The decode -> mix -> encode path of a bridge over real sockets on 127.0.0.1: spy
//! hooks (listen, whisper), players, DTMF, and RTP continuity across attach/detach.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media::codec::AudioCodec;
use media::frame::{Frame, SAMPLES_8K};
use media::goertzel::tone_dbfs;
use media::mix::{SpyMode, VolumeStep};
use media::rtp::PayloadTypes;
use media::tone::{ToneGenerator, ToneSpec};
use media::{MediaBridge, MediaEngine, Side};
use tokio::net::UdpSocket;
use tokio::time::{sleep, Instant};

/// What a G.711 phone's SDP lists: PCMU, PCMA, telephone-event.
const G711: PayloadTypes = PayloadTypes::of(&[0, 8, 101]);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn engine() -> MediaEngine {
    let probe = std::net::UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let start = (probe.local_addr().unwrap().port() & !1).min(60000);
    drop(probe);
    MediaEngine::new(LOCALHOST, start..=start + 40)
}

/// A fake phone that sends a sine tone as PCMU every 20 ms and records what it gets.
struct Phone {
    sock: UdpSocket,
    tone: ToneGenerator,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

impl Phone {
    async fn new(freq: f64, ssrc: u32) -> Phone {
        Phone {
            sock: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            tone: ToneGenerator::new(ToneSpec::sine(freq, -12.0)),
            seq: 1,
            ts: 1000,
            ssrc,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    async fn send_frame(&mut self, to: SocketAddr) {
        use media::tone::FrameSource;
        let mut f = Frame::silence();
        self.tone.next_frame(&mut f);
        let mut payload = [0u8; SAMPLES_8K];
        AudioCodec::Pcmu.encode_frame(&f, &mut payload).unwrap();
        let mut pkt = vec![0x80, 0];
        pkt.extend_from_slice(&self.seq.to_be_bytes());
        pkt.extend_from_slice(&self.ts.to_be_bytes());
        pkt.extend_from_slice(&self.ssrc.to_be_bytes());
        pkt.extend_from_slice(&payload);
        self.sock.send_to(&pkt, to).await.unwrap();
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
    }

    /// Drains what arrived: decoded audio, and the RTP sequence numbers seen.
    fn drain(&self, audio: &mut Vec<i16>, seqs: &mut Vec<u16>) {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = self.sock.try_recv_from(&mut buf) {
            let h = media::rtp::RtpHeader::parse(&buf[..n]).unwrap();
            seqs.push(h.sequence);
            let payload = &buf[h.payload_offset..h.payload_offset + h.payload_len];
            let mut out = vec![0i16; payload.len()];
            AudioCodec::Pcmu.decode_into(payload, &mut out);
            audio.extend_from_slice(&out);
        }
    }
}

struct Call {
    bridge: MediaBridge,
    a: Phone,
    b: Phone,
    a_got: Vec<i16>,
    b_got: Vec<i16>,
    a_seqs: Vec<u16>,
}

impl Call {
    async fn new() -> Call {
        let bridge = engine().open_bridge().await.unwrap();
        let a = Phone::new(400.0, 0xA).await;
        let b = Phone::new(1000.0, 0xB).await;
        bridge.set_remote(Side::A, a.addr(), None, G711);
        bridge.set_remote(Side::B, b.addr(), None, G711);
        Call {
            bridge,
            a,
            b,
            a_got: Vec::new(),
            b_got: Vec::new(),
            a_seqs: Vec::new(),
        }
    }

    /// Both phones talk for `ms`, paced at 20 ms; returns the sample offset where
    /// this stretch starts in each phone's recording.
    async fn talk(&mut self, ms: u64) -> (usize, usize) {
        let start = (self.a_got.len(), self.b_got.len());
        let to_a = SocketAddr::new(LOCALHOST, self.bridge.port(Side::A));
        let to_b = SocketAddr::new(LOCALHOST, self.bridge.port(Side::B));
        let t0 = Instant::now();
        for i in 0..ms / 20 {
            self.a.send_frame(to_a).await;
            self.b.send_frame(to_b).await;
            tokio::time::sleep_until(t0 + Duration::from_millis(20 * (i + 1))).await;
            let mut ignore = Vec::new();
            self.a.drain(&mut self.a_got, &mut self.a_seqs);
            self.b.drain(&mut self.b_got, &mut ignore);
        }
        start
    }
}

/// The next frame a supervisor's pipe delivers, polled as a supervisor's bridge
/// would; `None` once the spied bridge closed it.
async fn next_frame(rx: &media::FrameReceiver) -> Option<Frame> {
    loop {
        match rx.try_recv() {
            Ok(f) => return Some(f),
            Err(media::Recv::Closed) => return None,
            Err(_) => sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Level of `freq` over the recording from `from` (skipping the first 200 ms of it).
fn level(samples: &[i16], from: usize, freq: f64) -> f64 {
    let s = &samples[(from + 1600).min(samples.len())..];
    tone_dbfs(s, freq, 8000)
}

fn hears(samples: &[i16], from: usize, freq: f64) -> bool {
    level(samples, from, freq) > -20.0
}

#[tokio::test]
async fn listen_then_whisper_then_detach() {
    let mut call = Call::new().await;
    let ctl = call.bridge.control();
    call.talk(600).await;

    // Listen on B (the agent): the supervisor hears both, the phones only each other.
    let link = ctl
        .attach_spy(Side::B, SpyMode::Listen, VolumeStep::UNITY)
        .await
        .unwrap();
    // The supervisor's side drains its queue every tick, as its own bridge would.
    // (Closing this queue would tell the bridge the supervisor left.)
    let spy_rx = link.hears;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let collector = tokio::spawn(async move {
        while let Some(f) = next_frame(&spy_rx).await {
            sink.lock().unwrap().extend_from_slice(f.samples());
        }
    });
    let (a0, b0) = call.talk(1000).await;
    let spy = got.lock().unwrap().clone();
    assert!(spy.len() >= 8000 / 2, "spy got {} samples", spy.len());
    assert!(
        hears(&spy, 0, 400.0) && hears(&spy, 0, 1000.0),
        "spy hears both parties: 400 {:.1} 1000 {:.1} ({} samples)",
        level(&spy, 0, 400.0),
        level(&spy, 0, 1000.0),
        spy.len()
    );
    assert!(hears(&call.a_got, a0, 1000.0) && !hears(&call.a_got, a0, 400.0));
    assert!(hears(&call.b_got, b0, 400.0) && !hears(&call.b_got, b0, 1000.0));

    // Whisper: the supervisor's 1500 Hz reaches B only.
    ctl.set_spy_mode(link.id, SpyMode::Whisper);
    let says = link.says.clone();
    let feeder = tokio::spawn(async move {
        use media::tone::FrameSource;
        let mut g = ToneGenerator::new(ToneSpec::sine(1500.0, -12.0));
        for _ in 0..60 {
            let mut f = Frame::silence();
            g.next_frame(&mut f);
            if says.send(&f).is_err() {
                break;
            }
            sleep(Duration::from_millis(20)).await;
        }
    });
    let (a1, b1) = call.talk(1000).await;
    feeder.await.unwrap();
    assert!(
        hears(&call.b_got, b1, 1500.0),
        "agent hears the whisper: {}",
        level(&call.b_got, b1, 1500.0)
    );
    assert!(
        hears(&call.b_got, b1, 400.0),
        "agent still hears the client"
    );
    assert!(
        !hears(&call.a_got, a1, 1500.0),
        "client must not hear the whisper"
    );
    assert!(
        hears(&call.a_got, a1, 1000.0),
        "client still hears the agent"
    );

    // Detach: back to the fast path, still talking.
    ctl.detach_spy(link.id);
    collector.abort();
    let (a2, _) = call.talk(600).await;
    assert!(hears(&call.a_got, a2, 1000.0));

    // The client's phone saw one continuous RTP stream through attach and detach.
    let gaps: Vec<(u16, u16)> = call
        .a_seqs
        .windows(2)
        .filter(|w| w[1] != w[0].wrapping_add(1))
        .map(|w| (w[0], w[1]))
        .collect();
    assert!(gaps.len() <= 2, "sequence discontinuities: {gaps:?}");
}

#[tokio::test]
async fn play_to_a_local_leg_and_dtmf() {
    let mut call = Call::new().await;
    let ctl = call.bridge.control();
    ctl.set_codec(Side::A, AudioCodec::Pcmu, Some(101));
    ctl.set_local(Side::A, true);
    let mut digits = ctl.dtmf(Side::A);
    let done = ctl.play(
        Side::A,
        Box::new(ToneGenerator::new(ToneSpec::sine(1500.0, -12.0))),
    );
    let (a0, _) = call.talk(800).await;
    assert!(hears(&call.a_got, a0, 1500.0), "A hears the player");
    assert!(
        !hears(&call.a_got, a0, 1000.0),
        "the player replaces B's audio"
    );
    ctl.stop_play(Side::A);
    assert_eq!(done.await.unwrap(), media::PlayEnd::Stopped);

    // RFC 4733 '5' from A: start, continuation, three end packets.
    let to_a = SocketAddr::new(LOCALHOST, call.bridge.port(Side::A));
    for (seq, (dur, end)) in (500u16..).zip([
        (160u16, false),
        (320, false),
        (480, true),
        (480, true),
        (480, true),
    ]) {
        let mut pkt = vec![0x80, 101];
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&90_000u32.to_be_bytes());
        pkt.extend_from_slice(&0xAu32.to_be_bytes());
        pkt.extend_from_slice(&[5, if end { 0x80 | 10 } else { 10 }]);
        pkt.extend_from_slice(&dur.to_be_bytes());
        call.a.sock.send_to(&pkt, to_a).await.unwrap();
        sleep(Duration::from_millis(20)).await;
    }
    let d = tokio::time::timeout(Duration::from_secs(2), digits.recv())
        .await
        .unwrap();
    assert_eq!(d, Some('5'));
    let mut extra = HashMap::new();
    while let Ok(d) = digits.try_recv() {
        *extra.entry(d).or_insert(0) += 1;
    }
    assert!(extra.is_empty(), "the digit is reported once: {extra:?}");
}

#[tokio::test]
async fn inband_digits_are_heard_only_from_phones_without_telephone_events() {
    // A phone that offered RFC 4733 sends its digits as events: tones in its audio
    // are speech or music, and taking them for digits would switch a supervisor's
    // mode behind their back. One that did not offer it gets in-band detection.
    let dtmf_five = ToneSpec {
        freqs: vec![770.0, 1336.0],
        level_dbfs: -10.0,
        cadence: Vec::new(),
        repeat: true,
    };
    for (dtmf_pt, expected) in [(None, Some('5')), (Some(101), None)] {
        let mut call = Call::new().await;
        let ctl = call.bridge.control();
        ctl.set_codec(Side::A, AudioCodec::Pcmu, dtmf_pt);
        ctl.set_local(Side::A, true);
        let mut digits = ctl.dtmf(Side::A);
        call.a.tone = ToneGenerator::new(dtmf_five.clone());
        call.talk(500).await;
        sleep(Duration::from_millis(100)).await;
        assert_eq!(
            digits.try_recv().ok(),
            expected,
            "telephone-event payload type {dtmf_pt:?}"
        );
        assert!(digits.try_recv().is_err(), "one digit at most");
    }
}

#[tokio::test]
async fn relay_converts_between_mu_law_and_a_law() {
    let mut call = Call::new().await;
    let ctl = call.bridge.control();
    // A's phone speaks mu-law, B's only A-law: the fast path converts each packet.
    ctl.set_codec(Side::A, AudioCodec::Pcmu, Some(101));
    ctl.set_codec(Side::B, AudioCodec::Pcma, Some(101));
    let to_b = SocketAddr::new(LOCALHOST, call.bridge.port(Side::B));
    let to_a = SocketAddr::new(LOCALHOST, call.bridge.port(Side::A));
    // Prime B's latching so packets flow to B.
    call.b.send_frame(to_b).await;
    let mut got = Vec::new();
    for _ in 0..25 {
        call.a.send_frame(to_a).await;
        sleep(Duration::from_millis(20)).await;
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = call.b.sock.try_recv_from(&mut buf) {
            let h = media::rtp::RtpHeader::parse(&buf[..n]).unwrap();
            assert_eq!(h.payload_type, 8, "B must receive A-law");
            let payload = &buf[h.payload_offset..h.payload_offset + h.payload_len];
            let mut out = vec![0i16; payload.len()];
            AudioCodec::Pcma.decode_into(payload, &mut out);
            got.extend_from_slice(&out);
        }
    }
    assert!(got.len() >= 160 * 15, "B got {} samples", got.len());
    let level = tone_dbfs(&got, 400.0, 8000);
    assert!(
        level > -14.0,
        "the 400 Hz tone survives the conversion: {level:.1} dBFS"
    );
}

#[tokio::test]
async fn dtmf_crosses_a_mixed_call() {
    let mut call = Call::new().await;
    let ctl = call.bridge.control();
    ctl.set_codec(Side::A, AudioCodec::Pcmu, Some(101));
    ctl.set_codec(Side::B, AudioCodec::Pcmu, Some(101));
    let _link = ctl
        .attach_spy(Side::B, SpyMode::Listen, VolumeStep::UNITY)
        .await
        .unwrap();
    call.talk(300).await;
    // A presses 7 (RFC 4733) while the call is on the decode path.
    let to_a = SocketAddr::new(LOCALHOST, call.bridge.port(Side::A));
    for (seq, (dur, end)) in
        (900u16..).zip([(160u16, false), (320, false), (480, true), (480, true)])
    {
        let mut pkt = vec![0x80, 101];
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&77_000u32.to_be_bytes());
        pkt.extend_from_slice(&0xAu32.to_be_bytes());
        pkt.extend_from_slice(&[7, if end { 0x80 | 10 } else { 10 }]);
        pkt.extend_from_slice(&dur.to_be_bytes());
        call.a.sock.send_to(&pkt, to_a).await.unwrap();
        sleep(Duration::from_millis(20)).await;
    }
    // B's phone gets the digit as telephone-events in its stream, ending with E.
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(50), call.b.sock.recv_from(&mut buf)).await
        {
            let h = media::rtp::RtpHeader::parse(&buf[..n]).unwrap();
            if h.payload_type == 101 {
                events.push((buf[h.payload_offset], buf[h.payload_offset + 1] & 0x80 != 0));
            }
        }
        if events.iter().any(|(_, end)| *end) {
            break;
        }
    }
    assert!(!events.is_empty(), "no telephone-event reached B");
    assert!(events.iter().all(|(e, _)| *e == 7), "{events:?}");
    assert!(
        events.iter().any(|(_, end)| *end),
        "the event must end: {events:?}"
    );
}

/// A phone that is only listened to gets the other phone's packets forwarded as they
/// arrive, not a stream re-made on the 20 ms clock: a burst of five packets arrives as
/// a burst, in order, with its payloads untouched. On the generated path the jitter
/// buffer would space them 20 ms apart (80 ms from first to last) after its delay.
#[tokio::test]
async fn a_listened_call_is_still_forwarded_packet_by_packet() {
    let mut call = Call::new().await;
    let ctl = call.bridge.control();
    call.talk(200).await;
    let link = ctl
        .attach_spy(Side::B, SpyMode::Listen, VolumeStep::UNITY)
        .await
        .unwrap();
    let spy_rx = link.hears;
    call.talk(200).await;

    let to_b = SocketAddr::new(LOCALHOST, call.bridge.port(Side::B));
    for k in 0..5u8 {
        let mut pkt = vec![0x80, 0];
        pkt.extend_from_slice(&(call.b.seq.wrapping_add(u16::from(k))).to_be_bytes());
        pkt.extend_from_slice(&(call.b.ts.wrapping_add(160 * u32::from(k))).to_be_bytes());
        pkt.extend_from_slice(&0xBu32.to_be_bytes());
        pkt.extend_from_slice(&[0x20 + k; SAMPLES_8K]);
        call.b.sock.send_to(&pkt, to_b).await.unwrap();
    }
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(2);
    while arrivals.len() < 5 && Instant::now() < deadline {
        let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(200), call.a.sock.recv_from(&mut buf)).await
        else {
            continue;
        };
        let h = media::rtp::RtpHeader::parse(&buf[..n]).unwrap();
        let payload = &buf[h.payload_offset..h.payload_offset + h.payload_len];
        if let Some(k) = (0..5u8).find(|&k| payload.iter().all(|&x| x == 0x20 + k)) {
            arrivals.push((k, Instant::now()));
        }
    }
    let order: Vec<u8> = arrivals.iter().map(|(k, _)| *k).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4], "untouched payloads, in order");
    let spread = arrivals[4].1 - arrivals[0].1;
    assert!(
        spread < Duration::from_millis(60),
        "forwarded as a burst, not re-clocked: {spread:?}"
    );
    // Meanwhile the supervisor hears the call through the hook.
    let f = tokio::time::timeout(Duration::from_secs(1), next_frame(&spy_rx))
        .await
        .expect("the spy hears frames")
        .expect("the hook is attached");
    assert_eq!(f.samples().len(), SAMPLES_8K);
}
