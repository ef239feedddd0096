//! The running server: shared state, the route table (also the source of the OpenAPI check),
//! request metrics, startup recovery and graceful shutdown.

use crate::auth::{KeyStore, Principal, Scope};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::{analytics, dims, ingest, jobs, live, openapi, read};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use model::Rules;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::dedup::DedupIndex;
use store::{Folder, Store, StoreConfig, Wal, WalConfig};

/// Everything a handler needs.
pub struct App {
    /// Settings.
    pub cfg: ServerConfig,
    /// The store (locked briefly: commits, reads, dimension upserts).
    pub store: Arc<Mutex<Store>>,
    /// The event id index, shared with the store, locked per request.
    pub ids: Arc<Mutex<DedupIndex>>,
    /// Ids reserved by requests whose WAL append has not finished, with the outcome a duplicate
    /// must wait for (locked after `ids`, never before).
    pub inflight: Mutex<crate::ingest::InFlight>,
    /// The WAL writer.
    pub wal: Wal,
    /// Where the WAL lives.
    pub wal_dir: PathBuf,
    /// Why folding the WAL last failed, while it fails.
    pub fold_error: Arc<Mutex<Option<String>>>,
    /// API keys.
    pub keys: KeyStore,
    /// What a valid event is.
    pub rules: Rules,
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
    /// Every live emission, for server-sent-event subscribers.
    pub live_tx: tokio::sync::broadcast::Sender<Arc<stream::Emission>>,
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
}

impl App {
    /// Locks the store (a poisoned lock is taken over: every store operation is atomic on disk).
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the id index.
    pub fn ids(&self) -> std::sync::MutexGuard<'_, DedupIndex> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the in-flight ids (take [`App::ids`] first when both are needed).
    pub fn inflight(&self) -> std::sync::MutexGuard<'_, crate::ingest::InFlight> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Authorizes a request for a scope. Requests that arrive during shutdown were refused by
    /// [`crate::admit`] already; those admitted before it are finished, not refused here.
    pub fn auth(&self, headers: &HeaderMap, scope: Scope) -> Result<Principal, ApiError> {
        self.keys.authorize(headers, scope)
    }
}

/// Shared state type of the router.
pub type AppState = Arc<App>;

/// The routes, with the (method, path) list that the OpenAPI document must match.
pub struct Routes {
    router: Router<AppState>,
    /// Every (METHOD, path) served.
    pub list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(mut self, method: &'static str, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.list.push((method, path));
        self.router = self.router.route(path, mr);
        self
    }
}

/// Builds the route table.
pub fn routes() -> Routes {
    let r = Routes {
        router: Router::new(),
        list: Vec::new(),
    };
    r.add("GET", "/health", get(read::health))
        .add("GET", "/metrics", get(read::metrics))
        .add("GET", "/v1/openapi.json", get(openapi::serve_doc))
        .add("POST", "/v1/events", post(ingest::post_events))
        .add("PUT", "/v1/items", put(dims::put_items))
        .add("GET", "/v1/items/{id}", get(dims::get_item))
        .add("PUT", "/v1/users", put(dims::put_users))
        .add("GET", "/v1/users/{id}", get(dims::get_user))
        .add("DELETE", "/v1/users/{id}", delete(dims::delete_user))
        .add("GET", "/v1/stats", get(read::stats))
        .add("GET", "/v1/quarantine", get(read::quarantine))
        .add("POST", "/v1/quarantine/replay", post(read::replay))
        .add("GET", "/v1/audit", get(read::audit))
        .add("GET", "/v1/live", get(live::list))
        .add("GET", "/v1/live/stream", get(live::sse))
        .add("GET", "/v1/live/{job}", get(live::latest))
        .add("GET", "/v1/live/{job}/history", get(live::history))
        .add("POST", "/v1/query", post(analytics::post_query))
        .add("GET", "/v1/analyses", get(analytics::list_analyses))
        .add(
            "POST",
            "/v1/analyses/{name}",
            post(analytics::post_analysis),
        )
        .add("GET", "/v1/jobs", get(jobs::list))
        .add("GET", "/v1/jobs/runs", get(jobs::runs))
        .add("POST", "/v1/jobs/{name}/run", post(jobs::run_now))
}

