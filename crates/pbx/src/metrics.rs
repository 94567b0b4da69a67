//! Counters for Prometheus (`GET /metrics`): what the shell counts as it goes
//! (SIP answers by class, requests, lockouts started, media of ended calls), and
//! the text exposition of one snapshot of everything.
//!
//! Counting happens at the edges the shell already passes through (every datagram
//! it sends, every bridge it closes), so the switch and the media threads stay
//! free of it; live values (calls, channels, locks in force) are read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use media::BridgeStats;
use model::LockoutKind;

/// Media counters summed over bridges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaTotals {
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dropped_bad: u64,
    pub dropped_foreign: u64,
    pub dropped_no_destination: u64,
    pub dropped_held: u64,
    pub send_errors: u64,
    pub jitter_late: u64,
    pub jitter_lost: u64,
}

impl MediaTotals {
    pub fn add(&mut self, s: &BridgeStats) {
        for side in [&s.a, &s.b] {
            self.packets_in += side.packets_in;
            self.packets_out += side.packets_out;
            self.bytes_in += side.bytes_in;
            self.bytes_out += side.bytes_out;
            self.dropped_bad += side.dropped_bad;
            self.dropped_foreign += side.dropped_foreign;
            self.dropped_no_destination += side.dropped_no_destination;
            self.dropped_held += side.dropped_held;
            self.send_errors += side.send_errors;
            self.jitter_late += side.jitter_late;
            self.jitter_lost += side.jitter_lost;
        }
    }
}

const KINDS: [LockoutKind; 5] = [
    LockoutKind::Source,
    LockoutKind::Extension,
    LockoutKind::SourceExtension,
    LockoutKind::PinCaller,
    LockoutKind::Pin,
];

/// What the shell counts; shared with the scraper.
#[derive(Debug, Default)]
pub struct Metrics {
    /// SIP responses we sent, by class (index 1 to 6).
    sip_responses: [AtomicU64; 7],
    sip_requests_received: AtomicU64,
    lockouts_started: [AtomicU64; 5],
    /// Media of the bridges already closed (live ones are read when scraped).
    closed: Mutex<MediaTotals>,
}

