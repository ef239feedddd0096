//! The live jobs: what each computes, its settings and defaults, and the [`Job`] trait through
//! which the live engine and replays drive them.
//!
//! Every job keeps its state per shop (the key group): a watermark and its windows. Shops never
//! influence each other, and the same split works for workers owning sets of keys.

mod adclicks;
mod hot;
mod kpis;
mod labelled;
pub mod registry;
mod sessions;
mod uv;

pub use uv::HLL_STD_ERROR;

use crate::StreamError;
use crate::emit::{Emission, Kind, Row};
use crate::geometry::Geometry;
use crate::watermark::Watermark;
use arrow_array::RecordBatch;
use model::EventType;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use store::Zone;

/// One input batch: rows of one table of one shop, in arrival order.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    /// The table.
    pub table: EventType,
    /// The shop.
    pub shop: &'a str,
    /// The rows (lake schema of `table`; jobs read only their columns).
    pub batch: &'a RecordBatch,
}

/// Running totals of a job.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Events the job looked at (after its filters).
    pub events: u64,
    /// Events later than the allowed lateness, sent to the late output.
    pub late: u64,
    /// Events dropped by a rule (e.g. clicks of a blacklisted user on that ad).
    pub filtered: u64,
    /// Emissions produced.
    pub emitted: u64,
}

impl Counters {
    /// Adds another shop's totals.
    pub fn add(&mut self, o: &Counters) {
        self.events += o.events;
        self.late += o.late;
        self.filtered += o.filtered;
        self.emitted += o.emitted;
    }
}

/// One shop's state in a job.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShopStatus {
    /// The shop's watermark, UTC ms; `None` until the job has seen one of its events.
    pub watermark: Option<i64>,
    /// The shop's totals.
    pub counters: Counters,
}

/// A streaming job.
pub trait Job: Send {
    /// The job's name (`hot-items`, …).
    fn name(&self) -> &'static str;
    /// Tables it reads.
    fn inputs(&self) -> &'static [EventType];
    /// Columns it reads of `table` (for lake projections).
    fn columns(&self, table: EventType) -> &'static [&'static str];
    /// Processes one batch; `now` is processing time (ms) for idleness.
    fn process(
        &mut self,
        input: Input<'_>,
        now: i64,
        out: &mut Vec<Emission>,
    ) -> Result<(), StreamError>;
    /// Processing-time housekeeping (idle sources); live only.
    fn tick(&mut self, now: i64, out: &mut Vec<Emission>) {
        self.advance_groups(Some(now), out);
    }
    /// End of input: every window fires.
    fn finish(&mut self, out: &mut Vec<Emission>) {
        self.advance_groups(None, out);
    }
    /// Fires what each shop's watermark now allows: with `Some(now)`, shops whose watermark moved
    /// with processing time; with `None`, every shop, its watermark closed (end of input).
    fn advance_groups(&mut self, now: Option<i64>, out: &mut Vec<Emission>);
    /// Each shop's watermark and totals, in shop order.
    fn shops(&self) -> Vec<(String, ShopStatus)>;
    /// Totals over every shop.
    fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for (_, s) in self.shops() {
            c.add(&s.counters);
        }
        c
    }
    /// How far back (ms of event time before the newest event) the job's open state can reach:
    /// replaying that much of the lake rebuilds it after a restart.
    fn horizon(&self) -> i64;
}