/// The complete router over a state.
pub fn router(app: AppState) -> Router {
    let limit = app.cfg.max_body_bytes;
    routes()
        .router
        .fallback(|| async { ApiError::not_found("no such endpoint; see GET /v1/openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see GET /v1/openapi.json",
            )
        })
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::admit::admit,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// Records each request's latency by route, method and status.
async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let t = Instant::now();
    let resp = next.run(req).await;
    app.metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), resp.status().as_str()])
        .observe(t.elapsed().as_secs_f64());
    resp
}

/// What `serve` needs besides the server section.
pub struct ServeOptions {
    /// Store layout.
    pub store: StoreConfig,
    /// Validation rules.
    pub rules: Rules,
    /// Server settings.
    pub server: ServerConfig,
    /// Parse options for quarantine replays.
    pub parse_base: collect::ParseOptions,
    /// Background compaction merges a partition's files smaller than this...
    pub compact_small_bytes: u64,
    /// ...into files of up to this many rows.
    pub compact_target_rows: u64,
    /// The live engine's settings (`None`: no live jobs).
    pub live: Option<stream::live::LiveConfig>,
    /// Limits of SQL queries and analyses.
    pub query: query::Limits,
    /// Scheduled tasks.
    pub schedule: Vec<crate::scheduler::ScheduleSpec>,
    /// Report definitions besides daily and weekly.
    pub reports: std::collections::BTreeMap<String, query::report::ReportSpec>,
    /// The result sink (`[sink]`).
    pub sink: crate::sinks::SinkConfig,
}

