//! Chunks: the unit of output. A chunk covers a fixed time range and is a pure function of the
//! config and its index: it regenerates every slot whose sessions can reach into its range
//! (sessions last at most 30 min, their orders at most 50 min), keeps the records inside the
//! range, and puts them in time order. So chunks can be built in any order, on any thread, and
//! concatenated into the same stream.
//!
//! Ordering is incremental: records go to one bucket per minute as they are generated; once a
//! slot is done no later slot can add to the minutes before the next slot's start, so those
//! buckets are sorted (by second with a 60-way counting sort, which is all that whole-second
//! behaviour times need; with other types by millisecond, stable) and handed out. Only the
//! buckets of the last half hour or so are open at any time, so the work stays in cache. Ties
//! keep generation order, which is deterministic and independent of the chunking.

use crate::behavior::gen_slot;
use crate::extras::session_extras;
use crate::record::{Kind, Rec};
use crate::rhythm::{AUX_SPAN_SECS, SESSION_SPAN_SECS};
use crate::rng::{below_of, hash3};
use crate::world::Model;

/// Reusable buffers of one worker.
#[derive(Default)]
pub(crate) struct Scratch {
    sess: Vec<Rec>,
    buckets: Vec<Vec<Rec>>,
    spare: Vec<Vec<Rec>>,
    sorted: Vec<Rec>,
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

/// Open minute buckets of a chunk.
struct Minutes<'a> {
    lo: i64,
    hi: i64,
    buckets: &'a mut Vec<Vec<Rec>>,
    spare: &'a mut Vec<Vec<Rec>>,
    flushed: usize,
}

impl Minutes<'_> {
    /// Files a record under its minute when it lies in the chunk.
    #[inline]
    fn push(&mut self, r: &Rec) {
        if r.ts >= self.lo && r.ts < self.hi {
            let b = &mut self.buckets[((r.ts - self.lo) / 60_000) as usize];
            if b.capacity() == 0 {
                *b = self.spare.pop().unwrap_or_default();
            }
            b.push(*r);
        }
    }

    /// Sorts and emits every minute before `upto` (chunk-relative) not emitted yet.
    fn flush(
        &mut self,
        upto: usize,
        m: &Model,
        all: bool,
        sorted: &mut Vec<Rec>,
        counts: &mut Vec<u32>,
        emit: &mut impl FnMut(&[Rec]),
    ) {
        while self.flushed < upto.min(self.buckets.len()) {
            let mut b = std::mem::take(&mut self.buckets[self.flushed]);
            if !b.is_empty() {
                let out: &mut [Rec] = if all {
                    // Stable, so ties keep generation order.
                    b.sort_by_key(|r| r.ts);
                    &mut b
                } else {
                    // Behaviour times are whole seconds: a 60-way counting sort is enough.
                    let n = b.len();
                    if sorted.len() < n {
                        sorted.resize(n, EMPTY);
                    }
                    let start = self.lo + self.flushed as i64 * 60_000;
                    let key = |r: &Rec| ((r.ts - start) / 1000) as usize;
                    counting_pass(&b, &mut sorted[..n], counts, 60, key);
                    &mut sorted[..n]
                };
                jitter(m, out);
                emit(out);
            }
            b.clear();
            if b.capacity() > 0 {
                self.spare.push(b);
            }
            self.flushed += 1;
        }
    }
}

/// Builds chunk `chunk`, behaviour only or (`all`) every event type, and calls `emit` with its
/// records in output order, a minute at a time.
pub(crate) fn build(
    m: &Model,
    chunk: u32,
    all: bool,
    s: &mut Scratch,
    emit: &mut impl FnMut(&[Rec]),
) {
    let (c0, c1) = m.plan.chunk_secs(chunk);
    let lo = m.plan.start_ms + c0 as i64 * 1000;
    let minutes = ((c1 - c0) / 60) as usize;
    let horizon = if all {
        AUX_SPAN_SECS
    } else {
        SESSION_SPAN_SECS
    };
    for b in s.buckets.iter_mut() {
        if b.capacity() > 0 {
            b.clear();
            s.spare.push(std::mem::take(b));
        }
    }
    s.buckets.clear();
    s.buckets.resize_with(minutes, Vec::new);
    let mut mins = Minutes {
        lo,
        hi: m.plan.start_ms + c1 as i64 * 1000,
        buckets: &mut s.buckets,
        spare: &mut s.spare,
        flushed: 0,
    };
    if all {
        let mut campaign = Vec::new();
        m.campaigns.push_events(m, mins.lo, mins.hi, &mut campaign);
        campaign.iter().for_each(|r| mins.push(r));
    }
    let base_minute = (c0 / 60) as usize;
    for slot in m.plan.slots_for_chunk(chunk, horizon) {
        if all {
            let mut extra = |h: &_, beh: &[Rec], out: &mut Vec<Rec>| session_extras(m, h, beh, out);
            gen_slot(m, slot, Some(&mut extra), &mut s.sess, &mut |r| {
                mins.push(r)
            });
        } else {
            gen_slot(m, slot, None, &mut s.sess, &mut |r| mins.push(r));
        }
        // Sessions of later slots start at or after this slot's end: earlier minutes are done.
        let end_minute = m.plan.slot_minute_range(slot).1 as usize;
        let upto = end_minute.saturating_sub(base_minute);
        mins.flush(upto, m, all, &mut s.sorted, &mut s.counts, emit);
    }
    mins.flush(minutes, m, all, &mut s.sorted, &mut s.counts, emit);
}

/// Moves times back by up to `out_of_order_ms` (a fixed amount per event, from its identity),
/// never before the run's start.
fn jitter(m: &Model, recs: &mut [Rec]) {
    let ooo = m.cfg.out_of_order_ms;
    if ooo <= 0 {
        return;
    }
    let seed = m.cfg.seed;
    for r in recs {
        let h = hash3(seed ^ 0x0a0e, r.aux, (r.y as u64) << 8 | r.kind as u64);
        let late = below_of(h ^ r.ts as u64, ooo as u64 + 1) as i64;
        r.ts = (r.ts - late).max(m.plan.start_ms);
    }
}

/// One stable counting-sort pass from `src` into `dst` (same length) by `key < buckets`.
fn counting_pass(
    src: &[Rec],
    dst: &mut [Rec],
    counts: &mut Vec<u32>,
    buckets: usize,
    key: impl Fn(&Rec) -> usize,
) {
    counts.clear();
    counts.resize(buckets + 1, 0);
    for r in src {
        counts[key(r) + 1] += 1;
    }
    for i in 1..=buckets {
        counts[i] += counts[i - 1];
    }
    for r in src {
        let b = key(r);
        dst[counts[b] as usize] = *r;
        counts[b] += 1;
    }
}
