//! The `quarantine` table: every rejected row with its reason, read from the quarantine's
//! NDJSON files when a query scans it (not when the session is built).

use crate::tables::Snapshot;
use async_trait::async_trait;
use collect::QuarantineRecord;
use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::path::PathBuf;
use std::sync::Arc;
use store::QuarantineFile;

/// Lazily read quarantine rows, optionally of one shop only.
#[derive(Debug)]
pub struct QuarantineTable {
    root: PathBuf,
    files: Vec<QuarantineFile>,
    shop: Option<String>,
    schema: SchemaRef,
}

impl QuarantineTable {
    /// The quarantine of a snapshot.
    pub fn new(snap: &Snapshot, shop: Option<String>) -> QuarantineTable {
        QuarantineTable {
            root: snap.root().to_path_buf(),
            files: snap.manifest().quarantine.clone(),
            shop,
            schema: schema(),
        }
    }

    fn batch(&self) -> DfResult<RecordBatch> {
        let mut b = Builders::default();
        for q in &self.files {
            let rows = store::read_quarantine_file(&self.root, q)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            for r in rows
                .iter()
                .filter(|r| self.shop.as_ref().is_none_or(|s| *s == r.shop))
            {
                b.push(r);
            }
        }
        b.finish(self.schema.clone())
    }
}

/// Columns: the record's fields, `at` as a timestamp.
pub fn schema() -> SchemaRef {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        text("shop", false),
        text("source", false),
        text("format", false),
        Field::new("line", DataType::UInt64, false),
        Field::new("offset", DataType::UInt64, true),
        text("reason", false),
        text("field", true),
        text("value", true),
        text("rule", false),
        text("raw", false),
        Field::new("at", model::schema::ts_type(), false),
    ]))
}

#[derive(Default)]
struct Builders {
    shop: StringBuilder,
    source: StringBuilder,
    format: StringBuilder,
    line: UInt64Builder,
    offset: UInt64Builder,
    reason: StringBuilder,
    field: StringBuilder,
    value: StringBuilder,
    rule: StringBuilder,
    raw: StringBuilder,
    at: TimestampMillisecondBuilder,
}

impl Builders {
    fn push(&mut self, r: &QuarantineRecord) {
        self.shop.append_value(&r.shop);
        self.source.append_value(&r.source);
        self.format.append_value(&r.format);
        self.line.append_value(r.line);
        self.offset.append_option(r.offset);
        self.reason.append_value(r.reason.code());
        self.field.append_option(r.field.as_deref());
        self.value.append_option(r.value.as_deref());
        self.rule.append_value(&r.rule);
        self.raw.append_value(&r.raw);
        self.at.append_value(r.at_ms);
    }

    fn finish(mut self, schema: SchemaRef) -> DfResult<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.shop.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.field.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.raw.finish()),
            Arc::new(self.at.finish().with_timezone("UTC")),
        ];
        Ok(RecordBatch::try_new(schema, cols)?)
    }
}

#[async_trait]
impl TableProvider for QuarantineTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batch = self.batch()?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
