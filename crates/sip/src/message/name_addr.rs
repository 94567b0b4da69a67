//! `name-addr` / `addr-spec` values of From, To, Contact, Route and friends.
//!
//! In the bare form (`sip:b@h;tag=x`) RFC 3261 20 says the parameters belong to the
//! header, not to the URI; we follow that. Display always writes the `<...>` form,
//! which is valid everywhere and never ambiguous.

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::params::{self, Params};
use super::uri::Uri;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, ...).
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        params::get_param(&self.params, name)
    }

    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        params::set_param(&mut self.params, name, value)
    }

    /// The `tag` parameter, if present with a value.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    pub fn set_tag(&mut self, tag: &str) {
        self.set_param("tag", Some(tag))
    }

    /// Contact `expires` parameter; `None` if absent or not a number.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires").flatten()?.trim().parse().ok()
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let err = |reason| ParseError::header("name-addr", s, reason);
        if s.is_empty() {
            return Err(err("empty value"));
        }
        // Display name: a quoted string, or tokens before '<'.
        let (display, rest) = if s.starts_with('"') {
            let end = quoted_end(s).ok_or_else(|| err("unterminated quoted display name"))?;
            let rest = s[end..].trim_start();
            if !rest.starts_with('<') {
                return Err(err("quoted display name must be followed by <URI>"));
            }
            (Some(params::unquote(&s[..end])), rest)
        } else if let Some(lt) = s.find('<') {
            let name = s[..lt].trim();
            ((!name.is_empty()).then(|| name.to_string()), &s[lt..])
        } else {
            (None, s)
        };

        if let Some(inner) = rest.strip_prefix('<') {
            let gt = inner.find('>').ok_or_else(|| err("missing '>'"))?;
            let uri: Uri = inner[..gt].parse()?;
            let params = params::parse_params(&inner[gt + 1..]).map_err(err)?;
            if !inner[gt + 1..].trim().is_empty() && !inner[gt + 1..].trim().starts_with(';') {
                return Err(err("garbage after '>'"));
            }
            return Ok(NameAddr {
                display,
                uri,
                params,
            });
        }
        // Bare addr-spec: everything after the first ';' is a header parameter.
        let (uri, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        Ok(NameAddr {
            display: None,
            uri: uri.parse()?,
            params: params::parse_params(params).map_err(err)?,
        })
    }
}

/// Byte index just past the closing quote of the quoted string starting at 0.
fn quoted_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", params::quote(d))?;
        }
        write!(f, "<{}>", self.uri)?;
        params::write_params(f, &self.params)
    }
}

/// A Contact header value: `*` (only in REGISTER to remove all bindings) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactValue {
    Star,
    Addr(NameAddr),
}

impl FromStr for ContactValue {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "*" {
            Ok(ContactValue::Star)
        } else {
            s.parse().map(ContactValue::Addr)
        }
    }
}

impl fmt::Display for ContactValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactValue::Star => f.write_str("*"),
            ContactValue::Addr(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_name() {
        let n: NameAddr = r#""Bob \"B\" <x>" <sip:bob@h;transport=tcp> ;tag=abc"#
            .parse()
            .unwrap();
        assert_eq!(n.display.as_deref(), Some(r#"Bob "B" <x>"#));
        assert_eq!(n.uri.param("transport"), Some(Some("tcp")));
        assert_eq!(n.tag(), Some("abc"));
        let again: NameAddr = n.to_string().parse().unwrap();
        assert_eq!(again, n);
    }

    #[test]
    fn token_display_and_plain_angle() {
        let n: NameAddr = "Bob Smith <sip:b@h>".parse().unwrap();
        assert_eq!(n.display.as_deref(), Some("Bob Smith"));
        let n: NameAddr = "<sip:b@h>;expires=60;q=0.5".parse().unwrap();
        assert_eq!(n.display, None);
        assert_eq!(n.expires(), Some(60));
        assert_eq!(n.to_string(), "<sip:b@h>;expires=60;q=0.5");
    }

    #[test]
    fn bare_addr_spec_params_belong_to_header() {
        let mut n: NameAddr = "sip:b@h;tag=x;user=phone".parse().unwrap();
        assert!(n.uri.params.is_empty());
        assert_eq!(n.tag(), Some("x"));
        n.set_tag("y");
        assert_eq!(n.to_string(), "<sip:b@h>;tag=y;user=phone");
    }

    #[test]
    fn contact_star_and_errors() {
        assert_eq!(" * ".parse::<ContactValue>().unwrap(), ContactValue::Star);
        assert!(matches!(
            "<sip:a@h>".parse::<ContactValue>().unwrap(),
            ContactValue::Addr(_)
        ));
        for bad in [
            "",
            "\"open <sip:a@h>",
            "<sip:a@h",
            "\"x\" sip:a@h",
            "<sip:a@h> junk",
            "<>",
        ] {
            assert!(bad.parse::<NameAddr>().is_err(), "{bad:?}");
        }
    }
}
