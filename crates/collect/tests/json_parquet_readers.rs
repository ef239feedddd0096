//! The JSON array and Parquet readers on tricky inputs, and exact resume for every record
//! format, through `parse`.

mod common;

use common::{Outcome, import, import_bytes, login, opts, props, reasons, retail_sample};
use model::{EventType, Reason};
use serde_json::json;
use std::sync::Arc;
use storepulse_collect::{CollectError, Format, ParseOptions};

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
