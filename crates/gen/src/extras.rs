//! Logins, ad clicks and page views around sessions, plus the planted abuse: brute-force login
//! bursts and ad-click fraud.
//!
//! Per session (its own random stream, so behaviour output never depends on these):
//! - **login** (30% of sessions) at the session's start, preceded by 1-2 typo failures 4% of
//!   the time; from the user's usual address, or a random mobile one 10% of the time;
//! - **ad click** for sessions of the `ad` channel (10%): one click at the start, on an ad
//!   drawn by Zipf popularity, from the user's home province and city;
//! - **page views** for sessions of the `web` channel (18%): `GET /` at the start, one request
//!   per behaviour event (`GET /item.htm?id=…`, `POST /cart/add…`, `POST /fav/add…`,
//!   `POST /order/confirm…`), static assets after 35% of item pages (304 when cached, 55%),
//!   a category page after 8%, 1% of item pages are 404 (item gone); in 3% of web sessions a
//!   scanner probes 3-10 well-known paths (mostly 404) without a user;
//! - **orders/payments** for each buy (see `orders.rs`).
//!
//! Across the run: `clamp(users / 20000, 1, 500)` accounts suffer 1-3 **brute-force bursts**
//! each (8-40 consecutive failures about 2 s apart from one address, 30% ending in a
//! success), and `clamp(users / 50000, 1, 200)` **fraudsters** click one ad 101-300 times
//! within 1-4 hours of one day, once or twice.

use crate::behavior::{CHANNEL_AD, CHANNEL_WEB, Header};
use crate::orders::orders_for_buy;
use crate::record::{Kind, NO_USER, Rec};
use crate::rng::{Rng, below_of, hash2, hash3};
use crate::users::ip_from_bits;
use crate::world::Model;

const P_TYPO: f64 = 0.04;
const P_MOBILE_IP: f64 = 0.1;
const P_ASSET: f64 = 0.35;
const P_CACHED: f64 = 0.55;
const P_CATEGORY_PAGE: f64 = 0.08;
const P_GONE: f64 = 0.01;
const P_SCANNER: f64 = 0.03;

/// Page-view url kinds (`Rec::x`).
pub(crate) mod url {
    pub(crate) const HOME: u8 = 0;
    pub(crate) const ITEM: u8 = 1;
    pub(crate) const CATEGORY: u8 = 2;
    pub(crate) const ASSET: u8 = 3;
    pub(crate) const CART: u8 = 4;
    pub(crate) const FAV: u8 = 5;
    pub(crate) const ORDER: u8 = 6;
    pub(crate) const PROBE: u8 = 7;
}

/// Static assets; asset indices past these are item images.
pub(crate) const STATIC_ASSETS: [&str; 6] = [
    "/static/js/app.3f9a1c.js",
    "/static/js/vendor.8b2e4d.js",
    "/static/css/main.5c1d7e.css",
    "/static/img/logo.png",
    "/favicon.ico",
    "/static/fonts/iconfont.woff2",
];

/// Paths scanners try; all but `/robots.txt` are 404.
pub(crate) const PROBES: [&str; 7] = [
    "/wp-login.php",
    "/.env",
    "/admin/login",
    "/phpmyadmin/index.php",
    "/.git/config",
    "/item.htm?id=0",
    "/robots.txt",
];

