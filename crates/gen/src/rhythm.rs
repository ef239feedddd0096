//! Daily rhythm and the time plan: how many behaviour events each minute gets, how the range is
//! cut into slots (units of independent generation) and chunks (units of output).
//!
//! Traffic follows an hour-of-day curve in the shop's local time ([`HOUR_WEIGHTS`], the shape
//! of Taobao's hourly page views: a trough at 3-5h, a plateau through the working day and the
//! peak at 20-22h), interpolated linearly between hour centres so there are no steps, times a
//! day factor (weekends ×1.1, each day ±4% of seeded noise).
//!
//! The exact number of behaviour events is fixed per slot from the cumulative minute weights
//! (`round(E·W(t)/W(end))` differences), so a run yields exactly `events` behaviour events
//! whatever the chunking or thread count.

use crate::config::GenConfig;
use crate::rng::{hash2, unit_of};
use std::ops::Range;

/// Relative traffic per local hour of day (0h..23h).
pub const HOUR_WEIGHTS: [f64; 24] = [
    3.6, 2.1, 1.2, 0.8, 0.65, 0.7, 1.2, 2.2, 3.3, 4.1, 4.6, 4.6, //
    4.5, 4.6, 4.5, 4.5, 4.4, 4.4, 4.6, 5.3, 6.3, 6.7, 6.2, 4.9,
];

/// Multiplier for Saturdays and Sundays (local time).
pub const WEEKEND_FACTOR: f64 = 1.1;
/// Total width of the per-day noise factor (uniform, centred on 1).
pub const DAY_NOISE: f64 = 0.08;

/// Latest behaviour event of a session, seconds after the session's start.
pub(crate) const SESSION_SPAN_SECS: u64 = 1800;
/// Latest event of any type caused by a session (orders are paid or cancelled up to ~17 min
/// after the buy), seconds after the session's start.
pub(crate) const AUX_SPAN_SECS: u64 = 3000;

/// Behaviour events a slot should hold at the average rate (slots are whole minutes).
const SLOT_TARGET_EVENTS: f64 = 256.0;

/// Minute-level traffic weights and the slot/chunk plan of one run.
pub(crate) struct Plan {
    pub(crate) start_ms: i64,
    pub(crate) total_secs: u64,
    pub(crate) minutes: u32,
    pub(crate) events: u64,
    pub(crate) slot_minutes: u32,
    pub(crate) n_slots: u32,
    /// First slot of each chunk.
    chunk_starts: Vec<u32>,
    pub(crate) n_chunks: u32,
    /// `cum[m]` = total weight of minutes before `m`; `minutes + 1` entries.
    cum: Vec<f64>,
}

/// Traffic weight of a local minute of the day, interpolated between hour centres.
pub fn minute_weight(local_minute_of_day: u32) -> f64 {
    let h = (local_minute_of_day % 1440) as f64 / 60.0 + 1.0 / 120.0 - 0.5;
    let h0 = h.floor();
    let frac = h - h0;
    let i0 = (h0 as i64).rem_euclid(24) as usize;
    let i1 = (i0 + 1) % 24;
    HOUR_WEIGHTS[i0] * (1.0 - frac) + HOUR_WEIGHTS[i1] * frac
}

fn day_factor(seed: u64, local_day: i64) -> f64 {
    let weekday = (local_day + 3).rem_euclid(7); // 0 = Monday; 1970-01-01 was a Thursday
    let weekend = if weekday >= 5 { WEEKEND_FACTOR } else { 1.0 };
    let noise = 1.0 + DAY_NOISE * (unit_of(hash2(seed ^ 0xda7, local_day as u64)) - 0.5);
    weekend * noise
}

impl Plan {
    /// Builds the plan of a validated config.
    pub(crate) fn new(cfg: &GenConfig) -> Plan {
        let minutes = cfg.days * 1440;
        let start_secs = cfg.start_ms.div_euclid(1000);
        let mut cum = Vec::with_capacity(minutes as usize + 1);
        cum.push(0.0);
        let mut acc = 0.0;
        for m in 0..minutes as i64 {
            let local = start_secs + m * 60 + cfg.tz_offset_secs as i64;
            let day = local.div_euclid(86_400);
            let mod_ = (local.div_euclid(60)).rem_euclid(1440) as u32;
            acc += minute_weight(mod_) * day_factor(cfg.seed, day);
            cum.push(acc);
        }
        let events = cfg.events;
        let per_minute = events as f64 / minutes as f64;
        let slot_minutes = ((SLOT_TARGET_EVENTS / per_minute).ceil() as u32).clamp(1, minutes);
        let n_slots = minutes.div_ceil(slot_minutes);
        let total_secs = minutes as u64 * 60;
        // About `chunk_events` per chunk, but chunks of at least 4 session horizons (so little
        // is regenerated) unless that makes them over 4× as large.
        let by_events = events.div_ceil(cfg.chunk_events);
        let by_duration = (total_secs / (4 * AUX_SPAN_SECS)).max(1);
        let wanted = by_events
            .min(by_duration)
            .max(events.div_ceil(4 * cfg.chunk_events))
            .clamp(1, n_slots as u64) as u32;
        let mut plan = Plan {
            start_ms: cfg.start_ms,
            total_secs,
            minutes,
            events,
            slot_minutes,
            n_slots,
            chunk_starts: vec![0],
            n_chunks: 1,
            cum,
        };
        // Cut chunks of about equal numbers of events (not equal durations), so parallel
        // workers get equal shares and none waits long for the last one.
        let target = events.div_ceil(wanted as u64);
        let mut acc = 0u64;
        for slot in 0..n_slots {
            if acc >= target && plan.chunk_starts.len() < wanted as usize {
                plan.chunk_starts.push(slot);
                acc = 0;
            }
            acc += plan.slot_budget(slot);
        }
        plan.n_chunks = plan.chunk_starts.len() as u32;
        plan
    }

