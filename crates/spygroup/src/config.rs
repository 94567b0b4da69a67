//! `spygroup.toml`: reading it, and reporting its mistakes as `FILE:LINE: reason`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::exit::Usage;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG: &str = "spygroup.toml";

/// Every key the file may hold; all optional, unknown keys rejected so a typo
/// never silently falls back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub sip: Option<SocketAddr>,
    pub media_ip: Option<IpAddr>,
    pub rtp_ports: Option<PortRange>,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub db: Option<String>,
    pub dialplan: Option<PathBuf>,
    pub realm: Option<String>,
    pub log_level: Option<String>,
    pub no_answer_timeout: Option<u64>,
    pub min_expires: Option<u32>,
    pub max_expires: Option<u32>,
    pub default_expires: Option<u32>,
    pub digest_algorithms: Option<Vec<String>>,
    pub sounds: Option<PathBuf>,
    pub recordings: Option<PathBuf>,
    pub user_agent: Option<String>,
    pub lockout_secs: Option<u64>,
    pub rtp_timeout: Option<u64>,
    pub rtp_hold_timeout: Option<u64>,
    pub max_call_secs: Option<u64>,
    pub sip_rate_limit: Option<u32>,
    pub max_calls: Option<usize>,
    pub max_cps: Option<u32>,
    pub sip_tls: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tcp_max_per_source: Option<usize>,
    pub tcp_connect_rate: Option<u32>,
    pub tcp_idle_secs: Option<u64>,
}

/// An RTP port range `LO-HI`: LO even (RTP on even ports, RTCP on the next), LO < HI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (lo, hi) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not a port range: write LO-HI, e.g. 10000-20000"))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number (1-65535)"))
        };
        let (lo, hi) = (port(lo)?, port(hi)?);
        if lo == 0 {
            return Err("the range must start at port 1 or above".into());
        }
        if lo % 2 != 0 {
            return Err(format!(
                "the range must start on an even port (RTP even, RTCP odd), not {lo}"
            ));
        }
        if lo >= hi {
            return Err(format!("the range start {lo} must be below its end {hi}"));
        }
        Ok(PortRange { lo, hi })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads `--config FILE`, or `./spygroup.toml` when no file was named and it exists.
/// `None` means: no file, use defaults.
pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, FileConfig)>, Usage> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_CONFIG);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Usage(format!("cannot read config file {}: {e}", path.display())))?;
    let cfg = parse(&path, &text)?;
    Ok(Some((path, cfg)))
}

/// Parses `text`; errors carry the line the TOML span starts on.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, Usage> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        Usage(format!(
            "{}:{line}: {}",
            path.display(),
            e.message().trim_end()
        ))
    })
}

/// 1-based line number of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    let end = at.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("x.toml"), text).unwrap_err().0
    }

    #[test]
    fn full_file_parses() {
        let c = parse(
            Path::new("x.toml"),
            "sip = \"127.0.0.1:5070\"\nmedia_ip = \"127.0.0.1\"\nrtp_ports = \"20000-20100\"\n\
             http = \"127.0.0.1:9000\"\ndb = \"sqlite://a.db\"\ndialplan = \"d.conf\"\n\
             realm = \"r\"\nlog_level = \"debug\"\nno_answer_timeout = 30\nmin_expires = 30\n\
             max_expires = 600\ndefault_expires = 300\n",
        )
        .unwrap();
        assert_eq!(
            c.rtp_ports,
            Some(PortRange {
                lo: 20000,
                hi: 20100
            })
        );
        assert_eq!(c.max_expires, Some(600));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = err("sip = \"127.0.0.1:5070\"\n\nbogus = 1\n");
        assert!(e.starts_with("x.toml:3: "), "{e}");
        assert!(e.contains("bogus"), "{e}");

        let e = err("# comment\nrtp_ports = \"10001-20000\"\n");
        assert!(e.starts_with("x.toml:2: "), "{e}");
        assert!(e.contains("even"), "{e}");

        let e = err("http = \"nope\"\n");
        assert!(e.starts_with("x.toml:1: "), "{e}");

        let e = err("sip = \n");
        assert!(e.starts_with("x.toml:1: "), "{e}");
    }

    #[test]
    fn shipped_example_is_valid() {
        let text = include_str!("../../../spygroup.toml.example");
        let c = parse(Path::new("spygroup.toml.example"), text).unwrap();
        assert_eq!(c.db.as_deref(), Some("sqlite://spygroup.db"));
        assert_eq!(
            c.rtp_ports,
            Some(PortRange {
                lo: 10000,
                hi: 20000
            })
        );
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            "10000-20000".parse(),
            Ok(PortRange {
                lo: 10000,
                hi: 20000
            })
        );
        assert!("10001-20000".parse::<PortRange>().is_err());
        assert!("20000-10000".parse::<PortRange>().is_err());
        assert!("20000-20000".parse::<PortRange>().is_err());
        assert!("0-10".parse::<PortRange>().is_err());
        assert!("10000".parse::<PortRange>().is_err());
        assert!("a-b".parse::<PortRange>().is_err());
    }

    #[test]
    fn line_of_counts_newlines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
