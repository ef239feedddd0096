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
    /// Changed since it last fired (or never fired).
    pending: bool,
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
///
/// Timers are lazy: extending a session does not move its timer; when a timer comes due, the
/// session's current end decides whether it fires or the timer is set again. That keeps the
/// per-event cost to a hash lookup and an accumulator update.
#[derive(Debug, Clone)]
pub struct Sessions<A> {
    gap: i64,
    lateness: i64,
    by_key: FxHashMap<u64, Vec<Sess<A>>>,
    /// (time, key, start): a session to look at once the watermark reaches `time`.
    timers: BTreeSet<(i64, u64, i64)>,
}

impl<A: Acc> Sessions<A> {
    /// Sessions closed by `gap` ms of inactivity, with `lateness` ms of allowed lateness.
    pub fn new(gap: i64, lateness: i64) -> Sessions<A> {
        Sessions {
            gap: gap.max(1),
            lateness: lateness.max(0),
            by_key: FxHashMap::default(),
            timers: BTreeSet::new(),
        }
    }

    /// The earliest timer.
    pub fn due(&self) -> i64 {
        self.timers.first().map_or(i64::MAX, |t| t.0)
    }

    /// Adds an event of `key` at `ts` (watermark `wm` before it) into `acc` of its session.
    pub fn add(&mut self, key: u64, ts: i64, wm: i64, add: impl FnOnce(&mut A)) -> Admit {
        let gap = self.gap;
        let list = self.by_key.entry(key).or_default();
        let overlaps = |s: &Sess<A>| s.start < ts + gap && ts < s.last + gap;
        let mut hits = list.iter().enumerate().filter(|(_, s)| overlaps(s));
        let (first, second) = (hits.next().map(|h| h.0), hits.next().is_some());
        match (first, second) {
            (None, _) => {
                if (ts + gap).saturating_add(self.lateness) <= wm {
                    if list.is_empty() {
                        self.by_key.remove(&key);
                    }
                    return Admit::Late;
                }
                let mut acc = A::default();
                add(&mut acc);
                list.push(Sess {
                    start: ts,
                    last: ts,
                    fired: 0,
                    pending: true,
                    acc,
                });
                self.timers.insert((ts + gap, key, ts));
                Admit::Fresh
            }
            (Some(i), false) => {
                let s = &mut list[i];
                add(&mut s.acc);
                s.pending = true;
                s.last = s.last.max(ts);
                if ts < s.start {
                    // Its identity changed: a timer under the new start (the old one lapses).
                    s.start = ts;
                    self.timers.insert((s.last + gap, key, ts));
                } else if s.fired > 0 {
                    self.timers.insert((s.last + gap, key, s.start));
                }
                if s.fired > 0 {
                    Admit::Refire
                } else {
                    Admit::Fresh
                }
            }
            (Some(_), true) => {
                // The event bridges sessions: merge them into one.
                let mut merged = Sess {
                    start: ts,
                    last: ts,
                    fired: 0,
                    pending: true,
                    acc: A::default(),
                };
                let mut i = 0;
                while i < list.len() {
                    if overlaps(&list[i]) {
                        let s = list.swap_remove(i);
                        merged.start = merged.start.min(s.start);
                        merged.last = merged.last.max(s.last);
                        merged.fired = merged.fired.max(s.fired);
                        merged.acc.merge(&s.acc);
                    } else {
                        i += 1;
                    }
                }
                add(&mut merged.acc);
                let refire = merged.fired > 0;
                self.timers.insert((merged.last + gap, key, merged.start));
                list.push(merged);
                if refire { Admit::Refire } else { Admit::Fresh }
            }
        }
    }

    /// Fires sessions that `wm` closes and forgets those past the lateness.
    pub fn advance(&mut self, wm: i64, emit: &mut dyn FnMut(FiredSession<'_, A>)) {
        let (gap, lateness) = (self.gap, self.lateness);
        while let Some(&(at, key, start)) = self.timers.first() {
            if at > wm {
                break;
            }
            self.timers.pop_first();
            let Some(list) = self.by_key.get_mut(&key) else {
                continue;
            };
            let Some(i) = list.iter().position(|s| s.start == start) else {
                continue; // merged away or re-keyed: a lapsed timer
            };
            let s = &mut list[i];
            let end = s.last + gap;
            let expiry = end.saturating_add(lateness);
            // A timer set before the session grew: set it again at the real time (it comes
            // back in order if that time has passed too).
            let real = if s.pending { end } else { expiry };
            if real != at {
                self.timers.insert((real, key, start));
                continue;
            }
            if s.pending {
                let revision = s.fired;
                s.fired += 1;
                s.pending = false;
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
            }
            if expiry > wm {
                self.timers.insert((expiry, key, start));
            } else {
                list.swap_remove(i);
                if list.is_empty() {
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
