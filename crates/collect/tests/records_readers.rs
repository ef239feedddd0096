//! The record readers (Online Retail, generic CSV, JSON array, Parquet) on tricky inputs,
//! through the public `parse` API.

mod common;

use common::{Outcome, import, import_bytes, opts};
use model::{EventType, Reason};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use storepulse_collect::{CollectError, Format, ParseOptions};

fn reasons(out: &Outcome) -> Vec<(u64, Reason, Option<String>)> {
    let mut v: Vec<_> = out
        .rejects
        .iter()
        .map(|r| (r.line, r.reason, r.field.clone()))
        .collect();
    v.sort_by_key(|r| r.0);
    v
}

fn props(out: &Outcome, t: EventType) -> Vec<Option<Value>> {
    out.strs(t, "props")
        .into_iter()
        .map(|p| p.map(|p| serde_json::from_str(&p).unwrap()))
        .collect()
}

const RETAIL_HEADER: &str =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

fn retail_sample() -> String {
    [
        RETAIL_HEADER,
        r#"536365,85123A,"WHITE HANGING HEART, T-LIGHT",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"#,
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom",
        "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom",
        "536365,85123A,TOO,MANY,COLUMNS,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
        "536366,22633,HAND WARMER,six,2010-12-01 08:28:00,1.85,17850.0,United Kingdom",
        "536366,22633,HAND WARMER,6,yesterday,1.85,17850.0,United Kingdom",
        ",22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom",
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85x,17850.0,United Kingdom",
        r#"536367,84879,"ASSORTED BIRD,16,2010-12-01 08:34:00,1.69,13047.0,United Kingdom"#,
        r#"536368,22960,"JAM MAKING SET ""DELUXE""",6,2010-12-01 08:34:00,4.25,13047.0,France"#,
        "",
        "536369,21756,BATH BUILDING BLOCK WORD,3,2010-12-01 08:35:00,5.95,13047.0,United Kingdom",
    ]
    .join("\n")
}

