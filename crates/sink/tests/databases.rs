//! The sinks against real servers: PostgreSQL at 127.0.0.1:5432 and MariaDB/MySQL at
//! 127.0.0.1:3306, database `test` (override with STOREPULSE_TEST_PG_URL and
//! STOREPULSE_TEST_MYSQL_URL). `bash .ci/run` starts both; a server that is down fails the
//! tests with the command that starts it. Every test uses its own table prefix and drops its
//! tables at the end, even when it fails.

mod common;

use std::time::Instant;

use common::{Ctx, Db, Reader, Ty, assert_tables_eq, expected, scenario, table};
use serde_json::{Value, json};
use storepulse_sink::{Sink, SinkError};

const MIXED_COLS: [&str; 6] = ["id", "label", "qty", "price", "active", "note"];
const MIXED_TYS: [Ty; 6] = [Ty::I, Ty::T, Ty::I, Ty::F, Ty::B, Ty::T];

fn mixed_rows() -> Vec<Vec<Value>> {
    let tricky = [
        "it's",
        "say \"hi\"",
        "back\\slash",
        "\\'; DROP TABLE x; --",
        "你好，世界",
        "",
        "emoji 🛒",
        "tab\tnew\nline",
        "`tick`",
    ];
    let mut rows: Vec<Vec<Value>> = tricky
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let price = [
                0.1,
                -2.5e-10,
                1e300,
                std::f64::consts::PI,
                -0.0,
                42.0,
                1.5,
                99.99,
                7.25,
            ][i];
            vec![
                json!(i),
                json!(s),
                json!(i64::MAX - i as i64),
                json!(price),
                json!(i % 2 == 0),
                json!(null),
            ]
        })
        .collect();
    rows.push(vec![
        json!(100),
        json!(null),
        json!(i64::MIN),
        json!(null),
        json!(null),
        json!({"a": [1, "x"]}),
    ]);
    rows.push(vec![
        json!(101),
        json!("x"),
        json!(null),
        json!(7),
        json!(false),
        json!([1, 2, 3]),
    ]);
    rows
}

async fn roundtrip_types_and_tricky_values(c: Ctx) {
    let rows = mixed_rows();
    let report = c
        .sink
        .write(&table("mixed", &MIXED_COLS, &["id"], rows.clone()))
        .await
        .expect("write");
    assert_eq!(report.table, c.full("mixed"));
    assert_eq!(report.rows, rows.len() as u64);
    assert_tables_eq(
        &c.read(
            "mixed",
            &MIXED_COLS
                .iter()
                .copied()
                .zip(MIXED_TYS)
                .collect::<Vec<_>>(),
            1,
        )
        .await,
        &expected(&rows, &MIXED_TYS, 1),
    );
    let types = c.types("mixed").await;
    let want: &[(&str, &str)] = match c.db {
        Db::Postgres => &[
            ("id", "bigint"),
            ("label", "text"),
            ("qty", "bigint"),
            ("price", "double precision"),
            ("active", "boolean"),
            ("note", "text"),
        ],
        Db::MySql => &[
            ("id", "bigint(20)"),
            ("label", "text"),
            ("qty", "bigint(20)"),
            ("price", "double"),
            ("active", "tinyint(1)"),
            ("note", "text"),
        ],
    };
    for (col, ty) in want {
        let have = types.get(*col).map(String::as_str).unwrap_or("missing");
        // MySQL 8 shows BIGINT without a display width.
        assert!(
            have == *ty || have == ty.replace("(20)", ""),
            "{col}: {have}, want {ty}"
        );
    }
}

