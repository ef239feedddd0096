//! Built-in analyses. Each takes typed parameters (deserializable from the API's JSON and built
//! from CLI flags), runs on the lake snapshot through the sandboxed [`Engine`], and returns an
//! [`Analysis`]: the parameters used, headline figures and tables.
//!
//! Set-based analyses (KPIs, activity, rankings, repeat purchase, retention, RFM) are SQL on
//! DataFusion; sequence analyses (funnels, paths) load each user's events and walk them in time
//! order in Rust ([`sequences`]).

pub mod activity;
mod file_scan;
pub mod funnel;
mod kpi_scan;
pub mod kpis;
pub mod paths;
pub mod rankings;
mod registry;
pub mod repeat;
pub mod retention;
pub mod rfm;
pub mod sequences;
mod table;

pub use registry::{AnalysisDef, Param, RANGE, REGISTRY, find, names};
pub use table::{Analysis, Table, cell_text, num, ratio};

use crate::engine::Engine;
use crate::error::QueryError;
use crate::tables::Scope;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use store::Zone;

/// What every analysis runs against.
pub struct Ctx<'a> {
    /// The SQL engine.
    pub engine: &'a Engine,
    /// What the caller may see.
    pub scope: Scope,
    /// The lake's calendar zone (day partitions, local hours).
    pub zone: Zone,
}

/// Days and shop an analysis covers. Days are local calendar days of the lake's zone, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// First day (inclusive); `None` = from the beginning.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day (inclusive); `None` = to the end.
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Only this shop.
    #[serde(default)]
    pub shop: Option<String>,
}

impl Range {
    /// An SQL condition on the `dt` partition column (prunes files before any is opened).
    pub fn dt_filter(&self) -> String {
        let mut parts = vec!["TRUE".to_string()];
        if let Some(f) = self.from {
            parts.push(format!("dt >= DATE '{f}'"));
        }
        if let Some(t) = self.to {
            parts.push(format!("dt <= DATE '{t}'"));
        }
        parts.join(" AND ")
    }

    /// Checks the range is well formed.
    pub fn check(&self) -> Result<(), QueryError> {
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(QueryError::Invalid(format!(
                "the range starts ({f}) after it ends ({t})"
            )));
        }
        Ok(())
    }
}

impl Ctx<'_> {
    /// The scope narrowed to the range's shop; a shop-bound caller cannot widen it.
    pub fn scope_for(&self, range: &Range) -> Result<Scope, QueryError> {
        match (&self.scope.shop, &range.shop) {
            (Some(mine), Some(asked)) if mine != asked => Err(QueryError::Rejected(format!(
                "this key is bound to shop {mine:?} and cannot read shop {asked:?}"
            ))),
            (_, Some(asked)) => Ok(Scope::shop(asked.clone())),
            (mine, None) => Ok(Scope { shop: mine.clone() }),
        }
    }

    /// Runs SQL and returns its rows as a table.
    pub async fn table(&self, name: &str, scope: &Scope, sql: &str) -> Result<Table, QueryError> {
        let rows = self.engine.sql(sql, scope.clone()).await?;
        let schema = rows.schema.clone();
        let batches = rows.collect().await?;
        Table::from_batches(name, &schema, &batches)
    }

    /// An SQL expression for an event's local wall-clock time, for hours and weekdays.
    pub fn local_ts(&self) -> String {
        match self.zone {
            Zone::Fixed(o) => format!("(ts + INTERVAL '{} seconds')", o.local_minus_utc()),
            Zone::Named(tz) => format!(
                "to_local_time(arrow_cast(ts, 'Timestamp(ms, \"{}\")'))",
                tz.name()
            ),
        }
    }
}

/// A text as an SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An identifier (column name) checked to be a plain name, quoted.
pub fn sql_ident(s: &str) -> Result<String, QueryError> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(format!("\"{s}\""))
    } else {
        Err(QueryError::Invalid(format!(
            "{s:?} is not a column name (letters, digits and _ only)"
        )))
    }
}

fn params<T: serde::de::DeserializeOwned>(
    name: &str,
    v: serde_json::Value,
) -> Result<T, QueryError> {
    serde_json::from_value(v).map_err(|e| QueryError::Invalid(format!("{name} parameters: {e}")))
}

/// Runs an analysis by name with JSON parameters (the API body, or the CLI's flags).
pub async fn run_named(
    ctx: &Ctx<'_>,
    name: &str,
    p: serde_json::Value,
) -> Result<Analysis, QueryError> {
    let one_shop = p.get("shop").is_some_and(|s| !s.is_null()) || ctx.scope.shop.is_some();
    let mut a = match name {
        "kpis" => kpis::run(ctx, &params(name, p)?).await,
        "funnel" => funnel::run(ctx, &params(name, p)?).await,
        "retention" => retention::run(ctx, &params(name, p)?).await,
        "rfm" => rfm::run(ctx, &params(name, p)?).await,
        "activity" => activity::run(ctx, &params(name, p)?).await,
        "rankings" => rankings::run(ctx, &params(name, p)?).await,
        "repeat" => repeat::run(ctx, &params(name, p)?).await,
        "paths" => paths::run(ctx, &params(name, p)?).await,
        _ => Err(find(name).err().unwrap_or_else(|| {
            QueryError::Invalid(format!(
                "analysis {name:?} is registered but not dispatched"
            ))
        })),
    }?;
    // Figures over several shops are rarely what was meant (the demo lake mixes a 2011 UK
    // retailer with generated 2017 customers): say so, in the result itself.
    if !one_shop {
        let shops = ctx.engine.shops()?;
        if shops.len() > 1 {
            a.summary
                .insert("spans_shops".into(), serde_json::json!(shops));
        }
    }
    Ok(a)
}
