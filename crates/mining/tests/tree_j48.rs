//! C4.5 against Weka 3.6's `weka.classifiers.trees.J48` run for real on the same ARFF: the
//! whole printed tree byte for byte (every test, threshold, leaf class and `(n/errors)`
//! count), leaf and node counts, and every row's predicted distribution, with the default
//! options and `-U`, `-S`, `-C`, `-M`, `-B`, on nominal (weather, Taobao users) and numeric
//! (iris, Online Retail customers) real data, with instance weights.

mod refs;
#[path = "tree_support/mod.rs"]
mod support;

use storepulse_mining::Dataset;
use storepulse_mining::tree::{C45Params, c45};
use support::*;

/// The Weka options for `p`.
fn opts(p: &C45Params) -> Vec<String> {
    let mut o = Vec::new();
    if p.unpruned {
        o.push("-U".to_string());
    } else {
        if p.confidence != 0.25 {
            o.extend(["-C".to_string(), p.confidence.to_string()]);
        }
        if !p.subtree_raising {
            o.push("-S".into());
        }
    }
    if p.min_leaf != 2 {
        o.extend(["-M".to_string(), p.min_leaf.to_string()]);
    }
    if p.binary_splits {
        o.push("-B".into());
    }
    o
}

/// Fits ours and Weka's with `p` and compares trees (and predictions when `predictions`).
pub fn check(
    d: &Dataset,
    target: usize,
    p: &C45Params,
    weights: Option<&[f64]>,
    predictions: bool,
    what: &str,
) {
    let tree = c45(d, target, p, weights).unwrap();
    let o = opts(p);
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    let what = format!("{what} {o:?}");
    compare_j48(&tree, d, target, weights, &o, &what);
    if predictions {
        let w = weka_predictions("weka.classifiers.trees.J48", d, target, weights, &o);
        compare_predictions(&tree, d, &w, &what);
    }
}

fn variants() -> Vec<C45Params> {
    let d = C45Params::default;
    vec![
        d(),
        C45Params {
            unpruned: true,
            ..d()
        },
        C45Params {
            subtree_raising: false,
            ..d()
        },
        C45Params {
            confidence: 0.1,
            ..d()
        },
        C45Params {
            confidence: 0.45,
            ..d()
        },
        C45Params { min_leaf: 5, ..d() },
        C45Params {
            binary_splits: true,
            ..d()
        },
    ]
}

#[test]
fn weather_nominal_and_numeric_match_weka() {
    let Ok(()) = require_weka() else { return };
    for p in variants() {
        check(&weather(true), 4, &p, None, true, "weather.nominal");
        check(&weather(false), 4, &p, None, true, "weather.numeric");
    }
    // The numeric weather tree splits humidity at 75, a data value, not the midpoint 77.5.
    let t = c45(&weather(false), 4, &C45Params::default(), None).unwrap();
    assert!(
        t.to_text().contains("humidity <= 75: yes (2.0)\n"),
        "{}",
        t.to_text()
    );
}

#[test]
fn iris_matches_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = iris() else { return };
    for p in variants() {
        check(&d, 4, &p, None, true, "iris");
    }
}

#[test]
fn taobao_users_match_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(nom) = taobao_users(true, usize::MAX) else {
        return;
    };
    let Ok(num) = taobao_users(false, usize::MAX) else {
        return;
    };
    for p in [
        C45Params::default(),
        C45Params {
            unpruned: true,
            ..C45Params::default()
        },
    ] {
        check(&nom, 4, &p, None, false, "taobao nominal");
        check(&num, 4, &p, None, false, "taobao numeric");
    }
    check(
        &num,
        4,
        &C45Params {
            binary_splits: true,
            ..C45Params::default()
        },
        None,
        false,
        "taobao numeric",
    );
}

/// 4,300 customers with RFM numbers and 37 countries: deep trees where collapsing, pruning and
/// subtree raising all change the result.
#[test]
fn retail_customers_match_weka_with_every_option() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = retail_customers() else { return };
    assert!(d.rows() > 4000);
    let pruned = c45(&d, 6, &C45Params::default(), None).unwrap();
    let unpruned = c45(
        &d,
        6,
        &C45Params {
            unpruned: true,
            ..C45Params::default()
        },
        None,
    )
    .unwrap();
    let no_raise = c45(
        &d,
        6,
        &C45Params {
            subtree_raising: false,
            ..C45Params::default()
        },
        None,
    )
    .unwrap();
    assert!(pruned.size() < unpruned.size(), "pruning matters here");
    assert_ne!(
        pruned.to_text(),
        no_raise.to_text(),
        "subtree raising matters here"
    );
    for (i, p) in variants().iter().enumerate() {
        check(&d, 6, p, None, i == 0, "retail customers");
    }
}