async fn rerun_updates_in_place(c: Ctx) {
    let cols = [("sku", Ty::T), ("units", Ty::I), ("share", Ty::F)];
    let names = ["sku", "units", "share"];
    let first: Vec<Vec<Value>> = (0..50)
        .map(|i| vec![json!(format!("sku-{i}")), json!(i), json!(i as f64 / 4.0)])
        .collect();
    c.sink
        .write(&table("hot", &names, &["sku"], first.clone()))
        .await
        .expect("first write");
    c.sink
        .write(&table("hot", &names, &["sku"], first.clone()))
        .await
        .expect("same rows again");
    assert_eq!(c.count("hot").await, 50);

    let mut second = first.clone();
    second[7][1] = json!(7000);
    second.push(vec![json!("sku-new"), json!(1), json!(0.5)]);
    c.sink
        .write(&table("hot", &names, &["sku"], second.clone()))
        .await
        .expect("second write");
    assert_eq!(c.count("hot").await, 51);
    let got = c.read("hot", &cols, 1).await;
    assert_eq!(got["[\"sku-7\"]"][1], json!(7000));
    assert_tables_eq(&got, &expected(&second, &[Ty::T, Ty::I, Ty::F], 1));

    // Repeated keys within one write: the last row wins, as applied in order.
    let dup = vec![
        vec![json!("sku-1"), json!(-1), json!(0)],
        vec![json!("sku-1"), json!(-2), json!(0)],
    ];
    let report = c
        .sink
        .write(&table("hot", &names, &["sku"], dup))
        .await
        .expect("duplicates");
    assert_eq!(report.rows, 1);
    assert_eq!(c.read("hot", &cols, 1).await["[\"sku-1\"]"][1], json!(-2));
    assert_eq!(c.count("hot").await, 51);
}

async fn new_columns_are_added(c: Ctx) {
    // No rows: nothing is created, so types are not fixed by an empty batch.
    let empty = table("grow", &["id", "name"], &["id"], vec![]);
    assert_eq!(c.sink.write(&empty).await.expect("empty").rows, 0);
    assert!(c.types("grow").await.is_empty());
    let first = vec![vec![json!(1), json!("a")], vec![json!(2), json!("b")]];
    c.sink
        .write(&table("grow", &["id", "name"], &["id"], first))
        .await
        .expect("first");
    let second = vec![
        vec![json!(2), json!("B"), json!(2.5), json!(true)],
        vec![json!(3), json!("c"), json!(null), json!(false)],
    ];
    c.sink
        .write(&table(
            "grow",
            &["id", "name", "score", "vip"],
            &["id"],
            second,
        ))
        .await
        .expect("with new columns");
    let cols = [
        ("id", Ty::I),
        ("name", Ty::T),
        ("score", Ty::F),
        ("vip", Ty::B),
    ];
    let got = c.read("grow", &cols, 1).await;
    assert_eq!(
        got["[1]"],
        vec![json!(1), json!("a"), Value::Null, Value::Null]
    );
    assert_eq!(
        got["[2]"],
        vec![json!(2), json!("B"), json!(2.5), json!(true)]
    );
    assert_eq!(
        got["[3]"],
        vec![json!(3), json!("c"), Value::Null, json!(false)]
    );
    // A later write of fewer columns leaves the others as they are.
    c.sink
        .write(&table(
            "grow",
            &["id", "vip"],
            &["id"],
            vec![vec![json!(2), json!(false)]],
        ))
        .await
        .expect("subset");
    assert_eq!(
        c.read("grow", &cols, 1).await["[2]"],
        vec![json!(2), json!("B"), json!(2.5), json!(false)]
    );
}

