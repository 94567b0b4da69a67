//! A per-source limit on new SIP transactions: one address sending requests faster
//! than any phone would (a flood, a scanner, a runaway device) gets `503` with
//! `Retry-After` once over its budget, answered at once and without retransmission,
//! instead of queueing work that delays everyone's calls.
//!
//! A token bucket per source address: `rate` requests a second, bursts of twice
//! that. Only new transactions count (retransmissions are absorbed below), and
//! requests inside a dialog (ACK, BYE, re-INVITE) never do, so established calls
//! are not hurt by their own signalling. Trunks are exempt: a carrier sends the
//! calls of many customers from one address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by source address, bounded in number.
#[derive(Debug)]
pub(super) struct SourceLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
    max_tracked: usize,
}

impl SourceLimiter {
    pub fn new(rate: u32) -> SourceLimiter {
        let rate = f64::from(rate.max(1));
        SourceLimiter {
            rate,
            burst: rate * 2.0,
            buckets: HashMap::new(),
            max_tracked: 65_536,
        }
    }

    /// Takes one request's token from `ip`'s bucket; false when it is empty.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_tracked {
            self.purge(now);
            if self.buckets.len() >= self.max_tracked {
                // Still full of busy sources: a new one gets no free pass either.
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets sources whose bucket has refilled (they are as good as new).
    pub fn purge(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let mut l = SourceLimiter::new(10);
        let allowed = (0..100).filter(|_| l.allow(ip, t0)).count();
        assert_eq!(allowed, 20, "a burst of twice the rate");
        // One second later: ten more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| l.allow(ip, t1)).count(), 10);
        // Another source is not affected.
        assert!(l.allow([192, 0, 2, 2].into(), t1));
        // Refilled sources are forgotten.
        l.purge(t1 + Duration::from_secs(10));
        assert!(l.buckets.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(1);
        l.max_tracked = 4;
        for n in 0..4u8 {
            for _ in 0..3 {
                l.allow([10, 0, 0, n].into(), t0);
            }
        }
        assert!(
            !l.allow([10, 0, 0, 9].into(), t0),
            "table full of busy sources"
        );
        assert!(l.allow([10, 0, 0, 9].into(), t0 + Duration::from_secs(5)));
        assert!(l.buckets.len() <= 4);
    }
}
