//! Sessions and the behaviour funnel.
//!
//! Each slot (see `rhythm.rs`) is generated from its own random stream: sessions are drawn one
//! after another until the slot's exact event budget is used (the last one is cut short). A
//! session has
//!
//! - a **user** drawn by activity, a **start** drawn by the minute-level rhythm;
//! - a **length**: a mix of two geometric laws (55% short, mean 3; 45% long, mean 16; at most
//!   300), mean ≈ 8.8 events;
//! - 1-3 **categories** (65% one, 25% two, 10% three), each one of the user's interests 80% of
//!   the time, otherwise drawn by global traffic; 20% of new page views switch category;
//! - **gaps** between events: log-normal, median 20 s, σ 1.1, within 1 s..10 min; the whole
//!   session is squeezed into 30 minutes (and into the run's range) when longer;
//! - a **channel** (app 72%, web 18%, ad 10%) and a login at the start (30% of sessions);
//! - the **funnel**: the first event is a page view; later events are page views (18% of them
//!   revisit an item seen in the session), or a cart/fav of a recently viewed item, or a buy
//!   of an item in the cart (55% when the cart is not empty) or of the last viewed one. The
//!   draw probabilities are calibrated from the length law so the overall mix equals
//!   Taobao's ([`TAOBAO_MIX`]) despite the forced page views and planted bundle buys.

use crate::patterns::BUNDLE_SHARE;
use crate::record::{Kind, Rec, session_key};
use crate::rhythm::SESSION_SPAN_SECS;
use crate::rng::{Alias, NormalTable, Rng, exp, hash2};
use crate::users::INTEREST_WEIGHTS;
use crate::world::Model;

/// Share of each behaviour in Taobao UserBehavior (pv, cart, fav, buy).
pub const TAOBAO_MIX: [(&str, f64); 4] = [
    ("pv", 0.8917),
    ("cart", 0.0550),
    ("fav", 0.0307),
    ("buy", 0.0226),
];

pub(crate) const LEN_MAX: u32 = 300;
const SHORT_SHARE: f64 = 0.55;
const SHORT_MEAN: f64 = 3.0;
const LONG_MEAN: f64 = 16.0;
const GAP_MEDIAN_SECS: f64 = 20.0;
const GAP_SIGMA: f64 = 1.1;
const GAP_MAX_SECS: f64 = 600.0;
const P_REVISIT: f64 = 0.18;
const P_SWITCH_CATEGORY: f64 = 0.2;
const P_INTEREST: f64 = 0.8;
const P_BUY_FROM_CART: f64 = 0.55;
const P_TARGET_LAST: f64 = 0.6;
const P_LOGIN: f64 = 0.3;
/// Channels of a session: app, web, ad (cumulative shares).
const CHANNEL_CUM: [f64; 2] = [0.72, 0.90];
pub(crate) const CHANNEL_WEB: u8 = 1;
pub(crate) const CHANNEL_AD: u8 = 2;
pub(crate) const CHANNELS: [&str; 3] = ["app", "web", "ad"];

/// The session laws of a run, with the calibrated action probabilities.
pub(crate) struct SessionModel {
    /// Session lengths 1..=LEN_MAX (outcome `i` is length `i + 1`).
    lengths: Alias,
    /// Cumulative thresholds (of 2^32) of cart, fav, buy for a free position.
    thresholds: [u32; 3],
    gaps: Vec<u16>,
}

/// What is drawn about a session before its events.
pub(crate) struct Header {
    pub(crate) key: u64,
    pub(crate) user: u32,
    pub(crate) len: u32,
    /// Start, seconds after the run's start.
    pub(crate) start: u64,
    pub(crate) channel: u8,
    pub(crate) login: bool,
    /// Seconds between the start (login / ad click) and the first behaviour event.
    pub(crate) lead: u32,
}

fn to_threshold(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * 4_294_967_295.0) as u32
}

