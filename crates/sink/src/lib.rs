//! # storepulse-sink
//!
//! Result sinks: report tables and live job results into the shop's MySQL/MariaDB or
//! PostgreSQL, so its own dashboards and tools can read them with plain SQL.
//!
//! A [`Sink`] holds a connection pool; [`Sink::write`] takes a [`SinkTable`] (column names, the
//! key columns that identify a row, rows of JSON values) and upserts it into `<prefix><name>`:
//!
//! - the table is created if missing, with the key as primary key; columns it lacks are added
//!   (nullable), and existing column types are kept;
//! - column types are inferred from the values: integers → `BIGINT`, any float → `DOUBLE
//!   PRECISION`/`DOUBLE`, booleans → `BOOLEAN`, anything else → text (`TEXT`, and
//!   `VARCHAR(255)` with a binary collation for MySQL keys); nested arrays and objects are
//!   written as JSON text;
//! - all rows go in one transaction, as multi-row `INSERT … ON CONFLICT … DO UPDATE` (Postgres)
//!   or `INSERT … ON DUPLICATE KEY UPDATE` (MySQL/MariaDB) statements within the servers'
//!   65,535-parameter limit, so writing the same rows again updates them in place;
//! - input is checked before anything is sent: a null key, a bad name or a value that does not
//!   fit an existing column fails the whole write and leaves the rows as they were.
//!
//! Names must be plain identifiers (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 characters) and are
//! always quoted; values are always bound parameters.
//!
//! ```no_run
//! # async fn run() -> Result<(), storepulse_sink::SinkError> {
//! use serde_json::json;
//! use storepulse_sink::{Sink, SinkTable};
//!
//! let sink = Sink::connect("postgres://root@127.0.0.1:5432/test", "sp_").await?;
//! let report = sink
//!     .write(&SinkTable {
//!         name: "daily_kpis".into(),
//!         columns: vec!["shop".into(), "day".into(), "orders".into(), "revenue".into()],
//!         key: vec!["shop".into(), "day".into()],
//!         rows: vec![vec![json!("tb"), json!("2017-11-25"), json!(412), json!(10234.5)]],
//!     })
//!     .await?;
//! assert_eq!((report.table.as_str(), report.rows), ("sp_daily_kpis", 1));
//! # Ok(())
//! # }
//! ```
//!
//! Producing the tables (reports, live job results) is the job of the `query` and `stream`
//! crates and of the server; this crate only writes them.
#![deny(missing_docs)]

mod db;
mod error;
mod plan;
mod sql;

use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;

pub use error::SinkError;
use plan::Rules;
use sql::Dialect;

/// A table to write: column names, the key columns (a row's identity), rows of JSON values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkTable {
    /// Table name without the sink's prefix.
    pub name: String,
    /// Column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// The columns that identify a row (the primary key); required, never null.
    pub key: Vec<String>,
    /// Rows, one value per column. Nulls are written as NULL; arrays and objects as JSON text.
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteReport {
    /// The table written, with the prefix.
    pub table: String,
    /// Rows upserted: the input rows, less earlier rows whose key a later row repeats (the last
    /// one wins, as if the rows were applied in order).
    pub rows: u64,
}

/// A connection pool to one database, writing tables with a name prefix.
#[derive(Clone, Debug)]
pub struct Sink {
    db: Db,
    prefix: String,
}

#[derive(Clone, Debug)]
enum Db {
    MySql {
        pool: MySqlPool,
        key_collation: Option<String>,
        max_batch_bytes: usize,
    },
    Postgres(PgPool),
}

