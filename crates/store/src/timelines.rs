//! Per-file user timelines: a behaviour file's `(user_id, ts, action)` triples grouped by user,
//! each user's events in time order. A funnel then streams every user's events straight from a
//! few compact files, merging days per user, instead of decoding Parquet and regrouping 100M
//! rows by user on every query.
//!
//! Written beside the sketch as `lake/_sketches/<seq>.timeline` before the file's commit and
//! deleted with it. Like the user sets it is not fsynced: the body carries a CRC-32, and a
//! funnel that finds any of its timelines missing, torn or corrupt reads the Parquet files.
//!
//! Layout (little-endian): magic `SPT1`, CRC-32 of the rest, then the action names used
//! (sorted), the bits per action code, the time unit (1 or 1000 ms), the first and last time,
//! user and event counts, a block index (first user, body offset and first event of every
//! [`BLOCK_USERS`] users) and the body. Per user the body holds a varint of the zig-zagged id
//! delta (reset to 0 at each block), a varint event count and, per event, a varint of
//! `(time delta in units << bits) | code`; the first delta is from the first time, later ones
//! from the user's previous event. Code `names.len()` stands for a null action. Ids in runs and
//! second-resolution times make this under 2 bytes per event on the Taobao data.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"SPT1";

/// The whole content of a timeline file whose rows cannot have one.
const IMPOSSIBLE: &[u8] = b"SPT-";

/// Users per block of the index: a reader seeks to a block, then skips at most this many users.
pub const BLOCK_USERS: usize = 1024;

/// More distinct actions than this and a file gets no timeline (codes stay small).
const MAX_NAMES: usize = 1 << 12;

/// Where the timeline of lake file `seq` lives.
pub fn timeline_path(root: &Path, seq: u64) -> PathBuf {
    root.join(format!("lake/_sketches/{seq:012}.timeline"))
}

/// Writes an encoded timeline for lake file `seq`: to a temporary name, then renamed, so a
/// reader's map of an earlier file under the same name stays whole.
pub fn save(root: &Path, seq: u64, bytes: &[u8]) -> io::Result<()> {
    write_renamed(root, seq, bytes)
}

/// Marks lake file `seq` as one that cannot have a timeline (see [`TimelineBuilder::encode`]),
/// so it is not rebuilt on every `compact`; funnels read such a file from Parquet.
pub fn save_impossible(root: &Path, seq: u64) -> io::Result<()> {
    write_renamed(root, seq, IMPOSSIBLE)
}

/// Whether lake file `seq` has a readable timeline or is marked as unable to have one.
pub fn present(root: &Path, seq: u64) -> bool {
    let path = timeline_path(root, seq);
    Timelines::load(&path).is_some() || std::fs::read(&path).is_ok_and(|b| b == IMPOSSIBLE)
}