async fn existing_column_types_are_kept(c: Ctx) {
    c.sink
        .write(&table(
            "kept",
            &["id", "n"],
            &["id"],
            vec![vec![json!(1), json!(5)]],
        ))
        .await
        .expect("first");
    // Only nulls would infer text, but the column stays BIGINT and takes them.
    c.sink
        .write(&table(
            "kept",
            &["id", "n"],
            &["id"],
            vec![vec![json!(2), json!(null)]],
        ))
        .await
        .expect("nulls");
    let e = c
        .sink
        .write(&table(
            "kept",
            &["id", "n"],
            &["id"],
            vec![vec![json!(3), json!(2.5)]],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SinkError::BadValue { row: 0, .. }) && e.to_string().contains("integer"),
        "{e}"
    );
    let e = c
        .sink
        .write(&table(
            "kept",
            &["id", "n"],
            &["id"],
            vec![vec![json!(3), json!("many")]],
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, SinkError::BadValue { .. }), "{e}");
    let e = c
        .sink
        .write(&table(
            "kept",
            &["id", "n"],
            &["n"],
            vec![vec![json!(3), json!(1)]],
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, SinkError::KeyMismatch { .. }), "{e}");
    assert_eq!(c.count("kept").await, 2);
    assert!(c.types("kept").await["n"].starts_with("bigint"));
}

async fn precreated_table_types_are_respected(c: Ctx) {
    let t = c.full("pre");
    let ddl = match c.db {
        Db::Postgres => format!(
            "CREATE TABLE \"{t}\" (k VARCHAR(8) PRIMARY KEY, amount NUMERIC(14,2), day DATE, meta JSONB, n INTEGER)"
        ),
        Db::MySql => format!(
            "CREATE TABLE `{t}` (k VARCHAR(8) PRIMARY KEY, amount DECIMAL(14,2), day DATE, meta JSON, n INT)"
        ),
    };
    c.exec(&ddl).await;
    let rows = vec![vec![
        json!("a"),
        json!(123456789012.25),
        json!("2024-02-29"),
        json!({"x": [1, 2]}),
        json!(7),
    ]];
    c.sink
        .write(&table(
            "pre",
            &["k", "amount", "day", "meta", "n"],
            &["k"],
            rows,
        ))
        .await
        .expect("write");
    let sql = match c.db {
        Db::Postgres => {
            format!("SELECT amount::text, day::text, (meta->'x'->1)::text FROM \"{t}\"")
        }
        Db::MySql => format!(
            "SELECT CAST(amount AS CHAR), CAST(day AS CHAR), CAST(JSON_EXTRACT(meta, '$.x[1]') AS CHAR) FROM `{t}`"
        ),
    };
    let got: (String, String, String) = match &c.reader {
        Reader::Pg(p) => sqlx::query_as(&sql).fetch_one(p).await,
        Reader::My(p) => sqlx::query_as(&sql).fetch_one(p).await,
    }
    .expect("read");
    assert_eq!(
        got,
        ("123456789012.25".into(), "2024-02-29".into(), "2".into())
    );
    let long = vec![vec![
        json!("123456789"),
        json!(1),
        json!(null),
        json!(null),
        json!(1),
    ]];
    let e = c
        .sink
        .write(&table(
            "pre",
            &["k", "amount", "day", "meta", "n"],
            &["k"],
            long,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SinkError::BadValue { .. }) && e.to_string().contains("at most 8 characters"),
        "{e}"
    );
    assert_eq!(c.count("pre").await, 1);
}

async fn null_key_fails_and_writes_nothing(c: Ctx) {
    let names = ["id", "v"];
    c.sink
        .write(&table(
            "nk",
            &names,
            &["id"],
            vec![vec![json!(1), json!("one")]],
        ))
        .await
        .expect("first");
    let bad = vec![
        vec![json!(1), json!("changed")],
        vec![json!(2), json!("two")],
        vec![json!(null), json!("no id")],
    ];
    let e = c
        .sink
        .write(&table("nk", &names, &["id"], bad))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SinkError::NullKey { row: 2, column, .. } if column == "id"),
        "{e}"
    );
    assert!(e.to_string().contains("row 2"), "{e}");
    let got = c.read("nk", &[("id", Ty::I), ("v", Ty::T)], 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got["[1]"][1], json!("one"));
    // A null key in a new table creates nothing.
    let e = c
        .sink
        .write(&table(
            "nk_new",
            &names,
            &["id"],
            vec![vec![json!(null), json!("x")]],
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, SinkError::NullKey { row: 0, .. }), "{e}");
    assert!(c.types("nk_new").await.is_empty());
}

