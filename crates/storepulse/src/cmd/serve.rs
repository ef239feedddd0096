//! `storepulse serve`: the HTTP server on the embedded store.

use crate::cli::ServeArgs;
use crate::config::Config;
use anyhow::{Context, Result};

pub fn run(cfg: &Config, args: &ServeArgs) -> Result<()> {
    let mut server = cfg.server.clone();
    if let Some(l) = &args.listen {
        server.listen = l.clone();
    }
    let opts = server::ServeOptions {
        store: cfg.store()?,
        rules: cfg.rules()?,
        parse_base: super::import::parse_options(cfg, collect::Format::Ndjson)?,
        server: server.clone(),
        compact_small_bytes: cfg.lake.compact_small_file_mb << 20,
        // Each merge holds the store lock (folding waits for it): keep them short.
        compact_target_rows: cfg.lake.compact_target_rows.min(2 << 20),
        live: cfg.live()?,
        query: cfg.query.clone(),
        schedule: cfg.schedule.clone(),
        reports: cfg.reports.clone(),
        sink: cfg.sink.clone(),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if server.workers > 0 {
        rt.worker_threads(server.workers);
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&server.listen)
            .await
            .with_context(|| {
                format!("cannot listen on {} (in use? try --listen)", server.listen)
            })?;
        let (app, folder) = tokio::task::spawn_blocking(move || server::open(opts))
            .await?
            .with_context(|| format!("cannot open the data dir {}", cfg.data_dir.display()))?;
        eprintln!(
            "storepulse serving on http://{} (data dir {})",
            listener.local_addr()?,
            cfg.data_dir.display()
        );
        server::serve(app, folder, listener).await?;
        Ok(())
    });
    // Requests dropped at the shutdown timeout may leave blocking work behind: do not wait.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}
