//! Action-only behaviour funnels without SQL and without one big per-user sort, from the
//! Parquet files: the fallback when a day file has no usable user timeline
//! (see `timelines`).
//!
//! 1. Row groups of the day files are decoded on all cores (`user_id`, `ts`, `action` only);
//!    each row's step bits come from a per-batch table over the action dictionary. Every kept
//!    event goes to one of many buckets, so a bucket holds all the events of its users; each row
//!    group's events are laid out bucket by bucket. When the footers' statistics show compact
//!    user id ranges, users get dense numbers and a bucket is a range of them; otherwise buckets
//!    come from a hash of (shop, user).
//! 2. Buckets are walked one per thread. A bucket is small enough to stay in cache: a counting
//!    sort by user puts each user's events together in file order, and each user is walked
//!    (`direct::UserWalk`). Lake files are sorted by time
//!    and listed per shop in time order, so a user's events are usually already in (time, step
//!    bits) order; a user slice that is not (overlapping files) is sorted.
//!
//! Grouping all 100M events of a 9-day funnel in one counting sort plus per-user sorts took
//! 14 s and 4.5 GB; buckets keep every pass in cache and the decoded events at 16 bytes each.

use super::direct::{ActionFunnel, Counted};
use crate::analysis::file_scan::{Unit, dict_codes, parallel, read_unit, units};
use crate::analysis::sequences::{max_events, slot_starts, too_many_events};
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Memory per kept event: 16 bytes decoded, plus the bucket sort buffers (one bucket per thread).
pub const BYTES_PER_EVENT: usize = 18;

/// Events per bucket the bucket count aims at (a bucket's sort buffers stay within L2).
const EVENTS_PER_BUCKET: usize = 32_768;

/// One kept event: the user (dense number or raw id, see [`Numbering`]), its time as an offset
/// from the row group's base and its step bits.
#[derive(Clone, Copy)]
struct Entry {
    user: i64,
    t: u32,
    code: u32,
}

/// How users are numbered and spread over buckets.
enum Numbering {
    /// Every row group states its user id range and each shop's range is compact: user number
    /// `base[shop] + (id - lo[shop])`, bucket `number >> shift`, no hash map anywhere.
    Dense {
        lo: Vec<i64>,
        hi: Vec<i64>,
        base: Vec<i64>,
        span: i64,
        shift: u32,
    },
    /// Sparse or unknown ids: buckets by a hash, users numbered per bucket with a hash map.
    Hashed { buckets: usize },
}

impl Numbering {
    fn plan(work: &[Unit<u32>], shops: usize, rows: usize) -> Numbering {
        let hashed = Numbering::Hashed {
            buckets: rows.div_ceil(EVENTS_PER_BUCKET).clamp(1, 4096),
        };
        let mut range = vec![(i64::MAX, i64::MIN); shops];
        for u in work {
            let Some((lo, hi)) = u.i64_range("user_id") else {
                return hashed;
            };
            let r = &mut range[u.tag as usize];
            *r = (r.0.min(lo), r.1.max(hi));
        }
        let (mut lo, mut hi) = (vec![0; shops], vec![0; shops]);
        let (mut base, mut span) = (vec![0; shops], 0i128);
        for (s, &(a, b)) in range.iter().enumerate() {
            (lo[s], hi[s]) = (a, b);
            base[s] = span as i64;
            if a <= b {
                span += b as i128 - a as i128 + 1;
            }
        }
        if span > (4 * rows as i128).max(1 << 20) || span >= i128::from(u32::MAX) {
            return hashed;
        }
        // Users per bucket: a power of two holding about EVENTS_PER_BUCKET events.
        let per = (span as usize * EVENTS_PER_BUCKET / rows.max(1)).max(1);
        let mut shift = per.next_power_of_two().trailing_zeros();
        while (span >> shift) >= 4096 {
            shift += 1;
        }
        Numbering::Dense {
            lo,
            hi,
            base,
            span: span as i64,
            shift,
        }
    }

