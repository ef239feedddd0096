//! Funnels: how many users complete ordered steps within a conversion window.
//!
//! A user's events are walked in time order (ties: by step bits, so a `pv` and a `cart` in the
//! same millisecond count as pv → cart). A chain starts at an event matching step 1 and moves to
//! step k+1 at a later event matching it, while that event is at most `window` after the chain's
//! start (inclusive). For each step the walk keeps the chain with the latest start, which can
//! only reach further; a user counts at the deepest step any chain reached.
//!
//! - `ordered` (default): other events may happen between steps.
//! - `strict`: each step must be the user's very next event in the table after the previous one;
//!   any other event breaks the chain.
//!
//! Times to convert are those of the first chain that reached the user's deepest step; a
//! breakdown groups users by a column's value on that chain's first event.

mod direct;
mod params;
mod scan;
mod timelines;

pub(crate) use params::check_step_kinds;
use params::kind_column;
pub use params::{FunnelParams, Mode, Step, window_ms};

use super::sequences::{Load, load};
use super::{Analysis, Ctx, Table, num, ratio, sql_ident};
use crate::error::QueryError;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Most steps a funnel may have.
pub const MAX_STEPS: usize = 32;

/// Walks one user's events; reusable buffers.
pub struct Walker {
    k: usize,
    window: i64,
    strict: bool,
    /// Per step slot: the chain's start time ([`NONE`]: no chain), first-event label and the
    /// node of its latest step in `nodes`.
    start: Vec<i64>,
    label: Vec<u32>,
    node: Vec<u32>,
    next_start: Vec<i64>,
    next_label: Vec<u32>,
    next_node: Vec<u32>,
    /// Steps of all chains: (time, the previous step's node or `u32::MAX`). A chain moving up
    /// a step adds one node instead of copying its times, so a step costs the same for 3 or 30
    /// steps.
    nodes: Vec<(i64, u32)>,
    /// Nodes past which the walk compacts ([`COMPACT_NODES`]; lower in tests).
    compact_at: usize,
}

/// What a walk found: the deepest step reached (0 = never started), that chain's first-event
/// label and the times it reached each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    /// Steps completed.
    pub depth: usize,
    /// Label of the chain's first event.
    pub label: u32,
    /// Time of each completed step, UTC ms.
    pub times: Vec<i64>,
}

const NONE: i64 = i64::MIN;

/// Nodes past which a walk drops those of chains no slot or best result still holds (a user
/// with millions of events would otherwise hold a node per matched step).
const COMPACT_NODES: usize = 1 << 16;

/// Copies the chain ending at node `n` from `old` to `fresh`; its new last node.
fn copy_chain(old: &[(i64, u32)], fresh: &mut Vec<(i64, u32)>, mut n: u32) -> u32 {
    let at = fresh.len();
    while n != u32::MAX {
        fresh.push(old[n as usize]);
        n = old[n as usize].1;
    }
    fresh[at..].reverse();
    for (j, node) in fresh.iter_mut().enumerate().skip(at) {
        node.1 = if j == at { u32::MAX } else { j as u32 - 1 };
    }
    if fresh.len() == at {
        u32::MAX
    } else {
        fresh.len() as u32 - 1
    }
}

impl Walker {
    /// A walker for `k` steps.
    pub fn new(k: usize, window_ms: i64, mode: Mode) -> Walker {
        Walker {
            k,
            window: window_ms,
            strict: mode == Mode::Strict,
            start: vec![NONE; k],
            label: vec![0; k],
            node: vec![0; k],
            next_start: vec![NONE; k],
            next_label: vec![0; k],
            next_node: vec![0; k],
            nodes: Vec::new(),
            compact_at: COMPACT_NODES,
        }
    }

    /// Keeps only the nodes of live chains and of `best`; returns `best`'s new index.
    fn compact(&mut self, best: u32) -> u32 {
        let mut fresh = Vec::with_capacity(self.k * (self.k + 1));
        for i in 0..self.k {
            if self.start[i] != NONE {
                self.node[i] = copy_chain(&self.nodes, &mut fresh, self.node[i]);
            }
        }
        let best = copy_chain(&self.nodes, &mut fresh, best);
        self.nodes = fresh;
        best
    }

