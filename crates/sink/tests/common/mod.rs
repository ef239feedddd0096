//! Shared by the database tests: a context per test (sink, a second connection to read back,
//! a unique table prefix), reading tables back as JSON, and cleanup.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sqlx::mysql::{MySqlPool, MySqlRow};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Executor, Row};
use storepulse_sink::{Sink, SinkTable};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Postgres,
    MySql,
}

impl Db {
    pub fn url(self) -> String {
        let (var, default) = match self {
            Db::Postgres => (
                "STOREPULSE_TEST_PG_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Db::MySql => (
                "STOREPULSE_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        };
        std::env::var(var).unwrap_or_else(|_| default.into())
    }

    pub fn how_to_start(self) -> &'static str {
        match self {
            Db::Postgres => {
                "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
            }
            Db::MySql => {
                "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
            }
        }
    }
}

/// Column types as read back.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    I,
    F,
    B,
    T,
}

#[derive(Clone)]
pub enum Reader {
    Pg(PgPool),
    My(MySqlPool),
}

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub sink: Sink,
    pub reader: Reader,
    pub prefix: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Ctx {
    pub async fn new(db: Db) -> Ctx {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = format!(
            "t_{}_{}_{}_",
            std::process::id(),
            nanos % 1_000_000_000_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = db.url();
        let sink = Sink::connect(&url, &prefix).await.unwrap_or_else(|e| {
            panic!(
                "{db:?} is not reachable, so the sink cannot be tested: {e}\nStart it with `{}` \
                 (bash .ci/run does this), or point {} at a server",
                db.how_to_start(),
                if db == Db::Postgres {
                    "STOREPULSE_TEST_PG_URL"
                } else {
                    "STOREPULSE_TEST_MYSQL_URL"
                }
            )
        });
        let reader = match db {
            Db::Postgres => Reader::Pg(PgPool::connect(&url).await.expect("reader connection")),
            Db::MySql => Reader::My(MySqlPool::connect(&url).await.expect("reader connection")),
        };
        assert_eq!(
            sink.kind(),
            if db == Db::Postgres {
                "postgres"
            } else {
                "mysql"
            }
        );
        Ctx {
            db,
            sink,
            reader,
            prefix,
        }
    }

    pub fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn q(&self, id: &str) -> String {
        match self.db {
            Db::Postgres => format!("\"{id}\""),
            Db::MySql => format!("`{id}`"),
        }
    }

    pub async fn exec(&self, sql: &str) {
        match &self.reader {
            Reader::Pg(p) => p.execute(sql).await.map(|_| ()),
            Reader::My(p) => p.execute(sql).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn count(&self, name: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", self.q(&self.full(name)));
        match &self.reader {
            Reader::Pg(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
            Reader::My(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every row, keyed by the JSON of its key columns (the first `nkey` of `cols`).
    pub async fn read(
        &self,
        name: &str,
        cols: &[(&str, Ty)],
        nkey: usize,
    ) -> BTreeMap<String, Vec<Value>> {
        let list: Vec<String> = cols.iter().map(|(c, _)| self.q(c)).collect();
        let sql = format!(
            "SELECT {} FROM {}",
            list.join(", "),
            self.q(&self.full(name))
        );
        let mut out = BTreeMap::new();
        let rows: Vec<Vec<Value>> = match &self.reader {
            Reader::Pg(p) => sqlx::query(&sql).fetch_all(p).await.map(|rows| {
                let value = |r: &PgRow, i: usize, ty: Ty| match ty {
                    Ty::I => r.get::<Option<i64>, _>(i).map_or(Value::Null, Value::from),
                    Ty::F => r.get::<Option<f64>, _>(i).map_or(Value::Null, Value::from),
                    Ty::B => r.get::<Option<bool>, _>(i).map_or(Value::Null, Value::from),
                    Ty::T => r
                        .get::<Option<String>, _>(i)
                        .map_or(Value::Null, Value::from),
                };
                rows.iter()
                    .map(|r| {
                        cols.iter()
                            .enumerate()
                            .map(|(i, c)| value(r, i, c.1))
                            .collect()
                    })
                    .collect()
            }),
            Reader::My(p) => sqlx::query(&sql).fetch_all(p).await.map(|rows| {
                let value = |r: &MySqlRow, i: usize, ty: Ty| match ty {
                    Ty::I => r.get::<Option<i64>, _>(i).map_or(Value::Null, Value::from),
                    Ty::F => r.get::<Option<f64>, _>(i).map_or(Value::Null, Value::from),
                    Ty::B => r.get::<Option<bool>, _>(i).map_or(Value::Null, Value::from),
                    // Binary-collated key columns come flagged BINARY, which sqlx will not
                    // decode as String.
                    Ty::T => r.get::<Option<Vec<u8>>, _>(i).map_or(Value::Null, |b| {
                        Value::from(String::from_utf8(b).expect("utf-8"))
                    }),
                };
                rows.iter()
                    .map(|r| {
                        cols.iter()
                            .enumerate()
                            .map(|(i, c)| value(r, i, c.1))
                            .collect()
                    })
                    .collect()
            }),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        for row in rows {
            let key = serde_json::to_string(&row[..nkey]).expect("json");
            assert!(
                out.insert(key.clone(), row).is_none(),
                "duplicate key {key} in {name}"
            );
        }
        out
    }

    /// `(column, data type)` as the catalog has them, lowercased.
    pub async fn types(&self, name: &str) -> BTreeMap<String, String> {
        let rows: Vec<(String, String)> = match &self.reader {
            Reader::Pg(p) => sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(self.full(name))
            .fetch_all(p)
            .await
            .expect("columns"),
            Reader::My(p) => sqlx::query_as(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            )
            .bind(self.full(name))
            .fetch_all(p)
            .await
            .expect("columns"),
        };
        rows.into_iter()
            .map(|(c, t)| (c, t.to_lowercase()))
            .collect()
    }

    pub async fn drop_tables(&self) {
        let names: Vec<String> = match &self.reader {
            Reader::Pg(p) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_all(p)
            .await
            .unwrap_or_default(),
            Reader::My(p) => sqlx::query_scalar(
                "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            )
            .fetch_all(p)
            .await
            .unwrap_or_default(),
        };
        for n in names.iter().filter(|n| n.starts_with(&self.prefix)) {
            self.exec(&format!("DROP TABLE IF EXISTS {}", self.q(n)))
                .await;
        }
    }
}

/// Runs a scenario, then drops its tables whether or not it panicked.
pub async fn scenario<F, Fut>(db: Db, f: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let ctx = Ctx::new(db).await;
    let result = tokio::spawn(f(ctx.clone())).await;
    ctx.drop_tables().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub fn table(name: &str, columns: &[&str], key: &[&str], rows: Vec<Vec<Value>>) -> SinkTable {
    SinkTable {
        name: name.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        key: key.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

/// What a value reads back as in a column of type `ty`.
fn normal(v: &Value, ty: Ty) -> Value {
    match (ty, v) {
        (_, Value::Null) => Value::Null,
        (Ty::F, Value::Number(n)) => Value::from(n.as_f64().expect("f64")),
        (Ty::T, Value::String(_)) => v.clone(),
        (Ty::T, other) => Value::from(other.to_string()),
        _ => v.clone(),
    }
}

/// The table the rows should leave (last row of a key wins), in the shape of `Ctx::read`.
pub fn expected(rows: &[Vec<Value>], tys: &[Ty], nkey: usize) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for row in rows {
        let row: Vec<Value> = row.iter().zip(tys).map(|(v, &t)| normal(v, t)).collect();
        out.insert(serde_json::to_string(&row[..nkey]).expect("json"), row);
    }
    out
}

pub fn assert_tables_eq(got: &BTreeMap<String, Vec<Value>>, want: &BTreeMap<String, Vec<Value>>) {
    for (k, w) in want {
        assert_eq!(got.get(k), Some(w), "row {k}");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "row count; extra rows: {:?}",
        got.keys()
            .filter(|k| !want.contains_key(*k))
            .collect::<Vec<_>>()
    );
}
