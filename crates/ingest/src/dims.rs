//! Item and user rows: each read by `model`'s records (the rules and reason codes of events), a
//! row's `shop` honoured as an event's is (a bound origin must own it, or the whole batch is
//! refused), and the good rows applied to the catalog and made durable together.

use crate::{IngestError, Ingestor, Origin, RowError, UpsertReply, rows::Row};
use model::{Id, ItemRecord, Reject, UserRecord};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use store::{Catalog, ItemRow, UserRow};

impl Ingestor {
    /// Upserts catalog rows; rows naming no shop go to `default_shop`.
    pub fn upsert_items(
        &self,
        origin: &Origin,
        default_shop: &str,
        rows: &[Row<'_>],
    ) -> Result<UpsertReply, IngestError> {
        let now = model::time::now_ms();
        self.upsert(
            origin,
            default_shop,
            rows,
            |raw| {
                let r = ItemRecord::from_json_slice(raw)?;
                let row = ItemRow {
                    key: key_of(&r.item_id),
                    category_id: r.category_id.as_ref().map(Id::as_i64),
                    title: r.title,
                    price: r.price,
                    attributes: text(r.attributes),
                    updated_at: now,
                };
                Ok((r.shop, r.item_id.as_i64(), row))
            },
            Catalog::put_items,
        )
    }

    /// Upserts user profile rows; rows naming no shop go to `default_shop`.
    pub fn upsert_users(
        &self,
        origin: &Origin,
        default_shop: &str,
        rows: &[Row<'_>],
    ) -> Result<UpsertReply, IngestError> {
        let now = model::time::now_ms();
        self.upsert(
            origin,
            default_shop,
            rows,
            |raw| {
                let r = UserRecord::from_json_slice(raw)?;
                let row = UserRow {
                    key: key_of(&r.user_id),
                    attributes: text(r.attributes),
                    updated_at: now,
                };
                Ok((r.shop, r.user_id.as_i64(), row))
            },
            Catalog::put_users,
        )
    }

    fn upsert<R>(
        &self,
        origin: &Origin,
        default_shop: &str,
        rows: &[Row<'_>],
        parse: impl Fn(&[u8]) -> Result<(Option<String>, i64, R), Reject>,
        apply: impl Fn(&mut Catalog, &str, Vec<(i64, R)>),
    ) -> Result<UpsertReply, IngestError> {
        let mut ok: BTreeMap<String, Vec<(i64, R)>> = BTreeMap::new();
        let (mut errors, mut forbidden) = (Vec::new(), Vec::new());
        for &(i, raw) in rows {
            match parse(raw) {
                Ok((shop, id, row)) => {
                    let shop = shop.unwrap_or_else(|| default_shop.to_string());
                    if origin.may_use_shop(&shop) {
                        ok.entry(shop).or_default().push((id, row));
                    } else {
                        forbidden.push(i);
                    }
                }
                Err(r) => errors.push(RowError::of(i, r)),
            }
        }
        if !forbidden.is_empty() {
            return Err(IngestError::ForeignShop {
                own: origin.default_shop().to_string(),
                indices: forbidden,
            });
        }
        let upserted = ok.values().map(Vec::len).sum();
        if upserted > 0 {
            let mut st = self.store();
            for (shop, rows) in ok {
                apply(st.catalog_mut(), &shop, rows);
            }
            st.catalog_mut()
                .flush()
                .map_err(|e| IngestError::Storage(e.to_string()))?;
        }
        Ok(UpsertReply {
            upserted,
            rejected: errors.len(),
            errors,
        })
    }
}

fn key_of(id: &Id) -> Option<String> {
    matches!(id, Id::Key(_)).then(|| id.to_string())
}

fn text(attrs: Option<Map<String, Value>>) -> Option<String> {
    attrs.map(|a| Value::Object(a).to_string())
}