/// A failure in the server mid-write (here a CHECK constraint on the last row, after a first
/// full batch went in) rolls back every batch of that write.
async fn server_error_rolls_back_every_batch(c: Ctx) {
    let t = c.full("rb");
    c.exec(&format!("CREATE TABLE {} (id BIGINT NOT NULL PRIMARY KEY, a BIGINT, b TEXT, x DOUBLE PRECISION, n BIGINT CHECK (n < 1000000))", c.q(&t))).await;
    let names = ["id", "a", "b", "x", "n"];
    let seed: Vec<Vec<Value>> = (0..10)
        .map(|i| vec![json!(i), json!(0), json!("seed"), json!(0.0), json!(0)])
        .collect();
    c.sink
        .write(&table("rb", &names, &["id"], seed.clone()))
        .await
        .expect("seed");
    let mut big: Vec<Vec<Value>> = (0..15_000)
        .map(|i| vec![json!(i), json!(i), json!("new"), json!(1.5), json!(1)])
        .collect();
    big[14_999][4] = json!(5_000_000);
    let e = c
        .sink
        .write(&table("rb", &names, &["id"], big))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, SinkError::Database { .. }) && msg.contains("upsert rows 13107..15000"),
        "{msg}"
    );
    let tys = [Ty::I, Ty::I, Ty::T, Ty::F, Ty::I];
    let cols: Vec<(&str, Ty)> = names.iter().copied().zip(tys).collect();
    assert_tables_eq(&c.read("rb", &cols, 1).await, &expected(&seed, &tys, 1));
}

async fn bad_identifiers_are_rejected(c: Ctx) {
    let row = || vec![vec![json!(1)]];
    for (name, col) in [
        ("bad-name", "id"),
        ("ok", "x;drop"),
        ("ok", "a\"b"),
        ("ok", "a`b"),
        ("ok", "1st"),
        ("ok", ""),
    ] {
        let e = c
            .sink
            .write(&table(name, &[col], &[col], row()))
            .await
            .unwrap_err();
        assert!(
            matches!(e, SinkError::BadIdentifier { .. }),
            "{name}.{col}: {e}"
        );
    }
    let e = c
        .sink
        .write(&table(&"x".repeat(60), &["id"], &["id"], row()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SinkError::BadIdentifier {
                what: "table name",
                ..
            }
        ),
        "{e}"
    );
    let e = c
        .sink
        .write(&table("nokey", &["id"], &[], row()))
        .await
        .unwrap_err();
    assert!(matches!(e, SinkError::NoKey { .. }), "{e}");
    let e = Sink::connect(&c.db.url(), "bad prefix").await.unwrap_err();
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
    assert!(c.types("ok").await.is_empty() && c.types("nokey").await.is_empty());
}

async fn multi_column_key(c: Ctx) {
    let names = ["shop", "day", "item", "views"];
    let tys = [Ty::T, Ty::I, Ty::T, Ty::I];
    let cols: Vec<(&str, Ty)> = names.iter().copied().zip(tys).collect();
    // Keys differing only in case or trailing spaces are different rows (binary, no-pad
    // collation on MySQL/MariaDB).
    let rows = vec![
        vec![json!("tb"), json!(1), json!("a"), json!(1)],
        vec![json!("tb"), json!(1), json!("A"), json!(2)],
        vec![json!("tb"), json!(1), json!("a "), json!(3)],
        vec![json!("tb"), json!(2), json!("a"), json!(4)],
        vec![json!("jd"), json!(1), json!("a"), json!(5)],
        vec![json!("jd"), json!(1), json!("你好"), json!(6)],
    ];
    c.sink
        .write(&table("mk", &names, &["shop", "day", "item"], rows.clone()))
        .await
        .expect("write");
    assert_tables_eq(&c.read("mk", &cols, 3).await, &expected(&rows, &tys, 3));
    let mut again = rows.clone();
    again[1][3] = json!(20);
    again.push(vec![json!("jd"), json!(2), json!("a"), json!(7)]);
    c.sink
        .write(&table(
            "mk",
            &names,
            &["shop", "day", "item"],
            again.clone(),
        ))
        .await
        .expect("rewrite");
    assert_eq!(c.count("mk").await, 7);
    assert_tables_eq(&c.read("mk", &cols, 3).await, &expected(&again, &tys, 3));
    // Only key columns: rerunning inserts nothing new.
    let keys_only = vec![vec![json!("x"), json!(1)], vec![json!("x"), json!(2)]];
    for _ in 0..2 {
        c.sink
            .write(&table("keys", &["k", "d"], &["k", "d"], keys_only.clone()))
            .await
            .expect("keys only");
    }
    assert_eq!(c.count("keys").await, 2);
}

