//! Merging defaults, `spygroup.toml` and flags (flags win) into what `serve` runs with.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::config::{FileConfig, PortRange};
use crate::exit::Usage;
use crate::netaddr::media_ip_for;

pub const DEFAULT_DB: &str = "sqlite://spygroup.db";
const DEFAULT_SIP: &str = "0.0.0.0:5060";
const DEFAULT_HTTP: &str = "127.0.0.1:8088";
const DEFAULT_RTP: PortRange = PortRange {
    lo: 10000,
    hi: 20000,
};

/// Everything `serve` needs, resolved.
#[derive(Debug)]
pub struct ServeSettings {
    /// `realm` inside is only a placeholder until the store says which realm it has.
    pub pbx: pbx::PbxConfig,
    pub http: SocketAddr,
    /// The API and the console over HTTPS too, with the TLS certificate and key.
    pub https: Option<(SocketAddr, sip::transport::TlsFiles)>,
    pub db: String,
    /// Set when the user asked for a realm (flag or file), so a mismatch is an error.
    pub realm: Option<String>,
}

/// The database URL: flag, else config file, else the default.
pub fn db_url(flag: Option<&str>, file: Option<&FileConfig>) -> String {
    flag.map(str::to_string)
        .or_else(|| file.and_then(|f| f.db.clone()))
        .unwrap_or_else(|| DEFAULT_DB.to_string())
}

