//! SDP (RFC 4566 / RFC 3264) for the one thing the PBX needs from it: a single
//! audio stream per call leg.
//!
//! Parsing goes through `ezk-sdp-types` (see `parse.rs` for how it is fed); the PBX's
//! own descriptions are written directly (`build.rs`) so that every byte we send is
//! under our control. SRTP keys travel as SDES `a=crypto` lines (`crypto.rs`).

mod build;
mod codec;
mod crypto;
mod error;
mod negotiate;
mod parse;

#[cfg(test)]
mod tests;

pub use build::{build_sdp, SdpOrigin};
pub use codec::Codec;
pub use crypto::{answer_crypto, CryptoError, SdesCrypto};
pub use error::SdpError;
pub use negotiate::negotiate;
pub use parse::parse_audio;

use std::fmt;
use std::net::IpAddr;

/// Media direction attribute (`a=sendrecv` and friends), RFC 3264 section 6.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction the other side should answer with: an offer of `sendonly`
    /// (someone putting us on hold) is answered with `recvonly`, and so on.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// The attribute name as written in SDP.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport profile of an m-line (RFC 3551, 4585, 3711, 5124). The `F`
/// profiles add RTCP feedback, which the relay passes through like other RTCP;
/// the `S` profiles are SRTP, keyed by SDES `a=crypto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtpProfile {
    #[default]
    Avp,
    Avpf,
    Savp,
    Savpf,
}

impl RtpProfile {
    /// The protocol as written in the m-line.
    pub fn as_str(self) -> &'static str {
        match self {
            RtpProfile::Avp => "RTP/AVP",
            RtpProfile::Avpf => "RTP/AVPF",
            RtpProfile::Savp => "RTP/SAVP",
            RtpProfile::Savpf => "RTP/SAVPF",
        }
    }

    /// True for the SRTP profiles, where every packet must be protected.
    pub fn is_secure(self) -> bool {
        matches!(self, RtpProfile::Savp | RtpProfile::Savpf)
    }
}

impl fmt::Display for RtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one side said about its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDescription {
    /// Media-level `c=` address, or the session-level one when the m-line has none.
    pub addr: IpAddr,
    /// RTP port from the m-line (never 0: disabled streams are skipped).
    pub port: u16,
    /// Audio codecs in the order offered, telephone-event excluded. Static payload
    /// types (0, 8, 9, 18, ...) are known without an rtpmap; dynamic payload types
    /// without an rtpmap are left out because nothing can be said about them.
    pub codecs: Vec<Codec>,
    /// RFC 4733 telephone-event at 8000 Hz, if offered.
    pub dtmf: Option<Codec>,
    pub direction: Direction,
    /// `a=ptime` (milliseconds), media level first, then session level.
    pub ptime: Option<u32>,
    /// `a=rtcp` port (RFC 3605) when the phone does not use RTP port + 1.
    pub rtcp_port: Option<u16>,
    /// The m-line's profile. RTP/SAVP(F) always comes with at least one usable
    /// `crypto` line (`parse_audio` fails otherwise).
    pub profile: RtpProfile,
    /// The usable `a=crypto` lines in offered order; lines with a suite or
    /// parameters we do not support are left out. Kept for RTP/AVP too: pjsua
    /// with SRTP "optional" offers RTP/AVP with crypto lines, and answering one
    /// of them turns SRTP on.
    pub crypto: Vec<SdesCrypto>,
}

impl AudioDescription {
    /// True when this description puts the other side on hold: `sendonly` or
    /// `inactive`, or the RFC 2543 style `c=0.0.0.0` that older phones still send.
    pub fn is_hold(&self) -> bool {
        matches!(self.direction, Direction::SendOnly | Direction::Inactive)
            || self.addr.is_unspecified()
    }
}
