//! Conversions between `SystemTime` and the epoch milliseconds stored in BIGINT columns.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Epoch milliseconds; times before 1970 clamp to 0, far futures to `i64::MAX`.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Inverse of [`to_ms`]; negative values (never written by us) read as the epoch.
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_millisecond_precision() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(from_ms(to_ms(t)), t);
    }

    #[test]
    fn clamps_out_of_range_values() {
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(from_ms(-7), UNIX_EPOCH);
    }
}