    /// Walks events sorted by time: `code` bit i = matches step i.
    pub fn walk(&mut self, ts: &[i64], code: &[u64], label: &[u32]) -> Reached {
        let k = self.k;
        self.start.fill(NONE);
        self.nodes.clear();
        let (mut depth, mut best_label, mut best_node) = (0usize, 0u32, u32::MAX);
        let steps = if k >= 64 { u64::MAX } else { (1 << k) - 1 };
        for e in 0..ts.len() {
            let t = ts[e];
            let mut m = code[e] & steps;
            if self.strict {
                self.next_start.fill(NONE);
            }
            // The event's steps, high to low.
            while m != 0 {
                let i = 63 - m.leading_zeros() as usize;
                m &= !(1 << i);
                let (from_start, from_label, parent) = if i == 0 {
                    (t, label[e], u32::MAX)
                } else {
                    let s = self.start[i - 1];
                    if s == NONE || t - s > self.window {
                        continue;
                    }
                    (s, self.label[i - 1], self.node[i - 1])
                };
                // The chain at slot i-1 moves to slot i. Slots are visited high to low, so
                // slot i-1 still holds this event's "before" state.
                let n = self.nodes.len() as u32;
                self.nodes.push((t, parent));
                if self.strict {
                    self.next_start[i] = from_start;
                    self.next_label[i] = from_label;
                    self.next_node[i] = n;
                } else {
                    self.start[i] = from_start;
                    self.label[i] = from_label;
                    self.node[i] = n;
                }
                if i + 1 > depth {
                    (depth, best_label, best_node) = (i + 1, from_label, n);
                }
            }
            if self.strict {
                std::mem::swap(&mut self.start, &mut self.next_start);
                std::mem::swap(&mut self.label, &mut self.next_label);
                std::mem::swap(&mut self.node, &mut self.next_node);
            }
            // The deepest step is reached and its first chain's times are kept: nothing later
            // changes the result.
            if depth == k {
                break;
            }
            if self.nodes.len() > self.compact_at {
                best_node = self.compact(best_node);
            }
        }
        let mut times = vec![0; depth];
        let mut n = best_node;
        for slot in times.iter_mut().rev() {
            let (t, parent) = self.nodes[n as usize];
            *slot = t;
            n = parent;
        }
        Reached {
            depth,
            label: best_label,
            times,
        }
    }
}

fn median(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0
    })
}

/// Users at each depth and times to convert (per step: from the first step, from the previous).
#[derive(Default)]
pub struct Tally {
    depth: Vec<u64>,
    from_first: Vec<Vec<i64>>,
    from_prev: Vec<Vec<i64>>,
}

impl Tally {
    /// Counts one user's walk.
    pub fn add(&mut self, r: &Reached, k: usize) {
        if self.depth.is_empty() {
            self.depth = vec![0; k + 1];
            self.from_first = vec![Vec::new(); k];
            self.from_prev = vec![Vec::new(); k];
        }
        self.depth[r.depth] += 1;
        for i in 1..r.depth {
            self.from_first[i].push(r.times[i] - r.times[0]);
            self.from_prev[i].push(r.times[i] - r.times[i - 1]);
        }
    }

    /// Adds another tally of the same funnel.
    pub fn merge(&mut self, o: Tally) {
        if self.depth.is_empty() {
            *self = o;
            return;
        }
        if o.depth.is_empty() {
            return;
        }
        for (a, b) in self.depth.iter_mut().zip(&o.depth) {
            *a += b;
        }
        for (a, b) in self.from_first.iter_mut().zip(o.from_first) {
            a.extend(b);
        }
        for (a, b) in self.from_prev.iter_mut().zip(o.from_prev) {
            a.extend(b);
        }
    }

    /// Users who completed step i (0-based).
    fn reached(&self, i: usize) -> u64 {
        self.depth.iter().skip(i + 1).sum()
    }
}