impl Sink {
    /// Connects to `mysql://`, `mariadb://` (the same protocol), `postgres://` or
    /// `postgresql://` URLs, checking at once that the server answers.
    ///
    /// `table_prefix` is put before every table name (may be empty).
    pub async fn connect(url: &str, table_prefix: &str) -> Result<Sink, SinkError> {
        if !table_prefix.is_empty() {
            // The prefix is checked as the start of an identifier; the full name again on write.
            plan::check_identifier("table prefix", table_prefix)?;
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            // Only the part before a colon: the rest may hold a password.
            let scheme = url.split(':').next().unwrap_or("");
            return Err(SinkError::UnsupportedUrl {
                scheme: scheme.into(),
            });
        };
        let db = match scheme.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => {
                let url = format!("mysql://{rest}");
                let server = db::connect_mysql(&url).await?;
                Db::MySql {
                    pool: server.pool,
                    key_collation: server.key_collation,
                    max_batch_bytes: server.max_batch_bytes,
                }
            }
            "postgres" | "postgresql" => Db::Postgres(db::connect_postgres(url).await?),
            _ => {
                return Err(SinkError::UnsupportedUrl {
                    scheme: scheme.into(),
                });
            }
        };
        Ok(Sink {
            db,
            prefix: table_prefix.into(),
        })
    }

    /// `"mysql"` (MySQL or MariaDB) or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        self.dialect().name()
    }

    fn dialect(&self) -> Dialect {
        match self.db {
            Db::MySql { .. } => Dialect::MySql,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Creates `<prefix><name>` if missing, adds missing columns, and upserts all rows in one
    /// transaction. On error no row of this write is visible (with MySQL, a table or column
    /// created just before a failed upsert stays, empty, as MySQL commits DDL at once).
    ///
    /// A write of no rows is checked but changes nothing: column types come from the first
    /// rows written, not from an empty batch that would make every new column text.
    pub async fn write(&self, t: &SinkTable) -> Result<WriteReport, SinkError> {
        let table = format!("{}{}", self.prefix, t.name);
        plan::check_shape(t, &table)?;
        if t.rows.is_empty() {
            return Ok(WriteReport { table, rows: 0 });
        }
        let rows = match &self.db {
            Db::MySql {
                pool,
                key_collation,
                max_batch_bytes,
            } => {
                let rules = Rules {
                    names_ignore_case: true,
                    new_text_key_chars: Some(255),
                    text_rejects_nul: false,
                };
                let existing = db::existing_mysql(pool, &table).await?;
                let plan = plan::build(t, &table, existing.as_ref(), rules)?;
                let ddl = schema_changes(
                    Dialect::MySql,
                    &plan,
                    existing.is_some(),
                    key_collation.as_deref(),
                );
                db::upsert_mysql(pool, &ddl, &plan, *max_batch_bytes).await?
            }
            Db::Postgres(pool) => {
                let rules = Rules {
                    names_ignore_case: false,
                    new_text_key_chars: None,
                    text_rejects_nul: true,
                };
                let existing = db::existing_postgres(pool, &table).await?;
                let plan = plan::build(t, &table, existing.as_ref(), rules)?;
                let ddl = schema_changes(Dialect::Postgres, &plan, existing.is_some(), None);
                db::upsert_postgres(pool, &ddl, &plan).await?
            }
        };
        Ok(WriteReport { table, rows })
    }
}

/// `CREATE TABLE` for a new table, else one `ADD COLUMN` per missing column.
fn schema_changes(
    d: Dialect,
    plan: &plan::Plan<'_>,
    exists: bool,
    key_collation: Option<&str>,
) -> Vec<String> {
    if !exists {
        return vec![d.create_table(&plan.table, &plan.columns, key_collation)];
    }
    plan.columns
        .iter()
        .filter(|c| c.is_new)
        .map(|c| d.add_column(&plan.table, c, key_collation))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn futures_are_send_and_bad_urls_are_named() {
        let e = Sink::connect("sqlite://x.db", "").await.unwrap_err();
        assert!(e.to_string().contains("\"sqlite\""), "{e}");
        let e = Sink::connect("postgres://u@h/db", "1bad")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                SinkError::BadIdentifier {
                    what: "table prefix",
                    ..
                }
            ),
            "{e}"
        );
        let refused = Sink::connect("postgres://u:secret@127.0.0.1:1/db", "")
            .await
            .unwrap_err();
        let msg = refused.to_string();
        assert!(
            msg.contains("127.0.0.1:1") && msg.contains("pg_isready") && !msg.contains("secret"),
            "{msg}"
        );
        let refused = Sink::connect("mariadb://u:secret@127.0.0.1:1/db", "")
            .await
            .unwrap_err();
        let msg = refused.to_string();
        assert!(
            msg.contains("mysqladmin") && !msg.contains("secret"),
            "{msg}"
        );

        let sink = Sink {
            db: Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .connect_lazy("postgres://u@h/db")
                    .unwrap(),
            ),
            prefix: String::new(),
        };
        let t = SinkTable::default();
        assert_send(&sink.write(&t));
        assert_send(&Sink::connect("x", ""));
    }
}
