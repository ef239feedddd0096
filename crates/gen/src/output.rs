//! Output: statistics, the Taobao CSV and NDJSON renderers, and the parallel chunk pipeline.
//!
//! The pipeline hands chunk indices to worker threads; each builds its chunk and renders it
//! into a byte buffer, and the calling thread writes buffers strictly in chunk order. At most
//! `2 × threads` chunks are in flight, so memory stays bounded. Output does not depend on the
//! number of threads.

use crate::chunk::{Scratch, build};
use crate::events::to_event;
use crate::record::{Kind, Rec};
use crate::world::Model;
use ::model::EventType;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// What a run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Behaviour `pv` events.
    pub pv: u64,
    /// Behaviour `cart` events.
    pub cart: u64,
    /// Behaviour `fav` events.
    pub fav: u64,
    /// Behaviour `buy` events.
    pub buy: u64,
    /// Orders created.
    pub order_create: u64,
    /// Orders paid.
    pub order_pay: u64,
    /// Orders cancelled.
    pub order_cancel: u64,
    /// Payment receipts.
    pub payments: u64,
    /// Successful logins.
    pub login_success: u64,
    /// Failed logins.
    pub login_fail: u64,
    /// Ad clicks.
    pub ad_clicks: u64,
    /// Page views.
    pub page_views: u64,
    /// Earliest event time written, UTC ms.
    pub min_ts_ms: Option<i64>,
    /// Latest event time written, UTC ms.
    pub max_ts_ms: Option<i64>,
    /// Bytes written (0 when nothing was written).
    pub bytes: u64,
}

impl GenStats {
    /// Events of one type.
    pub fn count(&self, t: EventType) -> u64 {
        match t {
            EventType::Behavior => self.pv + self.cart + self.fav + self.buy,
            EventType::Order => self.order_create + self.order_pay + self.order_cancel,
            EventType::Payment => self.payments,
            EventType::Login => self.login_success + self.login_fail,
            EventType::AdClick => self.ad_clicks,
            EventType::PageView => self.page_views,
        }
    }

    /// Behaviour events of one action (`pv`, `cart`, `fav`, `buy`); 0 for others.
    pub fn action(&self, action: &str) -> u64 {
        match action {
            "pv" => self.pv,
            "cart" => self.cart,
            "fav" => self.fav,
            "buy" => self.buy,
            _ => 0,
        }
    }

    /// All events.
    pub fn total(&self) -> u64 {
        EventType::ALL.iter().map(|t| self.count(*t)).sum()
    }

