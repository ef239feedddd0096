//! Registers every lake table in a DataFusion session, seen through a [`Scope`].
//!
//! | table | what |
//! |---|---|
//! | `behavior`, `order` (also `orders`), `payment`, `login`, `ad_click`, `page_view` | events, partitioned by `shop`, `dt` |
//! | `quarantine` | every rejected row with its reason |
//! | `results` | the real-time jobs' emissions (long form) |
//! | `items`, `users` | the item and user catalog |

use crate::error::QueryError;
use crate::lake::{FilesTable, LakeFile, resolve};
use crate::quarantine::QuarantineTable;
use datafusion::catalog::TableProvider;
use datafusion::logical_expr::{col, lit};
use datafusion::prelude::SessionContext;
use model::EventType;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::Manifest;

/// Which rows a query may see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Only this shop (a shop-bound API key); `None` = every shop.
    pub shop: Option<String>,
}

impl Scope {
    /// Every shop.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// One shop.
    pub fn shop(shop: impl Into<String>) -> Scope {
        Scope {
            shop: Some(shop.into()),
        }
    }

    fn allows(&self, shop: &str) -> bool {
        self.shop.as_deref().is_none_or(|s| s == shop)
    }
}

/// One consistent view of the lake: the data dir and one manifest version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    root: PathBuf,
    manifest: Manifest,
}

impl Snapshot {
    /// Reads the committed manifest of a data dir (works while an import or the server writes).
    pub fn load(data_dir: &Path) -> Result<Snapshot, QueryError> {
        if !data_dir.join("lake").is_dir() {
            return Err(QueryError::Invalid(format!(
                "no StorePulse data in {} (import something first, or check --data-dir)",
                data_dir.display()
            )));
        }
        let manifest = Manifest::load(&store::manifest_path(data_dir))
            .map_err(|e| QueryError::Internal(format!("reading the manifest: {e}")))?;
        Ok(Snapshot {
            root: data_dir.to_path_buf(),
            manifest,
        })
    }

    /// The shops with event data in this version (the results table aside).
    pub fn shops(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&str> = self
            .manifest
            .files
            .iter()
            .filter(|f| f.table != store::results::RESULTS_TABLE)
            .map(|f| f.shop.as_str())
            .collect();
        set.into_iter().map(String::from).collect()
    }

    /// A snapshot of an open store.
    pub fn of(store: &store::Store) -> Snapshot {
        Snapshot {
            root: store.root().to_path_buf(),
            manifest: store.manifest().clone(),
        }
    }

    /// The data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The committed files of one table that the scope allows, by shop, day and time.
    fn entries(&self, table: &str, scope: &Scope) -> Vec<&store::FileEntry> {
        let mut files: Vec<&store::FileEntry> = self
            .manifest
            .files
            .iter()
            .filter(|f| f.table == table && scope.allows(&f.shop))
            .collect();
        files.sort_by(|a, b| {
            (&a.shop, &a.dt, a.min_ts, a.seq).cmp(&(&b.shop, &b.dt, b.min_ts, b.seq))
        });
        files
    }

    /// The committed files of one event table that the scope allows.
    pub fn event_files(&self, table: EventType, scope: &Scope) -> Vec<LakeFile> {
        self.entries(table.name(), scope)
            .into_iter()
            .map(|f| LakeFile {
                path: resolve(&self.root, &f.path, f.staged.as_deref()),
                bytes: f.bytes,
                shop: Some(f.shop.clone()),
                dt: Some(f.dt.clone()),
            })
            .collect()
    }

    /// The files of one event table whose day lies in `[from, to]` (inclusive `YYYY-MM-DD`;
    /// `None`: open), by shop, day and time: what the direct scans read.
    pub fn day_files(
        &self,
        table: EventType,
        scope: &Scope,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Vec<EventFile> {
        self.entries(table.name(), scope)
            .into_iter()
            .filter(|f| {
                from.is_none_or(|d| f.dt.as_str() >= d) && to.is_none_or(|d| f.dt.as_str() <= d)
            })
            .map(|f| EventFile {
                path: resolve(&self.root, &f.path, f.staged.as_deref()),
                shop: f.shop.clone(),
                dt: f.dt.clone(),
                seq: f.seq,
            })
            .collect()
    }
}

/// An event file with its partition and number (names its sidecars).
#[derive(Debug, Clone)]
pub struct EventFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Shop partition.
    pub shop: String,
    /// Day partition, `YYYY-MM-DD`.
    pub dt: String,
    /// The lake file number.
    pub seq: u64,
}

/// Registers every table of `snap` in `ctx`, as `scope` may see them.
pub fn register(ctx: &SessionContext, snap: &Snapshot, scope: &Scope) -> Result<(), QueryError> {
    for t in EventType::ALL {
        let files = snap.event_files(t, scope);
        let table: Arc<dyn TableProvider> = Arc::new(FilesTable::partitioned(
            model::schema::event_schema(t),
            files,
        ));
        ctx.register_table(t.name(), table.clone())?;
        if t == EventType::Order {
            // ORDER is a reserved word: `orders` spares the quotes.
            ctx.register_table("orders", table)?;
        }
    }
    let quarantine = QuarantineTable::new(snap, scope.shop.clone());
    ctx.register_table("quarantine", Arc::new(quarantine))?;

    let results = FilesTable::plain(model::schema::results_schema(), results_files(snap, scope));
    register_shop_scoped(ctx, "results", Arc::new(results), scope)?;
    for (name, file, schema) in [
        ("items", "item.parquet", model::schema::item_schema()),
        ("users", "user.parquet", model::schema::user_schema()),
    ] {
        let table = FilesTable::plain(schema, catalog_file(&snap.root, file));
        register_shop_scoped(ctx, name, Arc::new(table), scope)?;
    }
    Ok(())
}

/// Tables with a `shop` column: a shop-bound scope sees them through a filtered view, so the
/// unfiltered table is never reachable by name.
fn register_shop_scoped(
    ctx: &SessionContext,
    name: &str,
    table: Arc<dyn TableProvider>,
    scope: &Scope,
) -> Result<(), QueryError> {
    match &scope.shop {
        None => {
            ctx.register_table(name, table)?;
        }
        Some(shop) => {
            let view = ctx
                .read_table(table)?
                .filter(col("shop").eq(lit(shop.as_str())))?
                .into_view();
            ctx.register_table(name, view)?;
        }
    }
    Ok(())
}

fn catalog_file(root: &Path, name: &str) -> Vec<LakeFile> {
    let path = root.join("catalog").join(name);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() > 0 => vec![plain_file(path, m.len())],
        _ => Vec::new(),
    }
}

fn plain_file(path: PathBuf, bytes: u64) -> LakeFile {
    LakeFile {
        path,
        bytes,
        shop: None,
        dt: None,
    }
}

/// The committed files of the results table (a shop-bound scope also filters rows by `shop`).
fn results_files(snap: &Snapshot, scope: &Scope) -> Vec<LakeFile> {
    snap.entries(store::results::RESULTS_TABLE, scope)
        .into_iter()
        .map(|f| plain_file(resolve(&snap.root, &f.path, f.staged.as_deref()), f.bytes))
        .collect()
}
