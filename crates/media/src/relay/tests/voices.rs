//! What the takeover and hold tests share: phones that say a tone as PCMU
//! packets, and checks of which tones a frame holds.

use tokio::sync::oneshot;

use super::{header, Bench, Stream};
use crate::codec::AudioCodec;
use crate::control::Control;
use crate::frame::{Frame, SAMPLES_8K};
use crate::goertzel::tone_dbfs;
use crate::hooked::SpyLink;
use crate::mix::{SpyMode, VolumeStep};
use crate::side::Side;
use crate::tone::{FrameSource, ToneGenerator, ToneSpec};

pub(super) const AGENT: f64 = 1000.0;
pub(super) const CLIENT: f64 = 400.0;
pub(super) const SUPERVISOR: f64 = 1500.0;

pub(super) fn level(samples: &[i16], hz: f64) -> f64 {
    tone_dbfs(samples, hz, 8000)
}

pub(super) fn present(samples: &[i16], hz: f64, what: &str) {
    let l = level(samples, hz);
    assert!(
        (l - -12.0).abs() < 0.6,
        "{what}: {hz} Hz expected at -12 dBFS, got {l:.2}"
    );
}

pub(super) fn absent(samples: &[i16], hz: f64, what: &str) {
    let l = level(samples, hz);
    assert!(
        l < -50.0,
        "{what}: {hz} Hz expected absent, got {l:.2} dBFS"
    );
}

/// A tone, 20 ms at a time.
pub(super) struct Voice(pub(super) ToneGenerator);

impl Voice {
    pub(super) fn new(hz: f64) -> Voice {
        Voice(ToneGenerator::new(ToneSpec::sine(hz, -12.0)))
    }

    pub(super) fn frame(&mut self) -> Frame {
        let mut f = Frame::silence();
        assert!(self.0.next_frame(&mut f));
        f
    }
}

/// A phone saying a tone: one PCMU packet of it every 20 ms.
pub(super) struct Talker {
    pub(super) stream: Stream,
    pub(super) voice: Voice,
}

impl Talker {
    pub(super) fn new(ssrc: u32, hz: f64) -> Talker {
        Talker {
            stream: Stream::new(ssrc),
            voice: Voice::new(hz),
        }
    }

    pub(super) fn packet(&mut self) -> Vec<u8> {
        let mut p = self.stream.packet(0);
        let mut code = [0u8; SAMPLES_8K];
        AudioCodec::Pcmu
            .encode_frame(&self.voice.frame(), &mut code)
            .unwrap();
        p[12..].copy_from_slice(&code);
        p
    }
}

/// What a phone hears in a PCMU packet.
pub(super) fn decoded(pkt: &[u8]) -> Frame {
    assert_eq!(header(pkt).payload_type, 0, "PCMU");
    let mut f = Frame::silence();
    AudioCodec::Pcmu.decode_frame(&pkt[12..], &mut f).unwrap();
    f
}

pub(super) fn attach(b: &mut Bench, at_ms: u64, target: Side, mode: SpyMode) -> SpyLink {
    let (reply, mut link) = oneshot::channel();
    b.control(
        at_ms,
        Control::AttachSpy {
            target,
            mode,
            volume: VolumeStep::UNITY,
            one_way: false,
            reply,
        },
    );
    link.try_recv().expect("the relay replies at once")
}
