//! User paths: what users do next after a given step. For every event matching the anchor, the
//! labels (actions, pages, ...) of the same user's next `depth` events form a path; a gap longer
//! than `max_gap`, or the end of the user's events, ends it with `(exit)`. The most frequent
//! paths are returned with their share of all anchor events.

use super::funnel::{Step, window_ms};
use super::sequences::{Load, load};
use super::{Analysis, Ctx, Range, Table, num, ratio, sql_ident};
use crate::error::QueryError;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

/// Parameters of a paths analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// The event table.
    #[serde(default = "default_table")]
    pub table: String,
    /// The anchor step.
    pub after: Step,
    /// The column that names each next event (default: the table's action/status/url).
    #[serde(default)]
    pub by: Option<String>,
    /// Events after the anchor to follow (1–5).
    #[serde(default = "one")]
    pub depth: usize,
    /// A longer gap between two events ends the path (`30m`).
    #[serde(default = "default_gap")]
    pub max_gap: String,
    /// Paths to return.
    #[serde(default = "default_top")]
    pub top: usize,
}

fn default_table() -> String {
    "behavior".into()
}
fn one() -> usize {
    1
}
fn default_gap() -> String {
    "30m".into()
}
fn default_top() -> usize {
    10
}

/// The label shown when a path ends.
pub const EXIT: &str = "(exit)";

fn default_label(table: &str) -> &'static str {
    match table {
        "order" | "orders" => "status",
        "login" => "result",
        "page_view" => "url",
        "ad_click" => "ad_id",
        _ => "action",
    }
}

/// Runs a paths analysis.
pub async fn run(ctx: &Ctx<'_>, p: &PathParams) -> Result<Analysis, QueryError> {
    p.range.check()?;
    if !(1..=5).contains(&p.depth) {
        return Err(QueryError::Invalid("depth must be between 1 and 5".into()));
    }
    if p.top == 0 || p.top > 1000 {
        return Err(QueryError::Invalid("top must be between 1 and 1000".into()));
    }
    let gap = window_ms(&p.max_gap)?;
    let table = sql_ident(&p.table)?;
    let kind = default_label(&p.table);
    let by = sql_ident(p.by.as_deref().unwrap_or(kind))?;
    let anchor = {
        let mut parts = Vec::new();
        if let Some(a) = &p.after.action {
            parts.push(format!("{kind} = {}", super::sql_str(a)));
        }
        if let Some(f) = &p.after.filter {
            parts.push(format!("({f})"));
        }
        if parts.is_empty() {
            return Err(QueryError::Invalid(
                "the anchor step needs an action or a filter".into(),
            ));
        }
        parts.join(" AND ")
    };
    let scope = ctx.scope_for(&p.range)?;
    super::funnel::check_step_kinds(ctx, &scope, &p.table, std::slice::from_ref(&p.after)).await?;
    let seqs = load(
        ctx,
        &scope,
        &Load {
            table: &table,
            dt: p.range.dt_filter(),
            filter: "TRUE".into(),
            code: format!("CASE WHEN {anchor} THEN 1 ELSE 0 END"),
            label: format!("CAST({by} AS VARCHAR)"),
        },
    )
    .await?;
    let mut counts: FxHashMap<Vec<u32>, u64> = FxHashMap::default();
    let mut anchors = 0u64;
    const EXIT_ID: u32 = u32::MAX;
    for u in 0..seqs.users() {
        let r = seqs.user(u);
        for e in r.clone() {
            if seqs.code[e] & 1 == 0 {
                continue;
            }
            anchors += 1;
            let mut path = Vec::with_capacity(p.depth);
            let mut prev = seqs.ts[e];
            for step in 1..=p.depth {
                let j = e + step;
                if j >= r.end || seqs.ts[j] - prev > gap {
                    path.push(EXIT_ID);
                    break;
                }
                path.push(seqs.label[j]);
                prev = seqs.ts[j];
            }
            *counts.entry(path).or_default() += 1;
        }
    }
    let mut ranked: Vec<(Vec<u32>, u64)> = counts.into_iter().collect();
    let name = |id: u32| -> String {
        match id {
            EXIT_ID => EXIT.to_string(),
            0 => "(null)".to_string(),
            n => seqs.labels.get(n as usize).cloned().unwrap_or_default(),
        }
    };
    let text = |path: &[u32]| {
        path.iter()
            .map(|&i| name(i))
            .collect::<Vec<_>>()
            .join(" > ")
    };
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| text(&a.0).cmp(&text(&b.0))));
    let mut out = Table::new("paths", &["rank", "path", "occurrences", "share"]);
    for (i, (path, n)) in ranked.iter().take(p.top).enumerate() {
        out.push(vec![
            json!(i + 1),
            json!(text(path)),
            json!(n),
            num(ratio(*n as f64, anchors as f64), 6),
        ]);
    }
    let mut summary = Map::new();
    summary.insert("anchors".into(), json!(anchors));
    summary.insert("distinct_paths".into(), json!(ranked.len()));
    Ok(Analysis {
        analysis: "paths".into(),
        params: serde_json::to_value(p).unwrap_or_default(),
        summary,
        tables: vec![out],
    })
}
