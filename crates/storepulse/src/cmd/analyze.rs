//! `storepulse analyze`: the built-in analyses, printed as tables or JSON.

use crate::cli::AnalyzeArgs;
use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use query::analysis::{Analysis, Ctx, Table, cell_text, run_named};
use query::{Engine, Scope};
use serde_json::{Map, Value, json};

/// Runs `storepulse analyze`.
pub fn run(cfg: &Config, a: &AnalyzeArgs, as_json: bool) -> Result<()> {
    if a.list {
        for d in query::analysis::REGISTRY {
            println!("{:<10} {}", d.name, d.help);
            for p in query::analysis::RANGE.iter().chain(d.params) {
                println!("{:<12} {:<10} {}", "", p.name, p.help);
            }
        }
        return Ok(());
    }
    let name = a.analysis.as_deref().unwrap_or_default();
    let params = params(name, a)?;
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let ctx = Ctx {
        engine: &engine,
        scope: Scope::all(),
        zone: cfg.zone()?,
    };
    // Parameters are the user's input: a wrong one is a usage error (exit 2), as a wrong flag.
    let result = engine
        .block_on(run_named(&ctx, name, params))
        .map_err(|e| match e {
            query::QueryError::Invalid(m) => crate::cmd::usage(m),
            other => anyhow::Error::from(other),
        })?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_analysis(&result, a.customers);
    }
    Ok(())
}

/// Builds the API's JSON parameters from the flags; a flag the analysis does not take is a
/// usage error (it would be silently ignored otherwise).
fn params(name: &str, a: &AnalyzeArgs) -> Result<Value> {
    let def = query::analysis::find(name)
        .map_err(|e| crate::cmd::usage(format!("{e} (storepulse analyze --list)")))?;
    let mut p: Map<String, Value> = match &a.params {
        Some(s) => {
            serde_json::from_str(s).map_err(|e| anyhow!("--params is not a JSON object: {e}"))?
        }
        None => Map::new(),
    };
    let step =
        |s: &str| serde_json::to_value(query::analysis::funnel::Step::parse(s)).unwrap_or_default();
    let steps =
        (!a.steps.is_empty()).then(|| Value::Array(a.steps.iter().map(|s| step(s)).collect()));
    // (flag, parameter, value) of every flag given.
    let flags: Vec<(&str, &str, Option<Value>)> = vec![
        ("--from", "from", a.from.clone().map(Value::from)),
        ("--to", "to", a.to.clone().map(Value::from)),
        ("--shop", "shop", a.shop.clone().map(Value::from)),
        ("steps", "steps", steps),
        ("--table", "table", a.table.clone().map(Value::from)),
        ("--window", "window", a.window.clone().map(Value::from)),
        (
            "--breakdown",
            "breakdown",
            a.breakdown.clone().map(Value::from),
        ),
        ("--strict", "mode", a.strict.then(|| json!("strict"))),
        (
            "--cohort",
            "cohort",
            a.cohort.as_ref().map(|c| json!(c.replace('-', "_"))),
        ),
        ("--period", "period", a.period.clone().map(Value::from)),
        (
            "--returning",
            "returning",
            a.returning.clone().map(Value::from),
        ),
        ("--periods", "periods", a.periods.map(Value::from)),
        ("--as-of", "as_of", a.as_of.clone().map(Value::from)),
        (
            "--customers",
            "customers",
            a.customers.then_some(json!(true)),
        ),
        ("--by", "by", a.by.clone().map(Value::from)),
        ("--metric", "metric", a.metric.clone().map(Value::from)),
        ("--top", "top", a.top.map(Value::from)),
        ("--source", "source", a.source.clone().map(Value::from)),
        ("--after", "after", a.after.as_deref().map(step)),
        ("--depth", "depth", a.depth.map(Value::from)),
        ("--max-gap", "max_gap", a.max_gap.clone().map(Value::from)),
    ];
    let mut wrong = Vec::new();
    for (flag, param, value) in flags {
        let Some(v) = value else { continue };
        if def.takes(param) {
            p.insert(param.to_string(), v);
        } else {
            wrong.push(flag);
        }
    }
    if !wrong.is_empty() {
        let takes: Vec<String> = def
            .params
            .iter()
            .map(|p| match p.name {
                "steps" => "steps".to_string(),
                "mode" => "--strict".to_string(),
                n => format!("--{}", n.replace('_', "-")),
            })
            .collect();
        return Err(crate::cmd::usage(format!(
            "{} {} not apply to {name}; it takes {}",
            wrong.join(", "),
            if wrong.len() == 1 { "does" } else { "do" },
            if takes.is_empty() {
                "only --from, --to and --shop".to_string()
            } else {
                format!("{} besides --from, --to and --shop", takes.join(", "))
            }
        )));
    }
    if name == "funnel" && !p.contains_key("steps") {
        bail!("a funnel needs steps, e.g. `storepulse analyze funnel pv cart buy --window 1d`");
    }
    if name == "paths" && !p.contains_key("after") {
        bail!("paths needs an anchor, e.g. `storepulse analyze paths --after cart`");
    }
    Ok(Value::Object(p))
}

fn print_analysis(r: &Analysis, all_rows: bool) {
    let summary: Vec<String> = r
        .summary
        .iter()
        .map(|(k, v)| format!("{k}: {}", cell_text(v)))
        .collect();
    println!("{} — {}", r.analysis, summary.join(", "));
    if let Some(shops) = r.summary.get("spans_shops").and_then(Value::as_array) {
        let names: Vec<&str> = shops.iter().filter_map(Value::as_str).collect();
        eprintln!(
            "note: these figures span all {} shops ({}); --shop picks one",
            names.len(),
            names.join(", ")
        );
    }
    for t in &r.tables {
        println!();
        print_table(
            t,
            if all_rows || t.name != "customers" {
                usize::MAX
            } else {
                20
            },
            "--customers",
        );
    }
}

pub fn print_table(t: &Table, limit: usize, all_flag: &str) {
    println!("{}", t.name);
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .take(limit)
        .map(|r| r.iter().map(cell_text).collect())
        .collect();
    let mut width: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |r: &[String]| -> String {
        r.iter()
            .enumerate()
            .map(|(i, c)| format!("{c:>w$}", w = width[i]))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&t.columns));
    for r in &cells {
        println!("{}", line(r));
    }
    if t.rows.len() > limit {
        println!(
            "… {} more rows ({all_flag} prints all, --json gives everything)",
            t.rows.len() - limit
        );
    }
}