    /// Minutes `[m0, m1)` of a slot.
    pub(crate) fn slot_minute_range(&self, slot: u32) -> (u32, u32) {
        let m0 = slot * self.slot_minutes;
        (m0, (m0 + self.slot_minutes).min(self.minutes))
    }

    fn events_before_minute(&self, m: u32) -> u64 {
        let total = self.cum[self.minutes as usize];
        if m >= self.minutes {
            return self.events;
        }
        (self.events as f64 * (self.cum[m as usize] / total)).round() as u64
    }

    /// Behaviour events whose sessions start in a slot.
    pub(crate) fn slot_budget(&self, slot: u32) -> u64 {
        let (m0, m1) = self.slot_minute_range(slot);
        self.events_before_minute(m1)
            .saturating_sub(self.events_before_minute(m0))
    }

    /// A minute in `[m0, m1)` drawn in proportion to traffic, from a uniform `u` in `[0, 1)`.
    pub(crate) fn sample_minute(&self, u: f64, m0: u32, m1: u32) -> u32 {
        let (lo, hi) = (self.cum[m0 as usize], self.cum[m1 as usize]);
        let target = lo + u * (hi - lo);
        // First minute whose cumulative end exceeds the target.
        let slice = &self.cum[m0 as usize + 1..=m1 as usize];
        let k = slice.partition_point(|c| *c <= target);
        (m0 + k as u32).min(m1 - 1)
    }

    /// Seconds `[c0, c1)` (after the start) covered by a chunk.
    pub(crate) fn chunk_secs(&self, chunk: u32) -> (u64, u64) {
        let (m0, _) = self.slot_minute_range(self.chunk_starts[chunk as usize]);
        let m1 = match self.chunk_starts.get(chunk as usize + 1) {
            Some(s1) => self.slot_minute_range(*s1).0,
            None => self.minutes,
        };
        (m0 as u64 * 60, m1 as u64 * 60)
    }

    /// Slots whose sessions can put events into a chunk, when sessions last at most `horizon`
    /// seconds.
    pub(crate) fn slots_for_chunk(&self, chunk: u32, horizon: u64) -> Range<u32> {
        let (c0, _) = self.chunk_secs(chunk);
        let slot_secs = self.slot_minutes as u64 * 60;
        let first = (c0.saturating_sub(horizon) / slot_secs) as u32;
        let last = self
            .chunk_starts
            .get(chunk as usize + 1)
            .copied()
            .unwrap_or(self.n_slots);
        first..last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_add_up_exactly_and_follow_the_rhythm() {
        let cfg = GenConfig::new(1_234_567);
        let p = Plan::new(&cfg);
        let total: u64 = (0..p.n_slots).map(|s| p.slot_budget(s)).sum();
        assert_eq!(total, cfg.events);
        let chunked: u32 = (0..p.n_chunks)
            .map(|c| {
                let (a, b) = p.chunk_secs(c);
                (b - a) as u32 / 60
            })
            .sum();
        assert_eq!(chunked, p.minutes);
        // Chunks hold about equal numbers of events.
        let per_chunk: Vec<u64> = (0..p.n_chunks)
            .map(|c| {
                let r = p.slots_for_chunk(c, 0);
                r.map(|s| p.slot_budget(s)).sum()
            })
            .collect();
        let max = per_chunk.iter().max().copied().unwrap_or(0);
        let min = per_chunk.iter().min().copied().unwrap_or(0);
        assert!(p.n_chunks >= 2 && max - min < max / 10, "{per_chunk:?}");
        // 21:00 local beats 04:00 local by far.
        assert!(minute_weight(21 * 60) > 5.0 * minute_weight(4 * 60));
        // The curve is continuous across midnight.
        assert!((minute_weight(1439) - minute_weight(0)).abs() < 0.1);
    }

    #[test]
    fn sampled_minutes_stay_in_range() {
        let p = Plan::new(&GenConfig::new(1000));
        for u in [0.0, 0.3, 0.999_999] {
            let m = p.sample_minute(u, 10, 500);
            assert!((10..500).contains(&m));
        }
        assert_eq!(p.n_chunks, 1);
        assert_eq!(p.slots_for_chunk(0, AUX_SPAN_SECS), 0..p.n_slots);
    }
}
