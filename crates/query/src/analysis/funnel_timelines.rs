//! Action-only behaviour funnels from the user timelines written beside each behaviour file
//! (`store::Timelines`: a file's events grouped by user, in time order, about 3 bytes each).
//!
//! The users of each shop are split into id ranges of about equal event counts using the
//! files' block indexes; each range is one work item. A range seeks every day file to its first
//! user and merges them by user id, so each user's events arrive day after day, already in time
//! order, and go straight to the funnel [`Walker`]. Nothing is decoded from Parquet, nothing is
//! regrouped, and memory stays at one user's events per thread.
//!
//! When any file lacks a readable timeline (written by an older version, torn by a crash, or
//! rows that cannot have one) or the timelines exceed the query's memory limit, [`run`] returns
//! `None` and the caller reads the Parquet files instead.

use super::file_scan::parallel;
use super::funnel::{Mode, Tally, Walker};
use super::funnel_scan::Counted;
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use store::Timelines;

/// Work items per thread, so uneven ranges still end together.
const ITEMS_PER_THREAD: usize = 16;

/// One day file's timeline and its step bits per action code.
struct DayFile {
    lines: Timelines,
    /// Step bits by action code (the null code and unused codes: 0).
    bits: Vec<u64>,
}

/// One work item: the users `lo..hi` (`hi` `None`: no upper bound) of a shop's files.
struct Range {
    files: Vec<usize>,
    lo: i64,
    hi: Option<i64>,
}

/// Runs an action-only funnel over the behaviour day files of `[from, to]` (inclusive
/// `YYYY-MM-DD`); `None` if a file has no usable timeline.
#[allow(clippy::too_many_arguments)]
pub fn run(
    snap: &Snapshot,
    scope: &Scope,
    from: Option<&str>,
    to: Option<&str>,
    steps: &[String],
    window: i64,
    mode: Mode,
    limit_mib: usize,
) -> Result<Option<Counted>, QueryError> {
    let mut shops: Vec<(String, Vec<usize>)> = Vec::new();
    let mut wanted = Vec::new();
    for f in snap.event_files(model::EventType::Behavior, scope) {
        let (Some(shop), Some(dt)) = (f.shop, f.dt) else {
            continue;
        };
        if from.is_some_and(|d| dt.as_str() < d) || to.is_some_and(|d| dt.as_str() > d) {
            continue;
        }
        let Some(seq) = f.seq else { return Ok(None) };
        match shops.last_mut() {
            Some((s, v)) if *s == shop => v.push(wanted.len()),
            _ => shops.push((shop, vec![wanted.len()])),
        }
        wanted.push((wanted.len(), seq));
    }
    let root = snap.root();
    // The timelines are mapped while walked: they count against the query's limit. Over it,
    // the Parquet scan (which holds only the events matching a step) decides.
    let mut held = 0u64;
    for &(_, seq) in &wanted {
        match std::fs::metadata(store::timeline_path(root, seq)) {
            Ok(m) => held += m.len(),
            Err(_) => return Ok(None),
        }
    }
    if held > (limit_mib.max(1) as u64) << 20 {
        return Ok(None);
    }
    let mut loaded = parallel(wanted, |(i, seq)| {
        Ok((i, Timelines::load(&store::timeline_path(root, seq))))
    })?;
    loaded.sort_by_key(|l| l.0);
    let mut files = Vec::with_capacity(loaded.len());
    for (_, lines) in loaded {
        let Some(lines) = lines else { return Ok(None) };
        let bits = lines
            .names()
            .iter()
            .map(|name| {
                steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| *s == name)
                    .fold(0u64, |m, (i, _)| m | 1 << i)
            })
            .chain(std::iter::once(0))
            .collect();
        files.push(DayFile { lines, bits });
    }
    let total: u64 = files.iter().map(|f| f.lines.events()).sum();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let target = (total / (threads * ITEMS_PER_THREAD) as u64).max(1);
    let mut work = Vec::new();
    for (_, idx) in shops {
        work.extend(split(&files, &idx, target));
    }
    // `parallel` takes items from the end: the first ranges last, and order does not matter.
    let k = steps.len();
    // A body that passed its checksum but does not decode (a bug or a crafted file) sends the
    // funnel to the Parquet files like a missing timeline.
    let parts = parallel(work, |r| Ok(walk_range(&files, &r, k, window, mode).ok()))?;
    let Some(parts) = parts.into_iter().collect::<Option<Vec<Counted>>>() else {
        return Ok(None);
    };
    let mut out = Counted {
        tally: Tally::default(),
        users: 0,
        events: 0,
    };
    for p in parts {
        out.tally.merge(p.tally);
        out.users += p.users;
        out.events += p.events;
    }
    Ok(Some(out))
}