/// Flags over file over defaults; checks the rules that span several settings.
pub fn resolve(
    args: &ServeArgs,
    db_flag: Option<&str>,
    file: Option<&FileConfig>,
) -> Result<ServeSettings, Usage> {
    let empty = FileConfig::default();
    let f = file.unwrap_or(&empty);
    let defaults = pbx::PbxConfig::default();

    let sip = args
        .sip
        .or(f.sip)
        .unwrap_or_else(|| DEFAULT_SIP.parse().expect("literal address"));
    let media_ip = args
        .media_ip
        .or(f.media_ip)
        .unwrap_or_else(|| media_ip_for(sip.ip()));
    if media_ip.is_unspecified() {
        return Err(Usage(format!(
            "media_ip {media_ip} is a wildcard: phones need a concrete address to send RTP to"
        )));
    }
    let rtp = args.rtp_ports.or(f.rtp_ports).unwrap_or(DEFAULT_RTP);
    let http = args
        .http
        .or(f.http)
        .unwrap_or_else(|| DEFAULT_HTTP.parse().expect("literal address"));
    let realm = args.realm.clone().or_else(|| f.realm.clone());
    if let Some(r) = &realm {
        store::validate::realm(r).map_err(|e| Usage(e.to_string()))?;
    }
    let no_answer = args
        .no_answer_timeout
        .or(f.no_answer_timeout)
        .map(Duration::from_secs)
        .unwrap_or(defaults.no_answer_timeout);
    if no_answer.is_zero() {
        return Err(Usage("no_answer_timeout must be at least 1 second".into()));
    }
    let min_expires = args
        .min_expires
        .or(f.min_expires)
        .unwrap_or(defaults.min_expires);
    let max_expires = args
        .max_expires
        .or(f.max_expires)
        .unwrap_or(defaults.max_expires);
    let default_expires = args
        .default_expires
        .or(f.default_expires)
        .unwrap_or(defaults.default_expires);
    if !(1..=default_expires).contains(&min_expires) || default_expires > max_expires {
        return Err(Usage(format!(
            "registration limits must satisfy 1 <= min_expires ({min_expires}) <= \
             default_expires ({default_expires}) <= max_expires ({max_expires})"
        )));
    }

    let digest_algorithms = match args
        .digest_algorithms
        .clone()
        .or_else(|| f.digest_algorithms.clone())
    {
        None => defaults.digest_algorithms.clone(),
        Some(names) => parse_algorithms(&names)?,
    };

    let user_agent = args
        .user_agent
        .clone()
        .or_else(|| f.user_agent.clone())
        .unwrap_or(defaults.user_agent);
    if user_agent.len() > 64 || !user_agent.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(Usage(
            "user_agent: printable ASCII up to 64 characters (it goes into SIP headers)".into(),
        ));
    }
    let lockout_secs = args.lockout_secs.or(f.lockout_secs);
    let lockout = sip::auth::LockoutConfig {
        first_lock: lockout_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.lockout.first_lock),
        ..defaults.lockout
    };
    let secs_or_off = |v: Option<u64>, default: Option<Duration>| match v {
        Some(0) => None,
        Some(n) => Some(Duration::from_secs(n)),
        None => default,
    };
    let rtp_timeout = secs_or_off(args.rtp_timeout.or(f.rtp_timeout), defaults.rtp_timeout);
    let rtp_hold_timeout = args
        .rtp_hold_timeout
        .or(f.rtp_hold_timeout)
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
        .unwrap_or(defaults.rtp_hold_timeout);
    let max_call_duration = secs_or_off(
        args.max_call_secs.or(f.max_call_secs),
        defaults.max_call_duration,
    );
    let sip_rate_limit = match args.sip_rate_limit.or(f.sip_rate_limit) {
        Some(0) => None,
        Some(n) => Some(n),
        None => defaults.sip_rate_limit,
    };
    let tls = tls_listener(args, f, sip)?;
    let https = match (args.https.or(f.https), &tls) {
        (None, _) => None,
        (Some(addr), Some(t)) if addr != http => Some((addr, t.files.clone())),
        (Some(addr), Some(_)) => {
            return Err(Usage(format!(
                "https {addr} is the HTTP address itself; give it a port of its own"
            )))
        }
        (Some(_), None) => {
            return Err(Usage("https needs tls_cert and tls_key (PEM files)".into()))
        }
    };
    let mut connections = defaults.connections;
    if let Some(n) = args
        .tcp_max_per_source
        .map(|n| n as usize)
        .or(f.tcp_max_per_source)
    {
        if n == 0 {
            return Err(Usage("tcp_max_per_source must be at least 1".into()));
        }
        connections.per_source = n;
    }
    if let Some(n) = args.tcp_connect_rate.or(f.tcp_connect_rate) {
        connections.per_second = n;
    }
    if let Some(n) = args.tcp_idle_secs.or(f.tcp_idle_secs) {
        if n < 60 {
            return Err(Usage("tcp_idle_secs must be at least 60".into()));
        }
        connections.idle = Duration::from_secs(n);
    }
    if connections.idle.as_secs() <= u64::from(max_expires) {
        tracing::warn!(
            "tcp_idle_secs ({}) is not longer than max_expires ({max_expires}): a phone that registers over TCP or TLS without keep-alives may lose its connection between refreshes",
            connections.idle.as_secs()
        );
    }
    let pbx = pbx::PbxConfig {
        sip_addr: sip,
        media_ip,
        rtp_ports: rtp.lo..=rtp.hi,
        realm: realm.clone().unwrap_or_else(|| store::DEFAULT_REALM.into()),
        dialplan: args
            .dialplan
            .clone()
            .or_else(|| f.dialplan.clone())
            .unwrap_or(defaults.dialplan),
        no_answer_timeout: no_answer,
        min_expires,
        max_expires,
        default_expires,
        digest_algorithms,
        sounds: args
            .sounds
            .clone()
            .or_else(|| f.sounds.clone())
            .unwrap_or(defaults.sounds),
        recordings: args
            .recordings
            .clone()
            .or_else(|| f.recordings.clone())
            .unwrap_or(defaults.recordings),
        user_agent,
        lockout,
        rtp_timeout,
        rtp_hold_timeout,
        max_call_duration,
        sip_rate_limit,
        tls,
        connections,
        max_calls: args
            .max_calls
            .map(|n| n as usize)
            .or(f.max_calls)
            .filter(|n| *n > 0),
        max_cps: args.max_cps.or(f.max_cps).filter(|n| *n > 0),
    };
    Ok(ServeSettings {
        pbx,
        http,
        https,
        db: db_url(db_flag, file),
        realm,
    })
}

