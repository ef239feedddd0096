//! Starting and stopping the server: opening the store, startup recovery (folding what the last
//! run left in the WAL), building the state, serving until a signal, and graceful shutdown.

use crate::auth::KeyStore;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::state::{App, AppState};
use model::Rules;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Folder, Store, StoreConfig, Wal, WalConfig};

/// Emissions an event-stream client can miss and still resume without a gap.
const SSE_REPLAY: usize = 10_000;

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
    let live_log = Arc::new(crate::live_log::LiveLog::new(SSE_REPLAY));
    let live = match opts.live {
        Some(cfg) => {
            let log = live_log.clone();
            let subscriber: stream::live::Subscriber = Arc::new(move |es| {
                for e in es {
                    // No subscriber is fine: the emission is still kept and persisted.
                    log.publish(e.clone());
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
    let metrics = Metrics::new();
    let wal_append = metrics.wal_append.clone();
    let hooks = ingest::Hooks {
        // Live jobs see a batch once it is durable, in WAL order (on the writer thread).
        on_durable: live.clone().map(|l| {
            let hook: ingest::DurableHook = Arc::new(move |tables| l.submit(tables));
            hook
        }),
        on_append: Some(Arc::new(move |ok, secs| {
            wal_append
                .with_label_values(&[if ok { "ok" } else { "error" }])
                .observe(secs);
        })),
    };
    let ingest = Arc::new(ingest::Ingestor::new(store.clone(), wal, opts.rules, hooks));
    let app = Arc::new(App {
        cfg: opts.server,
        store,
        ingest,
        wal_dir,
        fold_error: folder.error_handle(),
        keys,
        metrics,
        closing: AtomicBool::new(false),
        audit,
        parse_base: opts.parse_base,
        live,
        live_log,
        shutdown: tokio::sync::watch::channel(false).0,
        query: engine,
        zone: opts.store.zone,
        scheduler,
        sink,
        mining_runs: crate::mining::Runs::open(&opts.store.data_dir),
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
            app.live_log.subscribe(),
            cfg.flush_secs,
            app.shutdown.subscribe(),
        );
    }
    let tls = match (app.cfg.tls_cert.trim(), app.cfg.tls_key.trim()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "set both server.tls_cert and server.tls_key (PEM files), or neither",
            ));
        }
        (cert, key) => Some(crate::tls::acceptor(cert, key)?),
    };
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    let closing = app.clone();
    let stop = async move {
        shutdown_signal().await;
        closing.closing.store(true, Ordering::SeqCst);
        closing.shutdown.send_replace(true);
        tracing::info!("shutting down: finishing in-flight requests");
    };
    if let Some(acceptor) = tls {
        let grace = Duration::from_secs(app.cfg.shutdown_timeout_secs);
        let router = crate::routes::router(app.clone());
        let result = crate::tls::serve(listener, acceptor, router, stop, grace).await;
        finish(&app, folder).await?;
        return result;
    }
    let server =
        axum::serve(listener, crate::routes::router(app.clone())).with_graceful_shutdown(stop);
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
    finish(&app, folder).await?;
    result
}

/// After the last request: the final fold of the WAL and the live engine's last flush.
async fn finish(app: &AppState, folder: Folder) -> std::io::Result<()> {
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
    Ok(())
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
