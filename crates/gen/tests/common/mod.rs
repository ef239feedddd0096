//! Helpers shared by the integration tests.
#![allow(dead_code)]

use storepulse_gen::{GenConfig, Generator};

/// One parsed Taobao CSV line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub user: i64,
    pub item: i64,
    pub cat: i64,
    pub action: String,
    pub ts: i64,
}

/// Parses Taobao CSV, panicking with the line on anything malformed.
pub fn parse_csv(bytes: &[u8]) -> Vec<Row> {
    let text = std::str::from_utf8(bytes).expect("CSV is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "last line is complete"
    );
    text.lines()
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 5, "5 columns: {line:?}");
            let num = |s: &str| -> i64 {
                let n: i64 = s.parse().unwrap_or_else(|_| panic!("number in {line:?}"));
                assert!(n > 0, "positive id/ts in {line:?}");
                n
            };
            assert!(
                ["pv", "cart", "fav", "buy"].contains(&cols[3]),
                "known action in {line:?}"
            );
            Row {
                user: num(cols[0]),
                item: num(cols[1]),
                cat: num(cols[2]),
                action: cols[3].to_string(),
                ts: num(cols[4]),
            }
        })
        .collect()
}

/// The Taobao CSV of a config, generated on the calling thread.
pub fn csv(cfg: &GenConfig) -> Vec<u8> {
    let mut out = Vec::new();
    Generator::new(cfg)
        .expect("valid config")
        .write_taobao_csv(&mut out, 1)
        .expect("in-memory write");
    out
}
