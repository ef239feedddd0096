//! What the two direct paths of action-only behaviour funnels share: the funnel they run
//! ([`ActionFunnel`]), the walk of one user's events ([`UserWalk`]) and what they count
//! ([`Counted`]). The paths differ only in where a user's events come from: the user timelines
//! (`timelines`) or the Parquet files (`scan`, the fallback).

use super::{Mode, Tally, Walker};

/// An action-only behaviour funnel over the day files of `[from, to]` (inclusive
/// `YYYY-MM-DD`).
pub struct ActionFunnel<'a> {
    /// First day (`None`: open).
    pub from: Option<&'a str>,
    /// Last day (`None`: open).
    pub to: Option<&'a str>,
    /// The steps' actions, in order.
    pub steps: &'a [String],
    /// Conversion window, ms.
    pub window: i64,
    /// Step order rules.
    pub mode: Mode,
    /// The query's memory limit.
    pub limit_mib: usize,
}

impl ActionFunnel<'_> {
    /// Step bits of an action: bit i set when step i is this action.
    pub fn bits(&self, action: &str) -> u64 {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_str() == action)
            .fold(0, |m, (i, _)| m | 1 << i)
    }

    /// Whether every event is kept: strict funnels need them all (any other event breaks a
    /// chain), ordered ones only those matching a step.
    pub fn keeps_all(&self) -> bool {
        self.mode == Mode::Strict
    }

    /// A walker of this funnel's users.
    pub fn user_walk(&self) -> UserWalk {
        UserWalk {
            walker: Walker::new(self.steps.len(), self.window, self.mode),
            k: self.steps.len(),
            labels: Vec::new(),
            pairs: Vec::new(),
        }
    }
}

/// What a scan counted.
#[derive(Default)]
pub struct Counted {
    /// Users per deepest step and times to convert.
    pub tally: Tally,
    /// Users with at least one kept event.
    pub users: usize,
    /// Kept events.
    pub events: usize,
}

impl Counted {
    /// The sum of the parts' counts.
    pub fn sum(parts: impl IntoIterator<Item = Counted>) -> Counted {
        let mut out = Counted::default();
        for p in parts {
            out.tally.merge(p.tally);
            out.users += p.users;
            out.events += p.events;
        }
        out
    }
}

/// Walks users one at a time, with buffers reused across them.
pub struct UserWalk {
    walker: Walker,
    k: usize,
    labels: Vec<u32>,
    pairs: Vec<(i64, u64)>,
}

impl UserWalk {
    /// Counts one user with events (`ts`, step bits `code`) into `out`. Events usually come in
    /// time order; ties, and files overlapping in time, are put in the (time, step bits) order
    /// the walker expects.
    pub fn walk(&mut self, ts: &mut [i64], code: &mut [u64], out: &mut Counted) {
        out.users += 1;
        out.events += ts.len();
        let sorted = (1..ts.len()).all(|j| (ts[j - 1], code[j - 1]) <= (ts[j], code[j]));
        if !sorted {
            self.pairs.clear();
            self.pairs
                .extend(ts.iter().copied().zip(code.iter().copied()));
            self.pairs.sort_unstable();
            for (j, p) in self.pairs.iter().enumerate() {
                (ts[j], code[j]) = *p;
            }
        }
        if self.labels.len() < ts.len() {
            self.labels.resize(ts.len(), 0);
        }
        let got = self.walker.walk(ts, code, &self.labels[..ts.len()]);
        if got.depth > 0 {
            out.tally.add(&got, self.k);
        }
    }
}
