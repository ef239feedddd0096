//! `storepulse demo`: imports every real sample data set and one generated day, then prints the
//! lake's statistics. Later stages extend it to start the server and the dashboard.

use crate::cli::{DemoArgs, GenArgs, StatsArgs};
use crate::config::Config;
use anyhow::{Result, bail};
use collect::{Format, Input};
use store::import::ImportConfig;

/// (file under the data sets dir, format, shop).
const SAMPLES: [(&str, Format, &str); 8] = [
    (
        "taobao_userbehavior/UserBehavior.csv",
        Format::Taobao,
        "taobao",
    ),
    ("course_logs/apache.log", Format::AccessLog, "course"),
    ("course_logs/AdClickLog.csv", Format::AdClick, "course"),
    ("course_logs/LoginLog.csv", Format::Login, "course"),
    (
        "course_logs/LoginLog_v20200605.csv",
        Format::Login,
        "course_v2",
    ),
    ("course_logs/OrderLog.csv", Format::Order, "course"),
    ("course_logs/ReceiptLog.csv", Format::Receipt, "course"),
    (
        "online_retail/online_retail.csv.gz",
        Format::OnlineRetail,
        "retail",
    ),
];

pub fn run(cfg: &Config, args: &DemoArgs) -> Result<()> {
    if !args.datasets.is_dir() {
        bail!(
            "data sets not found at {}; pass --datasets <dir> (the folder with taobao_userbehavior/, course_logs/, online_retail/)",
            args.datasets.display()
        );
    }
    if args.fresh && cfg.data_dir.exists() {
        std::fs::remove_dir_all(&cfg.data_dir)?;
    }
    println!("StorePulse demo: data dir {}", cfg.data_dir.display());
    let mut store = super::open_store(cfg)?;
    let icfg = ImportConfig {
        rows_per_commit: cfg.import.rows_per_commit,
        encoders: cfg.import.encoders,
        force: false,
    };
    for (file, format, shop) in SAMPLES {
        let path = args.datasets.join(file);
        if !path.exists() {
            println!("(skipping {}: not found)", path.display());
            continue;
        }
        let mut opts = super::import::parse_options(cfg, format)?;
        opts.line.shop = Some(shop.into());
        let r =
            super::import::import_one(&mut store, &Input::Path(path), opts, &icfg, false, false)?;
        super::import::print_report(&r);
    }
    let gen_args = GenArgs {
        events: args.events.clone(),
        days: 1,
        seed: 7,
        start: None,
        format: "lake".into(),
        out: "-".into(),
        shop: Some("gen".into()),
        threads: 0,
    };
    let gcfg = super::generate::gen_config(&gen_args)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let r = super::generate::to_lake(
        &mut store,
        &gcfg,
        threads,
        cfg.import.rows_per_commit,
        cfg.rules()?,
    )?;
    if r.already_imported {
        println!("generated day: already in the lake");
    } else {
        println!(
            "generated day: {} events (all types) in {:.2}s",
            crate::fmt::thousands(r.imported),
            r.elapsed.as_secs_f64()
        );
    }
    drop(store);
    println!();
    super::stats::run(
        cfg,
        &StatsArgs {
            fast: false,
            exact: false,
        },
        false,
    )?;
    mining(cfg, args)?;
    println!(
        "\nNext: storepulse quarantine stats · storepulse gen --events 10M --out events.csv · storepulse import events.csv --format taobao\n      storepulse keys create --scope admin · storepulse serve · storepulse bench ingest --key <key> --events 1M"
    );
    Ok(())
}

/// What mining finds in the samples: Groceries' basket rules, Online Retail's customer
/// segments and the products its customers buy together.
fn mining(cfg: &Config, args: &DemoArgs) -> Result<()> {
    let engine = query::Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let groceries = args.datasets.join("groceries/groceries.csv");
    let mut runs: Vec<(&str, serde_json::Value, &str)> = Vec::new();
    if groceries.exists() {
        runs.push((
            "rules",
            serde_json::json!({"baskets": groceries, "min_support": 0.006,
                               "min_threshold": 0.25, "limit": 10}),
            "storepulse mine rules --baskets groceries.csv --min-support 0.006 --min-confidence 0.25",
        ));
    }
    runs.push((
        "segments",
        serde_json::json!({"shop": "retail"}),
        "storepulse mine segments --shop retail",
    ));
    runs.push((
        "baskets",
        serde_json::json!({"shop": "retail", "min_support": 0.02, "limit": 10}),
        "storepulse mine baskets --shop retail --min-support 0.02",
    ));
    for (task, params, command) in runs {
        let def = mine::registry::find(task)?;
        println!("\n$ {command}");
        match super::mine::run_task(cfg, &engine, def, params) {
            Ok(r) => {
                let mut r = r;
                // The demo shows the rules; the itemsets are a --json away.
                r.tables.retain(|t| t.name != "itemsets");
                super::mine::print(&r, false);
            }
            Err(e) => println!("(skipped: {e})"),
        }
    }
    Ok(())
}
