//! The one duration syntax of every setting and parameter (job windows, funnel windows, path
//! gaps, schedules): `500ms`, `5s`, `10min`, `1h`, `1d`, `1h 30m`, and a bare number of seconds
//! (`90` = `90s`; `0` = none).

use std::time::Duration;

/// Parses a duration into milliseconds; the error says how to write one.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    parse(s).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses a duration.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!(
            "bad duration {s:?} ({e}); write e.g. 500ms, 5s, 10min, 1h, 1d, or a number of seconds"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        for (text, ms) in [
            ("0", 0),
            ("90", 90_000),
            (" 90s ", 90_000),
            ("500ms", 500),
            ("10min", 600_000),
            ("30m", 1_800_000),
            ("1h 30m", 5_400_000),
            ("1d", 86_400_000),
            ("7days", 604_800_000),
            ("1.5h", 5_400_000),
        ] {
            assert_eq!(parse_ms(text), Ok(ms), "{text}");
        }
        for bad in ["", "soon", "-5s", "5 parsecs"] {
            let e = parse_ms(bad).expect_err(bad);
            assert!(e.contains("write e.g."), "{bad}: {e}");
        }
    }
}
