//! Helpers shared by the integration tests.
#![allow(dead_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMillisecondType};
use arrow_array::{Array, Int64Array, RecordBatch};
use model::{EventType, Reason};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use storepulse_collect::{
    CollectError, Format, Input, ItemRecord, ParseOptions, QuarantineRecord, parse, source,
};

/// The shared real data sets, or `None` (with a message) when they are absent.
pub fn datasets() -> Option<PathBuf> {
    // ../shared/datasets next to the project (STOREPULSE_DATASETS overrides).
    let dir = std::env::var_os("STOREPULSE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: data sets not found at {}; CI always has them",
            dir.display()
        );
        None
    }
}

/// Everything an import produced.
pub struct Outcome {
    /// Source records covered by the chunks.
    pub records: u64,
    /// (first_record, records, kept events) of each chunk, in order.
    pub chunks: Vec<(u64, u64, usize)>,
    /// Kept events.
    pub kept: usize,
    pub rejects: Vec<QuarantineRecord>,
    pub items: Vec<ItemRecord>,
    /// Finished tables: (table, shop, batch).
    pub tables: Vec<(EventType, String, RecordBatch)>,
}

impl Outcome {
    /// The batches of one table, all shops.
    pub fn batches(&self, t: EventType) -> Vec<&RecordBatch> {
        self.tables
            .iter()
            .filter(|(tt, _, _)| *tt == t)
            .map(|(_, _, b)| b)
            .collect()
    }

    /// Rows of one table.
    pub fn rows(&self, t: EventType) -> usize {
        self.batches(t).iter().map(|b| b.num_rows()).sum()
    }

    /// Value counts of a dictionary (or string) column.
    pub fn counts(&self, t: EventType, column: &str) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for b in self.batches(t) {
            for v in strings(b, column).into_iter().flatten() {
                *m.entry(v).or_insert(0) += 1;
            }
        }
        m
    }

    /// An Int64 (or timestamp ms) column of one table, concatenated.
    pub fn ints(&self, t: EventType, column: &str) -> Vec<Option<i64>> {
        let mut v = Vec::new();
        for b in self.batches(t) {
            let a = b.column_by_name(column).unwrap();
            if let Some(ts) = a.as_primitive_opt::<TimestampMillisecondType>() {
                v.extend(ts.iter());
            } else {
                let a: &Int64Array = a.as_primitive();
                v.extend(a.iter());
            }
        }
        v
    }

    /// A string column (plain or dictionary) of one table, concatenated.
    pub fn strs(&self, t: EventType, column: &str) -> Vec<Option<String>> {
        self.batches(t)
            .into_iter()
            .flat_map(|b| strings(b, column))
            .collect()
    }

    /// Checks the invariants every import must keep: chunks are contiguous and every record
    /// is either kept, quarantined or skipped (blank / header), never two of them.
    pub fn assert_consistent(&self) {
        for w in self.chunks.windows(2) {
            assert_eq!(
                w[0].0 + w[0].1,
                w[1].0,
                "chunks must be contiguous: {:?}",
                self.chunks
            );
        }
        let mut lines: Vec<u64> = self.rejects.iter().map(|r| r.line).collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(
            lines.len(),
            self.rejects.len(),
            "a record was quarantined twice"
        );
        for r in &self.rejects {
            assert!(
                !r.rule.is_empty(),
                "a quarantine record needs a rule: {r:?}"
            );
        }
        assert!(self.kept + self.rejects.len() <= self.records as usize);
    }
}

/// A string column's values (dictionary or plain).
pub fn strings(b: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(column).unwrap();
    if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
        let values = d.values().as_string::<i32>();
        d.keys()
            .iter()
            .map(|k| k.map(|k| values.value(k as usize).to_string()))
            .collect()
    } else {
        let s = a.as_string::<i32>();
        (0..s.len())
            .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
            .collect()
    }
}

/// Imports a file.
pub fn import(path: &Path, opts: ParseOptions) -> Result<Outcome, CollectError> {
    let opened = source::open(&Input::Path(path.to_path_buf())).expect("open input");
    let mut out = Outcome {
        records: 0,
        chunks: Vec::new(),
        kept: 0,
        rejects: Vec::new(),
        items: Vec::new(),
        tables: Vec::new(),
    };
    for chunk in parse(opened, opts) {
        let c = chunk?;
        out.records += c.records;
        out.chunks.push((c.first_record, c.records, c.batch.len()));
        out.kept += c.batch.len();
        out.rejects.extend(c.rejects);
        out.items.extend(c.items);
        for t in c.batch.finish().expect("finish batch") {
            out.tables.push((t.table, t.shop, t.batch));
        }
    }
    Ok(out)
}

/// Imports bytes written to a temporary file named `name`.
pub fn import_bytes(bytes: &[u8], name: &str, opts: ParseOptions) -> Result<Outcome, CollectError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    import(&path, opts)
}

/// Options for a format with small chunks, to exercise chunking.
pub fn opts(format: Format) -> ParseOptions {
    let mut o = ParseOptions::new(format);
    o.threads = 2;
    o
}

/// (line, reason, field) of every quarantined record, by line.
pub fn reasons(out: &Outcome) -> Vec<(u64, Reason, Option<String>)> {
    let mut v: Vec<_> = out
        .rejects
        .iter()
        .map(|r| (r.line, r.reason, r.field.clone()))
        .collect();
    v.sort_by_key(|r| r.0);
    v
}

/// The `props` column, parsed.
pub fn props(out: &Outcome, t: EventType) -> Vec<Option<Value>> {
    out.strs(t, "props")
        .into_iter()
        .map(|p| p.map(|p| serde_json::from_str(&p).unwrap()))
        .collect()
}

/// The Online Retail header.
pub const RETAIL_HEADER: &str =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

/// A small Online Retail file: good rows, a cancellation, and one broken row of each kind.
pub fn retail_sample() -> String {
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

/// A valid login event as JSON.
pub fn login(user: u64) -> String {
    format!(r#"{{"type":"login","ts":1558430815,"user_id":{user},"result":"fail"}}"#)
}
