//! Input edges: byte order marks, duplicate JSON keys, gzip files that break off, and CSV
//! headers, with real files in temp dirs.

mod common;

use common::{RETAIL_HEADER, datasets, login, opts, retail_sample};
use model::Reason;
use std::io::{Read, Write};
use std::path::Path;
use storepulse_collect::formats::{LineOptions, ndjson};
use storepulse_collect::{
    CollectError, Format, Input, ParseOptions, QuarantineRecord, parse, source,
};

const BOM: &str = "\u{feff}";

/// What a parse produced before it ended, and the error it ended with, if any.
#[derive(Default)]
struct Run {
    kept: usize,
    rows_read: u64,
    records: u64,
    rejects: Vec<QuarantineRecord>,
    error: Option<String>,
}

fn run(path: &Path, opts: ParseOptions) -> Run {
    let opened = source::open(&Input::Path(path.to_path_buf())).unwrap();
    let mut r = Run::default();
    for c in parse(opened, opts) {
        match c {
            Ok(c) => {
                assert!(r.error.is_none(), "a chunk after the error");
                r.kept += c.batch.len();
                r.rows_read += c.rows_read();
                r.records += c.records;
                r.rejects.extend(c.rejects);
            }
            Err(e @ CollectError::Io { .. }) => r.error = Some(e.to_string()),
            Err(e) => panic!("{e}"),
        }
    }
    r
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The complete lines a (possibly broken) gzip file decodes to, as an independent reader sees.
fn decodable_lines(gz_bytes: &[u8]) -> u64 {
    let mut d = flate2::read::GzDecoder::new(gz_bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 1 << 16];
    while let Ok(n) = d.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    memchr::memchr_iter(b'\n', &out).count() as u64
}

#[test]
fn a_byte_order_mark_is_no_part_of_the_first_row() {
    let dir = tempfile::tempdir().unwrap();
    let ndjson = format!("{BOM}{}\n{}\n{{bad\n", login(1), login(2));
    let taobao = format!("{BOM}1,2,3,pv,1511658000\n1,2,3,buy,1511658001\nx,y\n");
    let array = format!("{BOM}[{},{},{{\"type\":1}}]", login(1), login(2));
    let csv = format!(
        "{BOM}type,ts,user_id,result\nlogin,1558430815,1,fail\nlogin,1558430815,2,fail\nlogin,soon,3,fail\n"
    );
    let mut retail = retail_sample()
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    retail = format!("{BOM}{retail}\n536366,22633,HAND WARMER,six,2010-12-01 08:28:00,1.85,1,UK\n");
    let mut csv_opts = opts(Format::Csv);
    csv_opts.records.default_type = Some(model::EventType::Login);
    let cases = [
        ("e.ndjson", ndjson, opts(Format::Ndjson)),
        ("ub.csv", taobao, opts(Format::Taobao)),
        ("a.json", array, opts(Format::Ndjson)),
        ("m.csv", csv, csv_opts),
        ("r.csv", retail, opts(Format::OnlineRetail)),
    ];
    for (name, text, o) in cases {
        for gzipped in [false, true] {
            let bytes = if gzipped {
                gz(text.as_bytes())
            } else {
                text.clone().into_bytes()
            };
            let r = run(&write(dir.path(), name, &bytes), o.clone());
            assert_eq!((r.kept, r.rejects.len()), (2, 1), "{name} gz={gzipped}");
            // The reject is the file's last row, at its true line and byte offset.
            let bad = &r.rejects[0];
            let line = text.lines().count() as u64;
            let offset = if name == "a.json" {
                text.rfind("{\"type\":1}").unwrap()
            } else {
                text.trim_end().rfind('\n').unwrap() + 1
            };
            let want_line = if name == "a.json" { 3 } else { line };
            assert_eq!(
                (bad.line, bad.offset),
                (want_line, Some(offset as u64)),
                "{name}"
            );
        }
    }
    // A body's first row, parsed on its own (the ingest server's path).
    let row = format!("{BOM}{}", login(7));
    ndjson::parse_event(row.as_bytes(), &LineOptions::default()).unwrap();
}

#[test]
fn a_key_named_twice_quarantines_the_row_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let dup = r#"{"type":"login","ts":1558430815,"user_id":3,"result":"fail","user_id":4}"#;
    let text = format!("{}\n{dup}\n{}\n", login(1), login(2));
    let array = format!("[{},{dup},{}]", login(1), login(2));
    for (name, t) in [("e.ndjson", text), ("a.json", array)] {
        let r = run(&write(dir.path(), name, t.as_bytes()), opts(Format::Ndjson));
        assert_eq!((r.kept, r.rejects.len()), (2, 1), "{name}");
        let q = &r.rejects[0];
        assert_eq!(
            (q.line, q.reason, q.field.as_deref()),
            (2, Reason::DuplicateField, Some("user_id")),
            "{name}"
        );
        assert!(q.rule.contains("more than once"), "{}", q.rule);
        assert_eq!(q.raw, dup);
    }
}

