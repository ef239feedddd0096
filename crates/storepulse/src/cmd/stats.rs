//! `storepulse stats`.

use crate::cli::StatsArgs;
use crate::config::Config;
use crate::fmt::{bytes, thousands, time};
use anyhow::Result;

pub fn run(cfg: &Config, args: &StatsArgs, json: bool) -> Result<()> {
    let store = super::open_store_read(cfg)?;
    let mode = match (args.fast, args.exact) {
        (true, _) => store::Distinct::Skip,
        (false, true) => store::Distinct::Exact,
        (false, false) => store::Distinct::Estimate,
    };
    let s = store::stats(&store, mode)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    if s.tables.is_empty() {
        println!(
            "The lake at {} is empty. Import something first, e.g.:",
            cfg.data_dir.display()
        );
        println!(
            "  storepulse import ../shared/datasets/taobao_userbehavior/UserBehavior.csv --format taobao"
        );
        return Ok(());
    }
    println!(
        "{:<10} {:>14} {:>6} {:>10}  {:<23}  {:<23}",
        "table", "rows", "files", "size", "first event", "last event"
    );
    for (name, t) in &s.tables {
        println!(
            "{:<10} {:>14} {:>6} {:>10}  {:<23}  {:<23}",
            name,
            thousands(t.rows),
            t.files,
            bytes(t.bytes),
            t.min_ts.map(time).unwrap_or_default(),
            t.max_ts.map(time).unwrap_or_default()
        );
    }
    for (name, t) in &s.tables {
        let kinds: Vec<String> = t
            .kinds
            .iter()
            .map(|(k, n)| format!("{k} {}", thousands(*n)))
            .collect();
        if !kinds.is_empty() {
            println!("\n{name} by kind: {}", kinds.join(", "));
        }
        let days: Vec<String> = t
            .per_day
            .iter()
            .map(|(d, n)| format!("{d} {}", thousands(*n)))
            .collect();
        if days.len() <= 12 {
            println!("{name} per day ({}): {}", cfg.timezone, days.join(", "));
        } else {
            let (head, tail) = (&days[..5], &days[days.len() - 5..]);
            println!(
                "{name} per day ({}), {} days: {}, …, {} (all days: --json)",
                cfg.timezone,
                days.len(),
                head.join(", "),
                tail.join(", ")
            );
        }
        if t.per_shop.len() > 1 {
            let shops: Vec<String> = t
                .per_shop
                .iter()
                .map(|(d, n)| format!("{d} {}", thousands(*n)))
                .collect();
            println!("{name} per shop: {}", shops.join(", "));
        }
    }
    if !args.fast {
        let how = if s.distinct_exact {
            "exact"
        } else {
            "HyperLogLog estimate, 0.8 % standard error; --exact counts"
        };
        println!(
            "\ndistinct users {} · distinct items {} (behaviour; {how})",
            thousands(s.distinct_users),
            thousands(s.distinct_items)
        );
    }
    println!(
        "catalog: {} items, {} users · quarantined rows: {}",
        thousands(s.catalog_items),
        thousands(s.catalog_users),
        thousands(s.quarantined)
    );
    Ok(())
}
