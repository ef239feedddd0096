//! Dimension rows — items (the catalog) and users (profiles) — read from JSON with the rules and
//! rejections of events: the same id, number and string readers, the same reason codes, a key
//! named twice refused, and unknown fields kept (in `attributes`, as an event keeps them in
//! `props`).

use crate::event::check_shop;
use crate::fields::{FieldSource, Fields, read_object};
use crate::id::Id;
use crate::reject::{Reason, Reject};
use serde_json::{Map, Value};

/// An item row as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    /// The shop it names (`None`: the request's).
    pub shop: Option<String>,
    /// Item id.
    pub item_id: Id,
    /// Category id.
    pub category_id: Option<Id>,
    /// Title.
    pub title: Option<String>,
    /// Price, finite and ≥ 0.
    pub price: Option<f64>,
    /// `attributes` merged with every unknown field (`attributes` wins on a clash).
    pub attributes: Option<Map<String, Value>>,
}

/// A user row as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// The shop it names (`None`: the request's).
    pub shop: Option<String>,
    /// User id.
    pub user_id: Id,
    /// `attributes` merged with every unknown field.
    pub attributes: Option<Map<String, Value>>,
}

impl ItemRecord {
    /// Reads one JSON object (an item row).
    pub fn from_json_slice(bytes: &[u8]) -> Result<ItemRecord, Reject> {
        let mut m = object(bytes)?;
        let mut f = Fields(&mut m);
        let shop = shop(&mut f)?;
        let item_id = f.req_id("item_id")?;
        let category_id = f.opt_id("category_id")?;
        let title = f.opt_str("title")?;
        let price = f.opt_f64("price")?;
        if let Some(p) = price
            && !(p.is_finite() && p >= 0.0)
        {
            return Err(Reject::field(
                Reason::BadValue,
                "price",
                &p.to_string(),
                "must be a finite number ≥ 0",
            ));
        }
        Ok(ItemRecord {
            shop,
            item_id,
            category_id,
            title,
            price,
            attributes: attributes(m)?,
        })
    }
}

impl UserRecord {
    /// Reads one JSON object (a user row).
    pub fn from_json_slice(bytes: &[u8]) -> Result<UserRecord, Reject> {
        let mut m = object(bytes)?;
        let mut f = Fields(&mut m);
        let shop = shop(&mut f)?;
        let user_id = f.req_id("user_id")?;
        Ok(UserRecord {
            shop,
            user_id,
            attributes: attributes(m)?,
        })
    }
}

fn object(bytes: &[u8]) -> Result<crate::fields::SmallFields, Reject> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    read_object(bytes)?
        .ok_or_else(|| Reject::row(Reason::Malformed, "each row must be a JSON object"))
}

fn shop<S: FieldSource>(f: &mut Fields<'_, S>) -> Result<Option<String>, Reject> {
    let shop = f.opt_str("shop")?;
    if let Some(s) = &shop {
        check_shop(s)?;
    }
    Ok(shop)
}

/// `attributes` (an object) with the row's unknown fields under it.
fn attributes(mut m: crate::fields::SmallFields) -> Result<Option<Map<String, Value>>, Reject> {
    let given = match m.remove_field("attributes") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(a),
        Some(other) => {
            return Err(Reject::field(
                Reason::BadValue,
                "attributes",
                &other.to_string(),
                "must be an object",
            ));
        }
    };
    let rest = m.into_rest();
    if rest.is_empty() {
        return Ok(given);
    }
    let mut out = rest;
    out.extend(given.unwrap_or_default());
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn why(r: Result<impl std::fmt::Debug, Reject>) -> (Reason, Option<String>) {
        let e = r.unwrap_err();
        (e.reason, e.field)
    }

    #[test]
    fn an_item_reads_like_an_event_and_keeps_unknown_fields() {
        let it = ItemRecord::from_json_slice(
            br#"{"item_id":"SKU-9","category_id":7,"title":"Mug","price":"4.50","brand":"x","attributes":{"color":"red","brand":"y"}}"#,
        )
        .unwrap();
        assert_eq!(it.item_id, Id::Key("SKU-9".into()));
        assert_eq!(it.category_id, Some(Id::Num(7)));
        assert_eq!(it.price, Some(4.5));
        let attrs = Value::Object(it.attributes.unwrap());
        assert_eq!(attrs, json!({"color":"red","brand":"y"}));
        let it = ItemRecord::from_json_slice(br#"{"item_id":1,"weight":3}"#).unwrap();
        assert_eq!(Value::Object(it.attributes.unwrap()), json!({"weight":3}));
    }

    #[test]
    fn bad_item_rows_get_the_reasons_of_events() {
        let cases: [(&[u8], Reason, Option<&str>); 8] = [
            (br#"{"title":"x"}"#, Reason::MissingField, Some("item_id")),
            (br#"{"item_id":-1}"#, Reason::BadNumber, Some("item_id")),
            (
                br#"{"item_id":1,"price":"cheap"}"#,
                Reason::BadNumber,
                Some("price"),
            ),
            (
                br#"{"item_id":1,"price":-2}"#,
                Reason::BadValue,
                Some("price"),
            ),
            (
                br#"{"item_id":1,"title":[1]}"#,
                Reason::BadValue,
                Some("title"),
            ),
            (
                br#"{"item_id":1,"item_id":2}"#,
                Reason::DuplicateField,
                Some("item_id"),
            ),
            (
                br#"{"item_id":1,"shop":"a b"}"#,
                Reason::BadValue,
                Some("shop"),
            ),
            (
                br#"{"item_id":1,"attributes":3}"#,
                Reason::BadValue,
                Some("attributes"),
            ),
        ];
        for (row, reason, field) in cases {
            let got = why(ItemRecord::from_json_slice(row));
            assert_eq!(
                got,
                (reason, field.map(str::to_string)),
                "{}",
                String::from_utf8_lossy(row)
            );
        }
        assert_eq!(
            why(ItemRecord::from_json_slice(b"[1]")).0,
            Reason::Malformed
        );
        assert_eq!(
            why(ItemRecord::from_json_slice(b"{\"item_id\":")).0,
            Reason::Malformed
        );
    }

    #[test]
    fn a_user_row_names_its_shop_and_id() {
        let u =
            UserRecord::from_json_slice("\u{feff}{\"user_id\":\"u-1\",\"shop\":\"tb\"}".as_bytes())
                .unwrap();
        assert_eq!(
            (u.shop.as_deref(), u.user_id),
            (Some("tb"), Id::Key("u-1".into()))
        );
        assert_eq!(u.attributes, None);
        assert_eq!(
            why(UserRecord::from_json_slice(br#"{"user_id":""}"#)),
            (Reason::MissingField, Some("user_id".into()))
        );
    }
}