/// Cuts a shop's user ids into ranges of about `target` events at block starts.
fn split(files: &[DayFile], idx: &[usize], target: u64) -> Vec<Range> {
    let mut marks: Vec<(i64, u64)> = Vec::new();
    for &i in idx {
        let lines = &files[i].lines;
        let blocks = lines.blocks();
        for (j, b) in blocks.iter().enumerate() {
            let end = blocks.get(j + 1).map_or(lines.events(), |n| n.first_event);
            marks.push((b.first_user, end.saturating_sub(b.first_event)));
        }
    }
    marks.sort_unstable();
    let mut cuts: Vec<i64> = Vec::new();
    let mut acc = 0u64;
    for (user, events) in marks {
        if acc >= target && cuts.last() != Some(&user) {
            cuts.push(user);
            acc = 0;
        }
        acc += events;
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut lo = i64::MIN;
    for c in cuts {
        out.push(Range {
            files: idx.to_vec(),
            lo,
            hi: Some(c),
        });
        lo = c;
    }
    out.push(Range {
        files: idx.to_vec(),
        lo,
        hi: None,
    });
    out
}

/// Walks every user of one range, merging the range's files by user id.
fn walk_range(
    files: &[DayFile],
    r: &Range,
    k: usize,
    window: i64,
    mode: Mode,
) -> Result<Counted, std::io::Error> {
    let inside = |u: Option<i64>| u.filter(|&u| r.hi.is_none_or(|hi| u < hi));
    let mut cursors = Vec::with_capacity(r.files.len());
    let mut heap = BinaryHeap::with_capacity(r.files.len());
    for (slot, &i) in r.files.iter().enumerate() {
        let c = files[i].lines.cursor(r.lo)?;
        if let Some(u) = inside(c.user()) {
            heap.push(Reverse((u, slot)));
        }
        cursors.push(c);
    }
    let keep_all = mode == Mode::Strict;
    let mut user = Walk {
        walker: Walker::new(k, window, mode),
        k,
        ts: Vec::new(),
        code: Vec::new(),
        labels: Vec::new(),
        pairs: Vec::new(),
    };
    let mut out = Counted {
        tally: Tally::default(),
        users: 0,
        events: 0,
    };
    let mut current: Option<i64> = None;
    // The heap's top is the smallest (user, file slot): each user's files come in file order.
    // It is replaced in place, so each step costs one sift instead of a pop and a push.
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((id, slot)) = *top;
        if current != Some(id) {
            user.finish(&mut out);
            current = Some(id);
        }
        let bits = &files[r.files[slot]].bits;
        let c = &mut cursors[slot];
        c.events(|t, a| {
            let b = bits.get(a as usize).copied().unwrap_or(0);
            if b != 0 || keep_all {
                user.ts.push(t);
                user.code.push(b);
            }
        })?;
        match inside(c.user()) {
            Some(next) => *top = Reverse((next, slot)),
            None => {
                std::collections::binary_heap::PeekMut::pop(top);
            }
        }
    }
    user.finish(&mut out);
    Ok(out)
}

/// One user's events gathered from the day files, and the walk over them.
struct Walk {
    walker: Walker,
    k: usize,
    ts: Vec<i64>,
    code: Vec<u64>,
    labels: Vec<u32>,
    pairs: Vec<(i64, u64)>,
}

impl Walk {
    /// Walks the gathered events (if any) into `out` and clears them.
    fn finish(&mut self, out: &mut Counted) {
        if self.ts.is_empty() {
            return;
        }
        let (ts, code) = (&mut self.ts, &mut self.code);
        out.users += 1;
        out.events += ts.len();
        // Days come in order and each day in time order; ties (and overlapping files) need
        // the (time, step bits) order the walker expects.
        let sorted = (1..ts.len()).all(|j| (ts[j - 1], code[j - 1]) <= (ts[j], code[j]));
        if !sorted {
            self.pairs.clear();
            self.pairs
                .extend(ts.iter().copied().zip(code.iter().copied()));
            self.pairs.sort_unstable();
            for (j, p) in self.pairs.iter().enumerate() {
                (ts[j], code[j]) = *p;
            }
        }
        if self.labels.len() < ts.len() {
            self.labels.resize(ts.len(), 0);
        }
        let got = self.walker.walk(ts, code, &self.labels[..ts.len()]);
        if got.depth > 0 {
            out.tally.add(&got, self.k);
        }
        ts.clear();
        code.clear();
    }
}
