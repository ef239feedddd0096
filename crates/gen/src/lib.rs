//! # storepulse-gen
//!
//! A deterministic, realistic e-commerce event generator, fitted to the statistics of the
//! Taobao UserBehavior data set (pv 89.17%, cart 5.50%, fav 3.07%, buy 2.26%; 9 days from
//! 2017-11-25, UTC+8). StorePulse uses it for scale tests, benchmarks and demos: it writes
//! Taobao-format CSV at more than ten million events a second, NDJSON of every event type, or
//! hands time-ordered chunks of [`Event`]s to a caller (e.g. the lake writer).
//!
//! Main types and functions:
//! - [`GenConfig`] — what to generate (`events` behaviour events over `days` from `start_ms`,
//!   `seed`, shop, time zone, out-of-orderness); [`GenConfig::parse_count`] reads `100M`.
//! - [`Generator`] — a validated run: [`Generator::chunks`] (time-ordered `Vec<Event>`s),
//!   [`Generator::for_each_event`], [`Generator::for_each_taobao_batch`] (allocation-free
//!   behaviour rows), [`Generator::write_taobao_csv`], [`Generator::write_ndjson`],
//!   [`Generator::planted_patterns`].
//! - Shortcuts [`write_taobao_csv`], [`write_taobao_csv_file`] (parallel), [`write_ndjson`],
//!   [`write_ndjson_file`] (parallel), [`for_each_event`], [`planted_patterns`].
//! - [`GenStats`] — counts per type and action, time range, bytes.
//!
//! The same config and seed always give the same output, byte for byte, whatever the number
//! of threads (or [`GenConfig::chunk_events`]): the run is cut into time chunks fixed by the
//! config, each a pure function of the config and its index (see `chunk.rs`), and the chunks'
//! outputs are concatenated in order. Within each stream events are in non-decreasing time
//! order, unless [`GenConfig::out_of_order_ms`] moves times back by up to that much. Event
//! times of behaviour are whole seconds, like Taobao's; the other types carry milliseconds.
//!
//! ## What is generated
//! - **Behaviour** (`events` of them, exactly): sessions of users with skewed activity, a
//!   daily rhythm in local time, Zipf-like item popularity inside skewed categories, and a
//!   pv → cart/fav → buy funnel calibrated to the real mix (`behavior.rs`, `popularity.rs`,
//!   `users.rs`, `rhythm.rs`).
//! - **Orders and payments**: each buy creates an order; 93% are paid within 15 minutes with a
//!   matching payment receipt (same `tx_id`), the rest time out, 60% of those with a cancel.
//! - **Logins** (30% of sessions start with one; 4% with typo failures), **brute-force bursts**
//!   against a few accounts, **ad clicks** (sessions from the ad channel) with province and
//!   city, **click fraud** (a few users clicking one ad 101-300 times in a day), **page
//!   views** (web sessions, access-log style, plus scanners probing for 404s).
//! - **Planted co-purchases**: pairs and triples bought together in the same session far
//!   more often than chance ([`Generator::planted_patterns`]).
//!
//! Per 100 behaviour events the other types add about (measured at 1M events): 2.3 order
//! creates, 2.1 pays, 0.1 cancels, 2.1 payments, 3.7 logins (0.2 of them failures), 1.2 ad
//! clicks and 27 page views, so an NDJSON run of `events` has about 1.4 × `events` lines.
//!
//! ## Example
//! ```
//! use storepulse_gen::{GenConfig, Generator};
//! let cfg = GenConfig::new(20_000).with_days(2).with_seed(7);
//! let generator = Generator::new(&cfg).unwrap();
//! let mut csv = Vec::new();
//! let stats = generator.write_taobao_csv(&mut csv, 1).unwrap();
//! assert_eq!(stats.pv + stats.cart + stats.fav + stats.buy, 20_000);
//! let first = String::from_utf8(csv).unwrap().lines().next().unwrap().to_string();
//! assert_eq!(first.split(',').count(), 5); // user_id,item_id,category_id,behavior,ts
//! let mut buys = 0;
//! generator.for_each_event(|e| {
//!     // `model` is the storepulse-model crate.
//!     e.validate(&model::Rules::default()).unwrap();
//!     buys += (e.event_type() == model::EventType::Order) as u32;
//! });
//! assert!(buys > 0);
//! ```
#![deny(missing_docs)]