/// The extra records of one session (its behaviour records are `beh`).
pub(crate) fn session_extras(m: &Model, h: &Header, beh: &[Rec], out: &mut Vec<Rec>) {
    let mut rng = Rng::new(hash2(m.cfg.seed ^ 0xe87a, h.key));
    let end = m.cfg.end_ms() - 1;
    let t0 = m.plan.start_ms + h.start as i64 * 1000;
    let lead_ms = (h.lead as i64 * 1000).max(1);
    let mobile = rng.chance(P_MOBILE_IP);
    let ip = if mobile {
        ip_from_bits(rng.u64())
    } else {
        m.users.ip(h.user)
    };
    let ident = |n: u64| (ip as u64) | (hash2(h.key, n) << 32);
    if h.login {
        let fails = if rng.chance(P_TYPO) {
            1 + rng.below(2) as i64
        } else {
            0
        };
        for a in 0..=fails {
            let ts = t0 + a * lead_ms / (fails + 1) + rng.below(900) as i64;
            out.push(Rec {
                ts: ts.min(end),
                aux: ident(a as u64),
                user: h.user,
                item: 0,
                cat: 0,
                y: a as u16,
                kind: if a < fails {
                    Kind::LoginFail
                } else {
                    Kind::LoginOk
                },
                x: 0,
            });
        }
    }
    if h.channel == CHANNEL_AD {
        let (prov, city) = m.users.region(h.user);
        out.push(Rec {
            ts: (t0 + rng.below(lead_ms as u64) as i64).min(end),
            aux: hash2(h.key, 0xad),
            user: h.user,
            item: m.ads.sample(rng.u64()),
            cat: 0,
            y: city as u16,
            kind: Kind::AdClick,
            x: prov,
        });
    }
    if h.channel == CHANNEL_WEB {
        page_views(m, h, beh, ip, &mut rng, out);
    }
    for b in beh.iter().filter(|b| b.kind == Kind::Buy) {
        orders_for_buy(m, b, &mut rng, out);
    }
}

fn page_views(m: &Model, h: &Header, beh: &[Rec], ip: u32, rng: &mut Rng, out: &mut Vec<Rec>) {
    let end = m.cfg.end_ms() - 1;
    let mut n = 0u64;
    let mut push = |ts: i64, user: u32, ip: u32, kind: u8, item: u32, cat: u32, status: u16| {
        n += 1;
        out.push(Rec {
            ts: ts.min(end),
            aux: (ip as u64) | (hash3(h.key, n, 0x7a6e) << 32),
            user,
            item,
            cat,
            y: status,
            kind: Kind::PageView,
            x: kind,
        });
    };
    let u = h.user;
    for b in beh {
        let at = b.ts + 100 + rng.below(800) as i64;
        if b.y == 0 {
            push(b.ts, u, ip, url::HOME, 0, 0, 200);
        }
        match b.kind {
            Kind::Pv => {
                let status = if rng.chance(P_GONE) { 404 } else { 200 };
                push(at, u, ip, url::ITEM, b.item, b.cat, status);
                if rng.chance(P_ASSET) {
                    let k = rng.below(STATIC_ASSETS.len() as u64 + 2) as u32;
                    let asset = if k as usize >= STATIC_ASSETS.len() {
                        STATIC_ASSETS.len() as u32 + b.item
                    } else {
                        k
                    };
                    let status = if rng.chance(P_CACHED) { 304 } else { 200 };
                    let ts = at + 50 + rng.below(600) as i64;
                    push(ts, u, ip, url::ASSET, asset, b.cat, status);
                }
                if rng.chance(P_CATEGORY_PAGE) {
                    let ts = at + 1000 + rng.below(1900) as i64;
                    push(ts, u, ip, url::CATEGORY, b.item, b.cat, 200);
                }
            }
            Kind::Cart => push(at, u, ip, url::CART, b.item, b.cat, 200),
            Kind::Fav => push(at, u, ip, url::FAV, b.item, b.cat, 200),
            Kind::Buy => push(at, u, ip, url::ORDER, b.item, b.cat, 200),
            _ => {}
        }
    }
    if rng.chance(P_SCANNER) {
        let bot_ip = ip_from_bits(rng.u64());
        let probes = 3 + rng.below(8);
        let mut ts = m.plan.start_ms + h.start as i64 * 1000;
        for _ in 0..probes {
            ts += 300 + rng.below(2700) as i64;
            let p = rng.below(PROBES.len() as u64) as u32;
            let status = if PROBES[p as usize] == "/robots.txt" {
                200
            } else {
                404
            };
            push(ts, NO_USER, bot_ip, url::PROBE, p, 0, status);
        }
    }
}

struct Burst {
    user: u32,
    ip: u32,
    start_ms: i64,
    attempts: u16,
    success: bool,
    key: u64,
}

