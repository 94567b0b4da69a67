//! Who may open a SIP connection (TCP or TLS), and for how long one may sit idle.
//!
//! Every connection costs a file descriptor and two tasks, and a TLS handshake costs
//! CPU before the peer has said anything, so a single host opening connections in
//! a loop (or opening them and saying nothing, slowloris style) could exhaust the
//! PBX while sending no SIP at all. The request limiter in the switch never sees
//! such a peer. So the transport edge keeps, per source IP, a count of open
//! connections and a token bucket of new ones, plus a cap on all connections;
//! a refused connection is closed at once, before any handshake.
//!
//! I/O-free like the rest of the stack: `admit`/`release` take the time and are
//! tested in virtual time below.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Limits on stream connections (TCP and TLS together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections one IP may hold (a phone needs one; an office NAT a few
    /// dozen).
    pub per_source: usize,
    /// New connections per second one IP may open (sustained), with a burst of
    /// twice that; 0 switches the rate limit off.
    pub per_second: u32,
    /// Open connections in all.
    pub total: usize,
    /// A connection that carried nothing (not even a keep-alive) for this long is
    /// closed. Longer than any registration may last, so a phone that refreshes
    /// its registration (or sends RFC 5626 CRLF keep-alives) never loses it.
    pub idle: Duration,
    /// A new connection must send its first bytes within this time (slowloris).
    pub first_message: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            per_source: 100,
            per_second: 50,
            total: 10_000,
            idle: Duration::from_secs(3900),
            first_message: Duration::from_secs(10),
        }
    }
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerSource,
    Rate,
    Total,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PerSource => "too many connections from this source",
            Refusal::Rate => "connections opened too fast from this source",
            Refusal::Total => "too many connections in all",
        }
    }
}

#[derive(Debug)]
struct Source {
    open: usize,
    tokens: f64,
    refilled: Instant,
}

/// The count of open connections and the rate of new ones, per source IP.
#[derive(Debug)]
pub struct ConnectionGuard {
    limits: ConnectionLimits,
    sources: HashMap<IpAddr, Source>,
    open: usize,
}

impl ConnectionGuard {
    pub fn new(limits: ConnectionLimits) -> ConnectionGuard {
        ConnectionGuard {
            limits,
            sources: HashMap::new(),
            open: 0,
        }
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// A connection from `ip` was accepted at `now`: may it stay? Counted as open
    /// when it may (call `release` when it closes).
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        if self.open >= self.limits.total {
            return Err(Refusal::Total);
        }
        let rate = f64::from(self.limits.per_second);
        let burst = rate * 2.0;
        let s = self.sources.entry(ip).or_insert(Source {
            open: 0,
            tokens: burst,
            refilled: now,
        });
        if s.open >= self.limits.per_source {
            return Err(Refusal::PerSource);
        }
        if rate > 0.0 {
            let dt = now.saturating_duration_since(s.refilled).as_secs_f64();
            s.tokens = (s.tokens + dt * rate).min(burst);
            s.refilled = now;
            if s.tokens < 1.0 {
                return Err(Refusal::Rate);
            }
            s.tokens -= 1.0;
        }
        s.open += 1;
        self.open += 1;
        Ok(())
    }

    /// A connection `admit` let in has closed.
    pub fn release(&mut self, ip: IpAddr, now: Instant) {
        self.open = self.open.saturating_sub(1);
        if let Some(s) = self.sources.get_mut(&ip) {
            s.open = s.open.saturating_sub(1);
        }
        // Forget sources with nothing open whose bucket has refilled: the map holds
        // only who is connected or was refused lately.
        let rate = f64::from(self.limits.per_second);
        let full = Duration::from_secs_f64(if rate > 0.0 { 2.0 } else { 0.0 });
        self.sources
            .retain(|_, s| s.open > 0 || now.saturating_duration_since(s.refilled) < full);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            per_source: 3,
            per_second: 2,
            total: 5,
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn one_source_gets_its_share_and_no_more() {
        let t0 = Instant::now();
        let mut g = ConnectionGuard::new(ConnectionLimits {
            per_second: 0,
            ..limits()
        });
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            g.admit(a, t0).unwrap();
        }
        assert_eq!(g.admit(a, t0), Err(Refusal::PerSource));
        // Another host is not affected.
        g.admit(ip("192.0.2.2"), t0).unwrap();
        // One closes: there is room again.
        g.release(a, t0);
        g.admit(a, t0).unwrap();
        assert_eq!(g.open(), 4);
    }

    #[test]
    fn opening_in_a_loop_is_refused_until_the_bucket_refills() {
        let t0 = Instant::now();
        let mut g = ConnectionGuard::new(ConnectionLimits {
            per_source: 100,
            total: 100,
            ..limits()
        });
        let a = ip("192.0.2.1");
        // Burst of 4 (2/s x 2), each closed again at once.
        for _ in 0..4 {
            g.admit(a, t0).unwrap();
            g.release(a, t0);
        }
        assert_eq!(g.admit(a, t0), Err(Refusal::Rate));
        // Half a second later one token is back.
        let t1 = t0 + Duration::from_millis(500);
        g.admit(a, t1).unwrap();
        assert_eq!(g.admit(a, t1), Err(Refusal::Rate));
    }

    #[test]
    fn the_total_caps_all_sources() {
        let t0 = Instant::now();
        let mut g = ConnectionGuard::new(limits());
        for i in 1..=5 {
            g.admit(ip(&format!("192.0.2.{i}")), t0).unwrap();
        }
        assert_eq!(g.admit(ip("192.0.2.9"), t0), Err(Refusal::Total));
    }

    #[test]
    fn idle_sources_are_forgotten() {
        let t0 = Instant::now();
        let mut g = ConnectionGuard::new(limits());
        for i in 1..=3 {
            let a = ip(&format!("192.0.2.{i}"));
            g.admit(a, t0).unwrap();
            g.release(a, t0 + Duration::from_secs(10));
        }
        assert!(g.sources.is_empty());
    }
}
