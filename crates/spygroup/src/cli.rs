//! Command-line grammar. Values are checked here, by the same rules the store
//! applies, so bad input is a usage error (exit 2) before anything is opened.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::PortRange;

#[derive(Debug, Parser)]
#[command(
    name = "spygroup",
    version,
    about = "SIP PBX with call monitoring (spy groups)"
)]
pub struct Cli {
    /// Config file (default: ./spygroup.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://FILE, sqlite:///ABS/FILE or postgres://… (default: the config
    /// file's `db`, else sqlite://spygroup.db). A missing SQLite file is created by `serve`
    /// and by commands that add configuration; the others refuse it.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,

    /// Log filter, e.g. `info` or `pbx=debug,info` (overrides RUST_LOG).
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the PBX (SIP, media, HTTP API) until SIGINT or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Manage extensions (phones).
    #[command(subcommand)]
    Ext(ExtCommand),
    /// Manage trunks (peers recognised by source address).
    #[command(subcommand)]
    Trunk(TrunkCommand),
    /// Asterisk-style key/value database (AstDB).
    #[command(subcommand)]
    Db(DbCommand),
    /// PINs of the monitoring codes (779, 778), stored salted and slow-hashed.
    #[command(subcommand)]
    Pin(PinCommand),
    /// Call detail records.
    #[command(subcommand)]
    Cdr(CdrCommand),
    /// Monitoring audit trail: every listen/whisper/barge session and refused attempt.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Recordings (MixMonitor, ChanSpy's r()): list, show with their monitoring
    /// sessions, delete with their files.
    #[command(subcommand)]
    Recordings(crate::admin::recordings::RecordingsCommand),
    /// Check or show an extensions.conf dialplan.
    #[command(subcommand)]
    Dialplan(DialplanCommand),
    /// Spy groups and their member extensions.
    #[command(subcommand)]
    Group(crate::admin::group::GroupCommand),
    /// Supervisors: who may monitor which spy groups, in which modes.
    #[command(subcommand)]
    Supervisor(crate::admin::supervisor::SupervisorCommand),
    /// API tokens for the HTTP API.
    #[command(subcommand)]
    Token(crate::admin::token::TokenCommand),
    /// Call-center queues (Queue()), their members and statistics.
    #[command(subcommand)]
    Queue(crate::admin::queue::QueueCommand),
    /// Agents: log in and out of queues, pause with a reason, unpause.
    #[command(subcommand)]
    Agent(crate::admin::queue::AgentCommand),
    /// Inbound monitoring rules: calls to a range of extensions get spy groups.
    #[command(subcommand)]
    Rule(crate::admin::rule::RuleCommand),
    /// Show or set who may monitor: `open` (Asterisk's behaviour: anyone who can
    /// dial ChanSpy may spy) or `restricted` (only supervisors, within their grants).
    Monitoring(crate::admin::monitoring::MonitoringArgs),
    /// Live calls on the running server (needs an API token).
    Calls(crate::admin::live::ApiArgs),
    /// Click-to-spy on the running server: start, switch mode, stop (needs a token).
    #[command(subcommand)]
    Monitor(crate::admin::live::MonitorCommand),
    /// Conference rooms on the running server: list, mute, unmute, kick (needs a
    /// token: read to list, admin for the rest).
    #[command(subcommand)]
    Conf(crate::admin::conf::ConfCommand),
    /// Locks against password and PIN guessing on the running server: list them,
    /// their history, lift one (needs a token: read to list, admin to lift).
    #[command(subcommand)]
    Security(crate::admin::security::SecurityCommand),
}

#[derive(Debug, Subcommand)]
pub enum DialplanCommand {
    /// Print every error and warning as FILE:LINE: …; exit 1 when there are errors.
    Check { file: PathBuf },
    /// Show CONTEXT, or the extensions of CONTEXT matching EXTEN, like Asterisk.
    Show {
        /// CONTEXT or EXTEN@CONTEXT [default: every context].
        target: Option<String>,
        /// Dialplan file [default: the config's `dialplan`, else config/extensions.conf].
        #[arg(long, value_name = "FILE")]
        dialplan: Option<PathBuf>,
    },
    /// Make the running server re-read its dialplan (like SIGHUP); a file with errors
    /// is refused and the running dialplan stays.
    Reload {
        /// The server's HTTP address [default: the config's `http`, else 127.0.0.1:8088].
        #[arg(long, value_name = "ADDR:PORT")]
        http: Option<SocketAddr>,
    },
}

