//! Validation settings shared by every importer and the ingest server.

use crate::reject::{Reason, Reject};
use crate::time::format_ms;
use serde::{Deserialize, Serialize};

/// What counts as a valid event beyond its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Earliest plausible event time, UTC ms (default 2000-01-01).
    pub min_ts_ms: i64,
    /// Latest plausible event time, UTC ms; `None` means "now + max_future_secs" at check time.
    pub max_ts_ms: Option<i64>,
    /// How far in the future an event may lie when `max_ts_ms` is not set (default 1 day).
    pub max_future_secs: i64,
    /// Behaviour actions accepted besides the built-in pv, cart, fav, buy.
    pub extra_actions: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_ts_ms: 946_684_800_000,
            max_ts_ms: None,
            max_future_secs: 86_400,
            extra_actions: Vec::new(),
        }
    }
}

impl Rules {
    /// The upper bound in effect now.
    pub fn max_ts(&self) -> i64 {
        self.max_ts_ms.unwrap_or_else(|| {
            crate::time::now_ms().saturating_add(self.max_future_secs.saturating_mul(1000))
        })
    }

    /// Rules with the upper bound pinned to now, so a long import checks against one instant.
    pub fn pinned(&self) -> Rules {
        Rules {
            max_ts_ms: Some(self.max_ts()),
            ..self.clone()
        }
    }

    /// Checks an event time against the plausible range.
    #[inline]
    pub fn check_ts(&self, ts: i64) -> Result<(), Reject> {
        let max = self.max_ts_ms.unwrap_or_else(|| self.max_ts());
        if ts < self.min_ts_ms || ts > max {
            return Err(Reject::field(
                Reason::TsOutOfRange,
                "ts",
                &format_ms(ts),
                format!(
                    "must lie in [{}, {}]",
                    format_ms(self.min_ts_ms),
                    format_ms(max)
                ),
            ));
        }
        Ok(())
    }

    /// Whether a behaviour action is known.
    pub fn action_known(&self, action: &str) -> bool {
        matches!(action, "pv" | "cart" | "fav" | "buy")
            || self.extra_actions.iter().any(|a| a == action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_inclusive_and_reports_bounds() {
        let r = Rules {
            min_ts_ms: 1000,
            max_ts_ms: Some(2000),
            ..Rules::default()
        };
        assert!(r.check_ts(1000).is_ok());
        assert!(r.check_ts(2000).is_ok());
        let e = r.check_ts(2001).unwrap_err();
        assert_eq!(e.reason, Reason::TsOutOfRange);
        assert!(e.rule.contains("1970-01-01T00:00:02.000Z"));
    }

    #[test]
    fn extra_actions_extend_the_known_set() {
        let r = Rules {
            extra_actions: vec!["share".into()],
            ..Rules::default()
        };
        assert!(r.action_known("buy") && r.action_known("share") && !r.action_known("Buy"));
    }
}
