//! Baskets for association rules: a basket file (one transaction per line, items separated by
//! commas, as Groceries) or a table of (transaction, item) rows — SQL over the lake's orders
//! or sessions, a CSV or Parquet file.

use crate::MineError;
use crate::input::RawTable;
use mining::Baskets;
use std::collections::HashMap;
use std::path::Path;

/// A basket file; refuses one without a single item.
pub fn from_basket_file(path: &Path, max_rows: usize) -> Result<Baskets, MineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| MineError::Usage(format!("{}: {e}", path.display())))?;
    let b = Baskets::parse(&text, ',', false);
    if b.len() > max_rows {
        return Err(MineError::Usage(format!(
            "{}: more than {max_rows} baskets; raise --max-rows",
            path.display()
        )));
    }
    if b.items.is_empty() {
        return Err(MineError::Usage(format!(
            "{}: no items (one basket per line, items separated by commas)",
            path.display()
        )));
    }
    Ok(b)
}

/// Baskets from a table's transaction and item columns (by default its first two columns).
/// Rows with a missing transaction or item are skipped; baskets keep the order transactions
/// first appear in.
pub fn from_table(
    t: &RawTable,
    tx: Option<&str>,
    item: Option<&str>,
) -> Result<Baskets, MineError> {
    let (tc, ic) = match (tx, item) {
        (Some(a), Some(b)) => (t.index_of(a)?, t.index_of(b)?),
        (None, None) if t.names.len() >= 2 => (0, 1),
        (None, None) => {
            return Err(MineError::Usage(format!(
                "{}: baskets need a transaction and an item column (--tx and --item)",
                t.source
            )));
        }
        _ => {
            return Err(MineError::Usage(
                "give both --tx and --item, or neither (the first two columns)".into(),
            ));
        }
    };
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut txs: Vec<Vec<String>> = Vec::new();
    for i in 0..t.rows() {
        let (Some(k), Some(it)) = (t.columns[tc].text(i), t.columns[ic].text(i)) else {
            continue;
        };
        let n = order.len();
        let slot = *order.entry(k).or_insert(n);
        if slot == txs.len() {
            txs.push(Vec::new());
        }
        txs[slot].push(it);
    }
    if txs.is_empty() {
        return Err(MineError::Usage(format!(
            "{}: no (transaction, item) row without a missing value",
            t.source
        )));
    }
    Ok(Baskets::from_names(txs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::RawValues;

    #[test]
    fn rows_group_into_baskets_in_first_seen_order() {
        let t = RawTable {
            names: vec!["order".into(), "item".into()],
            columns: vec![
                RawValues::Num(vec![Some(7.0), Some(3.0), Some(7.0), None]),
                RawValues::Text(vec![
                    Some("milk".into()),
                    Some("eggs".into()),
                    Some("bread".into()),
                    Some("x".into()),
                ]),
            ],
            source: "SQL".into(),
        };
        let b = from_table(&t, None, None).unwrap();
        assert_eq!(b.items, ["milk", "bread", "eggs"]);
        assert_eq!(b.transactions, vec![vec![0, 1], vec![2]]);
        let e = from_table(&t, Some("order"), None).unwrap_err().to_string();
        assert!(e.contains("both --tx and --item"), "{e}");
    }
}
