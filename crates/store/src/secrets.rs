//! Digest HA1 values, the only form in which SIP secrets are kept.
//!
//! Computed here rather than through `sip::auth::ha1` so the store does not depend
//! on the SIP crate; both follow RFC 7616: `H(username ":" realm ":" password)`,
//! lower-case hex.

use md5::{Digest, Md5};
use sha2::Sha256;

/// HA1 for MD5 and for SHA-256, in that order, over `user:realm:secret`.
pub fn ha1_pair(user: &str, realm: &str, secret: &str) -> (String, String) {
    let input = format!("{user}:{realm}:{secret}");
    let md5 = hex::encode(Md5::digest(input.as_bytes()));
    let sha256 = hex::encode(Sha256::digest(input.as_bytes()));
    (md5, sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_7616_example() {
        // RFC 7616 section 3.9.1: Mufasa / http-auth@example.org / Circle of Life.
        let (md5, sha) = ha1_pair("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(md5, "3d78807defe7de2157e2b0b6573a855f");
        assert_eq!(
            sha,
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn depends_on_the_realm() {
        assert_ne!(ha1_pair("110", "a", "x"), ha1_pair("110", "b", "x"));
    }
}
