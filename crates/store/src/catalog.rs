//! The item and user catalog: dimension rows (title, category, price, attributes) and the
//! original text of string ids (whose lake value is a surrogate, see `model::Id`).
//! Stored as two small Parquet files, `catalog/item.parquet` and `catalog/user.parquet`, each
//! rewritten atomically when it changes. Rows are upserts, so re-applying a batch after a crash
//! is harmless.

use crate::fsutil::sync_dir;
use crate::segment::{write_parquet, writer_properties};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use collect::ItemRecord;
use model::Id;
use model::schema::{item_schema, user_schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemRow {
    /// Original text when the id is a surrogate.
    pub key: Option<String>,
    /// Category.
    pub category_id: Option<i64>,
    /// Title.
    pub title: Option<String>,
    /// Latest price.
    pub price: Option<f64>,
    /// Free-form attributes (JSON text).
    pub attributes: Option<String>,
    /// Last update, UTC ms.
    pub updated_at: i64,
}

/// One user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRow {
    /// Original text when the id is a surrogate.
    pub key: Option<String>,
    /// Free-form attributes (JSON text).
    pub attributes: Option<String>,
    /// Last update, UTC ms.
    pub updated_at: i64,
}

/// The catalog, in memory, keyed by (shop, id).
pub struct Catalog {
    dir: PathBuf,
    /// Items.
    pub items: BTreeMap<(String, i64), ItemRow>,
    /// Users.
    pub users: BTreeMap<(String, i64), UserRow>,
    dirty: bool,
}