    fn buckets(&self) -> usize {
        match self {
            Numbering::Dense { span, shift, .. } => (((span - 1).max(0) >> shift) + 1) as usize,
            Numbering::Hashed { buckets } => *buckets,
        }
    }

    /// The event's stored user and its bucket.
    fn place(&self, shop: u32, user: i64) -> Option<(i64, usize)> {
        match self {
            Numbering::Dense {
                lo,
                hi,
                base,
                shift,
                ..
            } => {
                let s = shop as usize;
                (lo[s] <= user && user <= hi[s]).then(|| {
                    let n = base[s] + (user - lo[s]);
                    (n, (n >> shift) as usize)
                })
            }
            Numbering::Hashed { buckets } => Some((user, bucket_of(shop, user, *buckets))),
        }
    }
}

/// One row group's kept events, bucket by bucket (`entries[offsets[b]..offsets[b + 1]]`).
struct Chunk {
    shop: u32,
    base: i64,
    entries: Vec<Entry>,
    offsets: Vec<u32>,
}

impl Chunk {
    /// The events of bucket `b`.
    fn bucket(&self, b: usize) -> &[Entry] {
        &self.entries[self.offsets[b] as usize..self.offsets[b + 1] as usize]
    }
}

/// Bucket of a (shop, user): a mixer unrelated to the hash map's, so a bucket's keys still
/// spread over its map.
fn bucket_of(shop: u32, user: i64, buckets: usize) -> usize {
    let mut x = (user as u64) ^ (u64::from(shop) << 56) ^ 0x9e37_79b9_7f4a_7c15;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((x >> 32) as usize * buckets) >> 32
}

fn decode(u: &Unit<u32>, f: &ActionFunnel, numbering: &Numbering) -> Result<Chunk, QueryError> {
    let keep_all = f.keeps_all();
    let bad = |what: &str| QueryError::Internal(format!("reading {}: {what}", u.path.display()));
    let buckets = numbering.buckets();
    let mut flat: Vec<Entry> = Vec::with_capacity(u.rows);
    let mut which: Vec<u32> = Vec::with_capacity(u.rows);
    let mut base: Option<i64> = None;
    read_unit(u, &["user_id", "ts", "action"], |batch| {
        let users = batch
            .column_by_name("user_id")
            .and_then(|a| a.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| bad("user_id is not BIGINT"))?;
        let ts = batch
            .column_by_name("ts")
            .and_then(|a| a.as_primitive_opt::<TimestampMillisecondType>())
            .ok_or_else(|| bad("ts is not a timestamp"))?;
        // Bit i set: the action is step i's.
        // At most MAX_STEPS (32) steps: the bits fit in u32.
        let codes = dict_codes(batch, "action", 0u32, |a| f.bits(a) as u32)?;
        let (uv, tv) = (users.values(), ts.values());
        let valid = users.nulls().is_none() && ts.nulls().is_none();
        for (i, &code) in codes.iter().enumerate() {
            if (code == 0 && !keep_all) || (!valid && (users.is_null(i) || ts.is_null(i))) {
                continue;
            }
            // A row group holds one day, so offsets from (first time - 2^31 ms) fit in u32.
            let b = *base.get_or_insert(tv[i] - (1 << 31));
            let t = u32::try_from(tv[i] - b)
                .map_err(|_| bad("event times of one row group span more than 24 days"))?;
            let (user, bucket) = numbering
                .place(u.tag, uv[i])
                .ok_or_else(|| bad("a user id lies outside the row group's statistics"))?;
            which.push(bucket as u32);
            flat.push(Entry { user, t, code });
        }
        Ok(())
    })?;
    let mut offsets = vec![0u32; buckets + 1];
    for &b in &which {
        offsets[b as usize + 1] += 1;
    }
    for b in 0..buckets {
        offsets[b + 1] += offsets[b];
    }
    let mut next = offsets.clone();
    let mut entries = vec![
        Entry {
            user: 0,
            t: 0,
            code: 0
        };
        flat.len()
    ];
    for (e, &b) in flat.iter().zip(&which) {
        let slot = &mut next[b as usize];
        entries[*slot as usize] = *e;
        *slot += 1;
    }
    Ok(Chunk {
        shop: u.tag,
        base: base.unwrap_or(0),
        entries,
        offsets,
    })
}

