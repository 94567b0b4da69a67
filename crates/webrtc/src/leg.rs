//! One browser's leg at run time: str0m fed from two sockets and the clock.
//!
//! str0m's rule: after every input (a datagram, a timeout, media to send) drain
//! `poll_output` until it asks for a timeout, and only then wait again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::rtp;
use crate::transcode::Transcoder;

/// How a leg ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEnd {
    /// The PBX ended it (the monitor stopped).
    Stopped,
    /// The browser closed its connection, or stopped answering ICE checks.
    BrowserGone,
    /// No browser connected in time.
    NeverConnected,
    /// str0m or a socket failed.
    Failed(String),
}

/// A browser that does not finish ICE and DTLS in this time is given up.
const CONNECT_WITHIN: Duration = Duration::from_secs(15);

struct Leg {
    rtc: Rtc,
    ice: UdpSocket,
    /// `ice`'s address, asked once (not a system call per datagram).
    ice_addr: SocketAddr,
    local: UdpSocket,
    pbx: SocketAddr,
    /// The audio m-line, once str0m announced it.
    audio: Option<Mid>,
    /// What the browser is sent: Opus when it took Opus (better sound, FEC), else
    /// G.711 as it is; chosen from the negotiated payloads at the first packet.
    toward_browser: Option<(Pt, Codec)>,
    to_pbx: rtp::Sender,
    connected: bool,
    /// For a browser that speaks Opus (made at its first Opus packet either way).
    opus: Option<Transcoder>,
    /// The last packet sent to the PBX: when, and its RTP timestamp.
    last_to_pbx: (Instant, u32),
}

/// A browser that sends nothing (no microphone: listen only) still keeps its leg
/// alive: after this long without audio from it, a packet of silence goes to the
/// PBX, whose RTP timeout would otherwise end the monitor.
const KEEPALIVE: Duration = Duration::from_secs(1);

pub(crate) async fn pump(
    rtc: Rtc,
    ice: UdpSocket,
    local: UdpSocket,
    pbx: SocketAddr,
    stop: impl std::future::Future<Output = ()>,
) -> LegEnd {
    let ice_addr = match ice.local_addr() {
        Ok(a) => a,
        Err(e) => return LegEnd::Failed(e.to_string()),
    };
    let mut leg = Leg {
        rtc,
        ice,
        ice_addr,
        local,
        pbx,
        audio: None,
        toward_browser: None,
        to_pbx: rtp::Sender::new(rand_ssrc()),
        connected: false,
        opus: None,
        last_to_pbx: (Instant::now(), 0),
    };
    let end = leg.run(stop).await;
    leg.rtc.disconnect();
    let _ = leg.drain().await;
    tracing::info!(?end, "webrtc leg ended");
    end
}

fn rand_ssrc() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(16) ^ std::process::id()
}

