//! SDES: SRTP keys in SDP (`a=crypto`, RFC 4568).
//!
//! `tag SP suite SP inline:KEY[|lifetime][|mki:len] *(SP session-param)`, e.g.
//! `1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31`.
//!
//! An offer may carry several lines, alternatives in order of preference; a line
//! we cannot use is skipped (its error says why), and the answer takes the
//! first one we can.

use super::AudioDescription;
use crate::srtp::{SrtpError, SrtpKey, SrtpSuite};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// One usable `a=crypto` line: its tag, and the suite and key it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesCrypto {
    /// Identifies the line within the m-section; an answer repeats the tag of the
    /// offered line it accepts (RFC 4568).
    pub tag: u32,
    pub key: SrtpKey,
}

/// Why an `a=crypto` line cannot be used. The parser skips such a line; only when
/// no line of an SRTP stream is left does the offer fail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("malformed a=crypto: {0}")]
    Malformed(String),
    /// A suite we do not implement (AES-256, AES-GCM, F8, ...).
    #[error("crypto suite {0} is not supported")]
    UnknownSuite(String),
    #[error("{0}")]
    Key(SrtpError),
    /// A session parameter that changes SRTP in a way we do not implement.
    #[error("session parameter {0} is not supported")]
    UnsupportedParam(String),
}

/// Session parameters (RFC 4568 6.3) that ask for something we do not do:
/// clear or unauthenticated packets, re-keying, a separate FEC key. Others
/// (`WSH` is a hint, `FEC_ORDER` only matters with FEC) are safe to ignore.
const REFUSED_PARAMS: &[&str] = &[
    "UNENCRYPTED_SRTP",
    "UNENCRYPTED_SRTCP",
    "UNAUTHENTICATED_SRTP",
    "KDR",
    "FEC_KEY",
];

impl SdesCrypto {
    /// Parses the value of an `a=crypto:` attribute (what follows the colon).
    pub fn parse(value: &str) -> Result<SdesCrypto, CryptoError> {
        let mut words = value.split_ascii_whitespace();
        let tag = words
            .next()
            .filter(|t| t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                CryptoError::Malformed(format!("no tag (1 to 9 digits) in {value:?}"))
            })?;
        let suite = words
            .next()
            .ok_or_else(|| CryptoError::Malformed(format!("no crypto suite in {value:?}")))?;
        let suite: SrtpSuite = suite
            .parse()
            .map_err(|_| CryptoError::UnknownSuite(suite.to_string()))?;
        let key_params = words
            .next()
            .ok_or_else(|| CryptoError::Malformed(format!("no key in {value:?}")))?;
        let Some(inline) = key_params.strip_prefix("inline:") else {
            return Err(CryptoError::Malformed(format!(
                "key method of {key_params:?} is not inline:"
            )));
        };
        let key = SrtpKey::from_inline(suite, inline).map_err(CryptoError::Key)?;
        for param in words {
            let name = param.split('=').next().unwrap_or(param);
            if REFUSED_PARAMS.contains(&name) {
                return Err(CryptoError::UnsupportedParam(param.to_string()));
            }
        }
        Ok(SdesCrypto { tag, key })
    }

    /// Our answer to this offered line: the same tag and suite, and a fresh key of
    /// our own.
    pub fn answer(&self) -> SdesCrypto {
        SdesCrypto {
            tag: self.tag,
            key: SrtpKey::generate(self.key.suite),
        }
    }
}

impl FromStr for SdesCrypto {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<SdesCrypto, CryptoError> {
        SdesCrypto::parse(s)
    }
}

/// The attribute value as we send it: `1 AES_CM_128_HMAC_SHA1_80 inline:KEY`,
/// without lifetime (the default is the suite's maximum) or MKI.
impl fmt::Display for SdesCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.key.suite,
            self.key.inline()
        )
    }
}

/// RFC 4568 answer side: the first offered line whose suite we support (the
/// parser has already left out the others), answered with the same tag and suite
/// and a freshly generated key.
///
/// The two keys go different ways: the offerer encrypts with the key in its offer
/// (so that key is what we *decrypt* the offerer's packets with), and we encrypt
/// what we send it with the key in our answer. `None` when nothing usable was
/// offered: for RTP/SAVP `parse_audio` has already failed then; for RTP/AVP it
/// means answering in plain RTP.
pub fn answer_crypto(offer: &AudioDescription) -> Option<SdesCrypto> {
    offer.crypto.first().map(SdesCrypto::answer)
}
