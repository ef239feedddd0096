//! Chunks: the unit of output. A chunk covers a fixed time range and is a pure function of the
//! config and its index: it regenerates every slot whose sessions can reach into its range
//! (sessions last at most 30 min, their orders at most 50 min), keeps the records inside the
//! range, and sorts them by time. So chunks can be built in any order, on any thread, and
//! concatenated into the same stream.
//!
//! Sorting is a stable counting sort by second (behaviour events have whole-second times, as
//! in Taobao's data, so that is all they need); with other types each second's bucket is then
//! sorted by millisecond. Ties keep generation order, which is deterministic.

use crate::behavior::gen_slot;
use crate::extras::session_extras;
use crate::record::{Kind, Rec};
use crate::rhythm::{AUX_SPAN_SECS, SESSION_SPAN_SECS};
use crate::rng::{below_of, hash3};
use crate::world::Model;

/// Reusable buffers of one worker.
#[derive(Default)]
pub(crate) struct Scratch {
    raw: Vec<Rec>,
    sorted: Vec<Rec>,
    tmp: Vec<Rec>,
    counts: Vec<u32>,
}

const EMPTY: Rec = Rec {
    ts: 0,
    aux: 0,
    user: 0,
    item: 0,
    cat: 0,
    y: 0,
    kind: Kind::Pv,
    x: 0,
};

/// Builds chunk `chunk`: behaviour only, or (`all`) every event type. Returns the records in
/// output order.
pub(crate) fn build<'s>(m: &Model, chunk: u32, all: bool, s: &'s mut Scratch) -> &'s [Rec] {
    let (c0, c1) = m.plan.chunk_secs(chunk);
    let lo = m.plan.start_ms + c0 as i64 * 1000;
    let hi = m.plan.start_ms + c1 as i64 * 1000;
    let horizon = if all {
        AUX_SPAN_SECS
    } else {
        SESSION_SPAN_SECS
    };
    s.raw.clear();
    for slot in m.plan.slots_for_chunk(chunk, horizon) {
        if all {
            let mut extra = |h: &_, beh: &[Rec], out: &mut Vec<Rec>| session_extras(m, h, beh, out);
            gen_slot(m, slot, lo, hi, &mut s.raw, Some(&mut extra), &mut s.tmp);
        } else {
            gen_slot(m, slot, lo, hi, &mut s.raw, None, &mut s.tmp);
        }
    }
    if all {
        m.campaigns.push_events(m, lo, hi, &mut s.raw);
    }
    // Stable counting sort by second.
    let secs = (c1 - c0) as usize;
    s.counts.clear();
    s.counts.resize(secs + 1, 0);
    for r in &s.raw {
        s.counts[((r.ts - lo) / 1000) as usize + 1] += 1;
    }
    for i in 1..=secs {
        s.counts[i] += s.counts[i - 1];
    }
    // Grow only: the scatter below overwrites every kept slot.
    let n = s.raw.len();
    if s.sorted.len() < n {
        s.sorted.resize(n, EMPTY);
    }
    s.sorted.truncate(n);
    for r in &s.raw {
        let b = ((r.ts - lo) / 1000) as usize;
        let pos = s.counts[b] as usize;
        s.counts[b] += 1;
        s.sorted[pos] = *r;
    }
    if all {
        // After the scatter `counts[b]` is the end of bucket `b`.
        let mut start = 0usize;
        for b in 0..secs {
            let end = s.counts[b] as usize;
            if end - start > 1 {
                s.sorted[start..end].sort_by_key(|r| r.ts);
            }
            start = end;
        }
    }
    let ooo = m.cfg.out_of_order_ms;
    if ooo > 0 {
        let seed = m.cfg.seed;
        for r in &mut s.sorted {
            let h = hash3(seed ^ 0x0a0e, r.aux, (r.y as u64) << 8 | r.kind as u64);
            let late = below_of(h ^ r.ts as u64, ooo as u64 + 1) as i64;
            r.ts = (r.ts - late).max(m.plan.start_ms);
        }
    }
    &s.sorted
}
