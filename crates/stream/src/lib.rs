//! # storepulse-stream
//!
//! The real-time stage: an event-time engine and the live e-commerce jobs that run on it, fed
//! either by the ingest server (live) or by the lake or a file (replay) — the same code on the
//! same batches, so live and replay agree.
//!
//! - [`geometry`] — tumbling, sliding (hopping) and calendar-day windows, cut into panes.
//! - [`watermark`] — bounded out-of-orderness watermarks over several sources, idle sources.
//! - [`schedule`] — when windows fire, fire again (allowed lateness), and expire.
//! - [`counts`] — incremental sliding counts and top-N (the hot jobs' core).
//! - [`windowed`] — windows of any mergeable accumulator (sets, sketches, KPI records).
//! - [`session`] — session windows with merging.
//! - [`jobs`] — kpis, hot-items, hot-categories, hot-pages, uv, channel-stats, ad-clicks, sessions.
//! - [`emit`] — what jobs output (results, updates, late events, alerts) and its JSON/CSV forms.
//! - [`replay`] — running jobs over the lake or a file; [`results`] — the lake's results table.
//! - [`live`] — the engine inside `storepulse serve`: a thread fed by ingest, recent history,
//!   subscribers for server-sent events.
//!
//! State is partitioned by shop, and all accumulators merge (sums, sets, sketches), so a job can
//! later be split across workers by key and still give the same results.
#![deny(missing_docs)]

mod cols;
pub mod counts;
pub mod emit;
pub mod geometry;
pub mod jobs;
pub mod live;
mod panes;
pub mod replay;
pub mod results;
pub mod schedule;
pub mod session;
pub mod watermark;
pub mod windowed;

pub use emit::{Emission, KeyVal, Kind, Row};
pub use jobs::registry::{self as job_registry, JobDef, REGISTRY as JOBS};
pub use jobs::{Counters, Input, Job, JobConfig, ShopStatus, build};

/// Why a job or a replay could not go on.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// An input batch does not have the expected columns.
    #[error("bad input: {0}")]
    Input(String),
    /// Reading or writing failed.
    #[error("{context}: {err}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        err: std::io::Error,
    },
    /// The lake could not be read.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A file could not be parsed.
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
}
