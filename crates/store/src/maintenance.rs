//! Lake upkeep: compaction merges a day partition's small files into larger ones (sorted by
//! `ts`) in one atomic manifest commit, then deletes what the manifest no longer lists.
//! Retention is in `retention.rs`.

use crate::manifest::FileEntry;
use crate::segment::{count_kinds, kind_column, ts_range, write_parquet, writer_properties};
use crate::store::{Store, StoreError};
use arrow_array::RecordBatch;
use model::EventType;
use std::collections::BTreeMap;

/// What compaction did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CompactReport {
    /// Files merged away.
    pub files_before: usize,
    /// Files written.
    pub files_after: usize,
    /// Rows rewritten.
    pub rows: u64,
    /// Day partitions dropped by retention.
    pub partitions_dropped: usize,
    /// Rows dropped by retention.
    pub rows_dropped: u64,
    /// Files whose missing or damaged sidecars were written again.
    pub sidecars_written: usize,
}

impl Store {
    /// Writes the sidecars (sketch, user sets, user timeline) of committed files that lack one
    /// or hold a damaged one: lakes written before a kind of sidecar existed, or a sidecar torn
    /// by a crash. The files themselves are only read. Returns how many files got sidecars.
    pub fn write_missing_sidecars(&self) -> Result<usize, StoreError> {
        let mut done = 0;
        for f in self.manifest().files.clone() {
            let Ok(t) = f.table.parse::<EventType>() else {
                continue;
            };
            if crate::sketch::Sidecars::complete(self.root(), t, f.seq) {
                continue;
            }
            let mut acc: Option<crate::sketch::Sidecars> = None;
            let scan = crate::reader::Scan::table(t);
            for b in self.scan_files(scan, vec![f.clone()]) {
                let s = crate::sketch::Sidecars::of(t, std::slice::from_ref(&b?.batch));
                match &mut acc {
                    Some(a) => a.merge(s),
                    None => acc = Some(s),
                }
            }
            if let Some(s) = acc {
                s.save(self.root(), f.seq).map_err(|err| StoreError::Io {
                    context: format!("writing the sidecars of {}", f.path),
                    err,
                })?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Merges files smaller than `small_bytes` within each (table, shop, day) partition into
    /// files of up to `target_rows` rows (a streaming merge; what stays in memory is the user
    /// timeline being built for a behaviour output file, 20 bytes per row).
    pub fn compact(
        &mut self,
        small_bytes: u64,
        target_rows: u64,
    ) -> Result<CompactReport, StoreError> {
        self.compact_some(small_bytes, target_rows, usize::MAX)
    }

    /// [`Store::compact`], but merging at most `max_runs` runs (background compaction does
    /// one at a time, so that folding is never held up for long).
    pub fn compact_some(
        &mut self,
        small_bytes: u64,
        target_rows: u64,
        max_runs: usize,
    ) -> Result<CompactReport, StoreError> {
        let mut groups: BTreeMap<(String, String, String), Vec<FileEntry>> = BTreeMap::new();
        for f in &self.manifest().files {
            if f.bytes < small_bytes {
                groups
                    .entry((f.table.clone(), f.shop.clone(), f.dt.clone()))
                    .or_default()
                    .push(f.clone());
            }
        }
        let mut report = CompactReport::default();
        for ((table, shop, dt), mut files) in groups {
            if files.len() < 2 {
                continue;
            }
            let t = table.parse::<EventType>().ok();
            if t.is_none() && table != crate::results::RESULTS_TABLE {
                continue;
            }
            files.sort_by_key(|f| (f.min_ts, f.seq));
            // Cut into runs of at most target_rows rows.
            let mut runs: Vec<Vec<FileEntry>> = vec![Vec::new()];
            let mut rows = 0u64;
            for f in files {
                if rows + f.rows > target_rows && !runs.last().is_some_and(Vec::is_empty) {
                    runs.push(Vec::new());
                    rows = 0;
                }
                rows += f.rows;
                runs.last_mut().expect("runs is never empty").push(f);
            }
            for run in runs.into_iter().filter(|r| r.len() >= 2) {
                if report.files_after >= max_runs {
                    return Ok(report);
                }
                let entry = match t {
                    Some(t) => self.merge_files(t, &shop, &dt, &run)?,
                    None => self.merge_results(&shop, &dt, &run)?,
                };
                report.files_before += run.len();
                report.files_after += 1;
                report.rows += entry.rows;
                crate::crashpoint::reach(crate::crashpoint::COMPACT_BEFORE_COMMIT);
                let gone: Vec<u64> = run.iter().map(|f| f.seq).collect();
                self.manifest_mut_commit(|m| {
                    m.files.retain(|f| !gone.contains(&f.seq));
                    m.files.push(entry);
                })?;
            }
        }
        Ok(report)
    }

    /// Writes one day's sorted rows as a staged file and returns its (uncommitted) entry.
    pub(crate) fn stage_file(
        &self,
        t: EventType,
        shop: &str,
        dt: &str,
        batch: &RecordBatch,
    ) -> Result<FileEntry, StoreError> {
        let seq = self.next_seq();
        let (staged, path) = crate::segment::file_names(t, shop, dt, seq);
        let bytes = write_parquet(
            &self.root().join(&staged),
            batch,
            writer_properties(self.config().zstd_level.max(3), batch.num_rows() as u64),
        )
        .map_err(|err| StoreError::Io {
            context: format!("writing {staged}"),
            err,
        })?;
        let (min_ts, max_ts) = ts_range(batch);
        crate::sketch::Sidecars::of(t, std::slice::from_ref(batch))
            .save(self.root(), seq)
            .map_err(|err| StoreError::Io {
                context: format!("writing the sketch and user sets of {path}"),
                err,
            })?;
        Ok(FileEntry {
            seq,
            table: t.name().into(),
            shop: shop.into(),
            dt: dt.into(),
            path,
            staged: Some(staged),
            rows: batch.num_rows() as u64,
            bytes,
            min_ts,
            max_ts,
            kinds: kind_column(t)
                .map(|c| count_kinds(batch, c))
                .unwrap_or_default(),
        })
    }
}
