//! ID3 against Weka 3.6's `weka.classifiers.trees.Id3` run for real on the same ARFF (whole
//! printed tree byte for byte, every prediction), a hand-worked weather case, and the bad
//! inputs both tree learners refuse.

mod refs;
#[path = "tree_support/mod.rs"]
mod support;

use storepulse_mining::tree::{C45Params, c45, id3};
use storepulse_mining::{Column, Dataset, MiningError};
use support::*;

fn compare_id3(d: &Dataset, target: usize, what: &str) {
    let tree = id3(d, target).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("train.arff");
    std::fs::write(&f, arff(d, None)).unwrap();
    let out = run_weka("weka.classifiers.trees.Id3", &f, target, &[], &["-no-cv"]);
    if std::env::var_os("STOREPULSE_TREE_DUMP").is_some() {
        eprintln!("=== {what}: {} leaves\n{}", tree.leaves(), tree.to_text());
    }
    assert_same_text(&tree.to_text(), &parse_id3(&out).body, what);
    let preds = weka_predictions("weka.classifiers.trees.Id3", d, target, None, &[]);
    for (r, (cls, dist)) in preds.iter().enumerate() {
        let ours = tree.predict(d, r);
        if dist.iter().all(|&p| p == 0.0) {
            // A "null" leaf: Weka prints an all-zero distribution.
            assert!(ours.iter().all(|&p| p == 0.0), "{what}: row {}", r + 1);
            continue;
        }
        for (a, b) in ours.iter().zip(dist) {
            assert!(
                (a - b).abs() <= 0.0005 + 1e-9,
                "{what}: row {} {ours:?} vs {dist:?}",
                r + 1
            );
        }
        assert_eq!(tree.classify(d, r), *cls, "{what}: row {}", r + 1);
    }
}

/// The 14-day weather table, 9 yes / 5 no: H(S) = -(9/14)log2(9/14) - (5/14)log2(5/14) = 0.940.
/// Gains at the root: outlook 0.940 - (5/14·0.971 + 4/14·0 + 5/14·0.971) = 0.247,
/// temperature 0.940 - (4/14·1 + 6/14·0.918 + 4/14·0.811) = 0.029,
/// humidity 0.940 - (7/14·0.985 + 7/14·0.592) = 0.152, windy 0.940 - (8/14·0.811 + 6/14·1)
/// = 0.048: outlook. Sunny (2 yes, 3 no, H = 0.971): humidity splits it purely (high 0/3,
/// normal 2/0, gain 0.971) against temperature 0.571 and windy 0.020. Overcast is all yes.
/// Rainy (3 yes, 2 no): windy is pure (FALSE 3/0, TRUE 0/2, gain 0.971) against humidity and
/// temperature 0.020 each.
#[test]
fn id3_on_the_weather_table_matches_the_hand_worked_tree() {
    let d = weather(true);
    let tree = id3(&d, 4).unwrap();
    let expected = "outlook = sunny\n\
                    |  humidity = high: no\n\
                    |  humidity = normal: yes\n\
                    outlook = overcast: yes\n\
                    outlook = rainy\n\
                    |  windy = TRUE: no\n\
                    |  windy = FALSE: yes\n";
    assert_eq!(tree.to_text(), expected);
    assert_eq!((tree.leaves(), tree.size()), (5, 8));
    // Row 6 is rainy and windy: no, with certainty.
    assert_eq!(tree.predict(&d, 5), vec![0.0, 1.0]);
    assert_eq!(tree.classify(&d, 5), 1);
    if require_weka().is_ok() {
        compare_id3(&d, 4, "weather");
    }
}

/// A level no instance has gives Weka's "null" leaf; the class first tests `-c`.
#[test]
fn id3_null_leaves_and_a_leading_target_match_weka() {
    let Ok(()) = require_weka() else { return };
    let w = weather(true);
    let mut cols: Vec<Column> = w.columns().to_vec();
    let Column::Nominal { levels, .. } = &mut cols[0] else {
        unreachable!()
    };
    levels.push("foggy".into());
    cols.rotate_right(1);
    let d = Dataset::new(cols).unwrap();
    let tree = id3(&d, 0).unwrap();
    assert!(
        tree.to_text().contains("outlook = foggy: null\n"),
        "{}",
        tree.to_text()
    );
    compare_id3(&d, 0, "weather with an unused level");
}