mod behavior;
mod chunk;
mod config;
mod events;
mod extras;
mod orders;
mod output;
mod patterns;
mod popularity;
mod record;
mod rhythm;
mod rng;
mod users;
mod world;

pub use behavior::TAOBAO_MIX;
pub use config::{
    ConfigError, GenConfig, MAX_DAYS, MAX_EVENTS, MAX_OUT_OF_ORDER_MS, Scale, TAOBAO_DAYS,
    TAOBAO_START_MS, TAOBAO_TZ_OFFSET_SECS,
};
pub use orders::{P_PAY, PAY_CHANNELS, PAY_TIMEOUT_MS};
pub use output::GenStats;
pub use patterns::BUNDLE_SHARE;
pub use rhythm::{HOUR_WEIGHTS, minute_weight};

use ::model::Event;
use chunk::{Scratch, build};
use std::io::{self, Write};
use std::path::Path;
use world::Model;

/// One behaviour event in Taobao's shape, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaobaoRow {
    /// User id.
    pub user_id: i64,
    /// Item id.
    pub item_id: i64,
    /// Category id.
    pub category_id: i64,
    /// `pv`, `cart`, `fav` or `buy`.
    pub action: &'static str,
    /// Event time, UTC ms (whole seconds unless out-of-orderness is configured).
    pub ts_ms: i64,
}

/// A validated run, ready to generate. Cheap to query, built once (tables for users,
/// categories, ads and the time plan).
pub struct Generator {
    model: Model,
}

impl Generator {
    /// Validates the config and builds the run's tables.
    pub fn new(cfg: &GenConfig) -> Result<Generator, ConfigError> {
        Ok(Generator {
            model: Model::new(cfg)?,
        })
    }

    /// The config.
    pub fn config(&self) -> &GenConfig {
        &self.model.cfg
    }

    /// The number of users, items and categories.
    pub fn scale(&self) -> Scale {
        self.model.cfg.scale()
    }

    /// Number of time chunks the run is cut into.
    pub fn num_chunks(&self) -> usize {
        self.model.plan.n_chunks as usize
    }

    /// Time range `[from, to)` of a chunk, UTC ms (`None` past the last chunk).
    pub fn chunk_range_ms(&self, index: usize) -> Option<(i64, i64)> {
        (index < self.num_chunks()).then(|| {
            let (a, b) = self.model.plan.chunk_secs(index as u32);
            let s = self.model.plan.start_ms;
            (s + a as i64 * 1000, s + b as i64 * 1000)
        })
    }

    /// Every event (all types) of one chunk, in time order; empty past the last chunk.
    pub fn chunk(&self, index: usize) -> Vec<Event> {
        let mut scratch = Scratch::default();
        self.chunk_with(index, &mut scratch)
    }

    fn chunk_with(&self, index: usize, scratch: &mut Scratch) -> Vec<Event> {
        if index >= self.num_chunks() {
            return Vec::new();
        }
        let mut out = Vec::new();
        build(&self.model, index as u32, true, scratch, &mut |recs| {
            out.extend(recs.iter().map(|r| events::to_event(&self.model, r)));
        });
        out
    }

