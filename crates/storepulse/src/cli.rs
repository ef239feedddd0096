//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// StorePulse: real-time and offline e-commerce analytics in one binary.
#[derive(Debug, Parser)]
#[command(name = "storepulse", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: ./storepulse.toml if present).
    #[arg(long, global = true, env = "STOREPULSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the config's data_dir).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Time zone of day partitions (overrides the config's timezone).
    #[arg(long, global = true)]
    pub timezone: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import files (or `-` for stdin; .gz is detected) into the lake.
    Import(ImportArgs),
    /// Show counts per table, day and action, distinct users and items, time range.
    Stats(StatsArgs),
    /// Generate realistic events (Taobao CSV, NDJSON or straight into the lake).
    Gen(GenArgs),
    /// Show, count and re-import quarantined rows.
    Quarantine(QuarantineArgs),
    /// Merge small lake files, write missing sidecars (timelines, user sets) and apply retention.
    Compact(CompactArgs),
    /// Import every real sample data set and a generated day, then print the stats.
    Demo(DemoArgs),
    /// Run the HTTP server: durable ingest, live jobs, dimensions, stats, quarantine, metrics.
    Serve(ServeArgs),
    /// Run a live job over history: the lake or a file. `storepulse replay --list` lists jobs.
    Replay(Box<ReplayArgs>),
    /// Run read-only SQL over the whole lake (tables: behavior, orders, payment, login, ad_click,
    /// page_view, quarantine, results, items, users).
    Query(QueryArgs),
    /// Built-in analyses (funnels, retention, RFM, ...): `storepulse analyze --list` lists them.
    Analyze(Box<AnalyzeArgs>),
    /// Build a report (daily, weekly or one from [reports.<name>]): HTML with charts + CSV + JSON.
    Report(ReportArgs),
    /// Mining: clusters, association rules, decision trees on SQL over the lake, a CSV/Parquet
    /// file or a basket file. `storepulse mine --list` lists the tasks.
    Mine(Box<crate::cli_mine::MineArgs>),
    /// Create and list API keys.
    Keys(KeysArgs),
    /// Load generators and benchmarks.
    Bench(BenchArgs),
    /// Print a sample storepulse.toml with every setting, its default and its meaning.
    Config,
    /// Take a consistent backup of the data dir into a new directory (safe while `serve` runs).
    Backup(BackupArgs),
    /// Restore a backup into an empty --data-dir (the server stopped), folding its WAL.
    Restore(RestoreArgs),
}

/// `storepulse backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup directory to create (must not exist; hard links where on the same disk).
    pub dir: PathBuf,
}

/// `storepulse restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory written by `storepulse backup`.
    pub dir: PathBuf,
}

/// `storepulse serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.listen), e.g. 0.0.0.0:8720.
    #[arg(long)]
    pub listen: Option<String>,
}

/// `storepulse replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The job (`--list` shows each with its settings).
    #[arg(required_unless_present = "list", help = job_help())]
    pub job: Option<String>,
    /// List the jobs and exit.
    #[arg(long)]
    pub list: bool,
    /// `lake` (the data dir's lake, each shop in event-time order) or a file (`-` = stdin), read
    /// in file order like a live stream.
    #[arg(long, default_value = "lake")]
    pub from: String,
    /// Format of a --from file: taobao, access-log, ad-click, login, order, receipt,
    /// online-retail, ndjson, csv, parquet.
    #[arg(long, short)]
    pub format: Option<String>,
    /// Only this shop (lake), or the shop of a file's rows.
    #[arg(long)]
    pub shop: Option<String>,
    /// Lake rows from this time (RFC 3339 or unix seconds/ms).
    #[arg(long)]
    pub since: Option<String>,
    /// Lake rows before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Write results to this file: .csv (long form) or .json/.ndjson (one emission a line).
    #[arg(long, short)]
    pub out: Option<std::path::PathBuf>,
    /// Also append the results to the lake's results table (lake/results/).
    #[arg(long)]
    pub save: bool,
    /// Print nothing but the summary (figures for benchmarks).
    #[arg(long, short)]
    pub quiet: bool,
    /// Only emissions of this kind: result, update, late, blacklist, session.
    #[arg(long)]
    pub kind: Option<String>,
    /// Window length (overrides [jobs.<job>] window).
    #[arg(long)]
    pub window: Option<String>,
    /// Window slide.
    #[arg(long)]
    pub slide: Option<String>,
    /// Tumbling window lengths, comma separated (kpis, uv), e.g. 1min,1h,1d.
    #[arg(long, value_delimiter = ',')]
    pub windows: Option<Vec<String>>,
    /// N of the top-N.
    #[arg(long)]
    pub top: Option<usize>,
    /// Allowed lateness.
    #[arg(long)]
    pub lateness: Option<String>,
    /// Bounded out-of-orderness of the watermark.
    #[arg(long)]
    pub out_of_orderness: Option<String>,
    /// Blacklist threshold (ad-clicks).
    #[arg(long)]
    pub threshold: Option<u64>,
    /// Session gap (sessions).
    #[arg(long)]
    pub gap: Option<String>,
    /// Count distinct users exactly too (uv); `--exact false` keeps only the sketch.
    #[arg(long)]
    pub exact: Option<bool>,
}