/// SIP over TLS: on when a certificate is given. Certificate and key go together;
/// the address defaults to port 5061 on the SIP address.
fn tls_listener(
    args: &ServeArgs,
    f: &FileConfig,
    sip: SocketAddr,
) -> Result<Option<pbx::TlsListener>, Usage> {
    let cert = args.tls_cert.clone().or_else(|| f.tls_cert.clone());
    let key = args.tls_key.clone().or_else(|| f.tls_key.clone());
    let addr = args.sip_tls.or(f.sip_tls);
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let addr = addr.unwrap_or_else(|| SocketAddr::new(sip.ip(), 5061));
            if addr == sip && addr.port() != 0 {
                return Err(Usage(format!(
                    "sip_tls {addr} is the SIP address itself: TCP already listens there; use another port (5061)"
                )));
            }
            Ok(Some(pbx::TlsListener {
                addr,
                files: sip::transport::TlsFiles { cert, key },
            }))
        }
        (None, None) if addr.is_none() => Ok(None),
        (None, None) => Err(Usage(
            "sip_tls needs tls_cert and tls_key (PEM files)".into(),
        )),
        (Some(_), None) => Err(Usage(
            "tls_cert needs tls_key (the private key, PEM)".into(),
        )),
        (None, Some(_)) => Err(Usage(
            "tls_key needs tls_cert (the certificate, PEM)".into(),
        )),
    }
}

/// `MD5,SHA-256` -> algorithms, in the order given, without duplicates.
fn parse_algorithms(names: &[String]) -> Result<Vec<sip::auth::Algorithm>, Usage> {
    let mut out = Vec::new();
    for name in names {
        let alg: sip::auth::Algorithm = name.trim().parse().map_err(|_| {
            Usage(format!(
                "digest_algorithms: unknown algorithm {name:?} (use MD5 and/or SHA-256)"
            ))
        })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        return Err(Usage(
            "digest_algorithms: name at least one algorithm".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn https_takes_the_tls_certificate_and_a_port_of_its_own() {
        let mut args = ServeArgs {
            https: Some("127.0.0.1:8443".parse().unwrap()),
            ..Default::default()
        };
        let err = resolve(&args, None, None).unwrap_err();
        assert!(
            err.0.contains("https needs tls_cert and tls_key"),
            "{}",
            err.0
        );
        args.tls_cert = Some("c.pem".into());
        args.tls_key = Some("k.pem".into());
        let s = resolve(&args, None, None).unwrap();
        let (addr, files) = s.https.expect("https on");
        assert_eq!(addr, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(files.cert, Path::new("c.pem"));
        args.https = Some(s.http);
        let err = resolve(&args, None, None).unwrap_err();
        assert!(err.0.contains("is the HTTP address itself"), "{}", err.0);
        assert!(resolve(&ServeArgs::default(), None, None)
            .unwrap()
            .https
            .is_none());
    }

    #[test]
    fn defaults() {
        let s = resolve(&ServeArgs::default(), None, None).unwrap();
        assert_eq!(s.pbx.sip_addr, "0.0.0.0:5060".parse().unwrap());
        assert!(!s.pbx.media_ip.is_unspecified());
        assert_eq!(s.pbx.rtp_ports, 10000..=20000);
        assert_eq!(s.http, "127.0.0.1:8088".parse().unwrap());
        assert_eq!(s.db, "sqlite://spygroup.db");
        assert_eq!(s.pbx.dialplan, Path::new("config/extensions.conf"));
        assert_eq!(s.realm, None);
    }

    #[test]
    fn flags_win_over_file() {
        let file = crate::config::parse(
            Path::new("f.toml"),
            "sip = \"127.0.0.2:5070\"\nhttp = \"127.0.0.1:9000\"\ndb = \"sqlite://f.db\"\n\
             rtp_ports = \"30000-30100\"\nrealm = \"file-realm\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            http: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        };
        let s = resolve(&args, Some("sqlite://flag.db"), Some(&file)).unwrap();
        assert_eq!(s.pbx.sip_addr, "127.0.0.2:5070".parse().unwrap());
        assert_eq!(
            s.pbx.media_ip,
            "127.0.0.2".parse::<std::net::IpAddr>().unwrap(),
            "media follows a concrete SIP address"
        );
        assert_eq!(s.http, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(s.db, "sqlite://flag.db");
        assert_eq!(s.pbx.rtp_ports, 30000..=30100);
        assert_eq!(s.realm.as_deref(), Some("file-realm"));
    }

    #[test]
    fn inconsistent_expires_are_refused() {
        let args = ServeArgs {
            min_expires: Some(600),
            max_expires: Some(300),
            ..Default::default()
        };
        let e = resolve(&args, None, None).unwrap_err();
        assert!(e.0.contains("min_expires"), "{e}");
    }
}
