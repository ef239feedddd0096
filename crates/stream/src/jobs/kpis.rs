//! kpis: the shop's vital signs per tumbling window — PV, UV, carts, buys, buyers, orders, paid
//! orders, GMV, average order value, cart and purchase conversion — from behaviour and orders.
//!
//! Behaviour and orders are two sources of one watermark: a window closes when both have moved
//! past it (or one has gone idle, live).

use super::labelled::Labelled;
use super::{Groups, Input, Job, JobConfig, ShopStatus, late};
use crate::StreamError;
use crate::cols;
use crate::emit::{Emission, KeyVal, Row};
use crate::windowed::{Acc, FiredAcc, Windowed};
use model::EventType;
use rustc_hash::FxHashSet;
use store::Zone;

/// The KPI accumulator of a window.
#[derive(Debug, Default, Clone)]
pub struct Kpi {
    pv: u64,
    cart: u64,
    fav: u64,
    buy: u64,
    users: FxHashSet<i64>,
    carters: FxHashSet<i64>,
    buyers: FxHashSet<i64>,
    orders: u64,
    paid: u64,
    gmv: f64,
}

impl Acc for Kpi {
    fn merge(&mut self, o: &Kpi) {
        self.pv += o.pv;
        self.cart += o.cart;
        self.fav += o.fav;
        self.buy += o.buy;
        self.users.extend(o.users.iter());
        self.carters.extend(o.carters.iter());
        self.buyers.extend(o.buyers.iter());
        self.orders += o.orders;
        self.paid += o.paid;
        self.gmv += o.gmv;
    }
}

impl Kpi {
    fn values(&self) -> Vec<(&'static str, f64)> {
        let uv = self.users.len() as f64;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        vec![
            ("pv", self.pv as f64),
            ("uv", uv),
            ("carts", self.cart as f64),
            ("favs", self.fav as f64),
            ("buys", self.buy as f64),
            ("buyers", self.buyers.len() as f64),
            ("orders", self.orders as f64),
            ("paid_orders", self.paid as f64),
            ("gmv", (self.gmv * 100.0).round() / 100.0),
            (
                "aov",
                (ratio(self.gmv, self.paid as f64) * 100.0).round() / 100.0,
            ),
            ("cart_conversion", ratio(self.carters.len() as f64, uv)),
            ("purchase_conversion", ratio(self.buyers.len() as f64, uv)),
        ]
    }
}

type State = Vec<Windowed<Kpi>>;

/// The kpis job.
pub struct Kpis {
    windows: Labelled,
    groups: Groups<State>,
}

fn render(label: &str, shop: &str, wm: i64, f: FiredAcc<'_, Kpi>) -> Emission {
    Emission {
        job: "kpis".into(),
        kind: f.kind,
        shop: shop.to_string(),
        start: f.start,
        end: f.end,
        revision: f.revision,
        watermark: wm,
        rows: vec![Row {
            rank: None,
            keys: vec![("window", KeyVal::Text(label.to_string()))],
            values: f.acc.values(),
        }],
    }
}

impl Kpis {
    /// The job from its settings.
    pub fn new(cfg: &JobConfig, zone: Zone) -> Result<Kpis, StreamError> {
        Ok(Kpis {
            windows: Labelled::from_config(cfg, zone, &["1min", "1h"], "kpis")?,
            groups: Groups::new(cfg.common("5s", "0")?),
        })
    }
}

fn add_fact(k: &mut Kpi, fact: Fact) {
    match fact {
        Fact::Action(code, user) => {
            match code {
                0 => k.pv += 1,
                1 => {
                    k.cart += 1;
                    k.carters.insert(user);
                }
                2 => k.fav += 1,
                3 => {
                    k.buy += 1;
                    k.buyers.insert(user);
                }
                _ => {}
            }
            k.users.insert(user);
        }
        Fact::Order(paid, amount) => {
            if paid {
                k.paid += 1;
                k.gmv += amount;
            } else {
                k.orders += 1;
            }
        }
    }
}

/// What a row adds to a window.
#[derive(Clone, Copy)]
enum Fact {
    Action(u8, i64),
    Order(bool, f64),
}

impl Job for Kpis {
    fn name(&self) -> &'static str {
        "kpis"
    }

    fn inputs(&self) -> &'static [EventType] {
        &[EventType::Behavior, EventType::Order]
    }

    fn columns(&self, t: EventType) -> &'static [&'static str] {
        match t {
            EventType::Order => &["ts", "status", "amount"],
            _ => &["ts", "user_id", "action"],
        }
    }

    fn process(
        &mut self,
        input: Input<'_>,
        now: i64,
        out: &mut Vec<Emission>,
    ) -> Result<(), StreamError> {
        let b = input.batch;
        let ts = cols::ts(b)?;
        let facts: Vec<Option<Fact>> = match input.table {
            EventType::Behavior => {
                let code = cols::map_strs(b, "action", 4u8, |a| match a {
                    "pv" => 0,
                    "cart" => 1,
                    "fav" => 2,
                    "buy" => 3,
                    _ => 4,
                })?;
                let users = cols::ints(b, "user_id")?;
                (0..b.num_rows())
                    .map(|i| users.get(i).map(|u| Fact::Action(code[i], u)))
                    .collect()
            }
            EventType::Order => {
                // 0 = create, 1 = pay, 2 = anything else (cancel, refund: not counted here)
                let status = cols::map_strs(b, "status", 2u8, |s| match s {
                    "create" => 0,
                    "pay" => 1,
                    _ => 2,
                })?;
                let amount = cols::floats(b, "amount");
                (0..b.num_rows())
                    .map(|i| match status[i] {
                        0 => Some(Fact::Order(false, 0.0)),
                        1 => Some(Fact::Order(true, amount[i].unwrap_or(0.0))),
                        _ => None,
                    })
                    .collect()
            }
            _ => return Ok(()),
        };
        let Kpis { windows, groups } = self;
        let lateness = groups.common().lateness;
        let (g, src) = groups.get(input.shop, input.table, now, || windows.windows(lateness));
        let counters = &mut g.counters;
        let before = out.len();
        for (i, fact) in facts.iter().enumerate() {
            let Some(fact) = *fact else { continue };
            counters.events += 1;
            let t = ts[i];
            let wm0 = g.wm.get();
            windows.add(
                &mut g.state,
                t,
                wm0,
                |k| add_fact(k, fact),
                |geo, label| {
                    counters.late += 1;
                    let keys = vec![("window", KeyVal::Text(label.to_string()))];
                    out.push(late("kpis", input.shop, geo, t, wm0, keys));
                },
            );
            let wm = g.wm.observe(src, t);
            windows.advance(&mut g.state, wm, false, &mut |label, f| {
                out.push(render(label, input.shop, wm, f))
            });
        }
        let wm = g.wm.get();
        windows.advance(&mut g.state, wm, true, &mut |label, f| {
            out.push(render(label, input.shop, wm, f))
        });
        counters.emitted += (out.len() - before) as u64;
        Ok(())
    }

    fn advance_groups(&mut self, now: Option<i64>, out: &mut Vec<Emission>) {
        let windows = &self.windows;
        self.groups.each(now, out, |shop, g, wm, out| {
            windows.advance(&mut g.state, wm, true, &mut |label, f| {
                out.push(render(label, shop, wm, f))
            })
        });
    }

    fn shops(&self) -> Vec<(String, ShopStatus)> {
        self.groups.shops()
    }

    fn horizon(&self) -> i64 {
        self.groups.horizon(self.windows.reach())
    }
}