/// `storepulse keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Key actions.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; it is printed once and stored only as a hash.
    Create {
        /// Scope (repeat for several): ingest, read, admin.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Bind the key to one shop (default: all shops).
        #[arg(long)]
        shop: Option<String>,
        /// A name for logs and the audit trail (default: key-<n>).
        #[arg(long)]
        name: Option<String>,
    },
    /// List stored keys (names, scopes, shops; never the keys).
    List,
    /// Revoke a stored key by name: a running server refuses it from its next request on.
    Revoke {
        /// The key's name (`storepulse keys list`).
        name: String,
    },
}

/// `storepulse bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub action: BenchAction,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// Send events to a running server over HTTP and report events/s and latency percentiles.
    Ingest(BenchIngestArgs),
    /// Time from an event that moves the watermark past a window's end to that window's
    /// hot-items result on the server's event stream.
    Freshness(BenchFreshnessArgs),
    /// Time SQL queries and built-in analyses on the lake (warm runs, in-process).
    Query(BenchQueryArgs),
    /// Time the mining algorithms and their references (mlxtend, scikit-learn, Weka) in the
    /// same run on the same data.
    Mining(BenchMiningArgs),
}

/// `storepulse bench mining`.
#[derive(Debug, Args)]
pub struct BenchMiningArgs {
    /// Where the real data sets are (Groceries, Online Retail).
    #[arg(
        long,
        env = "STOREPULSE_DATASETS",
        default_value = "../shared/datasets"
    )]
    pub datasets: PathBuf,
    /// Runs of each fit; the best counts.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// `storepulse bench query`.
#[derive(Debug, Args)]
pub struct BenchQueryArgs {
    /// SQL to time (repeatable), optionally named: `name=SELECT …`.
    #[arg(long)]
    pub sql: Vec<String>,
    /// Analysis to time (repeatable): `rfm`, or `funnel={"steps": …}` with JSON parameters.
    #[arg(long)]
    pub analysis: Vec<String>,
    /// Timed runs of each, after one untimed warm-up run.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

/// `storepulse bench freshness`.
#[derive(Debug, Args)]
pub struct BenchFreshnessArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8720")]
    pub url: String,
    /// API key with the ingest and read scopes (or STOREPULSE_KEY).
    #[arg(long, env = "STOREPULSE_KEY", hide_env_values = true)]
    pub key: String,
    /// Rounds to measure.
    #[arg(long, default_value_t = 50)]
    pub rounds: usize,
    /// Shop for the probe events (default: a fresh one per run).
    #[arg(long)]
    pub shop: Option<String>,
}

/// `storepulse bench ingest`.
#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8720")]
    pub url: String,
    /// API key with the ingest scope (or STOREPULSE_KEY).
    #[arg(long, env = "STOREPULSE_KEY", hide_env_values = true)]
    pub key: String,
    /// Events to send: 10M, 500K, 1000.
    #[arg(long, default_value = "1M")]
    pub events: String,
    /// Events per request (1 = single-event JSON requests).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent requests.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Target rate in events/s (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Send the events of this NDJSON file (e.g. from `storepulse gen --format ndjson`).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Prefix of generated event ids (default: a fresh one, so no event is a duplicate).
    #[arg(long, conflicts_with = "from")]
    pub run_id: Option<String>,
    /// Shop of the generated events: a scratch shop, so no real shop's figures include them
    /// (a shop-bound key needs its own shop here). A --from file's events keep their own.
    #[arg(long, default_value = "bench", conflicts_with = "from")]
    pub shop: String,
}

