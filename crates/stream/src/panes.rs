//! Pane storage: accumulators by pane start, with the pane being written kept out of the tree so
//! that the per-event path is one comparison and one accumulator update, not a tree lookup.

use std::collections::BTreeMap;

/// Accumulators of one key group by pane start.
#[derive(Debug, Clone, Default)]
pub struct Panes<A> {
    tree: BTreeMap<i64, A>,
    hot: Option<(i64, A)>,
}

impl<A: Default> Panes<A> {
    /// The accumulator of the pane starting at `start`, created empty if needed.
    #[inline]
    pub fn get_mut(&mut self, start: i64) -> &mut A {
        if self.hot.as_ref().map(|h| h.0) != Some(start) {
            self.park();
            let acc = self.tree.remove(&start).unwrap_or_default();
            self.hot = Some((start, acc));
        }
        match &mut self.hot {
            Some((_, a)) => a,
            None => unreachable!("the hot pane was just set"),
        }
    }

    /// Puts the hot pane back so the tree holds every pane.
    pub fn park(&mut self) {
        if let Some((s, a)) = self.hot.take() {
            self.tree.insert(s, a);
        }
    }

    /// Every pane (call [`Panes::park`] first).
    pub fn tree(&self) -> &BTreeMap<i64, A> {
        debug_assert!(self.hot.is_none());
        &self.tree
    }

    /// The first pane starting at or after `t`.
    pub fn first_from(&self, t: i64) -> Option<i64> {
        self.tree.range(t..).next().map(|(s, _)| *s)
    }

    /// Panes starting in `[from, to)`.
    pub fn range(&self, from: i64, to: i64) -> impl Iterator<Item = (&i64, &A)> {
        self.tree.range(from..to.max(from))
    }

    /// Drops panes from the front while `expired(start)` holds.
    pub fn purge(&mut self, mut expired: impl FnMut(i64) -> bool) {
        self.park();
        while let Some((&s, _)) = self.tree.first_key_value() {
            if !expired(s) {
                break;
            }
            self.tree.pop_first();
        }
    }

    /// Whether no pane is held.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty() && self.hot.is_none()
    }

    /// Number of panes held.
    pub fn len(&self) -> usize {
        self.tree.len() + usize::from(self.hot.is_some())
    }
}
