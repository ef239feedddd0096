//! The firing schedule shared by every windowed operator: which window ends have fired, which is
//! due next, which fired windows were changed by late events (and so fire again), and how many
//! times each window has fired (its revision).
//!
//! Semantics (DESIGN.md, Time): a window `[start, end)` fires once the watermark reaches `end`;
//! it stays alive until the watermark reaches `end + lateness`, and every late event in between
//! fires it again; an event whose windows are all past that point is *late* and goes to the late
//! output. Everything is decided per event, so results do not depend on how input is batched.

use crate::geometry::Geometry;
use std::collections::{BTreeMap, BTreeSet};

/// Fired/due/dirty bookkeeping of one key group.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Window shape.
    pub geo: Geometry,
    /// Allowed lateness, ms.
    pub lateness: i64,
    /// Every window ending at or before this has fired (or was empty).
    pub fired: i64,
    /// The next window end that must fire (`i64::MAX` if none).
    pub due: i64,
    /// The earliest expiry (end + lateness) of a window waiting to fire again: it must fire
    /// before the watermark passes that point, or it would take in events it no longer owns.
    pub deadline: i64,
    revisions: BTreeMap<i64, u32>,
    dirty: BTreeSet<i64>,
}

/// Whether an event was admitted into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Counted; no window that already fired contains it.
    Fresh,
    /// Counted; some fired windows contain it and will fire again.
    Refire,
    /// Every window containing it has expired: late output.
    Late,
}

impl Schedule {
    /// A schedule for windows of `geo` with `lateness` ms of allowed lateness.
    pub fn new(geo: Geometry, lateness: i64) -> Schedule {
        Schedule {
            geo,
            lateness: lateness.max(0),
            fired: i64::MIN,
            due: i64::MAX,
            deadline: i64::MAX,
            revisions: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Classifies an event whose windows end from `first_end` to `last_end` against the watermark
    /// `wm` seen before it.
    #[inline]
    pub fn admit(&mut self, wm: i64, first_end: i64, last_end: i64) -> Admit {
        if last_end.saturating_add(self.lateness) <= wm {
            return Admit::Late;
        }
        if first_end > wm {
            // No window holding `ts` can have fired yet (only windows ending by `wm` have).
            if first_end < self.due {
                self.due = first_end;
            }
            return Admit::Fresh;
        }
        // Windows ending by the watermark are settled: fired, or skipped while empty (the
        // operator may not have run since the watermark passed them).
        let fired = self.fired.max(self.geo.end_at_or_before(wm));
        let mut e = first_end;
        while e <= last_end && e <= fired {
            let expiry = e.saturating_add(self.lateness);
            if expiry > wm {
                self.dirty.insert(e);
                self.deadline = self.deadline.min(expiry);
            }
            e = self.geo.next_end(e);
        }
        if e <= last_end && e < self.due {
            self.due = e;
        }
        Admit::Refire
    }

    /// The watermark at which the operator must run next: a window due, or a re-fire due.
    #[inline]
    pub fn next_action(&self) -> i64 {
        self.due.min(self.deadline)
    }

    /// The revision number for the next firing of the window ending at `end`.
    pub fn next_revision(&mut self, end: i64) -> u32 {
        let r = self.revisions.entry(end).or_insert(0);
        let v = *r;
        *r += 1;
        v
    }

    /// Takes the windows to fire again (in end order).
    pub fn take_dirty(&mut self) -> Vec<i64> {
        self.deadline = i64::MAX;
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// Whether any fired window waits to fire again.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Marks every window end at or before `wm` as fired and forgets windows past lateness.
    pub fn settle(&mut self, wm: i64) {
        let upto = if wm == i64::MAX {
            i64::MAX
        } else {
            self.geo.end_at_or_before(wm)
        };
        if upto > self.fired {
            self.fired = upto;
        }
        let horizon = wm.saturating_sub(self.lateness);
        // Windows with end + lateness <= wm are gone: end <= wm - lateness.
        let keep = self.revisions.split_off(&horizon.saturating_add(1));
        self.revisions = keep;
    }
}
