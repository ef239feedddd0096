//! Exact dedup by `event_id` within a horizon: the 128-bit hash of `shop \0 event_id` and the
//! UTC day it was accepted, persisted as one append-only log per day (`state/ids/<day>.log`)
//! whose committed length lives in the manifest, so a crash truncates whatever was not committed.
//! Days older than the horizon are forgotten and their logs deleted.
//!
//! In memory, recent ids sit in a sharded hash map; once it holds `seal_at` ids it is frozen and
//! sealed into a [`SortedRun`] on disk (in memory only a Bloom filter and a sparse index, about
//! 1.5 bytes an id instead of the map's 40–70), and runs of similar size are merged, so a lookup
//! checks the map and a handful of filters. The heavy work (sorting, merging, pruning runs)
//! happens in [`maintain`], outside the index's lock. Runs are rebuilt from the logs at start.
//!
//! Two ways in: an import checks ids and persists the fresh ones in its own commit
//! ([`DedupIndex::insert`] + [`DedupIndex::take_pending`]); the ingest server reserves ids in
//! memory before its WAL append ([`DedupIndex::reserve`], [`DedupIndex::release`] if the append
//! fails) and persists them when the WAL is folded, from the folded rows themselves, so an id is
//! never remembered for an event that was not durably stored. Rejected rows have keys too, in
//! a domain of their own ([`reject_key`]), so that a retried batch quarantines them once.

mod rejects;
mod run;

pub use rejects::{Named, named, reject_ids, reject_key};
pub use run::SortedRun;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Event ids the ingest server generates start with this; they are never resent, so they are
/// neither reserved nor remembered (clients may not use the prefix).
pub const GENERATED_PREFIX: char = '~';

/// Prefix of the logs' names in [`crate::Manifest::logs`].
pub const LOG_PREFIX: &str = "ids/";

/// Days since the Unix epoch, UTC.
pub type Day = u32;

/// The UTC day of a time in ms.
pub fn day_of_ms(ms: i64) -> Day {
    ms.div_euclid(86_400_000).clamp(0, u32::MAX as i64) as Day
}

/// Keys are already uniform 128-bit hashes: hashing them again (SipHash) only costs time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by u128 keys; kept correct for any other input.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, k: u128) {
        self.0 = k as u64;
    }
}

type IdMap = HashMap<u128, Day, BuildHasherDefault<KeyHasher>>;

const SHARD_BITS: u32 = 12;
const SHARDS: usize = 1 << SHARD_BITS;

/// The id map, cut into 4096 shards by the key's top bits: a growing hash map rehashes
/// everything at once, and with tens of millions of ids one rehash would stall every ingest
/// request behind the lock for most of a second. Shards fill at slightly different times, so
/// their (small) rehashes spread out instead of landing on the same few requests.
pub struct Shards {
    maps: Vec<IdMap>,
    len: usize,
}

impl Default for Shards {
    fn default() -> Self {
        Shards {
            maps: (0..SHARDS).map(|_| IdMap::default()).collect(),
            len: 0,
        }
    }
}

impl Shards {
    #[inline]
    fn of(&mut self, key: u128) -> &mut IdMap {
        &mut self.maps[(key >> (128 - SHARD_BITS)) as usize]
    }

    #[inline]
    fn get(&self, key: u128) -> bool {
        self.maps[(key >> (128 - SHARD_BITS)) as usize].contains_key(&key)
    }

    fn insert(&mut self, key: u128, day: Day) -> bool {
        let fresh = self.of(key).insert(key, day).is_none();
        self.len += usize::from(fresh);
        fresh
    }

    fn remove(&mut self, key: u128) -> bool {
        let had = self.of(key).remove(&key).is_some();
        self.len -= usize::from(had);
        had
    }

    fn pairs(&self) -> impl Iterator<Item = (u128, Day)> + '_ {
        self.maps
            .iter()
            .flat_map(|m| m.iter().map(|(k, d)| (*k, *d)))
    }
}

