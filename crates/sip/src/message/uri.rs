//! SIP/SIPS URIs (RFC 3261 19.1) and, loosely, other schemes such as `tel:`.
//!
//! The user part is stored unescaped (`sip:%31%31%30@h` has user `110`) so the PBX can
//! compare extensions directly; Display escapes it again. IPv6 hosts are stored
//! without brackets (so `host.parse::<IpAddr>()` works) and written with them.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::error::ParseError;
use super::params::{self, Params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// Lower-case scheme: `sip`, `sips`, `tel`, ...
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Host name or address; for non-SIP schemes everything before the parameters.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// Raw `?h=v&...` part without the `?`.
    pub headers: Option<String>,
}

impl Uri {
    /// A plain `sip:` URI.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Uri {
        Uri {
            scheme: "sip".into(),
            user: user.map(str::to_string),
            password: None,
            host: host.to_string(),
            port,
            params: Vec::new(),
            headers: None,
        }
    }

    pub fn is_sip(&self) -> bool {
        self.scheme == "sip" || self.scheme == "sips"
    }

    /// `None` absent, `Some(None)` flag parameter (`;lr`), `Some(Some(v))` with value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        params::get_param(&self.params, name)
    }

    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        params::set_param(&mut self.params, name, value)
    }

    pub fn remove_param(&mut self, name: &str) {
        params::remove_param(&mut self.params, name)
    }

    /// `host[:port]` with IPv6 brackets, as used in Via sent-by and Host-like fields.
    pub fn host_port(&self) -> String {
        let host = bracket_host(&self.host);
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host.into_owned(),
        }
    }
}

/// Wrap IPv6 literals in brackets for the wire.
pub(crate) fn bracket_host(host: &str) -> std::borrow::Cow<'_, str> {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]").into()
    } else {
        host.into()
    }
}

/// Parse `host[:port]` (IPv6 in brackets). Used by URIs and Via sent-by.
pub(crate) fn parse_host_port(s: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, rest) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']').ok_or("unterminated IPv6 reference")?;
        let addr = &inner[..close];
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err("invalid IPv6 address");
        }
        (addr.to_string(), &inner[close + 1..])
    } else {
        let end = s.find(':').unwrap_or(s.len());
        let host = &s[..end];
        if host.is_empty() {
            return Err("empty host");
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err("invalid character in host");
        }
        (host.to_string(), &s[end..])
    };
    let port = match rest {
        "" => None,
        r => {
            let digits = r.strip_prefix(':').ok_or("garbage after host")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("invalid port");
            }
            Some(digits.parse::<u16>().map_err(|_| "port out of range")?)
        }
    };
    Ok((host, port))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

fn escape(s: &str, extra: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) || extra.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "invalid %-escape")?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| "invalid %-escape")?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escaped bytes are not UTF-8")
}

const USER_EXTRA: &[u8] = b"&=+$,;?/";
const PASSWORD_EXTRA: &[u8] = b"&=+$,";

impl FromStr for Uri {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let err = |reason| ParseError::uri(s, reason);
        let colon = s.find(':').ok_or_else(|| err("missing scheme"))?;
        let scheme = &s[..colon];
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(err("invalid scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        let rest = &s[colon + 1..];
        if rest.is_empty() {
            return Err(err("nothing after scheme"));
        }
        if rest
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(err("whitespace or control character in URI"));
        }
        // RFC 3986 excludes them from every part of a URI; let through, a '>' would
        // end the URI early once the value is written back as `<URI>`.
        if rest.bytes().any(|b| b == b'<' || b == b'>') {
            return Err(err("'<' or '>' inside a URI (a name-addr writes <URI>)"));
        }

        if scheme != "sip" && scheme != "sips" {
            // Opaque schemes (tel:, urn:, ...): keep what is before the parameters.
            let (body, params) = match rest.find(';') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            return Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: body.to_string(),
                port: None,
                params: params::parse_params(params).map_err(err)?,
                headers: None,
            });
        }

        let (userinfo, after_user) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(err("empty user part"));
                }
                let p = p.map(unescape).transpose().map_err(err)?;
                (Some(unescape(u).map_err(err)?), p)
            }
        };
        let (before_headers, headers) = match after_user.find('?') {
            Some(q) => (&after_user[..q], Some(after_user[q + 1..].to_string())),
            None => (after_user, None),
        };
        let (hostport, params) = match before_headers.find(';') {
            Some(i) => (&before_headers[..i], &before_headers[i..]),
            None => (before_headers, ""),
        };
        let (host, port) = parse_host_port(hostport).map_err(err)?;
        Ok(Uri {
            scheme,
            user,
            password,
            host,
            port,
            params: params::parse_params(params).map_err(err)?,
            headers,
        })
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if !self.is_sip() {
            f.write_str(&self.host)?;
            return params::write_params(f, &self.params);
        }
        if let Some(user) = &self.user {
            f.write_str(&escape(user, USER_EXTRA))?;
            if let Some(pw) = &self.password {
                write!(f, ":{}", escape(pw, PASSWORD_EXTRA))?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host_port())?;
        params::write_params(f, &self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_sip_uri() {
        let u: Uri = "sip:alice:secret@Example.COM:5070;transport=tcp;lr?subject=hi&x=y"
            .parse()
            .unwrap();
        assert_eq!(u.scheme, "sip");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, "Example.COM");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("tcp")));
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(u.headers.as_deref(), Some("subject=hi&x=y"));
        assert_eq!(
            u.to_string(),
            "sip:alice:secret@Example.COM:5070;transport=tcp;lr?subject=hi&x=y"
        );
    }

    #[test]
    fn ipv6_and_escapes() {
        let u: Uri = "SIPS:%31%31%30@[2001:db8::10]:5061".parse().unwrap();
        assert_eq!(u.scheme, "sips");
        assert_eq!(u.user.as_deref(), Some("110"));
        assert_eq!(u.host, "2001:db8::10");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.to_string(), "sips:110@[2001:db8::10]:5061");
        let u: Uri = "sip:[::1]".parse().unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, None);
        let u: Uri = "sip:user%20name;day=tue@h".parse().unwrap();
        assert_eq!(u.user.as_deref(), Some("user name;day=tue"));
        assert_eq!(u.to_string(), "sip:user%20name;day=tue@h");
    }

    #[test]
    fn tel_uri_is_opaque() {
        let u: Uri = "tel:+1-201-555-0123;phone-context=example.com"
            .parse()
            .unwrap();
        assert_eq!(u.host, "+1-201-555-0123");
        assert_eq!(u.param("phone-context"), Some(Some("example.com")));
        assert_eq!(
            u.to_string(),
            "tel:+1-201-555-0123;phone-context=example.com"
        );
    }

    #[test]
    fn bad_uris() {
        for bad in [
            "",
            "sip",
            "sip:",
            "sip:@host",
            "sip:a@",
            "sip:a@h:",
            "sip:a@h:99999",
            "sip:a@h:5x",
            "sip:[::1",
            "sip:[1:2:3:4:5:6:7:8:9]",
            "sip:a b@h",
            "sip:%4@h",
            "1sip:a@h",
            "sip:a@ho/st",
        ] {
            assert!(bad.parse::<Uri>().is_err(), "{bad:?} should fail");
        }
    }
}
