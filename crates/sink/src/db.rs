//! Talking to the servers: connecting with a clear error, reading a table's columns and key, and
//! running the batched upserts in one transaction. The SQL text lives in `sql`.

use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySql, MySqlArguments, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Connection, Database, Row};

use crate::error::SinkError;
use crate::plan::{Bound, Existing, ExistingColumn, Kind, Plan};
use crate::sql::Dialect;

/// How long to wait for a server that accepts the TCP connection but does not answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per sink: writes are few and large, and the shop's database is shared.
const MAX_CONNECTIONS: u32 = 4;
/// Both protocols number parameters with 16 bits.
pub(crate) const MAX_PARAMS: usize = 65535;
/// Data per statement, so one statement never holds a whole huge table in memory twice.
pub(crate) const MAX_BATCH_BYTES: usize = 16 << 20;

/// Where a server is, for messages (never the password).
pub(crate) struct Target {
    pub text: String,
    pub hint: String,
}

fn connect_error(kind: &'static str, target: Target, err: sqlx::Error) -> SinkError {
    SinkError::Connect {
        kind,
        target: target.text,
        hint: target.hint,
        err,
    }
}

fn timed_out() -> sqlx::Error {
    let msg = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs());
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, msg))
}

/// A connected MySQL/MariaDB sink's pool and what was learned about the server.
pub(crate) struct MySqlServer {
    pub pool: MySqlPool,
    /// A binary, no-pad utf8mb4 collation for text keys, if the server has one.
    pub key_collation: Option<String>,
    pub max_batch_bytes: usize,
}

pub(crate) async fn connect_mysql(url: &str) -> Result<MySqlServer, SinkError> {
    let kind = "mysql";
    let opts = MySqlConnectOptions::from_str(url).map_err(|err| SinkError::BadUrl { kind, err })?;
    let target = || Target {
        text: format!(
            "{}:{} (user {:?}, database {:?})",
            opts.get_host(),
            opts.get_port(),
            opts.get_username(),
            opts.get_database().unwrap_or("")
        ),
        hint: format!(
            "mysqladmin -h {} -P {} ping",
            opts.get_host(),
            opts.get_port()
        ),
    };
    // A pool retries a refused connection until its timeout and then reports only "timed out";
    // one direct connection first gives the real reason at once.
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(err)) => return Err(connect_error(kind, target(), err)),
        Err(_) => return Err(connect_error(kind, target(), timed_out())),
    };
    let probe = async {
        let (db, packet): (Option<String>, i64) =
            sqlx::query_as("SELECT DATABASE(), CAST(@@max_allowed_packet AS SIGNED)")
                .fetch_one(&mut conn)
                .await?;
        let collations: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(COLLATION_NAME AS CHAR) FROM information_schema.COLLATIONS \
             WHERE COLLATION_NAME IN ('utf8mb4_0900_bin', 'utf8mb4_nopad_bin', 'utf8mb4_bin')",
        )
        .fetch_all(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>((db, packet, collations))
    };
    let (db, packet, collations) = probe
        .await
        .map_err(|err| connect_error(kind, target(), err))?;
    let _ = conn.close().await;
    if db.is_none() {
        return Err(SinkError::Server {
            kind,
            target: target().text,
            reason: "the URL names no database: add one, as in mysql://user@host:3306/dbname"
                .into(),
        });
    }
    // MySQL 8 and MariaDB have no-pad binary collations; older servers only the padding one.
    let key_collation = ["utf8mb4_0900_bin", "utf8mb4_nopad_bin", "utf8mb4_bin"]
        .into_iter()
        .find(|c| collations.iter().any(|have| have == c))
        .map(String::from);
    let max_batch_bytes = usize::try_from(packet / 2)
        .unwrap_or(MAX_BATCH_BYTES)
        .clamp(1 << 16, MAX_BATCH_BYTES);
    let pool = MySqlPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(opts);
    Ok(MySqlServer {
        pool,
        key_collation,
        max_batch_bytes,
    })
}

pub(crate) async fn connect_postgres(url: &str) -> Result<PgPool, SinkError> {
    let kind = "postgres";
    let opts = PgConnectOptions::from_str(url).map_err(|err| SinkError::BadUrl { kind, err })?;
    let target = || Target {
        text: format!(
            "{}:{} (user {:?}, database {:?})",
            opts.get_host(),
            opts.get_port(),
            opts.get_username(),
            opts.get_database().unwrap_or(opts.get_username())
        ),
        hint: format!("pg_isready -h {} -p {}", opts.get_host(), opts.get_port()),
    };
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(err)) => return Err(connect_error(kind, target(), err)),
        Err(_) => return Err(connect_error(kind, target(), timed_out())),
    };
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut conn)
        .await
        .map_err(|err| connect_error(kind, target(), err))?;
    let _ = conn.close().await;
    if schema.is_none() {
        return Err(SinkError::Server {
            kind,
            target: target().text,
            reason: "no schema of the search_path exists: create one or set search_path".into(),
        });
    }
    Ok(PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(opts))
}