/// Appends keys to the day logs in `dir` and fsyncs them, without touching any index (so the
/// caller need not hold the index's lock through the fsync); returns each touched log's length.
/// Each log is first cut to its `committed` length: a failed append (a full disk) may have left
/// part of a key there, and keys written after it would be read misaligned.
/// Only one commit at a time may call it for a given `dir` (the store's lock ensures that).
pub fn append_logs(
    dir: &Path,
    keys: &[(u128, Day)],
    committed: &BTreeMap<String, u64>,
) -> io::Result<Vec<(String, u64)>> {
    let mut by_day: BTreeMap<Day, Vec<u8>> = BTreeMap::new();
    for (k, d) in keys {
        by_day
            .entry(*d)
            .or_default()
            .extend_from_slice(&k.to_le_bytes());
    }
    let mut out = Vec::with_capacity(by_day.len());
    for (day, buf) in by_day {
        let path = dir.join(format!("{day}.log"));
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        let keep = committed.get(&log_name(day)).copied().unwrap_or(0);
        if f.metadata()?.len() != keep {
            f.set_len(keep)?;
        }
        f.write_all(&buf)?;
        f.sync_data()?;
        out.push((log_name(day), f.metadata()?.len()));
    }
    Ok(out)
}

/// Ids in the recent map before it is sealed into a sorted run.
pub const SEAL_AT: usize = 1 << 18;
/// Ids read into one run at a time at start.
const LOAD_CHUNK: usize = 4 << 20;
/// Runs are not merged beyond this many ids.
const MAX_MERGED: usize = 64 << 20;

/// Seen event ids.
pub struct DedupIndex {
    dir: PathBuf,
    /// Recent ids (reserved or remembered), by shard.
    cur: Shards,
    /// The previous recent map, frozen while it is being sealed.
    prev: Option<Arc<Shards>>,
    /// Sealed ids.
    runs: Vec<Arc<SortedRun>>,
    /// Released ids that still sit in `prev` or a run (and must count as absent).
    tombstones: HashSet<u128>,
    pending: Vec<(u128, Day)>,
    horizon_days: u32,
    /// Oldest day in `cur`.
    oldest: Day,
    seal_at: usize,
}

/// The key of an event id within its shop.
pub fn id_key(shop: &str, event_id: &str) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(shop.as_bytes());
    h.update(&[0]);
    h.update(event_id.as_bytes());
    h.digest128()
}

fn log_name(day: Day) -> String {
    format!("{LOG_PREFIX}{day}")
}

impl DedupIndex {
    /// Loads the committed prefix of every day log listed in `committed` (manifest log lengths)
    /// that is within `horizon_days` of `today`, dropping uncommitted tails.
    pub fn open(
        dir: &Path,
        committed: &BTreeMap<String, u64>,
        horizon_days: u32,
        today: Day,
    ) -> io::Result<DedupIndex> {
        fs::create_dir_all(dir)?;
        let mut idx = DedupIndex::detached(dir, horizon_days);
        let cutoff = today.saturating_sub(horizon_days);
        // Runs are derived from the logs: start from a clean slate.
        let _ = fs::remove_dir_all(idx.runs_dir());
        for (name, &len) in committed {
            let Some(day) = name
                .strip_prefix(LOG_PREFIX)
                .and_then(|d| d.parse::<Day>().ok())
            else {
                continue;
            };
            if day < cutoff {
                continue;
            }
            let path = dir.join(format!("{day}.log"));
            let Ok(mut f) = File::open(&path) else {
                continue;
            };
            let on_disk = f.metadata()?.len();
            let keep = len.min(on_disk) / 16 * 16;
            // In chunks, each its own run (merged later by `maintain`): the start-up memory
            // peak stays at one chunk whatever the number of ids.
            let mut r = io::BufReader::with_capacity(1 << 20, &mut f);
            let mut left = keep / 16;
            while left > 0 {
                let n = left.min(LOAD_CHUNK as u64) as usize;
                let mut buf = vec![0u8; n * 16];
                r.read_exact(&mut buf)?;
                let packed: Vec<u128> = buf
                    .chunks_exact(16)
                    .map(|c| {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(c);
                        run::pack(u128::from_le_bytes(b), day)
                    })
                    .collect();
                drop(buf);
                if let Some(run) = SortedRun::from_packed(packed, &idx.runs_dir())? {
                    idx.runs.push(Arc::new(run));
                }
                left -= n as u64;
            }
            drop(r);
            if on_disk != keep {
                OpenOptions::new().write(true).open(&path)?.set_len(keep)?;
            }
        }
        Ok(idx)
    }

