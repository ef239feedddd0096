//! The sandboxed SQL engine: one DataFusion session per query over one manifest snapshot,
//! read-only, with a time and a memory limit, on its own runtime.
//!
//! Why its own runtime: planning deep expressions recurses, and a tokio worker's 2 MiB stack
//! overflows (aborting the process) on a few KB of `1+1+…`; these threads get 32 MiB, and the
//! SQL text and its expression depth are capped. It also keeps heavy queries off the ingest
//! server's workers. Planning runs on a blocking thread raced against the deadline; it holds
//! its slot until it ends, so abandoned planning cannot pile up past `concurrency`.
//!
//! Memory: every query's pool draws on one engine-wide budget (see [`crate::limits`]), the
//! functions that can build far more than they read reserve it first, and result batches
//! hold it until the reader takes the next one.

use crate::error::QueryError;
use crate::limits::pool::{self, Shared};
use crate::limits::{Budget, check_depth, guard_plan};
use crate::tables::{Scope, Snapshot, register};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{MemoryPool, MemoryReservation};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// Per-query limits (`[query]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock limit per query, planning and all rows included (waiting for a slot too).
    pub timeout_secs: f64,
    /// Memory per query, MiB: sorts, joins, aggregations, the values functions build and the
    /// result batches not yet read. Nothing spills to disk.
    pub memory_mib: usize,
    /// Memory of all queries running at once, MiB (0 = `memory_mib`): they share it.
    pub total_memory_mib: usize,
    /// Longest SQL text accepted, bytes.
    pub max_sql_bytes: usize,
    /// Deepest nesting of expressions accepted (`a+b+c+…` nests a level per term).
    pub max_expr_depth: usize,
    /// Queries that run at once; more wait (within their time limit).
    pub concurrency: usize,
    /// Threads of the query runtime (0 = one per core).
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_secs: 60.0,
            memory_mib: 2048,
            total_memory_mib: 0,
            max_sql_bytes: 16 * 1024,
            max_expr_depth: 1000,
            concurrency: 2,
            threads: 0,
        }
    }
}

impl Limits {
    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.max(0.001))
    }

    fn total_mib(&self) -> usize {
        match self.total_memory_mib {
            0 => self.memory_mib,
            n => n,
        }
    }
}

/// A batch with the memory it holds in its query's pool.
type Held = (RecordBatch, MemoryReservation);

/// Rows of a running query, batch by batch. Dropping it cancels the query.
///
/// A batch counts against the query's memory until the next one is asked for (a reader
/// that keeps batches is on its own), except in [`Rows::collect`], which keeps them all
/// counted: a result too big for the limit fails there instead of growing the process.
pub struct Rows {
    /// Column names and types.
    pub schema: SchemaRef,
    rx: mpsc::Receiver<Result<Held, QueryError>>,
    last: Option<MemoryReservation>,
}

impl Rows {
    /// The next batch; `None` when all rows have come.
    pub async fn next(&mut self) -> Option<Result<RecordBatch, QueryError>> {
        let item = self.rx.recv().await;
        self.take(item)
    }

    /// The next batch, for callers outside any async runtime.
    pub fn blocking_next(&mut self) -> Option<Result<RecordBatch, QueryError>> {
        let item = self.rx.blocking_recv();
        self.take(item)
    }

    fn take(
        &mut self,
        item: Option<Result<Held, QueryError>>,
    ) -> Option<Result<RecordBatch, QueryError>> {
        let (batch, held) = match item? {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        self.last = Some(held);
        Some(Ok(batch))
    }

    /// All remaining batches.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>, QueryError> {
        let mut out = Vec::new();
        let mut held = Vec::new();
        while let Some(item) = self.rx.recv().await {
            let (batch, r) = item?;
            out.push(batch);
            held.push(r);
        }
        Ok(out)
    }

    /// The rows as a stream (for HTTP bodies).
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<RecordBatch, QueryError>> + Send + 'static {
        futures_util::stream::unfold(self, |mut rows| async move {
            let b = rows.next().await?;
            Some((b, rows))
        })
    }
}