struct Fraud {
    user: u32,
    ad: u32,
    start_ms: i64,
    span_ms: u64,
    clicks: u32,
    key: u64,
}

/// Run-wide abuse: brute-force bursts and click fraud.
pub(crate) struct Campaigns {
    bursts: Vec<Burst>,
    frauds: Vec<Fraud>,
}

impl Campaigns {
    pub(crate) fn new(seed: u64, users: u32, n_ads: u32, start_ms: i64, days: u32) -> Campaigns {
        let total_ms = days as u64 * 86_400_000;
        let mut bursts = Vec::new();
        for t in 0..(users / 20_000).clamp(1, 500) as u64 {
            let h = hash3(seed, 0xb7f, t);
            let user = below_of(h, users as u64) as u32;
            for b in 0..1 + below_of(h.rotate_left(13), 3) {
                let g = hash3(seed, h, b);
                bursts.push(Burst {
                    user,
                    ip: ip_from_bits(g.rotate_left(7)),
                    start_ms: start_ms + below_of(g, total_ms.saturating_sub(200_000)) as i64,
                    attempts: 8 + below_of(g.rotate_left(31), 33) as u16,
                    success: below_of(g.rotate_left(47), 10) < 3,
                    key: g,
                });
            }
        }
        let mut frauds = Vec::new();
        for f in 0..(users / 50_000).clamp(1, 200) as u64 {
            let h = hash3(seed, 0xf4a0d, f);
            let user = below_of(h, users as u64) as u32;
            let ad = below_of(h.rotate_left(11), n_ads as u64) as u32;
            for c in 0..1 + below_of(h.rotate_left(37), 2) {
                let g = hash3(seed, h, c);
                let day = below_of(g, days as u64) as i64;
                let span_ms = 3_600_000 + below_of(g.rotate_left(9), 3 * 3_600_000);
                let offset = below_of(g.rotate_left(19), 86_400_000 - span_ms) as i64;
                frauds.push(Fraud {
                    user,
                    ad,
                    start_ms: start_ms + day * 86_400_000 + offset,
                    span_ms,
                    clicks: 101 + below_of(g.rotate_left(29), 200) as u32,
                    key: g,
                });
            }
        }
        Campaigns { bursts, frauds }
    }

    /// Pushes the campaign records with `lo_ms <= ts < hi_ms`.
    pub(crate) fn push_events(&self, m: &Model, lo_ms: i64, hi_ms: i64, out: &mut Vec<Rec>) {
        let keep = |ts: i64| ts >= lo_ms && ts < hi_ms;
        for b in &self.bursts {
            let n = b.attempts as i64 + b.success as i64;
            if b.start_ms >= hi_ms || b.start_ms + n * 2000 + 2000 < lo_ms {
                continue;
            }
            for a in 0..n {
                let ts = b.start_ms + a * 2000 + below_of(hash2(b.key, a as u64), 1500) as i64;
                if keep(ts) {
                    out.push(Rec {
                        ts,
                        aux: (b.ip as u64) | (hash2(b.key, a as u64) << 32),
                        user: b.user,
                        item: 0,
                        cat: 0,
                        y: a as u16,
                        kind: if a < b.attempts as i64 {
                            Kind::LoginFail
                        } else {
                            Kind::LoginOk
                        },
                        x: 0,
                    });
                }
            }
        }
        for f in &self.frauds {
            if f.start_ms >= hi_ms || f.start_ms + (f.span_ms as i64) < lo_ms {
                continue;
            }
            let (prov, city) = m.users.region(f.user);
            for j in 0..f.clicks as u64 {
                let g = hash2(f.key, j);
                let ts = f.start_ms + below_of(g, f.span_ms) as i64;
                if keep(ts) {
                    out.push(Rec {
                        ts,
                        aux: g,
                        user: f.user,
                        item: f.ad,
                        cat: 0,
                        y: city as u16,
                        kind: Kind::AdClick,
                        x: prov,
                    });
                }
            }
        }
    }
}
