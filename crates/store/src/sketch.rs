//! Per-file distinct-count sketches (HyperLogLog++ from `cardinality-estimator`, precision 14:
//! standard error about 0.8 %), so `stats` can report distinct users and items over any number
//! of files by merging small sketches instead of reading every id. Written next to the lake as
//! `lake/_sketches/<seq>.json`, committed with their file and deleted with it. [`Sidecars`]
//! writes them together with the exact user sets (`crate::usersets`) and the user timelines
//! (`crate::timelines`).

use arrow_array::Array;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use cardinality_estimator::CardinalityEstimator;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The estimator type: 2^14 registers of 6 bits. Ids are hashed by [`mix`] and inserted with
/// `insert_hash`, so the hasher parameter is never used.
pub type Hll = CardinalityEstimator<i64, std::hash::DefaultHasher, 14, 6>;

/// Sketches of one lake file's id columns.
#[derive(Serialize, Deserialize)]
pub struct FileSketch {
    /// Distinct `user_id`.
    pub users: Hll,
    /// Distinct `item_id`.
    pub items: Hll,
}

impl FileSketch {
    /// Sketches the id columns of batches (tables without them give empty sketches).
    pub fn of(batches: &[RecordBatch]) -> FileSketch {
        let (mut users, mut items) = (Hll::new(), Hll::new());
        for b in batches {
            if let Some(c) = b.column_by_name("user_id") {
                let a = c.as_primitive::<Int64Type>();
                for (i, v) in a.values().iter().enumerate() {
                    if a.is_valid(i) {
                        users.insert_hash(mix(*v));
                    }
                }
            }
            if let Some(c) = b.column_by_name("item_id") {
                let a = c.as_primitive::<Int64Type>();
                for (i, v) in a.values().iter().enumerate() {
                    if a.is_valid(i) {
                        items.insert_hash(mix(*v));
                    }
                }
            }
        }
        FileSketch { users, items }
    }

    /// Writes the sketch (not fsynced separately: a lost sketch only makes `stats` count exactly).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, serde_json::to_vec(self).map_err(io::Error::other)?)
    }

    /// Reads a sketch; `None` if it is missing or unreadable.
    pub fn load(path: &Path) -> Option<FileSketch> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// What is written beside a lake file under `lake/_sketches/`: the HLL sketch and the user
/// timelines of a behaviour file and the exact user sets of a table with users and a kind column.
pub(crate) struct Sidecars {
    sketch: Option<FileSketch>,
    users: Option<crate::usersets::UserSets>,
    timelines: Option<crate::timelines::TimelineBuilder>,
}

impl Sidecars {
    /// The sidecars of a table's batches.
    pub(crate) fn of(t: model::EventType, batches: &[RecordBatch]) -> Sidecars {
        Sidecars {
            sketch: (t == model::EventType::Behavior).then(|| FileSketch::of(batches)),
            users: crate::usersets::UserSets::of(t, batches),
            timelines: (t == model::EventType::Behavior)
                .then(|| crate::timelines::TimelineBuilder::of(batches)),
        }
    }

    /// Adds the next chunk of the same file (compaction writes a file in chunks). A sidecar
    /// that either side lacks is dropped, so a file never gets one covering only some rows.
    pub(crate) fn merge(&mut self, o: Sidecars) {
        match (&mut self.sketch, o.sketch) {
            (Some(a), Some(b)) => {
                a.users.merge(&b.users);
                a.items.merge(&b.items);
            }
            (a, _) => *a = None,
        }
        match (&mut self.users, o.users) {
            (Some(a), Some(b)) => a.merge(b),
            (a, _) => *a = None,
        }
        match (&mut self.timelines, o.timelines) {
            (Some(a), Some(b)) => a.append(b),
            (a, _) => *a = None,
        }
    }

    /// Whether lake file `seq` of table `t` has every sidecar written for its table, each
    /// readable: behaviour files a sketch, user sets and a timeline; orders, logins and page
    /// views user sets.
    pub(crate) fn complete(root: &Path, t: model::EventType, seq: u64) -> bool {
        use model::EventType as E;
        let users = || crate::usersets::UserSets::load(&crate::usersets::user_sets_path(root, seq));
        match t {
            E::Behavior => {
                FileSketch::load(&sketch_path(root, seq)).is_some()
                    && users().is_some()
                    && crate::timelines::present(root, seq)
            }
            E::Order | E::Login | E::PageView => users().is_some(),
            E::Payment | E::AdClick => true,
        }
    }

    /// Writes them for lake file `seq`.
    pub(crate) fn save(&self, root: &Path, seq: u64) -> io::Result<()> {
        if let Some(s) = &self.sketch {
            s.save(&sketch_path(root, seq))?;
        }
        if let Some(u) = &self.users {
            u.save(&crate::usersets::user_sets_path(root, seq))?;
        }
        if let Some(t) = &self.timelines {
            match t.encode() {
                Some(bytes) => crate::timelines::save(root, seq, &bytes)?,
                None => crate::timelines::save_impossible(root, seq)?,
            }
        }
        Ok(())
    }
}

/// A strong 64-bit mix of an id (splitmix64 finaliser): HLL needs uniformly spread hashes.
#[inline]
pub fn mix(v: i64) -> u64 {
    let mut z = (v as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where the sketch of lake file `seq` lives, relative to the data dir.
pub fn sketch_path(root: &Path, seq: u64) -> PathBuf {
    root.join(format!("lake/_sketches/{seq:012}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use std::sync::Arc;

    #[test]
    fn merged_sketches_estimate_within_the_documented_error() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "user_id",
            arrow_schema::DataType::Int64,
            false,
        )]));
        let batch = |range: std::ops::Range<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(range))],
            )
            .unwrap()
        };
        let mut a = FileSketch::of(&[batch(0..600_000)]).users;
        let b = FileSketch::of(&[batch(400_000..1_000_000)]).users;
        a.merge(&b);
        let est = a.estimate() as f64;
        assert!(
            (est - 1_000_000.0).abs() / 1_000_000.0 < 0.03,
            "estimate {est}"
        );
        let small = FileSketch::of(&[batch(0..100)]).users.estimate();
        assert_eq!(small, 100, "small sets are counted exactly");
    }
}