/// `storepulse import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import; `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Input format: taobao, access-log, ad-click, login, order, receipt, online-retail, ndjson, csv, parquet.
    #[arg(long, short)]
    pub format: String,
    /// Shop (tenant) to import into, for rows that name none.
    #[arg(long)]
    pub shop: Option<String>,
    /// Event type for csv / parquet / ndjson rows without a `type` column.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Map an event field to a CSV/Parquet column: `--map ts=time --map user_id=uid`.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub mapping: Vec<String>,
    /// Import again even if this exact file was already fully imported.
    #[arg(long)]
    pub force: bool,
    /// Rows per acknowledged commit (overrides import.rows_per_commit).
    #[arg(long)]
    pub rows_per_commit: Option<usize>,
    /// Print one line per acknowledged commit (for scripts and crash tests).
    #[arg(long)]
    pub print_acks: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `storepulse stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Skip counting distinct users and items (reads only the manifest).
    #[arg(long)]
    pub fast: bool,
    /// Count distinct users and items exactly by reading every id (default: merge per-file
    /// HyperLogLog sketches, ±0.8 %).
    #[arg(long, conflicts_with = "fast")]
    pub exact: bool,
}

/// `storepulse gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Behaviour events to generate: 1000, 10k, 1.5M, 100M.
    #[arg(long, default_value = "1M")]
    pub events: String,
    /// Days covered, starting 2017-11-25 (UTC+8) unless --start is given.
    #[arg(long, default_value_t = 9)]
    pub days: u32,
    /// Seed: the same seed gives the same events.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// First day, YYYY-MM-DD (local time UTC+8).
    #[arg(long)]
    pub start: Option<String>,
    /// Output: taobao (CSV of behaviour events), ndjson (every type) or lake (import directly).
    #[arg(long, default_value = "taobao")]
    pub format: String,
    /// Output file (`-` = stdout); not used with --format lake.
    #[arg(long, short, default_value = "-")]
    pub out: String,
    /// Shop for generated events.
    #[arg(long)]
    pub shop: Option<String>,
    /// Generator threads (0 = one per CPU); output is the same for any count.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// `storepulse quarantine`.
#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: QuarantineAction,
}

/// Quarantine actions.
#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List quarantined rows.
    List {
        /// Which rows.
        #[command(flatten)]
        filter: QuarantineFilter,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Count quarantined rows by reason and source.
    Stats,
    /// Re-import quarantined rows with the current rules; rows that pass leave the quarantine.
    Replay(QuarantineFilter),
}

/// Which quarantined rows.
#[derive(Debug, Args, Clone)]
pub struct QuarantineFilter {
    /// Only this reason (bad_number, ts_out_of_range, duplicate, ...).
    #[arg(long)]
    pub reason: Option<String>,
    /// Only rows whose source contains this text.
    #[arg(long)]
    pub source: Option<String>,
}

/// `storepulse compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Also delete day partitions older than this many days (overrides lake.retention_days),
    /// counted back from today unless --retention-from newest.
    #[arg(long)]
    pub retention_days: Option<u32>,
    /// What retention days count back from: `now` (today, in the lake's zone) or `newest`
    /// (the day of the newest event: keeps the last N days of an old history).
    /// Default: now.
    #[arg(long, value_parser = ["now", "newest"])]
    pub retention_from: Option<String>,
    /// Show what compaction and retention would do; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply retention even when it would drop every row of the lake.
    #[arg(long)]
    pub force: bool,
}

/// `storepulse demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the real data sets are.
    #[arg(
        long,
        env = "STOREPULSE_DATASETS",
        default_value = "../shared/datasets"
    )]
    pub datasets: PathBuf,
    /// Generated behaviour events (one day).
    #[arg(long, default_value = "1M")]
    pub events: String,
    /// Start from an empty data dir (deletes the demo's data dir first).
    #[arg(long)]
    pub fresh: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn import_needs_a_format() {
        assert!(Cli::try_parse_from(["storepulse", "import", "x.csv"]).is_err());
        let c =
            Cli::try_parse_from(["storepulse", "import", "x.csv", "--format", "taobao"]).unwrap();
        assert!(matches!(c.command, Command::Import(ref a) if a.files == ["x.csv"]));
    }
}