    /// Adds another run's (or chunk's) numbers.
    pub fn merge(&mut self, o: &GenStats) {
        self.pv += o.pv;
        self.cart += o.cart;
        self.fav += o.fav;
        self.buy += o.buy;
        self.order_create += o.order_create;
        self.order_pay += o.order_pay;
        self.order_cancel += o.order_cancel;
        self.payments += o.payments;
        self.login_success += o.login_success;
        self.login_fail += o.login_fail;
        self.ad_clicks += o.ad_clicks;
        self.page_views += o.page_views;
        self.min_ts_ms = match (self.min_ts_ms, o.min_ts_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ts_ms = match (self.max_ts_ms, o.max_ts_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.bytes += o.bytes;
    }

    /// Counts records.
    pub(crate) fn add_records(&mut self, recs: &[Rec]) {
        let mut k = [0u64; 12];
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for r in recs {
            k[r.kind as usize] += 1;
            lo = lo.min(r.ts);
            hi = hi.max(r.ts);
        }
        let mut add = GenStats {
            pv: k[Kind::Pv as usize],
            cart: k[Kind::Cart as usize],
            fav: k[Kind::Fav as usize],
            buy: k[Kind::Buy as usize],
            order_create: k[Kind::OrderCreate as usize],
            order_pay: k[Kind::OrderPay as usize],
            order_cancel: k[Kind::OrderCancel as usize],
            payments: k[Kind::Payment as usize],
            login_success: k[Kind::LoginOk as usize],
            login_fail: k[Kind::LoginFail as usize],
            ad_clicks: k[Kind::AdClick as usize],
            page_views: k[Kind::PageView as usize],
            ..GenStats::default()
        };
        if !recs.is_empty() {
            add.min_ts_ms = Some(lo);
            add.max_ts_ms = Some(hi);
        }
        self.merge(&add);
    }
}

/// Renders a chunk's records into bytes.
pub(crate) type Render = dyn Fn(&Model, &[Rec], &mut Vec<u8>) -> io::Result<()> + Sync;

/// Two decimal digits per entry, for formatting integers two at a time.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `v` at `out[pos..]`, returning the new position. `out` must
/// have room for 20 more bytes.
#[inline]
fn put_u64(out: &mut [u8], pos: usize, mut v: u64) -> usize {
    let end = pos + v.checked_ilog10().map_or(1, |l| l as usize + 1);
    let mut i = end;
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        out[i - 2] = DIGIT_PAIRS[d];
        out[i - 1] = DIGIT_PAIRS[d + 1];
        i -= 2;
    }
    if v >= 10 {
        let d = v as usize * 2;
        out[i - 2] = DIGIT_PAIRS[d];
        out[i - 1] = DIGIT_PAIRS[d + 1];
    } else {
        out[i - 1] = b'0' + v as u8;
    }
    end
}

#[inline(always)]
fn put_pair(out: &mut [u8], pos: usize, v: u32) {
    let d = v as usize * 2;
    out[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
}

/// Writes `v < 10000` without leading zeros.
#[inline(always)]
fn put_small(out: &mut [u8], pos: usize, v: u32) -> usize {
    if v < 100 {
        if v < 10 {
            out[pos] = b'0' + v as u8;
            pos + 1
        } else {
            put_pair(out, pos, v);
            pos + 2
        }
    } else if v < 1000 {
        out[pos] = b'0' + (v / 100) as u8;
        put_pair(out, pos + 1, v % 100);
        pos + 3
    } else {
        put_pair(out, pos, v / 100);
        put_pair(out, pos + 2, v % 100);
        pos + 4
    }
}

/// The eight decimal digits of `v < 10^8` as ASCII in a little-endian `u64` (most significant
/// digit in the lowest byte), computed in parallel lanes (SWAR): no divisions, no tables.
#[inline(always)]
fn eight_digits(v: u32) -> u64 {
    let hi = v / 10_000;
    let lo = v % 10_000;
    // Two 32-bit lanes of four digits each -> four 16-bit lanes of two digits each.
    let x = hi as u64 | (lo as u64) << 32;
    let q = ((x * 5243) >> 19) & 0x0000_007f_0000_007f; // lane / 100, exact below 43699
    let r = x - q * 100;
    let x = q | r << 16;
    // -> eight 8-bit lanes of one digit each.
    let q = ((x * 103) >> 10) & 0x000f_000f_000f_000f; // lane / 10, exact below 179
    let r = x - q * 10;
    q | r << 8
}

/// Writes the decimal digits of `v` at `out[pos..]` (room for 16 bytes needed); returns the
/// new position.
#[inline(always)]
fn put_u32(out: &mut [u8], pos: usize, v: u32) -> usize {
    if v < 100_000_000 {
        let d = eight_digits(v);
        // Leading zero digits are the low zero bytes; keep at least one digit.
        let zeros = ((d.trailing_zeros() / 8) as usize).min(7);
        let text = (d + 0x3030_3030_3030_3030) >> (8 * zeros);
        out[pos..pos + 8].copy_from_slice(&text.to_le_bytes());
        pos + 8 - zeros
    } else {
        let p = put_small(out, pos, v / 100_000_000);
        let text = eight_digits(v % 100_000_000) + 0x3030_3030_3030_3030;
        out[p..p + 8].copy_from_slice(&text.to_le_bytes());
        p + 8
    }
}

/// Writes an id: 32-bit fast path, 64-bit fallback.
#[inline(always)]
fn put_id(out: &mut [u8], pos: usize, v: i64) -> usize {
    match u32::try_from(v) {
        Ok(v) => put_u32(out, pos, v),
        Err(_) => put_u64(out, pos, v.max(0) as u64),
    }
}

/// Longest CSV line (three ids and a time of at most 20 digits, an action, 5 separators)
/// plus slack for 8-byte digit stores.
const MAX_CSV_LINE: usize = 4 * 20 + 4 + 5 + 8;

/// Renders behaviour records as Taobao CSV lines `user_id,item_id,category_id,behavior,ts`.
/// Lines are assembled in a 64 KiB stack block that is appended to `buf` when full, so the
/// hot loop does no allocation and no small copies.
pub(crate) fn render_csv(m: &Model, recs: &[Rec], buf: &mut Vec<u8>) -> io::Result<()> {
    buf.reserve(recs.len() * 40);
    let mut block = [0u8; 1 << 16];
    let mut pos = 0usize;
    let mut last_sec = i64::MIN;
    let mut ts_text = [0u8; 24];
    let mut ts_len = 0;
    for r in recs.iter().filter(|r| r.kind.is_behavior()) {
        if pos + MAX_CSV_LINE > block.len() {
            buf.extend_from_slice(&block[..pos]);
            pos = 0;
        }
        pos = put_id(&mut block, pos, m.users.id(r.user));
        block[pos] = b',';
        pos = put_id(&mut block, pos + 1, m.catalog.item_id(r.item));
        block[pos] = b',';
        pos = put_id(&mut block, pos + 1, m.catalog.category_id(r.cat));
        block[pos] = b',';
        pos += 1;
        match r.kind {
            Kind::Pv => {
                block[pos..pos + 3].copy_from_slice(b"pv,");
                pos += 3;
            }
            Kind::Buy => {
                block[pos..pos + 4].copy_from_slice(b"buy,");
                pos += 4;
            }
            Kind::Fav => {
                block[pos..pos + 4].copy_from_slice(b"fav,");
                pos += 4;
            }
            _ => {
                block[pos..pos + 5].copy_from_slice(b"cart,");
                pos += 5;
            }
        }
        let sec = r.ts.div_euclid(1000);
        if sec != last_sec {
            last_sec = sec;
            ts_len = put_u64(&mut ts_text, 0, sec.max(0) as u64);
            ts_text[ts_len] = b'\n';
            ts_len += 1;
        }
        if ts_len == 11 {
            block[pos..pos + 11].copy_from_slice(&ts_text[..11]);
        } else {
            block[pos..pos + ts_len].copy_from_slice(&ts_text[..ts_len]);
        }
        pos += ts_len;
    }
    buf.extend_from_slice(&block[..pos]);
    Ok(())
}

/// Renders records as NDJSON lines in the model's canonical JSON form.
pub(crate) fn render_ndjson(m: &Model, recs: &[Rec], buf: &mut Vec<u8>) -> io::Result<()> {
    for r in recs {
        serde_json::to_writer(&mut *buf, &to_event(m, r).to_json())?;
        buf.push(b'\n');
    }
    Ok(())
}

/// Builds one chunk and renders it into `buf`, counting what was rendered.
fn render_chunk(
    m: &Model,
    chunk: u32,
    all: bool,
    scratch: &mut Scratch,
    render: &Render,
    buf: &mut Vec<u8>,
    stats: &mut GenStats,
) -> io::Result<()> {
    let mut result = Ok(());
    build(m, chunk, all, scratch, &mut |recs| {
        if result.is_ok() {
            result = render(m, recs, buf);
            stats.add_records(recs);
        }
    });
    result
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds every chunk (behaviour only, or all types with `all`), renders and writes them in
/// order using `threads` workers (0 = all cores). Returns the statistics of what was written.
pub(crate) fn run<W: Write>(
    m: &Model,
    all: bool,
    threads: usize,
    w: &mut W,
    render: &Render,
) -> io::Result<GenStats> {
    let n = m.plan.n_chunks;
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |t| t.get()),
        t => t,
    }
    .clamp(1, n.max(1) as usize);
    let mut stats = GenStats::default();
    if threads == 1 {
        let mut scratch = Scratch::default();
        let mut buf = Vec::new();
        for c in 0..n {
            buf.clear();
            render_chunk(m, c, all, &mut scratch, render, &mut buf, &mut stats)?;
            w.write_all(&buf)?;
            stats.bytes += buf.len() as u64;
        }
        w.flush()?;
        return Ok(stats);
    }
    let window = 2 * threads as u32;
    let next = AtomicU32::new(0);
    let abort = AtomicBool::new(false);
    let written = Mutex::new(0u32);
    let advanced = Condvar::new();
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let (tx, rx) = mpsc::sync_channel::<(u32, io::Result<(Vec<u8>, GenStats)>)>(window as usize);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, abort, written, advanced, pool) =
                (&next, &abort, &written, &advanced, &pool);
            s.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let c = next.fetch_add(1, Ordering::SeqCst);
                    if c >= n || abort.load(Ordering::SeqCst) {
                        break;
                    }
                    {
                        let mut done = lock(written);
                        while c >= *done + window && !abort.load(Ordering::SeqCst) {
                            done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if abort.load(Ordering::SeqCst) {
                        break;
                    }
                    let mut buf = lock(pool).pop().unwrap_or_default();
                    buf.clear();
                    let mut st = GenStats::default();
                    let res = render_chunk(m, c, all, &mut scratch, render, &mut buf, &mut st)
                        .map(|_| (buf, st));
                    if tx.send((c, res)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut done = 0u32;
        let mut result: io::Result<()> = Ok(());
        for (c, res) in rx {
            pending.insert(c, res);
            while let Some(res) = pending.remove(&done) {
                if result.is_ok() {
                    result = res.and_then(|(buf, st)| {
                        w.write_all(&buf)?;
                        stats.merge(&st);
                        stats.bytes += buf.len() as u64;
                        lock(&pool).push(buf);
                        Ok(())
                    });
                }
                done += 1;
                *lock(&written) = done;
                advanced.notify_all();
            }
            if result.is_err() {
                abort.store(true, Ordering::SeqCst);
                advanced.notify_all();
            }
        }
        result?;
        if done != n {
            return Err(io::Error::other("a generator worker stopped early"));
        }
        w.flush()
    })?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_match_std_formatting() {
        let mut out = [0u8; 32];
        let mut check = |v: i64| {
            let n = put_id(&mut out, 0, v);
            assert_eq!(
                std::str::from_utf8(&out[..n]).ok(),
                Some(v.to_string().as_str())
            );
            let n = put_u64(&mut out, 0, v as u64);
            assert_eq!(
                std::str::from_utf8(&out[..n]).ok(),
                Some(v.to_string().as_str())
            );
        };
        for v in [
            0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 12_345, 99_999_999,
        ] {
            check(v);
        }
        for v in [
            100_000_000,
            4_294_967_295,
            4_294_967_296,
            1_511_539_200,
            i64::MAX,
        ] {
            check(v);
        }
        let mut x = 1u64;
        for _ in 0..10_000 {
            x = crate::rng::mix64(x);
            check((x >> (x % 60)) as i64 & i64::MAX);
        }
    }
}