/// Walks every user of bucket `b`.
fn walk_bucket(chunks: &[Chunk], numbering: &Numbering, b: usize, f: &ActionFunnel) -> Counted {
    let mut local: Vec<u32> = Vec::new();
    let n_users = match numbering {
        Numbering::Dense { span, shift, .. } => {
            let first = (b as i64) << shift;
            for c in chunks {
                let events = c.bucket(b);
                local.extend(events.iter().map(|e| (e.user - first) as u32));
            }
            ((span - first).min(1 << shift)) as usize
        }
        Numbering::Hashed { .. } => {
            let mut users: FxHashMap<(u32, i64), u32> = FxHashMap::default();
            for c in chunks {
                for e in c.bucket(b) {
                    let next = users.len() as u32;
                    local.push(*users.entry((c.shop, e.user)).or_insert(next));
                }
            }
            users.len()
        }
    };
    let start = slot_starts(&local, n_users);
    let n = local.len();
    let (mut ts, mut code) = (vec![0i64; n], vec![0u64; n]);
    let mut next = start.clone();
    let mut i = 0;
    for c in chunks {
        for e in c.bucket(b) {
            let slot = &mut next[local[i] as usize];
            ts[*slot] = c.base + i64::from(e.t);
            code[*slot] = u64::from(e.code);
            *slot += 1;
            i += 1;
        }
    }
    let mut walk = f.user_walk();
    let mut out = Counted::default();
    for u in 0..n_users {
        let r = start[u]..start[u + 1];
        if !r.is_empty() {
            walk.walk(&mut ts[r.clone()], &mut code[r], &mut out);
        }
    }
    out
}

/// Runs an action-only funnel from the Parquet files of its days.
pub fn run(snap: &Snapshot, scope: &Scope, f: &ActionFunnel) -> Result<Counted, QueryError> {
    let mut shops: Vec<String> = Vec::new();
    let mut files = Vec::new();
    for file in snap.day_files(model::EventType::Behavior, scope, f.from, f.to) {
        // Files come by shop: a new shop is the next number.
        if shops.last() != Some(&file.shop) {
            shops.push(file.shop);
        }
        files.push((file.path, shops.len() as u32 - 1));
    }
    let work = units(files)?;
    let rows: usize = work.iter().map(|u| u.rows).sum();
    let numbering = Numbering::plan(&work, shops.len(), rows);
    let max = max_events(f.limit_mib, BYTES_PER_EVENT);
    let loaded = AtomicUsize::new(0);
    // Decoded in any order, then put back in file order: time order within each user.
    let numbered: Vec<(usize, Unit<u32>)> = work.into_iter().enumerate().rev().collect();
    let mut chunks = parallel(numbered, |(i, u)| {
        let c = decode(&u, f, &numbering)?;
        let n = loaded.fetch_add(c.entries.len(), Ordering::Relaxed) + c.entries.len();
        if n > max {
            return Err(too_many_events(f.limit_mib, BYTES_PER_EVENT));
        }
        Ok((i, c))
    })?;
    chunks.sort_by_key(|c| c.0);
    let chunks: Vec<Chunk> = chunks.into_iter().map(|c| c.1).collect();
    let parts = parallel((0..numbering.buckets()).collect(), |b| {
        Ok(walk_bucket(&chunks, &numbering, b, f))
    })?;
    Ok(Counted::sum(parts))
}
