//! The CSV record readers (Online Retail, generic CSV) on tricky inputs, through `parse`.

mod common;

use common::{import_bytes, opts, props, reasons, retail_sample};
use model::{EventType, Reason};
use serde_json::json;
use std::collections::BTreeMap;
use storepulse_collect::{CollectError, Format, ParseOptions};

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
