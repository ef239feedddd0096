//! Generator settings, their validation, and the sizes derived from them.

use std::fmt;

/// 2017-11-25 00:00:00 +08:00 (the first day of Taobao UserBehavior), in UTC milliseconds.
pub const TAOBAO_START_MS: i64 = 1_511_539_200_000;
/// The shop's local time zone in the Taobao data: UTC+8, in seconds east of UTC.
pub const TAOBAO_TZ_OFFSET_SECS: i32 = 8 * 3600;
/// Days covered by Taobao UserBehavior (2017-11-25 ..= 2017-12-03).
pub const TAOBAO_DAYS: u32 = 9;

/// Largest accepted `events`: 10^11 behaviour events.
pub const MAX_EVENTS: u64 = 100_000_000_000;
/// Largest accepted `days`: about ten years.
pub const MAX_DAYS: u32 = 3660;
/// Largest accepted out-of-orderness: one hour.
pub const MAX_OUT_OF_ORDER_MS: i64 = 3_600_000;

const MIN_START_MS: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z, the default `Rules` floor
const MAX_END_MS: i64 = 4_102_444_800_000; // 2100-01-01T00:00:00Z

/// Number of users, items and categories. Unless overridden they scale with `events` the way
/// Taobao UserBehavior does (100M events: ~1M users, ~4.16M items, 9,439 categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Distinct users (default `events / 100`, at least 20, at most 50M).
    pub users: u32,
    /// Distinct items (default `events / 24`, at least 100, at most 1G).
    pub items: u32,
    /// Distinct categories (default `items / 441`, at least 5, at most 9,439 and `items`).
    pub categories: u32,
}

/// What to generate. Build with [`GenConfig::new`] (or `Default`) and the `with_*` methods,
/// then [`GenConfig::validate`] (every entry point validates too).
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Number of **behaviour** events (pv/cart/fav/buy). Orders, payments, logins, ad clicks
    /// and page views come on top (see the crate docs for their ratios). Default 1,000,000.
    pub events: u64,
    /// Days covered, starting at `start_ms`. Default 9 (like Taobao UserBehavior).
    pub days: u32,
    /// Seed: the same settings and seed give the same output, byte for byte. Default 42.
    pub seed: u64,
    /// Start of the first day, UTC milliseconds; a whole second. Default 2017-11-25 00:00 UTC+8.
    pub start_ms: i64,
    /// The shop's local time zone, seconds east of UTC (drives the daily rhythm). Default +8h.
    pub tz_offset_secs: i32,
    /// Tenant written into every event; `None` is the default shop. Default `None`.
    pub shop: Option<String>,
    /// Maximum lateness: each event's time is moved back by up to this many ms while its
    /// position in the stream stays, so streams are out of order by at most this. Default 0.
    pub out_of_order_ms: i64,
    /// Behaviour events per output chunk at the average rate (the unit of parallel work and
    /// of [`crate::Generator::chunks`]). Changes memory use and parallelism, never the output.
    /// Default 1,000,000.
    pub chunk_events: u64,
    /// Overrides the derived number of users.
    pub users: Option<u32>,
    /// Overrides the derived number of items.
    pub items: Option<u32>,
    /// Overrides the derived number of categories.
    pub categories: Option<u32>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 1_000_000,
            days: TAOBAO_DAYS,
            seed: 42,
            start_ms: TAOBAO_START_MS,
            tz_offset_secs: TAOBAO_TZ_OFFSET_SECS,
            shop: None,
            out_of_order_ms: 0,
            chunk_events: 1_000_000,
            users: None,
            items: None,
            categories: None,
        }
    }
}

