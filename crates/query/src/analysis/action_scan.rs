//! Sequences of action-only funnel steps without SQL: the behaviour day files are read on all
//! cores (`user_id`, `ts`, `action` only), each row's step bits come from a per-batch table over
//! the action dictionary, and users are numbered densely by their id's offset within the shop's
//! id range (a hash map only when ids are too sparse). Through SQL, a 100M-event funnel spent
//! most of its time in expression evaluation and a hash lookup per row.

use super::sequences::{BYTES_PER_EVENT, Sequences, group};
use crate::error::QueryError;
use crate::tables::{Scope, Snapshot};
use datafusion::arrow::array::{Array, AsArray, DictionaryArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Rows of one file that matter: user ids, times and step bits.
struct Chunk {
    shop: usize,
    user: Vec<i64>,
    ts: Vec<i64>,
    code: Vec<u64>,
}

fn err(path: &std::path::Path, e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(format!("reading {}: {e}", path.display()))
}

fn read_file(
    path: &PathBuf,
    shop: usize,
    steps: &[String],
    keep_all: bool,
) -> Result<Chunk, QueryError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(path, e))?;
    let idx: Vec<usize> = b
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| ["user_id", "ts", "action"].contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(b.parquet_schema(), idx);
    let reader = b
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(path, e))?;
    let mut c = Chunk {
        shop,
        user: Vec::new(),
        ts: Vec::new(),
        code: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(|e| err(path, e))?;
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .ok_or_else(|| err(path, format!("no column {n}")))
        };
        let users = col("user_id")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| err(path, "user_id is not BIGINT"))?;
        let ts = col("ts")?
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| err(path, "ts is not a timestamp"))?;
        let action = col("action")?;
        let d = action
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .ok_or_else(|| err(path, "action is not dictionary encoded"))?;
        let values = d.values().as_string::<i32>();
        let bits: Vec<u64> = (0..values.len())
            .map(|v| {
                let a = values.value(v);
                steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.as_str() == a)
                    .fold(0, |m, (i, _)| m | 1 << i)
            })
            .collect();
        let keys = d.keys();
        for i in 0..batch.num_rows() {
            let code = if keys.is_valid(i) {
                bits.get(keys.value(i) as usize).copied().unwrap_or(0)
            } else {
                0
            };
            if (code == 0 && !keep_all) || !users.is_valid(i) {
                continue;
            }
            c.user.push(users.value(i));
            c.ts.push(ts.value(i));
            c.code.push(code);
        }
    }
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
    let max_events = (limit_mib.max(1) << 20) / BYTES_PER_EVENT;
    let queue = Mutex::new(work);
    let chunks = Mutex::new(Vec::new());
    let loaded = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| -> Result<(), QueryError> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), QueryError> {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                        let Some((path, shop)) = next else { return Ok(()) };
                        let c = read_file(&path, shop, steps, keep_all)?;
                        let n = loaded.fetch_add(c.user.len(), std::sync::atomic::Ordering::Relaxed) + c.user.len();
                        if n > max_events {
                            return Err(QueryError::Memory {
                                limit_mib,
                                detail: format!(
                                    "more than {max_events} events to walk at about {BYTES_PER_EVENT} bytes each; narrow the days or the steps"
                                ),
                            });
                        }
                        chunks.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| QueryError::Internal("a funnel scan thread panicked".into()))??;
        }
        Ok(())
    })?;
    let chunks = chunks.into_inner().unwrap_or_else(|p| p.into_inner());
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
