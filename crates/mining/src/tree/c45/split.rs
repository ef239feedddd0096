//! One attribute's candidate test at a node, as Weka 3.6's `C45Split` / `BinC45Split`:
//! multiway nominal splits, `value` vs rest binary nominal splits, and binary numeric splits
//! with the MDL correction `log2(#candidate cut points) / N`, cut points between values more
//! than 1e-5 apart that leave `min(25, max(M, 0.1 N / #classes))` weight on each side, and
//! the printed threshold moved down to the largest training value at or below the midpoint.
//! Also how a test routes instances (fractionally when the value is missing).
//! Checked through whole trees against Weka in `tests/tree_j48.rs`.

use super::Ctx;
use crate::tree::Test;
use crate::tree::dist::{
    Dist, gain_ratio, gr, gr_or_eq, info_gain, info_gain_with, log2, old_ent, sm, sm_or_eq,
};
use crate::tree::input::{Attr, MISSING, Rows, Table};

/// A usable test with its statistics; `dist` counts known values only.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub test: Test,
    pub dist: Dist,
    pub gain: f64,
    pub ratio: f64,
}

pub(crate) fn is_missing(tab: &Table, attr: usize, row: usize) -> bool {
    match &tab.attrs[attr] {
        Attr::Numeric(v) => v[row].is_nan(),
        Attr::Nominal { values, .. } => values[row] == MISSING,
        Attr::Target => true,
    }
}

/// The branch a training row takes, `None` when its value is missing.
pub(crate) fn branch(tab: &Table, test: &Test, row: usize) -> Option<usize> {
    match (test, &tab.attrs[test.attr()]) {
        (Test::Nominal { .. }, Attr::Nominal { values, .. }) => {
            let v = values[row];
            (v != MISSING).then_some(v as usize)
        }
        (Test::BinaryNominal { value, .. }, Attr::Nominal { values, .. }) => {
            let v = values[row];
            (v != MISSING).then_some(usize::from(v != *value))
        }
        (Test::Numeric { point, .. }, Attr::Numeric(values)) => {
            let v = values[row];
            (!v.is_nan()).then_some(usize::from(!sm_or_eq(v, *point)))
        }
        _ => None,
    }
}

/// Weka's `split`: known values to their branch, missing ones to every branch with positive
/// weight in `dist`, their weight scaled by that branch's share.
pub(crate) fn split(tab: &Table, test: &Test, dist: &Dist, rows: &Rows) -> Vec<Rows> {
    let n = dist.bags();
    let frac: Vec<f64> = (0..n).map(|b| dist.per_bag(b) / dist.total()).collect();
    let mut parts: Vec<Rows> = (0..n)
        .map(|b| Rows::with_capacity((frac[b] * rows.len() as f64) as usize + 1))
        .collect();
    for (r, w) in rows.iter() {
        match branch(tab, test, r) {
            Some(b) => parts[b].push(r as u32, w),
            None => {
                for (b, &f) in frac.iter().enumerate() {
                    if gr(f, 0.0) {
                        parts[b].push(r as u32, f * w);
                    }
                }
            }
        }
    }
    parts
}

/// Weka's `resetDistribution`: a test's class weights per branch for other instances, with
/// missing values spread in proportion. No test: one bag.
pub(crate) fn reset_dist(tab: &Table, test: Option<&Test>, bags: usize, rows: &Rows) -> Dist {
    let mut d = Dist::new(bags, tab.n_classes);
    match test {
        None => {
            for (r, w) in rows.iter() {
                d.add(0, tab.class[r] as usize, w);
            }
        }
        Some(t) => {
            for (r, w) in rows.iter() {
                if let Some(b) = branch(tab, t, r) {
                    d.add(b, tab.class[r] as usize, w);
                }
            }
            d.add_unknown(
                rows.iter()
                    .filter(|&(r, _)| branch(tab, t, r).is_none())
                    .map(|(r, w)| (tab.class[r] as usize, w)),
            );
        }
    }
    d
}

fn known_dist(tab: &Table, rows: &Rows, values: &[u32], levels: usize) -> Dist {
    let mut d = Dist::new(levels, tab.n_classes);
    for (r, w) in rows.iter() {
        let v = values[r];
        if v != MISSING {
            d.add(v as usize, tab.class[r] as usize, w);
        }
    }
    d
}

/// A branch per level; usable when two branches reach the minimum weight.
pub(crate) fn nominal(
    ctx: &Ctx,
    rows: &Rows,
    attr: usize,
    values: &[u32],
    levels: usize,
    sum_w: f64,
) -> Option<Candidate> {
    let dist = known_dist(ctx.tab, rows, values, levels);
    if !dist.check(ctx.min_obj) {
        return None;
    }
    let gain = info_gain(&dist, sum_w);
    let ratio = gain_ratio(&dist, sum_w, gain);
    Some(Candidate {
        test: Test::Nominal { attr },
        dist,
        gain,
        ratio,
    })
}

