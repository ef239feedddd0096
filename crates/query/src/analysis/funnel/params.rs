//! A funnel's parameters: its steps (an action, a SQL condition, or both), the step order rule,
//! the conversion window, and the check that each step's action exists in its table.

use crate::analysis::{Ctx, Range, sql_ident, sql_str};
use crate::error::QueryError;
use serde::{Deserialize, Serialize};

/// One funnel step: an action, a SQL condition on the table's columns, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The `action` value (behaviour events) or `status` (orders).
    #[serde(default)]
    pub action: Option<String>,
    /// A SQL boolean expression over the table's columns, e.g. `category_id = 4756105`.
    #[serde(default)]
    pub filter: Option<String>,
    /// Display name (default: the action and/or the filter).
    #[serde(default)]
    pub name: Option<String>,
}

impl Step {
    /// Parses the CLI form: `pv`, `buy:category_id = 5` (action, then a filter), or `:price > 10`.
    pub fn parse(s: &str) -> Step {
        match s.split_once(':') {
            Some((a, f)) => Step {
                action: (!a.trim().is_empty()).then(|| a.trim().to_string()),
                filter: (!f.trim().is_empty()).then(|| f.trim().to_string()),
                name: None,
            },
            None => Step {
                action: Some(s.trim().to_string()),
                filter: None,
                name: None,
            },
        }
    }

    pub(super) fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.action, &self.filter) {
            (Some(a), Some(f)) => format!("{a} ({f})"),
            (Some(a), None) => a.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => "any event".into(),
        }
    }

    pub(super) fn condition(&self, kind_col: &str) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.action {
            parts.push(format!("{kind_col} = {}", sql_str(a)));
        }
        if let Some(f) = &self.filter {
            parts.push(format!("({f})"));
        }
        if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        }
    }
}

/// Step order rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Steps in order; other events may come between.
    #[default]
    Ordered,
    /// Each step is the very next event after the previous one.
    Strict,
}

/// Parameters of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelParams {
    /// Days and shop.
    #[serde(flatten)]
    pub range: Range,
    /// The event table (`behavior`, `order`, `page_view`, ...).
    #[serde(default = "default_table")]
    pub table: String,
    /// Two or more steps.
    pub steps: Vec<Step>,
    /// Conversion window from the first step, e.g. `30m`, `1d`, `3600s`.
    #[serde(default = "default_window")]
    pub window: String,
    /// Step order rules.
    #[serde(default)]
    pub mode: Mode,
    /// Break down by this column's value on the first step's event.
    #[serde(default)]
    pub breakdown: Option<String>,
}

fn default_table() -> String {
    "behavior".into()
}
fn default_window() -> String {
    "1d".into()
}

/// Parses a window like `90s`, `30m`, `1d` or a number of seconds ([`model::duration`]); ms.
pub fn window_ms(s: &str) -> Result<i64, QueryError> {
    model::duration::parse_ms(s).map_err(|e| QueryError::Invalid(format!("window: {e}")))
}

/// The column that holds each table's event kind.
pub(super) fn kind_column(table: &str) -> &'static str {
    match table {
        "order" | "orders" => "status",
        "login" => "result",
        "page_view" => "url",
        _ => "action",
    }
}

/// Refuses a step whose action (status, result) is neither a known value of its table nor found
/// in it: a typo (`byu`) would otherwise give an empty funnel that looks like a real answer.
pub(crate) async fn check_step_kinds(
    ctx: &Ctx<'_>,
    scope: &crate::tables::Scope,
    table: &str,
    steps: &[Step],
) -> Result<(), QueryError> {
    let known: &[&str] = match table {
        "behavior" => &["pv", "cart", "fav", "buy"],
        "order" | "orders" => &model::ORDER_STATUSES,
        "login" => &model::LOGIN_RESULTS,
        _ => return Ok(()),
    };
    let kind = kind_column(table);
    for (i, a) in steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.action.as_deref()?)))
    {
        if known.contains(&a) {
            continue;
        }
        // A configured extra action is known only by its events.
        let sql = format!(
            "SELECT 1 FROM {} WHERE {kind} = {} LIMIT 1",
            sql_ident(table)?,
            sql_str(a)
        );
        if ctx.table("probe", scope, &sql).await?.rows.is_empty() {
            return Err(QueryError::Invalid(format!(
                "step {}: no `{table}` event has {kind} {a:?}{}; the known values are {}",
                i + 1,
                model::suggest::hint(a, known.iter().copied()),
                known.join(", ")
            )));
        }
    }
    Ok(())
}
