//! The lake's calendar: which day partition an event time falls in, in the configured zone.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone};
use std::str::FromStr;

/// A time zone for day partitions: a fixed offset (`+08:00`, `UTC`) or an IANA name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
    /// An IANA zone with daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset is valid"))
    }
}

impl FromStr for Zone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::default());
        }
        if let Some(rest) = t.strip_prefix(['+', '-']) {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
            if let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>())
                && let Some(off) = FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            {
                return Ok(Zone::Fixed(off));
            }
        }
        t.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| format!("unknown time zone {s:?}; use UTC, an offset like +08:00 or an IANA name like Asia/Shanghai"))
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Fixed(o) if o.local_minus_utc() == 0 => f.write_str("UTC"),
            Zone::Fixed(o) => write!(f, "{o}"),
            Zone::Named(tz) => write!(f, "{}", tz.name()),
        }
    }
}

impl Zone {
    /// The local calendar day of a UTC ms instant.
    pub fn day_of(&self, ts_ms: i64) -> NaiveDate {
        let utc = DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
        match self {
            Zone::Fixed(o) => utc.with_timezone(o).date_naive(),
            Zone::Named(tz) => utc.with_timezone(tz).date_naive(),
        }
    }

    /// The UTC ms range `[start, end)` of a local day.
    pub fn day_range(&self, day: NaiveDate) -> (i64, i64) {
        let start = |d: NaiveDate| -> i64 {
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            match self {
                Zone::Fixed(o) => {
                    midnight.and_utc().timestamp_millis() - o.local_minus_utc() as i64 * 1000
                }
                Zone::Named(tz) => match tz.from_local_datetime(&midnight).earliest() {
                    Some(t) => t.timestamp_millis(),
                    // Midnight skipped by a DST jump: the day starts at the offset before the jump.
                    None => {
                        midnight.and_utc().timestamp_millis()
                            - tz.offset_from_utc_datetime(&midnight)
                                .fix()
                                .local_minus_utc() as i64
                                * 1000
                    }
                },
            }
        };
        (start(day), start(day.succ_opt().unwrap_or(day)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_partitions_follow_the_zone() {
        let shanghai: Zone = "+08:00".parse().unwrap();
        // 2017-11-25 16:00 UTC is 2017-11-26 00:00 in UTC+8.
        let ts = 1_511_625_600_000;
        assert_eq!(shanghai.day_of(ts).to_string(), "2017-11-26");
        assert_eq!(shanghai.day_of(ts - 1).to_string(), "2017-11-25");
        assert_eq!(Zone::default().day_of(ts).to_string(), "2017-11-25");
        assert_eq!(
            shanghai.day_range(shanghai.day_of(ts)),
            (ts, ts + 86_400_000)
        );
        let named: Zone = "Asia/Shanghai".parse().unwrap();
        assert_eq!(named.day_range(named.day_of(ts)), (ts, ts + 86_400_000));
    }

    #[test]
    fn dst_days_have_23_or_25_hours() {
        let london: Zone = "Europe/London".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2011, 3, 27).unwrap();
        let (s, e) = london.day_range(d);
        assert_eq!(e - s, 23 * 3_600_000);
        assert!("Mars/Base".parse::<Zone>().is_err());
    }
}
