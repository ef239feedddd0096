//! Watermarks: how far event time has certainly progressed.
//!
//! Each input (a table of one shop: behaviour, orders, …) is a *source* with its own maximum
//! event time. A source's watermark is that maximum minus the job's bounded out-of-orderness; the
//! job's watermark is the minimum over sources that are not idle, and never goes backwards. A
//! watermark `w` promises that no more events with `ts < w` are expected, so a window
//! `[start, end)` is complete once `w ≥ end`.
//!
//! Idleness is a live-only notion measured in processing time: a source that sent nothing for
//! `idle_timeout` stops holding the others back; when every source is idle the watermark moves on
//! with the wall clock from the last event, so the last windows of a quiet shop still fire.
//! Replays never call [`Watermark::tick`]: their end of input fires everything instead.

/// Watermark state of one key group (one shop of one job).
#[derive(Debug, Clone)]
pub struct Watermark {
    ooo: i64,
    idle_timeout: i64,
    sources: Vec<Source>,
    wm: i64,
}

#[derive(Debug, Clone)]
struct Source {
    id: u32,
    max_ts: i64,
    seen_at: i64,
    idle: bool,
}

impl Watermark {
    /// A watermark with `ooo` ms of bounded out-of-orderness and an idle timeout (ms, live only).
    pub fn new(ooo: i64, idle_timeout: i64) -> Watermark {
        Watermark {
            ooo: ooo.max(0),
            idle_timeout: idle_timeout.max(1),
            sources: Vec::new(),
            wm: i64::MIN,
        }
    }

    /// The current watermark (`i64::MIN` before any event).
    #[inline]
    pub fn get(&self) -> i64 {
        self.wm
    }

    /// Looks up (or registers) a source and marks it active at processing time `now`.
    pub fn source(&mut self, id: u32, now: i64) -> usize {
        let i = match self.sources.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                self.sources.push(Source {
                    id,
                    max_ts: i64::MIN,
                    seen_at: now,
                    idle: false,
                });
                self.sources.len() - 1
            }
        };
        let s = &mut self.sources[i];
        s.seen_at = now;
        s.idle = false;
        i
    }

    /// Records an event time from source `src` and returns the new watermark.
    #[inline]
    pub fn observe(&mut self, src: usize, ts: i64) -> i64 {
        let s = &mut self.sources[src];
        if ts > s.max_ts {
            s.max_ts = ts;
            if self.sources.len() == 1 {
                let w = ts.saturating_sub(self.ooo);
                if w > self.wm {
                    self.wm = w;
                }
            } else {
                self.recompute();
            }
        }
        self.wm
    }

    fn recompute(&mut self) {
        let active = self.sources.iter().filter(|s| !s.idle);
        if let Some(min) = active.map(|s| s.max_ts).min()
            && min != i64::MIN
        {
            let w = min.saturating_sub(self.ooo);
            if w > self.wm {
                self.wm = w;
            }
        }
    }

    /// Processing-time housekeeping: marks sources idle after the timeout and, when all are idle,
    /// advances the watermark with the wall clock. Returns whether the watermark moved.
    pub fn tick(&mut self, now: i64) -> bool {
        let before = self.wm;
        for s in &mut self.sources {
            if now - s.seen_at >= self.idle_timeout {
                s.idle = true;
            }
        }
        if !self.sources.is_empty() && self.sources.iter().all(|s| s.idle) {
            let ahead = self
                .sources
                .iter()
                .filter(|s| s.max_ts != i64::MIN)
                .map(|s| s.max_ts.saturating_add(now - s.seen_at))
                .max();
            if let Some(t) = ahead {
                self.wm = self.wm.max(t.saturating_sub(self.ooo));
            }
        } else {
            self.recompute();
        }
        self.wm != before
    }

    /// Moves the watermark past everything (end of a replay).
    pub fn close(&mut self) {
        self.wm = i64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_out_of_orderness_trails_the_maximum() {
        let mut w = Watermark::new(5, 1000);
        let s = w.source(0, 0);
        assert_eq!(w.observe(s, 100), 95);
        assert_eq!(w.observe(s, 90), 95, "an older event never moves it back");
        assert_eq!(w.observe(s, 120), 115);
    }

    #[test]
    fn the_slowest_active_source_holds_the_watermark_until_it_goes_idle() {
        let mut w = Watermark::new(0, 1000);
        let a = w.source(1, 0);
        let b = w.source(2, 0);
        w.observe(a, 500);
        assert_eq!(w.observe(b, 100), 100);
        w.observe(a, 900);
        assert_eq!(w.get(), 100, "b has not caught up");
        // b says nothing for a second of processing time while a keeps sending.
        let a = w.source(1, 1500);
        w.observe(a, 950);
        assert!(w.tick(1500));
        assert_eq!(w.get(), 950, "idle b no longer holds a back");
        // b wakes up with an old time: the watermark stays where it was.
        let b = w.source(2, 1600);
        w.observe(b, 200);
        assert_eq!(w.get(), 950);
    }

    #[test]
    fn when_every_source_is_idle_the_watermark_follows_the_clock() {
        let mut w = Watermark::new(10, 1000);
        let a = w.source(1, 0);
        w.observe(a, 5000);
        assert!(!w.tick(999));
        assert_eq!(w.get(), 4990);
        assert!(w.tick(3000));
        assert_eq!(w.get(), 5000 + 3000 - 10);
    }
}