/// Opens the store, folds what a previous run left in the WAL, and builds the state.
pub fn open(opts: ServeOptions) -> Result<(AppState, Folder), store::StoreError> {
    let wal_dir = opts.store.data_dir.join("wal");
    let mut st = Store::open(opts.store.clone())?;
    // Startup recovery: everything acknowledged before a crash reaches the lake (and its ids
    // the dedup index) before the first new request is answered.
    let recovered = st.fold_wal(&wal_dir)?;
    if recovered > 0 {
        tracing::info!(
            rows = recovered,
            "folded events left in the WAL by the last run"
        );
    }
    let ids = st.ids();
    let store = Arc::new(Mutex::new(st));
    let wal = Wal::open(
        &wal_dir,
        WalConfig {
            queue: opts.server.wal_queue.max(1),
            ..WalConfig::default()
        },
    )?;
    let keys = KeyStore::new(opts.server.keys.clone(), &opts.store.data_dir).map_err(|err| {
        store::StoreError::Io {
            context: "reading API keys".into(),
            err,
        }
    })?;
    let audit = crate::audit::Audit::new(&opts.store.data_dir);
    let folder = Folder::spawn_with(
        store.clone(),
        wal_dir.clone(),
        wal.state(),
        Duration::from_millis(opts.server.fold_interval_ms.max(10)),
        Some(store::fold::AutoCompact {
            every: Duration::from_secs(opts.server.compact_interval_secs.max(1)),
            small_bytes: opts.compact_small_bytes,
            target_rows: opts.compact_target_rows,
        }),
    );
    let (live_tx, _) = tokio::sync::broadcast::channel(4096);
    let live = match opts.live {
        Some(cfg) => {
            let tx = live_tx.clone();
            let subscriber: stream::live::Subscriber = Arc::new(move |es| {
                for e in es {
                    // No subscriber is fine: the emission is still kept and persisted.
                    let _ = tx.send(e.clone());
                }
            });
            let engine = stream::live::Live::start(cfg, Some(subscriber), Some(store.clone()))
                .map_err(|e| store::StoreError::Io {
                    context: "starting the live engine".into(),
                    err: std::io::Error::other(e.to_string()),
                })?;
            Some(Arc::new(engine))
        }
        None => None,
    };
    let engine = query::Engine::new(&opts.store.data_dir, opts.query.clone()).map_err(|e| {
        store::StoreError::Io {
            context: "starting the query engine".into(),
            err: std::io::Error::other(e.to_string()),
        }
    })?;
    let engine = Arc::new(engine);
    let sink = connect_sink(&opts.sink)?;
    let scheduler = if opts.schedule.is_empty() {
        None
    } else {
        let runner = crate::tasks::runner(crate::tasks::TaskEnv {
            store: store.clone(),
            engine: engine.clone(),
            zone: opts.store.zone,
            data_dir: opts.store.data_dir.clone(),
            reports: opts.reports.clone(),
            compact_small_bytes: opts.compact_small_bytes,
            compact_target_rows: opts.compact_target_rows,
            sink: sink.as_ref().map(|(s, _)| s.clone()),
        });
        let log = opts.store.data_dir.join("state/job-runs.ndjson");
        let s = crate::scheduler::Scheduler::new(
            opts.schedule.clone(),
            opts.store.zone,
            Some(log),
            runner,
        )
        .map_err(|e| store::StoreError::Io {
            context: "reading [[schedule]]".into(),
            err: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        Some(s)
    };
    let app = Arc::new(App {
        cfg: opts.server,
        store,
        ids,
        inflight: Mutex::default(),
        wal,
        wal_dir,
        fold_error: folder.error_handle(),
        keys,
        rules: opts.rules,
        metrics: Metrics::new(),
        closing: AtomicBool::new(false),
        audit,
        parse_base: opts.parse_base,
        live,
        live_tx,
        shutdown: tokio::sync::watch::channel(false).0,
        query: engine,
        zone: opts.store.zone,
        scheduler,
        sink,
    });
    Ok((app, folder))
}

/// Connects the result sink, if one is configured (from a blocking thread of the runtime).
fn connect_sink(
    cfg: &crate::sinks::SinkConfig,
) -> Result<Option<(sink::Sink, crate::sinks::SinkConfig)>, store::StoreError> {
    if !cfg.enabled() {
        return Ok(None);
    }
    let err = |e: String| store::StoreError::Io {
        context: "connecting the result sink ([sink] url)".into(),
        err: std::io::Error::other(e),
    };
    let handle = tokio::runtime::Handle::try_current().map_err(|e| err(e.to_string()))?;
    let s = handle
        .block_on(sink::Sink::connect(&cfg.url, &cfg.table_prefix))
        .map_err(|e| err(e.to_string()))?;
    Ok(Some((s, cfg.clone())))
}

/// Runs the server until SIGTERM or SIGINT, then stops taking requests, lets in-flight ones
/// finish (for at most `server.shutdown_timeout_secs`), folds the WAL one last time and returns.
pub async fn serve(
    app: AppState,
    folder: Folder,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    if app.keys.is_empty() {
        tracing::warn!(
            "no API keys are configured: every request will get 401; create one with `storepulse keys create --scope admin`"
        );
    }
    let addr = listener.local_addr()?;
    if let Some(s) = &app.scheduler {
        s.start(app.shutdown.subscribe());
    }
    if let Some((sink, cfg)) = &app.sink
        && cfg.live
        && app.live.is_some()
    {
        crate::sinks::spawn_live(
            sink.clone(),
            app.live_tx.subscribe(),
            cfg.flush_secs,
            app.shutdown.subscribe(),
        );
    }
    tracing::info!(%addr, "listening");
    let closing = app.clone();
    let server = axum::serve(listener, router(app.clone())).with_graceful_shutdown(async move {
        shutdown_signal().await;
        closing.closing.store(true, Ordering::SeqCst);
        closing.shutdown.send_replace(true);
        tracing::info!("shutting down: finishing in-flight requests");
    });
    // Graceful shutdown waits for every connection; a client that never finishes must not hold
    // the process. Dropping one unanswered is safe: nothing it sent was acknowledged.
    let mut signalled = app.shutdown.subscribe();
    let grace = Duration::from_secs(app.cfg.shutdown_timeout_secs);
    let deadline = async move {
        let _ = signalled.wait_for(|v| *v).await;
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        r = std::future::IntoFuture::into_future(server) => r,
        () = deadline => {
            tracing::warn!(
                secs = grace.as_secs(),
                "requests still open after server.shutdown_timeout_secs; dropping them unanswered"
            );
            Ok(())
        }
    };
    let live = app.live.clone();
    tokio::task::spawn_blocking(move || {
        folder.stop();
        if let Some(l) = live {
            l.stop();
        }
    })
    .await
    .map_err(std::io::Error::other)?;
    tracing::info!("WAL folded; bye");
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
