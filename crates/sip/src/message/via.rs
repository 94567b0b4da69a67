//! The Via header (RFC 3261 20.42) with rport (RFC 3581). Transaction matching keys
//! on `branch` and sent-by, and the transport edge stamps `received`/`rport`.

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::params::{self, Params};
use super::uri::{bracket_host, parse_host_port};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Upper-case transport token: `UDP`, `TCP`, `TLS`, `WS`, ...
    pub transport: String,
    /// sent-by host; IPv6 without brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Via {
        Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_string(),
            port,
            params: vec![("branch".into(), Some(branch.to_string()))],
        }
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        params::get_param(&self.params, name)
    }

    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        params::set_param(&mut self.params, name, value)
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// `None` no rport, `Some(None)` rport requested, `Some(Some(p))` filled in.
    /// A non-numeric value reads as requested-but-unfilled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport")
            .map(|v| v.and_then(|p| p.trim().parse().ok()))
    }

    /// `host[:port]` as written in the header (IPv6 bracketed).
    pub fn sent_by(&self) -> String {
        let host = bracket_host(&self.host);
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host.into_owned(),
        }
    }
}

impl FromStr for Via {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let err = |reason| ParseError::header("Via", s, reason);
        // sent-protocol: "SIP / 2.0 / UDP" with optional LWS around the slashes.
        let mut rest = s;
        let mut parts = Vec::with_capacity(3);
        for i in 0..3 {
            rest = rest.trim_start();
            let end = if i < 2 {
                rest.find('/')
                    .ok_or_else(|| err("sent-protocol needs SIP/2.0/transport"))?
            } else {
                rest.find(|c: char| c.is_ascii_whitespace())
                    .ok_or_else(|| err("missing sent-by"))?
            };
            parts.push(rest[..end].trim());
            rest = &rest[end + usize::from(i < 2)..];
        }
        if !parts[0].eq_ignore_ascii_case("SIP") || parts[1] != "2.0" {
            return Err(err("protocol must be SIP/2.0"));
        }
        if !params::is_token(parts[2]) {
            return Err(err("invalid transport"));
        }
        let rest = rest.trim_start();
        let (sent_by, param_str) = match rest.find(';') {
            Some(i) => (rest[..i].trim(), &rest[i..]),
            None => (rest.trim(), ""),
        };
        // LWS is allowed around the ':' of sent-by.
        let sent_by: String = sent_by.split_whitespace().collect();
        let (host, port) = parse_host_port(&sent_by).map_err(err)?;
        let params = params::parse_params(param_str).map_err(err)?;
        Ok(Via {
            transport: parts[2].to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.sent_by())?;
        params::write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let v: Via = "SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK776;rport;received=1.2.3.4"
            .parse()
            .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "pc33.example.com");
        assert_eq!(v.port, Some(5066));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("1.2.3.4"));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK776;rport;received=1.2.3.4"
        );
    }

    #[test]
    fn odd_whitespace_ipv6_and_rport_fill() {
        let mut v: Via = "SIP / 2.0 / tcp   [2001:db8::9] : 5070 ; branch = z9hG4bKx ; rport"
            .parse()
            .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "2001:db8::9");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
        v.set_param("rport", Some("40000"));
        v.set_param("received", Some("2001:db8::1"));
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKx;rport=40000;received=2001:db8::1"
        );
        assert_eq!(
            Via::new("udp", "h", None, "z9hG4bK1").to_string(),
            "SIP/2.0/UDP h;branch=z9hG4bK1"
        );
    }

    #[test]
    fn bad_vias() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/3.0/UDP h",
            "HTTP/2.0/UDP h",
            "SIP/2.0 h;branch=1",
            "SIP/2.0/UDP h:port",
            "SIP/2.0/UDP h;branch=",
        ] {
            assert!(bad.parse::<Via>().is_err(), "{bad:?}");
        }
    }
}
