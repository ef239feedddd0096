//! What jobs emit: window results, their updates, late events and alerts, in one shape that
//! renders to JSON (API, SSE, `--out x.json`), to CSV in long form, and to the lake's results table.

use model::time::format_ms;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use std::fmt::Write as _;

/// The kind of an [`Emission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A window's first result, fired when the watermark passed its end.
    Result,
    /// A window's result again, changed by late events within the allowed lateness.
    Update,
    /// An event too late for every window it belongs to (kept here, counted, not in any result).
    Late,
    /// An alert: a (user, ad) pair crossed the click threshold.
    Blacklist,
    /// A closed session.
    Session,
}

impl Kind {
    /// Its name in JSON, CSV and the lake.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Result => "result",
            Kind::Update => "update",
            Kind::Late => "late",
            Kind::Blacklist => "blacklist",
            Kind::Session => "session",
        }
    }
}

/// A value of a row's key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyVal {
    /// A numeric id.
    Int(i64),
    /// Text.
    Text(String),
}

impl KeyVal {
    fn to_json(&self) -> Value {
        match self {
            KeyVal::Int(n) => Value::from(*n),
            KeyVal::Text(s) => Value::from(s.as_str()),
        }
    }
}

impl std::fmt::Display for KeyVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyVal::Int(n) => write!(f, "{n}"),
            KeyVal::Text(s) => f.write_str(s),
        }
    }
}

/// One row of a result: an optional rank, key fields and metric values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// 1-based rank in a top-N.
    pub rank: Option<u32>,
    /// Key fields, e.g. `[("item_id", 42)]`.
    pub keys: Vec<(&'static str, KeyVal)>,
    /// Metrics, e.g. `[("pv", 17.0)]`.
    pub values: Vec<(&'static str, f64)>,
}

/// One output of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    /// The job's name.
    pub job: String,
    /// What this is.
    pub kind: Kind,
    /// The shop (key group).
    pub shop: String,
    /// Window start, UTC ms.
    pub start: i64,
    /// Window end (exclusive), UTC ms.
    pub end: i64,
    /// 0 for a window's first result, then 1, 2, … for each update.
    pub revision: u32,
    /// The watermark when it fired.
    pub watermark: i64,
    /// The rows.
    pub rows: Vec<Row>,
}

fn metric_json(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

impl serde::Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(r) = self.rank {
            m.serialize_entry("rank", &r)?;
        }
        for (k, v) in &self.keys {
            m.serialize_entry(k, &v.to_json())?;
        }
        for (k, v) in &self.values {
            m.serialize_entry(k, &metric_json(*v))?;
        }
        m.end()
    }
}

impl serde::Serialize for Emission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("job", &self.job)?;
        m.serialize_entry("kind", self.kind.name())?;
        m.serialize_entry("shop", &self.shop)?;
        m.serialize_entry("start", &format_ms(self.start))?;
        m.serialize_entry("end", &format_ms(self.end))?;
        m.serialize_entry("start_ms", &self.start)?;
        m.serialize_entry("end_ms", &self.end)?;
        m.serialize_entry("revision", &self.revision)?;
        let wm =
            (self.watermark != i64::MIN && self.watermark != i64::MAX).then_some(self.watermark);
        m.serialize_entry("watermark_ms", &wm)?;
        m.serialize_entry("rows", &self.rows)?;
        m.end()
    }
}

impl Emission {
    /// The emission as one JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// `key_name`/`key` of a row in long form: fields joined with `,`.
    pub fn row_key(row: &Row) -> (String, String) {
        let names: Vec<&str> = row.keys.iter().map(|(k, _)| *k).collect();
        let vals: Vec<String> = row.keys.iter().map(|(_, v)| v.to_string()).collect();
        (names.join(","), vals.join(","))
    }
}

/// The CSV header of [`write_csv`]: one line per (row, metric).
pub const CSV_HEADER: &str =
    "job,kind,shop,window_start,window_end,revision,rank,key_name,key,metric,value\n";

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Appends an emission in long CSV form (see [`CSV_HEADER`]).
pub fn write_csv(e: &Emission, out: &mut String) {
    for row in &e.rows {
        let (kn, kv) = Emission::row_key(row);
        for (metric, value) in &row.values {
            csv_field(out, &e.job);
            let _ = write!(
                out,
                ",{},{},{},{},{},",
                e.kind.name(),
                e.shop,
                format_ms(e.start),
                format_ms(e.end),
                e.revision
            );
            if let Some(r) = row.rank {
                let _ = write!(out, "{r}");
            }
            out.push(',');
            csv_field(out, &kn);
            out.push(',');
            csv_field(out, &kv);
            let _ = writeln!(out, ",{metric},{value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_forms() {
        let e = Emission {
            job: "hot-items".into(),
            kind: Kind::Result,
            shop: "default".into(),
            start: 0,
            end: 3_600_000,
            revision: 0,
            watermark: 3_600_000,
            rows: vec![Row {
                rank: Some(1),
                keys: vec![("url", KeyVal::Text("/a,b".into()))],
                values: vec![("pv", 3.0), ("share", 0.5)],
            }],
        };
        let v: Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(v["rows"][0]["rank"], 1);
        assert_eq!(v["rows"][0]["url"], "/a,b");
        assert_eq!(v["rows"][0]["pv"], 3);
        assert_eq!(v["rows"][0]["share"], 0.5);
        assert_eq!(v["end"], "1970-01-01T01:00:00.000Z");
        let mut csv = String::new();
        write_csv(&e, &mut csv);
        assert_eq!(
            csv.lines().next().unwrap(),
            "hot-items,result,default,1970-01-01T00:00:00.000Z,1970-01-01T01:00:00.000Z,0,1,url,\"/a,b\",pv,3"
        );
        assert_eq!(csv.lines().count(), 2);
    }
}
