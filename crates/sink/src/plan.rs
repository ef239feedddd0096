//! Turning a [`SinkTable`] into checked, typed rows before anything is sent, so that a bad row
//! fails the write without touching the database.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use serde_json::Value;

use crate::SinkTable;
use crate::error::SinkError;

/// How a column's values are bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Float,
    Bool,
    Text,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Int => "an integer column",
            Kind::Float => "a floating-point column",
            Kind::Bool => "a boolean column",
            Kind::Text => "a text column",
        }
    }
}

/// A column as the table has it already.
#[derive(Clone, Debug)]
pub(crate) struct ExistingColumn {
    pub name: String,
    pub kind: Kind,
    /// Postgres only: a type the text parameter is cast to (dates, numeric, json, ...).
    pub cast: Option<String>,
    /// For VARCHAR(n)/CHAR(n): n, in characters.
    pub max_chars: Option<u64>,
}

/// The table as it exists in the database.
#[derive(Clone, Debug, Default)]
pub(crate) struct Existing {
    pub columns: Vec<ExistingColumn>,
    pub primary_key: Vec<String>,
}

/// What the database-specific rules add to the checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// MySQL column names ignore case; Postgres quoted names do not.
    pub names_ignore_case: bool,
    /// Text keys of new MySQL tables are VARCHAR(255).
    pub new_text_key_chars: Option<u64>,
    /// Postgres text cannot hold U+0000.
    pub text_rejects_nul: bool,
}

/// One column of the write, in the order of [`SinkTable::columns`].
#[derive(Clone, Debug)]
pub(crate) struct ColumnPlan {
    pub name: String,
    pub kind: Kind,
    pub cast: Option<String>,
    pub is_key: bool,
    /// Not in the table yet: created or added.
    pub is_new: bool,
    /// The longest text the column takes (MySQL key columns are VARCHAR).
    pub max_chars: Option<u64>,
}

/// A value ready to bind. Text borrows from the input where it can.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bound<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(Cow<'a, str>),
}

/// A checked write: columns with their kinds, and rows (row-major, one value per column) with
/// later duplicates of a key having replaced earlier ones.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub table: String,
    pub columns: Vec<ColumnPlan>,
    pub values: Vec<Bound<'a>>,
}

/// Checks names, key and row shapes: everything that needs no database.
pub(crate) fn check_shape(t: &SinkTable, table: &str) -> Result<(), SinkError> {
    // The name alone, as the caller wrote it, and with the prefix (for the length limit).
    check_identifier("table name", &t.name)?;
    check_identifier("table name", table)?;
    for c in &t.columns {
        check_identifier("column name", c)?;
    }
    if let Some(c) = first_duplicate(&t.columns) {
        return Err(SinkError::DuplicateColumn {
            table: table.into(),
            column: c.into(),
        });
    }
    if t.key.is_empty() {
        return Err(SinkError::NoKey {
            table: table.into(),
        });
    }
    if let Some(c) = first_duplicate(&t.key) {
        return Err(SinkError::DuplicateColumn {
            table: table.into(),
            column: c.into(),
        });
    }
    for k in &t.key {
        if !t.columns.iter().any(|c| c == k) {
            return Err(SinkError::UnknownKey {
                table: table.into(),
                column: k.clone(),
                columns: t.columns.join(", "),
            });
        }
    }
    let key_idx: Vec<usize> = key_indices(t);
    for (i, row) in t.rows.iter().enumerate() {
        if row.len() != t.columns.len() {
            return Err(SinkError::RowLength {
                table: table.into(),
                row: i,
                expected: t.columns.len(),
                found: row.len(),
            });
        }
        if let Some(&k) = key_idx.iter().find(|&&k| row[k].is_null()) {
            return Err(SinkError::NullKey {
                table: table.into(),
                row: i,
                column: t.columns[k].clone(),
            });
        }
    }
    Ok(())
}

/// `^[A-Za-z_][A-Za-z0-9_]{0,62}$`: safe to quote in both databases, within both length limits.
pub(crate) fn check_identifier(what: &'static str, name: &str) -> Result<(), SinkError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(SinkError::BadIdentifier {
            what,
            name: name.into(),
        })
    }
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    names.iter().enumerate().find_map(|(i, a)| {
        names[..i]
            .iter()
            .any(|b| a.eq_ignore_ascii_case(b))
            .then_some(a.as_str())
    })
}

fn key_indices(t: &SinkTable) -> Vec<usize> {
    t.key
        .iter()
        .filter_map(|k| t.columns.iter().position(|c| c == k))
        .collect()
}

