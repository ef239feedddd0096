//! ad-clicks: clicks per province per sliding window, with click-fraud filtering. Clicks are
//! counted per (user, ad) per calendar day of the configured zone; the click that reaches the
//! threshold is counted and reports the user once to the blacklist output, and every further
//! click of that user on that ad that day is dropped from the province counts. The day's
//! counters are forgotten once the watermark passes the day's end (plus the allowed lateness).

use super::{Groups, Input, Job, JobConfig, ShopStatus, late};
use crate::StreamError;
use crate::cols;
use crate::counts::{Fired, SlidingCounts, top_n};
use crate::emit::{Emission, KeyVal, Kind, Row};
use crate::geometry::Geometry;
use crate::schedule::Admit;
use model::EventType;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use store::Zone;

#[derive(Default)]
struct Day {
    end: i64,
    clicks: FxHashMap<(i64, u64), u64>,
}

struct State {
    provinces: SlidingCounts,
    days: BTreeMap<i64, Day>,
}

/// The ad-clicks job.
pub struct AdClicks {
    geo: Geometry,
    day: Geometry,
    threshold: u64,
    groups: Groups<State>,
    provinces: FxHashMap<String, u64>,
    names: FxHashMap<u64, String>,
}

fn render(names: &FxHashMap<u64, String>, shop: &str, wm: i64, f: Fired<'_>) -> Emission {
    let tie = |a: u64, b: u64| names.get(&a).cmp(&names.get(&b));
    let rows = top_n(f.counts, f.counts.len(), &tie)
        .into_iter()
        .enumerate()
        .map(|(i, (k, c))| Row {
            rank: Some(i as u32 + 1),
            keys: vec![(
                "province",
                KeyVal::Text(names.get(&k).cloned().unwrap_or_default()),
            )],
            values: vec![("clicks", c as f64)],
        })
        .collect();
    Emission {
        job: "ad-clicks".into(),
        kind: f.kind,
        shop: shop.to_string(),
        start: f.start,
        end: f.end,
        revision: f.revision,
        watermark: wm,
        rows,
    }
}

impl AdClicks {
    /// The job from its settings.
    pub fn new(cfg: &JobConfig, zone: Zone) -> Result<AdClicks, StreamError> {
        let threshold = cfg.threshold.unwrap_or(100);
        if threshold == 0 {
            return Err(StreamError::Config(
                "ad-clicks: threshold must be at least 1".into(),
            ));
        }
        Ok(AdClicks {
            geo: cfg.sliding("1h", "5s")?,
            day: Geometry::days(zone),
            threshold,
            groups: Groups::new(cfg.common("5s", "0")?),
            provinces: FxHashMap::default(),
            names: FxHashMap::default(),
        })
    }

    fn province(&mut self, p: Option<&str>) -> u64 {
        let p = p.unwrap_or("(unknown)");
        if let Some(&k) = self.provinces.get(p) {
            return k;
        }
        let k = self.provinces.len() as u64;
        self.provinces.insert(p.to_string(), k);
        self.names.insert(k, p.to_string());
        k
    }
}

impl Job for AdClicks {
    fn name(&self) -> &'static str {
        "ad-clicks"
    }

    fn inputs(&self) -> &'static [EventType] {
        &[EventType::AdClick]
    }

    fn columns(&self, _: EventType) -> &'static [&'static str] {
        &["ts", "user_id", "ad_id", "province"]
    }

    fn process(
        &mut self,
        input: Input<'_>,
        now: i64,
        out: &mut Vec<Emission>,
    ) -> Result<(), StreamError> {
        if input.table != EventType::AdClick {
            return Ok(());
        }
        let b = input.batch;
        let ts = cols::ts(b)?;
        let users = cols::ints(b, "user_id")?;
        let ads = cols::strs(b, "ad_id")?;
        let provs = cols::strs(b, "province")?;
        let prov_keys: Vec<u64> = provs.iter().map(|p| self.province(*p)).collect();
        let AdClicks {
            geo,
            day,
            threshold,
            groups,
            names,
            ..
        } = self;
        let (geo, day_geo, threshold) = (*geo, *day, *threshold);
        let lateness = groups.common().lateness;
        let (g, src) = groups.get(input.shop, input.table, now, || State {
            provinces: SlidingCounts::new(geo, lateness),
            days: BTreeMap::new(),
        });
        let counters = &mut g.counters;
        let before = out.len();
        for (i, &t) in ts.iter().enumerate() {
            let (Some(user), Some(ad)) = (users.get(i), ads[i]) else {
                continue;
            };
            counters.events += 1;
            let wm0 = g.wm.get();
            let (ds, de) = day_geo.pane(t);
            let prov = prov_keys[i];
            let late_keys = || {
                vec![
                    ("user_id", KeyVal::Int(user)),
                    ("ad_id", KeyVal::Text(ad.to_string())),
                    (
                        "province",
                        KeyVal::Text(names.get(&prov).cloned().unwrap_or_default()),
                    ),
                ]
            };
            if de.saturating_add(lateness) <= wm0 {
                // The day's blacklist state is gone: nothing can be decided about this click.
                counters.late += 1;
                out.push(late("ad-clicks", input.shop, &geo, t, wm0, late_keys()));
            } else {
                let d = g.state.days.entry(ds).or_default();
                d.end = de;
                let ad_key = xxhash_rust::xxh3::xxh3_64(ad.as_bytes());
                let c = d.clicks.entry((user, ad_key)).or_insert(0);
                *c += 1;
                if *c > threshold {
                    counters.filtered += 1;
                } else {
                    if *c == threshold {
                        out.push(Emission {
                            job: "ad-clicks".into(),
                            kind: Kind::Blacklist,
                            shop: input.shop.to_string(),
                            start: ds,
                            end: de,
                            revision: 0,
                            watermark: wm0,
                            rows: vec![Row {
                                rank: None,
                                keys: vec![
                                    ("user_id", KeyVal::Int(user)),
                                    ("ad_id", KeyVal::Text(ad.to_string())),
                                ],
                                values: vec![("clicks", threshold as f64), ("ts", t as f64)],
                            }],
                        });
                    }
                    if g.state.provinces.add(prov, t, wm0, 1) == Admit::Late {
                        counters.late += 1;
                        out.push(late("ad-clicks", input.shop, &geo, t, wm0, late_keys()));
                    }
                }
            }
            let wm = g.wm.observe(src, t);
            if wm >= g.state.provinces.due() {
                g.state
                    .provinces
                    .advance(wm, &mut |f| out.push(render(names, input.shop, wm, f)));
            }
            while let Some((_, d)) = g.state.days.first_key_value() {
                if d.end.saturating_add(lateness) > wm {
                    break;
                }
                g.state.days.pop_first();
            }
        }
        let wm = g.wm.get();
        g.state
            .provinces
            .advance(wm, &mut |f| out.push(render(names, input.shop, wm, f)));
        counters.emitted += (out.len() - before) as u64;
        Ok(())
    }

    fn advance_groups(&mut self, now: Option<i64>, out: &mut Vec<Emission>) {
        let names = &self.names;
        self.groups.each(now, out, |shop, g, wm, out| {
            g.state
                .provinces
                .advance(wm, &mut |f| out.push(render(names, shop, wm, f)));
            if now.is_none() {
                g.state.days.clear();
            }
        });
    }

    fn shops(&self) -> Vec<(String, ShopStatus)> {
        self.groups.shops()
    }

    fn horizon(&self) -> i64 {
        self.groups.horizon(self.geo.size().max(86_400_000))
    }
}
