//! SRTP and SRTCP (RFC 3711) for the two crypto suites SIP phones offer with SDES
//! keys (RFC 4568): AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32.
//!
//! Sans-I/O and allocation-free per packet: `SrtpContext` turns a plain packet in a
//! caller's buffer into a protected one in place, and back. The buffers are the
//! relay's own datagram buffers, so protecting needs room after the packet for
//! the tag (and for SRTCP the index word); the caller sizes its buffers for that.
//!
//! - `key.rs`: the master key and salt as SDES carries them (`inline:` base64).
//! - `kdf.rs`: session keys from the master key (RFC 3711 4.3), the AES-CM
//!   keystream and the HMAC-SHA1 tag (4.1.1, 4.2.1).
//! - `replay.rs`: packet index estimation (3.3.1), the replay window (3.3.2) and
//!   the small fixed table of per-SSRC state.
//! - `context.rs`: protect/unprotect for RTP and RTCP.
//!
//! What is deliberately left out, because SDES phones do not use it: MKI, a key
//! derivation rate other than 0 (no re-keying within a session), key lifetimes
//! (a call ends long before 2^31 packets), F8 and AES-GCM suites.

mod context;
mod kdf;
mod key;
mod replay;

#[cfg(test)]
mod tests;

pub use context::SrtpContext;
pub use key::SrtpKey;

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A crypto suite: AES-128 in counter mode with an HMAC-SHA1 tag of 80 or 32 bits.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// The name used in `a=crypto` (RFC 4568 6.2).
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Bytes of authentication tag on each SRTP packet.
    pub fn tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }

    /// Bytes of authentication tag on each SRTCP packet: 10 for both suites.
    /// RFC 4568 6.2 gives the `_32` suite its short tag for SRTP only; SRTCP
    /// keeps 80 bits (libsrtp does the same), and getting this wrong breaks RTCP
    /// with every phone that uses the `_32` suite.
    pub fn rtcp_tag_len(self) -> usize {
        10
    }

    /// Every suite we implement, in our order of preference.
    pub const ALL: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The RFC 4568 names, in any case (its grammar is ABNF, whose literals are
/// case-insensitive); the SDES parser treats anything else as a suite we do not
/// implement and skips the line.
impl FromStr for SrtpSuite {
    type Err = SrtpError;

    fn from_str(s: &str) -> Result<SrtpSuite, SrtpError> {
        SrtpSuite::ALL
            .into_iter()
            .find(|suite| suite.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| SrtpError::UnknownSuite(s.to_string()))
    }
}

/// Why a key could not be used or a packet could not be protected or unprotected.
///
/// The per-packet variants carry no heap data, so that a flood of bad packets costs
/// no allocation; only key setup (`BadKey`, `UnknownSuite`) builds a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SrtpError {
    #[error("packet too short for SRTP/SRTCP ({len} bytes)")]
    TooShort { len: usize },
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    #[error("no room for the SRTP tag: the packet needs {needed} bytes of buffer, it has {have}")]
    NoRoom { needed: usize, have: usize },
    #[error("authentication failed (wrong key, corrupted or forged packet)")]
    AuthFailed,
    #[error("packet index already seen or older than the replay window")]
    Replayed,
    #[error("packet index exhausted for this key (2^31 SRTCP or 2^48 SRTP packets)")]
    IndexExhausted,
    #[error("bad SRTP key: {0}")]
    BadKey(String),
    #[error("unsupported SRTP crypto suite {0:?} (supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)")]
    UnknownSuite(String),
}