/// Runs a funnel.
pub async fn run(ctx: &Ctx<'_>, p: &FunnelParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    let k = p.steps.len();
    if !(2..=MAX_STEPS).contains(&k) {
        return Err(QueryError::Invalid(format!(
            "a funnel needs 2 to {MAX_STEPS} steps, got {k}"
        )));
    }
    let window = window_ms(&p.window)?;
    if window <= 0 {
        return Err(QueryError::Invalid("the window must be positive".into()));
    }
    let table = sql_ident(&p.table)?;
    let kind = kind_column(&p.table);
    let conds: Vec<String> = p.steps.iter().map(|s| s.condition(kind)).collect();
    let code = conds
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CASE WHEN {c} THEN {} ELSE 0 END", 1u64 << i))
        .collect::<Vec<_>>()
        .join(" + ");
    // Ordered funnels need only matching events; strict ones need every event (any other
    // event between two steps breaks the chain).
    let filter = match p.mode {
        Mode::Ordered => conds
            .iter()
            .map(|c| format!("({c})"))
            .collect::<Vec<_>>()
            .join(" OR "),
        Mode::Strict => "TRUE".into(),
    };
    let label = match &p.breakdown {
        Some(col) => format!("CAST({} AS VARCHAR)", sql_ident(col)?),
        None => "CAST(NULL AS VARCHAR)".into(),
    };
    let scope = ctx.scope_for(&p.range)?;
    check_step_kinds(ctx, &scope, &p.table, &p.steps).await?;
    let actions: Option<Vec<String>> = p
        .steps
        .iter()
        .map(|s| match (&s.action, &s.filter) {
            (Some(a), None) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let mut all = Tally::default();
    let mut by: BTreeMap<u32, Tally> = BTreeMap::new();
    let mut labels: Vec<String> = Vec::new();
    let (users_scanned, events_scanned) = match actions {
        // Action-only behaviour funnels (the common case) read the day files directly.
        Some(actions) if p.table == "behavior" && p.breakdown.is_none() => {
            let snap = crate::tables::Snapshot::load(ctx.engine.data_dir())?;
            let from = p.range.from.map(|d| d.to_string());
            let to = p.range.to.map(|d| d.to_string());
            let f = direct::ActionFunnel {
                from: from.as_deref(),
                to: to.as_deref(),
                steps: &actions,
                window,
                mode: p.mode,
                limit_mib: ctx.engine.limits().memory_mib,
            };
            let c = match timelines::run(&snap, &scope, &f)? {
                Some(c) => c,
                // A file without a usable timeline: read the Parquet files.
                None => scan::run(&snap, &scope, &f)?,
            };
            all = c.tally;
            (c.users, c.events)
        }
        _ => {
            let seqs = load(
                ctx,
                &scope,
                &Load {
                    table: &table,
                    dt: p.range.dt_filter(),
                    filter,
                    code,
                    label,
                },
            )
            .await?;
            let mut walker = Walker::new(k, window, p.mode);
            for u in 0..seqs.users() {
                let r = seqs.user(u);
                let got = walker.walk(&seqs.ts[r.clone()], &seqs.code[r.clone()], &seqs.label[r]);
                if got.depth == 0 {
                    continue;
                }
                all.add(&got, k);
                if p.breakdown.is_some() {
                    by.entry(got.label).or_default().add(&got, k);
                }
            }
            let counts = (seqs.users_with_events(), seqs.ts.len());
            labels = seqs.labels;
            counts
        }
    };

    let names: Vec<String> = p.steps.iter().map(|s| s.label()).collect();
    let steps = steps_table("steps", &names, &mut all);
    let mut tables = vec![steps];
    if p.breakdown.is_some() {
        let mut t = Table::new(
            "breakdown",
            &[
                "breakdown",
                "step",
                "name",
                "users",
                "conversion_from_first",
                "conversion_from_previous",
            ],
        );
        // Largest groups first, then by value.
        let mut groups: Vec<(u32, Tally)> = by.into_iter().collect();
        let text = |lab: u32| labels.get(lab as usize).cloned().unwrap_or_default();
        groups.sort_by(|a, b| {
            b.1.reached(0)
                .cmp(&a.1.reached(0))
                .then_with(|| text(a.0).cmp(&text(b.0)))
        });
        for (lab, tally) in groups.iter_mut() {
            let value = match labels.get(*lab as usize) {
                Some(s) if *lab != 0 => json!(s),
                _ => Value::Null,
            };
            let rows = steps_table("x", &names, tally);
            for r in rows.rows {
                // step, name, users, from first, from previous
                t.push(vec![
                    value.clone(),
                    r[0].clone(),
                    r[1].clone(),
                    r[2].clone(),
                    r[3].clone(),
                    r[4].clone(),
                ]);
            }
        }
        tables.push(t);
    }
    let mut summary = Map::new();
    let entered = all.reached(0);
    let converted = if all.depth.is_empty() {
        0
    } else {
        all.reached(k - 1)
    };
    summary.insert("entered".into(), json!(entered));
    summary.insert("converted".into(), json!(converted));
    summary.insert(
        "conversion".into(),
        num(ratio(converted as f64, entered as f64), 6),
    );
    summary.insert("users_scanned".into(), json!(users_scanned));
    summary.insert("events_scanned".into(), json!(events_scanned));
    Ok(Analysis {
        analysis: "funnel".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables,
    })
}

/// The per-step table.
fn steps_table(name: &str, names: &[String], t: &mut Tally) -> Table {
    let mut out = Table::new(
        name,
        &[
            "step",
            "name",
            "users",
            "conversion_from_first",
            "conversion_from_previous",
            "drop_off",
            "median_seconds_from_first",
            "median_seconds_from_previous",
        ],
    );
    let k = names.len();
    if t.depth.is_empty() {
        t.depth = vec![0; k + 1];
        t.from_first = vec![Vec::new(); k];
        t.from_prev = vec![Vec::new(); k];
    }
    let first = t.reached(0) as f64;
    for (i, step) in names.iter().enumerate() {
        let n = t.reached(i);
        let prev = if i == 0 { n } else { t.reached(i - 1) };
        let secs = |v: &mut Vec<i64>| median(v).map_or(Value::Null, |m| num(m / 1000.0, 3));
        out.push(vec![
            json!(i + 1),
            json!(step),
            json!(n),
            num(ratio(n as f64, first), 6),
            num(ratio(n as f64, prev as f64), 6),
            json!(prev - n),
            secs(&mut t.from_first[i]),
            secs(&mut t.from_prev[i]),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(mode: Mode, window: i64, events: &[(i64, u64)]) -> Reached {
        let ts: Vec<i64> = events.iter().map(|e| e.0).collect();
        let code: Vec<u64> = events.iter().map(|e| e.1).collect();
        let label = vec![0; events.len()];
        Walker::new(3, window, mode).walk(&ts, &code, &label)
    }

    #[test]
    fn ordered_allows_other_events_between_steps() {
        // pv, (other), cart, buy
        let r = walk(Mode::Ordered, 100, &[(0, 1), (5, 0), (10, 2), (20, 4)]);
        assert_eq!(r.depth, 3);
        assert_eq!(r.times, vec![0, 10, 20]);
        let r = walk(Mode::Strict, 100, &[(0, 1), (5, 0), (10, 2), (20, 4)]);
        assert_eq!(r.depth, 1);
    }

    #[test]
    fn window_is_inclusive_from_the_chain_start() {
        assert_eq!(
            walk(Mode::Ordered, 20, &[(0, 1), (10, 2), (20, 4)]).depth,
            3
        );
        assert_eq!(
            walk(Mode::Ordered, 19, &[(0, 1), (10, 2), (20, 4)]).depth,
            2
        );
    }

    #[test]
    fn a_later_start_rescues_a_chain_the_window_broke() {
        // pv at 0, pv at 50, cart at 60, buy at 70; window 30: only the second pv works.
        let r = walk(Mode::Ordered, 30, &[(0, 1), (50, 1), (60, 2), (70, 4)]);
        assert_eq!(r.depth, 3);
        assert_eq!(r.times, vec![50, 60, 70]);
    }

    #[test]
    fn steps_out_of_order_do_not_count() {
        assert_eq!(walk(Mode::Ordered, 100, &[(0, 2), (1, 4), (2, 1)]).depth, 1);
        assert_eq!(walk(Mode::Ordered, 100, &[(0, 4), (1, 2)]).depth, 0);
    }

    #[test]
    fn one_event_cannot_fill_two_steps() {
        // An event matching steps 1 and 2 (bits 0 and 1) alone reaches step 1 only.
        assert_eq!(walk(Mode::Ordered, 100, &[(0, 3)]).depth, 1);
        assert_eq!(walk(Mode::Ordered, 100, &[(0, 3), (1, 3)]).depth, 2);
    }

    #[test]
    fn strict_restarts_at_a_new_first_step() {
        let r = walk(Mode::Strict, 100, &[(0, 1), (1, 0), (2, 1), (3, 2), (4, 4)]);
        assert_eq!(r.depth, 3);
        assert_eq!(r.times, vec![2, 3, 4]);
    }

    /// The walk as it was before chains became linked nodes: each chain copies its step times.
    /// An independent reference for the node walk (with compaction forced often).
    fn reference(k: usize, window: i64, mode: Mode, ts: &[i64], code: &[u64]) -> Reached {
        let strict = mode == Mode::Strict;
        let mut start = vec![NONE; k];
        let mut times = vec![vec![0i64; 0]; k];
        let mut best = Reached {
            depth: 0,
            label: 0,
            times: Vec::new(),
        };
        for e in 0..ts.len() {
            let t = ts[e];
            let (mut next_start, mut next_times) = if strict {
                (vec![NONE; k], vec![Vec::new(); k])
            } else {
                (start.clone(), times.clone())
            };
            for i in (0..k).rev() {
                if code[e] & (1 << i) == 0 {
                    continue;
                }
                let (s, mut chain) = if i == 0 {
                    (t, Vec::new())
                } else if start[i - 1] != NONE && t - start[i - 1] <= window {
                    (start[i - 1], times[i - 1].clone())
                } else {
                    continue;
                };
                chain.push(t);
                if i + 1 > best.depth {
                    best.depth = i + 1;
                    best.times = chain.clone();
                }
                next_start[i] = s;
                next_times[i] = chain;
            }
            (start, times) = (next_start, next_times);
            if best.depth == k {
                break;
            }
        }
        best
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn the_node_walk_equals_copying_times_even_when_compacting_often(
            k in 1usize..7,
            window in 0i64..40,
            strict in proptest::bool::ANY,
            events in proptest::collection::vec((0i64..4, 0u64..64), 0..120),
            compact_at in 1usize..12,
        ) {
            // Sorted by (time, bits) as the walker expects.
            let mut t = 0;
            let mut ev: Vec<(i64, u64)> = events.iter().map(|&(d, c)| { t += d; (t, c) }).collect();
            ev.sort_unstable();
            let ts: Vec<i64> = ev.iter().map(|e| e.0).collect();
            let code: Vec<u64> = ev.iter().map(|e| e.1).collect();
            let mode = if strict { Mode::Strict } else { Mode::Ordered };
            let mut w = Walker::new(k, window, mode);
            w.compact_at = compact_at;
            let got = w.walk(&ts, &code, &vec![0; ts.len()]);
            let want = reference(k, window, mode, &ts, &code);
            proptest::prop_assert_eq!((got.depth, got.times), (want.depth, want.times));
        }
    }

    #[test]
    fn a_user_with_a_million_events_keeps_few_nodes_and_the_right_times() {
        // Steps pv → cart → buy: 1M views (each starts a chain), then one cart and one buy. The
        // deepest step is reached only after many compactions, on the chain of the last views.
        let n = 1_000_000usize;
        let mut ts: Vec<i64> = (0..n as i64).map(|i| i * 1000).collect();
        let mut code = vec![1u64; n];
        ts.extend([n as i64 * 1000, n as i64 * 1000 + 5]);
        code.extend([2, 4]);
        for mode in [Mode::Ordered, Mode::Strict] {
            let mut w = Walker::new(3, 3_600_000, mode);
            let r = w.walk(&ts, &code, &vec![0; ts.len()]);
            assert_eq!(r, reference(3, 3_600_000, mode, &ts, &code), "{mode:?}");
            assert_eq!(
                r.times,
                vec![(n as i64 - 1) * 1000, n as i64 * 1000, n as i64 * 1000 + 5]
            );
            assert!(w.nodes.len() <= COMPACT_NODES + 8, "{}", w.nodes.len());
        }
    }

    #[test]
    fn windows_parse() {
        assert_eq!(window_ms("1d").unwrap(), 86_400_000);
        assert_eq!(window_ms("90").unwrap(), 90_000);
        assert_eq!(window_ms("30m").unwrap(), 1_800_000);
        assert!(window_ms("soon").is_err());
    }
}
