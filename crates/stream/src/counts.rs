//! Incremental keyed counts over sliding windows — the engine of every "hot" job.
//!
//! Each event increments one counter in its pane. A *running* map holds the counts of the window
//! that fired last; moving to the next window adds the panes that enter and subtracts the panes
//! that leave, so a 1 h / 5 min window costs two pane merges per slide instead of twelve. The
//! top-N is then one pass over the running map with an N-slot selection. Windows that late
//! events change after they fired are recounted from their panes.
//!
//! Counts are plain sums, so two workers' pane maps for disjoint keys (or disjoint events) merge
//! by addition: the state partitions by key and scales out with identical results.

use crate::emit::Kind;
use crate::geometry::Geometry;
use crate::panes::Panes;
use crate::schedule::{Admit, Schedule};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// Counts per key.
pub type CountMap = FxHashMap<u64, u64>;

/// A fired window of counts.
pub struct Fired<'a> {
    /// Result or update.
    pub kind: Kind,
    /// Window start.
    pub start: i64,
    /// Window end.
    pub end: i64,
    /// Revision.
    pub revision: u32,
    /// Counts of every key in the window.
    pub counts: &'a CountMap,
}

/// Sliding-window counts of one key group.
#[derive(Debug, Clone)]
pub struct SlidingCounts {
    sched: Schedule,
    size: i64,
    panes: Panes<CountMap>,
    running: CountMap,
    run_end: i64,
    /// Pane cache: start, end, first and last window end of the pane.
    cache: (i64, i64, i64, i64),
}

impl SlidingCounts {
    /// Counts over windows of `geo` (fixed geometry) with `lateness` ms of allowed lateness.
    pub fn new(geo: Geometry, lateness: i64) -> SlidingCounts {
        SlidingCounts {
            sched: Schedule::new(geo, lateness),
            size: geo.size(),
            panes: Panes::default(),
            running: CountMap::default(),
            run_end: i64::MIN,
            cache: (0, 0, 0, 0),
        }
    }

    /// The watermark at which [`Self::advance`] has work: a window to fire or to fire again.
    #[inline]
    pub fn due(&self) -> i64 {
        self.sched.next_action()
    }

    /// Counts `n` occurrences of `key` at `ts`, given the watermark before the event.
    #[inline]
    pub fn add(&mut self, key: u64, ts: i64, wm: i64, n: u64) -> Admit {
        if ts < self.cache.0 || ts >= self.cache.1 {
            let geo = self.sched.geo;
            let (s, e) = geo.pane(ts);
            self.cache = (s, e, geo.first_end(ts), geo.last_end(ts));
        }
        let (ps, _, first, last) = self.cache;
        let a = self.sched.admit(wm, first, last);
        if a == Admit::Late {
            return a;
        }
        *self.panes.get_mut(ps).entry(key).or_insert(0) += n;
        if ps < self.run_end && ps >= self.run_end - self.size {
            *self.running.entry(key).or_insert(0) += n;
        }
        a
    }

    fn step_running(&mut self, e: i64) {
        self.panes.park();
        let (lo, hi) = (e - self.size, e);
        if self.run_end == i64::MIN || lo >= self.run_end {
            self.running.clear();
            for (_, p) in self.panes.range(lo, hi) {
                add_into(&mut self.running, p);
            }
        } else {
            for (_, p) in self.panes.range(self.run_end, hi) {
                add_into(&mut self.running, p);
            }
            for (_, p) in self.panes.range(self.run_end - self.size, lo) {
                for (k, c) in p {
                    if let Some(v) = self.running.get_mut(k) {
                        *v -= c;
                        if *v == 0 {
                            self.running.remove(k);
                        }
                    }
                }
            }
        }
        self.run_end = e;
    }