/// The SQL engine of one data dir.
pub struct Engine {
    data_dir: PathBuf,
    limits: Limits,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    slots: Arc<Semaphore>,
    base: Arc<RuntimeEnv>,
    shared: Shared,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's task panics; this never blocks.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Engine {
    /// The shops with event data in the lake now.
    pub fn shops(&self) -> Result<Vec<String>, QueryError> {
        Ok(Snapshot::load(&self.data_dir)?.shops())
    }

    /// An engine over `data_dir` with these limits.
    pub fn new(data_dir: &Path, limits: Limits) -> Result<Engine, QueryError> {
        let threads = match limits.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("storepulse-query")
            .thread_stack_size(32 << 20)
            .enable_all()
            .build()
            .map_err(|e| QueryError::Internal(format!("starting the query runtime: {e}")))?;
        let base = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?;
        Ok(Engine {
            data_dir: data_dir.to_path_buf(),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            shared: Shared::new(limits.total_mib()),
            limits,
            base,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Starts a query; resolves once it is planned (errors in the SQL come back here) and then
    /// yields its rows. Call from any runtime; the work runs on the engine's own.
    pub async fn sql(&self, sql: &str, scope: Scope) -> Result<Rows, QueryError> {
        self.check_text(sql)?;
        let (planned_tx, planned_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(2);
        let job = Job {
            sql: sql.to_string(),
            scope,
            data_dir: self.data_dir.clone(),
            limits: self.limits.clone(),
            base: self.base.clone(),
            slots: self.slots.clone(),
            shared: self.shared.clone(),
        };
        self.handle.spawn(job.run(planned_tx, tx));
        let schema = planned_rx
            .await
            .map_err(|_| QueryError::Internal("the query task ended early".into()))??;
        Ok(Rows {
            schema,
            rx,
            last: None,
        })
    }

    /// [`Engine::sql`] for callers outside any async runtime (the CLI).
    pub fn sql_blocking(&self, sql: &str, scope: Scope) -> Result<Rows, QueryError> {
        self.handle.block_on(self.sql(sql, scope))
    }

    /// Runs a future on the engine's runtime from synchronous code.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    fn check_text(&self, sql: &str) -> Result<(), QueryError> {
        if sql.len() > self.limits.max_sql_bytes {
            return Err(QueryError::Rejected(format!(
                "the SQL text is {} bytes, over the limit of {} (query.max_sql_bytes)",
                sql.len(),
                self.limits.max_sql_bytes
            )));
        }
        if sql.trim().is_empty() {
            return Err(QueryError::Invalid("the SQL text is empty".into()));
        }
        Ok(())
    }
}

/// One query's task on the engine runtime.
#[derive(Clone)]
struct Job {
    sql: String,
    scope: Scope,
    data_dir: PathBuf,
    limits: Limits,
    base: Arc<RuntimeEnv>,
    slots: Arc<Semaphore>,
    shared: Shared,
}

/// A planned query: its batches, its pool, and the memory its constants hold.
struct Planned {
    stream: SendableRecordBatchStream,
    pool: Arc<dyn MemoryPool>,
    _constants: Option<MemoryReservation>,
}

impl Job {
    async fn run(
        self,
        planned: oneshot::Sender<Result<SchemaRef, QueryError>>,
        tx: mpsc::Sender<Result<Held, QueryError>>,
    ) {
        let timeout = self.limits.timeout();
        let deadline = Instant::now() + timeout;
        let mib = self.limits.memory_mib;
        let started = tokio::time::timeout_at(deadline, self.clone().plan_in_background()).await;
        let (_permit, query) = match started {
            Err(_) => {
                let _ = planned.send(Err(QueryError::Timeout(timeout)));
                return;
            }
            Ok(Err(e)) => {
                let _ = planned.send(Err(e));
                return;
            }
            Ok(Ok(s)) => s,
        };
        let Planned {
            mut stream,
            pool,
            _constants,
        } = query;
        let schema = stream.schema();
        let next = async |stream: &mut SendableRecordBatchStream| {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => Some(Err(QueryError::Timeout(timeout))),
                b = stream.next() => b.map(|r| {
                    r.map_err(|e| QueryError::from_datafusion(e, mib))
                        .and_then(|b| hold(&pool, b, mib))
                }),
            }
        };
        // An error before the first row (memory, most runtime errors) is the query's error,
        // not one at the end of a body already begun.
        let mut item = next(&mut stream).await;
        if let Some(Err(e)) = item {
            let _ = planned.send(Err(e));
            return;
        }
        if planned.send(Ok(schema)).is_err() {
            return;
        }
        while let Some(b) = item {
            let last = b.is_err();
            // A closed receiver means the caller went away: dropping the stream cancels.
            if tx.send(b).await.is_err() || last {
                break;
            }
            item = next(&mut stream).await;
        }
    }

    /// Plans on a blocking thread, so that the deadline can answer while DataFusion is busy;
    /// the thread keeps the slot until it ends.
    async fn plan_in_background(
        self,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, Planned), QueryError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| QueryError::Internal("the query engine is shutting down".into()))?;
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let planned = handle.block_on(self.plan())?;
            Ok((permit, planned))
        })
        .await
        .map_err(|e| QueryError::Internal(format!("planning the query failed: {e}")))?
    }

    async fn plan(&self) -> Result<Planned, QueryError> {
        let mib = self.limits.memory_mib;
        let df = |e| QueryError::from_datafusion(e, mib);
        let snap = Snapshot::load(&self.data_dir)?;
        let pool = self.shared.query_pool(mib);
        let ctx = session(&self.base, &pool, &snap, &self.scope)?;
        let state = ctx.state();
        let batch_size = state.config().batch_size();
        let budget = Arc::new(Budget::new(pool.clone(), mib, batch_size));
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(&self.sql, &dialect).map_err(df)?;
        check_depth(&statement, self.limits.max_expr_depth)?;
        let plan = state.statement_to_plan(statement).await.map_err(df)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(df)?;
        let plan = guard_plan(plan, &budget).map_err(df)?;
        let plan = state.optimize(&plan).map_err(df)?;
        let plan = guard_plan(plan, &budget).map_err(df)?;
        let constants = budget.charge_constants(&plan, self.sql.len()).map_err(df)?;
        let physical = state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await
            .map_err(df)?;
        let stream =
            datafusion::physical_plan::execute_stream(physical, ctx.task_ctx()).map_err(df)?;
        Ok(Planned {
            stream,
            pool,
            _constants: constants,
        })
    }
}

