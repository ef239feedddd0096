//! What every handler shares: the server's state and how a request is authorised. Below the
//! handlers (which read it) and the routes (which wire them); it imports neither.

use crate::auth::{KeyStore, Principal, Scope};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::http::HeaderMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use store::{Store, Wal};

/// Everything a handler needs.
pub struct App {
    /// Settings.
    pub cfg: ServerConfig,
    /// The store (locked briefly: commits, reads, dimension upserts).
    pub store: Arc<Mutex<Store>>,
    /// The ingest path (validation, dedup, WAL submit), shared with every source.
    pub ingest: Arc<ingest::Ingestor>,
    /// Where the WAL lives.
    pub wal_dir: PathBuf,
    /// Why folding the WAL last failed, while it fails.
    pub fold_error: Arc<Mutex<Option<String>>>,
    /// API keys.
    pub keys: KeyStore,
    /// Metrics.
    pub metrics: Metrics,
    /// Set once shutdown starts: new requests get 503.
    pub closing: AtomicBool,
    /// The audit log.
    pub audit: crate::audit::Audit,
    /// Parse options (rules, time zones) for quarantine replays; the format is set per group.
    pub parse_base: collect::ParseOptions,
    /// The live engine, fed with every durable batch (`None` when disabled).
    pub live: Option<Arc<stream::live::Live>>,
    /// Every live emission, numbered, for event-stream subscribers (resumable) and the sink.
    pub live_log: Arc<crate::live_log::LiveLog>,
    /// Set at shutdown so that endless responses (event streams) end.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// The SQL engine for queries and analyses (its own runtime).
    pub query: Arc<query::Engine>,
    /// The lake's calendar zone.
    pub zone: store::Zone,
    /// The scheduler (`None` without `[[schedule]]` entries).
    pub scheduler: Option<Arc<crate::scheduler::Scheduler>>,
    /// The result sink and its settings (`None` unless `[sink] url` is set).
    pub sink: Option<(sink::Sink, crate::sinks::SinkConfig)>,
    /// The mining run log.
    pub mining_runs: crate::mining::Runs,
}

impl App {
    /// Locks the store (a poisoned lock is taken over: every store operation is atomic on disk).
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The WAL writer (the ingest path's).
    pub fn wal(&self) -> &Wal {
        self.ingest.wal()
    }

    /// Authorizes a request for a scope. Requests that arrive during shutdown were refused by
    /// [`crate::admit`] already; those admitted before it are finished, not refused here.
    pub fn auth(&self, headers: &HeaderMap, scope: Scope) -> Result<Principal, ApiError> {
        self.keys.authorize(headers, scope)
    }
}

/// Shared state type of the router.
pub type AppState = Arc<App>;