impl SessionModel {
    /// Builds the laws; `pattern_sizes` are the sizes of the planted patterns.
    pub(crate) fn new(pattern_sizes: &[usize], normal: &NormalTable) -> SessionModel {
        let (mut short, mut long) = (1.0 / SHORT_MEAN, 1.0 / LONG_MEAN);
        let pmf: Vec<f64> = (1..=LEN_MAX)
            .map(|_| {
                let p = SHORT_SHARE * short + (1.0 - SHORT_SHARE) * long;
                short *= 1.0 - 1.0 / SHORT_MEAN;
                long *= 1.0 - 1.0 / LONG_MEAN;
                p
            })
            .collect();
        let total: f64 = pmf.iter().sum();
        let mut acc = 0.0;
        let len_cdf: Vec<f64> = pmf
            .iter()
            .map(|p| {
                acc += p / total;
                acc
            })
            .collect();
        let mean: f64 = pmf
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1) as f64 * p / total)
            .sum();
        let at_least = |l: usize| -> f64 {
            if l <= 1 {
                1.0
            } else {
                1.0 - len_cdf[(l - 2).min(len_cdf.len() - 1)]
            }
        };
        // Expected forced page views and forced buys per session.
        let np = pattern_sizes.len().max(1) as f64;
        let bundle_buys: f64 = pattern_sizes
            .iter()
            .map(|k| BUNDLE_SHARE / np * *k as f64 * at_least(2 * k + 1))
            .sum();
        let forced_pv = 1.0 + bundle_buys;
        let free = mean - forced_pv - bundle_buys;
        let share = |name: &str| {
            TAOBAO_MIX
                .iter()
                .find(|m| m.0 == name)
                .map(|m| m.1)
                .unwrap_or(0.0)
        };
        let p_cart = share("cart") * mean / free;
        let p_fav = share("fav") * mean / free;
        let p_buy = ((share("buy") * mean - bundle_buys) / free).max(0.0);
        let thresholds = [
            to_threshold(p_cart),
            to_threshold(p_cart + p_fav),
            to_threshold(p_cart + p_fav + p_buy),
        ];
        let gaps = (0..4096u64)
            .map(|i| {
                let z = normal.sample(i << 52);
                (GAP_MEDIAN_SECS * exp(GAP_SIGMA * z)).clamp(1.0, GAP_MAX_SECS) as u16
            })
            .collect();
        SessionModel {
            lengths: Alias::new(&pmf),
            thresholds,
            gaps,
        }
    }

    #[inline]
    fn length(&self, bits: u64) -> u32 {
        self.lengths.sample(bits) + 1
    }
}

/// A small ring of the latest (item, category) pairs.
struct Ring {
    buf: [(u32, u32); 8],
    n: usize,
}

impl Ring {
    fn push(&mut self, v: (u32, u32)) {
        self.buf[self.n % 8] = v;
        self.n += 1;
    }
    fn last(&self) -> (u32, u32) {
        self.buf[(self.n + 7) % 8]
    }
    /// The item a cart or fav acts on: the last viewed when `choice` (10 random bits) says so
    /// (60%), else the recent one `index` (10 random bits) picks.
    #[inline]
    fn target(&self, choice: u64, index: u64) -> (u32, u32) {
        if choice < TARGET_LAST_10 {
            self.last()
        } else {
            self.buf[((index * self.n.min(8) as u64) >> 10) as usize]
        }
    }
}

/// Items in the cart (at most 8; a full cart replaces its newest entry).
struct Cart {
    buf: [(u32, u32); 8],
    len: usize,
}

impl Cart {
    fn push(&mut self, v: (u32, u32)) {
        if self.len < 8 {
            self.len += 1;
        }
        self.buf[self.len - 1] = v;
    }
    /// Removes the entry that `index` (10 random bits) picks.
    fn take(&mut self, index: u64) -> (u32, u32) {
        let j = ((index * self.len as u64) >> 10) as usize;
        let v = self.buf[j];
        self.buf[j] = self.buf[self.len - 1];
        self.len -= 1;
        v
    }
}

/// Adds the other types' records of a session, given its header and behaviour records.
pub(crate) type Extra<'a> = &'a mut dyn FnMut(&Header, &[Rec], &mut Vec<Rec>);

