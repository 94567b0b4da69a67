//! Overload control for new calls: a cap on calls at once and on new calls a
//! second, over all sources (trunks included).
//!
//! The per-source limit (`flood.rs`) stops one address; a busy hour, a carrier's
//! burst or many attackers at once come from many. Past what the machine can carry
//! (`bench/` measures it), every call would suffer: RTP waits, set-up queues to
//! seconds. So, as Asterisk's `maxcalls` and FreeSWITCH's `max-sessions` /
//! `sessions-per-second`, a new call over either limit gets `503 Service
//! Unavailable` with `Retry-After` at once, and the calls already up keep their
//! quality. Requests inside a dialog never count.

use std::time::Instant;

/// Why a new call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overload {
    Calls(usize),
    Rate(u32),
}

impl Overload {
    pub fn reason(self) -> String {
        match self {
            Overload::Calls(n) => format!("{n} calls at once, the maximum"),
            Overload::Rate(n) => format!("more than {n} new calls a second"),
        }
    }
}

#[derive(Debug)]
pub(super) struct Admission {
    max_calls: Option<usize>,
    /// New calls a second, bursts of twice that.
    per_second: Option<u32>,
    tokens: f64,
    at: Option<Instant>,
}

impl Admission {
    pub fn new(max_calls: Option<usize>, per_second: Option<u32>) -> Admission {
        Admission {
            max_calls,
            per_second,
            tokens: f64::from(per_second.unwrap_or(0)) * 2.0,
            at: None,
        }
    }

    /// May a new call start, with `calls` up or ringing now? Takes a token if so.
    pub fn admit(&mut self, calls: usize, now: Instant) -> Result<(), Overload> {
        if let Some(max) = self.max_calls {
            if calls >= max {
                return Err(Overload::Calls(max));
            }
        }
        if let Some(rate) = self.per_second {
            let rate_f = f64::from(rate);
            let dt = self
                .at
                .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
            self.tokens = (self.tokens + dt * rate_f).min(rate_f * 2.0);
            self.at = Some(now);
            if self.tokens < 1.0 {
                return Err(Overload::Rate(rate));
            }
            self.tokens -= 1.0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calls_at_once_are_capped() {
        let t = Instant::now();
        let mut a = Admission::new(Some(2), None);
        assert!(a.admit(0, t).is_ok());
        assert!(a.admit(1, t).is_ok());
        assert_eq!(a.admit(2, t), Err(Overload::Calls(2)));
    }

    #[test]
    fn new_calls_a_second_are_capped_with_a_burst() {
        let t0 = Instant::now();
        let mut a = Admission::new(None, Some(10));
        for _ in 0..20 {
            assert!(a.admit(0, t0).is_ok());
        }
        assert_eq!(a.admit(0, t0), Err(Overload::Rate(10)));
        // 100 ms later one more.
        let t1 = t0 + Duration::from_millis(100);
        assert!(a.admit(0, t1).is_ok());
        assert!(a.admit(0, t1).is_err());
    }

    #[test]
    fn no_limits_admit_everything() {
        let mut a = Admission::new(None, None);
        assert!(a.admit(1_000_000, Instant::now()).is_ok());
    }
}
