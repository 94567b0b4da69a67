//! One leg on the decode path: its jitter buffer and codec, DTMF detection, what the
//! PBX plays to it, and where its decoded audio goes (a supervisor's voice).

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::pipe::FrameSender;

use crate::codec::AudioCodec;
use crate::dtmf::{DtmfEvent, DtmfSender, InbandDetector, Rfc4733Receiver};
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
    /// Boxed, as the detector below: the decode path's state (a kilobyte and more)
    /// stays off the lines the forwarding path reads for every packet (see
    /// `Relay`).
    pub jitter: Box<JitterBuffer>,
    pub codec: AudioCodec,
    pub dtmf_pt: Option<u8>,
    /// `codec` was set from this leg's SDP (until then the relay never transcodes).
    pub negotiated: bool,
    rfc4733: Rfc4733Receiver,
    inband: Box<InbandDetector>,
    /// The PBX terminates this leg's media (it answered the call itself): decode what
    /// the phone sends (in-band DTMF) and keep sending it audio.
    pub local: bool,
    /// The phone left the call while the call goes on (a supervisor took it
    /// over): it is sent nothing, and what it still sends is not heard.
    pub released: bool,
    pub player: Option<Player>,
    /// Music on hold: heard in place of the peer while the peer holds this phone
    /// (whispers still mix on top, as Asterisk's audiohooks do on MOH).
    pub hold_music: Option<Box<dyn FrameSource + Send>>,
    /// A short sound mixed over whatever this phone hears (a monitoring notice),
    /// dropped when it ends.
    pub notice: Option<Box<dyn FrameSource + Send>>,
    /// Digits for whoever runs this leg's dialplan.
    pub dtmf: Option<mpsc::UnboundedSender<char>>,
    /// This leg's decoded audio for another bridge (a supervisor's voice).
    pub talk: Option<FrameSender>,
    /// Our own RTP stream when we generate audio for this leg; the leg's
    /// `StreamRewriter` splices it into what the phone already receives.
    pub gen_ssrc: u32,
    pub gen_seq: u16,
    pub gen_ts: u32,
    /// Digits to replay to this phone, and the timestamp of the one being sent.
    dtmf_out: std::collections::VecDeque<DtmfSender>,
    dtmf_ts: u32,
}

impl SideProc {
    pub fn new() -> SideProc {
        SideProc {
            jitter: Box::new(JitterBuffer::new(JitterConfig::default())),
            codec: AudioCodec::Pcmu,
            dtmf_pt: None,
            negotiated: false,
            rfc4733: Rfc4733Receiver::new(8000),
            inband: Box::new(InbandDetector::new()),
            local: false,
            released: false,
            player: None,
            hold_music: None,
            notice: None,
            dtmf: None,
            talk: None,
            gen_ssrc: rand::random(),
            gen_seq: rand::random(),
            gen_ts: rand::random(),
            dtmf_out: std::collections::VecDeque::new(),
            dtmf_ts: 0,
        }
    }

    pub fn needs_processing(&self) -> bool {
        self.local
            || self.player.is_some()
            || self.talk.is_some()
            || self.hold_music.is_some()
            || self.notice.is_some()
    }

    /// This leg's phone hears a stream the PBX makes (a digit being replayed
    /// finishes before forwarding resumes).
    pub fn generates(&self) -> bool {
        self.local
            || self.player.is_some()
            || self.hold_music.is_some()
            || self.notice.is_some()
            || !self.dtmf_out.is_empty()
    }

    /// What this phone hears from its peer this tick: music while held, else
    /// `peer` (what the peer sent).
    pub fn hears_from_peer(&mut self, peer: Option<Frame>) -> Option<Frame> {
        let Some(music) = self.hold_music.as_mut() else {
            return peer;
        };
        let mut f = Frame::silence();
        music.next_frame(&mut f);
        Some(f)
    }

