//! Lake files read straight from the local disk, with their parsed footers kept.
//!
//! DataFusion's default Parquet reader goes through `object_store`'s local backend, which hands
//! every byte range and every footer to tokio's blocking pool. The lake's day files are small
//! and usually in the page cache, so on a table of a few hundred day files (UCI Online Retail)
//! those hand-offs cost more than the reads. Here ranges are positioned reads on the calling
//! thread, and each footer is parsed once per engine: a lake file never changes (a rewrite
//! gets a new file number, so a new name), so a footer keyed by path, size and modification
//! time stays valid (the time guards against a data dir wiped and rewritten under a server).

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{ParquetFileMetrics, ParquetFileReaderFactory};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Memory the kept footers may take; past it the cache starts over. A day file's footer takes
/// a few tens of KiB, so this holds years of days of every table.
const MAX_FOOTER_BYTES: usize = 256 << 20;

/// The real path of a lake file, attached to its [`PartitionedFile`] (object store locations
/// are percent-encoded and relative, so they are not used to find the file).
#[derive(Debug, Clone)]
pub struct LocalPath(pub PathBuf);

/// Parsed footers by (path, size, modification time), shared by every query of an engine.
#[derive(Debug, Default)]
pub struct FooterCache {
    map: Mutex<Footers>,
}

#[derive(Debug, Default)]
struct Footers {
    by_file: HashMap<(PathBuf, u64, Option<SystemTime>), Arc<ParquetMetaData>>,
    bytes: usize,
}

impl FooterCache {
    /// The footer of `file` at `path`, parsed on first use.
    pub fn get(
        &self,
        path: &Path,
        file: &File,
        size: u64,
    ) -> Result<Arc<ParquetMetaData>, ParquetError> {
        let modified = file.metadata().and_then(|m| m.modified()).ok();
        let key = (path.to_path_buf(), size, modified);
        if let Some(m) = self.lock().by_file.get(&key) {
            return Ok(m.clone());
        }
        // Parsed outside the lock; two queries racing on a new file both parse it, harmlessly.
        let m = Arc::new(
            ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Skip)
                .parse_and_finish(file)?,
        );
        let size = m.memory_size();
        let mut map = self.lock();
        if map.bytes + size > MAX_FOOTER_BYTES {
            map.by_file.clear();
            map.bytes = 0;
        }
        if map.by_file.insert(key, m.clone()).is_none() {
            map.bytes += size;
        }
        Ok(m)
    }

    /// Footers kept now and the memory they take.
    pub fn usage(&self) -> (usize, usize) {
        let map = self.lock();
        (map.by_file.len(), map.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Footers> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Makes [`LocalReader`]s for a scan.
#[derive(Debug, Clone)]
pub struct LocalReaderFactory {
    footers: Arc<FooterCache>,
}

impl LocalReaderFactory {
    /// Readers sharing `footers`.
    pub fn new(footers: Arc<FooterCache>) -> LocalReaderFactory {
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
            size: file.object_meta.size,
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
    size: u64,
    footers: Arc<FooterCache>,
    metrics: ParquetFileMetrics,
}

impl LocalReader {
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
        let m = self.footers.get(&self.path, &self.file, self.size);
        async move { m }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
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

    #[test]
    fn a_file_rewritten_in_place_is_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        let cache = FooterCache::default();
        let size = write(&path, 0..1000);
        let a = cache.get(&path, &File::open(&path).unwrap(), size).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Same path, same length, other values: only the modification time tells them apart.
        assert_eq!(write(&path, 5000..6000), size);
        let b = cache.get(&path, &File::open(&path).unwrap(), size).unwrap();
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
        let cache = Arc::new(FooterCache::default());
        let f = File::open(&path).unwrap();
        let a = cache.get(&path, &f, size).unwrap();
        let b = cache.get(&path, &f, size).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second lookup is served from the cache"
        );
        let (n, bytes) = cache.usage();
        assert_eq!(n, 1);
        assert!(bytes > 0 && bytes < MAX_FOOTER_BYTES);
        assert_eq!(a.file_metadata().num_rows(), 1000);

        let pf = PartitionedFile::new("elsewhere/a.parquet", size)
            .with_extension(LocalPath(path.clone()));
        let mut r = LocalReaderFactory::new(cache)
            .create_reader(0, pf, None, &ExecutionPlanMetricsSet::new())
            .unwrap();
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
