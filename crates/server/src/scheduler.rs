//! The scheduler inside `storepulse serve`: cron-timed tasks (reports, compaction, retention),
//! each run logged (in memory and in `state/job-runs.ndjson`), retried on failure, and never run
//! twice at once — a tick that finds the previous run still going is logged as skipped.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Zone;

/// One scheduled task (`[[schedule]]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Unique name, used in the run log and `POST /v1/jobs/{name}/run`.
    pub name: String,
    /// When: `sec min hour day-of-month month day-of-week`, or the classic five fields
    /// (minute first), in the lake's time zone. `0 30 1 * * *` = 01:30:00 every day.
    pub cron: String,
    /// `report`, `compact` or `retention`.
    pub task: String,
    /// report: which report (daily, weekly or a [reports.<name>]).
    #[serde(default)]
    pub report: Option<String>,
    /// report: only this shop.
    #[serde(default)]
    pub shop: Option<String>,
    /// report: the day it covers, counted back from the run's day (1 = yesterday).
    #[serde(default = "one")]
    pub days_ago: u32,
    /// report: also write its tables to the result sink.
    #[serde(default)]
    pub sink: bool,
    /// retention: keep this many days.
    #[serde(default)]
    pub days: Option<u32>,
    /// Extra attempts after a failure.
    #[serde(default = "two")]
    pub retries: u32,
    /// Seconds between attempts.
    #[serde(default = "thirty")]
    pub retry_delay_secs: f64,
}

fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn thirty() -> f64 {
    30.0
}

/// Parses a cron expression: six or seven fields (seconds first), or five (minute first).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!("cron {expr:?}: {e} (use `sec min hour day month weekday`, e.g. \"0 30 1 * * *\")")
    })
}

impl ScheduleSpec {
    /// Checks the spec; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        parse_cron(&self.cron)?;
        match self.task.as_str() {
            "report" if self.report.is_none() => Err(format!(
                "schedule {:?}: a report task needs `report = \"daily\"` (or weekly, or a [reports.<name>])",
                self.name
            )),
            "retention" if self.days.is_none() => Err(format!(
                "schedule {:?}: a retention task needs `days = N`",
                self.name
            )),
            "report" | "compact" | "retention" => Ok(()),
            other => Err(format!(
                "schedule {:?}: unknown task {other:?}; use report, compact or retention",
                self.name
            )),
        }
    }
}

/// How a run ended (or that it is going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running.
    Running,
    /// Done.
    Ok,
    /// Every attempt failed.
    Failed,
    /// Not started: the previous run was still going.
    Skipped,
}

/// One run in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunRecord {
    /// Increasing run number.
    pub id: u64,
    /// The schedule's name.
    pub job: String,
    /// The task.
    pub task: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// When it started, UTC ms.
    pub started_ms: i64,
    /// When it ended, UTC ms.
    pub finished_ms: Option<i64>,
    /// Attempts made.
    pub attempts: u32,
    /// Outcome.
    #[schema(value_type = String)]
    pub status: RunStatus,
    /// What it did, or the last error.
    pub message: String,
}

/// A schedule as listed by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    /// Name.
    pub name: String,
    /// Cron expression.
    pub cron: String,
    /// Task.
    pub task: String,
    /// Next run (RFC 3339, lake zone).
    pub next_run: Option<String>,
    /// Whether a run is going now.
    pub running: bool,
}

/// Runs a task; `Ok` carries a one-line account of what it did.
pub type TaskFn = Arc<dyn Fn(&ScheduleSpec) -> Result<String, String> + Send + Sync>;

struct Job {
    spec: ScheduleSpec,
    schedule: cron::Schedule,
    running: AtomicBool,
}

/// Why a manual run was refused.
#[derive(Debug, PartialEq)]
pub enum TriggerError {
    /// No schedule has that name.
    NotFound,
    /// A run is going.
    Running,
}

/// Runs kept in memory (and loaded back from the log at start).
const KEEP: usize = 1000;

/// The scheduler.
pub struct Scheduler {
    jobs: Vec<Job>,
    zone: Zone,
    runner: TaskFn,
    runs: Mutex<VecDeque<RunRecord>>,
    next_id: AtomicU64,
    log: Option<PathBuf>,
}

use model::time::now_ms;

