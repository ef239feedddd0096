//! Arrow schemas of the lake tables. One place defines them so the writer, the reader, the
//! query engine and DuckDB all see the same columns.
//!
//! Every event table starts with `ts` and ends with the envelope columns `event_id`,
//! `received_at`, `props` (JSON text). `shop` and `dt` are not stored in the files: they are the
//! Hive partition directories (`shop=<shop>/dt=<YYYY-MM-DD>`).

use crate::event::EventType;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

/// Event time and receive time type: `TIMESTAMP(MILLIS, UTC)`.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// Low-cardinality strings (actions, statuses, channels): dictionary encoded.
pub fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

fn with_envelope(mut fields: Vec<Field>) -> Schema {
    fields.insert(0, f("ts", ts_type(), false));
    fields.push(f("event_id", DataType::Utf8, true));
    fields.push(f("received_at", ts_type(), true));
    fields.push(f("props", DataType::Utf8, true));
    Schema::new(fields)
}

fn build(t: EventType) -> Schema {
    use DataType::{Float64, Int32, Int64, Utf8};
    with_envelope(match t {
        EventType::Behavior => vec![
            f("user_id", Int64, false),
            f("item_id", Int64, false),
            f("category_id", Int64, true),
            f("action", dict_type(), false),
            f("session_id", Utf8, true),
            f("price", Float64, true),
            f("qty", Int64, true),
            f("channel", dict_type(), true),
        ],
        EventType::Order => vec![
            f("order_id", Utf8, false),
            f("user_id", Int64, true),
            f("status", dict_type(), false),
            f("amount", Float64, true),
            f("tx_id", Utf8, true),
            f("item_id", Int64, true),
            f("qty", Int64, true),
            f("price", Float64, true),
            f("country", dict_type(), true),
        ],
        EventType::Payment => vec![
            f("tx_id", Utf8, false),
            f("channel", dict_type(), true),
            f("amount", Float64, true),
        ],
        EventType::Login => vec![
            f("user_id", Int64, false),
            f("ip", Utf8, true),
            f("result", dict_type(), false),
        ],
        EventType::AdClick => vec![
            f("user_id", Int64, false),
            f("ad_id", Utf8, false),
            f("province", dict_type(), true),
            f("city", dict_type(), true),
        ],
        EventType::PageView => vec![
            f("ip", Utf8, true),
            f("user_id", Int64, true),
            f("method", dict_type(), true),
            f("url", Utf8, false),
            f("status", Int32, true),
            f("user_agent", Utf8, true),
        ],
    })
}

/// The schema of an event table.
pub fn event_schema(t: EventType) -> SchemaRef {
    static CACHE: OnceLock<Vec<SchemaRef>> = OnceLock::new();
    let all = CACHE.get_or_init(|| EventType::ALL.iter().map(|t| Arc::new(build(*t))).collect());
    all[EventType::ALL.iter().position(|x| *x == t).unwrap_or(0)].clone()
}

/// The item dimension: `item_key` holds the original text of a surrogate id.
pub fn item_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("shop", DataType::Utf8, false),
        f("item_id", DataType::Int64, false),
        f("item_key", DataType::Utf8, true),
        f("category_id", DataType::Int64, true),
        f("title", DataType::Utf8, true),
        f("price", DataType::Float64, true),
        f("attributes", DataType::Utf8, true),
        f("updated_at", ts_type(), false),
    ]))
}

/// The user dimension.
pub fn user_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("shop", DataType::Utf8, false),
        f("user_id", DataType::Int64, false),
        f("user_key", DataType::Utf8, true),
        f("attributes", DataType::Utf8, true),
        f("updated_at", ts_type(), false),
    ]))
}

/// The results table of the real-time jobs, in long form (one row per key and metric), under
/// `lake/results/shop=<shop>/dt=<YYYY-MM-DD>/` and listed in the manifest like every table.
pub fn results_schema() -> SchemaRef {
    use DataType::{Float64, Int32, Utf8};
    Arc::new(Schema::new(vec![
        f("job", Utf8, false),
        f("kind", Utf8, false),
        f("shop", Utf8, false),
        f("window_start", ts_type(), false),
        f("window_end", ts_type(), false),
        f("revision", Int32, false),
        f("emitted_at", ts_type(), false),
        f("rank", Int32, true),
        f("key_name", Utf8, false),
        f("key", Utf8, false),
        f("metric", Utf8, false),
        f("value", Float64, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_ts_first_and_the_envelope_last() {
        for t in EventType::ALL {
            let s = event_schema(t);
            assert_eq!(s.field(0).name(), "ts");
            let n = s.fields().len();
            let tail: Vec<_> = s.fields()[n - 3..]
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            assert_eq!(tail, ["event_id", "received_at", "props"]);
        }
    }
}