fn db_error(
    d: Dialect,
    table: &str,
    action: impl Into<String>,
) -> impl FnOnce(sqlx::Error) -> SinkError {
    let table = table.to_string();
    move |err| SinkError::Database {
        kind: d.name(),
        table,
        action: action.into(),
        err,
    }
}

/// The table's columns and primary key, or `None` if it does not exist.
pub(crate) async fn existing_mysql(
    pool: &MySqlPool,
    table: &str,
) -> Result<Option<Existing>, SinkError> {
    let rows = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
         CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(db_error(Dialect::MySql, table, "read the columns of"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let read = || -> Result<ExistingColumn, sqlx::Error> {
            let data_type: String = row.try_get(1)?;
            let column_type: String = row.try_get(2)?;
            let kind = match data_type.to_ascii_lowercase().as_str() {
                // BOOLEAN is an alias of TINYINT(1).
                "tinyint" if column_type.to_ascii_lowercase().starts_with("tinyint(1)") => {
                    Kind::Bool
                }
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Kind::Int,
                "float" | "double" | "real" => Kind::Float,
                // DECIMAL, dates, JSON, ...: MySQL converts text exactly.
                _ => Kind::Text,
            };
            let bounded = matches!(data_type.to_ascii_lowercase().as_str(), "char" | "varchar");
            let max: Option<i64> = row.try_get(3)?;
            Ok(ExistingColumn {
                name: row.try_get(0)?,
                kind,
                cast: None,
                max_chars: max.filter(|_| bounded).and_then(|m| u64::try_from(m).ok()),
            })
        };
        columns.push(read().map_err(db_error(Dialect::MySql, table, "read the columns of"))?);
    }
    let primary_key: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
         ORDER BY ORDINAL_POSITION",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(db_error(Dialect::MySql, table, "read the primary key of"))?;
    Ok(Some(Existing {
        columns,
        primary_key,
    }))
}

/// The table's columns and primary key, or `None` if it does not exist.
pub(crate) async fn existing_postgres(
    pool: &PgPool,
    table: &str,
) -> Result<Option<Existing>, SinkError> {
    let rows = sqlx::query(
        "SELECT column_name::text, data_type::text, udt_schema::text, udt_name::text, \
         character_maximum_length::bigint FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(db_error(Dialect::Postgres, table, "read the columns of"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let read = || -> Result<ExistingColumn, sqlx::Error> {
            let data_type: String = row.try_get(1)?;
            let (kind, cast) = match data_type.as_str() {
                "bigint" | "integer" | "smallint" => (Kind::Int, None),
                "double precision" | "real" => (Kind::Float, None),
                "boolean" => (Kind::Bool, None),
                "text" | "character varying" | "character" => (Kind::Text, None),
                // numeric, dates, json, uuid, arrays, ...: bound as text and cast by the
                // server, which keeps numeric exact. Quoting makes any type name safe to splice.
                _ => {
                    let (schema, name): (String, String) = (row.try_get(2)?, row.try_get(3)?);
                    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                    (
                        Kind::Text,
                        Some(format!("{}.{}", quoted(&schema), quoted(&name))),
                    )
                }
            };
            let max: Option<i64> = row.try_get(4)?;
            Ok(ExistingColumn {
                name: row.try_get(0)?,
                kind,
                cast,
                max_chars: max.and_then(|m| u64::try_from(m).ok()),
            })
        };
        columns.push(read().map_err(db_error(Dialect::Postgres, table, "read the columns of"))?);
    }
    let primary_key: Vec<String> = sqlx::query_scalar(
        "SELECT kcu.column_name::text FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = tc.constraint_schema \
         AND kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name \
         WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() \
         AND tc.table_name = $1 ORDER BY kcu.ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(db_error(Dialect::Postgres, table, "read the primary key of"))?;
    Ok(Some(Existing {
        columns,
        primary_key,
    }))
}

/// Binding a [`Bound`] with the Rust type of its column's kind, so that a column's parameters
/// (nulls included) all have one SQL type.
pub(crate) trait Backend: Database + sqlx::database::HasStatementCache {
    /// Appends one parameter.
    fn push<'q>(
        q: Query<'q, Self, Self::Arguments<'q>>,
        v: &'q Bound<'_>,
        kind: Kind,
    ) -> Query<'q, Self, Self::Arguments<'q>>;
}

