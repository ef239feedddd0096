//! Lake files read straight from the local disk.
//!
//! DataFusion's default Parquet reader goes through `object_store`'s local backend, which hands
//! every byte range and every footer to tokio's blocking pool. The lake's day files are small
//! and usually in the page cache, so on a table of a few hundred day files (UCI Online Retail)
//! those hand-offs cost more than the reads. Here ranges are positioned reads on the calling
//! thread. Parsed footers go to DataFusion's own file metadata cache (shared by every session
//! of an engine), validated by size and modification time like DataFusion's reader does.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetMetaData;
use datafusion::datasource::physical_plan::{ParquetFileMetrics, ParquetFileReaderFactory};
use datafusion::execution::cache::cache_manager::{CachedFileMetadataEntry, FileMetadataCache};
use datafusion::object_store::ObjectMeta;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The real path of a lake file, attached to its [`PartitionedFile`] (object store locations
/// are percent-encoded and relative, so they are not used to find the file).
#[derive(Debug, Clone)]
pub struct LocalPath(pub PathBuf);

/// Makes [`LocalReader`]s for a scan.
#[derive(Clone)]
pub struct LocalReaderFactory {
    footers: Arc<FileMetadataCache>,
}

impl std::fmt::Debug for LocalReaderFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalReaderFactory")
    }
}

impl LocalReaderFactory {
    /// Readers keeping parsed footers in `footers` (the runtime's file metadata cache).
    pub fn new(footers: Arc<FileMetadataCache>) -> LocalReaderFactory {
        LocalReaderFactory { footers }
    }
}

impl ParquetFileReaderFactory for LocalReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        _metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::common::Result<Box<dyn AsyncFileReader + Send>> {
        let path = match file.extension::<LocalPath>() {
            Some(p) => p.0.clone(),
            None => Path::new("/").join(file.object_meta.location.as_ref()),
        };
        let metrics =
            ParquetFileMetrics::new(partition_index, file.object_meta.location.as_ref(), metrics);
        let handle = File::open(&path).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!(
                "opening {}: {e}",
                path.display()
            ))
        })?;
        Ok(Box::new(LocalReader {
            location: file.object_meta.clone(),
            path,
            file: handle,
            footers: self.footers.clone(),
            metrics,
        }))
    }
}

/// Reads one lake file with positioned reads.
pub struct LocalReader {
    path: PathBuf,
    file: File,
    /// The file's cache key and size; its time is taken from the file when the footer is read.
    location: ObjectMeta,
    footers: Arc<FileMetadataCache>,
    metrics: ParquetFileMetrics,
}

impl LocalReader {
    /// The footer, from the cache when an entry of the same size and modification time is
    /// there (a data dir wiped and rewritten under a server gets new times).
    fn footer(&self) -> Result<Arc<ParquetMetaData>, ParquetError> {
        let modified = self
            .file
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| ParquetError::General(format!("{}: {e}", self.path.display())))?;
        let meta = ObjectMeta {
            last_modified: DateTime::<Utc>::from(modified),
            ..self.location.clone()
        };
        if let Some(hit) = self.footers.get(&meta.location)
            && hit.is_valid_for(&meta)
            && let Some(m) = hit
                .file_metadata
                .as_any()
                .downcast_ref::<CachedParquetMetaData>()
        {
            return Ok(m.parquet_metadata().clone());
        }
        let m = Arc::new(
            ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Skip)
                .parse_and_finish(&self.file)?,
        );
        let entry = CachedFileMetadataEntry::new(
            meta.clone(),
            Arc::new(CachedParquetMetaData::new(m.clone())),
        );
        self.footers.put(&meta.location, entry);
        Ok(m)
    }

    fn read(&self, range: Range<u64>) -> Result<Bytes, ParquetError> {
        let len = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(|e| ParquetError::General(e.to_string()))?;
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, range.start)
            .map_err(|e| {
                ParquetError::General(format!(
                    "reading bytes {}..{} of {}: {e}",
                    range.start,
                    range.end,
                    self.path.display()
                ))
            })?;
        self.metrics.bytes_scanned.add(len);
        Ok(Bytes::from(buf))
    }
}

impl AsyncFileReader for LocalReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let r = self.read(range);
        async move { r }.boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let r = ranges.into_iter().map(|r| self.read(r)).collect();
        async move { r }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let m = self.footer();
        async move { m }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::execution::cache::default_cache::DefaultCache;
    use parquet::arrow::ArrowWriter;

    fn write(path: &Path, values: std::ops::Range<i64>) -> u64 {
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(Int64Array::from_iter_values(values)) as _,
        )])
        .unwrap();
        let mut w =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        std::fs::metadata(path).unwrap().len()
    }

    fn reader(factory: &LocalReaderFactory, path: &Path, size: u64) -> Box<dyn AsyncFileReader> {
        let pf = PartitionedFile::new("elsewhere/a.parquet", size)
            .with_extension(LocalPath(path.to_path_buf()));
        factory
            .create_reader(0, pf, None, &ExecutionPlanMetricsSet::new())
            .unwrap()
    }

    fn footer(factory: &LocalReaderFactory, path: &Path, size: u64) -> Arc<ParquetMetaData> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(reader(factory, path, size).get_metadata(None))
            .unwrap()
    }

    fn factory() -> LocalReaderFactory {
        LocalReaderFactory::new(Arc::new(DefaultCache::new(1 << 20)))
    }

    #[test]
    fn a_file_rewritten_in_place_is_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        let f = factory();
        let size = write(&path, 0..1000);
        let a = footer(&f, &path, size);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Same path, same length, other values: only the modification time tells them apart.
        assert_eq!(write(&path, 5000..6000), size);
        let b = footer(&f, &path, size);
        let min = |m: &ParquetMetaData| match m.row_group(0).column(0).statistics() {
            Some(parquet::file::statistics::Statistics::Int64(s)) => s.min_opt().copied(),
            _ => None,
        };
        assert_eq!((min(&a), min(&b)), (Some(0), Some(5000)));
    }

    #[test]
    fn footers_are_parsed_once_and_ranges_read_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        let size = write(&path, 0..1000);
        let f = factory();
        let a = footer(&f, &path, size);
        let b = footer(&f, &path, size);
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second lookup is served from the cache"
        );
        assert_eq!(f.footers.len(), 1);
        assert_eq!(a.file_metadata().num_rows(), 1000);

        let mut r = reader(&f, &path, size);
        let all = std::fs::read(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = rt
            .block_on(r.get_byte_ranges(vec![0..4, size - 4..size]))
            .unwrap();
        assert_eq!(&got[0][..], &all[..4]);
        assert_eq!(&got[1][..], b"PAR1");
        let err = rt.block_on(r.get_bytes(size - 2..size + 10)).unwrap_err();
        assert!(err.to_string().contains("a.parquet"), "{err}");
    }
}