impl Catalog {
    /// Loads the catalog from `dir`.
    pub fn open(dir: &Path) -> io::Result<Catalog> {
        let mut c = Catalog {
            dir: dir.to_path_buf(),
            items: BTreeMap::new(),
            users: BTreeMap::new(),
            dirty: false,
        };
        for b in read_all(&dir.join("item.parquet"))? {
            let (shop, id) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_primitive::<Int64Type>(),
            );
            let (key, cat, title) = (
                b.column(2).as_string::<i32>(),
                b.column(3).as_primitive::<Int64Type>(),
                b.column(4).as_string::<i32>(),
            );
            let (price, attrs, upd) = (
                b.column(5).as_primitive::<Float64Type>(),
                b.column(6).as_string::<i32>(),
                b.column(7).as_primitive::<TimestampMillisecondType>(),
            );
            for i in 0..b.num_rows() {
                let row = ItemRow {
                    key: opt_str(key, i),
                    category_id: (!cat.is_null(i)).then(|| cat.value(i)),
                    title: opt_str(title, i),
                    price: (!price.is_null(i)).then(|| price.value(i)),
                    attributes: opt_str(attrs, i),
                    updated_at: upd.value(i),
                };
                c.items
                    .insert((shop.value(i).to_string(), id.value(i)), row);
            }
        }
        for b in read_all(&dir.join("user.parquet"))? {
            let (shop, id, key) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_primitive::<Int64Type>(),
                b.column(2).as_string::<i32>(),
            );
            let (attrs, upd) = (
                b.column(3).as_string::<i32>(),
                b.column(4).as_primitive::<TimestampMillisecondType>(),
            );
            for i in 0..b.num_rows() {
                let row = UserRow {
                    key: opt_str(key, i),
                    attributes: opt_str(attrs, i),
                    updated_at: upd.value(i),
                };
                c.users
                    .insert((shop.value(i).to_string(), id.value(i)), row);
            }
        }
        Ok(c)
    }

    /// Upserts item facts learnt from an import; newer facts win.
    pub fn upsert_items(&mut self, shop: &str, items: &[ItemRecord]) {
        for it in items {
            let e = self
                .items
                .entry((shop.to_string(), it.item_id.as_i64()))
                .or_default();
            if it.updated_at < e.updated_at {
                continue;
            }
            if let Id::Key(k) = &it.item_id {
                e.key = Some(k.to_string());
            }
            e.category_id = it.category_id.as_ref().map(Id::as_i64).or(e.category_id);
            e.title = it.title.clone().or(e.title.take());
            e.price = it.price.or(e.price);
            e.updated_at = it.updated_at;
            self.dirty = true;
        }
    }

    /// Upserts item rows given by a client (the newest `updated_at` wins); marks them dirty.
    pub fn put_items(&mut self, shop: &str, rows: Vec<(i64, ItemRow)>) {
        for (id, row) in rows {
            let e = self.items.entry((shop.to_string(), id)).or_default();
            if row.updated_at >= e.updated_at {
                let key = row.key.clone().or_else(|| e.key.take());
                *e = ItemRow { key, ..row };
            }
        }
        self.dirty = true;
    }

    /// Upserts user rows given by a client (the newest `updated_at` wins).
    pub fn put_users(&mut self, shop: &str, rows: Vec<(i64, UserRow)>) {
        for (id, row) in rows {
            let e = self.users.entry((shop.to_string(), id)).or_default();
            if row.updated_at >= e.updated_at {
                let key = row.key.clone().or_else(|| e.key.take());
                *e = UserRow { key, ..row };
            }
        }
        self.dirty = true;
    }

    /// Removes a user's row; whether there was one.
    pub fn remove_user(&mut self, shop: &str, id: i64) -> bool {
        let had = self.users.remove(&(shop.to_string(), id)).is_some();
        self.dirty |= had;
        had
    }

    /// Records the original text of string ids seen in events.
    pub fn note_keys(&mut self, shop: &str, keys: &[(&'static str, String)], now: i64) {
        for (kind, key) in keys {
            let id = Id::surrogate(key);
            let k = (shop.to_string(), id);
            match *kind {
                "item" if self.items.get(&k).is_none_or(|r| r.key.is_none()) => {
                    let e = self.items.entry(k).or_insert_with(|| ItemRow {
                        updated_at: now,
                        ..Default::default()
                    });
                    e.key = Some(key.clone());
                    self.dirty = true;
                }
                "user" if self.users.get(&k).is_none_or(|r| r.key.is_none()) => {
                    let e = self.users.entry(k).or_insert_with(|| UserRow {
                        updated_at: now,
                        ..Default::default()
                    });
                    e.key = Some(key.clone());
                    self.dirty = true;
                }
                _ => {}
            }
        }
    }

    /// Writes changed tables (temp file, fsync, rename).
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let items = &self.items;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                items.keys().map(|k| k.0.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(items.keys().map(|k| k.1))),
            Arc::new(StringArray::from_iter(
                items.values().map(|r| r.key.as_deref()),
            )),
            Arc::new(Int64Array::from_iter(items.values().map(|r| r.category_id))),
            Arc::new(StringArray::from_iter(
                items.values().map(|r| r.title.as_deref()),
            )),
            Arc::new(Float64Array::from_iter(items.values().map(|r| r.price))),
            Arc::new(StringArray::from_iter(
                items.values().map(|r| r.attributes.as_deref()),
            )),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(items.values().map(|r| r.updated_at))
                    .with_timezone("UTC"),
            ),
        ];
        self.write(
            "item.parquet",
            RecordBatch::try_new(item_schema(), cols).map_err(io::Error::other)?,
        )?;
        let users = &self.users;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                users.keys().map(|k| k.0.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(users.keys().map(|k| k.1))),
            Arc::new(StringArray::from_iter(
                users.values().map(|r| r.key.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                users.values().map(|r| r.attributes.as_deref()),
            )),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(users.values().map(|r| r.updated_at))
                    .with_timezone("UTC"),
            ),
        ];
        self.write(
            "user.parquet",
            RecordBatch::try_new(user_schema(), cols).map_err(io::Error::other)?,
        )?;
        self.dirty = false;
        Ok(())
    }

    fn write(&self, name: &str, batch: RecordBatch) -> io::Result<()> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        write_parquet(&tmp, &batch, writer_properties(3, batch.num_rows() as u64))?;
        std::fs::rename(&tmp, self.dir.join(name))?;
        sync_dir(&self.dir)
    }
}

fn opt_str(a: &arrow_array::StringArray, i: usize) -> Option<String> {
    (!arrow_array::Array::is_null(a, i)).then(|| a.value(i).to_string())
}

fn read_all(path: &Path) -> io::Result<Vec<RecordBatch>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(io::Error::other)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)
}
