//! `storepulse config`: every setting with its default and its meaning, the meaning taken from
//! the field's doc comment (through its JSON schema), so the sample cannot drift from the code.
//! Tables that are empty by default (`[jobs.*]`, `[reports.*]`, `[[schedule]]`, API keys) get a
//! commented example whose lines carry the docs of their fields; a test uncomments it and loads it.

use crate::config::Config;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Examples of the tables that are empty by default: (type documenting the lines, TOML).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "JobConfig",
        r#"[jobs.hot-items]
window = "1h"
slide = "5min"
top = 10
lateness = "1min"
"#,
    ),
    (
        "JobConfig",
        r#"[jobs.ad-clicks]
threshold = 100
"#,
    ),
    (
        "ReportSpec",
        r#"[reports.top-sellers]
title = "Top sellers"
days = 7
"#,
    ),
    (
        "SectionSpec",
        r#"[[reports.top-sellers.sections]]
title = "Items by purchases"
analysis = "rankings"
params = { metric = "buy", top = 20 }
chart = { kind = "hbar", x = "item_id", y = ["buy"] }
"#,
    ),
    (
        "ScheduleSpec",
        r#"[[schedule]]
name = "nightly-report"
cron = "0 30 2 * * *"
task = "report"
report = "daily"
sink = false
"#,
    ),
    (
        "ScheduleSpec",
        r#"[[schedule]]
name = "retention"
cron = "0 0 4 * * Sun"
task = "retention"
"#,
    ),
    (
        "KeyConfig",
        r#"[[server.keys]]
name = "web"
key_sha256 = "<hex SHA-256 of the key; `storepulse keys create` writes state/keys.json instead>"
scopes = ["ingest"]
shop = "tb"
"#,
    ),
];

/// The commented sample configuration.
pub fn sample() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default();
    let defaults = toml::Value::try_from(Config::default())
        .ok()
        .and_then(|v| v.as_table().cloned())
        .unwrap_or_default();
    let mut out = String::from(
        "# storepulse.toml — every setting with its default. Precedence, lowest first: these\n\
         # defaults, this file, STOREPULSE_* environment variables (nested keys joined by __,\n\
         # e.g. STOREPULSE_IMPORT__ROWS_PER_COMMIT=500000), command-line flags.\n",
    );
    let root = props(&schema, &schema);
    let mut sections = Vec::new();
    // The schema's order (alphabetical), then anything it does not describe.
    let in_order = |t: &toml::map::Map<String, toml::Value>, fields: &Map<String, Value>| {
        let mut keys: Vec<String> = fields
            .keys()
            .filter(|k| t.contains_key(*k))
            .cloned()
            .collect();
        keys.extend(t.keys().filter(|k| !fields.contains_key(*k)).cloned());
        keys
    };
    for key in in_order(&defaults, &root) {
        let (key, value) = (&key, &defaults[&key]);
        match value {
            toml::Value::Table(t) if !t.is_empty() => sections.push((key.clone(), t.clone())),
            toml::Value::Table(_) => comment(
                &mut out,
                &format!(
                    "{} — none by default; see the [{key}.*] examples at the end.",
                    describe(root.get(key.as_str()))
                ),
            ),
            _ => field(&mut out, key, value, root.get(key)),
        }
    }
    for (key, table) in sections {
        out.push('\n');
        comment(&mut out, &describe(root.get(key.as_str())));
        let _ = writeln!(out, "[{key}]");
        let fields = root
            .get(key.as_str())
            .map(|s| props(&schema, s))
            .unwrap_or_default();
        for k in in_order(&table, &fields) {
            field(&mut out, &k, &table[&k], fields.get(&k));
        }
    }
    out.push_str(
        "\n# ---- Examples of the tables that are empty by default (uncomment to use) ----\n",
    );
    for &(def, toml) in EXAMPLES {
        out.push('\n');
        let fields = schema
            .pointer(&format!("/$defs/{def}"))
            .map(|d| props(&schema, d))
            .unwrap_or_default();
        for line in toml.lines() {
            if let Some((k, _)) = line.split_once(" = ")
                && let Some(doc) = fields.get(k.trim())
            {
                for l in wrap(&describe(Some(doc))) {
                    let _ = writeln!(out, "## {l}");
                }
            }
            let _ = writeln!(out, "# {line}");
        }
    }
    out
}

/// One `key = value` line with its meaning above it. An empty list of tables (`schedule`,
/// `server.keys`) is only described: written as `key = []` it would clash with the example's
/// `[[key]]` once uncommented.
fn field(out: &mut String, key: &str, value: &toml::Value, doc: Option<&Value>) {
    let table_list = doc
        .and_then(|d| d.get("items"))
        .is_some_and(|i| i.get("$ref").is_some());
    if table_list && value.as_array().is_some_and(Vec::is_empty) {
        comment(
            out,
            &format!(
                "{} — none by default; see the [[...{key}]] example at the end.",
                describe(doc)
            ),
        );
        return;
    }
    comment(out, &describe(doc));
    let mut t = toml::map::Map::new();
    t.insert(key.to_string(), value.clone());
    let line = toml::to_string(&toml::Value::Table(t)).unwrap_or_default();
    out.push_str(&line);
}

fn comment(out: &mut String, text: &str) {
    for l in wrap(text) {
        let _ = writeln!(out, "# {l}");
    }
}

/// A field's description on one line (its doc comment's lines joined).
fn describe(doc: Option<&Value>) -> String {
    let Some(d) = doc else { return String::new() };
    d.get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The properties of an object schema, following a `$ref` into `$defs`.
fn props(root: &Value, node: &Value) -> Map<String, Value> {
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(r) => root.pointer(r.trim_start_matches('#')).unwrap_or(node),
        None => node,
    };
    node.get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Words wrapped at 96 columns.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + w.len() > 96 {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("storepulse.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(Some(&p)).unwrap()
    }

    #[test]
    fn every_setting_is_explained() {
        let s = sample();
        for line in s
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(" = "))
        {
            let key = line.split(" = ").next().unwrap();
            let at = s.find(&format!("\n{line}\n")).unwrap();
            let before = s[..at].lines().last().unwrap_or_default();
            assert!(
                before.starts_with("# "),
                "{key} has no meaning above it:\n{before}\n{line}"
            );
        }
        for needle in [
            "[server]",
            "[live]",
            "[query]",
            "[sink]",
            "# [jobs.hot-items]",
            "# [[schedule]]",
            "# [reports.top-sellers]",
        ] {
            assert!(s.contains(needle), "{needle} missing");
        }
        assert!(
            s.contains("# Where everything is kept"),
            "data_dir's doc comment"
        );
    }

    #[test]
    fn the_examples_load_once_uncommented() {
        let s = sample();
        let marker = "# ---- Examples";
        let at = s.find(marker).unwrap();
        let open: String = s[at..]
            .lines()
            .filter(|l| !l.starts_with("## "))
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        // The key example carries a placeholder hash; give it a real one.
        let open = open.replace(
            "<hex SHA-256 of the key; `storepulse keys create` writes state/keys.json instead>",
            &"ab".repeat(32),
        );
        let c = load(&format!("{}{open}", &s[..at]));
        assert_eq!(c.jobs["hot-items"].top, Some(10));
        assert_eq!(c.jobs["ad-clicks"].threshold, Some(100));
        assert_eq!(c.reports["top-sellers"].sections[0].analysis, "rankings");
        assert_eq!(c.schedule.len(), 2);
        assert_eq!(c.server.keys[0].name, "web");
        assert!(
            c.live().is_ok(),
            "the job examples pass the job registry's check"
        );
    }
}
