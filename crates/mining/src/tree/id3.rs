//! ID3 as Weka 3.6's `weka.classifiers.trees.Id3`: nominal attributes only, no missing values,
//! split on the largest information gain (the first attribute on exact ties), a leaf once the
//! best gain is within 1e-6 of zero, and a "null" leaf for a value no instance reaches.
//! Entropies are computed in Weka's order (`Σ -c·log2 c / n + log2 n`) so ties break alike.
//! `tests/tree_id3.rs` works the weather table by hand and compares trees with Weka's `Id3`.

use super::dist::{Dist, eq, log2};
use super::input::{Attr, MISSING, Table};
use super::{Algo, Node, Test, Tree};
use crate::{Dataset, MiningError, Result};

/// Fits ID3 to predict column `target` from every other column, which must all be nominal
/// and complete. Rows whose target is missing are left out, as Weka does.
pub fn id3(d: &Dataset, target: usize) -> Result<Tree> {
    let tab = Table::new(d, target, "ID3")?;
    for (j, a) in tab.attrs.iter().enumerate() {
        let name = &tab.info[j].name;
        match a {
            Attr::Target => {}
            Attr::Numeric(_) => {
                return Err(MiningError::param(
                    name,
                    "ID3 takes nominal attributes only and this column is numeric; bucket it into a nominal column, drop it, or use C4.5 (c45)",
                ));
            }
            Attr::Nominal { values, .. } => {
                if let Some(row) = values
                    .iter()
                    .zip(&tab.class)
                    .position(|(&v, &c)| v == MISSING && c != MISSING)
                {
                    return Err(MiningError::Missing {
                        column: name.clone(),
                        row: row + 1,
                        what: "ID3".into(),
                    });
                }
            }
        }
    }
    let rows: Vec<u32> = (0..tab.class.len() as u32)
        .filter(|&r| tab.class[r as usize] != MISSING)
        .collect();
    let root = grow(&tab, rows);
    Ok(Tree {
        algo: Algo::Id3,
        info: tab.info,
        target,
        root,
    })
}

/// Weka's `computeEntropy`, in its operation order.
fn entropy(counts: &[f64], n: f64) -> f64 {
    let mut e = 0.0;
    for &c in counts {
        if c > 0.0 {
            e -= c * log2(c);
        }
    }
    e /= n;
    e + log2(n)
}

fn grow(tab: &Table, rows: Vec<u32>) -> Node {
    let nc = tab.n_classes;
    if rows.is_empty() {
        // A branch value no instance took: Weka's "null" leaf with an all-zero distribution.
        return Node::leaf(Dist::new(1, nc), true);
    }
    let n = rows.len() as f64;
    let mut counts = vec![0.0; nc];
    for &r in &rows {
        counts[tab.class[r as usize] as usize] += 1.0;
    }
    let base = entropy(&counts, n);
    // Weka's maxIndex over all columns, the target's gain being 0: first strict maximum.
    let mut best: Option<(usize, f64, Dist, &[u32])> = None;
    let mut best_gain = 0.0;
    for (j, a) in tab.attrs.iter().enumerate() {
        let gain_and_dist = match a {
            Attr::Nominal { values, levels } => {
                let mut dist = Dist::new(*levels, nc);
                for &r in &rows {
                    let r = r as usize;
                    dist.add(values[r] as usize, tab.class[r] as usize, 1.0);
                }
                let mut gain = base;
                let mut bag = vec![0.0; nc];
                for b in 0..*levels {
                    let nb = dist.per_bag(b);
                    if nb > 0.0 {
                        for (c, x) in bag.iter_mut().enumerate() {
                            *x = dist.pcb(b, c);
                        }
                        gain -= (nb / n) * entropy(&bag, nb);
                    }
                }
                Some((gain, dist, values.as_slice()))
            }
            _ => None,
        };
        let gain = gain_and_dist.as_ref().map_or(0.0, |g| g.0);
        if j == 0 || gain > best_gain {
            best_gain = gain;
            best = gain_and_dist.map(|(_, dist, values)| (j, gain, dist, values));
        }
    }
    match best {
        Some((attr, gain, dist, values)) if !eq(gain, 0.0) => {
            let mut parts: Vec<Vec<u32>> = (0..dist.bags())
                .map(|b| Vec::with_capacity(dist.per_bag(b) as usize))
                .collect();
            for &r in &rows {
                parts[values[r as usize] as usize].push(r);
            }
            let children = parts.into_iter().map(|p| grow(tab, p)).collect();
            Node {
                test: Some(Test::Nominal { attr }),
                dist,
                children,
                empty: false,
            }
        }
        _ => {
            // Weka stores the normalised class distribution at a leaf.
            let norm = counts.iter().map(|c| c / n).collect();
            Node::leaf(Dist::from_class_weights(norm), false)
        }
    }
}