impl Scheduler {
    /// A scheduler for `specs` (checked), logging to `log` if given.
    pub fn new(
        specs: Vec<ScheduleSpec>,
        zone: Zone,
        log: Option<PathBuf>,
        runner: TaskFn,
    ) -> Result<Arc<Scheduler>, String> {
        let mut jobs: Vec<Job> = Vec::new();
        for spec in specs {
            spec.check()?;
            if jobs.iter().any(|j| j.spec.name == spec.name) {
                return Err(format!("two schedules are named {:?}", spec.name));
            }
            jobs.push(Job {
                schedule: parse_cron(&spec.cron)?,
                spec,
                running: AtomicBool::new(false),
            });
        }
        let past = log.as_ref().map(load).unwrap_or_default();
        let next = past.iter().map(|r| r.id + 1).max().unwrap_or(1);
        Ok(Arc::new(Scheduler {
            jobs,
            zone,
            runner,
            runs: Mutex::new(past),
            next_id: AtomicU64::new(next),
            log,
        }))
    }

    /// Starts one timer task per schedule; they end when `stop` turns true.
    pub fn start(self: &Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        for i in 0..self.jobs.len() {
            let me = self.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                while let Some(wait) = me.until_next(i) {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                    me.fire(i, "schedule");
                }
            });
        }
    }

    fn until_next(&self, i: usize) -> Option<Duration> {
        let now = chrono::Utc::now();
        let next = match self.zone {
            Zone::Fixed(o) => self.jobs[i]
                .schedule
                .after(&now.with_timezone(&o))
                .next()
                .map(|t| t.timestamp_millis()),
            Zone::Named(tz) => self.jobs[i]
                .schedule
                .after(&now.with_timezone(&tz))
                .next()
                .map(|t| t.timestamp_millis()),
        }?;
        Some(Duration::from_millis(
            (next - now.timestamp_millis()).max(0) as u64,
        ))
    }

    /// Starts a run now (the API's manual trigger).
    pub fn trigger(self: &Arc<Self>, name: &str) -> Result<u64, TriggerError> {
        let i = self
            .jobs
            .iter()
            .position(|j| j.spec.name == name)
            .ok_or(TriggerError::NotFound)?;
        if self.jobs[i].running.load(Ordering::SeqCst) {
            return Err(TriggerError::Running);
        }
        self.fire(i, "manual").ok_or(TriggerError::Running)
    }

    /// Starts a run unless one is going (then logs a skip); returns the run id if started.
    fn fire(self: &Arc<Self>, i: usize, trigger: &str) -> Option<u64> {
        let job = &self.jobs[i];
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut rec = RunRecord {
            id,
            job: job.spec.name.clone(),
            task: job.spec.task.clone(),
            trigger: trigger.to_string(),
            started_ms: now_ms(),
            finished_ms: None,
            attempts: 0,
            status: RunStatus::Running,
            message: String::new(),
        };
        if job.running.swap(true, Ordering::SeqCst) {
            rec.status = RunStatus::Skipped;
            rec.finished_ms = Some(rec.started_ms);
            rec.message = "the previous run was still going".into();
            tracing::warn!(job = %job.spec.name, "scheduled run skipped: the previous one is still going");
            self.record(rec);
            return None;
        }
        self.record(rec.clone());
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let spec = &me.jobs[i].spec;
            loop {
                rec.attempts += 1;
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (me.runner)(spec)))
                        .unwrap_or_else(|_| Err("the task panicked (see the server log)".into()));
                match result {
                    Ok(msg) => {
                        rec.status = RunStatus::Ok;
                        rec.message = msg;
                        break;
                    }
                    Err(e) if rec.attempts <= spec.retries => {
                        tracing::warn!(job = %spec.name, attempt = rec.attempts, error = %e, "scheduled task failed; retrying");
                        rec.message = e;
                        std::thread::sleep(Duration::from_secs_f64(spec.retry_delay_secs.max(0.0)));
                    }
                    Err(e) => {
                        tracing::error!(job = %spec.name, attempts = rec.attempts, error = %e, "scheduled task failed");
                        rec.status = RunStatus::Failed;
                        rec.message = e;
                        break;
                    }
                }
            }
            rec.finished_ms = Some(now_ms());
            me.record(rec);
            me.jobs[i].running.store(false, Ordering::SeqCst);
        });
        Some(id)
    }

    /// Adds or updates a run (by id) in memory, and appends final states to the log file.
    fn record(&self, rec: RunRecord) {
        if rec.status != RunStatus::Running
            && let Some(p) = &self.log
            && let Err(e) = append(p, &rec)
        {
            tracing::warn!(error = %e, "could not append to the job run log");
        }
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        match runs.iter_mut().rev().find(|r| r.id == rec.id) {
            Some(r) => *r = rec,
            None => {
                runs.push_back(rec);
                if runs.len() > KEEP {
                    runs.pop_front();
                }
            }
        }
    }

    /// Recent runs, newest first, optionally of one job.
    pub fn runs(&self, job: Option<&str>, limit: usize) -> Vec<RunRecord> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter()
            .rev()
            .filter(|r| job.is_none_or(|j| r.job == j))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The schedules with their next run.
    pub fn jobs(&self) -> Vec<JobInfo> {
        (0..self.jobs.len())
            .map(|i| {
                let j = &self.jobs[i];
                let next = self.until_next(i).map(|d| {
                    let at =
                        chrono::Utc::now() + chrono::Duration::milliseconds(d.as_millis() as i64);
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                });
                JobInfo {
                    name: j.spec.name.clone(),
                    cron: j.spec.cron.clone(),
                    task: j.spec.task.clone(),
                    next_run: next,
                    running: j.running.load(Ordering::SeqCst),
                }
            })
            .collect()
    }
}

