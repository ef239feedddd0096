//! Charts rendered on the server as SVG text: a report opens anywhere, offline, with no script.

use std::fmt::Write;

const W: f64 = 720.0;
const PALETTE: [&str; 6] = [
    "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2",
];

/// Escapes text for XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A round axis maximum and step for values up to `max` (about 5 ticks).
fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let rough = max / 5.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// Short number labels: 1.2M, 35K, 0.25.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}K", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Horizontal bars (rankings, segments): one bar per label, values written at the bar's end.
pub fn hbar(title: &str, labels: &[String], values: &[f64]) -> String {
    let n = labels.len().min(values.len());
    let (left, row, top) = (200.0, 22.0, 34.0);
    let h = top + row * n as f64 + 12.0;
    let (max, _) = nice_axis(values.iter().take(n).cloned().fold(0.0, f64::max));
    let span = W - left - 70.0;
    let mut s = header(title, h);
    for i in 0..n {
        let y = top + row * i as f64;
        let w = (values[i].max(0.0) / max * span).max(0.5);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="l">{}</text><rect x="{left}" y="{}" width="{w:.1}" height="{}" fill="{}"><title>{}: {}</title></rect><text x="{}" y="{}" class="v">{}</text>"#,
            left - 6.0,
            y + 15.0,
            esc(&clip(&labels[i], 30)),
            y + 3.0,
            row - 6.0,
            PALETTE[0],
            esc(&labels[i]),
            values[i],
            left + w + 4.0,
            y + 15.0,
            short(values[i])
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars over ordered labels (hours, weekdays, funnel steps).
pub fn vbar(title: &str, labels: &[String], values: &[f64]) -> String {
    let n = labels.len().min(values.len()).max(1);
    let (left, top, bottom, h) = (56.0, 34.0, 40.0, 260.0);
    let plot_h = h - top - bottom;
    let (max, step) = nice_axis(values.iter().cloned().fold(0.0, f64::max));
    let slot = (W - left - 16.0) / n as f64;
    let mut s = header(title, h);
    grid(&mut s, left, top, plot_h, max, step);
    for (i, (l, v)) in labels.iter().zip(values).enumerate() {
        let bh = (v.max(0.0) / max * plot_h).max(0.5);
        let x = left + slot * i as f64 + slot * 0.15;
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{}" text-anchor="middle" class="l">{}</text>"#,
            top + plot_h - bh,
            slot * 0.7,
            PALETTE[0],
            esc(l),
            v,
            x + slot * 0.35,
            h - bottom + 16.0,
            esc(&clip(l, if n > 12 { 3 } else { 12 }))
        );
    }
    s.push_str("</svg>");
    s
}

/// Lines over ordered labels (days), one per series, with a legend.
pub fn lines(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let n = labels.len();
    let (left, top, bottom, h) = (56.0, 34.0, 56.0, 280.0);
    let plot_h = h - top - bottom;
    let max_v = series
        .iter()
        .flat_map(|s| s.1.iter())
        .cloned()
        .fold(0.0, f64::max);
    let (max, step) = nice_axis(max_v);
    let dx = if n > 1 {
        (W - left - 24.0) / (n - 1) as f64
    } else {
        0.0
    };
    let mut s = header(title, h);
    grid(&mut s, left, top, plot_h, max, step);
    let every = n.div_ceil(10).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" class="l">{}</text>"#,
                left + dx * i as f64,
                h - bottom + 16.0,
                esc(&clip(l, 10))
            );
        }
    }
    for (k, (name, vals)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let pts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    left + dx * i as f64,
                    top + plot_h - v.max(0.0) / max * plot_h
                )
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        for (i, v) in vals.iter().enumerate() {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}: {}</title></circle>"#,
                left + dx * i as f64,
                top + plot_h - v.max(0.0) / max * plot_h,
                esc(name),
                esc(labels.get(i).map_or("", |l| l.as_str())),
                v
            );
        }
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" class="l">{}</text>"#,
            left + 130.0 * k as f64,
            h - 18.0,
            left + 14.0 + 130.0 * k as f64,
            h - 9.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

fn header(title: &str, h: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="{t}"><style>.l{{font:11px sans-serif;fill:#444}}.v{{font:11px sans-serif;fill:#111}}.t{{font:bold 13px sans-serif;fill:#111}}</style><text x="8" y="18" class="t">{t}</text>"#,
        t = esc(title)
    )
}

fn grid(s: &mut String, left: f64, top: f64, plot_h: f64, max: f64, step: f64) {
    let mut v = 0.0;
    while v <= max + step * 0.01 {
        let y = top + plot_h - v / max * plot_h;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" class="l">{}</text>"##,
            W - 16.0,
            left - 6.0,
            y + 4.0,
            short(v)
        );
        v += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_cover_the_maximum() {
        assert_eq!(nice_axis(97.0), (100.0, 20.0));
        assert_eq!(nice_axis(1234.0), (1250.0, 250.0));
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
        assert_eq!(short(1_234_567.0), "1.2M");
        assert_eq!(short(0.25), "0.250");
    }

    #[test]
    fn charts_escape_labels_and_draw_one_mark_per_value() {
        let labels = vec!["<b>&".to_string(), "x".to_string()];
        let svg = hbar("Top", &labels, &[3.0, 1.0]);
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let svg = lines(
            "Days",
            &labels,
            &[("pv".into(), vec![1.0, 2.0]), ("uv".into(), vec![0.5, 1.0])],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
