//! Window geometry: which windows an event time falls in.
//!
//! Windows are epoch-aligned (DESIGN.md, Time): a window of size S and slide D ends at every
//! multiple of D (shifted by an offset, e.g. a zone's UTC offset for day windows) and covers
//! `[end − S, end)`. Tumbling windows are the case S = D. Sliding windows are cut into *panes* of
//! gcd(S, D): every event lands in exactly one pane and a window is the union of its panes, so an
//! event is stored once whatever the overlap. Calendar days of a zone with daylight saving are
//! their own (tumbling) geometry, because such days are 23 or 25 hours long.

use store::Zone;

/// The shape of a job's windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Geometry {
    /// Windows `[end − size, end)` for every `end = offset + k·slide`.
    Fixed {
        /// Window length, ms.
        size: i64,
        /// Distance between window ends, ms.
        slide: i64,
        /// Alignment shift, ms.
        offset: i64,
    },
    /// Calendar days in a zone with daylight-saving rules.
    Days(Zone),
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Saturating at the ends: `i64::MIN` is the watermark of a shop that has seen no event yet.
fn floor_to(t: i64, unit: i64, offset: i64) -> i64 {
    match t.checked_sub(offset) {
        Some(x) => x
            .div_euclid(unit)
            .saturating_mul(unit)
            .saturating_add(offset),
        None => i64::MIN,
    }
}

impl Geometry {
    /// Tumbling windows of `size` ms.
    pub fn tumbling(size: i64) -> Result<Geometry, String> {
        Geometry::sliding(size, size)
    }

    /// Sliding (hopping) windows: `size` long, one ending every `slide` ms.
    pub fn sliding(size: i64, slide: i64) -> Result<Geometry, String> {
        if size <= 0 || slide <= 0 {
            return Err("window size and slide must be positive".into());
        }
        if slide > size {
            return Err(format!(
                "the slide ({slide} ms) may not exceed the window size ({size} ms): events between windows would be lost"
            ));
        }
        Ok(Geometry::Fixed {
            size,
            slide,
            offset: 0,
        })
    }

    /// Calendar days of a zone (fixed offsets become plain 24 h windows shifted by the offset).
    pub fn days(zone: Zone) -> Geometry {
        match zone {
            Zone::Fixed(o) => Geometry::Fixed {
                size: 86_400_000,
                slide: 86_400_000,
                offset: -(o.local_minus_utc() as i64) * 1000,
            },
            named => Geometry::Days(named),
        }
    }

    /// Shifts the alignment (fixed windows only).
    pub fn with_offset(self, off: i64) -> Geometry {
        match self {
            Geometry::Fixed { size, slide, .. } => Geometry::Fixed {
                size,
                slide,
                offset: off.rem_euclid(slide),
            },
            d => d,
        }
    }

    /// Whether every event falls in exactly one window.
    pub fn is_tumbling(&self) -> bool {
        match *self {
            Geometry::Fixed { size, slide, .. } => size == slide,
            Geometry::Days(_) => true,
        }
    }

    /// Window length in ms (a day for calendar days).
    pub fn size(&self) -> i64 {
        match *self {
            Geometry::Fixed { size, .. } => size,
            Geometry::Days(_) => 86_400_000,
        }
    }

    /// The pane `[start, end)` holding `ts`.
    pub fn pane(&self, ts: i64) -> (i64, i64) {
        match *self {
            Geometry::Fixed {
                size,
                slide,
                offset,
            } => {
                let p = gcd(size, slide);
                let s = floor_to(ts, p, offset);
                (s, s + p)
            }
            Geometry::Days(z) => z.day_range(z.day_of(ts)),
        }
    }

    /// The earliest window end whose window contains `ts`.
    pub fn first_end(&self, ts: i64) -> i64 {
        match *self {
            Geometry::Fixed { slide, offset, .. } => floor_to(ts, slide, offset) + slide,
            Geometry::Days(_) => self.pane(ts).1,
        }
    }

    /// The latest window end whose window contains `ts`.
    pub fn last_end(&self, ts: i64) -> i64 {
        match *self {
            Geometry::Fixed {
                size,
                slide,
                offset,
            } => floor_to(ts + size, slide, offset),
            Geometry::Days(_) => self.pane(ts).1,
        }
    }

    /// The start of the window ending at `end`.
    pub fn start_of(&self, end: i64) -> i64 {
        match *self {
            Geometry::Fixed { size, .. } => end - size,
            Geometry::Days(_) => self.pane(end - 1).0,
        }
    }

    /// The window end after `end`.
    pub fn next_end(&self, end: i64) -> i64 {
        match *self {
            Geometry::Fixed { slide, .. } => end + slide,
            Geometry::Days(_) => self.pane(end).1,
        }
    }

    /// The latest window end at or before `t`.
    pub fn end_at_or_before(&self, t: i64) -> i64 {
        match *self {
            Geometry::Fixed { slide, offset, .. } => floor_to(t, slide, offset),
            Geometry::Days(_) => self.pane(t).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn sliding_windows_are_epoch_aligned_and_half_open() {
        let g = Geometry::sliding(60 * MIN, 5 * MIN).unwrap();
        let ts = 10 * 60 * MIN + 3 * MIN; // 10:03
        assert_eq!(g.pane(ts), (10 * 60 * MIN, 10 * 60 * MIN + 5 * MIN));
        assert_eq!(g.first_end(ts), 10 * 60 * MIN + 5 * MIN);
        assert_eq!(g.last_end(ts), 11 * 60 * MIN);
        // An event exactly at a window end belongs to the next window, not that one.
        let at_end = 11 * 60 * MIN;
        assert_eq!(g.first_end(at_end), 11 * 60 * MIN + 5 * MIN);
        assert_eq!(g.last_end(at_end), 12 * 60 * MIN);
        // Panes are gcd(size, slide): 1 h / 25 min windows use 5 min panes.
        let odd = Geometry::sliding(60 * MIN, 25 * MIN).unwrap();
        assert_eq!(odd.pane(ts).1 - odd.pane(ts).0, 5 * MIN);
        assert!(Geometry::sliding(MIN, 2 * MIN).is_err());
        assert!(Geometry::tumbling(0).is_err());
    }

    #[test]
    fn negative_times_floor_downwards() {
        let g = Geometry::tumbling(1000).unwrap();
        assert_eq!(g.pane(-1), (-1000, 0));
        assert_eq!(g.first_end(-1), 0);
    }

    #[test]
    fn day_windows_follow_the_zone() {
        let shanghai = Geometry::days("+08:00".parse().unwrap());
        // 2017-11-25T16:00Z is midnight in UTC+8.
        let midnight = 1_511_625_600_000;
        assert_eq!(shanghai.pane(midnight - 1).1, midnight);
        assert_eq!(shanghai.pane(midnight).0, midnight);
        let london = Geometry::days("Europe/London".parse().unwrap());
        // 2011-03-27 is 23 hours long in London.
        let (s, e) = london.pane(1_301_230_800_000);
        assert_eq!(e - s, 23 * 3_600_000);
        assert_eq!(london.next_end(s), e);
        assert_eq!(london.start_of(e), s);
    }
}
