//! `storepulse mine` and `/v1/mining` end to end, through the real binary and a real server:
//! rules from the Groceries basket file equal the mining crate's own (whose equality with
//! mlxtend is tested in `crates/mining`), clusters from a CSV, segments and baskets over an
//! imported Online Retail lake saved into the results table and checked against SQL, the API
//! with its run log, and every bad input with the message it must get.

mod common;

use common::{BIN, Server, create_key, db_query, free_port, sp};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn datasets() -> PathBuf {
    std::env::var_os("STOREPULSE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"))
}

fn json_out(data: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_slice(&sp(data, &a).stdout).expect("JSON output")
}

fn table<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {r}"))
}

/// (exit code, stderr) of a run expected to fail.
fn fails(data: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[test]
fn rules_from_the_groceries_file_are_every_rule_the_algorithm_finds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = datasets().join("groceries/groceries.csv");
    let f = file.to_str().unwrap();
    let args = [
        "mine",
        "rules",
        "--baskets",
        f,
        "--min-support",
        "0.006",
        "--min-confidence",
        "0.25",
        "--limit",
        "100000",
    ];
    let r = json_out(&data, &args);
    // The same mining, called directly.
    let text = std::fs::read_to_string(&file).unwrap();
    let b = mining::Baskets::parse(&text, ',', false);
    let sets =
        mining::rules::frequent_itemsets(&b, &mining::rules::ItemsetParams::new(0.006)).unwrap();
    let want = mining::rules::rules(
        &sets,
        b.len() as u64,
        &mining::rules::RuleParams::new(mining::rules::Metric::Confidence, 0.25),
    )
    .unwrap();
    let key = |a: &str, c: &str| format!("{a} => {c}");
    let mut expected: Vec<(String, [f64; 3])> = want
        .iter()
        .map(|r| {
            (
                key(
                    &mining::rules::display(&r.antecedent, &b.items),
                    &mining::rules::display(&r.consequent, &b.items),
                ),
                [round6(r.support), round6(r.confidence), round6(r.lift)],
            )
        })
        .collect();
    let mut got: Vec<(String, [f64; 3])> = table(&r, "rules")["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                key(row[0].as_str().unwrap(), row[1].as_str().unwrap()),
                [
                    row[4].as_f64().unwrap(),
                    row[5].as_f64().unwrap(),
                    row[6].as_f64().unwrap(),
                ],
            )
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    assert_eq!(r["summary"]["transactions"], json!(9835));
    assert_eq!(r["summary"]["itemsets"], json!(sets.len()));
    // Apriori and Eclat print the very same tables.
    for algo in ["apriori", "eclat"] {
        let mut a = args.to_vec();
        a.extend(["--algo", algo]);
        assert_eq!(json_out(&data, &a)["tables"], r["tables"], "{algo}");
    }
    // --out writes the rules as CSV with a header.
    let out = dir.path().join("rules.csv");
    let mut a = args.to_vec();
    a.extend(["--out", out.to_str().unwrap()]);
    sp(&data, &a);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("antecedent,consequent,antecedent_support"));
    assert_eq!(csv.lines().count(), want.len() + 1);
}

#[test]
fn clusters_of_a_csv_find_its_groups_and_label_each_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("points.csv");
    let mut rows = String::from("name,spend,visits,city\n");
    // Three tight groups far apart; the city column is text and must be left out.
    for (g, (x, y)) in [(0.0, 0.0), (100.0, 5.0), (50.0, 90.0)].iter().enumerate() {
        for i in 0..20 {
            let d = i as f64 * 0.1;
            rows.push_str(&format!("g{g}-{i},{},{},c{}\n", x + d, y - d, i % 3));
        }
    }
    std::fs::write(&csv, rows).unwrap();
    let c = csv.to_str().unwrap();
    for algo in ["kmeans", "kmedoids"] {
        let r = json_out(
            &data,
            &[
                "mine", "cluster", "--data", c, "--algo", algo, "--k", "3", "--id", "name",
            ],
        );
        let labels = table(&r, "labels")["rows"].as_array().unwrap().clone();
        assert_eq!(labels.len(), 60);
        let label_of = |row: &Value| row[1].as_i64().unwrap();
        for g in 0..3 {
            let first = label_of(&labels[g * 20]);
            assert!(
                labels[g * 20..g * 20 + 20]
                    .iter()
                    .all(|r| label_of(r) == first),
                "{algo}: group {g} split"
            );
            assert_eq!(labels[g * 20][0], json!(format!("g{g}-0")));
        }
        let firsts: std::collections::BTreeSet<i64> =
            (0..3).map(|g| label_of(&labels[g * 20])).collect();
        assert_eq!(firsts.len(), 3, "{algo}: groups merged");
        assert_eq!(r["summary"]["features"], json!(["spend", "visits"]));
    }
    // Without k, k-means chooses 3 by silhouette.
    let r = json_out(&data, &["mine", "cluster", "--data", c]);
    assert_eq!(r["summary"]["k"], json!(3));
    assert_eq!(r["summary"]["k_chosen_by"], json!("silhouette"));
    // DBSCAN in standardised units: three clusters, no noise.
    let r = json_out(
        &data,
        &[
            "mine", "cluster", "--data", c, "--algo", "dbscan", "--eps", "0.3",
        ],
    );
    assert_eq!(r["summary"]["clusters"], json!(3));
    assert_eq!(r["summary"]["noise"], json!(0));
}

