//! What scheduled tasks do: build a report, compact the lake (and write missing sidecars),
//! apply retention.

use crate::scheduler::{ScheduleSpec, TaskFn};
use query::analysis::Ctx;
use query::report::{self, ReportSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use store::{Store, Zone};

/// Everything the tasks need.
pub struct TaskEnv {
    /// The store (compaction and retention lock it).
    pub store: Arc<Mutex<Store>>,
    /// The SQL engine (reports).
    pub engine: Arc<query::Engine>,
    /// The lake's zone: "yesterday" is a local day.
    pub zone: Zone,
    /// The data dir (reports go to `<data dir>/reports/`).
    pub data_dir: PathBuf,
    /// Reports defined in the config.
    pub reports: BTreeMap<String, ReportSpec>,
    /// Compaction: files smaller than this are merged...
    pub compact_small_bytes: u64,
    /// ...into files of up to this many rows.
    pub compact_target_rows: u64,
    /// Where `sink = true` reports also go.
    pub sink: Option<sink::Sink>,
}

/// The task runner for the scheduler.
pub fn runner(env: TaskEnv) -> TaskFn {
    let env = Arc::new(env);
    Arc::new(move |spec: &ScheduleSpec| match spec.task.as_str() {
        "report" => run_report(&env, spec),
        "compact" => {
            let mut st = env.store.lock().unwrap_or_else(|p| p.into_inner());
            let r = st
                .compact(env.compact_small_bytes, env.compact_target_rows)
                .map_err(|e| e.to_string())?;
            // Files from older versions (or a crash) may lack sidecars: the funnels' timelines,
            // the KPIs' user sets.
            let filled = st.write_missing_sidecars().map_err(|e| e.to_string())?;
            let mut msg = format!(
                "compacted {} files into {} ({} rows)",
                r.files_before, r.files_after, r.rows
            );
            if filled > 0 {
                msg.push_str(&format!("; wrote the missing sidecars of {filled} files"));
            }
            Ok(msg)
        }
        "retention" => {
            let days = spec.days.unwrap_or(0);
            if days == 0 {
                return Err("retention needs days = N (N > 0)".into());
            }
            let mut st = env.store.lock().unwrap_or_else(|p| p.into_inner());
            let r = st.apply_retention(days).map_err(|e| e.to_string())?;
            Ok(format!(
                "kept {days} days: dropped {} partitions ({} rows)",
                r.partitions_dropped, r.rows_dropped
            ))
        }
        other => Err(format!("unknown task {other:?}")),
    })
}

fn run_report(env: &TaskEnv, spec: &ScheduleSpec) -> Result<String, String> {
    let name = spec.report.as_deref().unwrap_or("daily");
    let rs = report::spec_named(name, &env.reports).map_err(|e| e.to_string())?;
    let now = model::time::now_ms();
    let today = env.zone.day_of(now);
    let date = today
        .checked_sub_days(chrono::Days::new(spec.days_ago as u64))
        .unwrap_or(today);
    let ctx = Ctx {
        engine: &env.engine,
        scope: query::Scope::all(),
        zone: env.zone,
    };
    let shop = spec.shop.as_deref();
    let r = env
        .engine
        .block_on(report::build(&ctx, name, &rs, date, shop))
        .map_err(|e| e.to_string())?;
    let dir = report::default_dir(&env.data_dir, name, date, shop);
    let files = report::write(&r, &dir).map_err(|e| e.to_string())?;
    let mut sunk = String::new();
    if spec.sink {
        let Some(sink) = &env.sink else {
            return Err("this schedule has sink = true but no [sink] url is configured".into());
        };
        let tables = crate::sinks::report_tables(&r);
        let n = tables.len();
        let handle = tokio::runtime::Handle::current();
        for t in &tables {
            handle
                .block_on(sink.write(t))
                .map_err(|e| format!("writing {} to the sink: {e}", t.name))?;
        }
        sunk = format!(", {n} tables to the {} sink", sink.kind());
    }
    let failed = r.failures();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|s| s.spec.title.as_str()).collect();
        return Err(format!(
            "report {name} for {date}: sections failed: {}",
            names.join(", ")
        ));
    }
    Ok(format!(
        "report {name} for {date}: {} files in {}{sunk}",
        files.len(),
        dir.display()
    ))
}