impl Leg {
    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> LegEnd {
        tokio::pin!(stop);
        let give_up = Instant::now() + CONNECT_WITHIN;
        let mut ice_buf = vec![0u8; 2000];
        let mut rtp_buf = vec![0u8; 2000];
        loop {
            let deadline = match self.drain().await {
                Ok(Some(d)) => d,
                Ok(None) => return LegEnd::BrowserGone,
                Err(e) => return LegEnd::Failed(e),
            };
            if !self.connected && Instant::now() > give_up {
                return LegEnd::NeverConnected;
            }
            let wake = deadline.min(Instant::now() + Duration::from_millis(500));
            let input = tokio::select! {
                _ = &mut stop => return LegEnd::Stopped,
                r = self.ice.recv_from(&mut ice_buf) => match r {
                    Ok((_, source)) if !self.reachable(source) => continue,
                    Ok((n, source)) => {
                        let destination = self.ice_addr;
                        let Ok(contents) = ice_buf[..n].try_into() else { continue };
                        Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination, contents })
                    }
                    Err(e) => return LegEnd::Failed(e.to_string()),
                },
                r = self.local.recv_from(&mut rtp_buf) => match r {
                    Ok((n, from)) if from == self.pbx => {
                        self.send_to_browser(n, &rtp_buf);
                        continue;
                    }
                    // Anything but the PBX's port for this leg is dropped.
                    Ok(_) => continue,
                    Err(e) => return LegEnd::Failed(e.to_string()),
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    self.keep_alive().await;
                    Input::Timeout(Instant::now())
                }
            };
            if let Err(e) = self.rtc.handle_input(input) {
                return LegEnd::Failed(e.to_string());
            }
        }
    }

    /// 20 ms of µ-law silence to the PBX when the browser has been quiet for
    /// [`KEEPALIVE`], its timestamp where the browser's clock would be by now.
    async fn keep_alive(&mut self) {
        let (at, ts) = self.last_to_pbx;
        let quiet = at.elapsed();
        if !self.connected || quiet < KEEPALIVE {
            return;
        }
        let ts = ts.wrapping_add((quiet.as_millis() as u32).wrapping_mul(8));
        self.send_to_pbx(ts, &[0xff; 160]).await;
    }

    async fn send_to_pbx(&mut self, ts: u32, pcmu: &[u8]) {
        let packet = self.to_pbx.packet(rtp::PCMU, ts, false, pcmu);
        let _ = self.local.send_to(&packet, self.pbx).await;
        self.last_to_pbx = (Instant::now(), ts);
    }

    /// A candidate on loopback pairs only with loopback addresses: nothing else
    /// can reach it, and a browser's other candidates get no answer from it.
    fn reachable(&self, peer: SocketAddr) -> bool {
        !self.ice_addr.ip().is_loopback() || peer.ip().is_loopback()
    }

    /// The PBX's audio for the browser (mutates `rtc`: the loop drains next).
    fn send_to_browser(&mut self, n: usize, buf: &[u8]) {
        let (Some(mid), true) = (self.audio, self.connected) else {
            return;
        };
        let Some((pt, ts, payload)) = rtp::parse(&buf[..n]) else {
            return;
        };
        if pt != rtp::PCMU {
            return;
        }
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let chosen = *self.toward_browser.get_or_insert_with(|| {
            let pt_of = |codec| {
                writer
                    .payload_params()
                    .find(|p| p.spec().codec == codec)
                    .map(|p| (p.pt(), codec))
            };
            pt_of(Codec::Opus)
                .or_else(|| pt_of(Codec::PCMU))
                .unwrap_or((rtp::PCMU.into(), Codec::PCMU))
        });
        let (pt, time, data) = match chosen {
            (opus_pt, Codec::Opus) => {
                let Some(t) = transcoder(&mut self.opus) else {
                    return;
                };
                let Some(packet) = t.encode(payload) else {
                    return;
                };
                let time = MediaTime::new(u64::from(ts) * 6, Frequency::FORTY_EIGHT_KHZ);
                (opus_pt, time, packet)
            }
            (pcmu_pt, _) => {
                let time = MediaTime::new(u64::from(ts), Frequency::EIGHT_KHZ);
                (pcmu_pt, time, payload.to_vec())
            }
        };
        if let Err(e) = writer.write(pt, Instant::now(), time, data) {
            tracing::debug!("webrtc leg: audio to the browser dropped: {e}");
        }
    }

    /// Carries out str0m's outputs until it asks for a timeout (`Some(when)`);
    /// `None`: the browser is gone.
    async fn drain(&mut self) -> Result<Option<Instant>, String> {
        loop {
            match self.rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => return Ok(Some(t)),
                Output::Transmit(t) => {
                    if self.reachable(t.destination) {
                        let _ = self.ice.send_to(&t.contents, t.destination).await;
                    }
                }
                Output::Event(ev) => match ev {
                    Event::Connected => {
                        tracing::info!("webrtc leg: the browser is connected (ICE, DTLS-SRTP)");
                        self.connected = true;
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        return Ok(None);
                    }
                    Event::MediaAdded(m) if m.kind == MediaKind::Audio => self.audio = Some(m.mid),
                    Event::MediaData(d) => {
                        let ts = d.time.rebase(Frequency::EIGHT_KHZ).numer() as u32;
                        let pcmu = match d.params.spec().codec {
                            Codec::PCMU => d.data.to_vec(),
                            Codec::Opus => {
                                let Some(t) = transcoder(&mut self.opus) else {
                                    continue;
                                };
                                let Some(pcmu) = t.decode(&d.data) else {
                                    continue;
                                };
                                pcmu
                            }
                            _ => continue,
                        };
                        self.send_to_pbx(ts, &pcmu).await;
                    }
                    _ => {}
                },
            }
        }
    }
}

/// The leg's Opus transcoder, made when first needed; None if libopus refuses.
fn transcoder(slot: &mut Option<Transcoder>) -> Option<&mut Transcoder> {
    if slot.is_none() {
        match Transcoder::new() {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                tracing::warn!("webrtc leg: no Opus: {e}");
                return None;
            }
        }
    }
    slot.as_mut()
}
