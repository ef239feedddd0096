//! "Did you mean …?" for a value that names nothing known (a format, an analysis, a job, an
//! action): the closest known name by edit distance, if it is close enough to be a typo.

/// The known name closest to `value`, if it is a plausible typo of it (case is ignored).
pub fn closest<'a>(value: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let v = value.to_lowercase();
    // A third of the length, at least one edit: `tabao`→taobao, `funel`→funnel, `byu`→buy.
    let allowed = (v.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (distance(&v, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// ` (did you mean x?)` or nothing: ready to append to an error message.
pub fn hint<'a>(value: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(value, known)
        .map(|k| format!(" (did you mean {k}?)"))
        .unwrap_or_default()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each count one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        let formats = [
            "taobao",
            "access-log",
            "ad-click",
            "ndjson",
            "csv",
            "parquet",
        ];
        assert_eq!(closest("tabao", formats), Some("taobao"));
        assert_eq!(closest("TAOBOA", formats), Some("taobao"));
        assert_eq!(closest("parqet", formats), Some("parquet"));
        assert_eq!(closest("xml", formats), None);
        assert_eq!(closest("byu", ["pv", "buy", "cart", "fav"]), Some("buy"));
        assert_eq!(closest("funel", ["kpis", "funnel", "rfm"]), Some("funnel"));
        assert_eq!(hint("zzz", ["kpis"]), "");
        assert_eq!(hint("kpi", ["kpis"]), " (did you mean kpis?)");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("abc", "acb"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
