//! The tree body exactly as Weka 3.6 prints it: J48's `ClassifierTree.dumpTree` (`|   `
//! indents, `attr <= 0.6` with `Utils.doubleToString(x, 6)`, or Java's `Double.toString` for
//! binary splits, leaves `class (weight/errors)` rounded to 2 decimals and printed the Java
//! way) and Id3's (`|  ` indents, `: null` for unreached leaves). `tests/tree_id3.rs` and
//! `tests/tree_j48.rs` compare this text with Weka's output byte for byte.

use super::{Algo, Node, Test, Tree};
use crate::tree::dist::gr;

impl Tree {
    /// The tree body as Weka prints it between its header and "Number of Leaves", one line per
    /// branch, each ending in `\n` (a lone leaf prints as `: class (n)`).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match self.algo {
            Algo::Id3 => self.id3_text(&self.root, 0, &mut out),
            Algo::C45 { .. } => {
                if self.root.test.is_none() {
                    out.push_str(": ");
                    out.push_str(&self.label(&self.root, 0));
                } else {
                    self.j48_text(&self.root, 0, &mut out);
                }
            }
        }
        // Weka starts every branch line with a newline; we end them with one.
        let mut s = out.strip_prefix('\n').unwrap_or(&out).to_string();
        s.push('\n');
        s
    }

    fn j48_text(&self, node: &Node, depth: usize, out: &mut String) {
        let Some(test) = &node.test else { return };
        for (i, child) in node.children.iter().enumerate() {
            out.push('\n');
            for _ in 0..depth {
                out.push_str("|   ");
            }
            out.push_str(&self.condition(test, i));
            if child.test.is_none() {
                out.push_str(": ");
                out.push_str(&self.label(node, i));
            } else {
                self.j48_text(child, depth + 1, out);
            }
        }
    }

    fn id3_text(&self, node: &Node, depth: usize, out: &mut String) {
        match &node.test {
            None => {
                if node.empty {
                    out.push_str(": null");
                } else {
                    let w = node.dist.class_weights();
                    out.push_str(": ");
                    out.push_str(&self.classes()[weka_max_index(w)]);
                }
            }
            Some(test) => {
                for (i, child) in node.children.iter().enumerate() {
                    out.push('\n');
                    for _ in 0..depth {
                        out.push_str("|  ");
                    }
                    out.push_str(&self.condition(test, i));
                    self.id3_text(child, depth + 1, out);
                }
            }
        }
    }

    /// `name = level`, `name != level`, `name <= x` or `name > x` for branch `i`.
    pub(crate) fn condition(&self, test: &Test, i: usize) -> String {
        let info = &self.info[test.attr()];
        let level = |v: usize| {
            info.levels
                .as_ref()
                .and_then(|l| l.get(v))
                .map_or("?", String::as_str)
        };
        match test {
            Test::Nominal { .. } => format!("{} = {}", info.name, level(i)),
            Test::BinaryNominal { value, .. } => {
                let op = if i == 0 { "=" } else { "!=" };
                format!("{} {op} {}", info.name, level(*value as usize))
            }
            Test::Numeric { point, .. } => {
                let op = if i == 0 { "<=" } else { ">" };
                let binary = matches!(self.algo, Algo::C45 { binary: true, .. });
                let x = if binary {
                    java_double(*point)
                } else {
                    weka_fixed(*point, 6)
                };
                format!("{} {op} {x}", info.name)
            }
        }
    }

    /// J48's `dumpLabel`: majority class of branch `i` of `node`, weight and errors.
    fn label(&self, node: &Node, i: usize) -> String {
        let d = &node.dist;
        let mut s = format!(
            "{} ({}",
            self.classes()[d.max_class_in(i)],
            java_double(round2(d.per_bag(i)))
        );
        let wrong = d.num_incorrect_in(i);
        if gr(wrong, 0.0) {
            s.push('/');
            s.push_str(&java_double(round2(wrong)));
        }
        s.push(')');
        s
    }
}

/// Weka's `Utils.maxIndex`: the first strict maximum.
pub(crate) fn weka_max_index(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Weka's `Utils.roundDouble(x, 2)`: Java `Math.round(x * 100) / 100`.
fn round2(x: f64) -> f64 {
    (x * 100.0 + 0.5).floor() / 100.0
}

/// Java's `Double.toString` for the values printed here: plain decimal with at least one
/// fraction digit between 1e-3 and 1e7, else `d.dddE±n`.
pub(crate) fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let a = x.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') { s } else { s + ".0" }
    } else {
        // Rust's `{:e}` is the shortest round-trip digits too: `1.5e7` → `1.5E7`.
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

/// Weka's `Utils.doubleToString(x, digits)`: round half away from zero to `digits` decimals,
/// drop trailing zeros (and the point).
pub(crate) fn weka_fixed(x: f64, digits: u32) -> String {
    let temp = x * 10f64.powi(digits as i32);
    if temp.abs() >= i64::MAX as f64 {
        return java_double(x);
    }
    // Java's `(long)(t + 0.5)` truncates toward zero.
    let p: i64 = if temp > 0.0 {
        (temp + 0.5) as i64
    } else {
        -((temp.abs() + 0.5) as i64)
    };
    let scale = 10u64.pow(digits);
    let mag = p.unsigned_abs();
    let (int, frac) = (mag / scale, mag % scale);
    let mut s = String::new();
    if p < 0 {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if frac != 0 {
        let f = format!("{frac:0width$}", width = digits as usize);
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_the_java_way() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(1.33), "1.33");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(weka_fixed(75.0, 6), "75");
        assert_eq!(weka_fixed(0.6, 6), "0.6");
        assert_eq!(weka_fixed(-0.25, 6), "-0.25");
        assert_eq!(weka_fixed(1.0 / 3.0, 6), "0.333333");
        assert_eq!(weka_fixed(-1e-9, 6), "0");
        assert_eq!(round2(4.666666), 4.67);
    }
}