#[test]
fn online_retail_keeps_cancellations_and_quarantines_broken_rows_precisely() {
    let text = retail_sample();
    let out = import_bytes(text.as_bytes(), "retail.csv", opts(Format::OnlineRetail)).unwrap();
    out.assert_consistent();
    assert_eq!(out.records, 13);
    assert_eq!(out.kept, 5);
    let f = |s: &str| Some(s.to_string());
    assert_eq!(
        reasons(&out),
        [
            (5, Reason::ColumnCount, None),
            (6, Reason::BadNumber, f("Quantity")),
            (7, Reason::BadTimestamp, f("InvoiceDate")),
            (8, Reason::MissingField, f("InvoiceNo")),
            (9, Reason::BadNumber, f("UnitPrice")),
            (10, Reason::Malformed, None),
        ]
    );
    let lines: Vec<&str> = text.lines().collect();
    for r in &out.rejects {
        assert_eq!(
            r.raw,
            lines[r.line as usize - 1],
            "raw text is the line as written"
        );
        assert_eq!(r.format, "online-retail");
    }
    let bad_qty = out.rejects.iter().find(|r| r.line == 6).unwrap();
    assert_eq!(bad_qty.value.as_deref(), Some("six"));

    let t = EventType::Order;
    assert_eq!(
        out.strs(t, "order_id")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["536365", "C536379", "536414", "536368", "536369"]
    );
    assert_eq!(
        out.strs(t, "status")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["create", "cancel", "create", "create", "create"]
    );
    assert_eq!(
        out.ints(t, "qty"),
        [Some(6), Some(-1), Some(56), Some(6), Some(3)]
    );
    assert_eq!(
        out.ints(t, "user_id"),
        [Some(17850), Some(14527), None, Some(13047), Some(13047)]
    );
    let amount: &arrow_array::Float64Array = arrow_array::cast::AsArray::as_primitive(
        out.batches(t)[0].column_by_name("amount").unwrap(),
    );
    assert_eq!(amount.values().to_vec(), [15.3, -27.5, 0.0, 25.5, 17.85]);
    let ts = out.ints(t, "ts");
    assert_eq!(ts[0], Some(1_291_191_960_000), "2010-12-01 08:26:00 UTC");
    // Stock codes are string keys (surrogates) unless canonical numbers.
    assert_eq!(out.ints(t, "item_id")[2], Some(22139));
    assert_eq!(
        out.ints(t, "item_id")[0],
        Some(model::Id::surrogate("85123A"))
    );

    let items: BTreeMap<String, (Option<String>, Option<f64>)> = out
        .items
        .iter()
        .map(|i| (i.item_id.to_string(), (i.title.clone(), i.price)))
        .collect();
    assert_eq!(
        items["85123A"],
        (Some("WHITE HANGING HEART, T-LIGHT".into()), Some(2.55))
    );
    assert_eq!(
        items["22960"],
        (Some(r#"JAM MAKING SET "DELUXE""#.into()), Some(4.25))
    );
    assert_eq!(items["22139"], (None, None), "no title, no positive price");
    assert_eq!(items.len(), 5, "items come from kept rows only");
}

#[test]
fn online_retail_options_crlf_column_order_and_extra_columns() {
    let text = "Country,InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Channel\r\n\
                France,536370,22728,ALARM CLOCK,24,12/1/2010 8:45,3.75,12583.0,web\r\n";
    let mut o = opts(Format::OnlineRetail);
    o.records.naive_offset_secs = 3600;
    o.line.shop = Some("uk".into());
    let out = import_bytes(text.as_bytes(), "r.csv", o).unwrap();
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.kept, 1);
    assert_eq!(out.tables[0].1, "uk");
    let t = EventType::Order;
    assert_eq!(out.ints(t, "ts")[0], Some(1_291_193_100_000 - 3_600_000));
    assert_eq!(out.strs(t, "country")[0].as_deref(), Some("France"));
    assert_eq!(props(&out, t)[0], Some(json!({"Channel": "web"})));
}

#[test]
fn online_retail_without_its_header_is_a_format_error() {
    let e = import_bytes(
        b"536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n",
        "r.csv",
        opts(Format::OnlineRetail),
    )
    .err()
    .expect("must fail");
    let msg = e.to_string();
    assert!(matches!(e, CollectError::Format { .. }), "{msg}");
    assert!(msg.contains("InvoiceNo,StockCode"), "{msg}");
    let e = import_bytes(b"", "r.csv", opts(Format::OnlineRetail))
        .err()
        .unwrap();
    assert!(e.to_string().contains("empty"), "{e}");
}

fn csv_opts() -> ParseOptions {
    let mut o = opts(Format::Csv);
    o.records.mapping = vec![
        ("ts".into(), "when".into()),
        ("user_id".into(), "uid".into()),
        ("item_id".into(), "sku".into()),
    ];
    o.records.default_type = Some(EventType::Behavior);
    o.records.naive_offset_secs = 8 * 3600;
    o.line.shop = Some("s1".into());
    o
}

#[test]
fn csv_maps_columns_captures_props_and_quarantines_bad_rows() {
    let text = "when,uid,sku,action,color,type\n\
                2017-11-26 09:00:00,1,SKU-1,pv,\"red, dark\",\n\
                1511658000,2,7,cart,,behavior\n\
                1511658000,3,8,like,blue,\n\
                1511658000,4,9,buy,green,login\n\
                1511658000,5,\"multi\nline\",fav,x,\n\
                1511658000,6,10,pv\n\
                1511658000,7,11,buy,,\n";
    let out = import_bytes(text.as_bytes(), "m.csv", csv_opts()).unwrap();
    out.assert_consistent();
    assert_eq!(out.records, 9, "lines, the quoted newline's included");
    assert_eq!(out.kept, 4);
    assert_eq!(
        reasons(&out),
        [
            (4, Reason::UnknownAction, Some("action".into())),
            (5, Reason::MissingField, Some("result".into())),
            (8, Reason::ColumnCount, None),
        ]
    );
    assert_eq!(out.tables.len(), 1);
    assert_eq!(out.tables[0].1, "s1", "the import's shop applies");
    let t = EventType::Behavior;
    assert_eq!(out.ints(t, "user_id"), [Some(1), Some(2), Some(5), Some(7)]);
    assert_eq!(
        out.ints(t, "ts"),
        [Some(1_511_658_000_000); 4],
        "naive times take the offset"
    );
    assert_eq!(
        out.ints(t, "item_id"),
        [
            Some(model::Id::surrogate("SKU-1")),
            Some(7),
            Some(model::Id::surrogate("multi\nline")),
            Some(11)
        ]
    );
    assert_eq!(
        props(&out, t),
        [
            Some(json!({"color": "red, dark"})),
            None,
            Some(json!({"color": "x"})),
            None
        ]
    );
}

#[test]
fn csv_type_column_and_props_json_column() {
    let text = "type,ts,user_id,result,ad_id,props,note\n\
                login,1558430815,5,fail,,\"{\"\"k\"\":1}\",n1\n\
                ad_click,1558430816,6,,AD-9,,\n\
                login,1558430817,7,success,,[1],\n";
    let mut o = opts(Format::Csv);
    o.records.default_type = None;
    let out = import_bytes(text.as_bytes(), "t.csv", o).unwrap();
    assert_eq!(
        (out.rows(EventType::Login), out.rows(EventType::AdClick)),
        (1, 1)
    );
    assert_eq!(
        props(&out, EventType::Login),
        [Some(json!({"k": 1, "note": "n1"}))]
    );
    assert_eq!(reasons(&out), [(4, Reason::BadValue, Some("props".into()))]);
}

#[test]
fn csv_without_a_usable_header_names_the_expected_columns() {
    let e = import_bytes(b"1,2,3,pv,1511658000\n", "x.csv", {
        let mut o = opts(Format::Csv);
        o.records.default_type = Some(EventType::Behavior);
        o
    })
    .err()
    .expect("no header");
    let msg = e.to_string();
    assert!(matches!(e, CollectError::Format { .. }));
    assert!(msg.contains("ts,user_id,item_id,action"), "{msg}");
    let e = import_bytes(b"\n\n", "x.csv", csv_opts())
        .err()
        .expect("empty");
    assert!(e.to_string().contains("empty"), "{e}");
}

fn login(user: u64) -> String {
    format!(r#"{{"type":"login","ts":1558430815,"user_id":{user},"result":"fail"}}"#)
}

#[test]
fn json_array_quarantines_a_broken_element_and_keeps_its_neighbours() {
    let text = format!(
        "[\n  {},\n  {{\"type\":\"login\",\"ts\":1558430815,\"user_id\":2,\n  {},\n  {{\"type\":\"login\",\"ts\":\"never\",\"user_id\":4,\"result\":\"fail\"}},\n  {}\n]\n",
        login(1),
        login(3),
        login(5)
    );
    let out = import_bytes(text.as_bytes(), "a.json", opts(Format::Ndjson)).unwrap();
    out.assert_consistent();
    assert_eq!(out.records, 5);
    assert_eq!(
        out.ints(EventType::Login, "user_id"),
        [Some(1), Some(3), Some(5)]
    );
    assert_eq!(
        reasons(&out),
        [
            (2, Reason::Malformed, None),
            (4, Reason::BadTimestamp, Some("ts".into()))
        ]
    );
    let broken = &out.rejects.iter().find(|r| r.line == 2).unwrap();
    assert!(
        broken
            .raw
            .starts_with(r#"{"type":"login","ts":1558430815,"user_id":2,"#)
    );
    assert_eq!(
        broken.offset,
        Some(
            text.find(r#"{"type":"login","ts":1558430815,"user_id":2,"#)
                .unwrap() as u64
        )
    );
}

#[test]
fn json_array_truncated_at_the_end_quarantines_the_partial_element() {
    let text = format!("[{},{},{{\"type\":\"login\",\"ts\":155", login(1), login(2));
    let out = import_bytes(text.as_bytes(), "a.json", opts(Format::Ndjson)).unwrap();
    assert_eq!(out.records, 3);
    assert_eq!(out.kept, 2);
    assert_eq!(reasons(&out), [(3, Reason::Malformed, None)]);
    assert!(out.rejects[0].rule.contains("truncated"));
}

/// Resuming at any chunk boundary gives exactly the rest of a full run.
fn assert_resume_is_exact(bytes: &[u8], name: &str, o: ParseOptions) {
    let full = import_bytes(bytes, name, o.clone()).unwrap();
    full.assert_consistent();
    assert!(full.chunks.len() > 2, "{:?}", full.chunks);
    for (first, _, _) in &full.chunks {
        let skip = first - 1;
        let mut r = o.clone();
        r.skip_records = skip;
        let resumed = import_bytes(bytes, name, r).unwrap();
        let rest: Vec<_> = full.chunks.iter().filter(|c| c.0 > skip).cloned().collect();
        assert_eq!(resumed.chunks, rest, "resume after record {skip}");
        let lines = |o: &Outcome| {
            o.rejects
                .iter()
                .map(|q| q.line)
                .filter(|l| *l > skip)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&resumed), lines(&full));
    }
}

#[test]
fn resume_is_exact_for_every_record_format() {
    let mut o = opts(Format::OnlineRetail);
    o.records.chunk_rows = 3;
    assert_resume_is_exact(retail_sample().as_bytes(), "r.csv", o);

    let mut csv = String::from("ts,user_id,item_id,action\n");
    for i in 0..20 {
        if i % 7 == 3 {
            csv.push_str("1511658000,\"broken\n");
        } else {
            csv.push_str(&format!("1511658000,{i},\"a\nb\",pv\n"));
        }
    }
    let mut o = opts(Format::Csv);
    o.records.default_type = Some(EventType::Behavior);
    o.records.chunk_rows = 4;
    assert_resume_is_exact(csv.as_bytes(), "c.csv", o);

    let elems: Vec<String> = (0..20)
        .map(|i| {
            if i % 6 == 2 {
                "{\"type\":".to_string()
            } else {
                login(i)
            }
        })
        .collect();
    let mut o = opts(Format::Ndjson);
    o.records.chunk_rows = 3;
    assert_resume_is_exact(format!("[{}]", elems.join(",\n")).as_bytes(), "a.json", o);
}

mod parquet_files {
    use super::*;
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMillisecondArray, TimestampSecondArray, UInt32Array,
    };
    use parquet::arrow::ArrowWriter;

    fn write(path: &std::path::Path) {
        let mut action = StringDictionaryBuilder::<Int32Type>::new();
        for a in ["pv", "cart", "like", "buy", "fav"] {
            action.append_value(a);
        }
        let base = 1_511_658_000_000i64;
        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "ts",
                Arc::new(
                    TimestampMillisecondArray::from(vec![
                        base,
                        base + 1,
                        base + 2,
                        base + 3,
                        base + 4,
                    ])
                    .with_timezone("UTC"),
                ),
            ),
            ("user_id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5]))),
            (
                "item_id",
                Arc::new(StringArray::from(vec!["SKU-1", "2", "3", "4", "5"])),
            ),
            ("action", Arc::new(action.finish())),
            (
                "price",
                Arc::new(Float64Array::from(vec![
                    Some(9.5),
                    None,
                    None,
                    Some(1.25),
                    None,
                ])),
            ),
            ("qty", Arc::new(UInt32Array::from(vec![1, 2, 3, 4, 5]))),
            (
                "type",
                Arc::new(StringArray::from(vec![
                    None,
                    Some("behavior"),
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "color",
                Arc::new(StringArray::from(vec![Some("red"), None, None, None, None])),
            ),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![true, false, true, false, true])),
            ),
            ("day", Arc::new(Date32Array::from(vec![17_496; 5]))),
            (
                "seen",
                Arc::new(TimestampSecondArray::from(vec![1_511_658_000; 5])),
            ),
        ];
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn popts(path: Option<std::path::PathBuf>) -> ParseOptions {
        let mut o = opts(Format::Parquet);
        o.records.default_type = Some(EventType::Behavior);
        o.records.path = path;
        o.records.chunk_rows = 2;
        o
    }

    #[test]
    fn round_trip_from_a_path_and_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        write(&path);
        for o in [popts(Some(path.clone())), popts(None)] {
            let out = import(&path, o).unwrap();
            out.assert_consistent();
            assert_eq!(out.records, 5);
            assert_eq!(out.chunks.len(), 3);
            assert_eq!(
                reasons(&out),
                [(3, Reason::UnknownAction, Some("action".into()))]
            );
            let t = EventType::Behavior;
            let base = 1_511_658_000_000i64;
            assert_eq!(
                out.ints(t, "ts"),
                [Some(base), Some(base + 1), Some(base + 3), Some(base + 4)]
            );
            assert_eq!(
                out.ints(t, "item_id"),
                [
                    Some(model::Id::surrogate("SKU-1")),
                    Some(2),
                    Some(4),
                    Some(5)
                ]
            );
            assert_eq!(out.ints(t, "qty"), [Some(1), Some(2), Some(4), Some(5)]);
            assert_eq!(
                out.counts(t, "action").into_iter().collect::<Vec<_>>(),
                [
                    ("buy".into(), 1),
                    ("cart".into(), 1),
                    ("fav".into(), 1),
                    ("pv".into(), 1)
                ]
            );
            let p = props(&out, t);
            let day_ms = 17_496i64 * 86_400_000;
            assert_eq!(
                p[0],
                Some(json!({"color": "red", "flag": true, "day": day_ms, "seen": base}))
            );
            assert_eq!(
                p[1],
                Some(json!({"flag": false, "day": day_ms, "seen": base}))
            );
        }
        // Resume after two rows.
        let mut o = popts(Some(path.clone()));
        o.skip_records = 2;
        let out = import(&path, o).unwrap();
        assert_eq!(out.chunks[0].0, 3);
        assert_eq!(out.records, 3);
        assert_eq!(out.ints(EventType::Behavior, "user_id"), [Some(4), Some(5)]);
    }

    #[test]
    fn a_file_that_is_not_parquet_is_a_format_error() {
        let e = import_bytes(b"ts,user_id\n1,2\n", "x.parquet", popts(None))
            .err()
            .expect("not parquet");
        assert!(matches!(e, CollectError::Format { .. }), "{e}");
        assert!(e.to_string().contains("Parquet"), "{e}");
    }
}
