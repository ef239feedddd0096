//! Windows of any mergeable accumulator (distinct-user sets, sketches, KPI records): one
//! accumulator per pane; a tumbling window *is* its pane, a sliding window merges its panes when
//! it fires. Used where results are not plain counts; [`crate::counts`] is the faster path for
//! counts.

use crate::emit::Kind;
use crate::geometry::Geometry;
use crate::panes::Panes;
use crate::schedule::{Admit, Schedule};

/// An accumulator that two panes (or two workers) can combine.
pub trait Acc: Default + Clone {
    /// Adds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// A fired window.
pub struct FiredAcc<'a, A> {
    /// Result or update.
    pub kind: Kind,
    /// Window start.
    pub start: i64,
    /// Window end.
    pub end: i64,
    /// Revision.
    pub revision: u32,
    /// The window's accumulator.
    pub acc: &'a A,
}

/// Windows of accumulators for one key group.
#[derive(Debug, Clone)]
pub struct Windowed<A> {
    sched: Schedule,
    panes: Panes<A>,
    cache: (i64, i64, i64, i64),
}

impl<A: Acc> Windowed<A> {
    /// Windows of `geo` with `lateness` ms of allowed lateness.
    pub fn new(geo: Geometry, lateness: i64) -> Windowed<A> {
        Windowed {
            sched: Schedule::new(geo, lateness),
            panes: Panes::default(),
            cache: (0, 0, 0, 0),
        }
    }

    /// The watermark at which [`Self::advance`] has work: a window to fire or to fire again.
    #[inline]
    pub fn due(&self) -> i64 {
        self.sched.next_action()
    }

    /// The accumulator an event at `ts` goes to, given the watermark before it; `Err` if late.
    #[inline]
    pub fn pane_for(&mut self, ts: i64, wm: i64) -> Result<&mut A, Admit> {
        if ts < self.cache.0 || ts >= self.cache.1 {
            let geo = self.sched.geo;
            let (s, e) = geo.pane(ts);
            self.cache = (s, e, geo.first_end(ts), geo.last_end(ts));
        }
        let (ps, _, first, last) = self.cache;
        match self.sched.admit(wm, first, last) {
            Admit::Late => Err(Admit::Late),
            _ => Ok(self.panes.get_mut(ps)),
        }
    }

    fn window(&self, start: i64, end: i64) -> Option<A> {
        if self.sched.geo.is_tumbling() {
            return None;
        }
        let mut acc = A::default();
        for (_, p) in self.panes.range(start, end) {
            acc.merge(p);
        }
        Some(acc)
    }

    fn fire(&mut self, kind: Kind, e: i64, emit: &mut dyn FnMut(FiredAcc<'_, A>)) {
        let geo = self.sched.geo;
        let start = geo.start_of(e);
        let revision = self.sched.next_revision(e);
        let kind = if revision == 0 { kind } else { Kind::Update };
        let empty = A::default();
        let merged = self.window(start, e);
        let acc = match &merged {
            Some(a) => a,
            None => self.panes.tree().get(&start).unwrap_or(&empty),
        };
        emit(FiredAcc {
            kind,
            start,
            end: e,
            revision,
            acc,
        });
    }

    /// Fires what `wm` completes, re-fires what late events changed, drops expired panes.
    pub fn advance(&mut self, wm: i64, emit: &mut dyn FnMut(FiredAcc<'_, A>)) {
        self.panes.park();
        let geo = self.sched.geo;
        while self.sched.due <= wm && self.sched.due != i64::MAX {
            let e = self.sched.due;
            self.fire(Kind::Result, e, emit);
            self.sched.fired = self.sched.fired.max(e);
            let cand = geo.next_end(e);
            self.sched.due = match self.panes.first_from(geo.start_of(cand)) {
                Some(p) => cand.max(geo.first_end(p)),
                None => i64::MAX,
            };
        }
        for e in self.sched.take_dirty() {
            self.fire(Kind::Update, e, emit);
        }
        self.sched.settle(wm);
        let lateness = self.sched.lateness;
        self.panes
            .purge(|p| geo.last_end(p).saturating_add(lateness) <= wm);
    }

    /// Number of panes held.
    pub fn panes(&self) -> usize {
        self.panes.len()
    }
}