    /// The chunks in order: together, every event of the run.
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            generator: self,
            next: 0,
            scratch: Scratch::default(),
        }
    }

    /// Calls `f` with every event of the run (all types), in time order.
    pub fn for_each_event(&self, mut f: impl FnMut(&Event)) -> GenStats {
        let mut stats = GenStats::default();
        let mut scratch = Scratch::default();
        for c in 0..self.model.plan.n_chunks {
            build(&self.model, c, true, &mut scratch, &mut |recs| {
                stats.add_records(recs);
                for r in recs {
                    f(&events::to_event(&self.model, r));
                }
            });
        }
        stats
    }

    /// Calls `f` with the behaviour events as Taobao rows, in time order, in batches (about a
    /// minute of events each). This is the fast path for loading tens of millions of
    /// behaviour events.
    pub fn for_each_taobao_batch(&self, mut f: impl FnMut(&[TaobaoRow])) -> GenStats {
        let m = &self.model;
        let mut stats = GenStats::default();
        let mut scratch = Scratch::default();
        let mut rows = Vec::new();
        for c in 0..m.plan.n_chunks {
            build(m, c, false, &mut scratch, &mut |recs| {
                stats.add_records(recs);
                rows.clear();
                rows.extend(recs.iter().map(|r| TaobaoRow {
                    user_id: m.users.id(r.user),
                    item_id: m.catalog.item_id(r.item),
                    category_id: m.catalog.category_id(r.cat),
                    action: r.kind.action(),
                    ts_ms: r.ts,
                }));
                f(&rows);
            });
        }
        stats
    }

    /// Writes the behaviour events as Taobao CSV (`user_id,item_id,category_id,behavior,ts`,
    /// ts in unix seconds, no header) using `threads` workers (0 = all cores; the output is
    /// the same for any number).
    pub fn write_taobao_csv<W: Write>(&self, mut w: W, threads: usize) -> io::Result<GenStats> {
        output::run(&self.model, false, threads, &mut w, &output::render_csv)
    }

    /// Writes every event as NDJSON in the model's canonical form ([`Event::to_json`]) using
    /// `threads` workers (0 = all cores; the output is the same for any number).
    pub fn write_ndjson<W: Write>(&self, mut w: W, threads: usize) -> io::Result<GenStats> {
        output::run(&self.model, true, threads, &mut w, &output::render_ndjson)
    }

    /// The planted co-purchase sets (pairs and triples of item ids), see `patterns.rs`.
    pub fn planted_patterns(&self) -> Vec<Vec<i64>> {
        self.model
            .patterns
            .sets
            .iter()
            .map(|s| {
                s.iter()
                    .map(|(i, _)| self.model.catalog.item_id(*i))
                    .collect()
            })
            .collect()
    }
}

/// Iterator over a run's chunks of events (see [`Generator::chunks`]).
pub struct Chunks<'a> {
    generator: &'a Generator,
    next: usize,
    scratch: Scratch,
}

impl Iterator for Chunks<'_> {
    type Item = Vec<Event>;

    fn next(&mut self) -> Option<Vec<Event>> {
        if self.next >= self.generator.num_chunks() {
            return None;
        }
        let c = self.generator.chunk_with(self.next, &mut self.scratch);
        self.next += 1;
        Some(c)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.generator.num_chunks().saturating_sub(self.next);
        (left, Some(left))
    }
}

/// Writes the behaviour events of `cfg` as Taobao CSV on the calling thread.
pub fn write_taobao_csv<W: Write>(cfg: &GenConfig, w: W) -> io::Result<GenStats> {
    Generator::new(cfg)?.write_taobao_csv(w, 1)
}

/// Writes the behaviour events of `cfg` as Taobao CSV to a file (created or truncated) with
/// `threads` workers (0 = all cores). Same bytes as [`write_taobao_csv`].
pub fn write_taobao_csv_file(
    cfg: &GenConfig,
    path: impl AsRef<Path>,
    threads: usize,
) -> io::Result<GenStats> {
    let generator = Generator::new(cfg)?;
    let file = std::fs::File::create(path)?;
    generator.write_taobao_csv(file, threads)
}

/// Writes every event of `cfg` as NDJSON on the calling thread.
pub fn write_ndjson<W: Write>(cfg: &GenConfig, w: W) -> io::Result<GenStats> {
    Generator::new(cfg)?.write_ndjson(w, 1)
}

/// Writes every event of `cfg` as NDJSON to a file with `threads` workers (0 = all cores).
pub fn write_ndjson_file(
    cfg: &GenConfig,
    path: impl AsRef<Path>,
    threads: usize,
) -> io::Result<GenStats> {
    let generator = Generator::new(cfg)?;
    let file = std::fs::File::create(path)?;
    generator.write_ndjson(file, threads)
}

/// Calls `f` with every event of `cfg` (all types) in time order.
pub fn for_each_event(cfg: &GenConfig, f: impl FnMut(&Event)) -> Result<GenStats, ConfigError> {
    Ok(Generator::new(cfg)?.for_each_event(f))
}

/// The item-id sets planted as co-purchases in the run of `cfg`.
pub fn planted_patterns(cfg: &GenConfig) -> Result<Vec<Vec<i64>>, ConfigError> {
    Ok(Generator::new(cfg)?.planted_patterns())
}
