//! Reports: a set of analyses over a date range, written as one self-contained HTML file (charts
//! rendered to inline SVG, no scripts, no network) plus a CSV of every table and the JSON of
//! every analysis.
//!
//! `daily` and `weekly` are built in; more are defined in the config (`[reports.<name>]`) as a
//! title, a range length and sections, each an analysis with parameters and an optional chart.

mod html;
pub mod svg;

use crate::analysis::{Analysis, Ctx, run_named};
use crate::error::QueryError;
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Chart shapes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Lines over the x column (days).
    Line,
    /// Vertical bars (hours, steps).
    Bar,
    /// Horizontal bars (rankings, segments).
    Hbar,
}

/// A chart of one result table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// Shape.
    pub kind: ChartKind,
    /// The table to chart (default: the analysis' first).
    #[serde(default)]
    pub table: Option<String>,
    /// Column of the labels.
    pub x: String,
    /// Columns of the values (one series each; bars use the first).
    pub y: Vec<String>,
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionSpec {
    /// Heading.
    pub title: String,
    /// The analysis (`kpis`, `funnel`, ...).
    pub analysis: String,
    /// Its parameters; `from`/`to` default to the report's range.
    #[serde(default)]
    pub params: Value,
    /// An optional chart.
    #[serde(default)]
    pub chart: Option<ChartSpec>,
}

/// A report definition (`[reports.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Title.
    pub title: String,
    /// Days covered, ending on the report's date.
    #[serde(default = "seven")]
    pub days: u32,
    /// Sections in order.
    pub sections: Vec<SectionSpec>,
}

fn seven() -> u32 {
    7
}

/// A finished section: the spec and its result, or why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// What was asked.
    pub spec: SectionSpec,
    /// The result.
    pub result: Option<Analysis>,
    /// The error, if the analysis failed.
    pub error: Option<String>,
}

/// A built report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Short name (`daily`, `weekly`, or the config's).
    pub name: String,
    /// Title.
    pub title: String,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
    /// When it was built (RFC 3339).
    pub generated_at: String,
    /// Shop, if the report covers one.
    pub shop: Option<String>,
    /// Sections.
    pub sections: Vec<Section>,
}

impl Report {
    /// Sections whose analysis failed.
    pub fn failures(&self) -> Vec<&Section> {
        self.sections.iter().filter(|s| s.error.is_some()).collect()
    }
}

fn chart(kind: ChartKind, table: Option<&str>, x: &str, y: &[&str]) -> Option<ChartSpec> {
    Some(ChartSpec {
        kind,
        table: table.map(str::to_string),
        x: x.to_string(),
        y: y.iter().map(|s| s.to_string()).collect(),
    })
}

fn section(title: &str, analysis: &str, params: Value, chart: Option<ChartSpec>) -> SectionSpec {
    SectionSpec {
        title: title.to_string(),
        analysis: analysis.to_string(),
        params,
        chart,
    }
}

fn day_minus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

fn funnel_section() -> SectionSpec {
    let steps = json!([{"action": "pv"}, {"action": "cart"}, {"action": "buy"}]);
    section(
        "Funnel: view → cart → buy (1 day)",
        "funnel",
        json!({"steps": steps, "window": "1d"}),
        chart(ChartKind::Bar, None, "name", &["users"]),
    )
}

fn top_items_section() -> SectionSpec {
    section(
        "Top items by views",
        "rankings",
        json!({"by": "item", "metric": "pv", "top": 10}),
        chart(ChartKind::Hbar, None, "item_id", &["pv"]),
    )
}

fn top_categories_section() -> SectionSpec {
    section(
        "Top categories by purchases",
        "rankings",
        json!({"by": "category", "metric": "buy", "top": 10}),
        chart(ChartKind::Hbar, None, "category_id", &["buys"]),
    )
}

fn repeat_section() -> SectionSpec {
    section(
        "Repeat purchases",
        "repeat",
        json!({}),
        chart(ChartKind::Bar, None, "purchases", &["customers"]),
    )
}

/// The daily report for `date`: KPIs of the last 7 days, that day's hours, funnel, top items
/// and categories, and repeat purchases.
pub fn daily() -> ReportSpec {
    ReportSpec {
        title: "Daily report".into(),
        days: 1,
        sections: vec![
            section(
                "KPIs, last 7 days",
                "kpis",
                json!({"days": 7}),
                chart(ChartKind::Line, None, "day", &["pv", "uv"]),
            ),
            section(
                "Activity by hour",
                "activity",
                json!({}),
                chart(ChartKind::Bar, Some("hours"), "hour", &["events"]),
            ),
            funnel_section(),
            top_items_section(),
            top_categories_section(),
            repeat_section(),
        ],
    }
}

/// The weekly report for the ISO week (Monday–Sunday) of `date`.
pub fn weekly() -> ReportSpec {
    ReportSpec {
        title: "Weekly report".into(),
        days: 7,
        sections: vec![
            section(
                "KPIs by day",
                "kpis",
                json!({}),
                chart(ChartKind::Line, None, "day", &["pv", "uv"]),
            ),
            section(
                "Activity by weekday",
                "activity",
                json!({}),
                chart(ChartKind::Bar, Some("weekdays"), "weekday", &["events"]),
            ),
            section(
                "New-user retention by day",
                "retention",
                json!({"periods": 6}),
                None,
            ),
            funnel_section(),
            top_items_section(),
            top_categories_section(),
            section(
                "Customer segments (RFM, all history)",
                "rfm",
                json!({"from": null, "customers": false}),
                chart(ChartKind::Hbar, Some("segments"), "segment", &["customers"]),
            ),
            repeat_section(),
        ],
    }
}

