//! Sealed generations of the id index, kept on disk: a sorted file of 16-byte entries — the top
//! 112 bits of the id key and, in the low 16 bits, the day it was accepted. In memory a run keeps
//! only a blocked Bloom filter (one cache line per lookup, about 10 bits per id) and the first
//! entry of every 64-entry block (2 bits per id), so a lookup of a new id almost never touches
//! the disk, and a hit reads one 1 KiB block. Runs are derived from the day logs (rebuilt at
//! every start), so they need no fsync and are deleted when dropped.

use super::Day;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of an entry that identify the id (the rest is the day).
const DAY_BITS: u32 = 16;
const DAY_MASK: u128 = (1 << DAY_BITS) - 1;
/// Bloom bits per id.
const BITS_PER_ID: usize = 10;
/// Bit positions set per id, all inside one 512-bit block.
const PROBES: u32 = 6;
/// Entries per disk block (1 KiB).
const BLOCK: usize = 64;

static NEXT_RUN: AtomicU64 = AtomicU64::new(0);

/// One entry: the key's identity and its accept day.
#[inline]
pub fn pack(key: u128, day: Day) -> u128 {
    (ident(key) << DAY_BITS) | u128::from(day.min(DAY_MASK as Day))
}

/// The identity part of a key (what equality means here: 112 bits).
#[inline]
pub fn ident(key: u128) -> u128 {
    key >> DAY_BITS
}

#[inline]
fn ident_of(entry: u128) -> u128 {
    entry >> DAY_BITS
}

#[inline]
fn day_of(entry: u128) -> Day {
    (entry & DAY_MASK) as Day
}

/// A sealed, sorted generation of ids.
pub struct SortedRun {
    file: File,
    path: PathBuf,
    len: usize,
    /// Identity of the first entry of each block.
    firsts: Vec<u128>,
    bloom: Vec<[u64; 8]>,
    newest: Day,
    oldest: Day,
}

/// Streams sorted, unique entries into a new run file.
struct Builder {
    w: BufWriter<File>,
    path: PathBuf,
    len: usize,
    firsts: Vec<u128>,
    bloom: Vec<[u64; 8]>,
    newest: Day,
    oldest: Day,
}

impl Builder {
    fn new(dir: &Path, capacity: usize) -> io::Result<Builder> {
        fs::create_dir_all(dir)?;
        let n = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}.run", std::process::id()));
        let blocks = (capacity * BITS_PER_ID).div_ceil(512).max(1);
        Ok(Builder {
            // Read back later through the same handle (lookups use positioned reads).
            w: BufWriter::with_capacity(
                1 << 16,
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)?,
            ),
            path,
            len: 0,
            firsts: Vec::with_capacity(capacity / BLOCK + 1),
            bloom: vec![[0u64; 8]; blocks],
            newest: 0,
            oldest: Day::MAX,
        })
    }

    fn push(&mut self, e: u128) -> io::Result<()> {
        if self.len.is_multiple_of(BLOCK) {
            self.firsts.push(ident_of(e));
        }
        let (b, bits) = probe(ident_of(e), self.bloom.len());
        for p in bits {
            self.bloom[b][(p >> 6) as usize] |= 1 << (p & 63);
        }
        self.newest = self.newest.max(day_of(e));
        self.oldest = self.oldest.min(day_of(e));
        self.len += 1;
        self.w.write_all(&e.to_le_bytes())
    }

    fn finish(self) -> io::Result<Option<SortedRun>> {
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        if self.len == 0 {
            drop(file);
            let _ = fs::remove_file(&self.path);
            return Ok(None);
        }
        Ok(Some(SortedRun {
            file,
            path: self.path,
            len: self.len,
            firsts: self.firsts,
            bloom: self.bloom,
            newest: self.newest,
            oldest: self.oldest,
        }))
    }
}

/// Reads a run's entries in order.
fn entries(run: &SortedRun) -> io::Result<impl Iterator<Item = io::Result<u128>>> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(&run.path)?);
    let mut left = run.len;
    Ok(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let mut b = [0u8; 16];
        Some(r.read_exact(&mut b).map(|_| u128::from_le_bytes(b)))
    }))
}

impl SortedRun {
    /// Builds a run in `dir` from [`pack`]ed entries in any order (duplicates keep one entry,
    /// with the newest day).
    pub fn from_packed(mut packed: Vec<u128>, dir: &Path) -> io::Result<Option<SortedRun>> {
        packed.sort_unstable();
        let mut b = Builder::new(dir, packed.len())?;
        let mut i = 0;
        while i < packed.len() {
            let mut j = i + 1;
            while j < packed.len() && ident_of(packed[j]) == ident_of(packed[i]) {
                j += 1;
            }
            b.push(packed[j - 1])?;
            i = j;
        }
        b.finish()
    }

