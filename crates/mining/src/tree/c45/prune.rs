//! Collapsing and pessimistic pruning as Weka 3.6's `C45PruneableClassifierTree`: a subtree
//! whose leaves make no fewer training errors than its root (less 1e-3) collapses; then,
//! bottom-up, a node becomes a leaf when the leaf's estimated errors are within 0.1 of the
//! subtree's and of its largest branch's, or is replaced by its largest branch (subtree
//! raising, the parent's instances re-distributed down the raised branch) when that branch's
//! estimate is within 0.1 of the subtree's. Estimates are `errors + addErrs(N, errors, CF)`.
//! Checked against J48's pruned trees (default, `-C`, `-S`) in `tests/tree_j48.rs`.

use super::split::{reset_dist, split};
use super::{BNode, Ctx};
use crate::tree::dist::{Dist, add_errs, eq, sm_or_eq};
use crate::tree::input::Rows;

impl BNode {
    fn is_leaf(&self) -> bool {
        self.test.is_none()
    }

    fn make_leaf(&mut self) {
        self.sons.clear();
        self.test = None;
        self.dist = self.dist.merged();
    }

    fn training_errors(&self) -> f64 {
        if self.is_leaf() {
            return self.dist.num_incorrect();
        }
        let mut e = 0.0;
        for s in &self.sons {
            e += s.training_errors();
        }
        e
    }

    pub(super) fn collapse(&mut self) {
        if self.is_leaf() {
            return;
        }
        if self.training_errors() >= self.dist.num_incorrect() - 1e-3 {
            self.make_leaf();
        } else {
            for s in &mut self.sons {
                s.collapse();
            }
        }
    }

    fn estimated_errors(&self, cf: f32) -> f64 {
        if self.is_leaf() {
            return estimate(&self.dist, cf);
        }
        let mut e = 0.0;
        for s in &self.sons {
            e += s.estimated_errors(cf);
        }
        e
    }

    /// The estimated errors of this subtree on other instances (its parent's).
    fn errors_for_branch(&self, ctx: &Ctx, data: &Rows) -> f64 {
        let tab = ctx.tab;
        match &self.test {
            None => estimate(&reset_dist(tab, None, 1, data), ctx.cf),
            Some(t) => {
                let d = reset_dist(tab, Some(t), self.sons.len(), data);
                let parts = split(tab, t, &d, data);
                let mut e = 0.0;
                for (s, p) in self.sons.iter().zip(&parts) {
                    e += s.errors_for_branch(ctx, p);
                }
                e
            }
        }
    }

    /// Re-counts the subtree on `data` (after raising it to a higher node).
    fn new_distribution(&mut self, ctx: &Ctx, data: Rows) {
        let tab = ctx.tab;
        let bags = self.sons.len().max(1);
        self.dist = reset_dist(tab, self.test.as_ref(), bags, &data);
        match &self.test {
            Some(t) => {
                let parts = split(tab, t, &self.dist, &data);
                for (s, p) in self.sons.iter_mut().zip(parts) {
                    s.new_distribution(ctx, p);
                }
            }
            None => {
                if !eq(data.sum_w(), 0.0) {
                    self.empty = false;
                }
            }
        }
        self.train = data;
    }

    pub(super) fn prune(&mut self, ctx: &Ctx) {
        if self.is_leaf() {
            return;
        }
        for s in &mut self.sons {
            s.prune(ctx);
        }
        let largest = self.dist.max_bag();
        let err_largest = if ctx.subtree_raising {
            self.sons[largest].errors_for_branch(ctx, &self.train)
        } else {
            f64::MAX
        };
        let err_leaf = estimate(&self.dist, ctx.cf);
        let err_tree = self.estimated_errors(ctx.cf);
        if sm_or_eq(err_leaf, err_tree + 0.1) && sm_or_eq(err_leaf, err_largest + 0.1) {
            self.make_leaf();
            return;
        }
        if sm_or_eq(err_largest, err_tree + 0.1) {
            let raised = self.sons.swap_remove(largest);
            self.sons = raised.sons;
            self.test = raised.test;
            self.dist = raised.dist;
            let data = std::mem::take(&mut self.train);
            self.new_distribution(ctx, data);
            self.prune(ctx);
        }
    }
}

/// Observed plus pessimistically added errors of a leaf holding `d`.
fn estimate(d: &Dist, cf: f32) -> f64 {
    if eq(d.total(), 0.0) {
        0.0
    } else {
        d.num_incorrect() + add_errs(d.total(), d.num_incorrect(), cf)
    }
}
