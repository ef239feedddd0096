//! Where a generic mining task's table comes from: SQL over the lake (`sql`), a CSV or Parquet
//! file (`data`) or, for rules, a basket file (`baskets`) — exactly one — with the column-type
//! overrides. Files are read only when the caller allows it (the CLI does; the API reads the
//! lake only, so a request cannot open the server's files).

use crate::MineError;
use crate::input::{DEFAULT_MAX_ROWS, RawTable};
use crate::typing::TypeSpec;
use query::analysis::Ctx as QueryCtx;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a mining task may use.
pub struct Ctx<'a> {
    /// The SQL engine, the caller's shop scope and the lake's zone.
    pub query: QueryCtx<'a>,
    /// Whether `data` and `baskets` may name local files.
    pub files: bool,
}

/// The input of a generic task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// SQL over the lake (its tables: behavior, orders, items, users, …).
    #[serde(default)]
    pub sql: Option<String>,
    /// A CSV (header row) or Parquet file.
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// A basket file: one transaction per line, items separated by commas (rules only).
    #[serde(default)]
    pub baskets: Option<PathBuf>,
    /// Columns to treat as labels although they hold numbers.
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Columns that must be numbers.
    #[serde(default)]
    pub numeric: Vec<String>,
    /// Refuse inputs with more rows than this (default 5,000,000).
    #[serde(default)]
    pub max_rows: Option<usize>,
}

/// A loaded input.
pub enum Loaded {
    /// A table.
    Table(RawTable),
    /// A basket file's transactions.
    Baskets(mining::Baskets),
}

impl Source {
    /// The type overrides.
    pub fn types(&self) -> TypeSpec {
        TypeSpec {
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
        }
    }

    fn max_rows(&self) -> usize {
        self.max_rows.unwrap_or(DEFAULT_MAX_ROWS)
    }

    /// Reads the input.
    pub async fn load(&self, ctx: &Ctx<'_>, baskets_allowed: bool) -> Result<Loaded, MineError> {
        let given = [
            self.sql.is_some(),
            self.data.is_some(),
            self.baskets.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(MineError::Usage(format!(
                "give exactly one input: sql (SQL over the lake), data (a CSV or Parquet file){}",
                if baskets_allowed {
                    " or baskets (a basket file)"
                } else {
                    ""
                }
            )));
        }
        if !ctx.files && (self.data.is_some() || self.baskets.is_some()) {
            return Err(MineError::Usage(
                "the API reads the lake only: give sql instead of data or baskets".into(),
            ));
        }
        if let Some(sql) = &self.sql {
            let engine = ctx.query.engine;
            return match RawTable::query(engine, sql, &ctx.query.scope, self.max_rows()).await? {
                Some(t) => Ok(Loaded::Table(t)),
                None => Err(MineError::Usage("the SQL returned no rows".into())),
            };
        }
        if let Some(p) = &self.data {
            return Ok(Loaded::Table(RawTable::from_file(p, self.max_rows())?));
        }
        match &self.baskets {
            Some(p) if baskets_allowed => Ok(Loaded::Baskets(crate::baskets::from_basket_file(
                p,
                self.max_rows(),
            )?)),
            _ => Err(MineError::Usage(
                "baskets (a basket file) is an input of rules only; give sql or data".into(),
            )),
        }
    }

    /// Reads a table input (not baskets).
    pub async fn table(&self, ctx: &Ctx<'_>) -> Result<RawTable, MineError> {
        match self.load(ctx, false).await? {
            Loaded::Table(t) => Ok(t),
            Loaded::Baskets(_) => Err(MineError::Internal(
                "baskets where a table was asked".into(),
            )),
        }
    }
}
