//! Timestamps: unix seconds, unix milliseconds or RFC 3339, normalised to UTC milliseconds.

use chrono::{DateTime, NaiveDateTime};

/// Numbers below this are unix seconds, at or above it unix milliseconds. 10^11 seconds is the
/// year 5138 and 10^11 ms is March 1973, so every plausible e-commerce time is unambiguous.
pub const SECONDS_MS_CUTOFF: i64 = 100_000_000_000;

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsError(pub String);

/// The wall clock in UTC milliseconds: the one "now" of every crate.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses a timestamp in any accepted form into UTC milliseconds.
///
/// Accepted: integer unix seconds (`1511658000`), integer unix ms (`1511658000123`), decimal
/// seconds (`1511658000.5`), RFC 3339 (`2017-11-26T01:00:00Z`, `...+08:00`).
pub fn parse_ts(text: &str) -> Result<i64, TsError> {
    let t = text.trim();
    if let Some(n) = parse_int(t.as_bytes()) {
        return Ok(unix_number_to_ms(n));
    }
    let decimal = t.contains('.')
        && t.bytes()
            .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-');
    if decimal
        && let Ok(f) = t.parse::<f64>()
        && f.is_finite()
        && f.abs() < 1e15
    {
        return Ok(if f.abs() < SECONDS_MS_CUTOFF as f64 {
            (f * 1000.0).round() as i64
        } else {
            f.round() as i64
        });
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            TsError(
                "expected unix seconds, unix milliseconds or RFC 3339 (2017-11-26T01:00:00Z)"
                    .into(),
            )
        })
}

/// Interprets an integer as unix seconds or milliseconds (see [`SECONDS_MS_CUTOFF`]).
#[inline]
pub fn unix_number_to_ms(n: i64) -> i64 {
    if n.abs() < SECONDS_MS_CUTOFF {
        n * 1000
    } else {
        n
    }
}

/// Parses a naive local date-time (`2010-12-01 08:26:00`, `12/1/2010 8:26`) as UTC plus an offset
/// in seconds east of UTC; returns UTC ms.
pub fn parse_naive(text: &str, offset_secs: i32) -> Result<i64, TsError> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ];
    let t = text.trim();
    for f in FORMATS {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc().timestamp_millis() - offset_secs as i64 * 1000);
        }
    }
    Err(TsError(
        "expected a date-time like 2010-12-01 08:26:00".into(),
    ))
}

/// Formats UTC ms as RFC 3339 with millisecond precision.
pub fn format_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses an optionally signed decimal integer that fits in i64.
pub fn parse_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + d as i64;
    }
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_forms_agree() {
        let s = parse_ts("1511658000").unwrap();
        assert_eq!(s, 1_511_658_000_000);
        assert_eq!(parse_ts("1511658000000").unwrap(), s);
        assert_eq!(parse_ts("2017-11-26T09:00:00+08:00").unwrap(), s);
        assert_eq!(parse_ts("2017-11-26T01:00:00Z").unwrap(), s);
        assert_eq!(parse_ts("1511658000.25").unwrap(), s + 250);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "abc",
            "2017-13-01",
            "1e400",
            "99999999999999999999999",
            "-",
            ".",
        ] {
            assert!(parse_ts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn naive_times_take_an_offset() {
        assert_eq!(
            parse_naive("2017-11-26 09:00:00", 8 * 3600).unwrap(),
            1_511_658_000_000
        );
        assert_eq!(
            parse_naive("12/1/2010 8:26", 0).unwrap(),
            parse_naive("2010-12-01 08:26:00", 0).unwrap()
        );
    }
}
