//! The "hot" jobs — counts per key per sliding window, reported as a top-N (or in full):
//! hot-items, hot-categories, hot-pages and channel-stats.

use super::{Common, Groups, Input, Job, JobConfig, ShopStatus, late};
use crate::StreamError;
use crate::cols;
use crate::counts::{Fired, SlidingCounts, top_n};
use crate::emit::{Emission, KeyVal, Row};
use crate::geometry::Geometry;
use crate::schedule::Admit;
use model::EventType;
use regex::Regex;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// What a hot job counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// Items by views.
    Items,
    /// Categories by views.
    Categories,
    /// URLs of GET requests.
    Pages,
    /// Every (channel, action) pair.
    Channels,
}

/// Paths of static assets: not pages.
const STATIC: &str = r"(?i)\.(css|js|mjs|map|png|jpe?g|gif|ico|svg|webp|bmp|woff2?|ttf|eot|otf)$";

/// A hot job.
pub struct Hot {
    what: What,
    geo: Geometry,
    top: usize,
    action: String,
    method: String,
    exclude: Option<Regex>,
    groups: Groups<SlidingCounts>,
    /// Text of hashed or interned keys.
    names: FxHashMap<u64, String>,
    interned: FxHashMap<String, u32>,
    names_limit: usize,
}

impl Hot {
    /// A hot job from its settings.
    pub fn new(what: What, cfg: &JobConfig) -> Result<Hot, StreamError> {
        let (window, slide, ooo, lateness) = match what {
            What::Pages => ("10min", "5s", "1s", "1min"),
            What::Channels => ("1h", "1min", "5s", "0"),
            _ => ("1h", "5min", "5s", "0"),
        };
        let exclude = match (&what, &cfg.exclude) {
            (What::Pages, Some(e)) if e.is_empty() => None,
            (What::Pages, Some(e)) => Some(e.as_str()),
            (What::Pages, None) => Some(STATIC),
            _ => None,
        };
        let exclude = exclude
            .map(|e| {
                Regex::new(e).map_err(|err| {
                    StreamError::Config(format!("exclude: bad regular expression {e:?}: {err}"))
                })
            })
            .transpose()?;
        let common: Common = cfg.common(ooo, lateness)?;
        Ok(Hot {
            what,
            geo: cfg.sliding(window, slide)?,
            top: match what {
                What::Channels => cfg.top.unwrap_or(usize::MAX),
                _ => cfg.top.unwrap_or(5),
            },
            action: cfg.action.clone().unwrap_or_else(|| "pv".into()),
            method: cfg.method.clone().unwrap_or_else(|| "GET".into()),
            exclude,
            groups: Groups::new(common),
            names: FxHashMap::default(),
            interned: FxHashMap::default(),
            names_limit: 65_536,
        })
    }

    fn intern(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.interned.get(s) {
            return i as u64;
        }
        let i = self.interned.len() as u32;
        self.interned.insert(s.to_string(), i);
        self.names.insert(i as u64, s.to_string());
        i as u64
    }

    fn metric(&self) -> &'static str {
        match self.what {
            What::Items | What::Categories => "pv",
            What::Pages => "hits",
            What::Channels => "events",
        }
    }

    /// The key fields of a row.
    fn keys(what: What, names: &FxHashMap<u64, String>, k: u64) -> Vec<(&'static str, KeyVal)> {
        let text = |i: u64| KeyVal::Text(names.get(&i).cloned().unwrap_or_default());
        match what {
            What::Items => vec![("item_id", KeyVal::Int(k as i64))],
            What::Categories => vec![("category_id", KeyVal::Int(k as i64))],
            What::Pages => vec![("url", text(k))],
            What::Channels => vec![
                ("channel", text(k >> 32)),
                ("action", text(k & 0xffff_ffff)),
            ],
        }
    }

    /// Keys of every row (`None`: filtered out).
    fn row_keys(&mut self, input: Input<'_>) -> Result<Vec<Option<u64>>, StreamError> {
        let b = input.batch;
        let n = b.num_rows();
        Ok(match self.what {
            What::Items | What::Categories => {
                let action = self.action.clone();
                let wanted = cols::map_strs(b, "action", false, |a| a == action)?;
                let col = if self.what == What::Items {
                    "item_id"
                } else {
                    "category_id"
                };
                let ids = cols::ints(b, col)?;
                (0..n)
                    .map(|i| {
                        if wanted[i] {
                            ids.get(i).map(|v| v as u64)
                        } else {
                            None
                        }
                    })
                    .collect()
            }
            What::Pages => {
                let method = self.method.clone();
                let ok = cols::map_strs(b, "method", false, |m| m.eq_ignore_ascii_case(&method))?;
                let urls = cols::strs(b, "url")?;
                let mut keys = Vec::with_capacity(n);
                for i in 0..n {
                    let key = match urls[i] {
                        Some(u) if ok[i] => {
                            let path = u.split(['?', '#']).next().unwrap_or(u);
                            if self.exclude.as_ref().is_some_and(|r| r.is_match(path)) {
                                None
                            } else {
                                let h = xxhash_rust::xxh3::xxh3_64(u.as_bytes());
                                self.names.entry(h).or_insert_with(|| u.to_string());
                                Some(h)
                            }
                        }
                        _ => None,
                    };
                    keys.push(key);
                }
                keys
            }
            What::Channels => {
                // Interned once per dictionary value, not per row.
                let chans = cols::map_strs(b, "channel", u64::MAX, |c| self.intern(c))?;
                let actions = cols::map_strs(b, "action", u64::MAX, |a| self.intern(a))?;
                let none = self.intern("(none)");
                let pick = |k: u64| if k == u64::MAX { none } else { k };
                (0..n)
                    .map(|i| Some((pick(chans[i]) << 32) | pick(actions[i])))
                    .collect()
            }
        })
    }

    /// Forgets URL texts no window holds any more (hot-pages; keeps memory bounded when a
    /// scanner requests millions of distinct URLs).
    fn collect_names(&mut self) {
        if self.what != What::Pages || self.names.len() < self.names_limit {
            return;
        }
        let mut live = rustc_hash::FxHashSet::default();
        for g in self.groups.states_mut() {
            g.keys(&mut |k| {
                live.insert(k);
            });
        }
        self.names.retain(|k, _| live.contains(k));
        self.names_limit = (self.names.len() * 2).max(65_536);
    }
}