    /// An empty index that never touches `dir` unless persisted to (read-only views).
    pub fn detached(dir: &Path, horizon_days: u32) -> DedupIndex {
        DedupIndex {
            dir: dir.to_path_buf(),
            cur: Shards::default(),
            prev: None,
            runs: Vec::new(),
            tombstones: HashSet::new(),
            pending: Vec::new(),
            horizon_days,
            oldest: Day::MAX,
            seal_at: SEAL_AT,
        }
    }

    /// Ids remembered (an id merged from two places may count twice until sealed).
    pub fn len(&self) -> usize {
        self.cur.len
            + self.prev.as_ref().map_or(0, |p| p.len)
            + self.runs.iter().map(|r| r.len()).sum::<usize>()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sealed runs (for tests and metrics).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Seals the recent map after this many ids (default [`SEAL_AT`]).
    pub fn set_seal_at(&mut self, n: usize) {
        self.seal_at = n.max(1);
    }

    /// Whether the key is known.
    #[inline]
    pub fn contains(&self, key: u128) -> bool {
        if self.cur.get(key) {
            return true;
        }
        if !self.tombstones.is_empty() && self.tombstones.contains(&key) {
            return false;
        }
        self.sealed(key)
    }

    #[inline]
    fn sealed(&self, key: u128) -> bool {
        self.prev.as_ref().is_some_and(|p| p.get(key)) || self.runs.iter().any(|r| r.contains(key))
    }

    /// Whether the key was already seen; a fresh key is remembered in memory from now on
    /// (the caller persists it once its event is durable, or releases it).
    pub fn reserve(&mut self, key: u128, day: Day) -> bool {
        if self.contains(key) {
            return false;
        }
        if !self.tombstones.is_empty() {
            self.tombstones.remove(&key);
        }
        self.cur.insert(key, day);
        self.oldest = self.oldest.min(day);
        true
    }

    /// Forgets reserved keys whose events were not stored after all.
    pub fn release(&mut self, keys: &[u128]) {
        for &k in keys {
            self.cur.remove(k);
            if self.sealed(k) {
                self.tombstones.insert(k);
            }
        }
    }

    /// Import path: whether the id is new; a new id is pending until [`Self::take_pending`]
    /// is persisted in the same commit as its event.
    pub fn insert(&mut self, shop: &str, event_id: &str, day: Day) -> bool {
        let k = id_key(shop, event_id);
        let fresh = self.reserve(k, day);
        if fresh {
            self.pending.push((k, day));
        }
        fresh
    }

    /// Takes the ids inserted since the last call.
    pub fn take_pending(&mut self) -> Vec<(u128, Day)> {
        std::mem::take(&mut self.pending)
    }

    /// Appends keys to their day logs and fsyncs them; returns the new length of every log
    /// touched, to be recorded in the manifest in the same commit as the events. The keys are
    /// remembered in memory too: at startup, the ids of events recovered from the WAL were
    /// reserved only by the process that crashed.
    pub fn persist(
        &mut self,
        keys: &[(u128, Day)],
        committed: &BTreeMap<String, u64>,
    ) -> io::Result<Vec<(String, u64)>> {
        let lens = append_logs(&self.dir, keys, committed)?;
        self.remember(keys);
        Ok(lens)
    }

    /// Remembers keys in memory (see [`append_logs`] for the disk).
    pub fn remember(&mut self, keys: &[(u128, Day)]) {
        for &(k, d) in keys {
            self.reserve(k, d);
        }
    }

    /// The directory of the day logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn runs_dir(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// Forgets ids accepted before `today - horizon`; returns the names of the logs that are
    /// now obsolete (drop them from the manifest, then [`Self::delete_logs`]).
    pub fn prune(&mut self, today: Day, committed: &BTreeMap<String, u64>) -> Vec<String> {
        let cutoff = today.saturating_sub(self.horizon_days);
        if self.oldest < cutoff {
            let mut removed = 0;
            for m in &mut self.cur.maps {
                let before = m.len();
                m.retain(|_, d| *d >= cutoff);
                removed += before - m.len();
            }
            self.cur.len -= removed;
            self.oldest = self.cur.pairs().map(|(_, d)| d).min().unwrap_or(Day::MAX);
        }
        // Whole runs that are too old go now; partly old ones are rebuilt by `maintain`.
        self.runs.retain(|r| r.newest() >= cutoff);
        committed
            .keys()
            .filter(|n| {
                n.strip_prefix(LOG_PREFIX)
                    .and_then(|d| d.parse::<Day>().ok())
                    .is_some_and(|d| d < cutoff)
            })
            .cloned()
            .collect()
    }

    /// Deletes obsolete logs (after the manifest no longer lists them).
    pub fn delete_logs(&self, names: &[String]) {
        for n in names {
            if let Some(d) = n.strip_prefix(LOG_PREFIX) {
                let _ = fs::remove_file(self.dir.join(format!("{d}.log")));
            }
        }
    }
}

/// Background upkeep of the index, with its lock held only for O(1) swaps: seals a full recent
/// map into a sorted run, merges runs of similar size, and drops expired ids from runs.
pub fn maintain(index: &Mutex<DedupIndex>, today: Day) {
    if let Err(e) = try_maintain(index, today) {
        // Nothing is lost: the frozen map and the old runs stay in use until a retry succeeds.
        tracing::error!(error = %e, "dedup index upkeep failed; will retry");
    }
}

fn try_maintain(index: &Mutex<DedupIndex>, today: Day) -> io::Result<()> {
    let lock = || index.lock().unwrap_or_else(|p| p.into_inner());
    let (frozen, dir) = {
        let mut g = lock();
        if g.prev.is_none() && g.cur.len >= g.seal_at {
            let full = std::mem::take(&mut g.cur);
            g.oldest = Day::MAX;
            g.prev = Some(Arc::new(full));
        }
        (g.prev.clone(), g.runs_dir())
    };
    if let Some(f) = frozen {
        let run = SortedRun::from_pairs(f.pairs(), f.len, &dir)?;
        let mut g = lock();
        g.runs.extend(run.map(Arc::new));
        g.prev = None;
    }
    loop {
        let (pair, cutoff) = {
            let g = lock();
            let n = g.runs.len();
            let cutoff = today.saturating_sub(g.horizon_days);
            let old = g.runs.iter().find(|r| r.oldest() < cutoff).cloned();
            // Bigger runs are not merged: their merge costs more than a filter probe saves.
            let pair = (n >= 2
                && g.runs[n - 1].len() * 2 >= g.runs[n - 2].len()
                && g.runs[n - 1].len() + g.runs[n - 2].len() <= MAX_MERGED)
                .then(|| (g.runs[n - 2].clone(), g.runs[n - 1].clone()));
            match (old, pair) {
                (Some(o), _) => (Err(o), cutoff),
                (None, Some(p)) => (Ok(p), cutoff),
                (None, None) => return Ok(()),
            }
        };
        match pair {
            Ok((a, b)) => {
                let merged = SortedRun::merge(&a, &b, &dir)?.map(Arc::new);
                let mut g = lock();
                let ia = g.runs.iter().position(|r| Arc::ptr_eq(r, &a));
                let ib = g.runs.iter().position(|r| Arc::ptr_eq(r, &b));
                let (Some(ia), Some(ib), Some(m)) = (ia, ib, merged) else {
                    return Ok(());
                };
                g.runs[ia] = m;
                g.runs.remove(ib);
            }
            Err(old) => {
                let pruned = old.without_before(cutoff, &dir)?.map(Arc::new);
                let mut g = lock();
                let Some(i) = g.runs.iter().position(|r| Arc::ptr_eq(r, &old)) else {
                    return Ok(());
                };
                match pruned {
                    Some(p) => g.runs[i] = p,
                    None => {
                        g.runs.remove(i);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Persists keys and records the logs' new lengths as a manifest commit would.
    fn commit(d: &mut DedupIndex, m: &mut BTreeMap<String, u64>, keys: &[(u128, Day)]) {
        let lens = d.persist(keys, m).unwrap();
        m.extend(lens);
    }

    #[test]
    fn ids_survive_reopen_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids");
        let mut m = BTreeMap::new();
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        assert!(d.insert("s", "a", 100));
        assert!(!d.insert("s", "a", 100));
        assert!(d.insert("t", "a", 100), "shops are separate");
        let pending = d.take_pending();
        commit(&mut d, &mut m, &pending);
        assert!(d.insert("s", "b", 100));
        let pending = d.take_pending();
        d.persist(&pending, &m).unwrap(); // written but never committed in a manifest
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        assert!(!d.insert("s", "a", 100));
        assert!(
            d.insert("s", "b", 100),
            "uncommitted tail must be forgotten"
        );
    }

    #[test]
    fn a_torn_key_left_by_a_failed_append_is_cut_before_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids");
        let mut m = BTreeMap::new();
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        let (a, b) = (id_key("s", "a"), id_key("s", "b"));
        commit(&mut d, &mut m, &[(a, 100)]);
        // A full disk took 7 bytes of the next key, and that commit failed.
        let mut f = OpenOptions::new()
            .append(true)
            .open(p.join("100.log"))
            .unwrap();
        f.write_all(&[9; 7]).unwrap();
        drop(f);
        commit(&mut d, &mut m, &[(b, 100)]);
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        assert!(!d.reserve(a, 100));
        assert!(
            !d.reserve(b, 100),
            "a key after the torn bytes is read aligned"
        );
    }

    #[test]
    fn reserve_release_and_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids");
        let mut m = BTreeMap::new();
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        let (a, b, c) = (id_key("s", "a"), id_key("s", "b"), id_key("s", "c"));
        assert!(d.reserve(a, 90));
        assert!(d.reserve(b, 100));
        assert!(!d.reserve(a, 100));
        assert!(d.reserve(c, 100));
        d.release(&[c]);
        assert!(d.reserve(c, 100), "a released id is fresh again");
        d.release(&[c]);
        commit(&mut d, &mut m, &[(a, 90), (b, 100)]);
        assert_eq!(m.len(), 2);
        // Day 98: horizon 7 keeps day 91 onwards, so `a` (day 90) is forgotten.
        let old = d.prune(98, &m);
        assert_eq!(old, vec!["ids/90".to_string()]);
        for n in &old {
            m.remove(n);
        }
        d.delete_logs(&old);
        assert!(!p.join("90.log").exists());
        assert!(
            d.reserve(a, 98),
            "an id older than the horizon is forgotten"
        );
        assert!(
            !d.reserve(b, 98),
            "an id within the horizon is still a duplicate"
        );
        let mut d = DedupIndex::open(&p, &m, 7, 98).unwrap();
        assert_eq!(d.len(), 1);
        assert!(!d.reserve(b, 98));
        // Ids persisted without a reservation (recovered from the WAL) are known at once.
        let c2 = id_key("s", "recovered");
        d.persist(&[(c2, 98)], &m).unwrap();
        assert!(!d.reserve(c2, 98));
    }

    #[test]
    fn sealing_merging_release_and_expiry_keep_answers_exact() {
        let dir = tempfile::tempdir().unwrap();
        let m = BTreeMap::new();
        let idx = Mutex::new(DedupIndex::open(&dir.path().join("ids"), &m, 7, 100).unwrap());
        idx.lock().unwrap().set_seal_at(1000);
        let k = |i: u64| id_key("s", &format!("e{i}"));
        // 10 generations of 1000 ids on days 100..104; sealed and merged as they fill.
        for i in 0..10_000u64 {
            assert!(idx.lock().unwrap().reserve(k(i), 100 + (i / 2000) as Day));
            if i % 1000 == 999 {
                maintain(&idx, 104);
            }
        }
        {
            let g = idx.lock().unwrap();
            assert!(
                g.runs() >= 1 && g.runs() <= 4,
                "runs are merged: {}",
                g.runs()
            );
            assert_eq!(g.cur.len, 0);
        }
        let mut g = idx.lock().unwrap();
        for i in 0..10_000u64 {
            assert!(!g.reserve(k(i), 104), "sealed id {i} must stay a duplicate");
        }
        assert!(g.reserve(k(10_000), 104));
        // A sealed id whose store failed is released, then fresh again, then known again.
        g.release(&[k(5)]);
        assert!(!g.contains(k(5)));
        assert!(g.reserve(k(5), 104));
        assert!(!g.reserve(k(5), 104));
        g.release(&[k(5)]);
        assert!(g.reserve(k(5), 104), "released twice is still absent");
        drop(g);
        // Day 108 with a 7-day horizon keeps days 101 onwards: ids of day 100 (0..2000) expire.
        let obsolete = idx.lock().unwrap().prune(108, &m);
        assert!(obsolete.is_empty());
        maintain(&idx, 108);
        let mut g = idx.lock().unwrap();
        assert!(g.reserve(k(1), 108), "an expired id is forgotten");
        assert!(!g.reserve(k(2500), 108), "an id within the horizon is kept");
        assert!(!g.reserve(k(9999), 108));
    }
}