/// `batch` with its size held in `pool` until the reader moves on.
fn hold(
    pool: &Arc<dyn MemoryPool>,
    batch: RecordBatch,
    limit_mib: usize,
) -> Result<Held, QueryError> {
    // Slices share their parent's buffers; count only the part each one shows.
    let bytes: usize = batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum();
    match pool::reserve(pool, "result batches", bytes) {
        Ok(r) => Ok((batch, r)),
        Err(e) => Err(QueryError::Memory {
            limit_mib,
            detail: format!("the result rows not yet read: {}", e.find_root()),
        }),
    }
}

/// A session on the query's own pool.
fn session(
    base: &Arc<RuntimeEnv>,
    pool: &Arc<dyn MemoryPool>,
    snap: &Snapshot,
    scope: &Scope,
) -> Result<SessionContext, QueryError> {
    let runtime = RuntimeEnvBuilder::from_runtime_env(base)
        .with_memory_pool(pool.clone())
        .build_arc()?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true);
    // The lake writes no bloom filters, and its day files are small enough that page indexes
    // prune little: skipping both saves per-file work on every query.
    let parquet = &mut config.options_mut().execution.parquet;
    parquet.bloom_filter_on_read = false;
    parquet.enable_page_index = false;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    register(&ctx, snap, scope)?;
    Ok(ctx)
}
