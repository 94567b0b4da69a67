//! `WWW-Authenticate` / `Proxy-Authenticate` challenges.

use std::fmt::Write as _;

use super::Algorithm;

/// One digest challenge, always offering `qop="auth"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// Set when the client's response was right but its nonce expired, so
    /// the phone retries silently instead of prompting for a password
    /// (RFC 7616 section 3.3).
    pub stale: bool,
}

impl Challenge {
    /// The two challenges a server sends, SHA-256 first then MD5, each as
    /// its own header. RFC 8760 section 2.4 says clients pick the first
    /// algorithm they support, so modern phones use SHA-256 while old ones
    /// skip the unknown algorithm and fall back to MD5.
    pub fn offers(realm: &str, nonce: &str, opaque: Option<&str>, stale: bool) -> [Challenge; 2] {
        [Algorithm::Sha256, Algorithm::Md5].map(|algorithm| Challenge {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            algorithm,
            opaque: opaque.map(str::to_string),
            stale,
        })
    }

    /// Header value, e.g.
    /// `Digest realm="pbx", nonce="abc", algorithm=SHA-256, qop="auth", stale=true, opaque="x"`.
    /// `stale` is omitted when false; `opaque` when absent.
    pub fn to_header_value(&self) -> String {
        let mut s = String::from("Digest realm=");
        push_quoted(&mut s, &self.realm);
        s.push_str(", nonce=");
        push_quoted(&mut s, &self.nonce);
        let _ = write!(s, ", algorithm={}, qop=\"auth\"", self.algorithm);
        if self.stale {
            s.push_str(", stale=true");
        }
        if let Some(opaque) = &self.opaque {
            s.push_str(", opaque=");
            push_quoted(&mut s, opaque);
        }
        s
    }
}

/// Appends `v` as a quoted-string. `"` and `\` are escaped; CR, LF and other
/// control characters are dropped so a configured realm can never split the
/// header and inject another one.
fn push_quoted(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::params::{parse_params, strip_digest_scheme};
    use super::*;

    #[test]
    fn header_value_format() {
        let [sha, md5] = Challenge::offers("spygroup", "n0nce", Some("op"), true);
        assert_eq!(
            sha.to_header_value(),
            "Digest realm=\"spygroup\", nonce=\"n0nce\", algorithm=SHA-256, qop=\"auth\", stale=true, opaque=\"op\""
        );
        assert_eq!(
            md5.to_header_value(),
            "Digest realm=\"spygroup\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\", stale=true, opaque=\"op\""
        );
        let [plain, _] = Challenge::offers("spygroup", "n", None, false);
        assert_eq!(
            plain.to_header_value(),
            "Digest realm=\"spygroup\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\""
        );
    }

    #[test]
    fn escaping_round_trips_and_blocks_injection() {
        let c = Challenge {
            realm: "a\"b\\c\r\nX-Evil: 1".into(),
            nonce: "n".into(),
            algorithm: Algorithm::Md5,
            opaque: None,
            stale: false,
        };
        let v = c.to_header_value();
        assert!(!v.contains('\r') && !v.contains('\n'));
        let params = parse_params(strip_digest_scheme(&v).unwrap()).unwrap();
        assert_eq!(params[0].name, "realm");
        assert_eq!(params[0].value, "a\"b\\cX-Evil: 1");
    }
}