fn append(path: &PathBuf, rec: &RunRecord) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut line = serde_json::to_vec(rec).map_err(std::io::Error::other)?;
    line.push(b'\n');
    f.write_all(&line)
}

/// The last runs of a log file (a torn last line from a crash is skipped).
fn load(path: &PathBuf) -> VecDeque<RunRecord> {
    let Ok(f) = std::fs::File::open(path) else {
        return VecDeque::new();
    };
    let mut out = VecDeque::new();
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        if let Ok(r) = serde_json::from_str::<RunRecord>(&line) {
            out.push_back(r);
            if out.len() > KEEP {
                out.pop_front();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, cron: &str, retries: u32) -> ScheduleSpec {
        ScheduleSpec {
            name: name.into(),
            cron: cron.into(),
            task: "compact".into(),
            report: None,
            shop: None,
            days_ago: 1,
            sink: false,
            days: None,
            retries,
            retry_delay_secs: 0.0,
        }
    }

    #[test]
    fn specs_are_checked_with_helpful_errors() {
        assert!(parse_cron("0 30 1 * * *").is_ok());
        assert!(parse_cron("30 1 * * *").is_ok(), "five fields");
        assert!(
            parse_cron("every day")
                .unwrap_err()
                .contains("sec min hour")
        );
        let mut s = spec("r", "* * * * * *", 0);
        s.task = "report".into();
        assert!(s.check().unwrap_err().contains("needs `report"));
        s.task = "dance".into();
        assert!(s.check().unwrap_err().contains("unknown task"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_retried_overlaps_skipped_and_runs_logged() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs.ndjson");
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        // Fails twice, then takes 300 ms and succeeds.
        let runner: TaskFn = Arc::new(move |_s| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                return Err(format!("boom {n}"));
            }
            std::thread::sleep(Duration::from_millis(300));
            Ok("done".into())
        });
        let s = Scheduler::new(
            vec![spec("job", "0 0 0 1 1 *", 2)],
            Zone::default(),
            Some(log.clone()),
            runner,
        )
        .unwrap();
        let id = s.trigger("job").unwrap();
        assert_eq!(
            s.trigger("job"),
            Err(TriggerError::Running),
            "no second run while one is going"
        );
        assert_eq!(s.trigger("nope"), Err(TriggerError::NotFound));
        // A scheduled tick during the run is logged as skipped.
        assert_eq!(s.fire(0, "schedule"), None);
        for _ in 0..100 {
            if s.runs(Some("job"), 10)
                .iter()
                .any(|r| r.id == id && r.status != RunStatus::Running)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let runs = s.runs(None, 10);
        let done = runs.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            (done.status, done.attempts, done.message.as_str()),
            (RunStatus::Ok, 3, "done")
        );
        assert!(runs.iter().any(|r| r.status == RunStatus::Skipped));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // The log survives a restart.
        let again = Scheduler::new(
            vec![spec("job", "0 0 0 1 1 *", 0)],
            Zone::default(),
            Some(log),
            Arc::new(|_| Ok(String::new())),
        )
        .unwrap();
        assert_eq!(again.runs(None, 10).len(), 2);
        assert!(again.next_id.load(Ordering::SeqCst) > id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cron_every_second_fires_and_a_failing_task_ends_failed() {
        let runner: TaskFn = Arc::new(|_s| Err("disk on fire".into()));
        let s = Scheduler::new(
            vec![spec("tick", "* * * * * *", 1)],
            Zone::default(),
            None,
            runner,
        )
        .unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        s.start(rx);
        let mut failed = None;
        for _ in 0..150 {
            failed = s
                .runs(Some("tick"), 10)
                .into_iter()
                .find(|r| r.status == RunStatus::Failed);
            if failed.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tx.send_replace(true);
        let f = failed.expect("a run within 3 s");
        assert_eq!(
            (f.attempts, f.message.as_str(), f.trigger.as_str()),
            (2, "disk on fire", "schedule")
        );
        assert!(s.jobs()[0].next_run.is_some());
    }
}
