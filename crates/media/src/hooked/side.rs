//! One leg on the decode path: its jitter buffer and codec, DTMF detection, what the
//! PBX plays to it, and where its decoded audio goes (a supervisor's voice).

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::codec::AudioCodec;
use crate::dtmf::{DtmfEvent, InbandDetector, Rfc4733Receiver};
use crate::frame::Frame;
use crate::jitter::{JitterBuffer, JitterConfig};
use crate::tone::FrameSource;

/// How a `play` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayEnd {
    /// The source ran out.
    Finished,
    /// Another `play` or `stop_play` replaced it, or the bridge closed.
    Stopped,
}

pub(crate) struct Player {
    pub source: Box<dyn FrameSource + Send>,
    pub done: Option<oneshot::Sender<PlayEnd>>,
}

impl Player {
    pub fn end(mut self, how: PlayEnd) {
        if let Some(done) = self.done.take() {
            let _ = done.send(how);
        }
    }
}

pub(crate) struct SideProc {
    pub jitter: JitterBuffer,
    pub codec: AudioCodec,
    pub dtmf_pt: Option<u8>,
    /// `codec` was set from this leg's SDP (until then the relay never transcodes).
    pub negotiated: bool,
    rfc4733: Rfc4733Receiver,
    inband: InbandDetector,
    /// The PBX terminates this leg's media (it answered the call itself): decode what
    /// the phone sends (in-band DTMF) and keep sending it audio.
    pub local: bool,
    pub player: Option<Player>,
    /// Digits for whoever runs this leg's dialplan.
    pub dtmf: Option<mpsc::UnboundedSender<char>>,
    /// This leg's decoded audio for another bridge (a supervisor's voice).
    pub talk: Option<mpsc::Sender<Frame>>,
    /// Our own RTP stream when we generate audio for this leg; the leg's
    /// `StreamRewriter` splices it into what the phone already receives.
    pub gen_ssrc: u32,
    pub gen_seq: u16,
    pub gen_ts: u32,
}

impl SideProc {
    pub fn new() -> SideProc {
        SideProc {
            jitter: JitterBuffer::new(JitterConfig::default()),
            codec: AudioCodec::Pcmu,
            dtmf_pt: None,
            negotiated: false,
            rfc4733: Rfc4733Receiver::new(8000),
            inband: InbandDetector::new(),
            local: false,
            player: None,
            dtmf: None,
            talk: None,
            gen_ssrc: rand::random(),
            gen_seq: rand::random(),
            gen_ts: rand::random(),
        }
    }

    pub fn needs_processing(&self) -> bool {
        self.local || self.player.is_some() || self.talk.is_some()
    }

    /// An RFC 4733 packet from this leg's phone.
    pub fn on_telephone_event(&mut self, datagram: &[u8], pt: u8, now: Instant) {
        let events = self.rfc4733.on_rtp(datagram, pt, now);
        self.report(events);
    }

    fn report(&mut self, events: Vec<DtmfEvent>) {
        for e in events {
            if let DtmfEvent::Begin { digit } = e {
                if let Some(tx) = &self.dtmf {
                    let _ = tx.send(digit);
                }
            }
        }
    }

    /// This tick's frame from the phone (after the jitter buffer), also fed to the
    /// in-band DTMF detector and to whoever listens to this leg.
    pub fn read(&mut self, now: Instant) -> Frame {
        if let Some(e) = self.rfc4733.poll(now) {
            self.report(vec![e]);
        }
        let frame = self.jitter.pop(now).into_frame();
        if self.local {
            let events = self.inband.process(&frame);
            self.report(events);
        }
        if let Some(talk) = &self.talk {
            let _ = talk.try_send(frame.clone());
        }
        frame
    }

    /// What this leg's phone hears: the player's audio while one plays, else the mix.
    pub fn output(&mut self, mixed: Frame) -> Frame {
        let Some(player) = self.player.as_mut() else {
            return mixed;
        };
        let mut out = Frame::silence();
        if player.source.next_frame(&mut out) {
            return out;
        }
        if let Some(p) = self.player.take() {
            p.end(PlayEnd::Finished);
        }
        mixed
    }

    /// Encodes a frame as the next packet of our generated stream into `buf`;
    /// returns its length.
    pub fn packetize(&mut self, frame: &Frame, buf: &mut [u8]) -> usize {
        const HEADER: usize = 12;
        let mut payload = [0u8; crate::frame::SAMPLES_8K];
        if self.codec.encode_frame(frame, &mut payload).is_err()
            || buf.len() < HEADER + payload.len()
        {
            return 0;
        }
        buf[0] = 0x80;
        buf[1] = self.codec.payload_type();
        buf[2..4].copy_from_slice(&self.gen_seq.to_be_bytes());
        buf[4..8].copy_from_slice(&self.gen_ts.to_be_bytes());
        buf[8..12].copy_from_slice(&self.gen_ssrc.to_be_bytes());
        buf[HEADER..HEADER + payload.len()].copy_from_slice(&payload);
        self.gen_seq = self.gen_seq.wrapping_add(1);
        self.gen_ts = self.gen_ts.wrapping_add(payload.len() as u32);
        HEADER + payload.len()
    }
}
