//! Sequences of action-only funnel steps without SQL: the behaviour day files are read on all
//! cores (`user_id`, `ts`, `action` only), each row's step bits come from a per-batch table over
//! the action dictionary, and users are numbered densely by their id's offset within the shop's
//! id range (a hash map only when ids are too sparse). Through SQL, a 100M-event funnel spent
//! most of its time in expression evaluation and a hash lookup per row.

use super::file_scan::{dict_codes, parallel, read};
use super::sequences::{Sequences, group, max_events, too_many_events};
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows of one file that matter: user ids, times and step bits.
struct Chunk {
    shop: usize,
    user: Vec<i64>,
    ts: Vec<i64>,
    code: Vec<u64>,
}

fn read_file(
    path: &Path,
    shop: usize,
    steps: &[String],
    keep_all: bool,
) -> Result<Chunk, QueryError> {
    let mut c = Chunk {
        shop,
        user: Vec::new(),
        ts: Vec::new(),
        code: Vec::new(),
    };
    let bad = |what: &str| QueryError::Internal(format!("reading {}: {what}", path.display()));
    read(path, &["user_id", "ts", "action"], |batch| {
        let users = batch
            .column_by_name("user_id")
            .and_then(|a| a.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| bad("user_id is not BIGINT"))?;
        let ts = batch
            .column_by_name("ts")
            .and_then(|a| a.as_primitive_opt::<TimestampMillisecondType>())
            .ok_or_else(|| bad("ts is not a timestamp"))?;
        // Bit i set: the action is step i's.
        let codes = dict_codes(batch, "action", 0u64, |a| {
            steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.as_str() == a)
                .fold(0, |m, (i, _)| m | 1 << i)
        })?;
        for (i, &code) in codes.iter().enumerate() {
            if (code == 0 && !keep_all) || !users.is_valid(i) {
                continue;
            }
            c.user.push(users.value(i));
            c.ts.push(ts.value(i));
            c.code.push(code);
        }
        Ok(())
    })?;
    Ok(c)
}

/// Loads the behaviour events of `[from, to]` (day partitions) for steps that are actions only.
/// `keep_all`: keep events matching no step (strict funnels need them).
pub fn load(
    snap: &Snapshot,
    scope: &Scope,
    from: Option<&str>,
    to: Option<&str>,
    steps: &[String],
    keep_all: bool,
    limit_mib: usize,
) -> Result<Sequences, QueryError> {
    let mut shops: Vec<String> = Vec::new();
    let mut work: Vec<(PathBuf, usize)> = Vec::new();
    for f in snap.event_files(model::EventType::Behavior, scope) {
        let (Some(shop), Some(dt)) = (f.shop, f.dt) else {
            continue;
        };
        if from.is_some_and(|d| dt.as_str() < d) || to.is_some_and(|d| dt.as_str() > d) {
            continue;
        }
        let s = match shops.iter().position(|x| *x == shop) {
            Some(s) => s,
            None => {
                shops.push(shop);
                shops.len() - 1
            }
        };
        work.push((f.path, s));
    }
    let max = max_events(limit_mib);
    let loaded = AtomicUsize::new(0);
    let chunks = parallel(work, |(path, shop)| {
        let c = read_file(&path, shop, steps, keep_all)?;
        let n = loaded.fetch_add(c.user.len(), Ordering::Relaxed) + c.user.len();
        if n > max {
            return Err(too_many_events(limit_mib));
        }
        Ok(c)
    })?;
    let n: usize = chunks.iter().map(|c| c.user.len()).sum();
    // Dense user numbers: each shop's id range laid end to end, when that is compact enough.
    let mut range = vec![(i64::MAX, i64::MIN); shops.len()];
    for c in &chunks {
        for &u in &c.user {
            let r = &mut range[c.shop];
            r.0 = r.0.min(u);
            r.1 = r.1.max(u);
        }
    }
    let mut base = vec![0u64; shops.len()];
    let mut span = 0u64;
    for (s, &(lo, hi)) in range.iter().enumerate() {
        base[s] = span;
        if lo <= hi {
            span += (hi as i128 - lo as i128 + 1) as u64;
        }
    }
    let dense = span <= (4 * n as u64).max(1 << 20) && span < u32::MAX as u64;
    let mut user = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut code = Vec::with_capacity(n);
    let mut ids: FxHashMap<(usize, i64), u32> = FxHashMap::default();
    for c in chunks {
        for (i, &u) in c.user.iter().enumerate() {
            let id = if dense {
                (base[c.shop] + (u - range[c.shop].0) as u64) as u32
            } else {
                let next = ids.len() as u32;
                *ids.entry((c.shop, u)).or_insert(next)
            };
            user.push(id);
            ts.push(c.ts[i]);
            code.push(c.code[i]);
        }
    }
    let n_users = if dense { span as usize } else { ids.len() };
    let label = vec![0u32; user.len()];
    Ok(group(n_users, user, ts, code, label, vec![String::new()]))
}
