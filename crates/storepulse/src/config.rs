//! `storepulse.toml`: every setting, documented once on its field. Precedence, lowest first:
//! built-in defaults, the config file, `STOREPULSE_*` environment variables (nested keys joined
//! by `__`, e.g. `STOREPULSE_IMPORT__ROWS_PER_COMMIT=500000`), command-line flags.

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where everything is kept: wal/, lake/, quarantine/, catalog/, state/.
    pub data_dir: PathBuf,
    /// Time zone of day partitions and calendar windows: UTC, an offset like +08:00, or an IANA
    /// name like Asia/Shanghai. The Taobao and course data sets are UTC+8.
    pub timezone: String,
    /// What counts as a valid event.
    pub validation: ValidationConfig,
    /// How files are imported.
    pub import: ImportSection,
    /// Lake upkeep.
    pub lake: LakeSection,
    /// The HTTP server (`storepulse serve`).
    pub server: server::ServerConfig,
    /// The live engine inside `storepulse serve`.
    pub live: LiveSection,
    /// Limits of SQL queries and analyses (`storepulse query`, `POST /v1/query`).
    pub query: query::Limits,
    /// Report definitions besides the built-in daily and weekly (`storepulse report <name>`):
    /// title, days, and sections of {title, analysis, params, chart = {kind, table, x, y}}.
    pub reports: std::collections::BTreeMap<String, query::report::ReportSpec>,
    /// Tasks `storepulse serve` runs on a cron schedule (`[[schedule]]`): name, cron, task =
    /// report | compact | retention, report, shop, days_ago, days, retries, retry_delay_secs.
    pub schedule: Vec<server::scheduler::ScheduleSpec>,
    /// Where report tables (`report --sink`, schedules with `sink = true`) and live job results
    /// are upserted: url (postgres:// or mysql://; empty = none), table_prefix, live, flush_secs.
    pub sink: server::sinks::SinkConfig,
    /// Settings per job (`[jobs.hot-items]`, …): window, slide, top, lateness,
    /// out_of_orderness, idle_timeout, action, method, exclude, threshold, gap, exact, windows.
    /// `replay` and `serve` both use them; replay flags override them.
    pub jobs: std::collections::BTreeMap<String, stream::JobConfig>,
}

/// Live engine settings.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSection {
    /// Run jobs on ingested events.
    pub enabled: bool,
    /// Jobs to run live.
    pub jobs: Vec<String>,
    /// Emissions (and late events) kept in memory per job for the API.
    pub history: usize,
    /// Write every emission to the lake's results table (lake/results/).
    pub persist: bool,
    /// Seconds between writes of buffered results to the lake.
    pub flush_secs: u64,
    /// Milliseconds between checks for idle sources.
    pub tick_ms: u64,
}

impl Default for LiveSection {
    fn default() -> Self {
        LiveSection {
            enabled: true,
            jobs: stream::job_registry::names().map(String::from).collect(),
            history: 1000,
            persist: true,
            flush_secs: 10,
            tick_ms: 200,
        }
    }
}

/// Validation settings.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Earliest plausible event time (RFC 3339).
    pub min_ts: String,
    /// Latest plausible event time (RFC 3339); empty means "now + max_future_secs".
    pub max_ts: String,
    /// How far in the future an event may lie when max_ts is empty, in seconds.
    pub max_future_secs: i64,
    /// Behaviour actions accepted besides pv, cart, fav, buy.
    pub extra_actions: Vec<String>,
}

/// Import settings.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSection {
    /// Rows per commit: each commit is one acknowledged, crash-safe batch.
    pub rows_per_commit: usize,
    /// Parser threads (0 = one per CPU).
    pub threads: usize,
    /// Parquet encoder threads (0 = one per CPU).
    pub encoders: usize,
    /// zstd level of lake files (1 = fastest; 3 = smaller).
    pub zstd_level: i32,
    /// Zone of naive local times in imported files (Online Retail's InvoiceDate).
    pub naive_timezone: String,
}

/// Lake upkeep settings.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LakeSection {
    /// Compaction merges a day partition's files smaller than this many MiB.
    pub compact_small_file_mb: u64,
    /// Compaction writes files of up to this many rows.
    pub compact_target_rows: u64,
    /// Keep event data this many days (0 = forever).
    pub retention_days: u32,
    /// How long an accepted event_id is remembered, in days: a resend within it is answered as
    /// a duplicate and not stored again. Memory is about 40 bytes per id in that window.
    pub dedup_horizon_days: u32,
    /// Recent ids kept in a hash map (about 50 bytes each) before they are sealed into a sorted
    /// run (about 17 bytes each).
    pub dedup_seal_ids: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./storepulse-data"),
            timezone: "UTC".into(),
            validation: ValidationConfig::default(),
            import: ImportSection::default(),
            lake: LakeSection::default(),
            server: server::ServerConfig::default(),
            live: LiveSection::default(),
            query: query::Limits::default(),
            reports: Default::default(),
            schedule: Vec::new(),
            sink: server::sinks::SinkConfig::default(),
            jobs: Default::default(),
        }
    }
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            min_ts: "2000-01-01T00:00:00Z".into(),
            max_ts: String::new(),
            max_future_secs: 86_400,
            extra_actions: Vec::new(),
        }
    }
}

