//! sessions: per user, behaviour closer than the gap (30 min by default) is one session; each
//! closed session is emitted with its events, page views, carts, buys and duration.

use super::{Groups, Input, Job, JobConfig, ShopStatus};
use crate::StreamError;
use crate::cols;
use crate::emit::{Emission, KeyVal, Kind, Row};
use crate::schedule::Admit;
use crate::session::{FiredSession, Sessions};
use crate::windowed::Acc;
use model::EventType;

/// What a session accumulates.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    events: u64,
    pv: u64,
    cart: u64,
    buy: u64,
}

impl Acc for Activity {
    fn merge(&mut self, o: &Activity) {
        self.events += o.events;
        self.pv += o.pv;
        self.cart += o.cart;
        self.buy += o.buy;
    }
}

/// The sessions job.
pub struct SessionJob {
    gap: i64,
    groups: Groups<Sessions<Activity>>,
}

fn render(gap: i64, shop: &str, wm: i64, f: FiredSession<'_, Activity>) -> Emission {
    Emission {
        job: "sessions".into(),
        kind: if f.kind == Kind::Result {
            Kind::Session
        } else {
            f.kind
        },
        shop: shop.to_string(),
        start: f.start,
        end: f.last + gap,
        revision: f.revision,
        watermark: wm,
        rows: vec![Row {
            rank: None,
            keys: vec![("user_id", KeyVal::Int(f.key as i64))],
            values: vec![
                ("events", f.acc.events as f64),
                ("pv", f.acc.pv as f64),
                ("carts", f.acc.cart as f64),
                ("buys", f.acc.buy as f64),
                ("duration_s", ((f.last - f.start) / 1000) as f64),
            ],
        }],
    }
}

impl SessionJob {
    /// The job from its settings.
    pub fn new(cfg: &JobConfig) -> Result<SessionJob, StreamError> {
        let gap = super::parse_duration(cfg.gap.as_deref().unwrap_or("30min"))?;
        if gap <= 0 {
            return Err(StreamError::Config("sessions: gap must be positive".into()));
        }
        Ok(SessionJob {
            gap,
            groups: Groups::new(cfg.common("5s", "0")?),
        })
    }
}

impl Job for SessionJob {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn inputs(&self) -> &'static [EventType] {
        &[EventType::Behavior]
    }

    fn columns(&self, _: EventType) -> &'static [&'static str] {
        &["ts", "user_id", "action"]
    }

    fn process(
        &mut self,
        input: Input<'_>,
        now: i64,
        out: &mut Vec<Emission>,
    ) -> Result<(), StreamError> {
        if input.table != EventType::Behavior {
            return Ok(());
        }
        let b = input.batch;
        let ts = cols::ts(b)?;
        let users = cols::ints(b, "user_id")?;
        let code = cols::map_strs(b, "action", 4u8, |a| match a {
            "pv" => 0,
            "cart" => 1,
            "buy" => 3,
            _ => 4,
        })?;
        let gap = self.gap;
        let SessionJob { groups, .. } = self;
        let lateness = groups.common().lateness;
        let (g, src) = groups.get(input.shop, input.table, now, || {
            Sessions::new(gap, lateness)
        });
        let counters = &mut g.counters;
        let before = out.len();
        for (i, &t) in ts.iter().enumerate() {
            let Some(user) = users.get(i) else { continue };
            counters.events += 1;
            let wm0 = g.wm.get();
            let c = code[i];
            let admitted = g.state.add(user as u64, t, wm0, |a| {
                a.events += 1;
                match c {
                    0 => a.pv += 1,
                    1 => a.cart += 1,
                    3 => a.buy += 1,
                    _ => {}
                }
            });
            if admitted == Admit::Late {
                counters.late += 1;
                out.push(Emission {
                    job: "sessions".into(),
                    kind: Kind::Late,
                    shop: input.shop.to_string(),
                    start: t,
                    end: t + gap,
                    revision: 0,
                    watermark: wm0,
                    rows: vec![Row {
                        rank: None,
                        keys: vec![("user_id", KeyVal::Int(user))],
                        values: vec![("ts", t as f64)],
                    }],
                });
            }
            let wm = g.wm.observe(src, t);
            if wm >= g.state.due() {
                g.state
                    .advance(wm, &mut |f| out.push(render(gap, input.shop, wm, f)));
            }
        }
        let wm = g.wm.get();
        g.state
            .advance(wm, &mut |f| out.push(render(gap, input.shop, wm, f)));
        counters.emitted += (out.len() - before) as u64;
        Ok(())
    }

    fn advance_groups(&mut self, now: Option<i64>, out: &mut Vec<Emission>) {
        let gap = self.gap;
        self.groups.each(now, out, |shop, g, wm, out| {
            g.state
                .advance(wm, &mut |f| out.push(render(gap, shop, wm, f)))
        });
    }

    fn shops(&self) -> Vec<(String, ShopStatus)> {
        self.groups.shops()
    }

    fn horizon(&self) -> i64 {
        // A session can chain on; a day covers all but marathon sessions.
        self.groups.horizon(self.gap.max(86_400_000))
    }
}
