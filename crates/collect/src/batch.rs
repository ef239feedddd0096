//! [`EventBatch`]: parsed events grouped by (table, shop), held as columns.

use crate::columns::Columns;
use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use model::schema::event_schema;
use model::{DEFAULT_SHOP, Event, EventBody, EventType, Id};

/// Dictionary keys of the four built-in actions in a behaviour batch (pre-interned in this order).
pub const ACTION_KEYS: [&str; 4] = ["pv", "cart", "fav", "buy"];

/// Parsed events, columnar, grouped by table and shop. Shops are kept apart because they are
/// separate partitions in the lake.
#[derive(Default)]
pub struct EventBatch {
    tables: Vec<((EventType, String), Columns)>,
    rows: usize,
    /// Slot of the last fast-path row's table: the shop rarely changes within a chunk.
    fast_slot: Option<usize>,
    /// Original text of string-keyed ids: (shop, `user` | `item`, key), for the catalog.
    pub keys: Vec<(String, &'static str, String)>,
}

/// A finished table slice of a batch.
#[derive(Debug, Clone)]
pub struct TableBatch {
    /// The table.
    pub table: EventType,
    /// The shop partition.
    pub shop: String,
    /// The rows.
    pub batch: RecordBatch,
}

fn new_columns(t: EventType) -> Columns {
    let mut c = Columns::new(event_schema(t));
    if t == EventType::Behavior {
        for a in ACTION_KEYS {
            c.cols[4].intern(a);
        }
    }
    c
}

impl EventBatch {
    /// An empty batch.
    pub fn new() -> EventBatch {
        EventBatch::default()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn slot(&mut self, t: EventType, shop: &str) -> usize {
        // A batch holds few tables: a linear scan avoids allocating a key per row.
        match self
            .tables
            .iter()
            .position(|((tt, s), _)| *tt == t && s == shop)
        {
            Some(p) => p,
            None => {
                self.tables.push(((t, shop.to_string()), new_columns(t)));
                self.tables.len() - 1
            }
        }
    }

    /// Fast path for numeric behaviour rows (Taobao-shaped input): `action_key` indexes
    /// [`ACTION_KEYS`]; no envelope fields.
    #[inline]
    pub fn push_behavior_fast(
        &mut self,
        shop: &str,
        ts: i64,
        user: i64,
        item: i64,
        category: i64,
        action_key: i32,
    ) {
        let slot = match self.fast_slot {
            Some(sl) if self.tables[sl].0.1 == shop => sl,
            _ => {
                let sl = self.slot(EventType::Behavior, shop);
                self.fast_slot = Some(sl);
                sl
            }
        };
        let c = &mut self.tables[slot].1;
        let cols = &mut c.cols;
        cols[0].i64(Some(ts));
        cols[1].i64(Some(user));
        cols[2].i64(Some(item));
        cols[3].i64(Some(category));
        cols[4].dict_key(action_key);
        for col in &mut cols[5..12] {
            col.null();
        }
        c.rows += 1;
        self.rows += 1;
    }

    /// Reserves room for about `rows` fast-path behaviour rows of `shop`, so the columns grow
    /// once instead of doubling their way up.
    pub fn reserve_behavior(&mut self, shop: &str, rows: usize) {
        let slot = self.slot(EventType::Behavior, shop);
        for c in &mut self.tables[slot].1.cols {
            c.reserve(rows);
        }
    }

    /// Appends one (already validated) event; returns its (table slot, row) position.
    pub fn push(&mut self, e: &Event) -> (usize, usize) {
        let shop = e.shop.as_deref().unwrap_or(DEFAULT_SHOP);
        self.note_keys(e);
        let slot = self.slot(e.event_type(), shop);
        let row = self.tables[slot].1.rows;
        let c = &mut self.tables[slot].1;
        let cols = &mut c.cols;
        let id = |i: &Id| Some(i.as_i64());
        cols[0].i64(Some(e.ts));
        let mut i = 1;
        let mut next = || {
            i += 1;
            i - 1
        };
        match &e.body {
            EventBody::Behavior(b) => {
                cols[next()].i64(id(&b.user_id));
                cols[next()].i64(id(&b.item_id));
                cols[next()].i64(b.category_id.as_ref().map(Id::as_i64));
                cols[next()].str(Some(&b.action));
                cols[next()].str(b.session_id.as_deref());
                cols[next()].f64(b.price);
                cols[next()].i64(b.qty);
                cols[next()].str(b.channel.as_deref());
            }
            EventBody::Order(o) => {
                cols[next()].str(Some(&o.order_id));
                cols[next()].i64(o.user_id.as_ref().map(Id::as_i64));
                cols[next()].str(Some(&o.status));
                cols[next()].f64(o.amount);
                cols[next()].str(o.tx_id.as_deref());
                cols[next()].i64(o.item_id.as_ref().map(Id::as_i64));
                cols[next()].i64(o.qty);
                cols[next()].f64(o.price);
                cols[next()].str(o.country.as_deref());
            }
            EventBody::Payment(p) => {
                cols[next()].str(Some(&p.tx_id));
                cols[next()].str(p.channel.as_deref());
                cols[next()].f64(p.amount);
            }
            EventBody::Login(l) => {
                cols[next()].i64(id(&l.user_id));
                cols[next()].str(l.ip.as_deref());
                cols[next()].str(Some(&l.result));
            }
            EventBody::AdClick(a) => {
                cols[next()].i64(id(&a.user_id));
                cols[next()].str(Some(&a.ad_id));
                cols[next()].str(a.province.as_deref());
                cols[next()].str(a.city.as_deref());
            }
            EventBody::PageView(p) => {
                cols[next()].str(p.ip.as_deref());
                cols[next()].i64(p.user_id.as_ref().map(Id::as_i64));
                cols[next()].str(p.method.as_deref());
                cols[next()].str(Some(&p.url));
                cols[next()].i32(p.status);
                cols[next()].str(p.user_agent.as_deref());
            }
        }
        let k = next();
        cols[k].str(e.event_id.as_deref());
        cols[k + 1].i64(e.received_at);
        let props = e
            .props
            .as_ref()
            .map(|p| serde_json::Value::Object(p.clone()).to_string());
        cols[k + 2].str(props.as_deref());
        c.rows += 1;
        self.rows += 1;
        (slot, row)
    }

    fn note_keys(&mut self, e: &Event) {
        let (user, item) = match &e.body {
            EventBody::Behavior(b) => (Some(&b.user_id), Some(&b.item_id)),
            EventBody::Order(o) => (o.user_id.as_ref(), o.item_id.as_ref()),
            EventBody::Login(l) => (Some(&l.user_id), None),
            EventBody::AdClick(a) => (Some(&a.user_id), None),
            EventBody::PageView(p) => (p.user_id.as_ref(), None),
            EventBody::Payment(_) => (None, None),
        };
        if let Some(Id::Key(k)) = user {
            self.keys
                .push((e.shop().to_string(), "user", k.to_string()));
        }
        if let Some(Id::Key(k)) = item {
            self.keys
                .push((e.shop().to_string(), "item", k.to_string()));
        }
    }

    /// The (table, shop) of a slot returned by [`EventBatch::push`].
    pub fn slot_key(&self, slot: usize) -> (EventType, &str) {
        let ((t, s), _) = &self.tables[slot];
        (*t, s)
    }

    /// Finishes into one Arrow batch per (table, shop), in slot order.
    pub fn finish(self) -> Result<Vec<TableBatch>, ArrowError> {
        self.tables
            .into_iter()
            .map(|((table, shop), cols)| {
                Ok(TableBatch {
                    table,
                    shop,
                    batch: cols.finish()?,
                })
            })
            .collect()
    }
}