macro_rules! backend {
    ($db:ty) => {
        impl Backend for $db {
            fn push<'q>(
                q: Query<'q, Self, Self::Arguments<'q>>,
                v: &'q Bound<'_>,
                kind: Kind,
            ) -> Query<'q, Self, Self::Arguments<'q>> {
                match (v, kind) {
                    (Bound::Null, Kind::Int) => q.bind(None::<i64>),
                    (Bound::Null, Kind::Float) => q.bind(None::<f64>),
                    (Bound::Null, Kind::Bool) => q.bind(None::<bool>),
                    (Bound::Null, Kind::Text) => q.bind(None::<&str>),
                    (Bound::Int(i), _) => q.bind(*i),
                    (Bound::Float(f), _) => q.bind(*f),
                    (Bound::Bool(b), _) => q.bind(*b),
                    (Bound::Text(s), _) => q.bind(&**s),
                }
            }
        }
    };
}
backend!(MySql);
backend!(Postgres);

/// The statements of a plan: row ranges and their SQL, the full-size text built once.
fn statements(
    d: Dialect,
    plan: &Plan<'_>,
    max_batch_bytes: usize,
) -> Vec<(Range<usize>, Arc<str>)> {
    let batches = plan.batches(MAX_PARAMS, max_batch_bytes);
    let full = batches.first().map_or(0, |b| b.len());
    let full_sql: Arc<str> = d.upsert(&plan.table, &plan.columns, full).into();
    batches
        .into_iter()
        .map(|b| {
            let sql = if b.len() == full {
                full_sql.clone()
            } else {
                d.upsert(&plan.table, &plan.columns, b.len()).into()
            };
            (b, sql)
        })
        .collect()
}

/// One multi-row statement with its rows bound. Not cached: statements differ by row count and
/// can be hundreds of kilobytes long.
fn bound<'q, DB: Backend>(
    sql: &'q str,
    plan: &'q Plan<'_>,
    rows: Range<usize>,
) -> Query<'q, DB, DB::Arguments<'q>> {
    let mut q = sqlx::query(sql).persistent(false);
    for r in rows {
        for (v, c) in plan.row(r).iter().zip(&plan.columns) {
            q = DB::push(q, v, c.kind);
        }
    }
    q
}

// Concrete types for the async functions below: the generic form's associated types there
// make their futures non-`Send`.
fn bound_mysql<'q>(
    sql: &'q str,
    plan: &'q Plan<'_>,
    rows: Range<usize>,
) -> Query<'q, MySql, MySqlArguments> {
    bound::<MySql>(sql, plan, rows)
}

fn bound_postgres<'q>(
    sql: &'q str,
    plan: &'q Plan<'_>,
    rows: Range<usize>,
) -> Query<'q, Postgres, PgArguments> {
    bound::<Postgres>(sql, plan, rows)
}

// The two upserts are spelled out per database: a function generic over sqlx's `Executor`
// makes `Sink::write`'s future non-`Send` (rustc's higher-ranked lifetime limitation).

/// MySQL commits DDL implicitly, so it runs first, apart from the transaction of the rows.
pub(crate) async fn upsert_mysql(
    pool: &MySqlPool,
    ddl: &[String],
    plan: &Plan<'_>,
    max_batch_bytes: usize,
) -> Result<u64, SinkError> {
    let (d, table) = (Dialect::MySql, plan.table.as_str());
    for s in ddl {
        sqlx::raw_sql(s)
            .execute(pool)
            .await
            .map_err(db_error(d, table, "create or alter"))?;
    }
    let mut tx = pool
        .begin()
        .await
        .map_err(db_error(d, table, "start a transaction for"))?;
    for (rows, sql) in statements(d, plan, max_batch_bytes) {
        let action = format!("upsert rows {}..{} of", rows.start, rows.end);
        bound_mysql(&sql, plan, rows)
            .execute(&mut *tx)
            .await
            .map_err(db_error(d, table, action))?;
    }
    tx.commit()
        .await
        .map_err(db_error(d, table, "commit the rows of"))?;
    Ok(plan.rows() as u64)
}

/// Postgres DDL is transactional: table, columns and rows appear together or not at all.
pub(crate) async fn upsert_postgres(
    pool: &PgPool,
    ddl: &[String],
    plan: &Plan<'_>,
) -> Result<u64, SinkError> {
    let (d, table) = (Dialect::Postgres, plan.table.as_str());
    let mut tx = pool
        .begin()
        .await
        .map_err(db_error(d, table, "start a transaction for"))?;
    for s in ddl {
        // `raw_sql` here would make the future non-`Send`; DDL has no parameters anyway.
        sqlx::query(s)
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(db_error(d, table, "create or alter"))?;
    }
    for (rows, sql) in statements(d, plan, MAX_BATCH_BYTES) {
        let action = format!("upsert rows {}..{} of", rows.start, rows.end);
        bound_postgres(&sql, plan, rows)
            .execute(&mut *tx)
            .await
            .map_err(db_error(d, table, action))?;
    }
    tx.commit()
        .await
        .map_err(db_error(d, table, "commit the rows of"))?;
    Ok(plan.rows() as u64)
}