impl Metrics {
    /// A datagram or stream write we sent: a response is counted by class.
    pub fn count_sent(&self, data: &[u8]) {
        if let Some(rest) = data.strip_prefix(b"SIP/2.0 ") {
            if let Some(class @ b'1'..=b'6') = rest.first() {
                self.sip_responses[usize::from(class - b'0')].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn count_request_received(&self) {
        self.sip_requests_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_lockout(&self, kind: LockoutKind) {
        if let Some(i) = KINDS.iter().position(|k| *k == kind) {
            self.lockouts_started[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A bridge's last counters, as it closes.
    pub fn bridge_closed(&self, stats: &BridgeStats) {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(stats);
    }

    fn closed(&self) -> MediaTotals {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything one scrape shows.
/// TCP and TLS connections as the transport counts them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connections {
    pub open: usize,
    pub refused: u64,
    pub idle_closed: u64,
    pub tls_handshake_failures: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub registrations: usize,
    pub calls: usize,
    pub channels: usize,
    pub bridges: usize,
    /// Monitoring sessions running, by mode.
    pub monitors: BTreeMap<&'static str, u64>,
    /// Locks in force, by kind.
    pub lockouts: BTreeMap<&'static str, u64>,
    pub sip_unparsable: u64,
    /// TCP/TLS connections: open now, refused by the limits, TLS handshakes failed.
    pub connections: Connections,
    pub store: store::StoreHealth,
    /// Ended and live calls' media together.
    pub media: MediaTotals,
}

impl Snapshot {
    /// Adds the media of live bridges to what `metrics` counted of closed ones.
    pub fn with_media(
        mut self,
        metrics: &Metrics,
        live: impl Iterator<Item = BridgeStats>,
    ) -> Self {
        let mut totals = metrics.closed();
        for s in live {
            totals.add(&s);
        }
        self.media = totals;
        self
    }
}

/// The Prometheus text exposition (format 0.0.4) of `s` and `m`.
pub fn render(s: &Snapshot, m: &Metrics) -> String {
    let mut out = String::new();
    let mut one = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP spygroup_{name} {help}");
        let _ = writeln!(out, "# TYPE spygroup_{name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "spygroup_{name}{labels} {v}");
        }
    };
    let plain = |v: u64| vec![(String::new(), v)];
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    one(
        "registrations",
        "gauge",
        "Registered contacts.",
        &plain(n(s.registrations)),
    );
    one("calls", "gauge", "Live calls.", &plain(n(s.calls)));
    one(
        "channels",
        "gauge",
        "Live channels (one per party's leg).",
        &plain(n(s.channels)),
    );
    one(
        "media_bridges",
        "gauge",
        "Open media bridges (RTP port pairs in use: two each).",
        &plain(n(s.bridges)),
    );
    let modes: Vec<(String, u64)> = ["listen", "whisper", "barge", "takeover", "conference"]
        .iter()
        .map(|mode| {
            (
                format!("{{mode=\"{mode}\"}}"),
                *s.monitors.get(mode).unwrap_or(&0),
            )
        })
        .collect();
    one(
        "monitor_sessions",
        "gauge",
        "Monitoring sessions running, by mode.",
        &modes,
    );
    let locks: Vec<(String, u64)> = KINDS
        .iter()
        .map(|k| {
            (
                format!("{{kind=\"{}\"}}", k.as_str()),
                *s.lockouts.get(k.as_str()).unwrap_or(&0),
            )
        })
        .collect();
    one(
        "lockouts",
        "gauge",
        "Locks against guessing in force, by kind.",
        &locks,
    );
    let started: Vec<(String, u64)> = KINDS
        .iter()
        .zip(&m.lockouts_started)
        .map(|(k, c)| {
            (
                format!("{{kind=\"{}\"}}", k.as_str()),
                c.load(Ordering::Relaxed),
            )
        })
        .collect();
    one(
        "lockouts_started_total",
        "counter",
        "Locks started since the server started, by kind.",
        &started,
    );
    let classes: Vec<(String, u64)> = (1..=6)
        .map(|c| {
            (
                format!("{{class=\"{c}xx\"}}"),
                m.sip_responses[c].load(Ordering::Relaxed),
            )
        })
        .collect();
    one(
        "sip_responses_sent_total",
        "counter",
        "SIP responses sent, by class.",
        &classes,
    );
    one(
        "sip_requests_received_total",
        "counter",
        "SIP requests received.",
        &plain(m.sip_requests_received.load(Ordering::Relaxed)),
    );
    one(
        "sip_unparsable_total",
        "counter",
        "SIP datagrams or streams dropped as unparsable.",
        &plain(s.sip_unparsable),
    );
    let c = &s.connections;
    one(
        "sip_connections",
        "gauge",
        "TCP and TLS connections open.",
        &plain(n(c.open)),
    );
    one(
        "sip_connections_closed_total",
        "counter",
        "TCP and TLS connections closed by the PBX: refused by the per-source or total limits, silent too long, TLS handshake failed.",
        &[
            ("{reason=\"refused\"}".to_string(), c.refused),
            ("{reason=\"idle\"}".to_string(), c.idle_closed),
            ("{reason=\"tls_handshake\"}".to_string(), c.tls_handshake_failures),
        ],
    );
    let media = &s.media;
    one(
        "rtp_packets_received_total",
        "counter",
        "RTP packets received from phones.",
        &plain(media.packets_in),
    );
    one(
        "rtp_packets_sent_total",
        "counter",
        "RTP packets sent to phones.",
        &plain(media.packets_out),
    );
    one(
        "rtp_bytes_received_total",
        "counter",
        "RTP bytes received.",
        &plain(media.bytes_in),
    );
    one(
        "rtp_bytes_sent_total",
        "counter",
        "RTP bytes sent.",
        &plain(media.bytes_out),
    );
    let drops = vec![
        ("{reason=\"bad\"}".to_string(), media.dropped_bad),
        (
            "{reason=\"foreign_source\"}".to_string(),
            media.dropped_foreign,
        ),
        (
            "{reason=\"no_destination\"}".to_string(),
            media.dropped_no_destination,
        ),
        ("{reason=\"held\"}".to_string(), media.dropped_held),
        ("{reason=\"send_error\"}".to_string(), media.send_errors),
    ];
    one(
        "rtp_packets_dropped_total",
        "counter",
        "RTP packets dropped, by reason.",
        &drops,
    );
    one(
        "jitter_buffer_frames_total",
        "counter",
        "On the decode path (spied, mixed, prompted calls): packets too late to play, and frames lost and concealed.",
        &[
            ("{outcome=\"late\"}".to_string(), media.jitter_late),
            ("{outcome=\"lost\"}".to_string(), media.jitter_lost),
        ],
    );
    let db = &s.store;
    one(
        "store_degraded",
        "gauge",
        "1 while the database is unreachable or writes fail.",
        &plain(u64::from(db.degraded)),
    );
    one(
        "store_queue_depth",
        "gauge",
        "Database writes waiting.",
        &plain(n(db.queued)),
    );
    one(
        "store_writes_total",
        "counter",
        "Database writes done.",
        &plain(db.written),
    );
    one(
        "store_writes_dropped_total",
        "counter",
        "Database writes dropped (queue full).",
        &plain(db.dropped),
    );
    one(
        "store_writes_failed_total",
        "counter",
        "Database writes refused for good.",
        &plain(db.failed),
    );
    one(
        "config_version",
        "gauge",
        "Version of the configuration snapshot in use.",
        &plain(db.config_version),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders() {
        let m = Metrics::default();
        m.count_sent(b"SIP/2.0 200 OK\r\n");
        m.count_sent(b"SIP/2.0 403 Forbidden\r\n");
        m.count_sent(b"SIP/2.0 401 Unauthorized\r\n");
        m.count_sent(b"INVITE sip:x SIP/2.0\r\n");
        m.count_request_received();
        m.count_lockout(LockoutKind::Source);
        let mut closed = BridgeStats::default();
        closed.a.packets_in = 10;
        closed.b.dropped_foreign = 3;
        closed.a.jitter_lost = 4;
        m.bridge_closed(&closed);
        let mut live = BridgeStats::default();
        live.a.packets_in = 5;
        live.b.jitter_late = 2;
        let mut s = Snapshot {
            calls: 2,
            ..Snapshot::default()
        }
        .with_media(&m, std::iter::once(live));
        s.monitors.insert("whisper", 1);
        s.lockouts.insert("source", 1);
        s.connections.refused = 7;
        let text = render(&s, &m);
        for line in [
            "spygroup_calls 2",
            "spygroup_sip_responses_sent_total{class=\"2xx\"} 1",
            "spygroup_sip_responses_sent_total{class=\"4xx\"} 2",
            "spygroup_sip_requests_received_total 1",
            "spygroup_lockouts{kind=\"source\"} 1",
            "spygroup_lockouts_started_total{kind=\"source\"} 1",
            "spygroup_monitor_sessions{mode=\"whisper\"} 1",
            "spygroup_monitor_sessions{mode=\"listen\"} 0",
            "spygroup_rtp_packets_received_total 15",
            "spygroup_rtp_packets_dropped_total{reason=\"foreign_source\"} 3",
            "spygroup_jitter_buffer_frames_total{outcome=\"late\"} 2",
            "spygroup_sip_connections_closed_total{reason=\"refused\"} 7",
            "spygroup_sip_connections 0",
            "spygroup_jitter_buffer_frames_total{outcome=\"lost\"} 4",
            "# TYPE spygroup_calls gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // Every sample line is `name{labels} value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, v) = l.rsplit_once(' ').unwrap();
            assert!(name.starts_with("spygroup_"), "{l}");
            v.parse::<u64>().unwrap();
        }
    }
}