/// A report by name: one defined in the config (`custom`), else the built-in daily or weekly.
pub fn spec_named(
    name: &str,
    custom: &std::collections::BTreeMap<String, ReportSpec>,
) -> Result<ReportSpec, QueryError> {
    match (name, custom.get(name)) {
        (_, Some(s)) => Ok(s.clone()),
        ("daily", None) => Ok(daily()),
        ("weekly", None) => Ok(weekly()),
        _ => {
            let mut names = vec!["daily".to_string(), "weekly".to_string()];
            names.extend(custom.keys().cloned());
            Err(QueryError::Invalid(format!(
                "unknown report {name:?}; available: {} (define more under [reports.<name>])",
                names.join(", ")
            )))
        }
    }
}

/// Where a report goes by default: `<data dir>/reports/<name>-<date>[/<shop>]`.
pub fn default_dir(data_dir: &Path, name: &str, date: NaiveDate, shop: Option<&str>) -> PathBuf {
    let d = data_dir.join("reports").join(format!("{name}-{date}"));
    match shop {
        Some(s) => d.join(s),
        None => d,
    }
}

/// The days a report covers: the weekly report's ISO week, else `days` days ending on `date`.
pub fn range(name: &str, spec: &ReportSpec, date: NaiveDate) -> (NaiveDate, NaiveDate) {
    if name == "weekly" {
        let monday = day_minus(date, date.weekday().num_days_from_monday() as u64);
        return (
            monday,
            monday.checked_add_days(Days::new(6)).unwrap_or(monday),
        );
    }
    (day_minus(date, spec.days.max(1) as u64 - 1), date)
}

/// A section's parameters with the report's range and shop filled in. `{"days": n}` asks for
/// the n days ending on the report's last day; an explicit `"from": null` means all history.
fn section_params(p: &Value, from: NaiveDate, to: NaiveDate, shop: Option<&str>) -> Value {
    let mut m = p.as_object().cloned().unwrap_or_default();
    let days = m.remove("days").and_then(|d| d.as_u64());
    let from = match days {
        Some(n) => day_minus(to, n.max(1) - 1),
        None => from,
    };
    m.entry("from").or_insert(json!(from.to_string()));
    m.entry("to").or_insert(json!(to.to_string()));
    if let Some(s) = shop {
        m.entry("shop").or_insert(json!(s));
    }
    Value::Object(m)
}

/// Builds a report: every section's analysis over the range. A failing section keeps its error
/// and the others still run.
pub async fn build(
    ctx: &Ctx<'_>,
    name: &str,
    spec: &ReportSpec,
    date: NaiveDate,
    shop: Option<&str>,
) -> Result<Report, QueryError> {
    if spec.sections.is_empty() {
        return Err(QueryError::Invalid(format!(
            "report {name:?} has no sections"
        )));
    }
    let (from, to) = range(name, spec, date);
    let mut sections = Vec::new();
    for s in &spec.sections {
        let params = section_params(&s.params, from, to, shop);
        match run_named(ctx, &s.analysis, params).await {
            Ok(r) => sections.push(Section {
                spec: s.clone(),
                result: Some(r),
                error: None,
            }),
            Err(e @ (QueryError::Internal(_) | QueryError::Rejected(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(report = name, section = %s.title, error = %e, "report section failed");
                sections.push(Section {
                    spec: s.clone(),
                    result: None,
                    error: Some(e.to_string()),
                })
            }
        }
    }
    Ok(Report {
        name: name.to_string(),
        title: spec.title.clone(),
        from,
        to,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        shop: shop.map(str::to_string),
        sections,
    })
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Writes `report.html`, `report.json` and `<nn>-<section>.<table>.csv` into `dir` (created);
/// returns the files written.
pub fn write(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, QueryError> {
    let io =
        |p: &Path, e: std::io::Error| QueryError::Internal(format!("writing {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut files = Vec::new();
    let mut put = |name: String, bytes: &[u8]| -> Result<(), QueryError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
        files.push(p);
        Ok(())
    };
    put("report.html".into(), html::render(report).as_bytes())?;
    let json =
        serde_json::to_vec_pretty(report).map_err(|e| QueryError::Internal(e.to_string()))?;
    put("report.json".into(), &json)?;
    for (i, s) in report.sections.iter().enumerate() {
        if let Some(r) = &s.result {
            for t in &r.tables {
                put(
                    format!("{:02}-{}.{}.csv", i + 1, slug(&s.spec.title), t.name),
                    t.to_csv().as_bytes(),
                )?;
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_covers_the_iso_week_and_daily_one_day() {
        let wed = NaiveDate::from_ymd_opt(2017, 11, 29).unwrap();
        let (f, t) = range("weekly", &weekly(), wed);
        assert_eq!(
            (f.to_string(), t.to_string()),
            ("2017-11-27".into(), "2017-12-03".into())
        );
        assert_eq!(range("daily", &daily(), wed), (wed, wed));
        let p = section_params(&json!({"days": 7}), wed, wed, Some("tb"));
        assert_eq!(
            p,
            json!({"from": "2017-11-23", "to": "2017-11-29", "shop": "tb"})
        );
        let p = section_params(&json!({"from": null}), wed, wed, None);
        assert_eq!(p, json!({"from": null, "to": "2017-11-29"}));
        assert_eq!(slug("Funnel: view → cart"), "funnel-view-cart");
    }
}
