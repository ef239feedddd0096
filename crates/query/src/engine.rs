//! The sandboxed SQL engine: one DataFusion session per query over one manifest snapshot,
//! read-only, with a time and a memory limit, on its own runtime.
//!
//! Why its own runtime: planning deep expressions recurses, and a tokio worker's 2 MiB stack
//! overflows (aborting the process) on a few KB of `1+1+…`; these threads get 32 MiB and the
//! SQL text is capped. It also keeps heavy queries off the ingest server's workers.

use crate::error::QueryError;
use crate::tables::{Scope, Snapshot, register};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// Per-query limits (`[query]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock limit per query, planning and all rows included (waiting for a slot too).
    pub timeout_secs: f64,
    /// Memory for sorts, joins and aggregations per query, MiB. Nothing spills to disk.
    pub memory_mib: usize,
    /// Longest SQL text accepted, bytes.
    pub max_sql_bytes: usize,
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
            max_sql_bytes: 16 * 1024,
            concurrency: 2,
            threads: 0,
        }
    }
}

impl Limits {
    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.max(0.001))
    }
}

/// Rows of a running query, batch by batch. Dropping it cancels the query.
pub struct Rows {
    /// Column names and types.
    pub schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch, QueryError>>,
}

impl Rows {
    /// The next batch; `None` when all rows have come.
    pub async fn next(&mut self) -> Option<Result<RecordBatch, QueryError>> {
        self.rx.recv().await
    }

    /// The next batch, for callers outside any async runtime.
    pub fn blocking_next(&mut self) -> Option<Result<RecordBatch, QueryError>> {
        self.rx.blocking_recv()
    }

    /// All remaining batches.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>, QueryError> {
        let mut out = Vec::new();
        while let Some(b) = self.next().await {
            out.push(b?);
        }
        Ok(out)
    }

    /// The rows as a stream (for HTTP bodies).
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<RecordBatch, QueryError>> + Send + 'static {
        futures_util::stream::unfold(
            self.rx,
            |mut rx| async move { rx.recv().await.map(|b| (b, rx)) },
        )
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
        };
        self.handle.spawn(job.run(planned_tx, tx));
        let schema = planned_rx
            .await
            .map_err(|_| QueryError::Internal("the query task ended early".into()))??;
        Ok(Rows { schema, rx })
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
struct Job {
    sql: String,
    scope: Scope,
    data_dir: PathBuf,
    limits: Limits,
    base: Arc<RuntimeEnv>,
    slots: Arc<Semaphore>,
}

impl Job {
    async fn run(
        self,
        planned: oneshot::Sender<Result<SchemaRef, QueryError>>,
        tx: mpsc::Sender<Result<RecordBatch, QueryError>>,
    ) {
        let timeout = self.limits.timeout();
        let deadline = Instant::now() + timeout;
        let mib = self.limits.memory_mib;
        let started = tokio::time::timeout_at(deadline, async {
            let permit = self.slots.clone().acquire_owned().await;
            let stream = self.plan().await?;
            Ok::<_, QueryError>((permit, stream))
        })
        .await;
        let (_permit, mut stream) = match started {
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
        if planned.send(Ok(stream.schema())).is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => Some(Err(QueryError::Timeout(timeout))),
                b = stream.next() => b.map(|r| r.map_err(|e| QueryError::from_datafusion(e, mib))),
            };
            let Some(item) = next else { break };
            let last = item.is_err();
            // A closed receiver means the caller went away: dropping the stream cancels.
            if tx.send(item).await.is_err() || last {
                break;
            }
        }
    }

    async fn plan(&self) -> Result<SendableRecordBatchStream, QueryError> {
        let mib = self.limits.memory_mib;
        let snap = Snapshot::load(&self.data_dir)?;
        let ctx = session(&self.base, &self.limits, &snap, &self.scope)?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = ctx
            .sql_with_options(&self.sql, options)
            .await
            .map_err(|e| QueryError::from_datafusion(e, mib))?;
        df.execute_stream()
            .await
            .map_err(|e| QueryError::from_datafusion(e, mib))
    }
}

/// A session with its own memory pool (tracking the top consumers for the error message).
fn session(
    base: &Arc<RuntimeEnv>,
    limits: &Limits,
    snap: &Snapshot,
    scope: &Scope,
) -> Result<SessionContext, QueryError> {
    let pool = TrackConsumersPool::new(
        GreedyMemoryPool::new(limits.memory_mib.max(1) << 20),
        NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN),
    );
    let runtime = RuntimeEnvBuilder::from_runtime_env(base)
        .with_memory_pool(Arc::new(pool))
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