/// The best `value` vs rest split by gain ratio (the first usable level wins ties).
pub(crate) fn binary_nominal(
    ctx: &Ctx,
    rows: &Rows,
    attr: usize,
    values: &[u32],
    levels: usize,
    sum_w: f64,
) -> Option<Candidate> {
    let all = known_dist(ctx.tab, rows, values, levels);
    let mut best: Option<Candidate> = None;
    let mut usable = false;
    for v in 0..levels {
        if !gr_or_eq(all.per_bag(v), ctx.min_obj) {
            continue;
        }
        let two = all.one_vs_rest(v);
        if !two.check(ctx.min_obj) {
            continue;
        }
        usable = true;
        let gain = info_gain(&two, sum_w);
        let ratio = gain_ratio(&two, sum_w, gain);
        let better = match &best {
            None => v == 0 || gr(ratio, 0.0),
            Some(b) => gr(ratio, b.ratio),
        };
        if better {
            best = Some(Candidate {
                test: Test::BinaryNominal {
                    attr,
                    value: v as u32,
                },
                dist: two,
                gain,
                ratio,
            });
        }
    }
    match best {
        Some(b) => Some(b),
        // Weka counts the attribute as usable (gain 0) even when no level beat ratio 0.
        None if usable => Some(Candidate {
            test: Test::BinaryNominal {
                attr,
                value: u32::MAX,
            },
            dist: all,
            gain: 0.0,
            ratio: 0.0,
        }),
        None => None,
    }
}

/// The best binary cut of a numeric attribute, or `None` when no cut pays for its MDL cost.
/// `buf` is reused between calls to avoid reallocating the sorted (value, class, weight) list.
pub(crate) fn numeric(
    ctx: &Ctx,
    rows: &Rows,
    attr: usize,
    values: &[f64],
    sum_w: f64,
    buf: &mut Vec<(f64, u32, f64)>,
) -> Option<Candidate> {
    let tab = ctx.tab;
    let nc = tab.n_classes;
    buf.clear();
    for (r, w) in rows.iter() {
        let v = values[r];
        if !v.is_nan() {
            buf.push((v, tab.class[r], w));
        }
    }
    buf.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let known = &buf[..];
    let mut dist = Dist::new(2, nc);
    for &(_, c, w) in known {
        dist.add(1, c as usize, w);
    }
    let n_known = known.len();
    let mut min_split = 0.1 * dist.total() / nc as f64;
    if sm_or_eq(min_split, ctx.min_obj) {
        min_split = ctx.min_obj;
    } else if gr(min_split, 25.0) {
        min_split = 25.0;
    }
    if sm(n_known as f64, 2.0 * min_split) {
        return None;
    }
    let default_ent = old_ent(&dist);
    let (mut last, mut index) = (0usize, 0usize);
    let mut best_gain = 0.0;
    let mut split_index: Option<usize> = None;
    for next in 1..n_known {
        if known[next - 1].0 + 1e-5 < known[next].0 {
            for &(_, c, w) in &known[last..next] {
                dist.shift(1, 0, c as usize, w);
            }
            if gr_or_eq(dist.per_bag(0), min_split) && gr_or_eq(dist.per_bag(1), min_split) {
                let g = info_gain_with(&dist, sum_w, default_ent);
                if gr(g, best_gain) {
                    best_gain = g;
                    split_index = Some(next - 1);
                }
                index += 1;
            }
            last = next;
        }
    }
    if index == 0 {
        return None;
    }
    let gain = best_gain - log2(index as f64) / sum_w;
    if sm_or_eq(gain, 0.0) {
        return None;
    }
    let si = split_index?;
    let (lo, hi) = (known[si].0, known[si + 1].0);
    let mut point = (hi + lo) / 2.0;
    if point == hi {
        point = lo;
    }
    let mut dist = Dist::new(2, nc);
    dist.add_range(0, known[..=si].iter().map(|&(_, c, w)| (c as usize, w)));
    dist.add_range(1, known[si + 1..].iter().map(|&(_, c, w)| (c as usize, w)));
    let ratio = gain_ratio(&dist, sum_w, gain);
    Some(Candidate {
        test: Test::Numeric { attr, point },
        dist,
        gain,
        ratio,
    })
}

/// Weka's `setSplitPoint`: the largest value of the attribute over all rows that is at most
/// `point` (within 1e-6), scanning rows in order with a 1e-6 tolerance on "larger". The
/// sorted distinct values answer directly unless two candidates lie within 1e-6 of each other,
/// when the order-dependent scan decides.
pub(crate) fn split_point_in_data(ctx: &Ctx, attr: usize, point: f64) -> f64 {
    let s = &ctx.sorted[attr];
    let k = s.partition_point(|&v| sm_or_eq(v, point));
    if k == 0 {
        return -f64::MAX;
    }
    if k == 1 || gr(s[k - 1], s[k - 2]) {
        return s[k - 1];
    }
    let Attr::Numeric(values) = &ctx.tab.attrs[attr] else {
        return point;
    };
    let mut best = -f64::MAX;
    for &v in values {
        if !v.is_nan() && gr(v, best) && sm_or_eq(v, point) {
            best = v;
        }
    }
    best
}
