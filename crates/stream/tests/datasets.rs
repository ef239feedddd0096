//! The real data sets through the jobs, checked against values computed here independently
//! (straight from the CSV text, by brute force — not from the engine's own output).

mod common;

use common::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use storepulse_stream as stream;
use stream::Kind;
use stream::replay::replay_file;

fn dataset(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn replay(
    path: &Path,
    format: &str,
    name: &str,
    c: stream::JobConfig,
) -> (Vec<stream::Emission>, stream::replay::ReplayReport) {
    let zone: store::Zone = "+08:00".parse().unwrap();
    let mut j = stream::build(name, &c, zone).unwrap();
    let mut opts = collect::ParseOptions::new(format.parse().unwrap());
    opts.line.rules = model::Rules::default().pinned();
    let mut out = Vec::new();
    let report = replay_file(
        &collect::Input::Path(path.to_path_buf()),
        opts,
        j.as_mut(),
        &mut |es| {
            out.extend_from_slice(es);
            Ok(())
        },
        &|_| {},
    )
    .unwrap();
    (out, report)
}

/// (ts_ms, user, item, action) of every Taobao row, parsed here.
fn taobao(path: &Path) -> Vec<(i64, i64, i64, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[4].parse::<i64>().unwrap() * 1000,
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn taobao_hourly_pv_and_uv_match_an_independent_count() {
    let Some(path) = dataset("taobao_userbehavior/UserBehavior.csv") else {
        return;
    };
    let rows = taobao(&path);
    let mut pv: BTreeMap<i64, u64> = BTreeMap::new();
    let mut users: BTreeMap<i64, HashSet<i64>> = BTreeMap::new();
    for (ts, user, _, action) in &rows {
        let hour = ts - ts.rem_euclid(H);
        if action == "pv" {
            *pv.entry(hour).or_default() += 1;
        }
        users.entry(hour).or_default().insert(*user);
    }
    let (out, report) = replay(
        &path,
        "taobao",
        "kpis",
        cfg(&[("windows", "1h"), ("ooo", "0")]),
    );
    assert_eq!(report.rows, 110_300);
    assert_eq!(report.counters.late, 0);
    let got: BTreeMap<i64, (u64, usize)> = of_kind(&out, Kind::Result)
        .iter()
        .map(|e| (e.start, (metric(e, "pv") as u64, metric(e, "uv") as usize)))
        .collect();
    let want: BTreeMap<i64, (u64, usize)> = users
        .iter()
        .map(|(h, u)| (*h, (pv.get(h).copied().unwrap_or(0), u.len())))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.values().map(|v| v.0).sum::<u64>(), 98_361);
}

#[test]
fn taobao_hot_items_match_a_brute_force_top5_of_every_window() {
    let Some(path) = dataset("taobao_userbehavior/UserBehavior.csv") else {
        return;
    };
    let views: Vec<(i64, i64)> = taobao(&path)
        .into_iter()
        .filter(|r| r.3 == "pv")
        .map(|r| (r.0, r.2))
        .collect();
    let (slide, size) = (5 * MIN, H);
    let lo = views.iter().map(|v| v.0).min().unwrap();
    let hi = views.iter().map(|v| v.0).max().unwrap();
    let mut want: BTreeMap<i64, Vec<(String, f64)>> = BTreeMap::new();
    let mut end = lo - lo.rem_euclid(slide) + slide;
    while end - size <= hi {
        let mut counts: HashMap<i64, u64> = HashMap::new();
        for (ts, item) in &views {
            if *ts >= end - size && *ts < end {
                *counts.entry(*item).or_default() += 1;
            }
        }
        if !counts.is_empty() {
            let mut v: Vec<(i64, u64)> = counts.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(5);
            want.insert(
                end,
                v.into_iter()
                    .map(|(i, c)| (i.to_string(), c as f64))
                    .collect(),
            );
        }
        end += slide;
    }
    let (out, _) = replay(&path, "taobao", "hot-items", cfg(&[("ooo", "0")]));
    let got: BTreeMap<i64, Vec<(String, f64)>> =
        finals(&out).values().map(|e| (e.end, pairs(e))).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // Ranks are 1..=5 in order.
    let e = of_kind(&out, Kind::Result)[10];
    let ranks: Vec<u32> = e.rows.iter().filter_map(|r| r.rank).collect();
    assert_eq!(ranks, vec![1, 2, 3, 4, 5]);
}

#[test]
fn course_ad_clicks_blacklist_one_pair_and_count_provinces_after_filtering() {
    let Some(path) = dataset("course_logs/AdClickLog.csv") else {
        return;
    };
    // Independent: per (user, ad, local day) click counts in file order; clicks past 100 dropped.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut per_pair: HashMap<(String, String, i64), u64> = HashMap::new();
    let mut kept: Vec<(i64, String)> = Vec::new();
    let mut crossed = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(',').collect();
        let ts = f[4].trim().parse::<i64>().unwrap() * 1000;
        let day = (ts + 8 * H).div_euclid(24 * H);
        let n = per_pair
            .entry((f[0].to_string(), f[1].to_string(), day))
            .or_default();
        *n += 1;
        if *n == 100 {
            crossed.push((f[0].to_string(), f[1].to_string()));
        }
        if *n <= 100 {
            kept.push((ts, f[2].to_string()));
        }
    }
    assert_eq!(crossed, vec![("937166".to_string(), "1715".to_string())]);

    let (out, report) = replay(&path, "ad-click", "ad-clicks", cfg(&[("ooo", "1min")]));
    assert_eq!(report.counters.late, 0);
    let black = of_kind(&out, Kind::Blacklist);
    assert_eq!(black.len(), 1);
    let k: Vec<String> = black[0].rows[0]
        .keys
        .iter()
        .map(|k| k.1.to_string())
        .collect();
    assert_eq!(k, vec!["937166", "1715"]);
    assert_eq!(report.counters.filtered, 21);

    // Every 1 h / 5 s window: provinces counted over the kept clicks, ties by name.
    let got = finals(&out);
    assert!(got.len() > 100);
    for (key, e) in &got {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (ts, prov) in &kept {
            if *ts >= key.1 && *ts < key.2 {
                *counts.entry(prov.clone()).or_default() += 1;
            }
        }
        let mut want: Vec<(String, f64)> = counts.into_iter().map(|(p, c)| (p, c as f64)).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(pairs(e), want, "window {key:?}");
    }
    // The whole day in one window: beijing keeps 123 - 21 clicks.
    let (day, _) = replay(
        &path,
        "ad-click",
        "ad-clicks",
        cfg(&[("window", "1d"), ("slide", "1d"), ("ooo", "1min")]),
    );
    let day = of_kind(&day, Kind::Result);
    assert_eq!(day.len(), 1);
    assert_eq!(pairs(day[0])[0], ("beijing".to_string(), 102.0));
}

