//! The report as one HTML file: inline CSS and SVG, nothing fetched when it is opened.

use super::svg::{self, esc};
use super::{ChartKind, ChartSpec, Report};
use crate::analysis::{Analysis, Table, cell_text};
use std::fmt::Write;

/// Rows shown per table in the page (the CSV has all).
const MAX_ROWS: usize = 50;

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#111;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}\
.meta{color:#555;margin-bottom:16px}.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}\
.card{border:1px solid #e5e7eb;border-radius:6px;padding:6px 10px;min-width:90px}.card b{display:block;font-size:16px}\
.card span{color:#555;font-size:12px}table{border-collapse:collapse;margin:8px 0;font-size:12px}\
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}th{background:#f9fafb}td.t{text-align:left}\
.err{color:#b91c1c;background:#fef2f2;padding:8px;border-radius:6px}.more{color:#555;font-size:12px}svg{max-width:100%;height:auto}";

/// Renders the whole page.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let range = if r.from == r.to {
        r.from.to_string()
    } else {
        format!("{} to {}", r.from, r.to)
    };
    let shop = r
        .shop
        .as_ref()
        .map(|s| format!(" · shop {}", esc(s)))
        .unwrap_or_default();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · {range}</title><style>{CSS}</style></head><body><h1>{t}</h1><div class=\"meta\">{range}{shop} · generated {g} by StorePulse</div>",
        t = esc(&r.title),
        g = esc(&r.generated_at),
    );
    for sec in &r.sections {
        let _ = write!(s, "<h2>{}</h2>", esc(&sec.spec.title));
        if let Some(e) = &sec.error {
            let _ = write!(
                s,
                "<div class=\"err\">This section failed: {}</div>",
                esc(e)
            );
            continue;
        }
        let Some(a) = &sec.result else { continue };
        cards(&mut s, a);
        if let Some(c) = &sec.spec.chart {
            s.push_str(&chart(a, c, &sec.spec.title));
        }
        for t in &a.tables {
            table(&mut s, t);
        }
    }
    s.push_str("</body></html>\n");
    s
}

fn cards(s: &mut String, a: &Analysis) {
    if a.summary.is_empty() {
        return;
    }
    s.push_str("<div class=\"cards\">");
    for (k, v) in &a.summary {
        let _ = write!(
            s,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&cell_text(v)),
            esc(&k.replace('_', " "))
        );
    }
    s.push_str("</div>");
}

fn chart(a: &Analysis, c: &ChartSpec, title: &str) -> String {
    let t = match &c.table {
        Some(n) => a.table(n),
        None => a.tables.first(),
    };
    let Some(t) = t else { return String::new() };
    let labels: Vec<String> = t.column(&c.x).into_iter().map(cell_text).collect();
    let series: Vec<(String, Vec<f64>)> =
        c.y.iter()
            .filter(|y| t.col(y).is_some())
            .map(|y| {
                (
                    y.clone(),
                    t.column(y)
                        .iter()
                        .map(|v| v.as_f64().unwrap_or(0.0))
                        .collect(),
                )
            })
            .collect();
    let Some(first) = series.first() else {
        return String::new();
    };
    match c.kind {
        ChartKind::Line => svg::lines(title, &labels, &series),
        ChartKind::Bar => svg::vbar(title, &labels, &first.1),
        ChartKind::Hbar => svg::hbar(title, &labels, &first.1),
    }
}

/// A cell's background for rates (0..1) in retention-like columns: a light-to-dark blue.
fn shade(col: &str, v: &serde_json::Value) -> String {
    let is_rate =
        col.len() > 1 && col.starts_with('p') && col[1..].chars().all(|c| c.is_ascii_digit());
    match v.as_f64() {
        Some(x) if is_rate && (0.0..=1.0).contains(&x) => {
            let l = 97.0 - 45.0 * x;
            format!(" style=\"background:hsl(217,80%,{l:.0}%)\"")
        }
        _ => String::new(),
    }
}

fn table(s: &mut String, t: &Table) {
    if t.columns.is_empty() {
        return;
    }
    s.push_str("<table><thead><tr>");
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    for r in t.rows.iter().take(MAX_ROWS) {
        s.push_str("<tr>");
        for (c, v) in t.columns.iter().zip(r) {
            let class = if v.is_string() { " class=\"t\"" } else { "" };
            let _ = write!(s, "<td{class}{}>{}</td>", shade(c, v), esc(&cell_text(v)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if t.rows.len() > MAX_ROWS {
        let _ = write!(
            s,
            "<div class=\"more\">{} more rows in {}.csv</div>",
            t.rows.len() - MAX_ROWS,
            esc(&t.name)
        );
    }
}