    /// Builds a run from (key, day) pairs.
    pub fn from_pairs(
        pairs: impl Iterator<Item = (u128, Day)>,
        len_hint: usize,
        dir: &Path,
    ) -> io::Result<Option<SortedRun>> {
        let mut packed = Vec::with_capacity(len_hint);
        packed.extend(pairs.map(|(k, d)| pack(k, d)));
        SortedRun::from_packed(packed, dir)
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none (never: empty runs are not made).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest accept day held.
    pub fn newest(&self) -> Day {
        self.newest
    }

    /// The oldest accept day held.
    pub fn oldest(&self) -> Day {
        self.oldest
    }

    /// Whether the id is in the run. Exact: the filter only spares the disk. A failed read
    /// counts as absent (and is logged): storing a resent event twice is better than dropping
    /// a new one.
    pub fn contains(&self, key: u128) -> bool {
        let id = ident(key);
        let (b, bits) = probe(id, self.bloom.len());
        let block = &self.bloom[b];
        if !bits
            .into_iter()
            .all(|p| block[(p >> 6) as usize] & (1 << (p & 63)) != 0)
        {
            return false;
        }
        let blk = match self.firsts.partition_point(|f| *f <= id) {
            0 => return false,
            n => n - 1,
        };
        let start = blk * BLOCK;
        let n = BLOCK.min(self.len - start);
        let mut buf = [0u8; BLOCK * 16];
        if let Err(e) = self
            .file
            .read_exact_at(&mut buf[..n * 16], (start * 16) as u64)
        {
            tracing::error!(error = %e, path = %self.path.display(), "reading a dedup run; treating the id as new");
            return false;
        }
        buf[..n * 16].chunks_exact(16).any(|c| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            ident_of(u128::from_le_bytes(b)) == id
        })
    }

    /// Merges two runs into a new one in `dir` (streaming: memory stays small).
    pub fn merge(a: &SortedRun, b: &SortedRun, dir: &Path) -> io::Result<Option<SortedRun>> {
        let mut out = Builder::new(dir, a.len + b.len)?;
        let (mut x, mut y) = (entries(a)?.peekable(), entries(b)?.peekable());
        loop {
            let next = match (x.peek(), y.peek()) {
                (Some(Ok(ea)), Some(Ok(eb))) => {
                    let (ia, ib) = (ident_of(*ea), ident_of(*eb));
                    if ia < ib {
                        x.next()
                    } else if ib < ia {
                        y.next()
                    } else {
                        let (ea, eb) = (*ea, *eb);
                        x.next();
                        y.next();
                        Some(Ok(ea.max(eb)))
                    }
                }
                (Some(_), _) => x.next(),
                (None, Some(_)) => y.next(),
                (None, None) => break,
            };
            match next {
                Some(Ok(e)) => out.push(e)?,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        out.finish()
    }

    /// The run without ids accepted before `cutoff`; `None` if that is all of them.
    pub fn without_before(&self, cutoff: Day, dir: &Path) -> io::Result<Option<SortedRun>> {
        let mut out = Builder::new(dir, self.len)?;
        for e in entries(self)? {
            let e = e?;
            if day_of(e) >= cutoff {
                out.push(e)?;
            }
        }
        out.finish()
    }
}

impl Drop for SortedRun {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The block and the bit positions of an identity.
#[inline]
fn probe(id: u128, blocks: usize) -> (usize, [u32; PROBES as usize]) {
    let lo = id as u64;
    let hi = (id >> 64) as u64;
    let b = ((u128::from(lo) * blocks as u128) >> 64) as usize;
    let mut bits = [0u32; PROBES as usize];
    for (i, p) in bits.iter_mut().enumerate() {
        *p = ((hi >> (i as u32 * 9)) & 511) as u32;
    }
    (b, bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> u128 {
        super::super::id_key("s", &i.to_string())
    }

    #[test]
    fn runs_find_exactly_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = SortedRun::from_pairs((0..50_000).map(|i| (key(i), 100 + (i % 3) as Day)), 0, d)
            .unwrap()
            .unwrap();
        let b = SortedRun::from_pairs((40_000..90_000).map(|i| (key(i), 105)), 0, d)
            .unwrap()
            .unwrap();
        assert_eq!(a.len(), 50_000);
        assert_eq!(a.newest(), 102);
        for i in 0..50_000 {
            assert!(a.contains(key(i)));
        }
        let false_hits = (100_000..200_000).filter(|&i| a.contains(key(i))).count();
        assert_eq!(false_hits, 0, "the search behind the filter is exact");
        let m = SortedRun::merge(&a, &b, d).unwrap().unwrap();
        assert_eq!(m.len(), 90_000);
        assert_eq!(m.newest(), 105);
        assert!((0..90_000).all(|i| m.contains(key(i))));
        assert!(!m.contains(key(90_000)));
        // Pruning keeps ids accepted on or after the cutoff (merged duplicates keep the newest day).
        let p = m.without_before(104, d).unwrap().unwrap();
        assert_eq!(p.len(), 50_000);
        assert!(p.contains(key(45_000)) && !p.contains(key(1)));
        assert!(m.without_before(106, d).unwrap().is_none());
        let path = p.path.clone();
        drop(p);
        assert!(!path.exists(), "a dropped run deletes its file");
    }
}
