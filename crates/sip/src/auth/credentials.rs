//! Parsing of `Authorization` / `Proxy-Authorization` digest credentials.

use std::collections::HashMap;

use super::params::{parse_params, strip_digest_scheme};
use super::{Algorithm, AuthError};

/// Digest credentials sent by a client.
///
/// Two forms are accepted:
/// - RFC 2617/7616 `qop=auth`: `cnonce`, `nc`, `nc_hex` and `qop` are all
///   `Some`; the response covers the client nonce and counter, so replays
///   can be detected per `nc`.
/// - RFC 2069 (no `qop`): still sent by old phones; `cnonce`, `nc`, `nc_hex`
///   and `qop` are `None` and the response is `H(HA1:nonce:H(A2))`. Replay
///   protection then rests only on nonce lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// `uri` parameter; the caller must check it names the Request-URI.
    pub uri: String,
    /// Client response, lowercased hex.
    pub response: String,
    /// `MD5` when the client omitted `algorithm` (RFC 7616 section 3.4).
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    /// Nonce count as a number, for replay checks.
    pub nc: Option<u32>,
    /// Nonce count exactly as sent (8 hex digits): the response hash covers
    /// these characters, so re-formatting the number could change case or
    /// padding and fail a valid client.
    pub nc_hex: Option<String>,
    /// Always `"auth"` when present (normalised to lowercase).
    pub qop: Option<String>,
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses a header value such as `Digest username="100", realm="pbx", ...`.
    ///
    /// Parameters may come in any order with any spacing; unknown ones are
    /// ignored, repeated ones are an error (an ambiguity an attacker could
    /// exploit between two parsers).
    pub fn parse(header_value: &str) -> Result<Credentials, AuthError> {
        let rest = strip_digest_scheme(header_value)?;
        let mut map: HashMap<String, String> = HashMap::new();
        for p in parse_params(rest)? {
            if map.contains_key(&p.name) {
                return Err(AuthError::Duplicate(p.name));
            }
            map.insert(p.name, p.value);
        }
        let mut take = |name: &'static str| map.remove(name);
        let username = take("username");
        let realm = take("realm");
        let nonce = take("nonce");
        let uri = take("uri");
        let response = take("response");
        let algorithm = take("algorithm");
        let cnonce = take("cnonce");
        let nc = take("nc");
        let qop = take("qop");
        let opaque = take("opaque");
        let userhash = take("userhash");

        if userhash.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(AuthError::UserhashUnsupported);
        }
        let username = non_empty("username", username)?;
        let realm = realm.ok_or(AuthError::Missing("realm"))?;
        let nonce = non_empty("nonce", nonce)?;
        let uri = non_empty("uri", uri)?;
        let response = response.ok_or(AuthError::Missing("response"))?;
        let algorithm = match algorithm {
            Some(a) => a.parse()?,
            None => Algorithm::Md5,
        };
        if response.len() != algorithm.hex_len() || !is_hex(&response) {
            return Err(AuthError::Invalid {
                name: "response",
                reason: format!(
                    "expected {} hex digits for {algorithm}",
                    algorithm.hex_len()
                ),
            });
        }
        let response = response.to_ascii_lowercase();

        let (qop, cnonce, nc, nc_hex) = match qop {
            None => (None, None, None, None),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let cnonce = non_empty("cnonce", cnonce)?;
                let nc_hex = nc.ok_or(AuthError::Missing("nc"))?;
                let nc = parse_nc(&nc_hex)?;
                (
                    Some("auth".to_string()),
                    Some(cnonce),
                    Some(nc),
                    Some(nc_hex),
                )
            }
            Some(q) => return Err(AuthError::UnsupportedQop(q)),
        };

        Ok(Credentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            nc,
            nc_hex,
            qop,
            opaque,
        })
    }
}