/// Builds the plan for a shape-checked table: column kinds (the existing table's, else inferred),
/// converted values, duplicate keys resolved (the last row wins, as sequential upserts would).
pub(crate) fn build<'a>(
    t: &'a SinkTable,
    table: &str,
    existing: Option<&Existing>,
    rules: Rules,
) -> Result<Plan<'a>, SinkError> {
    let same = |a: &str, b: &str| {
        if rules.names_ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    if let Some(e) = existing {
        let matches = e.primary_key.len() == t.key.len()
            && t.key
                .iter()
                .all(|k| e.primary_key.iter().any(|p| same(p, k)));
        if !matches {
            return Err(SinkError::KeyMismatch {
                table: table.into(),
                existing: if e.primary_key.is_empty() {
                    "none".into()
                } else {
                    e.primary_key.join(", ")
                },
                requested: t.key.join(", "),
            });
        }
    }
    let mut columns: Vec<ColumnPlan> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let is_key = t.key.contains(name);
            let found = existing.and_then(|e| e.columns.iter().find(|c| same(&c.name, name)));
            match found {
                Some(c) => ColumnPlan {
                    name: name.clone(),
                    kind: c.kind,
                    cast: c.cast.clone(),
                    is_key,
                    is_new: false,
                    max_chars: c.max_chars,
                },
                None => {
                    let kind = infer(t.rows.iter().map(|r| &r[i]));
                    let max_chars = if is_key && kind == Kind::Text {
                        rules.new_text_key_chars
                    } else {
                        None
                    };
                    ColumnPlan {
                        name: name.clone(),
                        kind,
                        cast: None,
                        is_key,
                        is_new: true,
                        max_chars,
                    }
                }
            }
        })
        .collect();
    if let Some(cap) = rules.new_text_key_chars {
        // InnoDB caps a primary key at 3072 bytes and utf8mb4 takes 4 per character: share
        // what the integer keys leave among the new text keys.
        let new_text_key = |c: &ColumnPlan| c.is_key && c.is_new && c.kind == Kind::Text;
        let texts = columns.iter().filter(|c| new_text_key(c)).count() as u64;
        let int_bytes = 8 * columns
            .iter()
            .filter(|c| c.is_key && c.kind != Kind::Text)
            .count() as u64;
        if texts > 0 {
            let fit = 3072u64.saturating_sub(int_bytes) / (4 * texts);
            for c in columns.iter_mut().filter(|c| new_text_key(c)) {
                c.max_chars = Some(cap.min(fit));
            }
        }
    }

    let mut values = Vec::with_capacity(t.rows.len() * columns.len());
    for (r, row) in t.rows.iter().enumerate() {
        for (col, v) in columns.iter().zip(row) {
            let bound = convert(v, col, rules).map_err(|reason| SinkError::BadValue {
                table: table.into(),
                row: r,
                column: col.name.clone(),
                value: shorten(v),
                reason,
            })?;
            values.push(bound);
        }
    }
    let mut plan = Plan {
        table: table.into(),
        columns,
        values,
    };
    plan.keep_last_of_each_key();
    Ok(plan)
}

/// The column type that holds every value: all i64 → Int, numbers with a float → Float, all
/// bool → Bool, anything else (mixed, strings, nested, only nulls) → Text.
fn infer<'v>(values: impl Iterator<Item = &'v Value>) -> Kind {
    let mut kind: Option<Kind> = None;
    for v in values {
        let this = match v {
            Value::Null => continue,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            // u64 above i64::MAX would lose digits as a double: text keeps them.
            Value::Number(n) if n.is_f64() => Kind::Float,
            _ => return Kind::Text,
        };
        kind = Some(match (kind, this) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(Kind::Int | Kind::Float), Kind::Int | Kind::Float) => Kind::Float,
            _ => return Kind::Text,
        });
    }
    kind.unwrap_or(Kind::Text)
}

fn convert<'a>(v: &'a Value, col: &ColumnPlan, rules: Rules) -> Result<Bound<'a>, String> {
    let mismatch = || format!("the column is {}", col.kind.describe());
    let bound = match (col.kind, v) {
        (_, Value::Null) => Bound::Null,
        (Kind::Int, Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Bound::Int(i),
            // 3.0 is an integer; 3.5 is not, and is not silently rounded.
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Bound::Int(f as i64),
            _ => return Err(format!("{} (BIGINT range, no fraction)", mismatch())),
        },
        (Kind::Float, Value::Number(n)) => match n.as_f64() {
            Some(f) => Bound::Float(f),
            None => return Err(mismatch()),
        },
        (Kind::Bool, Value::Bool(b)) => Bound::Bool(*b),
        (Kind::Text, Value::String(s)) => Bound::Text(Cow::Borrowed(s)),
        (Kind::Text, other) => Bound::Text(Cow::Owned(other.to_string())),
        _ => return Err(mismatch()),
    };
    if let Bound::Text(s) = &bound {
        if rules.text_rejects_nul && s.contains('\0') {
            return Err("PostgreSQL text cannot hold the NUL character (U+0000)".into());
        }
        match col.max_chars {
            Some(max) if s.chars().count() as u64 > max => {
                return Err(format!("the column holds at most {max} characters"));
            }
            _ => {}
        }
    }
    Ok(bound)
}