/// `storepulse query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL (one SELECT/WITH/EXPLAIN/DESCRIBE/SHOW statement); `-` reads it from stdin.
    pub sql: String,
    /// Output: table, csv, json, ndjson, arrow, parquet (parquet needs --out).
    #[arg(long, short, default_value = "table")]
    pub format: String,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// See only this shop's rows.
    #[arg(long)]
    pub shop: Option<String>,
    /// Print the rows/s and time to stderr.
    #[arg(long)]
    pub timing: bool,
}

/// `storepulse analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The analysis (`--list` shows each with its parameters).
    #[arg(required_unless_present = "list", help = analysis_help())]
    pub analysis: Option<String>,
    /// Funnel steps in order: an action (`pv`), `action:SQL condition`
    /// (`buy:category_id = 5`) or `:SQL condition`.
    pub steps: Vec<String>,
    /// List the analyses and exit.
    #[arg(long)]
    pub list: bool,
    /// First day (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (inclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Only this shop.
    #[arg(long)]
    pub shop: Option<String>,
    /// Parameters as JSON (what the API takes); flags override its keys.
    #[arg(long)]
    pub params: Option<String>,
    /// funnel, paths: the event table.
    #[arg(long)]
    pub table: Option<String>,
    /// funnel: conversion window (30m, 1d, 7d).
    #[arg(long)]
    pub window: Option<String>,
    /// funnel: each step must be the very next event.
    #[arg(long)]
    pub strict: bool,
    /// funnel: break down by this column's value on the first step.
    #[arg(long)]
    pub breakdown: Option<String>,
    /// retention: first-seen or first-purchase.
    #[arg(long)]
    pub cohort: Option<String>,
    /// retention: day or week.
    #[arg(long)]
    pub period: Option<String>,
    /// retention: the action that counts as returning (default: any event).
    #[arg(long)]
    pub returning: Option<String>,
    /// retention: periods after the first.
    #[arg(long)]
    pub periods: Option<u32>,
    /// rfm: measure recency to this day (default: the day after the last order).
    #[arg(long)]
    pub as_of: Option<String>,
    /// rfm: print every customer, not just the segments.
    #[arg(long)]
    pub customers: bool,
    /// rankings: item or category; paths: the column naming next events.
    #[arg(long)]
    pub by: Option<String>,
    /// rankings: pv, cart, fav, buy, users or conversion.
    #[arg(long)]
    pub metric: Option<String>,
    /// rankings, paths: how many rows.
    #[arg(long)]
    pub top: Option<usize>,
    /// repeat: auto, orders or behavior.
    #[arg(long)]
    pub source: Option<String>,
    /// paths: the anchor step (same forms as funnel steps).
    #[arg(long)]
    pub after: Option<String>,
    /// paths: events to follow after the anchor (1-5).
    #[arg(long)]
    pub depth: Option<usize>,
    /// paths: a longer gap ends a path (30m).
    #[arg(long)]
    pub max_gap: Option<String>,
}

/// `storepulse report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// daily, weekly, or a report defined under [reports.<name>] (`--list` shows all).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// The report's day (YYYY-MM-DD; weekly: any day of the week). Default: the lake's last day.
    #[arg(long)]
    pub date: Option<String>,
    /// Output directory (default: <data dir>/reports/<name>-<date>).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Only this shop.
    #[arg(long)]
    pub shop: Option<String>,
    /// List the reports and exit.
    #[arg(long, conflicts_with_all = ["name", "date", "out", "shop", "sink"])]
    pub list: bool,
    /// Also upsert the report's tables into the database of [sink] url.
    #[arg(long)]
    pub sink: bool,
}

/// The positional job argument's help, from the job registry.
fn job_help() -> String {
    let names: Vec<&str> = stream::job_registry::names().collect();
    format!(
        "The job: {} (`--list` shows each with its settings)",
        names.join(", ")
    )
}

/// The positional analysis argument's help, from the analysis registry.
fn analysis_help() -> String {
    let names: Vec<&str> = query::analysis::names().collect();
    format!(
        "The analysis: {} (`--list` shows each with its parameters)",
        names.join(", ")
    )
}