fn non_empty(name: &'static str, v: Option<String>) -> Result<String, AuthError> {
    match v {
        None => Err(AuthError::Missing(name)),
        Some(v) if v.is_empty() => Err(AuthError::Invalid {
            name,
            reason: "empty".to_string(),
        }),
        Some(v) => Ok(v),
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `nc` is exactly 8 hex digits (RFC 2617 section 3.2.2).
fn parse_nc(s: &str) -> Result<u32, AuthError> {
    let invalid = || AuthError::Invalid {
        name: "nc",
        reason: format!("`{s}` is not 8 hex digits"),
    };
    if s.len() != 8 || !is_hex(s) {
        return Err(invalid());
    }
    u32::from_str_radix(s, 16).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC2617: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn parses_rfc2617_example() {
        let c = Credentials::parse(RFC2617).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.nc_hex.as_deref(), Some("00000001"));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c.algorithm, Algorithm::Md5);
    }

    #[test]
    fn any_order_unknown_params_and_escapes() {
        let c = Credentials::parse(
            "digest   nc=0000000A ,response=\"ABCDEF0123456789abcdef0123456789\",x-foo=\"bar\",\
             algorithm=md5, QOP=\"auth\", cnonce=\"c\\\"n\", uri=\"sip:a@b\", nonce=n, \
             realm=\"r\\\\1\", username=u",
        )
        .unwrap();
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.nc_hex.as_deref(), Some("0000000A"));
        assert_eq!(c.response, "abcdef0123456789abcdef0123456789");
        assert_eq!(c.cnonce.as_deref(), Some("c\"n"));
        assert_eq!(c.realm, "r\\1");
        assert_eq!(c.opaque, None);
    }

    #[test]
    fn rfc2069_form_has_no_qop() {
        let c = Credentials::parse(
            r#"Digest username="100",realm="pbx",nonce="abc",uri="sip:pbx",response="0123456789abcdef0123456789abcdef""#,
        )
        .unwrap();
        assert_eq!((c.qop, c.nc, c.cnonce, c.nc_hex), (None, None, None, None));
    }

    #[test]
    fn nc_full_range() {
        let base = r#"Digest username=u,realm=r,nonce=n,uri=x,qop=auth,cnonce=c,response=0123456789abcdef0123456789abcdef,nc="#;
        let c = Credentials::parse(&format!("{base}ffffffff")).unwrap();
        assert_eq!(c.nc, Some(u32::MAX));
        let c = Credentials::parse(&format!("{base}00000100")).unwrap();
        assert_eq!(c.nc, Some(256));
        for bad in ["1", "256", "0000001", "000000001", "0000000g", "+0000001"] {
            assert!(
                matches!(
                    Credentials::parse(&format!("{base}{bad}")),
                    Err(AuthError::Invalid { name: "nc", .. })
                ),
                "nc={bad}"
            );
        }
    }

    #[test]
    fn errors() {
        let ok = "username=u,realm=r,nonce=n,uri=x,response=0123456789abcdef0123456789abcdef";
        let cases: Vec<(String, AuthError)> = vec![
            (format!("Basic {ok}"), AuthError::NotDigest),
            (
                format!("Digest {ok},username=v"),
                AuthError::Duplicate("username".into()),
            ),
            (
                format!("Digest {ok},Realm=v"),
                AuthError::Duplicate("realm".into()),
            ),
            (
                "Digest realm=r,nonce=n,uri=x,response=0123456789abcdef0123456789abcdef".into(),
                AuthError::Missing("username"),
            ),
            (
                "Digest username=u,realm=r,nonce=n,uri=x".into(),
                AuthError::Missing("response"),
            ),
            (
                "Digest username=u,nonce=n,uri=x,response=0123456789abcdef0123456789abcdef".into(),
                AuthError::Missing("realm"),
            ),
            (
                format!("Digest {ok},algorithm=MD5-sess"),
                AuthError::UnsupportedAlgorithm("MD5-sess".into()),
            ),
            (
                format!("Digest {ok},qop=auth-int,nc=00000001,cnonce=c"),
                AuthError::UnsupportedQop("auth-int".into()),
            ),
            (
                format!("Digest {ok},qop=auth,nc=00000001"),
                AuthError::Missing("cnonce"),
            ),
            (
                format!("Digest {ok},qop=auth,cnonce=c"),
                AuthError::Missing("nc"),
            ),
            (
                format!("Digest {ok},userhash=true"),
                AuthError::UserhashUnsupported,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Credentials::parse(&input), Err(want), "{input}");
        }
        // A 32-digit response does not fit SHA-256.
        assert!(matches!(
            Credentials::parse(&format!("Digest {ok},algorithm=SHA-256")),
            Err(AuthError::Invalid {
                name: "response",
                ..
            })
        ));
        assert!(matches!(
            Credentials::parse("Digest username=\"\",realm=r,nonce=n,uri=x,response=0123456789abcdef0123456789abcdef"),
            Err(AuthError::Invalid { name: "username", .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "",
            "Digest",
            "Digest ",
            "Digest ,",
            "Digest =",
            "Digest \"",
            "Digest a=\"\\",
            "Digest username=\u{1F600}",
            "Digest \u{1F600}=1",
            "\u{0}\u{0}",
            "Digest a=1,,,,b",
            "Digest username=\"u\" realm=r",
        ];
        for s in samples {
            assert!(Credentials::parse(s).is_err(), "{s:?}");
        }
        // Every prefix and a byte-rotated copy of a real header.
        for i in 0..RFC2617.len() {
            if RFC2617.is_char_boundary(i) {
                let _ = Credentials::parse(&RFC2617[..i]);
                let rotated = format!("{}{}", &RFC2617[i..], &RFC2617[..i]);
                let _ = Credentials::parse(&rotated);
            }
        }
    }
}
