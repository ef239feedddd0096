//! Exact dedup by `event_id` within a horizon: a map from the 128-bit hash of
//! `shop \0 event_id` to the UTC day it was accepted, persisted as one append-only log per day
//! (`state/ids/<day>.log`) whose committed length lives in the manifest, so a crash truncates
//! whatever was not committed. Days older than the horizon are forgotten and their logs deleted,
//! which bounds memory (about 40 bytes per id within the horizon) without any false positive.
//!
//! Two ways in: an import checks ids and persists the fresh ones in its own commit
//! ([`DedupIndex::insert`] + [`DedupIndex::take_pending`]); the ingest server reserves ids in
//! memory before its WAL append ([`DedupIndex::reserve`], [`DedupIndex::release`] if the append
//! fails) and persists them when the WAL is folded, from the folded rows themselves, so an id is
//! never remembered for an event that was not durably stored.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

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
struct Shards {
    maps: Vec<IdMap>,
}

impl Default for Shards {
    fn default() -> Self {
        Shards {
            maps: (0..SHARDS).map(|_| IdMap::default()).collect(),
        }
    }
}

impl Shards {
    #[inline]
    fn of(&mut self, key: u128) -> &mut IdMap {
        &mut self.maps[(key >> (128 - SHARD_BITS)) as usize]
    }
}

/// Appends keys to the day logs in `dir` and fsyncs them, without touching any index (so the
/// caller need not hold the index's lock through the fsync); returns each touched log's length.
/// Only one commit at a time may call it for a given `dir` (the store's lock ensures that).
pub fn append_logs(dir: &Path, keys: &[(u128, Day)]) -> io::Result<Vec<(String, u64)>> {
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
        f.write_all(&buf)?;
        f.sync_data()?;
        out.push((log_name(day), f.metadata()?.len()));
    }
    Ok(out)
}

/// Seen event ids.
pub struct DedupIndex {
    dir: PathBuf,
    seen: Shards,
    pending: Vec<(u128, Day)>,
    horizon_days: u32,
    oldest: Day,
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
        idx.oldest = today;
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
            idx.oldest = idx.oldest.min(day);
            let path = dir.join(format!("{day}.log"));
            let Ok(mut f) = File::open(&path) else {
                continue;
            };
            let on_disk = f.metadata()?.len();
            let keep = len.min(on_disk) / 16 * 16;
            let mut buf = vec![0u8; keep as usize];
            f.read_exact(&mut buf)?;
            for c in buf.chunks_exact(16) {
                let mut b = [0u8; 16];
                b.copy_from_slice(c);
                let k = u128::from_le_bytes(b);
                idx.seen.of(k).insert(k, day);
            }
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
            seen: Shards::default(),
            pending: Vec::new(),
            horizon_days,
            oldest: Day::MAX,
        }
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.seen.maps.iter().map(HashMap::len).sum()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.maps.iter().all(HashMap::is_empty)
    }

    /// Whether the key was already seen; a fresh key is remembered in memory from now on
    /// (the caller persists it once its event is durable, or releases it).
    pub fn reserve(&mut self, key: u128, day: Day) -> bool {
        use std::collections::hash_map::Entry;
        match self.seen.of(key).entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(day);
                self.oldest = self.oldest.min(day);
                true
            }
        }
    }

    /// Forgets reserved keys whose events were not stored after all.
    pub fn release(&mut self, keys: &[u128]) {
        for k in keys {
            self.seen.of(*k).remove(k);
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
    pub fn persist(&mut self, keys: &[(u128, Day)]) -> io::Result<Vec<(String, u64)>> {
        let lens = append_logs(&self.dir, keys)?;
        self.remember(keys);
        Ok(lens)
    }

    /// Remembers keys in memory (see [`append_logs`] for the disk).
    pub fn remember(&mut self, keys: &[(u128, Day)]) {
        for (k, d) in keys {
            self.seen.of(*k).entry(*k).or_insert(*d);
            self.oldest = self.oldest.min(*d);
        }
    }

    /// The directory of the day logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets ids accepted before `today - horizon`; returns the names of the logs that are
    /// now obsolete (drop them from the manifest, then [`Self::delete_logs`]).
    pub fn prune(&mut self, today: Day, committed: &BTreeMap<String, u64>) -> Vec<String> {
        let cutoff = today.saturating_sub(self.horizon_days);
        if self.oldest < cutoff {
            for m in &mut self.seen.maps {
                m.retain(|_, d| *d >= cutoff);
            }
            self.oldest = (self.seen.maps.iter())
                .flat_map(|m| m.values().copied())
                .min()
                .unwrap_or(today);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(m: &mut BTreeMap<String, u64>, lens: Vec<(String, u64)>) {
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
        commit(&mut m, d.persist(&pending).unwrap());
        assert!(d.insert("s", "b", 100));
        let pending = d.take_pending();
        d.persist(&pending).unwrap(); // written but never committed in a manifest
        let mut d = DedupIndex::open(&p, &m, 7, 100).unwrap();
        assert!(!d.insert("s", "a", 100));
        assert!(
            d.insert("s", "b", 100),
            "uncommitted tail must be forgotten"
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
        commit(&mut m, d.persist(&[(a, 90), (b, 100)]).unwrap());
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
        d.persist(&[(c2, 98)]).unwrap();
        assert!(!d.reserve(c2, 98));
    }
}