#[test]
fn bad_inputs_get_a_message_naming_what_is_wrong_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let bad_number = write("n.csv", "a,b\n1,2\n3,x7\n");
    let one_class = write("c.csv", "a,y\n1,yes\n2,yes\n3,yes\n");
    let tiny = write("t.csv", "a,b\n1,2\n3,4\n");
    let empty = write("e.csv", "a,b\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "mine",
                "cluster",
                "--data",
                &bad_number,
                "--numeric",
                "b",
                "--k",
                "1",
            ],
            "column \"b\", row 2: \"x7\" is not a number",
        ),
        (
            vec!["mine", "tree", "--data", &one_class, "--target", "y"],
            "only one class",
        ),
        (
            vec!["mine", "cluster", "--data", &tiny, "--k", "5"],
            "k = 5 is larger than the 2 rows",
        ),
        (
            vec!["mine", "cluster", "--data", &empty, "--k", "2"],
            "no rows",
        ),
        (
            vec!["mine", "tree", "--data", &tiny, "--target", "bb"],
            "did you mean b?",
        ),
        (
            vec!["mine", "rules", "--data", &tiny, "--k", "2"],
            "--k does not apply to rules",
        ),
        (vec!["mine", "clustr"], "did you mean cluster?"),
        (
            vec![
                "mine", "cluster", "--data", &tiny, "--algo", "kmeens", "--k", "1",
            ],
            "did you mean kmeans?",
        ),
        (
            vec!["mine", "cluster", "--data", &tiny, "--sql", "select 1"],
            "give exactly one input",
        ),
        (
            vec!["mine", "rules", "--data", &tiny, "--min-support", "0"],
            "min_support",
        ),
    ];
    for (args, says) in cases {
        let (code, err) = fails(&data, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    }
}