/// Every setting of `spygroup.toml`, as a flag that wins over the file.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// SIP listen address (UDP and TCP) [default: 0.0.0.0:5060].
    #[arg(long, value_name = "ADDR:PORT")]
    pub sip: Option<SocketAddr>,
    /// Address put in SDP and used for RTP [default: the SIP address, or the outgoing
    /// interface when SIP listens on 0.0.0.0].
    #[arg(long, value_name = "IP")]
    pub media_ip: Option<IpAddr>,
    /// RTP port range, even start [default: 10000-20000].
    #[arg(long, value_name = "LO-HI")]
    pub rtp_ports: Option<PortRange>,
    /// HTTP API listen address [default: 127.0.0.1:8088].
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// Also serve the API and the web console over HTTPS here, with --tls-cert and
    /// --tls-key (browsers give a page its microphone only over HTTPS, or on the
    /// PBX's own host).
    #[arg(long, value_name = "ADDR:PORT")]
    pub https: Option<SocketAddr>,
    /// Dialplan file [default: config/extensions.conf].
    #[arg(long, value_name = "FILE")]
    pub dialplan: Option<PathBuf>,
    /// Digest realm for a new database (an existing one keeps its own) [default: spygroup].
    #[arg(long, value_name = "R", value_parser = parse_realm)]
    pub realm: Option<String>,
    /// Seconds a callee may ring before the caller gets 408 [default: 60].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub no_answer_timeout: Option<u64>,
    /// Shortest registration accepted, seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    pub min_expires: Option<u32>,
    /// Longest registration granted, seconds [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub max_expires: Option<u32>,
    /// Registration length when the phone asks for none, seconds [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub default_expires: Option<u32>,
    /// Digest algorithms offered to phones, in order: MD5, SHA-256 [default: MD5].
    #[arg(long, value_name = "ALGS", value_delimiter = ',')]
    pub digest_algorithms: Option<Vec<String>>,
    /// Prompts directory, holding `<lang>/<name>.wav` [default: sounds].
    #[arg(long, value_name = "DIR")]
    pub sounds: Option<PathBuf>,
    /// Where ChanSpy's r(name) and MixMonitor record; the API serves the files from
    /// there [default: recordings].
    #[arg(long, value_name = "DIR")]
    pub recordings: Option<PathBuf>,
    /// What SIP messages say we are (User-Agent, Server); "" sends nothing
    /// [default: spygroup, without the version a scan could aim at].
    #[arg(long, value_name = "TEXT", value_parser = parse_user_agent)]
    pub user_agent: Option<String>,
    /// How long a source that keeps guessing passwords is first locked out,
    /// seconds; each further lock in a row doubles it, up to a day [default: 300].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub lockout_secs: Option<u64>,
    /// Hang up an answered call whose phone sent no RTP for this long, seconds; 0
    /// never [default: 60].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub rtp_timeout: Option<u64>,
    /// The same while the call is on hold (a held phone may send nothing)
    /// [default: 600].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub rtp_hold_timeout: Option<u64>,
    /// Hang up answered calls after this long, seconds; 0 no limit [default: 0].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=604800))]
    pub max_call_secs: Option<u64>,
    /// New SIP requests a second one address (not a trunk) may send, in bursts of
    /// twice that; over it they get 503 with Retry-After; 0 no limit [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub sip_rate_limit: Option<u32>,
    /// Calls at once (all sources, trunks included) past which a new call gets
    /// 503 with Retry-After; 0 no limit [default: 0]. Set it to what `bench/`
    /// measured this machine can carry, so the calls up keep their quality.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub max_calls: Option<u64>,
    /// New calls a second (bursts of twice that) past which a new call gets 503;
    /// 0 no limit [default: 0].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_cps: Option<u32>,
    /// Also listen for SIP over TLS here (needs --tls-cert and --tls-key); with
    /// only the certificate given, port 5061 on the SIP address.
    #[arg(long, value_name = "ADDR")]
    pub sip_tls: Option<SocketAddr>,
    /// The TLS certificate chain, PEM (re-read on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key, PEM (re-read on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// TCP/TLS connections one address may hold open [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub tcp_max_per_source: Option<u64>,
    /// New TCP/TLS connections a second one address may open, in bursts of twice
    /// that; 0 no limit [default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub tcp_connect_rate: Option<u32>,
    /// Close a TCP/TLS connection that carried nothing for this long, seconds
    /// [default: 3900, longer than any registration].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(60..=604800))]
    pub tcp_idle_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ExtCommand {
    /// Create an extension.
    Add {
        #[arg(value_parser = parse_number)]
        number: String,
        /// SIP password; only its digest hashes are stored.
        #[arg(long, value_parser = parse_secret)]
        secret: String,
        /// Display name.
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        /// Dialplan context for its calls [default: from-internal].
        #[arg(long, value_parser = parse_context)]
        context: Option<String>,
        /// Accept its REGISTER and INVITE only over SIP/TLS (UDP and TCP get 403).
        #[arg(long)]
        require_tls: bool,
        /// Its calls must use SRTP: an offer without SDES crypto gets 488, and calls
        /// to it are offered RTP/SAVP only.
        #[arg(long)]
        require_srtp: bool,
    },
    /// List extensions (never secrets).
    List,
    /// Change an extension.
    Set {
        #[arg(value_parser = parse_number)]
        number: String,
        #[arg(long, value_parser = parse_secret)]
        secret: Option<String>,
        /// New display name ("" clears it).
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        #[arg(long, value_parser = parse_context)]
        context: Option<String>,
        /// Whether only SIP/TLS is accepted from it (see `ext add --require-tls`).
        #[arg(long, value_name = "true|false", value_parser = clap::value_parser!(bool))]
        require_tls: Option<bool>,
        /// Whether its calls must use SRTP (see `ext add --require-srtp`).
        #[arg(long, value_name = "true|false", value_parser = clap::value_parser!(bool))]
        require_srtp: Option<bool>,
    },
    /// Delete an extension.
    Del {
        #[arg(value_parser = parse_number)]
        number: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrunkCommand {
    /// Create a trunk.
    Add {
        #[arg(value_parser = parse_trunk_name)]
        name: String,
        /// Peer address: IP, IP:PORT or [IPv6]:PORT; without a port any source port matches.
        #[arg(long, value_name = "IP[:PORT]", value_parser = parse_host)]
        host: HostPort,
        /// Dialplan context for calls from it [default: from-trunk].
        #[arg(long, value_parser = parse_context)]
        context: Option<String>,
    },
    /// List trunks.
    List,
    /// Delete a trunk.
    Del {
        #[arg(value_parser = parse_trunk_name)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Set FAMILY/KEY to VALUE.
    Put {
        family: String,
        key: String,
        value: String,
    },
    /// Print the value of FAMILY/KEY (exit 1 when absent).
    Get { family: String, key: String },
    /// Delete FAMILY/KEY (exit 1 when absent).
    Del { family: String, key: String },
    /// Show every entry, or those of FAMILY and its sub-families.
    Show { family: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Store PIN for the code NAME (`spygroup/pin_<NAME>`, what the shipped
    /// dialplan's 779 and 778 check), as argon2id with a random salt.
    Set {
        /// 779, 778, or any name a dialplan reads with DB(spygroup/pin_<NAME>).
        #[arg(value_parser = parse_pin_name)]
        name: String,
        /// 4 to 16 digits.
        #[arg(value_parser = parse_pin)]
        pin: String,
    },
}

fn parse_pin_name(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(s.to_string())
    } else {
        Err("letters, digits and _ only".into())
    }
}

fn parse_pin(s: &str) -> Result<String, String> {
    if store::pins::valid_pin(s) {
        Ok(s.to_string())
    } else {
        Err("a PIN is 4 to 16 digits".into())
    }
}

#[derive(Debug, Subcommand)]
pub enum CdrCommand {
    /// Most recent calls first.
    List {
        /// How many calls to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Most recent monitoring sessions first, each with its mode changes.
    List {
        /// How many sessions to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
}

/// A trunk peer address with an optional port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

fn store_rule(
    rule: fn(&str) -> Result<(), store::StoreError>,
) -> impl Fn(&str) -> Result<String, String> {
    move |s| rule(s).map(|()| s.to_string()).map_err(|e| e.to_string())
}

fn parse_number(s: &str) -> Result<String, String> {
    store_rule(store::validate::extension_number)(s)
}

fn parse_trunk_name(s: &str) -> Result<String, String> {
    store_rule(store::validate::trunk_name)(s)
}

fn parse_context(s: &str) -> Result<String, String> {
    store_rule(store::validate::context)(s)
}

fn parse_secret(s: &str) -> Result<String, String> {
    store_rule(store::validate::secret)(s)
}

fn parse_name(s: &str) -> Result<String, String> {
    store_rule(store::validate::display_name)(s)
}

/// Printable ASCII, no CR/LF (it goes into a header), at most 64 characters.
fn parse_user_agent(s: &str) -> Result<String, String> {
    if s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        Ok(s.to_string())
    } else {
        Err("printable ASCII up to 64 characters".into())
    }
}

fn parse_realm(s: &str) -> Result<String, String> {
    store_rule(store::validate::realm)(s)
}

fn parse_log_level(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("not a log filter ({e}); try error, warn, info, debug or trace"))
}

fn parse_host(s: &str) -> Result<HostPort, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(HostPort { ip, port: None });
    }
    match s.parse::<SocketAddr>() {
        Ok(sa) if sa.port() == 0 => Err("port must be 1 to 65535".into()),
        Ok(sa) => Ok(HostPort {
            ip: sa.ip(),
            port: Some(sa.port()),
        }),
        Err(_) => Err(format!(
            "{s:?} is not an IP address: use 192.0.2.1, 192.0.2.1:5060 or [2001:db8::1]:5060 \
             (host names are not supported yet)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("192.0.2.1").unwrap(),
            HostPort {
                ip: "192.0.2.1".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(parse_host("192.0.2.1:5080").unwrap().port, Some(5080));
        assert_eq!(parse_host("2001:db8::1").unwrap().port, None);
        assert_eq!(parse_host("[2001:db8::1]:5060").unwrap().port, Some(5060));
        assert!(parse_host("carrier.example").is_err());
        assert!(parse_host("192.0.2.1:0").is_err());
        assert!(parse_host("192.0.2.1:99999").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