    /// Fires every window the watermark `wm` completes, re-fires windows changed by late events,
    /// and drops state past the allowed lateness.
    pub fn advance(&mut self, wm: i64, emit: &mut dyn FnMut(Fired<'_>)) {
        self.panes.park();
        let geo = self.sched.geo;
        while self.sched.due <= wm && self.sched.due != i64::MAX {
            let e = self.sched.due;
            self.step_running(e);
            let revision = self.sched.next_revision(e);
            emit(Fired {
                kind: if revision == 0 {
                    Kind::Result
                } else {
                    Kind::Update
                },
                start: geo.start_of(e),
                end: e,
                revision,
                counts: &self.running,
            });
            self.sched.fired = self.sched.fired.max(e);
            let cand = geo.next_end(e);
            self.sched.due = match self.panes.first_from(geo.start_of(cand)) {
                Some(p) => cand.max(geo.first_end(p)),
                None => i64::MAX,
            };
        }
        for e in self.sched.take_dirty() {
            let revision = self.sched.next_revision(e);
            let kind = Kind::Update;
            let start = geo.start_of(e);
            if e == self.run_end {
                emit(Fired {
                    kind,
                    start,
                    end: e,
                    revision,
                    counts: &self.running,
                });
            } else {
                let mut m = CountMap::default();
                for (_, p) in self.panes.range(start, e) {
                    add_into(&mut m, p);
                }
                emit(Fired {
                    kind,
                    start,
                    end: e,
                    revision,
                    counts: &m,
                });
            }
        }
        self.sched.settle(wm);
        let (run_lo, lateness) = (self.run_end.saturating_sub(self.size), self.sched.lateness);
        self.panes
            .purge(|p| p < run_lo && geo.last_end(p).saturating_add(lateness) <= wm);
        if self.panes.is_empty() && wm == i64::MAX {
            self.running.clear();
        }
    }

    /// Calls `f` with every key some pane holds.
    pub fn keys(&mut self, f: &mut dyn FnMut(u64)) {
        self.panes.park();
        for (_, p) in self.panes.range(i64::MIN, i64::MAX) {
            p.keys().for_each(|k| f(*k));
        }
    }

    /// Number of panes held (for memory accounting and tests).
    pub fn panes(&self) -> usize {
        self.panes.len()
    }
}

fn add_into(into: &mut CountMap, from: &CountMap) {
    into.reserve(from.len().saturating_sub(into.capacity() - into.len()));
    for (k, c) in from {
        *into.entry(*k).or_insert(0) += c;
    }
}

/// The `n` largest counts, ties broken by `tie` (ascending key order by default).
pub fn top_n(counts: &CountMap, n: usize, tie: &dyn Fn(u64, u64) -> Ordering) -> Vec<(u64, u64)> {
    if n == 0 {
        return Vec::new();
    }
    let better = |a: (u64, u64), b: (u64, u64)| b.1.cmp(&a.1).then_with(|| tie(a.0, b.0));
    let mut top: Vec<(u64, u64)> = Vec::with_capacity(n.min(counts.len()) + 1);
    let mut floor = 0u64;
    for (&k, &c) in counts {
        if top.len() == n && c < floor {
            continue;
        }
        let cand = (k, c);
        if top.len() == n && better(cand, top[n - 1]) != Ordering::Less {
            continue;
        }
        let pos = top
            .binary_search_by(|x| better(*x, cand))
            .unwrap_or_else(|p| p);
        top.insert(pos, cand);
        if top.len() > n {
            top.pop();
        }
        if top.len() == n {
            floor = top[n - 1].1;
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_breaks_ties_by_key() {
        let m: CountMap = [(5, 2), (3, 2), (9, 7), (1, 1), (4, 2)]
            .into_iter()
            .collect();
        let asc = |a: u64, b: u64| a.cmp(&b);
        assert_eq!(top_n(&m, 3, &asc), vec![(9, 7), (3, 2), (4, 2)]);
        assert_eq!(top_n(&m, 10, &asc).len(), 5);
        assert!(top_n(&m, 0, &asc).is_empty());
    }
}

#[cfg(test)]
mod firing_tests {
    use super::*;

    #[test]
    fn end_of_input_fires_each_window_once() {
        let g = Geometry::sliding(3_600_000, 300_000).unwrap();
        let mut c = SlidingCounts::new(g, 0);
        c.add(1, 1_511_658_000_000, i64::MIN, 1);
        let mut n = 0;
        c.advance(i64::MAX, &mut |f| {
            n += 1;
            assert!(n < 100, "runaway at end {}", f.end);
        });
        assert_eq!(n, 12);
    }
}