/// Settings of one job (the `[jobs.<name>]` table of the config); unset fields take the job's
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JobConfig {
    /// Window length (`1h`, `10min`, `1d` = calendar day in the configured zone).
    pub window: Option<String>,
    /// Distance between window ends (sliding windows).
    pub slide: Option<String>,
    /// Several tumbling window lengths (kpis, uv).
    pub windows: Option<Vec<String>>,
    /// N of a top-N.
    pub top: Option<usize>,
    /// Allowed lateness: late events within it update fired windows.
    pub lateness: Option<String>,
    /// Bounded out-of-orderness of the watermark.
    pub out_of_orderness: Option<String>,
    /// Processing time after which a silent source stops holding the watermark (live).
    pub idle_timeout: Option<String>,
    /// The behaviour action counted (hot-items, hot-categories): `pv` by default.
    pub action: Option<String>,
    /// HTTP method counted (hot-pages): `GET` by default.
    pub method: Option<String>,
    /// Regular expression of URL paths to leave out (hot-pages): static assets by default.
    pub exclude: Option<String>,
    /// Clicks per (user, ad) per day at which the user is blacklisted (ad-clicks): 100.
    pub threshold: Option<u64>,
    /// Inactivity that closes a session (sessions): `30min`.
    pub gap: Option<String>,
    /// Whether uv also counts exactly (memory grows with users); the sketch is always kept.
    pub exact: Option<bool>,
}

/// Parses a duration (`5s`, `10min`, `1h`, a number of seconds, `0`): see [`model::duration`].
pub fn parse_duration(s: &str) -> Result<i64, StreamError> {
    model::duration::parse_ms(s).map_err(StreamError::Config)
}

/// Parses a window length: a duration, or `1d`/`day` for calendar days in `zone`.
pub fn parse_window(s: &str, zone: Zone) -> Result<Geometry, StreamError> {
    if matches!(s.trim(), "1d" | "day" | "1day") {
        return Ok(Geometry::days(zone));
    }
    Geometry::tumbling(parse_duration(s)?).map_err(StreamError::Config)
}

/// Settings common to every job, resolved against defaults.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub ooo: i64,
    pub lateness: i64,
    pub idle: i64,
}

impl JobConfig {
    fn dur(&self, v: &Option<String>, default: &str) -> Result<i64, StreamError> {
        parse_duration(v.as_deref().unwrap_or(default))
    }

    pub(crate) fn common(&self, ooo: &str, lateness: &str) -> Result<Common, StreamError> {
        Ok(Common {
            ooo: self.dur(&self.out_of_orderness, ooo)?,
            lateness: self.dur(&self.lateness, lateness)?,
            idle: self.dur(&self.idle_timeout, "10s")?,
        })
    }

    pub(crate) fn sliding(&self, window: &str, slide: &str) -> Result<Geometry, StreamError> {
        let w = self.dur(&self.window, window)?;
        let s = self.dur(&self.slide, slide)?;
        Geometry::sliding(w, s).map_err(StreamError::Config)
    }
}

/// Builds a job by name.
pub fn build(name: &str, cfg: &JobConfig, zone: Zone) -> Result<Box<dyn Job>, StreamError> {
    registry::find(name)?.check(cfg)?;
    Ok(match name {
        "kpis" => Box::new(kpis::Kpis::new(cfg, zone)?),
        "hot-items" => Box::new(hot::Hot::new(hot::What::Items, cfg)?),
        "hot-categories" => Box::new(hot::Hot::new(hot::What::Categories, cfg)?),
        "hot-pages" => Box::new(hot::Hot::new(hot::What::Pages, cfg)?),
        "channel-stats" => Box::new(hot::Hot::new(hot::What::Channels, cfg)?),
        "uv" => Box::new(uv::Uv::new(cfg, zone)?),
        "ad-clicks" => Box::new(adclicks::AdClicks::new(cfg, zone)?),
        "sessions" => Box::new(sessions::SessionJob::new(cfg)?),
        other => {
            return Err(registry::find(other).err().unwrap_or_else(|| {
                StreamError::Config(format!("job {other:?} is registered but not built"))
            }));
        }
    })
}

/// Per-shop state: a watermark and the job's windows.
pub(crate) struct Group<S> {
    pub wm: Watermark,
    pub state: S,
    pub counters: Counters,
}

/// Every shop's state of a job.
pub(crate) struct Groups<S> {
    map: FxHashMap<String, Group<S>>,
    common: Common,
}