/// Generates the sessions of a slot, passing each session's records to `sink`: first its
/// behaviour records, then (with `extra`, called with the header and behaviour records) the
/// records of the other types. `sess` is scratch space.
pub(crate) fn gen_slot(
    m: &Model,
    slot: u32,
    mut extra: Option<Extra<'_>>,
    sess: &mut Vec<Rec>,
    sink: &mut impl FnMut(&Rec),
) {
    let plan = &m.plan;
    let mut left = plan.slot_budget(slot);
    let (m0, m1) = plan.slot_minute_range(slot);
    let mut rng = Rng::new(hash2(m.cfg.seed ^ 0x5107, slot as u64));
    let mut index = 0u32;
    let mut users = UserBatch {
        buf: [0; USER_BATCH],
        pos: USER_BATCH,
    };
    let mut tmp = Vec::new();
    while left > 0 {
        sess.clear();
        let ctx = SlotCtx {
            slot,
            index,
            left,
            m0,
            m1,
        };
        let hdr = session(m, &mut rng, &ctx, &mut users, sess);
        left -= hdr.len as u64;
        index += 1;
        if let Some(f) = extra.as_deref_mut() {
            tmp.clear();
            f(&hdr, sess, &mut tmp);
            sess.extend_from_slice(&tmp);
        }
        for r in sess.iter() {
            sink(r);
        }
    }
}

/// Where a session is drawn: its slot, index in the slot, the slot's remaining budget and
/// minutes.
struct SlotCtx {
    slot: u32,
    index: u32,
    left: u64,
    m0: u32,
    m1: u32,
}

const USER_BATCH: usize = 16;

/// Users of the next sessions, drawn in batches: the lookups in the (large) user table are
/// independent, so their cache misses overlap instead of stalling one session at a time.
struct UserBatch {
    buf: [u32; USER_BATCH],
    pos: usize,
}

impl UserBatch {
    #[inline]
    fn next(&mut self, m: &Model, rng: &mut Rng) -> u32 {
        if self.pos == USER_BATCH {
            let mut bits = [0u64; USER_BATCH];
            for b in &mut bits {
                *b = rng.u64();
            }
            for (u, b) in self.buf.iter_mut().zip(bits) {
                *u = m.users.sample(b);
            }
            self.pos = 0;
        }
        self.pos += 1;
        self.buf[self.pos - 1]
    }
}

