//! Human-readable UTC times and durations for CLI output (and times typed as CLI
//! options), without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (the well-known
/// era-based conversion: 400-year eras of 146097 days, years starting in March).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`], by the same era arithmetic.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time typed on the command line: epoch milliseconds (`1735689600000`), or a UTC
/// date `YYYY-MM-DD`, optionally with `THH:MM[:SS]` or ` HH:MM[:SS]` (what
/// [`utc`] prints reads back).
pub fn parse_utc(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "{s:?} is not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (UTC) or epoch \
             milliseconds"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() > 8 {
        let ms: u64 = s.parse().map_err(|_| bad())?;
        return Ok(UNIX_EPOCH + Duration::from_millis(ms));
    }
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let num = |p: &str, lo: u32, hi: u32| -> Result<u32, String> {
        let n: u32 = p
            .parse()
            .ok()
            .filter(|_| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        if (lo..=hi).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, dd] = d.as_slice() else {
        return Err(bad());
    };
    let (year, month, day) = (num(y, 1970, 9999)?, num(m, 1, 12)?, num(dd, 1, 31)?);
    let mut secs = 0u64;
    if let Some(time) = time {
        let t: Vec<&str> = time.split(':').collect();
        let (h, mi, se) = match t.as_slice() {
            [h, mi] => (num(h, 0, 23)?, num(mi, 0, 59)?, 0),
            [h, mi, se] => (num(h, 0, 23)?, num(mi, 0, 59)?, num(se, 0, 59)?),
            _ => return Err(bad()),
        };
        secs = u64::from(h * 3600 + mi * 60 + se);
    }
    let days = days_from_civil(i64::from(year), month, day);
    // A day past the month's end (2025-02-30) would roll over: refuse it.
    if civil_from_days(days) != (i64::from(year), month, day) {
        return Err(bad());
    }
    let days = u64::try_from(days).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_secs(days * 86_400 + secs))
}

/// `H:MM:SS` or `M:SS`, rounded down to the second.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        // 2000-02-29 12:34:56 UTC = 951827696
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_827_696)),
            "2000-02-29 12:34:56"
        );
        // 2024-12-31 23:59:59 UTC = 1735689599
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_735_689_599)),
            "2024-12-31 23:59:59"
        );
    }

    #[test]
    fn typed_times() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(parse_utc("1970-01-01"), Ok(at(0)));
        assert_eq!(parse_utc("2000-02-29T12:34:56"), Ok(at(951_827_696)));
        assert_eq!(parse_utc("2024-12-31 23:59:59"), Ok(at(1_735_689_599)));
        assert_eq!(parse_utc("2024-12-31T23:59"), Ok(at(1_735_689_540)));
        assert_eq!(
            parse_utc("1735689600123"),
            Ok(UNIX_EPOCH + Duration::from_millis(1_735_689_600_123))
        );
        for t in [0u64, 59, 86_399, 951_827_696, 1_735_689_599, 4_102_444_800] {
            assert_eq!(parse_utc(&utc(at(t))), Ok(at(t)), "{}", utc(at(t)));
        }
        for bad in [
            "",
            "yesterday",
            "2025-02-30",
            "2025-13-01",
            "2025-1-1x",
            "2025-01-01T24:00",
            "2025-01-01T10",
            "1969-12-31",
            "12345",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(0), "0:00");
        assert_eq!(duration_ms(65_900), "1:05");
        assert_eq!(duration_ms(3_723_000), "1:02:03");
    }
}