fn shorten(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// A key value that hashes the way the database compares it.
#[derive(Hash, PartialEq, Eq)]
enum KeyPart<'p> {
    Null,
    Int(i64),
    Float(u64),
    Bool(bool),
    Text(&'p str),
}

impl<'p> KeyPart<'p> {
    fn of(b: &'p Bound<'_>) -> Self {
        match b {
            Bound::Null => KeyPart::Null,
            Bound::Int(i) => KeyPart::Int(*i),
            // -0.0 == 0.0 in SQL.
            Bound::Float(f) => KeyPart::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            Bound::Bool(b) => KeyPart::Bool(*b),
            Bound::Text(s) => KeyPart::Text(s),
        }
    }
}

impl<'a> Plan<'a> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values
            .len()
            .checked_div(self.columns.len())
            .unwrap_or(0)
    }

    /// The values of row `r`.
    pub fn row(&self, r: usize) -> &[Bound<'a>] {
        let n = self.columns.len();
        &self.values[r * n..(r + 1) * n]
    }

    /// Postgres refuses to update one row twice in a statement; keeping only the last row of
    /// each key gives both databases the result of applying the rows in order.
    fn keep_last_of_each_key(&mut self) {
        let n = self.columns.len();
        let rows = self.rows();
        let key_idx: Vec<usize> = (0..n).filter(|&i| self.columns[i].is_key).collect();
        let mut last: HashMap<Vec<KeyPart<'_>>, usize> = HashMap::with_capacity(rows);
        let mut duplicates = false;
        for r in 0..rows {
            let row = &self.values[r * n..(r + 1) * n];
            let key = key_idx.iter().map(|&k| KeyPart::of(&row[k])).collect();
            match last.entry(key) {
                Entry::Occupied(mut e) => {
                    e.insert(r);
                    duplicates = true;
                }
                Entry::Vacant(e) => {
                    e.insert(r);
                }
            }
        }
        if !duplicates {
            return;
        }
        let mut keep = vec![false; rows];
        for r in last.into_values() {
            keep[r] = true;
        }
        let old = std::mem::take(&mut self.values);
        self.values = old
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep[i / n])
            .map(|(_, v)| v)
            .collect();
    }

    /// Row ranges for multi-row statements: at most `max_params` bound values and about
    /// `max_bytes` of data per statement (at least one row each).
    pub fn batches(&self, max_params: usize, max_bytes: usize) -> Vec<Range<usize>> {
        let n = self.columns.len().max(1);
        let max_rows = (max_params / n).max(1);
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for r in 0..self.rows() {
            let size: usize = self
                .row(r)
                .iter()
                .map(|v| 8 + if let Bound::Text(s) = v { s.len() } else { 8 })
                .sum();
            if r > start && (r - start == max_rows || bytes + size > max_bytes) {
                out.push(start..r);
                (start, bytes) = (r, 0);
            }
            bytes += size;
        }
        if start < self.rows() {
            out.push(start..self.rows());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PG: Rules = Rules {
        names_ignore_case: false,
        new_text_key_chars: None,
        text_rejects_nul: true,
    };
    const MY: Rules = Rules {
        names_ignore_case: true,
        new_text_key_chars: Some(255),
        text_rejects_nul: false,
    };

    fn table(columns: &[&str], key: &[&str], rows: Vec<Vec<Value>>) -> SinkTable {
        SinkTable {
            name: "t".into(),
            columns: columns.iter().map(|s| s.to_string()).collect(),
            key: key.iter().map(|s| s.to_string()).collect(),
            rows,
        }
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_", "A_1", "x".repeat(63).as_str()] {
            assert!(check_identifier("column name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "a\"b", "a`b", "é", &"x".repeat(64)] {
            assert!(check_identifier("column name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inference() {
        let k = |vals: Vec<Value>| infer(vals.iter());
        assert_eq!(k(vec![json!(1), json!(null), json!(-5)]), Kind::Int);
        assert_eq!(k(vec![json!(1), json!(2.5)]), Kind::Float);
        assert_eq!(k(vec![json!(true), json!(null)]), Kind::Bool);
        assert_eq!(k(vec![json!(null), json!(null)]), Kind::Text);
        assert_eq!(k(vec![]), Kind::Text);
        assert_eq!(k(vec![json!(1), json!("1")]), Kind::Text);
        assert_eq!(k(vec![json!(true), json!(1)]), Kind::Text);
        assert_eq!(k(vec![json!([1, 2])]), Kind::Text);
        assert_eq!(k(vec![json!(u64::MAX)]), Kind::Text);
    }

    #[test]
    fn shape_errors() {
        let t = table(&["a", "b"], &[], vec![]);
        assert!(matches!(check_shape(&t, "t"), Err(SinkError::NoKey { .. })));
        let t = table(&["a", "b"], &["c"], vec![]);
        assert!(matches!(
            check_shape(&t, "t"),
            Err(SinkError::UnknownKey { .. })
        ));
        let t = table(&["a", "A"], &["a"], vec![]);
        assert!(matches!(
            check_shape(&t, "t"),
            Err(SinkError::DuplicateColumn { .. })
        ));
        let t = table(&["a", "b"], &["a"], vec![vec![json!(1)]]);
        assert!(matches!(
            check_shape(&t, "t"),
            Err(SinkError::RowLength { row: 0, .. })
        ));
        let t = table(
            &["a", "b"],
            &["b"],
            vec![vec![json!(1), json!(2)], vec![json!(1), json!(null)]],
        );
        let e = check_shape(&t, "t").unwrap_err();
        assert!(matches!(e, SinkError::NullKey { row: 1, .. }), "{e}");
        assert!(e.to_string().contains("row 1"), "{e}");
    }

    #[test]
    fn last_row_of_a_key_wins() {
        let t = table(
            &["k", "v"],
            &["k"],
            vec![
                vec![json!(1), json!("a")],
                vec![json!(2), json!("b")],
                vec![json!(1.0), json!("c")],
            ],
        );
        let p = build(&t, "t", None, PG).unwrap();
        assert_eq!(p.rows(), 2);
        let rows: Vec<_> = (0..2).map(|r| p.row(r).to_vec()).collect();
        assert!(rows.contains(&vec![Bound::Float(2.0), Bound::Text("b".into())]));
        assert!(rows.contains(&vec![Bound::Float(1.0), Bound::Text("c".into())]));
    }

    #[test]
    fn existing_types_win_and_mismatches_are_named() {
        let existing = Existing {
            columns: vec![
                ExistingColumn {
                    name: "K".into(),
                    kind: Kind::Text,
                    cast: None,
                    max_chars: Some(3),
                },
                ExistingColumn {
                    name: "n".into(),
                    kind: Kind::Int,
                    cast: None,
                    max_chars: None,
                },
            ],
            primary_key: vec!["K".into()],
        };
        let t = table(&["k", "n"], &["k"], vec![vec![json!(7), json!(2.0)]]);
        let p = build(&t, "t", Some(&existing), MY).unwrap();
        assert_eq!(p.row(0), &[Bound::Text("7".into()), Bound::Int(2)]);
        assert!(!p.columns[0].is_new);
        assert!(matches!(
            build(&t, "t", Some(&existing), PG),
            Err(SinkError::KeyMismatch { .. })
        ));
        let t = table(&["k", "n"], &["k"], vec![vec![json!("x"), json!(2.5)]]);
        let e = build(&t, "t", Some(&existing), MY).unwrap_err();
        assert!(
            e.to_string().contains("column \"n\"") && e.to_string().contains("integer"),
            "{e}"
        );
        let t = table(&["k", "n"], &["k"], vec![vec![json!("long"), json!(1)]]);
        let e = build(&t, "t", Some(&existing), MY).unwrap_err();
        assert!(e.to_string().contains("at most 3 characters"), "{e}");
        let t = table(&["k"], &["k"], vec![vec![json!("a\0b")]]);
        assert!(build(&t, "t", None, PG).is_err());
        assert!(build(&t, "t", None, MY).is_ok());
    }

    #[test]
    fn batches_respect_params_and_bytes() {
        let rows = (0..10)
            .map(|i| vec![json!(i), json!("x".repeat(100))])
            .collect();
        let t = table(&["k", "v"], &["k"], rows);
        let p = build(&t, "t", None, PG).unwrap();
        assert_eq!(p.batches(65535, 1 << 20), vec![0..10]);
        assert_eq!(p.batches(8, 1 << 20), vec![0..4, 4..8, 8..10]);
        assert_eq!(p.batches(65535, 300), vec![0..2, 2..4, 4..6, 6..8, 8..10]);
        assert_eq!(
            p.batches(1, 1),
            (0..10).map(|r| r..r + 1).collect::<Vec<_>>()
        );
    }
}