impl Default for ImportSection {
    fn default() -> Self {
        ImportSection {
            rows_per_commit: 1 << 20,
            threads: 0,
            encoders: 0,
            zstd_level: 1,
            naive_timezone: "UTC".into(),
        }
    }
}

impl Default for LakeSection {
    fn default() -> Self {
        LakeSection {
            compact_small_file_mb: 32,
            compact_target_rows: 16 << 20,
            retention_days: 0,
            dedup_horizon_days: 7,
            dedup_seal_ids: 1 << 18,
        }
    }
}

impl Config {
    /// Loads defaults ← file (explicit path, or ./storepulse.toml if present) ← environment.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) => {
                anyhow::ensure!(
                    p.exists(),
                    "config file {} does not exist (run `storepulse config > {}` for a sample)",
                    p.display(),
                    p.display()
                );
                fig = fig.merge(Toml::file(p));
            }
            None if Path::new("storepulse.toml").exists() => {
                fig = fig.merge(Toml::file("storepulse.toml"))
            }
            None => {}
        }
        // STOREPULSE_* variables that are not settings: the config path, logging, crash points,
        // and the knobs of the test suites (data sets, binaries, database URLs).
        fig = fig.merge(
            Env::prefixed("STOREPULSE_")
                .split("__")
                .ignore(&["config", "log", "crash_at", "datasets", "bin", "results"])
                .filter(|k| !k.as_str().starts_with("test_")),
        );
        fig.extract().context("invalid configuration")
    }

    /// Validation rules from the config.
    pub fn rules(&self) -> Result<model::Rules> {
        let min = model::time::parse_ts(&self.validation.min_ts).map_err(|e| {
            anyhow::anyhow!("validation.min_ts {:?}: {}", self.validation.min_ts, e.0)
        })?;
        let max = if self.validation.max_ts.trim().is_empty() {
            None
        } else {
            Some(
                model::time::parse_ts(&self.validation.max_ts)
                    .map_err(|e| anyhow::anyhow!("validation.max_ts: {}", e.0))?,
            )
        };
        let rules = model::Rules {
            min_ts_ms: min,
            max_ts_ms: max,
            max_future_secs: self.validation.max_future_secs,
            extra_actions: self.validation.extra_actions.clone(),
        };
        Ok(rules.pinned())
    }

    /// Store settings from the config.
    pub fn store(&self) -> Result<store::StoreConfig> {
        let zone = self
            .timezone
            .parse()
            .map_err(|e: String| anyhow::anyhow!("timezone: {e}"))?;
        let mut c = store::StoreConfig::new(&self.data_dir);
        c.zone = zone;
        c.zstd_level = self.import.zstd_level;
        c.dedup_horizon_days = self.lake.dedup_horizon_days.max(1);
        c.dedup_seal_ids = self.lake.dedup_seal_ids.max(1);
        Ok(c)
    }

    /// The zone of day partitions and calendar windows.
    pub fn zone(&self) -> Result<store::Zone> {
        self.timezone
            .parse()
            .map_err(|e: String| anyhow::anyhow!("timezone: {e}"))
    }

    /// A job's settings from the config (defaults when absent).
    pub fn job(&self, name: &str) -> stream::JobConfig {
        self.jobs.get(name).cloned().unwrap_or_default()
    }

    /// The live engine's settings (`None` when disabled).
    pub fn live(&self) -> Result<Option<stream::live::LiveConfig>> {
        if !self.live.enabled || self.live.jobs.is_empty() {
            return Ok(None);
        }
        for (name, jc) in &self.jobs {
            let def = stream::job_registry::find(name)
                .map_err(|e| anyhow::anyhow!("[jobs.{name}]: {e}"))?;
            def.check(jc)?;
        }
        Ok(Some(stream::live::LiveConfig {
            jobs: self
                .live
                .jobs
                .iter()
                .map(|n| (n.clone(), self.job(n)))
                .collect(),
            zone: self.zone()?,
            history: self.live.history.max(1),
            save_results: self.live.persist,
            flush_every: std::time::Duration::from_secs(self.live.flush_secs.max(1)),
            tick_every: std::time::Duration::from_millis(self.live.tick_ms.max(10)),
        }))
    }

    /// A commented sample config with every default.
    pub fn sample() -> String {
        crate::config_doc::sample()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_config_loads_back_to_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("storepulse.toml");
        std::fs::write(&p, Config::sample()).unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(
            toml::to_string(&c).unwrap(),
            toml::to_string(&Config::default()).unwrap()
        );
    }

    #[test]
    fn unknown_keys_and_bad_zones_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "data_dri = \"x\"\n").unwrap();
        assert!(Config::load(Some(&p)).is_err());
        let c = Config {
            timezone: "Mars/Base".into(),
            ..Config::default()
        };
        assert!(c.store().unwrap_err().to_string().contains("Mars/Base"));
    }
}
