//! The lake as DataFusion tables. Event tables read exactly the Parquet files one manifest
//! version lists (never a half-written or uncommitted file), with `shop` and `dt` as partition
//! columns so a filter on them skips whole files before any is opened.
//!
//! A directory listing (DataFusion's `ListingTable`) would see uncommitted files and caches its
//! listings, so [`FilesTable`] builds the scan from an explicit file list instead.

use crate::local_files::{LocalPath, LocalReaderFactory};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result as DfResult, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::{expr_applicable_for_cols, filter_partitioned_file};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::project_schema;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One Parquet file and the partition it belongs to.
#[derive(Debug, Clone)]
pub struct LakeFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Size in bytes (the reader finds the footer from it).
    pub bytes: u64,
    /// Shop partition (event tables only).
    pub shop: Option<String>,
    /// Day partition, `YYYY-MM-DD` (event tables only).
    pub dt: Option<String>,
}

/// A table over an explicit list of Parquet files, optionally partitioned by `shop` and `dt`.
#[derive(Debug)]
pub struct FilesTable {
    file_schema: SchemaRef,
    part_fields: Vec<Arc<Field>>,
    schema: SchemaRef,
    files: Vec<LakeFile>,
}

/// The partition columns of event tables.
pub const PARTITION_COLUMNS: [&str; 2] = ["shop", "dt"];

impl FilesTable {
    /// An event table: `file_schema` columns then `shop` (text) and `dt` (date).
    pub fn partitioned(file_schema: SchemaRef, files: Vec<LakeFile>) -> FilesTable {
        let part_fields = vec![
            Arc::new(Field::new("shop", DataType::Utf8, false)),
            Arc::new(Field::new("dt", DataType::Date32, false)),
        ];
        FilesTable::build(file_schema, part_fields, files)
    }

    /// A table without partition columns (catalog, job results).
    pub fn plain(file_schema: SchemaRef, files: Vec<LakeFile>) -> FilesTable {
        FilesTable::build(file_schema, Vec::new(), files)
    }

    fn build(file_schema: SchemaRef, part_fields: Vec<Arc<Field>>, files: Vec<LakeFile>) -> Self {
        let mut fields: Vec<Arc<Field>> = file_schema.fields().iter().cloned().collect();
        fields.extend(part_fields.iter().cloned());
        FilesTable {
            schema: Arc::new(Schema::new(fields)),
            file_schema,
            part_fields,
            files,
        }
    }

    fn part_names(&self) -> Vec<&str> {
        self.part_fields.iter().map(|f| f.name().as_str()).collect()
    }

    fn partitioned_file(&self, f: &LakeFile) -> DfResult<PartitionedFile> {
        let path = f.path.to_string_lossy().into_owned();
        let pf = PartitionedFile::new(path, f.bytes).with_extension(LocalPath(f.path.clone()));
        if self.part_fields.is_empty() {
            return Ok(pf);
        }
        let shop = ScalarValue::Utf8(Some(f.shop.clone().unwrap_or_default()));
        let dt = ScalarValue::try_from_string(f.dt.clone().unwrap_or_default(), &DataType::Date32)?;
        Ok(pf.with_partition_values(vec![shop, dt]))
    }
}

#[async_trait]
impl TableProvider for FilesTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        let parts = self.part_names();
        Ok(filters
            .iter()
            .map(|e| {
                if !parts.is_empty() && expr_applicable_for_cols(&parts, e) {
                    TableProviderFilterPushDown::Exact
                } else {
                    // Kept above the scan; DataFusion still pushes it into the Parquet reader
                    // (row-group statistics and page pruning).
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let parts = self.part_names();
        let part_filters: Vec<Expr> = filters
            .iter()
            .filter(|e| !parts.is_empty() && expr_applicable_for_cols(&parts, e))
            .cloned()
            .collect();
        let part_schema =
            DFSchema::from_unqualified_fields(self.part_fields.clone().into(), Default::default())?;
        let mut files = Vec::new();
        for f in &self.files {
            let pf = self.partitioned_file(f)?;
            if part_filters.is_empty() {
                files.push(pf);
            } else if let Some(pf) = filter_partitioned_file(pf, &part_filters, &part_schema)? {
                files.push(pf);
            }
        }
        if files.is_empty() {
            let schema = project_schema(&self.schema, projection)?;
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.part_fields.clone())
            .build();
        // What `ParquetFormat::create_physical_plan` builds, with the local reader instead.
        let footers = state.runtime_env().cache_manager.get_file_metadata_cache();
        let source = ParquetSource::new(table_schema)
            .with_table_parquet_options(state.table_options().parquet.clone())
            .with_parquet_file_reader_factory(Arc::new(LocalReaderFactory::new(footers)));
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_groups(groups)
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Where a committed file is now: its final path, or its staged one while a concurrent commit
/// has not renamed it yet.
pub fn resolve(root: &Path, path: &str, staged: Option<&str>) -> PathBuf {
    let p = root.join(path);
    match staged {
        Some(s) if !p.exists() => root.join(s),
        _ => p,
    }
}
