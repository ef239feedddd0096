//! Lake rows back to [`model::Event`]s: the inverse of the writer, used by replays and tests.

use crate::catalog::Catalog;
use crate::store::StoreError;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use model::{AdClick, Behavior, Event, EventBody, EventType, Id, Login, Order, PageView, Payment};

/// Column access by name with nulls as `None`.
struct Row<'a> {
    b: &'a RecordBatch,
    i: usize,
}

impl Row<'_> {
    fn col(&self, name: &str) -> Option<&ArrayRef> {
        self.b.column_by_name(name).filter(|c| !c.is_null(self.i))
    }
    fn i64(&self, name: &str) -> Option<i64> {
        let c = self.col(name)?;
        match c.data_type() {
            arrow_schema::DataType::Timestamp(..) => {
                Some(c.as_primitive::<TimestampMillisecondType>().value(self.i))
            }
            _ => Some(c.as_primitive::<Int64Type>().value(self.i)),
        }
    }
    fn f64(&self, name: &str) -> Option<f64> {
        Some(self.col(name)?.as_primitive::<Float64Type>().value(self.i))
    }
    fn i32(&self, name: &str) -> Option<i32> {
        Some(
            self.col(name)?
                .as_primitive::<arrow_array::types::Int32Type>()
                .value(self.i),
        )
    }
    fn str(&self, name: &str) -> Option<String> {
        let c = self.col(name)?;
        match c.as_dictionary_opt::<Int32Type>() {
            Some(d) => {
                let k = d.keys().value(self.i) as usize;
                Some(d.values().as_string::<i32>().value(k).to_string())
            }
            None => Some(c.as_string::<i32>().value(self.i).to_string()),
        }
    }
}

/// Converts lake rows of `table` in `shop` back to events. With a catalog, surrogate ids are
/// turned back into the string keys they stand for.
pub fn to_events(
    batch: &RecordBatch,
    table: EventType,
    shop: &str,
    catalog: Option<&Catalog>,
) -> Result<Vec<Event>, StoreError> {
    let id = |kind: &str, v: i64| -> Id {
        if Id::is_surrogate(v) {
            let key = catalog.and_then(|c| match kind {
                "item" => c
                    .items
                    .get(&(shop.to_string(), v))
                    .and_then(|r| r.key.clone()),
                _ => c
                    .users
                    .get(&(shop.to_string(), v))
                    .and_then(|r| r.key.clone()),
            });
            if let Some(k) = key {
                return Id::Key(k.into());
            }
        }
        Id::Num(v)
    };
    let missing = |c: &str| StoreError::Encode(format!("{table} row without required column {c}"));
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let r = Row { b: batch, i };
        let body = match table {
            EventType::Behavior => EventBody::Behavior(Behavior {
                user_id: id("user", r.i64("user_id").ok_or_else(|| missing("user_id"))?),
                item_id: id("item", r.i64("item_id").ok_or_else(|| missing("item_id"))?),
                category_id: r.i64("category_id").map(Id::Num),
                action: r.str("action").ok_or_else(|| missing("action"))?,
                session_id: r.str("session_id"),
                price: r.f64("price"),
                qty: r.i64("qty"),
                channel: r.str("channel"),
            }),
            EventType::Order => EventBody::Order(Order {
                order_id: r.str("order_id").ok_or_else(|| missing("order_id"))?,
                user_id: r.i64("user_id").map(|v| id("user", v)),
                status: r.str("status").ok_or_else(|| missing("status"))?,
                amount: r.f64("amount"),
                tx_id: r.str("tx_id"),
                item_id: r.i64("item_id").map(|v| id("item", v)),
                qty: r.i64("qty"),
                price: r.f64("price"),
                country: r.str("country"),
            }),
            EventType::Payment => EventBody::Payment(Payment {
                tx_id: r.str("tx_id").ok_or_else(|| missing("tx_id"))?,
                channel: r.str("channel"),
                amount: r.f64("amount"),
            }),
            EventType::Login => EventBody::Login(Login {
                user_id: id("user", r.i64("user_id").ok_or_else(|| missing("user_id"))?),
                ip: r.str("ip"),
                result: r.str("result").ok_or_else(|| missing("result"))?,
            }),
            EventType::AdClick => EventBody::AdClick(AdClick {
                user_id: id("user", r.i64("user_id").ok_or_else(|| missing("user_id"))?),
                ad_id: r.str("ad_id").ok_or_else(|| missing("ad_id"))?,
                province: r.str("province"),
                city: r.str("city"),
            }),
            EventType::PageView => EventBody::PageView(PageView {
                ip: r.str("ip"),
                user_id: r.i64("user_id").map(|v| id("user", v)),
                method: r.str("method"),
                url: r.str("url").ok_or_else(|| missing("url"))?,
                status: r.i32("status"),
                user_agent: r.str("user_agent"),
            }),
        };
        let props = match r.str("props") {
            Some(p) => match serde_json::from_str(&p) {
                Ok(serde_json::Value::Object(m)) => Some(m),
                _ => {
                    return Err(StoreError::Encode(format!(
                        "{table} row with invalid props {p:?}"
                    )));
                }
            },
            None => None,
        };
        out.push(Event {
            event_id: r.str("event_id"),
            shop: (shop != model::DEFAULT_SHOP).then(|| shop.to_string()),
            ts: r.i64("ts").ok_or_else(|| missing("ts"))?,
            received_at: r.i64("received_at"),
            body,
            props,
        });
    }
    Ok(out)
}
