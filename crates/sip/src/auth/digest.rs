//! Response computation and constant-time verification.

use super::Credentials;

/// Response the client should have sent for `method` given the user's HA1.
///
/// - `qop=auth`: `H(HA1:nonce:nc:cnonce:auth:H(method:uri))`, with `nc` as the
///   exact 8 characters the client sent;
/// - RFC 2069 (no qop): `H(HA1:nonce:H(method:uri))`.
///
/// Also usable client-side (trunk registration): fill a [`Credentials`] and
/// put the result in `response`.
pub fn expected_response(creds: &Credentials, method: &str, ha1_hex: &str) -> String {
    let alg = creds.algorithm;
    let ha1 = ha1_hex.to_ascii_lowercase();
    let ha2 = alg.hash_hex(format!("{method}:{}", creds.uri).as_bytes());
    let input = match (&creds.qop, &creds.nc_hex, &creds.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", creds.nonce)
        }
        _ => format!("{ha1}:{}:{ha2}", creds.nonce),
    };
    alg.hash_hex(input.as_bytes())
}

/// True when `creds.response` is right for `method` and the stored HA1.
///
/// `ha1_hex` must be the HA1 for `creds.algorithm` (the store keeps one per
/// algorithm). The comparison takes the same time wherever the first
/// difference is, so the response cannot be guessed byte by byte.
/// Checking the realm, the `uri` against the Request-URI and the nonce
/// ([`super::NonceTracker::check`]) is the caller's job.
pub fn verify(creds: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let expected = expected_response(creds, method, ha1_hex);
    constant_time_eq(
        expected.as_bytes(),
        creds.response.to_ascii_lowercase().as_bytes(),
    )
}

/// Compares two byte strings without an early exit on the first mismatch.
/// Lengths are not secret (they follow from the algorithm), so unequal
/// lengths return at once.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::super::{ha1, Algorithm};
    use super::*;

    #[test]
    fn rfc2617_section_3_5() {
        let c = Credentials::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com",
               nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html",
               qop=auth, nc=00000001, cnonce="0a4f113b",
               response="6629fae49393a05397450978507c4ef1",
               opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(
            expected_response(&c, "GET", &h),
            "6629fae49393a05397450978507c4ef1"
        );
        assert!(verify(&c, "GET", &h));
        assert!(!verify(&c, "POST", &h));
        let wrong = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "circle of life",
        );
        assert!(!verify(&c, "GET", &wrong));
    }

    fn rfc7616(alg: &str, response: &str) -> Credentials {
        Credentials::parse(&format!(
            r#"Digest username="Mufasa", realm="http-auth@example.org",
               uri="/dir/index.html", algorithm={alg},
               nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001,
               cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth,
               response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        ))
        .unwrap()
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        let c = rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec");
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(verify(&c, "GET", &h));
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        let c = rfc7616(
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        );
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(verify(&c, "GET", &h));
        // The MD5 HA1 of the same user must not verify a SHA-256 response.
        let md5 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(!verify(&c, "GET", &md5));
    }

    /// REGISTER as a softphone sends it (Linphone-style spacing and order,
    /// unquoted algorithm/qop, nc=0000000b so a decimal formatter would fail).
    /// Expected values computed independently with Python's hashlib.
    #[test]
    fn softphone_register_sha256_and_md5() {
        let sha = "Digest realm=\"spygroup\", nonce=\"1a2B3c4D5e6F\", algorithm=SHA-256, \
                   username=\"110\",  uri=\"sip:pbx.example.com;transport=udp\", \
                   response=\"820544ec3b94e2ee0bc32fba5b267f9e5b80faf13c29e1c2dd47834bcefa6524\", \
                   cnonce=\"Yz9kQ2xhcGs\", nc=0000000b, qop=auth";
        let c = Credentials::parse(sha).unwrap();
        assert_eq!(c.nc, Some(11));
        let h = ha1(Algorithm::Sha256, "110", "spygroup", "s3cret-Pa55");
        assert_eq!(
            h,
            "6a36f77eea6179d3d46a191a7aaa2173f1bf281c080991f8cbff87bc9b1ca93e"
        );
        assert!(verify(&c, "REGISTER", &h));

        let md5 = "Digest username=\"110\",realm=\"spygroup\",nonce=\"1a2B3c4D5e6F\",\
                   uri=\"sip:pbx.example.com;transport=udp\",\
                   response=\"F6B43E190D50C7CA8EDA6259823CF7D4\",algorithm=MD5,\
                   cnonce=\"Yz9kQ2xhcGs\",qop=auth,nc=0000000b";
        let c = Credentials::parse(md5).unwrap();
        let h = ha1(Algorithm::Md5, "110", "spygroup", "s3cret-Pa55");
        assert!(verify(&c, "REGISTER", &h));
        assert!(verify(&c, "REGISTER", &h.to_ascii_uppercase()));
    }

    #[test]
    fn rfc2069_no_qop() {
        let c = Credentials::parse(
            r#"Digest username="110", realm="spygroup", nonce="abcdef",
               uri="sip:200@pbx.example.com", response="8d3a082a38cd203a23a7053fb8c57533""#,
        )
        .unwrap();
        let h = ha1(Algorithm::Md5, "110", "spygroup", "s3cret-Pa55");
        assert!(verify(&c, "INVITE", &h));
        assert!(!verify(&c, "REGISTER", &h));
    }

    #[test]
    fn tampered_fields_fail() {
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let good = rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec");
        let mut c = good.clone();
        c.nc_hex = Some("00000002".into());
        assert!(!verify(&c, "GET", &h));
        let mut c = good.clone();
        c.uri = "/other".into();
        assert!(!verify(&c, "GET", &h));
        let mut c = good.clone();
        c.cnonce = Some("x".into());
        assert!(!verify(&c, "GET", &h));
        let mut c = good;
        c.response = "8ca523f5e9506fed4657c9700eebdbe".into();
        assert!(!verify(&c, "GET", &h));
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