#[test]
fn instance_weights_match_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = retail_customers() else { return };
    let w: Vec<f64> = (0..d.rows())
        .map(|r| [1.0, 0.5, 2.25, 0.0, 1.5][r % 5])
        .collect();
    check(
        &d,
        6,
        &C45Params::default(),
        Some(&w),
        true,
        "weighted retail",
    );
    check(
        &d,
        6,
        &C45Params {
            unpruned: true,
            ..C45Params::default()
        },
        Some(&w),
        false,
        "weighted retail",
    );
    let Ok(iris) = iris() else { return };
    let w: Vec<f64> = (0..iris.rows())
        .map(|r| 0.5 + (r % 7) as f64 * 0.3)
        .collect();
    check(
        &iris,
        4,
        &C45Params::default(),
        Some(&w),
        true,
        "weighted iris",
    );
}

/// The JSON mirrors the printed tree: same counts, and each child's condition is a line of it.
#[test]
fn json_export_follows_the_tree() {
    let t = c45(&weather(false), 4, &C45Params::default(), None).unwrap();
    let j = t.to_json();
    assert_eq!(j["algorithm"], "J48");
    assert_eq!(j["leaves"], t.leaves());
    assert_eq!(j["size"], t.size());
    assert_eq!(j["classes"], serde_json::json!(["yes", "no"]));
    fn walk(n: &serde_json::Value, text: &str, count: &mut usize) {
        *count += 1;
        let dist: f64 = n["distribution"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((dist - n["weight"].as_f64().unwrap()).abs() < 1e-9);
        for c in n["children"].as_array().into_iter().flatten() {
            assert!(text.contains(c["condition"].as_str().unwrap()), "{c}");
            walk(&c["node"], text, count);
        }
    }
    let mut count = 0;
    walk(&j["root"], &t.to_text(), &mut count);
    assert_eq!(count, t.size());
    assert_eq!(j["root"]["split"]["attribute"], "outlook");
    let sunny = &j["root"]["children"][0]["node"];
    assert_eq!(
        sunny["split"],
        serde_json::json!({"attribute": "humidity", "kind": "numeric", "value": 75.0})
    );
}

/// Nominal attributes with at least 0.3 × rows values are left out of the average gain
/// (unless every attribute is like that, Weka's `multiVal`) but may still be chosen.
#[test]
fn many_valued_nominal_attributes_match_weka() {
    let Ok(()) = require_weka() else { return };
    let w = weather(false);
    let days: Vec<String> = (1..=14).map(|i| format!("d{i}")).collect();
    let day_refs: Vec<&str> = days.iter().map(String::as_str).collect();
    let mut cols = vec![nominal("day", &day_refs, &day_refs)];
    cols.extend(w.columns().iter().cloned());
    let d = Dataset::new(cols).unwrap();
    let all_many = Dataset::new(vec![
        nominal(
            "a",
            &["p", "q", "r", "s", "p", "q", "r", "s", "p", "q"],
            &["p", "q", "r", "s"],
        ),
        nominal(
            "b",
            &["x", "y", "z", "x", "y", "z", "x", "y", "z", "x"],
            &["x", "y", "z"],
        ),
        nominal(
            "c",
            &["t", "t", "f", "f", "t", "f", "t", "f", "f", "t"],
            &["t", "f"],
        ),
    ])
    .unwrap();
    for min_leaf in [1, 2] {
        for binary_splits in [false, true] {
            let p = C45Params {
                min_leaf,
                binary_splits,
                ..C45Params::default()
            };
            check(&d, 5, &p, None, true, "weather with a day id");
            let u = C45Params {
                unpruned: true,
                ..p.clone()
            };
            check(&d, 5, &u, None, true, "weather with a day id");
            check(&all_many, 2, &p, None, true, "many-valued only");
            check(&all_many, 2, &u, None, true, "many-valued only");
        }
    }
}
