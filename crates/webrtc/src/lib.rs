//! WebRTC legs for browsers: the console's Listen, Whisper and Barge without a
//! desk phone.
//!
//! A browser's leg is terminated here with str0m (a sans-I/O WebRTC stack: ICE
//! lite, DTLS-SRTP, RTP), and handed to the PBX as what its media bridges already
//! speak: plain RTP (G.711 µ-law, 20 ms) on a loopback socket. Toward the browser
//! it is Opus when the browser offers it (transcoded here: 8 kHz µ-law to 48 kHz
//! Opus and back), else µ-law as it is. To the switch the
//! browser is then a phone at `127.0.0.1:<port>` whose SDP it wrote itself, so a
//! browser's leg is a supervisor channel like any other (same grants, audit,
//! events and mixing), and nothing of WebRTC reaches the media engine.
//!
//! [`Gateway::accept`] answers a browser's offer; [`Accepted::run`] then pumps
//! packets both ways until the browser goes away or the PBX ends the leg.

mod leg;
mod resample;
mod rtp;
mod transcode;

#[cfg(test)]
mod testing;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::{Candidate, Rtc, RtcConfig};
use tokio::net::UdpSocket;

pub use leg::LegEnd;

/// Why a browser's offer could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    #[error("the offer is not a WebRTC SDP offer: {0}")]
    BadOffer(String),
    #[error("the offer has no audio this PBX can use (Opus or G.711 µ-law): {0}")]
    Refused(String),
    #[error("no UDP port for the browser's media: {0}")]
    Socket(#[from] std::io::Error),
}

/// Makes browsers' legs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The address browsers reach our ICE candidates at.
    ice_ip: IpAddr,
}

/// A browser's offer, answered: send `answer` back, point the PBX's media at
/// `rtp`, then [`Accepted::run`].
pub struct Accepted {
    /// The SDP answer for the browser.
    pub answer: String,
    /// Where the PBX sends the browser's audio (plain RTP, PCMU): a loopback socket.
    pub rtp: SocketAddr,
    rtc: Rtc,
    ice: UdpSocket,
    local: UdpSocket,
}

impl Gateway {
    /// Browsers reach this PBX's WebRTC media at `ice_ip` (one UDP port per leg).
    pub fn new(ice_ip: IpAddr) -> Gateway {
        Gateway { ice_ip }
    }

    pub fn ice_ip(&self) -> IpAddr {
        self.ice_ip
    }

    /// Answers a browser's offer (its `RTCPeerConnection.createOffer()` SDP) with
    /// ICE lite on a fresh UDP port, DTLS-SRTP, and Opus or G.711 µ-law audio.
    pub async fn accept(&self, offer: &str) -> Result<Accepted, WebRtcError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WebRtcError::BadOffer(e.to_string()))?;
        let ice = UdpSocket::bind(SocketAddr::new(self.ice_ip, 0)).await?;
        let local = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .build(Instant::now());
        let candidate = Candidate::host(ice.local_addr()?, "udp")
            .map_err(|e| WebRtcError::Refused(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebRtcError::Refused(e.to_string()))?;
        let answer = answer.to_sdp_string();
        if !answer.contains("opus/48000") && !answer.contains("PCMU/8000") {
            return Err(WebRtcError::Refused(
                "neither Opus nor PCMU in the offer's audio".into(),
            ));
        }
        Ok(Accepted {
            answer,
            rtp: local.local_addr()?,
            rtc,
            ice,
            local,
        })
    }
}

impl Accepted {
    /// Pumps the leg until the browser disconnects or `stop` resolves: the
    /// browser's audio goes to `pbx` (the PBX's media port for this leg) as plain
    /// RTP, what `pbx` sends here goes to the browser.
    pub async fn run(self, pbx: SocketAddr, stop: impl std::future::Future<Output = ()>) -> LegEnd {
        leg::pump(self.rtc, self.ice, self.local, pbx, stop).await
    }
}