/// A setting the generator cannot work with, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl GenConfig {
    /// Default settings with `events` behaviour events.
    pub fn new(events: u64) -> Self {
        GenConfig {
            events,
            ..GenConfig::default()
        }
    }

    /// Sets the number of behaviour events.
    pub fn with_events(mut self, events: u64) -> Self {
        self.events = events;
        self
    }

    /// Sets the number of days.
    pub fn with_days(mut self, days: u32) -> Self {
        self.days = days;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the start (UTC ms, whole second).
    pub fn with_start_ms(mut self, start_ms: i64) -> Self {
        self.start_ms = start_ms;
        self
    }

    /// Sets the shop's time zone (seconds east of UTC).
    pub fn with_tz_offset_secs(mut self, secs: i32) -> Self {
        self.tz_offset_secs = secs;
        self
    }

    /// Sets the shop (tenant) name.
    pub fn with_shop(mut self, shop: Option<String>) -> Self {
        self.shop = shop;
        self
    }

    /// Sets the maximum out-of-orderness in ms.
    pub fn with_out_of_order_ms(mut self, ms: i64) -> Self {
        self.out_of_order_ms = ms;
        self
    }

    /// Sets the behaviour events per chunk (output stays the same).
    pub fn with_chunk_events(mut self, n: u64) -> Self {
        self.chunk_events = n;
        self
    }

    /// Overrides the number of users, items and categories (`None` keeps the derived one).
    pub fn with_scale(
        mut self,
        users: Option<u32>,
        items: Option<u32>,
        categories: Option<u32>,
    ) -> Self {
        self.users = users;
        self.items = items;
        self.categories = categories;
        self
    }

    /// End of the covered range (exclusive), UTC ms.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.days as i64 * 86_400_000
    }

    /// Checks every setting, naming the first bad one and the accepted range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.events == 0 || self.events > MAX_EVENTS {
            return err(format!(
                "events must be between 1 and {MAX_EVENTS}, got {}",
                self.events
            ));
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return err(format!(
                "days must be between 1 and {MAX_DAYS}, got {}",
                self.days
            ));
        }
        if self.start_ms % 1000 != 0 {
            return err(format!(
                "start_ms must be a whole second, got {}",
                self.start_ms
            ));
        }
        if self.start_ms < MIN_START_MS || self.end_ms() > MAX_END_MS {
            return err(format!(
                "the generated range must lie within 2000-01-01 .. 2100-01-01 UTC; start_ms {} with {} days does not",
                self.start_ms, self.days
            ));
        }
        if self.tz_offset_secs.abs() > 14 * 3600 {
            return err(format!(
                "tz_offset_secs must be within ±14h (±50400), got {}",
                self.tz_offset_secs
            ));
        }
        if !(0..=MAX_OUT_OF_ORDER_MS).contains(&self.out_of_order_ms) {
            return err(format!(
                "out_of_order_ms must be between 0 and {MAX_OUT_OF_ORDER_MS}, got {}",
                self.out_of_order_ms
            ));
        }
        if !(1000..=100_000_000).contains(&self.chunk_events) {
            return err(format!(
                "chunk_events must be between 1000 and 100000000, got {}",
                self.chunk_events
            ));
        }
        if let Some(shop) = &self.shop {
            ::model::check_shop(shop).map_err(|r| ConfigError(format!("shop: {r}")))?;
        }
        if let Some(u) = self.users.filter(|u| !(1..=50_000_000).contains(u)) {
            return err(format!("users must be between 1 and 50000000, got {u}"));
        }
        if let Some(i) = self.items.filter(|i| !(10..=1_000_000_000).contains(i)) {
            return err(format!("items must be between 10 and 1000000000, got {i}"));
        }
        if let Some(c) = self.categories {
            let items = self.scale().items;
            if c == 0 || c > items {
                return err(format!(
                    "categories must be between 1 and the number of items ({items}), got {c}"
                ));
            }
        }
        Ok(())
    }

    /// The number of users, items and categories this run uses.
    pub fn scale(&self) -> Scale {
        let users = self
            .users
            .unwrap_or_else(|| (self.events / 100).clamp(20, 50_000_000) as u32);
        let items = self
            .items
            .unwrap_or_else(|| (self.events / 24).clamp(100, 1_000_000_000) as u32);
        let categories = self
            .categories
            .unwrap_or_else(|| (items / 441).clamp(5, 9439))
            .min(items);
        Scale {
            users,
            items,
            categories,
        }
    }

    /// Parses an event count: `1000`, `10k`, `1.5M`, `100M`, `2G` (or `2B`), `1_000_000`.
    /// Suffixes are decimal (k = 10^3, M = 10^6, G/B = 10^9); the value must be a whole number.
    pub fn parse_count(text: &str) -> Result<u64, ConfigError> {
        let t: String = text.trim().chars().filter(|c| *c != '_').collect();
        let bad = || {
            ConfigError(format!(
                "bad count {text:?}: expected a whole number like 1000, 10k, 1.5M, 100M or 2G"
            ))
        };
        let (num, mult) = match t.char_indices().last() {
            Some((i, 'k' | 'K')) => (&t[..i], 1e3),
            Some((i, 'm' | 'M')) => (&t[..i], 1e6),
            Some((i, 'g' | 'G' | 'b' | 'B')) => (&t[..i], 1e9),
            Some(_) => (t.as_str(), 1.0),
            None => return Err(bad()),
        };
        if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            return Err(bad());
        }
        if mult == 1.0 {
            return num.parse::<u64>().map_err(|_| bad());
        }
        let v: f64 = num.parse().map_err(|_| bad())?;
        let n = v * mult;
        if !n.is_finite() || n >= u64::MAX as f64 || (n - n.round()).abs() > 1e-6 {
            return Err(bad());
        }
        Ok(n.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_with_suffixes() {
        for (t, n) in [
            ("1000", 1000),
            ("10k", 10_000),
            ("10K", 10_000),
            ("1.5M", 1_500_000),
            ("100M", 100_000_000),
            ("2G", 2_000_000_000),
            ("1B", 1_000_000_000),
            ("1_000_000", 1_000_000),
            (" 7 ", 7),
        ] {
            assert_eq!(GenConfig::parse_count(t), Ok(n), "{t}");
        }
        for bad in [
            "", "k", "-5", "1.5", "1.2345k", "abc", "1e6", "10x", "1..5M",
        ] {
            assert!(GenConfig::parse_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_bad_setting() {
        assert!(GenConfig::default().validate().is_ok());
        let e = GenConfig::default().with_days(0).validate().unwrap_err();
        assert!(e.0.contains("days"), "{e}");
        let e = GenConfig::new(0).validate().unwrap_err();
        assert!(e.0.contains("events"), "{e}");
        let e = GenConfig::default()
            .with_start_ms(1)
            .validate()
            .unwrap_err();
        assert!(e.0.contains("start_ms"), "{e}");
        let e = GenConfig::default()
            .with_shop(Some("../x".into()))
            .validate()
            .unwrap_err();
        assert!(e.0.contains("shop"), "{e}");
        let e = GenConfig::default()
            .with_out_of_order_ms(-1)
            .validate()
            .unwrap_err();
        assert!(e.0.contains("out_of_order_ms"), "{e}");
        let e = GenConfig::default()
            .with_tz_offset_secs(20 * 3600)
            .validate()
            .unwrap_err();
        assert!(e.0.contains("tz_offset_secs"), "{e}");
        let e = GenConfig::default()
            .with_scale(None, Some(100), Some(101))
            .validate()
            .unwrap_err();
        assert!(e.0.contains("categories"), "{e}");
    }

    #[test]
    fn scale_follows_taobao_ratios_with_floors() {
        let s = GenConfig::new(100_000_000).scale();
        assert_eq!(
            (s.users, s.items, s.categories),
            (1_000_000, 4_166_666, 9439)
        );
        let s = GenConfig::new(10).scale();
        assert_eq!((s.users, s.items, s.categories), (20, 100, 5));
    }
}