#[test]
fn course_access_log_hot_pages_count_gets_only_and_no_static_files() {
    let Some(path) = dataset("course_logs/apache.log") else {
        return;
    };
    // Every GET of a non-static path, with its time, parsed here.
    let text = std::fs::read_to_string(&path).unwrap();
    let statics = [
        ".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".woff", ".ttf",
    ];
    let mut pages: Vec<(i64, String)> = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f.len() < 7 || f[5] != "GET" {
            continue;
        }
        let url = f[6];
        let path_only = url.split(['?', '#']).next().unwrap().to_ascii_lowercase();
        if statics.iter().any(|s| path_only.ends_with(s)) {
            continue;
        }
        let ts = chrono::NaiveDateTime::parse_from_str(f[3], "%d/%m/%Y:%H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis();
        pages.push((ts, url.to_string()));
    }
    let (out, report) = replay(
        &path,
        "access-log",
        "hot-pages",
        cfg(&[
            ("window", "1d"),
            ("slide", "1d"),
            ("top", "3"),
            ("ooo", "1min"),
        ]),
    );
    assert_eq!(report.counters.late, 0);
    assert_eq!(report.counters.events, pages.len() as u64);
    let got = finals(&out);
    assert_eq!(got.len(), 4, "four days of log");
    for (key, e) in &got {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for (ts, url) in &pages {
            if *ts >= key.1 && *ts < key.2 {
                *counts.entry(url).or_default() += 1;
            }
        }
        let mut v: Vec<(&str, u64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top3: Vec<(String, f64)> = v
            .into_iter()
            .take(3)
            .map(|(u, c)| (u.to_string(), c as f64))
            .collect();
        assert_eq!(pairs(e), top3, "window {key:?}");
    }
}
