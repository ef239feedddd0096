//! Keys of rejected rows in the same index as event ids, so that a retried batch quarantines
//! each of its bad rows once. What counts as the same bad row, within the dedup horizon:
//! - a row whose top-level `event_id` is a string or a number: the same shop and the same id
//!   (whatever else differs: a retry may carry the row re-encoded);
//! - any other row (no id, or not even JSON): the same shop and byte-for-byte the same text.
//!
//! The keys hash under a domain no event key can have (an event key starts with a shop name,
//! which never holds a control byte), so a corrected event that reuses the id of a quarantined
//! row is still accepted. The ingest server reserves a key before its WAL append; folding
//! persists the keys of the rejects it commits ([`reject_ids`]), so they survive restarts.

use super::{Day, day_of_ms};
use collect::QuarantineRecord;
use serde::Deserialize;
use serde_json::Value;

/// Top-level `shop` and `event_id` of a raw JSON row, as far as it can be read.
#[derive(Debug, Default, PartialEq)]
pub struct Named {
    /// `shop`, when a string.
    pub shop: Option<String>,
    /// `event_id`, when a string or a number (as its digits), as event parsing reads it.
    pub event_id: Option<String>,
}

/// Reads `shop` and `event_id` of a row that may have failed validation; anything that is not
/// a JSON object (or repeats a key) names nothing.
pub fn named(raw: &str) -> Named {
    #[derive(Deserialize)]
    struct Envelope {
        shop: Option<Value>,
        event_id: Option<Value>,
    }
    let Ok(e) = serde_json::from_str::<Envelope>(raw) else {
        return Named::default();
    };
    Named {
        shop: match e.shop {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        event_id: match e.event_id {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
    }
}

/// The key of a rejected row quarantined under `shop` (see the module documentation).
pub fn reject_key(shop: &str, raw: &str) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    match named(raw).event_id {
        Some(id) => {
            h.update(b"\x01quarantine-id\0");
            h.update(shop.as_bytes());
            h.update(&[0]);
            h.update(id.as_bytes());
        }
        None => {
            h.update(b"\x02quarantine-row\0");
            h.update(shop.as_bytes());
            h.update(&[0]);
            h.update(raw.as_bytes());
        }
    }
    h.digest128()
}

/// The (key, day quarantined) of each rejected row, to persist with the fold that stores them.
pub fn reject_ids(rejects: &[QuarantineRecord]) -> Vec<(u128, Day)> {
    rejects
        .iter()
        .map(|q| (reject_key(&q.shop, &q.raw), day_of_ms(q.at_ms)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::id_key;

    #[test]
    fn the_same_bad_row_has_one_key() {
        let a = r#"{"event_id":"e1","shop":"b","ts":"soon"}"#;
        let a2 = r#"{ "ts": "later", "event_id": "e1" }"#;
        assert_eq!(reject_key("b", a), reject_key("b", a2), "same id, same key");
        assert_ne!(reject_key("b", a), reject_key("c", a), "shops are separate");
        assert_eq!(
            reject_key("s", r#"{"event_id":7}"#),
            reject_key("s", r#"{"event_id":"7"}"#)
        );
        let bad = r#"{"type":"behavior","ts":17"#;
        assert_eq!(reject_key("s", bad), reject_key("s", bad));
        assert_ne!(reject_key("s", bad), reject_key("s", &format!("{bad} ")));
        assert_ne!(reject_key("s", a), id_key("s", "e1"), "not an event key");
        assert_eq!(named("[1]"), Named::default());
        assert_eq!(named(r#"{"shop":5,"event_id":{"x":1}}"#), Named::default());
        let deep = format!("{{\"shop\":\"b\",\"p\":{}", "[".repeat(100_000));
        assert_eq!(named(&deep), Named::default(), "deep nesting is refused");
    }
}