impl<S> Groups<S> {
    /// Window reach plus out-of-orderness and lateness.
    pub fn horizon(&self, reach: i64) -> i64 {
        reach + self.common.ooo + self.common.lateness
    }

    pub fn new(common: Common) -> Groups<S> {
        Groups {
            map: FxHashMap::default(),
            common,
        }
    }

    pub fn common(&self) -> &Common {
        &self.common
    }

    /// The group of `shop`, with `source` registered active at `now`.
    pub fn get(
        &mut self,
        shop: &str,
        source: EventType,
        now: i64,
        make: impl FnOnce() -> S,
    ) -> (&mut Group<S>, usize) {
        if !self.map.contains_key(shop) {
            let g = Group {
                wm: Watermark::new(self.common.ooo, self.common.idle),
                state: make(),
                counters: Counters::default(),
            };
            self.map.insert(shop.to_string(), g);
        }
        let g = self
            .map
            .get_mut(shop)
            .unwrap_or_else(|| unreachable!("inserted above"));
        let src = g.wm.source(source as u32, now);
        (g, src)
    }

    /// Each shop's watermark (`None` before its first event) and totals, in shop order.
    pub fn shops(&self) -> Vec<(String, ShopStatus)> {
        let mut v: Vec<(String, ShopStatus)> = self
            .map
            .iter()
            .map(|(s, g)| {
                let wm = g.wm.get();
                let st = ShopStatus {
                    watermark: (wm != i64::MIN).then_some(wm),
                    counters: g.counters,
                };
                (s.clone(), st)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every shop's state.
    pub fn states_mut(&mut self) -> impl Iterator<Item = &mut S> {
        self.map.values_mut().map(|g| &mut g.state)
    }

    /// Runs `f` with each shop, its group and its watermark: shops whose watermark moved with
    /// processing time (`Some(now)`) or every shop with its watermark closed (`None`); counts
    /// what `f` emits.
    pub fn each(
        &mut self,
        now: Option<i64>,
        out: &mut Vec<Emission>,
        mut f: impl FnMut(&str, &mut Group<S>, i64, &mut Vec<Emission>),
    ) {
        let mut run = |shop: &str, g: &mut Group<S>| {
            let (wm, before) = (g.wm.get(), out.len());
            f(shop, g, wm, out);
            g.counters.emitted += (out.len() - before) as u64;
        };
        match now {
            Some(now) => self.tick(now, &mut run),
            None => self.finish(&mut run),
        }
    }

    /// Runs `f` on every group whose watermark moved with processing time.
    pub fn tick(&mut self, now: i64, mut f: impl FnMut(&str, &mut Group<S>)) {
        for (shop, g) in self.map.iter_mut() {
            if g.wm.tick(now) {
                f(shop, g);
            }
        }
    }

    /// Closes every group's watermark and runs `f` (shops in name order, for stable output).
    pub fn finish(&mut self, mut f: impl FnMut(&str, &mut Group<S>)) {
        let mut shops: Vec<&String> = self.map.keys().collect();
        shops.sort();
        let shops: Vec<String> = shops.into_iter().cloned().collect();
        for shop in shops {
            if let Some(g) = self.map.get_mut(&shop) {
                g.wm.close();
                f(&shop, g);
            }
        }
    }
}

/// A late-output emission for one event.
pub(crate) fn late(
    job: &str,
    shop: &str,
    geo: &Geometry,
    ts: i64,
    wm: i64,
    keys: Vec<(&'static str, crate::emit::KeyVal)>,
) -> Emission {
    let end = geo.last_end(ts);
    Emission {
        job: job.to_string(),
        kind: Kind::Late,
        shop: shop.to_string(),
        start: geo.start_of(end),
        end,
        revision: 0,
        watermark: wm,
        rows: vec![Row {
            rank: None,
            keys,
            values: vec![("ts", ts as f64)],
        }],
    }
}
