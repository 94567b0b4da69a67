//! Digest hash algorithms and HA1 derivation.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::AuthError;

/// Hash algorithm of a digest challenge (RFC 7616 section 3.3, RFC 8760).
///
/// The `-sess` variants are refused: they need the client's cnonce to derive
/// HA1, which defeats storing only HA1, and no phone we target needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Token as it appears in `algorithm=` (RFC 7616 spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lowercase hex digest of `data`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }

    /// Length in hex characters of a digest produced by this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else {
            Err(AuthError::UnsupportedAlgorithm(s.to_string()))
        }
    }
}

/// `H(user:realm:password)` in lowercase hex.
///
/// This is the only form in which the store keeps SIP secrets (one per
/// algorithm), so a database leak does not reveal passwords usable elsewhere.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(format!("{user}:{realm}:{password}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("md5".parse::<Algorithm>(), Ok(Algorithm::Md5));
        assert_eq!("MD5".parse::<Algorithm>(), Ok(Algorithm::Md5));
        assert_eq!("sha-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
        assert_eq!("SHA-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
    }

    #[test]
    fn rejects_sess_and_unknown() {
        for bad in ["MD5-sess", "SHA-256-sess", "SHA-512-256", "", "SHA256"] {
            assert_eq!(
                bad.parse::<Algorithm>(),
                Err(AuthError::UnsupportedAlgorithm(bad.to_string()))
            );
        }
    }

    #[test]
    fn ha1_matches_rfc2617_example() {
        // RFC 2617 3.5: HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life").
        assert_eq!(
            ha1(
                Algorithm::Md5,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            ),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    #[test]
    fn hash_lengths() {
        assert_eq!(
            Algorithm::Md5.hash_hex(b"x").len(),
            Algorithm::Md5.hex_len()
        );
        assert_eq!(
            Algorithm::Sha256.hash_hex(b"x").len(),
            Algorithm::Sha256.hex_len()
        );
    }
}