/// Draws one session of at most `ctx.left` events and pushes its behaviour records.
fn session(
    m: &Model,
    rng: &mut Rng,
    ctx: &SlotCtx,
    users: &mut UserBatch,
    out: &mut Vec<Rec>,
) -> Header {
    let sm = &m.sessions;
    let catalog = &m.catalog;
    let user = users.next(m, rng);
    let len = (sm.length(rng.u64()) as u64).min(ctx.left) as u32;
    let minute = m.plan.sample_minute(rng.unit(), ctx.m0, ctx.m1);
    let start = minute as u64 * 60 + rng.below(60);
    let u = rng.unit();
    let channel = if u < CHANNEL_CUM[0] {
        0
    } else if u < CHANNEL_CUM[1] {
        CHANNEL_WEB
    } else {
        CHANNEL_AD
    };
    let login = rng.chance(P_LOGIN);
    let lead_draw = 2 + rng.below(15) as u32;
    let lead = if login || channel == CHANNEL_AD {
        lead_draw
    } else {
        0
    };
    let bundle_draw = rng.chance(BUNDLE_SHARE);
    let pick = rng.below(m.patterns.sets.len() as u64) as usize;
    let bundle = m
        .patterns
        .sets
        .get(pick)
        .filter(|p| bundle_draw && len as usize > 2 * p.len());
    // Session categories.
    let u = rng.unit();
    let n_cats = 1 + (u < 0.35) as usize + (u < 0.10) as usize;
    let mut cats = [0u32; 3];
    for c in cats.iter_mut().take(n_cats) {
        *c = if rng.chance(P_INTEREST) {
            let v = rng.unit();
            let j = if v < INTEREST_WEIGHTS[0] {
                0
            } else if v < INTEREST_WEIGHTS[0] + INTEREST_WEIGHTS[1] {
                1
            } else {
                2
            };
            m.users.interest(user, j, catalog)
        } else {
            catalog.sample_category(rng.u64())
        };
    }
    let key = session_key(ctx.slot, ctx.index);
    let mut viewed = Ring {
        buf: [(0, 0); 8],
        n: 0,
    };
    let mut cart = Cart {
        buf: [(0, 0); 8],
        len: 0,
    };
    let mut cur = 0usize;
    let mut offset = 0u64;
    let p0 = out.len();
    let k = bundle.map_or(0, |b| b.len());
    for i in 0..len {
        let checkout = bundle.is_some() && i >= len - k as u32;
        // One draw decides a free position: the gap (top 12 bits), the action (low 32 bits)
        // and which remembered item a cart/fav/buy acts on (bits 32-51).
        let a = if i == 0 || checkout { 0 } else { rng.u64() };
        offset += if i == 0 {
            lead as u64
        } else if checkout {
            rng.below(3)
        } else {
            sm.gaps[(a >> 52) as usize] as u64
        };
        let (kind, (item, cat)) = match bundle {
            Some(b) if i >= 1 && (i as usize) <= k => (Kind::Pv, b[i as usize - 1]),
            Some(b) if checkout => (Kind::Buy, b[(i - (len - k as u32)) as usize]),
            _ if i == 0 => (Kind::Pv, page_view(m, rng, &cats[..n_cats], &mut cur, None)),
            _ => {
                let d = a as u32;
                let (choice, index) = ((a >> 32) & 0x3ff, (a >> 42) & 0x3ff);
                if d < sm.thresholds[0] {
                    let t = viewed.target(choice, index);
                    cart.push(t);
                    (Kind::Cart, t)
                } else if d < sm.thresholds[1] {
                    (Kind::Fav, viewed.target(choice, index))
                } else if d < sm.thresholds[2] {
                    let t = if cart.len > 0 && choice < BUY_FROM_CART_10 {
                        cart.take(index)
                    } else {
                        viewed.last()
                    };
                    (Kind::Buy, t)
                } else {
                    let pv = page_view(m, rng, &cats[..n_cats], &mut cur, Some(&viewed));
                    (Kind::Pv, pv)
                }
            }
        };
        if kind == Kind::Pv {
            viewed.push((item, cat));
        }
        out.push(Rec {
            ts: offset as i64,
            aux: key,
            user,
            item,
            cat,
            y: i as u16,
            kind,
            x: channel,
        });
    }
    // Squeeze into the span limit and the run's range, then make times absolute.
    let limit = SESSION_SPAN_SECS.min(m.plan.total_secs - 1 - start);
    let last = offset;
    let base = m.plan.start_ms + start as i64 * 1000;
    for r in &mut out[p0..] {
        let mut o = r.ts as u64;
        if last > limit {
            o = o * limit / last;
        }
        r.ts = base + o as i64 * 1000;
    }
    Header {
        key,
        user,
        len,
        start,
        channel,
        login,
        lead,
    }
}

/// Probabilities as thresholds on 16 or 10 random bits.
const REVISIT_16: u64 = (P_REVISIT * 65536.0) as u64;
const SWITCH_16: u64 = (P_SWITCH_CATEGORY * 65536.0) as u64;
const BUY_FROM_CART_10: u64 = (P_BUY_FROM_CART * 1024.0) as u64;
const TARGET_LAST_10: u64 = (P_TARGET_LAST * 1024.0) as u64;

/// The item of a page view: with `viewed`, a revisit of a recently viewed item 18% of the time;
/// otherwise a new item, drawn by popularity from the current category (switching to another
/// of the session's categories 20% of the time). Two draws: one for the decisions, one for
/// the item.
#[inline(always)]
fn page_view(
    m: &Model,
    rng: &mut Rng,
    cats: &[u32],
    cur: &mut usize,
    viewed: Option<&Ring>,
) -> (u32, u32) {
    let b = rng.u64();
    if let Some(v) = viewed.filter(|v| v.n > 0 && b & 0xffff < REVISIT_16) {
        let k = v.n.min(8) as u64;
        return v.buf[((((b >> 16) & 0xffff) * k) >> 16) as usize];
    }
    if cats.len() > 1 && (b >> 16) & 0xffff < SWITCH_16 {
        *cur = ((((b >> 32) & 0xffff) * cats.len() as u64) >> 16) as usize;
    }
    let cat = cats[*cur];
    (m.catalog.sample_item(cat, rng.u64()), cat)
}
