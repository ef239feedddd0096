//! Action-only behaviour funnels from the user timelines written beside each behaviour file
//! (`store::Timelines`: a file's events grouped by user, in time order, under 2 bytes each).
//!
//! The users of each shop are split into id ranges of about equal event counts using the
//! files' block indexes; each range is one work item. A range seeks every day file to its first
//! user and merges them by user id, so each user's events arrive day after day, already in time
//! order, and are walked at once (`direct::UserWalk`). Nothing is decoded from Parquet, nothing is
//! regrouped, and memory stays at one user's events per thread.
//!
//! When any file lacks a readable timeline (written by an older version, torn by a crash, or
//! rows that cannot have one) or the timelines exceed the query's memory limit, [`run`] returns
//! `None` and the caller reads the Parquet files instead.

use super::direct::{ActionFunnel, Counted};
use crate::analysis::file_scan::parallel;
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
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
struct Range<'a> {
    files: &'a [usize],
    lo: i64,
    hi: Option<i64>,
}

/// Runs an action-only funnel from the user timelines of its days; `None` if a file has no
/// usable timeline or they exceed the memory limit.
pub fn run(
    snap: &Snapshot,
    scope: &Scope,
    f: &ActionFunnel,
) -> Result<Option<Counted>, QueryError> {
    // Per shop, the indexes of its files in `paths` (files come by shop).
    let mut shops: Vec<(String, Vec<usize>)> = Vec::new();
    let mut paths = Vec::new();
    for file in snap.day_files(model::EventType::Behavior, scope, f.from, f.to) {
        match shops.last_mut() {
            Some((s, v)) if *s == file.shop => v.push(paths.len()),
            _ => shops.push((file.shop, vec![paths.len()])),
        }
        paths.push(store::timeline_path(snap.root(), file.seq));
    }
    // The timelines are mapped while walked: they count against the query's limit. Over it,
    // the Parquet scan (which holds only the events matching a step) decides.
    let mut held = 0u64;
    for p in &paths {
        match std::fs::metadata(p) {
            Ok(m) => held += m.len(),
            Err(_) => return Ok(None),
        }
    }
    if held > (f.limit_mib.max(1) as u64) << 20 {
        return Ok(None);
    }
    let mut loaded = parallel(paths.iter().enumerate().collect(), |(i, p)| {
        Ok((i, Timelines::load(p)))
    })?;
    loaded.sort_by_key(|l| l.0);
    let mut files = Vec::with_capacity(loaded.len());
    for (_, lines) in loaded {
        let Some(lines) = lines else { return Ok(None) };
        let bits = lines
            .names()
            .iter()
            .map(|name| f.bits(name))
            .chain(std::iter::once(0))
            .collect();
        files.push(DayFile { lines, bits });
    }
    let total: u64 = files.iter().map(|f| f.lines.events()).sum();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let target = (total / (threads * ITEMS_PER_THREAD) as u64).max(1);
    let work: Vec<Range> = shops
        .iter()
        .flat_map(|(_, idx)| split(&files, idx, target))
        .collect();
    // A body that passed its checksum but does not decode (a bug or a crafted file) sends the
    // funnel to the Parquet files like a missing timeline.
    let parts = parallel(work, |r| Ok(walk_range(&files, &r, f).ok()))?;
    Ok(parts
        .into_iter()
        .collect::<Option<Vec<Counted>>>()
        .map(Counted::sum))
}

/// Cuts a shop's user ids into ranges of about `target` events at block starts.
fn split<'a>(files: &[DayFile], idx: &'a [usize], target: u64) -> Vec<Range<'a>> {
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
    let bounds = std::iter::once(i64::MIN).chain(cuts.iter().copied());
    let ends = cuts.iter().copied().map(Some).chain(std::iter::once(None));
    bounds
        .zip(ends)
        .map(|(lo, hi)| Range { files: idx, lo, hi })
        .collect()
}

/// Walks every user of one range, merging the range's files by user id.
fn walk_range(files: &[DayFile], r: &Range, f: &ActionFunnel) -> Result<Counted, std::io::Error> {
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
    let keep_all = f.keeps_all();
    let mut walk = f.user_walk();
    let mut out = Counted::default();
    // The current user's events, gathered from its files.
    let (mut ts, mut code): (Vec<i64>, Vec<u64>) = (Vec::new(), Vec::new());
    let mut current: Option<i64> = None;
    // The heap's top is the smallest (user, file slot): each user's files come in file order.
    // It is replaced in place, so each step costs one sift instead of a pop and a push.
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((id, slot)) = *top;
        if current != Some(id) {
            if !ts.is_empty() {
                walk.walk(&mut ts, &mut code, &mut out);
                ts.clear();
                code.clear();
            }
            current = Some(id);
        }
        let bits = &files[r.files[slot]].bits;
        let c = &mut cursors[slot];
        c.events(|t, a| {
            let b = bits.get(a as usize).copied().unwrap_or(0);
            if b != 0 || keep_all {
                ts.push(t);
                code.push(b);
            }
        })?;
        match inside(c.user()) {
            Some(next) => *top = Reverse((next, slot)),
            None => {
                PeekMut::pop(top);
            }
        }
    }
    if !ts.is_empty() {
        walk.walk(&mut ts, &mut code, &mut out);
    }
    Ok(out)
}