#[test]
fn id3_on_taobao_users_matches_weka() {
    let Ok(()) = require_weka() else { return };
    let Ok(d) = taobao_users(true, usize::MAX) else {
        return;
    };
    assert!(d.rows() > 60_000);
    compare_id3(&d, 4, "taobao users");
}

#[test]
fn id3_refuses_numeric_attributes_and_missing_values_naming_them() {
    let e = id3(&weather(false), 4).unwrap_err();
    assert!(
        matches!(&e, MiningError::BadParameter { name, .. } if name == "temperature"),
        "{e}"
    );
    let d = with_missing(&weather(true), &[2], 0.3, 7);
    let Column::Nominal { values, .. } = &d.columns()[2] else {
        unreachable!()
    };
    let row = values.iter().position(Option::is_none).unwrap() + 1;
    assert_eq!(
        id3(&d, 4).unwrap_err(),
        MiningError::Missing {
            column: "humidity".into(),
            row,
            what: "ID3".into()
        }
    );
}

#[test]
fn both_learners_refuse_bad_targets_and_parameters() {
    let d = weather(false);
    let p = C45Params::default();
    // A numeric target: name it, say to declare it categorical.
    for e in [id3(&d, 1).unwrap_err(), c45(&d, 1, &p, None).unwrap_err()] {
        let MiningError::BadParameter { name, message } = &e else {
            panic!("{e}")
        };
        assert_eq!(name, "temperature");
        assert!(message.contains("nominal"), "{message}");
    }
    // Out of range.
    let e = c45(&d, 9, &p, None).unwrap_err();
    assert!(
        matches!(&e, MiningError::BadParameter { name, .. } if name == "target"),
        "{e}"
    );
    // One class.
    let one = Dataset::new(vec![
        numeric("x", vec![1.0, 2.0, 3.0]),
        nominal("y", &["a", "a", "a"], &["a", "b"]),
    ])
    .unwrap();
    assert_eq!(
        c45(&one, 1, &p, None).unwrap_err(),
        MiningError::OneClass {
            column: "y".into(),
            class: "a".into()
        }
    );
    // No labelled rows.
    let none = Dataset::new(vec![
        numeric("x", vec![1.0, 2.0]),
        Column::nominal::<&str>("y", &[None, None], Some(vec!["a".into(), "b".into()])).unwrap(),
    ])
    .unwrap();
    assert!(matches!(id3(&none, 1).unwrap_err(), MiningError::Empty(_)));
    // Weights and confidence.
    let e = c45(&d, 4, &p, Some(&[1.0; 3])).unwrap_err();
    assert!(
        matches!(&e, MiningError::BadParameter { name, .. } if name == "weights"),
        "{e}"
    );
    let mut w = vec![1.0; 14];
    w[4] = -1.0;
    let e = c45(&d, 4, &p, Some(&w)).unwrap_err();
    assert!(e.to_string().contains("row 5"), "{e}");
    let bad = C45Params {
        confidence: 0.0,
        ..C45Params::default()
    };
    let e = c45(&d, 4, &bad, None).unwrap_err();
    assert!(
        matches!(&e, MiningError::BadParameter { name, .. } if name == "confidence"),
        "{e}"
    );
    // A level index outside the declared levels, and a non-finite number.
    let mut cols = d.columns().to_vec();
    if let Column::Nominal { values, .. } = &mut cols[0] {
        values[2] = Some(7);
    }
    let e = c45(&Dataset::new(cols).unwrap(), 4, &p, None).unwrap_err();
    assert!(
        e.to_string().contains("outlook") && e.to_string().contains("row 3"),
        "{e}"
    );
    let mut cols = d.columns().to_vec();
    if let Column::Numeric { values, .. } = &mut cols[2] {
        values[0] = Some(f64::NAN);
    }
    let e = c45(&Dataset::new(cols).unwrap(), 4, &p, None).unwrap_err();
    assert!(
        e.to_string().contains("humidity") && e.to_string().contains("row 1"),
        "{e}"
    );
}