fn write_renamed(root: &Path, seq: u64, bytes: &[u8]) -> io::Result<()> {
    let path = timeline_path(root, seq);
    let tmp = path.with_extension("timeline.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

/// Collects a file's rows (in file order) until they are encoded.
#[derive(Default)]
pub struct TimelineBuilder {
    names: Vec<String>,
    index: HashMap<String, u32>,
    users: Vec<i64>,
    ts: Vec<i64>,
    /// Index into `names`, or `u32::MAX` for a null action.
    kinds: Vec<u32>,
    /// A batch lacked the expected columns: no timeline for this file.
    broken: bool,
}

impl TimelineBuilder {
    /// A builder holding `batches`.
    pub fn of(batches: &[RecordBatch]) -> TimelineBuilder {
        let mut b = TimelineBuilder::default();
        for batch in batches {
            b.push(batch);
        }
        b
    }

    /// Adds a batch's rows with a user and a time (others are never part of a funnel).
    pub fn push(&mut self, b: &RecordBatch) {
        let cols = (
            b.column_by_name("user_id")
                .and_then(|a| a.as_primitive_opt::<Int64Type>()),
            b.column_by_name("ts")
                .and_then(|a| a.as_primitive_opt::<TimestampMillisecondType>()),
            b.column_by_name("action")
                .and_then(|a| a.as_dictionary_opt::<Int32Type>()),
        );
        let (Some(users), Some(ts), Some(action)) = cols else {
            self.broken = true;
            return;
        };
        let Some(values) = action.values().as_string_opt::<i32>() else {
            self.broken = true;
            return;
        };
        let local: Vec<u32> = (0..values.len())
            .map(|i| self.intern(values.value(i)))
            .collect();
        let keys = action.keys();
        for i in 0..b.num_rows() {
            if users.is_null(i) || ts.is_null(i) {
                continue;
            }
            let kind = if keys.is_null(i) {
                u32::MAX
            } else {
                local
                    .get(keys.value(i) as usize)
                    .copied()
                    .unwrap_or(u32::MAX)
            };
            self.users.push(users.value(i));
            self.ts.push(ts.value(i));
            self.kinds.push(kind);
        }
    }

    /// Adds the rows of the next chunk of the same file.
    pub fn append(&mut self, o: TimelineBuilder) {
        if o.broken {
            self.broken = true;
        }
        let map: Vec<u32> = o.names.iter().map(|n| self.intern(n)).collect();
        self.users.extend_from_slice(&o.users);
        self.ts.extend_from_slice(&o.ts);
        self.kinds.extend(
            o.kinds
                .iter()
                .map(|&k| map.get(k as usize).copied().unwrap_or(u32::MAX)),
        );
    }

    /// The code of an action name, added on first sight.
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&c) = self.index.get(name) {
            return c;
        }
        let c = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), c);
        c
    }

    /// The encoded timeline; `None` when the rows cannot have one (missing columns, too many
    /// distinct actions, times too far apart for the codes).
    pub fn encode(&self) -> Option<Vec<u8>> {
        if self.broken || self.names.len() >= MAX_NAMES {
            return None;
        }
        // The names actually used, sorted: the same rows give the same bytes whatever their
        // batches' dictionaries held.
        let mut used = vec![false; self.names.len()];
        for &k in &self.kinds {
            if let Some(u) = used.get_mut(k as usize) {
                *u = true;
            }
        }
        let mut names: Vec<(&str, usize)> = (0..self.names.len())
            .filter(|&i| used[i])
            .map(|i| (self.names[i].as_str(), i))
            .collect();
        names.sort_unstable();
        let null_code = names.len() as u64;
        let mut recode = vec![null_code; self.names.len()];
        for (code, &(_, i)) in names.iter().enumerate() {
            recode[i] = code as u64;
        }
        let bits = 64 - null_code.leading_zeros();
        let unit: i64 = if self.ts.iter().all(|t| t % 1000 == 0) {
            1000
        } else {
            1
        };
        let base = self.ts.iter().copied().min().unwrap_or(0);
        let span = self
            .ts
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .checked_sub(base)?;
        if (span / unit) as u128 >= 1u128 << (63 - bits) {
            return None;
        }
        let order = self.user_time_order();
        let mut body = Vec::with_capacity(self.users.len() * 3);
        let mut blocks: Vec<(i64, u64, u64)> = Vec::new();
        let (mut n_users, mut i) = (0usize, 0usize);
        let mut prev_user = 0i64;
        while i < order.len() {
            let user = self.users[order[i] as usize];
            let mut end = i + 1;
            while end < order.len() && self.users[order[end] as usize] == user {
                end += 1;
            }
            if n_users.is_multiple_of(BLOCK_USERS) {
                blocks.push((user, body.len() as u64, i as u64));
                prev_user = 0;
            }
            put_varint(&mut body, zigzag(user.wrapping_sub(prev_user)));
            put_varint(&mut body, (end - i) as u64);
            let mut prev_t = base;
            for &r in &order[i..end] {
                let r = r as usize;
                let code = recode
                    .get(self.kinds[r] as usize)
                    .copied()
                    .unwrap_or(null_code);
                put_varint(
                    &mut body,
                    (((self.ts[r] - prev_t) / unit) as u64) << bits | code,
                );
                prev_t = self.ts[r];
            }
            prev_user = user;
            n_users += 1;
            i = end;
        }
        let mut rest = Vec::with_capacity(body.len() + 64 + blocks.len() * 24);
        rest.extend_from_slice(&(names.len() as u32).to_le_bytes());
        for (n, _) in &names {
            rest.extend_from_slice(&(n.len() as u32).to_le_bytes());
            rest.extend_from_slice(n.as_bytes());
        }
        rest.push(bits as u8);
        rest.extend_from_slice(&unit.to_le_bytes());
        rest.extend_from_slice(&base.to_le_bytes());
        rest.extend_from_slice(&(base + span).to_le_bytes());
        rest.extend_from_slice(&(n_users as u64).to_le_bytes());
        rest.extend_from_slice(&(order.len() as u64).to_le_bytes());
        rest.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
        for (u, off, ev) in &blocks {
            rest.extend_from_slice(&u.to_le_bytes());
            rest.extend_from_slice(&off.to_le_bytes());
            rest.extend_from_slice(&ev.to_le_bytes());
        }
        rest.extend_from_slice(&(body.len() as u64).to_le_bytes());
        rest.extend_from_slice(&body);
        let mut out = Vec::with_capacity(rest.len() + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&crc32fast::hash(&rest).to_le_bytes());
        out.extend_from_slice(&rest);
        Some(out)
    }

    /// Row numbers ordered by (user, time, file order). Ids of one file usually span a range
    /// not much wider than their count, so a counting sort by user does it in linear time
    /// (file order within a user is time order for time-sorted files; other users are fixed up).
    fn user_time_order(&self) -> Vec<u32> {
        let n = self.users.len();
        let (Some(&lo), Some(&hi)) = (self.users.iter().min(), self.users.iter().max()) else {
            return Vec::new();
        };
        let span = (hi as i128 - lo as i128 + 1) as u128;
        if span > (8 * n as u128).max(1 << 22) {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by_key(|&r| (self.users[r as usize], self.ts[r as usize], r));
            return order;
        }
        let mut start = vec![0u32; span as usize + 1];
        for &u in &self.users {
            start[(u - lo) as usize + 1] += 1;
        }
        for s in 1..start.len() {
            start[s] += start[s - 1];
        }
        let mut order = vec![0u32; n];
        let mut next = start.clone();
        for (r, &u) in self.users.iter().enumerate() {
            let slot = &mut next[(u - lo) as usize];
            order[*slot as usize] = r as u32;
            *slot += 1;
        }
        // Runs of one user whose times go backwards (a file not sorted by time): sort them.
        let mut i = 0;
        while i < n {
            let u = self.users[order[i] as usize];
            let mut end = i + 1;
            let mut sorted = true;
            while end < n && self.users[order[end] as usize] == u {
                sorted &= self.ts[order[end - 1] as usize] <= self.ts[order[end] as usize];
                end += 1;
            }
            if !sorted {
                order[i..end].sort_by_key(|&r| (self.ts[r as usize], r));
            }
            i = end;
        }
        order
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos`; `None` past the end or on an overlong one.
#[inline]
fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// One entry of the block index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    /// The block's first user id.
    pub first_user: i64,
    /// Where its first user starts in the body.
    pub offset: usize,
    /// Events before the block (for splitting work by events).
    pub first_event: u64,
}

/// A timeline's bytes: built in memory, or a read-only map of its file.
enum Bytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// A decoded timeline file (the body stays encoded; read it with [`Timelines::cursor`]).
pub struct Timelines {
    bytes: Bytes,
    body: usize,
    names: Vec<String>,
    bits: u32,
    unit: i64,
    base: i64,
    /// The latest time: decoded times outside `base..=max` mean a corrupt body.
    max: i64,
    users: u64,
    events: u64,
    blocks: Vec<Block>,
}

impl Timelines {
    /// Checks and indexes what [`TimelineBuilder::encode`] wrote; `None` if it is torn,
    /// corrupt or not a timeline.
    pub fn decode(bytes: Vec<u8>) -> Option<Timelines> {
        Timelines::index(Bytes::Owned(bytes))
    }

    fn index(bytes: Bytes) -> Option<Timelines> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (crc, rest) = rest.split_first_chunk::<4>()?;
        if crc32fast::hash(rest) != u32::from_le_bytes(*crc) {
            return None;
        }
        let mut r = Fields(rest, 0);
        let n = r.u32()? as usize;
        if n >= MAX_NAMES {
            return None;
        }
        let mut names = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            names.push(std::str::from_utf8(r.take(len)?).ok()?.to_string());
        }
        let bits = u32::from(*r.take(1)?.first()?);
        let unit = r.u64()? as i64;
        let base = r.u64()? as i64;
        let max = r.u64()? as i64;
        let users = r.u64()?;
        let events = r.u64()?;
        let n_blocks = r.u32()? as usize;
        if bits > 16 || !(unit == 1 || unit == 1000) || (1u64 << bits) <= names.len() as u64 {
            return None;
        }
        let mut blocks = Vec::with_capacity(n_blocks.min(rest.len() / 24));
        for _ in 0..n_blocks {
            blocks.push(Block {
                first_user: r.u64()? as i64,
                offset: usize::try_from(r.u64()?).ok()?,
                first_event: r.u64()?,
            });
        }
        let body_len = usize::try_from(r.u64()?).ok()?;
        let body = 8 + r.1;
        if rest.len() - r.1 != body_len || blocks.iter().any(|b| b.offset > body_len) {
            return None;
        }
        // Counts and the index must fit the body (each user takes 2 bytes or more, each event
        // 1 or more), so nothing derived from them can overflow or point outside it.
        let fits = events <= body_len as u64
            && users.saturating_mul(2) <= body_len as u64
            && max.checked_sub(base).is_some_and(|d| d >= 0)
            && blocks.len() as u64 == users.div_ceil(BLOCK_USERS as u64)
            && blocks
                .first()
                .is_none_or(|b| b.offset == 0 && b.first_event == 0)
            && blocks.windows(2).all(|w| {
                w[0].first_user < w[1].first_user
                    && w[0].offset < w[1].offset
                    && w[0].first_event <= w[1].first_event
            })
            && blocks.last().is_none_or(|b| b.first_event <= events);
        if !fits {
            return None;
        }
        Some(Timelines {
            bytes,
            body,
            names,
            bits,
            unit,
            base,
            max,
            users,
            events,
            blocks,
        })
    }

    /// Maps the timeline at `path`; `None` if missing, torn or corrupt. Mapping instead of
    /// reading saves zeroing and copying the bytes (a sixth of a 100M-event funnel's time).
    pub fn load(path: &Path) -> Option<Timelines> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: timelines are written to a temporary name and renamed into place
        // ([`save`]), never changed after: the mapped file cannot shrink under the map.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()?;
        Timelines::index(Bytes::Mapped(map))
    }

    /// Action names by code; code `names().len()` is a null action.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Users in the file.
    pub fn users(&self) -> u64 {
        self.users
    }

    /// Events in the file (rows with a user and a time).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The block index.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// A cursor at the first user with id `>= from`.
    pub fn cursor(&self, from: i64) -> Result<Cursor<'_>, io::Error> {
        let b = self
            .blocks
            .partition_point(|b| b.first_user <= from)
            .saturating_sub(1);
        let mut c = Cursor {
            t: self,
            pos: 0,
            prev: 0,
            user: None,
            count: 0,
            user_no: 0,
        };
        if let Some(first) = self.blocks.get(b) {
            c.pos = first.offset;
            c.user_no = b as u64 * BLOCK_USERS as u64;
            c.head()?;
            while c.user.is_some_and(|u| u < from) {
                c.skip()?;
            }
        }
        Ok(c)
    }
}

/// Walks a timeline user by user, in ascending id order.
pub struct Cursor<'a> {
    t: &'a Timelines,
    pos: usize,
    /// The previous user id of this block (0 at a block's start).
    prev: i64,
    user: Option<i64>,
    count: u64,
    /// Users read so far, counting from the file's first.
    user_no: u64,
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "timeline body is corrupt")
}

impl Cursor<'_> {
    /// The current user, `None` once past the last.
    #[inline]
    pub fn user(&self) -> Option<i64> {
        self.user
    }

    /// Reads the next user's header (or notes the end).
    fn head(&mut self) -> Result<(), io::Error> {
        if self.user_no >= self.t.users {
            self.user = None;
            return Ok(());
        }
        if self.user_no.is_multiple_of(BLOCK_USERS as u64) {
            self.prev = 0;
        }
        let body = &self.t.bytes[self.t.body..];
        let delta = get_varint(body, &mut self.pos).ok_or_else(corrupt)?;
        let user = self.prev.wrapping_add(unzigzag(delta));
        self.count = get_varint(body, &mut self.pos).ok_or_else(corrupt)?;
        self.prev = user;
        self.user = Some(user);
        self.user_no += 1;
        Ok(())
    }

    /// Calls `f(ts_ms, code)` for each of the current user's events in time order, then moves
    /// to the next user.
    #[inline]
    pub fn events(&mut self, mut f: impl FnMut(i64, u32)) -> Result<(), io::Error> {
        let body = &self.t.bytes[self.t.body..];
        let (bits, unit) = (self.t.bits, self.t.unit);
        let mask = (1u64 << bits) - 1;
        let (mut t, max) = (self.t.base, self.t.max);
        for _ in 0..self.count {
            let v = get_varint(body, &mut self.pos).ok_or_else(corrupt)?;
            // Within base..=max, so times and their differences never overflow downstream.
            t = i64::try_from(v >> bits)
                .ok()
                .and_then(|d| d.checked_mul(unit))
                .and_then(|d| t.checked_add(d))
                .filter(|&t| t <= max)
                .ok_or_else(corrupt)?;
            f(t, (v & mask) as u32);
        }
        self.head()
    }

    /// Moves to the next user without reporting events.
    pub fn skip(&mut self) -> Result<(), io::Error> {
        self.events(|_, _| {})
    }
}

struct Fields<'a>(&'a [u8], usize);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.0.get(self.1..self.1.checked_add(n)?)?;
        self.1 += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(*self.take(4)?.first_chunk::<4>()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(*self.take(8)?.first_chunk::<8>()?))
    }
}

#[cfg(test)]
#[path = "timelines_tests.rs"]
mod tests;
