//! Privacy erasure: removing one user's events, the results rows keyed by them and their catalog
//! row. Every file of the shop that holds the user's rows is rewritten without them; the swap is
//! one manifest commit, so readers see either all of the user's rows or none.

use crate::manifest::FileEntry;
use crate::reader::Scan;
use crate::store::{Store, StoreError};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_select::concat::concat_batches;
use model::EventType;

/// What an erasure removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EraseReport {
    /// Event rows removed.
    pub rows: u64,
    /// Files rewritten (or dropped when nothing else was in them).
    pub files: usize,
    /// Whether a catalog row was removed.
    pub profile: bool,
    /// Rows of the results table keyed by the user, removed.
    pub results_rows: u64,
}

impl Store {
    /// Removes every event of `user_id` in `shop` and the user's catalog row. The caller folds
    /// the WAL first so that acknowledged events are included.
    pub fn erase_user(&mut self, shop: &str, user_id: i64) -> Result<EraseReport, StoreError> {
        let mut report = EraseReport::default();
        let mut gone = Vec::new();
        let mut added = Vec::new();
        let candidates: Vec<FileEntry> = self
            .manifest()
            .files
            .iter()
            .filter(|f| f.shop == shop)
            .cloned()
            .collect();
        for f in candidates {
            let Ok(t) = f.table.parse::<EventType>() else {
                continue;
            };
            if !model::schema::event_schema(t)
                .fields()
                .iter()
                .any(|x| x.name() == "user_id")
            {
                continue;
            }
            let mut scan = Scan::table(t);
            scan.batch_rows = 1 << 20;
            let mut kept = Vec::new();
            let mut removed = 0u64;
            for b in self.scan_files(scan, vec![f.clone()]) {
                let b = b?.batch;
                let (keep, n) = without_user(&b, user_id);
                removed += n;
                kept.push(
                    arrow_select::filter::filter_record_batch(&b, &keep)
                        .map_err(|e| StoreError::Encode(e.to_string()))?,
                );
            }
            if removed == 0 {
                continue;
            }
            report.rows += removed;
            report.files += 1;
            gone.push(f.seq);
            let schema = model::schema::event_schema(t);
            let all =
                concat_batches(&schema, &kept).map_err(|e| StoreError::Encode(e.to_string()))?;
            if all.num_rows() > 0 {
                added.push(self.stage_file(t, &f.shop, &f.dt, &all)?);
            }
        }
        // Results keyed by user name the user too (sessions, the ad-click blacklist).
        let user_key = user_id.to_string();
        let (r_gone, r_added, r_rows) = self.erase_results(shop, &user_key)?;
        report.results_rows = r_rows;
        report.files += r_gone.len();
        gone.extend(r_gone);
        added.extend(r_added);
        report.profile = self.catalog_mut().remove_user(shop, user_id);
        if report.profile {
            self.catalog_mut().flush().map_err(|err| StoreError::Io {
                context: "writing the catalog".into(),
                err,
            })?;
        }
        if !gone.is_empty() {
            self.manifest_mut_commit(|m| {
                m.files.retain(|f| !gone.contains(&f.seq));
                m.files.extend(added);
            })?;
        }
        Ok(report)
    }
}

/// A mask keeping rows of other users (and rows without a user); and how many it drops.
fn without_user(b: &RecordBatch, user_id: i64) -> (BooleanArray, u64) {
    let Some(col) = b.column_by_name("user_id") else {
        return (BooleanArray::from(vec![true; b.num_rows()]), 0);
    };
    let a = col.as_primitive::<Int64Type>();
    let mut dropped = 0u64;
    let keep: Vec<bool> = (0..a.len())
        .map(|i| {
            let hit = a.is_valid(i) && a.value(i) == user_id;
            dropped += hit as u64;
            !hit
        })
        .collect();
    (BooleanArray::from(keep), dropped)
}
