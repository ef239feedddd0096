//! `storepulse mine`: the mining tasks of `mine::registry` on SQL over the lake, a CSV/Parquet
//! file or a basket file; printed as tables or JSON, written to `--out` and, with `--save`, to
//! the lake's results table.

use crate::cli_mine::MineArgs;
use crate::config::Config;
use anyhow::{Result, anyhow};
use mine::registry::{self, TaskDef};
use query::analysis::{Analysis, Table, cell_text};
use query::{Engine, Scope};
use serde_json::{Map, Value, json};

/// Runs `storepulse mine`.
pub fn run(cfg: &Config, a: &MineArgs, as_json: bool) -> Result<()> {
    if a.list {
        for d in registry::REGISTRY {
            println!("{:<10} {}", d.name, d.help);
            for p in d.all_params() {
                println!("{:<12} {:<20} {}", "", p.name, p.help);
            }
        }
        return Ok(());
    }
    let name = a.task.as_deref().unwrap_or_default();
    let def = registry::find(name).map_err(|e| crate::cmd::usage(e.to_string()))?;
    let params = params(def, a)?;
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let result = run_task(cfg, &engine, def, params)?;
    finish(cfg, &engine, def, a, &result, as_json)
}

/// Runs one task on the lake of `cfg` (files allowed: this is the CLI).
pub fn run_task(cfg: &Config, engine: &Engine, def: &TaskDef, params: Value) -> Result<Analysis> {
    let ctx = mine::source::Ctx {
        query: query::analysis::Ctx {
            engine,
            scope: Scope::all(),
            zone: cfg.zone()?,
        },
        files: true,
    };
    engine
        .block_on(registry::run_named(&ctx, def.name, params))
        .map_err(|e| match e {
            mine::MineError::Usage(m) => crate::cmd::usage(m),
            other => anyhow::Error::from(other),
        })
}

/// Writes, saves, sinks and prints a result as the flags ask.
fn finish(
    cfg: &Config,
    engine: &Engine,
    def: &TaskDef,
    a: &MineArgs,
    result: &Analysis,
    as_json: bool,
) -> Result<()> {
    let name = def.name;
    if let Some(out) = &a.out {
        write_out(def, result, out)?;
    }
    if a.save {
        let mut store = crate::cmd::open_store(cfg)?;
        let shop = result.summary.get("shop").and_then(Value::as_str);
        let rows = mine::results::save(&mut store, def, result, shop, model::time::now_ms())?;
        eprintln!("saved {rows} result rows (SELECT * FROM results WHERE job = 'mine:{name}')");
    }
    if a.sink {
        if !cfg.sink.enabled() {
            return Err(crate::cmd::usage(
                "--sink needs a database: set [sink] url (postgres://… or mysql://…) in the config",
            ));
        }
        super::write_sink(cfg, engine, &server::sinks::mining_tables(def, result))?;
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(result)?);
    } else {
        print(result, a.all);
    }
    Ok(())
}