#[test]
fn segments_and_baskets_over_the_lake_are_saved_checked_by_sql_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let retail = datasets().join("online_retail/online_retail.csv.gz");
    sp(
        &data,
        &[
            "import",
            retail.to_str().unwrap(),
            "--format",
            "online-retail",
            "--quiet",
        ],
    );
    // Segments: shares of customers and revenue add up, names are distinct, best first.
    let r = json_out(&data, &["mine", "segments", "--k", "4", "--save"]);
    let segs = table(&r, "segments")["rows"].as_array().unwrap().clone();
    assert_eq!(segs.len(), 4);
    let sum = |c: usize| segs.iter().map(|s| s[c].as_f64().unwrap()).sum::<f64>();
    assert!((sum(4) - 1.0).abs() < 1e-3 && (sum(5) - 1.0).abs() < 1e-3);
    let customers: u64 = segs.iter().map(|s| s[3].as_u64().unwrap()).sum();
    assert_eq!(json!(customers), r["summary"]["customers"]);
    let names: std::collections::BTreeSet<&str> =
        segs.iter().map(|s| s[1].as_str().unwrap()).collect();
    assert_eq!(names.len(), 4);
    assert!(
        segs[0][8].as_f64() > segs[3][8].as_f64(),
        "best first: {segs:?}"
    );
    // Own features by SQL: every customer in one segment, shares adding up.
    let own = json_out(
        &data,
        &[
            "mine",
            "segments",
            "--k",
            "3",
            "--customers",
            "--sql",
            "SELECT user_id, count(DISTINCT order_id) AS frequency, sum(amount) AS monetary
             FROM orders WHERE status = 'create' AND user_id IS NOT NULL GROUP BY user_id",
        ],
    );
    let rows = table(&own, "segments")["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 3);
    let n: u64 = rows.iter().map(|r| r[2].as_u64().unwrap()).sum();
    assert_eq!(json!(n), r["summary"]["customers"]);
    assert_eq!(
        table(&own, "customers")["rows"].as_array().unwrap().len() as u64,
        n
    );
    let money: f64 = rows.iter().map(|r| r[4].as_f64().unwrap()).sum();
    assert!((money - 1.0).abs() < 1e-3, "{rows:?}");
    // Baskets: the top rule's support is the share of orders holding both items, by SQL.
    let b = json_out(
        &data,
        &[
            "mine",
            "baskets",
            "--min-support",
            "0.01",
            "--limit",
            "5",
            "--save",
        ],
    );
    let top = &table(&b, "rules")["rows"][0];
    let (ante, cons) = (top[1].as_str().unwrap(), top[2].as_str().unwrap());
    assert!(
        !ante.contains(", ") && !cons.contains(", "),
        "a 1→1 rule on top: {top}"
    );
    let title = |s: &str| s.trim_matches(['{', '}']).replace('\'', "''");
    let sql = format!(
        "WITH o AS (SELECT DISTINCT o.order_id, i.title FROM orders o JOIN items i
                    ON o.item_id = i.item_id AND o.shop = i.shop WHERE o.status = 'create')
         SELECT CAST(count(*) AS DOUBLE) / (SELECT count(DISTINCT order_id) FROM orders
                                             WHERE status = 'create' AND item_id IS NOT NULL)
         FROM (SELECT order_id FROM o WHERE title IN ('{}', '{}')
               GROUP BY order_id HAVING count(*) = 2)",
        title(ante),
        title(cons)
    );
    let out = sp(&data, &["query", &sql, "--format", "csv"]);
    let support: f64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (round6(support) - top[5].as_f64().unwrap()).abs() < 1e-9,
        "SQL {support} vs {top}"
    );
    // Both results are in the results table.
    let out = sp(
        &data,
        &[
            "query",
            "select job, count(*) as n from results group by job order by job",
            "--format",
            "csv",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("mine:baskets,") && text.contains("mine:segments,"),
        "{text}"
    );

    // Drivers: the customers and the share who buy again, counted by SQL from the same cut.
    let d = json_out(&data, &["mine", "drivers", "--as-of", "2011-10-01"]);
    let count = |sql: &str| -> f64 {
        let out = sp(&data, &["query", sql, "--format", "csv"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let before =
        "SELECT DISTINCT user_id FROM orders WHERE status = 'create' AND user_id IS NOT NULL
                  AND ts < TIMESTAMP '2011-10-01T00:00:00Z'";
    let customers = count(&format!("SELECT count(*) FROM ({before})"));
    let again = count(&format!(
        "SELECT count(*) FROM ({before}) b WHERE b.user_id IN (SELECT user_id FROM orders
         WHERE status = 'create' AND ts >= TIMESTAMP '2011-10-01T00:00:00Z'
         AND ts < TIMESTAMP '2011-10-31T00:00:00Z')"
    ));
    assert_eq!(d["summary"]["customers"].as_f64(), Some(customers));
    assert_eq!(
        d["summary"]["buys_again_share"].as_f64(),
        Some((again / customers * 1e4).round() / 1e4)
    );
    assert!(
        d["summary"]["test_accuracy"].as_f64().unwrap() > 0.5,
        "{}",
        d["summary"]
    );
    assert_eq!(
        d["summary"]["train_rows"].as_u64().unwrap() + d["summary"]["test_rows"].as_u64().unwrap(),
        customers as u64
    );

    // The same over HTTP, with the run log.
    let key = create_key(&data, "analyst", &["read"], None);
    let s = Server::start(&data, free_port(), &[]);
    let c = reqwest::blocking::Client::new();
    let post = |task: &str, body: Value| {
        let r = c
            .post(format!("{}/v1/mining/{task}", s.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (code, seg) = post("segments", json!({"k": 4}));
    assert_eq!(code, 200, "{seg}");
    assert_eq!(table(&seg, "segments")["rows"], json!(segs));
    let (code, rules) = post(
        "rules",
        json!({"sql": "SELECT order_id, CAST(item_id AS VARCHAR) AS item FROM orders WHERE status = 'create'",
               "min_support": 0.02, "min_threshold": 0.3}),
    );
    assert_eq!(code, 200, "{rules}");
    assert!(rules["summary"]["rules"].as_u64().unwrap() > 0, "{rules}");
    let (code, err) = post("rules", json!({"data": "/etc/passwd"}));
    assert_eq!(code, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the API reads the lake only"),
        "{err}"
    );
    let (code, err) = post("segmnets", json!({}));
    assert_eq!(code, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean segments?")
    );
    let runs: Value = c
        .get(format!("{}/v1/mining/runs", s.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let got: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["task"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [("rules", "failed"), ("rules", "ok"), ("segments", "ok")]
    );
    let tasks: Value = c
        .get(format!("{}/v1/mining", s.url))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let registry: Vec<&str> = mine::registry::names().collect();
    assert_eq!(names, registry);
}

#[test]
fn hour_category_groups_every_category_once_and_counts_every_buy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    sp(
        &data,
        &[
            "gen", "--events", "200K", "--days", "2", "--seed", "3", "--format", "lake",
        ],
    );
    let r = json_out(&data, &["mine", "hour-category", "--min-events", "1"]);
    let cats = table(&r, "categories")["rows"].as_array().unwrap().clone();
    let names: std::collections::BTreeSet<&str> =
        cats.iter().map(|c| c[1].as_str().unwrap()).collect();
    assert_eq!(names.len(), cats.len(), "a category listed twice");
    let events: u64 = cats.iter().map(|c| c[3].as_u64().unwrap()).sum();
    let out = sp(
        &data,
        &[
            "query",
            "SELECT count(*) AS n, count(DISTINCT category_id) AS c FROM behavior
             WHERE action = 'buy' AND category_id IS NOT NULL",
            "--format",
            "csv",
        ],
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(line, format!("{events},{}", cats.len()));
    // Each group's categories and events add up to its members'.
    let groups = table(&r, "groups")["rows"].as_array().unwrap().clone();
    for g in &groups {
        let members: Vec<&Value> = cats.iter().filter(|c| c[2] == g[1]).collect();
        assert_eq!(g[2].as_u64(), Some(members.len() as u64));
        let ev: u64 = members.iter().map(|c| c[3].as_u64().unwrap()).sum();
        assert_eq!(g[3].as_u64(), Some(ev));
        let shares: f64 = g.as_array().unwrap()[6..]
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((shares - 1.0).abs() < 1e-3, "{g}");
    }
}

#[test]
fn rules_upserted_into_postgres_are_every_rule_once_after_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let prefix = format!("sp_mine_{}_", std::process::id());
    let cfg = dir.path().join("sink.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sink]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\ntable_prefix = \"{prefix}\"\n"
        ),
    )
    .unwrap();
    let file = datasets().join("groceries/groceries.csv");
    let run = || {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&cfg)
            .args([
                "--json",
                "mine",
                "rules",
                "--min-support",
                "0.01",
                "--sink",
                "--baskets",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let psql = |sql: &str| db_query("postgres", sql).join("\n");
    let r = run();
    run();
    let table = format!("{prefix}mining_rules_rules");
    let n = psql(&format!("SELECT count(*) FROM {table}"));
    assert_eq!(n, r["summary"]["rules"].to_string());
    let top = &table_rows(&r, "rules")[0];
    let conf = psql(&format!(
        "SELECT confidence FROM {table} WHERE antecedent = '{}' AND consequent = '{}'",
        top[0].as_str().unwrap(),
        top[1].as_str().unwrap()
    ));
    assert_eq!(conf.parse::<f64>().unwrap(), top[5].as_f64().unwrap());
    for t in ["rules_rules", "rules_itemsets"] {
        psql(&format!("DROP TABLE IF EXISTS {prefix}mining_{t}"));
    }
}

fn table_rows(r: &Value, name: &str) -> Vec<Value> {
    table(r, name)["rows"].as_array().unwrap().clone()
}
