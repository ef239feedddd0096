//! Session windows: per key, events closer than `gap` belong to one session `[first, last + gap)`.
//!
//! An event opens the proto-session `[ts, ts + gap)` and merges with every live session of its key
//! that it overlaps (so a late event can bridge two sessions into one). A session fires when the
//! watermark reaches its end and stays alive for the allowed lateness; a late event that changes
//! it fires it again as an update. An event whose proto-session is already past the lateness and
//! touches no live session is late.

use crate::emit::Kind;
use crate::schedule::Admit;
use crate::windowed::Acc;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
struct Sess<A> {
    start: i64,
    last: i64,
    fired: u32,
    acc: A,
}

/// A fired session.
pub struct FiredSession<'a, A> {
    /// Result (first firing) or update.
    pub kind: Kind,
    /// The key.
    pub key: u64,
    /// First event time.
    pub start: i64,
    /// Last event time.
    pub last: i64,
    /// Revision.
    pub revision: u32,
    /// The session's accumulator.
    pub acc: &'a A,
}

/// Session windows of one key group.
#[derive(Debug, Clone)]
pub struct Sessions<A> {
    gap: i64,
    lateness: i64,
    by_key: FxHashMap<u64, Vec<Sess<A>>>,
    /// (end, key, start) of sessions waiting to fire.
    timers: BTreeSet<(i64, u64, i64)>,
    /// (end + lateness, key, start) of fired sessions still alive.
    expiry: BTreeSet<(i64, u64, i64)>,
}

impl<A: Acc> Sessions<A> {
    /// Sessions closed by `gap` ms of inactivity, with `lateness` ms of allowed lateness.
    pub fn new(gap: i64, lateness: i64) -> Sessions<A> {
        Sessions {
            gap: gap.max(1),
            lateness: lateness.max(0),
            by_key: FxHashMap::default(),
            timers: BTreeSet::new(),
            expiry: BTreeSet::new(),
        }
    }

    /// The earliest session end waiting to fire.
    pub fn due(&self) -> i64 {
        self.timers.first().map_or(i64::MAX, |t| t.0)
    }

    /// Adds an event of `key` at `ts` (watermark `wm` before it) into `acc` of its session.
    pub fn add(&mut self, key: u64, ts: i64, wm: i64, add: impl FnOnce(&mut A)) -> Admit {
        let gap = self.gap;
        let list = self.by_key.entry(key).or_default();
        let overlaps = |s: &Sess<A>| s.start < ts + gap && ts < s.last + gap;
        let touching: Vec<usize> = (0..list.len()).filter(|&i| overlaps(&list[i])).collect();
        if touching.is_empty() && (ts + gap).saturating_add(self.lateness) <= wm {
            if list.is_empty() {
                self.by_key.remove(&key);
            }
            return Admit::Late;
        }
        let mut merged = Sess {
            start: ts,
            last: ts,
            fired: 0,
            acc: A::default(),
        };
        let mut refire = false;
        for &i in touching.iter().rev() {
            let s = list.swap_remove(i);
            self.timers.remove(&(s.last + gap, key, s.start));
            if s.fired > 0 {
                refire = true;
                self.expiry
                    .remove(&((s.last + gap).saturating_add(self.lateness), key, s.start));
            }
            merged.start = merged.start.min(s.start);
            merged.last = merged.last.max(s.last);
            merged.fired = merged.fired.max(s.fired);
            merged.acc.merge(&s.acc);
        }
        add(&mut merged.acc);
        self.timers.insert((merged.last + gap, key, merged.start));
        list.push(merged);
        if refire { Admit::Refire } else { Admit::Fresh }
    }

    /// Fires sessions that `wm` closes and forgets those past the lateness.
    pub fn advance(&mut self, wm: i64, emit: &mut dyn FnMut(FiredSession<'_, A>)) {
        while let Some(&(end, key, start)) = self.timers.first() {
            if end > wm {
                break;
            }
            self.timers.pop_first();
            if let Some(s) = self
                .by_key
                .get_mut(&key)
                .and_then(|l| l.iter_mut().find(|s| s.start == start))
            {
                let revision = s.fired;
                s.fired += 1;
                emit(FiredSession {
                    kind: if revision == 0 {
                        Kind::Result
                    } else {
                        Kind::Update
                    },
                    key,
                    start: s.start,
                    last: s.last,
                    revision,
                    acc: &s.acc,
                });
                self.expiry
                    .insert((end.saturating_add(self.lateness), key, start));
            }
        }
        while let Some(&(until, key, start)) = self.expiry.first() {
            if until > wm {
                break;
            }
            self.expiry.pop_first();
            if let Some(l) = self.by_key.get_mut(&key) {
                l.retain(|s| s.start != start);
                if l.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// Keys with live sessions.
    pub fn keys(&self) -> usize {
        self.by_key.len()
    }
}