/// How a hot job renders a fired window.
struct Shape<'a> {
    name: &'static str,
    what: What,
    metric: &'static str,
    top: usize,
    names: &'a FxHashMap<u64, String>,
}

fn render(v: &Shape<'_>, shop: &str, wm: i64, f: Fired<'_>) -> Emission {
    let Shape {
        name,
        what,
        metric,
        top,
        names,
    } = *v;
    let tie = |a: u64, b: u64| -> Ordering {
        match what {
            What::Items | What::Categories => a.cmp(&b),
            What::Pages => names.get(&a).cmp(&names.get(&b)),
            What::Channels => {
                let t = |k: u64| (names.get(&(k >> 32)), names.get(&(k & 0xffff_ffff)));
                t(a).cmp(&t(b))
            }
        }
    };
    let ranked = top_n(f.counts, top.min(f.counts.len()), &tie);
    Emission {
        job: name.to_string(),
        kind: f.kind,
        shop: shop.to_string(),
        start: f.start,
        end: f.end,
        revision: f.revision,
        watermark: wm,
        rows: ranked
            .into_iter()
            .enumerate()
            .map(|(i, (k, c))| Row {
                rank: Some(i as u32 + 1),
                keys: Hot::keys(what, names, k),
                values: vec![(metric, c as f64)],
            })
            .collect(),
    }
}

impl Job for Hot {
    fn name(&self) -> &'static str {
        match self.what {
            What::Items => "hot-items",
            What::Categories => "hot-categories",
            What::Pages => "hot-pages",
            What::Channels => "channel-stats",
        }
    }

    fn inputs(&self) -> &'static [EventType] {
        match self.what {
            What::Pages => &[EventType::PageView],
            _ => &[EventType::Behavior],
        }
    }

    fn columns(&self, _: EventType) -> &'static [&'static str] {
        match self.what {
            What::Items => &["ts", "item_id", "action"],
            What::Categories => &["ts", "category_id", "action"],
            What::Pages => &["ts", "method", "url"],
            What::Channels => &["ts", "channel", "action"],
        }
    }

    fn process(
        &mut self,
        input: Input<'_>,
        now: i64,
        out: &mut Vec<Emission>,
    ) -> Result<(), StreamError> {
        if !self.inputs().contains(&input.table) {
            return Ok(());
        }
        let ts = cols::ts(input.batch)?;
        let keys = self.row_keys(input)?;
        let (name, metric) = (self.name(), self.metric());
        let Hot {
            what,
            geo,
            top,
            groups,
            names,
            ..
        } = self;
        let (what, geo, top) = (*what, *geo, *top);
        let lateness = groups.common().lateness;
        let (g, src) = groups.get(input.shop, input.table, now, || {
            SlidingCounts::new(geo, lateness)
        });
        let counters = &mut g.counters;
        let shape = Shape {
            name,
            what,
            metric,
            top,
            names,
        };
        let before = out.len();
        for (i, key) in keys.iter().enumerate() {
            let Some(k) = *key else { continue };
            counters.events += 1;
            let t = ts[i];
            let wm0 = g.wm.get();
            if g.state.add(k, t, wm0, 1) == Admit::Late {
                counters.late += 1;
                out.push(late(
                    name,
                    input.shop,
                    &geo,
                    t,
                    wm0,
                    Hot::keys(what, names, k),
                ));
            }
            let wm = g.wm.observe(src, t);
            if wm >= g.state.due() {
                g.state
                    .advance(wm, &mut |f| out.push(render(&shape, input.shop, wm, f)));
            }
        }
        let wm = g.wm.get();
        g.state
            .advance(wm, &mut |f| out.push(render(&shape, input.shop, wm, f)));
        counters.emitted += (out.len() - before) as u64;
        self.collect_names();
        Ok(())
    }

    fn advance_groups(&mut self, now: Option<i64>, out: &mut Vec<Emission>) {
        let (name, metric) = (self.name(), self.metric());
        let Hot {
            what,
            top,
            groups,
            names,
            ..
        } = self;
        let shape = Shape {
            name,
            what: *what,
            metric,
            top: *top,
            names,
        };
        groups.each(now, out, |shop, g, wm, out| {
            g.state
                .advance(wm, &mut |f| out.push(render(&shape, shop, wm, f)))
        });
    }

    fn shops(&self) -> Vec<(String, ShopStatus)> {
        self.groups.shops()
    }

    fn horizon(&self) -> i64 {
        self.groups.horizon(self.geo.size())
    }
}
