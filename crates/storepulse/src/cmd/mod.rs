//! One module per subcommand.

mod analyze;
mod bench;
mod bench_query;
mod compact;
mod demo;
mod generate;
mod import;
mod keys;
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
        Command::Keys(a) => keys::run(&cfg, a, cli.json),
        Command::Bench(a) => bench::run(&cfg, a, cli.json),
        Command::Config => {
            print!("{}", Config::sample());
            Ok(())
        }
    }
}

/// Opens the store, explaining how to fix the usual problems.
pub fn open_store(cfg: &Config) -> Result<store::Store> {
    let sc = cfg.store()?;
    store::Store::open(sc)
        .map_err(|e| anyhow::anyhow!("cannot open the data dir {}: {e}", cfg.data_dir.display()))
}

/// Opens a read-only view (no lock: works while an import or the server is writing).
pub fn open_store_read(cfg: &Config) -> Result<store::Store> {
    let sc = cfg.store()?;
    store::Store::open_read_only(sc)
        .map_err(|e| anyhow::anyhow!("cannot read the data dir {}: {e}", cfg.data_dir.display()))
}