    /// An RFC 4733 packet from this leg's phone.
    /// Returns the digits that ended, so the relay can replay them to the other
    /// phone while it generates that phone's stream.
    pub fn on_telephone_event(
        &mut self,
        datagram: &[u8],
        pt: u8,
        now: Instant,
    ) -> Vec<(char, u32)> {
        let events = self.rfc4733.on_rtp(datagram, pt, now);
        let ended = events
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::End { digit, duration_ms } => Some((*digit, *duration_ms)),
                DtmfEvent::Begin { .. } => None,
            })
            .collect();
        self.report(events);
        ended
    }

    /// Queues a digit to send to this leg's phone as RFC 4733 events in our
    /// generated stream (a digit from the other phone while the call is mixed).
    pub fn queue_dtmf(&mut self, digit: char, duration_ms: u32) {
        if self.dtmf_pt.is_none() {
            return;
        }
        let duration = std::time::Duration::from_millis(u64::from(duration_ms.clamp(40, 2000)));
        if let Ok(sender) = DtmfSender::new(digit, duration, 10) {
            self.dtmf_out.push_back(sender);
        }
    }

    /// The next RFC 4733 packet to send instead of audio this tick, if a digit is
    /// being replayed. All packets of one event share its start timestamp.
    pub fn packetize_dtmf(&mut self, buf: &mut [u8]) -> Option<usize> {
        let pt = self.dtmf_pt?;
        loop {
            let sender = self.dtmf_out.front_mut()?;
            match sender.next_packet() {
                Some(p) => {
                    if p.marker {
                        self.dtmf_ts = self.gen_ts;
                    }
                    buf[0] = 0x80;
                    buf[1] = pt | if p.marker { 0x80 } else { 0 };
                    buf[2..4].copy_from_slice(&self.gen_seq.to_be_bytes());
                    buf[4..8].copy_from_slice(&self.dtmf_ts.to_be_bytes());
                    buf[8..12].copy_from_slice(&self.gen_ssrc.to_be_bytes());
                    buf[12..16].copy_from_slice(&p.payload);
                    self.gen_seq = self.gen_seq.wrapping_add(1);
                    // Audio resumes after the event, on the media clock.
                    self.gen_ts = self.gen_ts.wrapping_add(160);
                    return Some(16);
                }
                None => {
                    self.dtmf_out.pop_front();
                }
            }
        }
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

    /// In-band DTMF is listened for only on a leg the PBX answered whose phone did
    /// not offer RFC 4733 telephone-events, as Asterisk's `dtmf_mode=auto` does: a
    /// phone that sends digits as events would only risk speech being taken for
    /// digits ("talk-off", a supervisor's voice switching their mode).
    fn detects_inband(&self) -> bool {
        self.local && self.dtmf_pt.is_none()
    }

    /// This tick's frame from the phone (after the jitter buffer), also fed to the
    /// in-band DTMF detector and to whoever listens to this leg. `wanted` says the
    /// bridge uses it (a spy hook, or the other phone hears a mix); when nothing
    /// does, the packets are played out without being decoded and this is `None`.
    pub fn read(&mut self, now: Instant, wanted: bool) -> Option<Frame> {
        if let Some(e) = self.rfc4733.poll(now) {
            self.report(vec![e]);
        }
        let inband = self.detects_inband();
        if self.released {
            return None;
        }
        if !wanted && !inband && self.talk.is_none() {
            self.jitter.skip(now);
            return None;
        }
        let frame = self.jitter.pop(now).into_frame();
        if inband {
            let events = self.inband.process(&frame);
            self.report(events);
        }
        if let Some(talk) = &self.talk {
            let _ = talk.send(&frame);
        }
        Some(frame)
    }

    /// What this leg's phone hears: the player's audio while one plays, else the
    /// mix; a notice on top of either.
    pub fn output(&mut self, mixed: Frame) -> Frame {
        let mut out = self.played(mixed);
        if let Some(notice) = self.notice.as_mut() {
            let mut f = Frame::silence();
            if notice.next_frame(&mut f) {
                crate::mix::mix_into(&mut out, &f, crate::mix::VolumeStep::UNITY);
            } else {
                self.notice = None;
            }
        }
        out
    }

    fn played(&mut self, mixed: Frame) -> Frame {
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
