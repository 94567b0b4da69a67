//! Settings the switch runs with, resolved by the binary from flags and `spygroup.toml`.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `pbx::start` needs; the binary fills it from its config file and flags.
#[derive(Debug, Clone)]
pub struct PbxConfig {
    /// Where SIP listens, on UDP and TCP alike.
    pub sip_addr: SocketAddr,
    /// The address written into SDP and used to bind RTP sockets.
    pub media_ip: IpAddr,
    /// RTP ports (even ports carry RTP, the next odd one RTCP).
    pub rtp_ports: RangeInclusive<u16>,
    /// Digest realm; HA1 values in the store are computed with it.
    pub realm: String,
    /// The dialplan file (read by the dialplan engine).
    pub dialplan: PathBuf,
    /// How long a callee may ring before the caller gets 408.
    pub no_answer_timeout: Duration,
    /// Registrar limits (seconds).
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    /// Digest algorithms offered in challenges, one header each, in order. MD5 alone
    /// by default, as Asterisk: SIPp answers only the first challenge, and baresip
    /// 1.0 (Debian 12) and older desk phones give up on a 401 that carries any
    /// challenge they do not know, even next to an MD5 one (RFC 8760 notwithstanding).
    pub digest_algorithms: Vec<sip::auth::Algorithm>,
    /// Where prompts live: `<sounds>/<lang>/<name>.wav`.
    pub sounds: PathBuf,
    /// Where ChanSpy's `r(name)` writes `<name>-<epoch ms>.wav`.
    pub recordings: PathBuf,
    /// `User-Agent` of our requests and `Server` of our responses; empty sends
    /// neither. The name without the version by default.
    pub user_agent: String,
    /// An answered call whose phone sent no RTP for this long is hung up (None:
    /// never); on hold, `rtp_hold_timeout` (a held phone may send nothing).
    pub rtp_timeout: Option<Duration>,
    pub rtp_hold_timeout: Duration,
    /// Answered calls are hung up after this long (None: no limit).
    pub max_call_duration: Option<Duration>,
    /// New SIP transactions a second one source address (not a trunk) may start,
    /// in bursts of twice that; over it, 503 with Retry-After (None: no limit).
    pub sip_rate_limit: Option<u32>,
    /// Overload control: calls at once, and new calls a second (bursts of twice
    /// that), over all sources; over either, new calls get 503 (None: no limit).
    pub max_calls: Option<usize>,
    pub max_cps: Option<u32>,
    /// When digest guessing locks a source or an extension out, and for how long.
    pub lockout: sip::auth::LockoutConfig,
    /// SIP over TLS: where it listens and the certificate's files (None: no TLS).
    pub tls: Option<TlsListener>,
    /// Who may open TCP/TLS connections, and how long they may sit idle.
    pub connections: sip::transport::ConnectionLimits,
}

/// The TLS listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListener {
    /// Usually port 5061 on the SIP address.
    pub addr: SocketAddr,
    pub files: sip::transport::TlsFiles,
}

impl Default for PbxConfig {
    fn default() -> Self {
        PbxConfig {
            sip_addr: "0.0.0.0:5060".parse().expect("literal address"),
            media_ip: IpAddr::from([127, 0, 0, 1]),
            rtp_ports: 10000..=20000,
            realm: "spygroup".into(),
            dialplan: PathBuf::from("config/extensions.conf"),
            no_answer_timeout: Duration::from_secs(60),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            digest_algorithms: vec![sip::auth::Algorithm::Md5],
            sounds: PathBuf::from("sounds"),
            recordings: PathBuf::from("recordings"),
            user_agent: "spygroup".into(),
            rtp_timeout: Some(Duration::from_secs(60)),
            rtp_hold_timeout: Duration::from_secs(600),
            max_call_duration: None,
            sip_rate_limit: Some(100),
            lockout: sip::auth::LockoutConfig::default(),
            max_calls: None,
            max_cps: None,
            tls: None,
            connections: sip::transport::ConnectionLimits::default(),
        }
    }
}
