//! C4.5 with missing values (removed at random with a fixed seed, 5-20% of the attribute values
//! and some targets) against Weka 3.6's `J48` run for real: fractional instances in training,
//! in the split information and in prediction. Whole printed trees byte for byte, counts,
//! and every row's predicted distribution.

mod refs;
#[path = "tree_support/mod.rs"]
mod support;

use storepulse_mining::Dataset;
use storepulse_mining::tree::{C45Params, c45};
use support::*;

fn check(d: &Dataset, target: usize, p: &C45Params, opts: &[&str], predictions: bool, what: &str) {
    let tree = c45(d, target, p, None).unwrap();
    let what = format!("{what} {opts:?}");
    compare_j48(&tree, d, target, None, opts, &what);
    if predictions {
        let w = weka_predictions("weka.classifiers.trees.J48", d, target, None, opts);
        compare_predictions(&tree, d, &w, &what);
    }
}

fn all_options(d: &Dataset, target: usize, what: &str) {
    let def = C45Params::default;
    check(d, target, &def(), &[], true, what);
    check(
        d,
        target,
        &C45Params {
            unpruned: true,
            ..def()
        },
        &["-U"],
        true,
        what,
    );
    check(
        d,
        target,
        &C45Params {
            subtree_raising: false,
            ..def()
        },
        &["-S"],
        true,
        what,
    );
    check(
        d,
        target,
        &C45Params {
            binary_splits: true,
            ..def()
        },
        &["-B"],
        true,
        what,
    );
}

#[test]
fn weather_with_missing_values_matches_weka() {
    let Ok(()) = require_weka() else { return };
    for seed in 1..=6 {
        all_options(
            &with_missing(&weather(false), &[0, 1, 2, 3], 0.15, seed),
            4,
            &format!("weather seed {seed}"),
        );
    }
}

#[test]
fn iris_with_missing_values_matches_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = iris() else { return };
    for (seed, rate) in [(11, 0.05), (12, 0.1), (13, 0.2)] {
        // The target loses values too: those rows drop out of training.
        all_options(
            &with_missing(&d, &[0, 1, 2, 3, 4], rate, seed),
            4,
            &format!("iris {rate}"),
        );
    }
}

#[test]
fn retail_customers_with_missing_values_match_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = retail_customers() else { return };
    all_options(
        &with_missing(&d, &[0, 1, 2, 3, 4, 5], 0.1, 21),
        6,
        "retail 10%",
    );
    check(
        &with_missing(&d, &[0, 2, 5, 6], 0.2, 22),
        6,
        &C45Params::default(),
        &[],
        true,
        "retail 20%",
    );
}

#[test]
fn taobao_users_with_missing_values_match_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = taobao_users(false, 20_000) else {
        return;
    };
    check(
        &with_missing(&d, &[0, 1, 2, 3], 0.1, 31),
        4,
        &C45Params::default(),
        &[],
        true,
        "taobao 10%",
    );
}
