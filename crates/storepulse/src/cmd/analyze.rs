//! `storepulse analyze`: the built-in analyses, printed as tables or JSON.

use crate::cli::AnalyzeArgs;
use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use query::analysis::{ANALYSES, Analysis, Ctx, Table, cell_text, run_named};
use query::{Engine, Scope};
use serde_json::{Map, Value, json};

/// Runs `storepulse analyze`.
pub fn run(cfg: &Config, a: &AnalyzeArgs, as_json: bool) -> Result<()> {
    if a.list {
        for (name, what) in ANALYSES {
            println!("{name:<10} {what}");
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
    let result = engine.block_on(run_named(&ctx, name, params))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_analysis(&result, a.customers);
    }
    Ok(())
}

/// Builds the API's JSON parameters from the flags.
fn params(name: &str, a: &AnalyzeArgs) -> Result<Value> {
    let mut p: Map<String, Value> = match &a.params {
        Some(s) => {
            serde_json::from_str(s).map_err(|e| anyhow!("--params is not a JSON object: {e}"))?
        }
        None => Map::new(),
    };
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            p.insert(k.to_string(), v);
        }
    };
    set("from", a.from.clone().map(Value::from));
    set("to", a.to.clone().map(Value::from));
    set("shop", a.shop.clone().map(Value::from));
    let step =
        |s: &str| serde_json::to_value(query::analysis::funnel::Step::parse(s)).unwrap_or_default();
    match name {
        "funnel" => {
            if !a.steps.is_empty() {
                set(
                    "steps",
                    Some(Value::Array(a.steps.iter().map(|s| step(s)).collect())),
                );
            }
            set("table", a.table.clone().map(Value::from));
            set("window", a.window.clone().map(Value::from));
            set("breakdown", a.breakdown.clone().map(Value::from));
            set("mode", a.strict.then(|| json!("strict")));
        }
        "retention" => {
            set(
                "cohort",
                a.cohort.as_ref().map(|c| json!(c.replace('-', "_"))),
            );
            set("period", a.period.clone().map(Value::from));
            set("returning", a.returning.clone().map(Value::from));
            set("periods", a.periods.map(Value::from));
        }
        "rfm" => {
            set("as_of", a.as_of.clone().map(Value::from));
            set("customers", Some(json!(a.customers)));
        }
        "rankings" => {
            set("by", a.by.clone().map(Value::from));
            set("metric", a.metric.clone().map(Value::from));
            set("top", a.top.map(Value::from));
        }
        "repeat" => set("source", a.source.clone().map(Value::from)),
        "paths" => {
            set("table", a.table.clone().map(Value::from));
            set("after", a.after.as_deref().map(step));
            set("by", a.by.clone().map(Value::from));
            set("depth", a.depth.map(Value::from));
            set("max_gap", a.max_gap.clone().map(Value::from));
            set("top", a.top.map(Value::from));
        }
        "kpis" | "activity" => {}
        other => {
            return Err(crate::cmd::usage(format!(
                "unknown analysis {other:?}{}; available: {}",
                model::suggest::hint(other, ANALYSES.map(|a| a.0)),
                ANALYSES.map(|a| a.0).join(", ")
            )));
        }
    }
    if name != "funnel" && !a.steps.is_empty() {
        bail!("only funnel takes steps; got {:?}", a.steps);
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
    for t in &r.tables {
        println!();
        print_table(
            t,
            if all_rows || t.name != "customers" {
                usize::MAX
            } else {
                20
            },
        );
    }
}

fn print_table(t: &Table, limit: usize) {
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
            "… {} more rows (--customers prints all, --json gives everything)",
            t.rows.len() - limit
        );
    }
}