/// A real file gzipped, then cut short or given a tail of garbage.
#[test]
fn a_broken_gzip_yields_every_complete_row_then_says_where_it_broke() {
    let Some(ds) = datasets() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ub = std::fs::read(ds.join("taobao_userbehavior/UserBehavior.csv")).unwrap();
    let ub_gz = gz(&ub);
    let retail_gz = std::fs::read(ds.join("online_retail/online_retail.csv.gz")).unwrap();
    let ndjson: String = (0..20_000).map(|i| login(i) + "\n").collect();
    let nd_gz = gz(ndjson.as_bytes());
    let cases = [
        ("ub.csv.gz", &ub_gz, opts(Format::Taobao), 0u64),
        ("retail.csv.gz", &retail_gz, opts(Format::OnlineRetail), 1),
        ("e.ndjson.gz", &nd_gz, opts(Format::Ndjson), 0),
    ];
    for (name, whole, o, header) in cases {
        let cut = &whole[..whole.len() * 2 / 3];
        let lines = decodable_lines(cut);
        let r = run(&write(dir.path(), name, cut), o.clone());
        assert!(lines > 1000, "{name}: {lines}");
        assert_eq!(
            r.records, lines,
            "{name}: every complete line, the cut one not"
        );
        assert_eq!(
            (r.kept as u64, r.rejects.len()),
            (lines - header, 0),
            "{name}"
        );
        let e = r.error.unwrap_or_else(|| panic!("{name}: no error"));
        assert!(
            e.contains("truncated") && e.contains("gzip member 1"),
            "{e}"
        );
        assert!(e.contains(&format!("stops at byte {}", cut.len())), "{e}");

        let tail = [whole.as_slice(), b"\ngarbage after the end"].concat();
        let r = run(&write(dir.path(), name, &tail), o);
        let all = decodable_lines(whole);
        assert_eq!((r.records, r.kept as u64), (all, all - header), "{name}");
        let e = r.error.unwrap_or_else(|| panic!("{name}: no error"));
        assert!(e.contains("22 bytes that are not gzip follow"), "{e}");
    }
}

#[test]
fn a_csv_header_is_no_row_read_and_lines_stay_true_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Header, a row whose quoted field spans two lines, a bad row, a good row.
    let text = format!(
        "{RETAIL_HEADER}\n536365,1,\"TWO\nLINES\",6,2010-12-01 08:26:00,2.55,17850.0,UK\n536366,2,X,six,2010-12-01 08:28:00,1.85,1,UK\n536367,3,Y,1,2010-12-01 08:28:00,1.85,1,UK\n"
    );
    let r = run(
        &write(dir.path(), "r.csv", text.as_bytes()),
        opts(Format::OnlineRetail),
    );
    assert_eq!((r.records, r.rows_read, r.kept), (5, 3, 2));
    assert_eq!(r.rejects[0].line, 4, "the bad row's line in the file");
    let csv = "type,ts,user_id,result\nlogin,1558430815,1,fail\nlogin,x,2,fail\n";
    let mut o = opts(Format::Csv);
    o.records.chunk_rows = 1;
    let r = run(&write(dir.path(), "m.csv", csv.as_bytes()), o);
    assert_eq!((r.records, r.rows_read, r.kept), (3, 2, 1));
    assert_eq!(r.rejects[0].line, 3);
    // Line formats have no header: every line is a row.
    let r = run(
        &write(
            dir.path(),
            "ub.csv",
            b"1,2,3,pv,1511658000\n\n1,2,3,pv,1511658000\n",
        ),
        opts(Format::Taobao),
    );
    assert_eq!((r.records, r.rows_read, r.kept), (3, 3, 2));
}
