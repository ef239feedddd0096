//! One module per subcommand.

mod analyze;
mod backup;
mod bench;
mod bench_query;
mod compact;
mod demo;
mod generate;
mod import;
mod keys;
mod mine;
mod quarantine;
mod query;
mod replay;
mod report;
mod serve;
mod stats;

use crate::cli::{Cli, Command};
use crate::config::Config;
use anyhow::Result;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(tz) = &cli.timezone {
        cfg.timezone = tz.clone();
    }
    match &cli.command {
        Command::Import(a) => import::run(&cfg, a, cli.json),
        Command::Stats(a) => stats::run(&cfg, a, cli.json),
        Command::Gen(a) => generate::run(&cfg, a),
        Command::Quarantine(a) => quarantine::run(&cfg, a, cli.json),
        Command::Compact(a) => compact::run(&cfg, a, cli.json),
        Command::Demo(a) => demo::run(&cfg, a),
        Command::Serve(a) => serve::run(&cfg, a),
        Command::Replay(a) => replay::run(&cfg, a, cli.json),
        Command::Query(a) => query::run(&cfg, a),
        Command::Analyze(a) => analyze::run(&cfg, a, cli.json),
        Command::Report(a) => report::run(&cfg, a, cli.json),
        Command::Mine(a) => mine::run(&cfg, a, cli.json),
        Command::Keys(a) => keys::run(&cfg, a, cli.json),
        Command::Bench(a) => bench::run(&cfg, a, cli.json),
        Command::Backup(a) => backup::backup(&cfg, a, cli.json),
        Command::Restore(a) => backup::restore(&cfg, a, cli.json),
        Command::Config => {
            print!("{}", Config::sample());
            Ok(())
        }
    }
}

/// A mistake on the command line that clap could not see (an unknown format, analysis, job,
/// action or scope; a flag that does not apply): exit code 2, as for clap's own usage errors.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A [`Usage`] error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Upserts result tables into the `[sink]` database and says how much was written.
pub fn write_sink(
    cfg: &Config,
    engine: &::query::Engine,
    tables: &[sink::SinkTable],
) -> Result<()> {
    let sink = engine
        .block_on(sink::Sink::connect(&cfg.sink.url, &cfg.sink.table_prefix))
        .map_err(|e| anyhow::anyhow!("connecting [sink] url: {e}"))?;
    let mut rows = 0;
    for t in tables {
        rows += engine
            .block_on(sink.write(t))
            .map_err(|e| anyhow::anyhow!("writing {} to the sink: {e}", t.name))?
            .rows;
    }
    eprintln!(
        "wrote {} tables ({rows} rows) to the {} sink",
        tables.len(),
        sink.kind()
    );
    Ok(())
}

/// Opens the store, explaining how to fix the usual problems.
pub fn open_store(cfg: &Config) -> Result<store::Store> {
    let sc = cfg.store()?;
    store::Store::open(sc)
        .map_err(|e| anyhow::anyhow!("cannot open the data dir {}: {e}", cfg.data_dir.display()))
}

/// Opens a read-only view (no lock: works while an import or the server is writing).
pub fn open_store_read(cfg: &Config) -> Result<store::Store> {
    if !cfg.data_dir.join("lake").is_dir() {
        anyhow::bail!(
            "there is no lake in {} yet (check --data-dir or the config's data_dir); import something first, e.g.\n  storepulse import ../shared/datasets/taobao_userbehavior/UserBehavior.csv --format taobao",
            cfg.data_dir.display()
        );
    }
    let sc = cfg.store()?;
    store::Store::open_read_only(sc)
        .map_err(|e| anyhow::anyhow!("cannot read the data dir {}: {e}", cfg.data_dir.display()))
}