async fn large_write_is_batched(c: Ctx) {
    let names = ["id", "shop", "n", "x", "flag"];
    let tys = [Ty::I, Ty::T, Ty::I, Ty::F, Ty::B];
    let rows = |bump: i64| -> Vec<Vec<Value>> {
        (0..20_000i64)
            .map(|i| {
                vec![
                    json!(i),
                    json!(format!("shop-{}", i % 17)),
                    json!(i * 3 + bump),
                    json!(i as f64 * 0.5),
                    json!(i % 3 == 0),
                ]
            })
            .collect()
    };
    let start = Instant::now();
    let report = c
        .sink
        .write(&table("big", &names, &["id"], rows(0)))
        .await
        .expect("big write");
    let first = start.elapsed();
    assert_eq!(report.rows, 20_000);
    let start = Instant::now();
    c.sink
        .write(&table("big", &names, &["id"], rows(1)))
        .await
        .expect("big rewrite");
    eprintln!(
        "{:?}: 20,000 rows x 5 columns: insert {first:?}, update {:?}",
        c.db,
        start.elapsed()
    );
    assert_eq!(c.count("big").await, 20_000);
    let cols: Vec<(&str, Ty)> = names.iter().copied().zip(tys).collect();
    assert_tables_eq(&c.read("big", &cols, 1).await, &expected(&rows(1), &tys, 1));
}

async fn connect_errors_say_what_to_check(db: Db) {
    let url = match db {
        Db::Postgres => "postgres://postgres@127.0.0.1:5432/no_such_db_sink",
        Db::MySql => "mariadb://root@127.0.0.1:3306/no_such_db_sink",
    };
    let e = Sink::connect(url, "").await.unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, SinkError::Connect { .. })
            && msg.contains("no_such_db_sink")
            && msg.contains("database"),
        "{msg}"
    );
    let closed = if db == Db::Postgres {
        "postgresql://u:pw@127.0.0.1:9/x"
    } else {
        "mysql://u:pw@127.0.0.1:9/x"
    };
    let msg = Sink::connect(closed, "").await.unwrap_err().to_string();
    assert!(
        msg.contains("127.0.0.1:9") && msg.contains("running") && !msg.contains(":pw"),
        "{msg}"
    );
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $name() { scenario(Db::Postgres, super::$name).await })*
            #[tokio::test] async fn connect_errors() { connect_errors_say_what_to_check(Db::Postgres).await }
        }
        mod mysql {
            use super::*;
            $(#[tokio::test] async fn $name() { scenario(Db::MySql, super::$name).await })*
            #[tokio::test] async fn connect_errors() { connect_errors_say_what_to_check(Db::MySql).await }
        }
    };
}

both!(
    roundtrip_types_and_tricky_values,
    rerun_updates_in_place,
    new_columns_are_added,
    existing_column_types_are_kept,
    precreated_table_types_are_respected,
    null_key_fails_and_writes_nothing,
    server_error_rolls_back_every_batch,
    bad_identifiers_are_rejected,
    multi_column_key,
    large_write_is_batched,
);