/// The task's JSON parameters from `--params` and the flags; a flag the task does not take is
/// a usage error.
fn params(def: &TaskDef, a: &MineArgs) -> Result<Value> {
    let mut p: Map<String, Value> = match &a.params {
        Some(s) => {
            serde_json::from_str(s).map_err(|e| anyhow!("--params is not a JSON object: {e}"))?
        }
        None => Map::new(),
    };
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| json!(v));
    let flag = |b: bool| b.then_some(json!(true));
    let mut flags: Vec<(&str, Option<Value>)> = vec![
        ("sql", a.sql.clone().map(Value::from)),
        ("data", a.data.as_ref().map(|p| json!(p))),
        ("baskets", a.baskets.as_ref().map(|p| json!(p))),
        ("categorical", list(&a.categorical)),
        ("numeric", list(&a.numeric)),
        ("max_rows", a.max_rows.map(Value::from)),
        ("algo", a.algo.clone().map(Value::from)),
        ("k", a.k.map(Value::from)),
        ("k_max", a.k_max.map(Value::from)),
        ("features", list(&a.features)),
        ("id", a.id.clone().map(Value::from)),
        ("transform", a.transform.clone().map(Value::from)),
        ("n_init", a.n_init.map(Value::from)),
        ("seed", a.seed.map(Value::from)),
        ("eps", a.eps.map(Value::from)),
        ("min_samples", a.min_samples.map(Value::from)),
        ("metric", a.metric.clone().map(Value::from)),
        ("tx", a.tx.clone().map(Value::from)),
        ("item", a.item.clone().map(Value::from)),
        ("min_support", a.min_support.map(Value::from)),
        ("min_threshold", a.min_threshold.map(Value::from)),
        ("max_len", a.max_len.map(Value::from)),
        ("single_consequent", flag(a.single_consequent)),
        ("limit", a.limit.map(Value::from)),
        ("target", a.target.clone().map(Value::from)),
        ("confidence", a.confidence.map(|c| json!(c))),
        ("min_leaf", a.min_leaf.map(Value::from)),
        ("unpruned", flag(a.unpruned)),
        ("no_subtree_raising", flag(a.no_subtree_raising)),
        ("test_share", a.test_share.map(Value::from)),
        ("from", a.from.clone().map(Value::from)),
        ("to", a.to.clone().map(Value::from)),
        ("shop", a.shop.clone().map(Value::from)),
        ("customers", flag(a.customers)),
        ("from_table", a.from_table.clone().map(Value::from)),
        ("actions", list(&a.actions)),
        ("action", a.action.clone().map(Value::from)),
        ("min_events", a.min_events.map(Value::from)),
        ("as_of", a.as_of.clone().map(Value::from)),
        ("horizon_days", a.horizon_days.map(Value::from)),
    ];
    let takes: Vec<&str> = def.all_params().map(|p| p.name).collect();
    if let Some(c) = a.min_confidence {
        if takes.contains(&"min_confidence") {
            flags.push(("min_confidence", Some(json!(c))));
        } else {
            flags.push(("metric", Some(json!("confidence"))));
            flags.push(("min_threshold", Some(json!(c))));
        }
    }
    for (name, value) in flags {
        let Some(value) = value else { continue };
        if !takes.contains(&name) {
            return Err(crate::cmd::usage(format!(
                "--{} does not apply to {}; it takes {}",
                name.replace('_', "-"),
                def.name,
                takes
                    .iter()
                    .map(|t| format!("--{}", t.replace('_', "-")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        p.insert(name.to_string(), value);
    }
    Ok(Value::Object(p))
}

/// The table `--out` writes: a cluster's labels, the rules, a tree's confusion (and the tree in
/// JSON).
fn write_out(def: &TaskDef, r: &Analysis, out: &std::path::Path) -> Result<()> {
    let main = match def.name {
        "cluster" => "labels",
        "rules" | "baskets" => "rules",
        "segments" if r.table("customers").is_some() => "customers",
        "segments" => "segments",
        "hour-category" => "categories",
        _ => "confusion",
    };
    let json = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = if json {
        serde_json::to_string_pretty(r)?
    } else {
        r.table(main)
            .map(Table::to_csv)
            .ok_or_else(|| anyhow!("the result has no {main} table"))?
    };
    std::fs::write(out, text).map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Prints a result: headline figures, then each table (long ones cut unless `all`).
pub fn print(r: &Analysis, all: bool) {
    let scalars: Vec<String> = r
        .summary
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, v)| format!("{k}: {}", cell_text(v)))
        .collect();
    println!("{} — {}", r.analysis, scalars.join(", "));
    for t in &r.tables {
        println!();
        if t.name == "tree" {
            for row in &t.rows {
                println!("{}", row.first().map(cell_text).unwrap_or_default());
            }
            continue;
        }
        let limit = if all || !matches!(t.name.as_str(), "labels" | "itemsets" | "customers") {
            usize::MAX
        } else {
            20
        };
        crate::cmd::analyze::print_table(t, limit, "--all");
    }
}
