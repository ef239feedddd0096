//! The live engine inside `storepulse serve`: one thread runs every configured job on the batches
//! ingest hands over (after they are durable, in WAL order), ticks idle sources with the wall
//! clock, keeps each job's recent results in memory, pushes every emission to subscribers, and
//! writes them to the lake's results table.

use crate::emit::{Emission, Kind};
use crate::jobs::{Counters, Job, JobConfig, ShopStatus, build};
use crate::results::ResultsWriter;
use crate::{StreamError, replay};
use collect::TableBatch;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use store::{Store, Zone};

/// Settings of the live engine.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Jobs to run, with their settings.
    pub jobs: Vec<(String, JobConfig)>,
    /// Zone of calendar-day windows.
    pub zone: Zone,
    /// Emissions kept in memory per job.
    pub history: usize,
    /// Whether emissions are committed to the store's results table.
    pub save_results: bool,
    /// How often buffered results are written to the lake.
    pub flush_every: Duration,
    /// How often idle sources are checked.
    pub tick_every: Duration,
}

/// Called with each batch of new emissions (e.g. to push them as server-sent events).
pub type Subscriber = Arc<dyn Fn(&[Arc<Emission>]) + Send + Sync>;

/// A job's live state as the API shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStatus {
    /// The job.
    pub job: String,
    /// Totals over the shops shown.
    pub counters: Counters,
    /// Watermark per shop, UTC ms (shops the job has seen an event of).
    pub watermarks: BTreeMap<String, i64>,
    /// Each shop's watermark and totals.
    pub shops: BTreeMap<String, ShopStatus>,
}

impl JobStatus {
    fn of(job: &dyn Job) -> JobStatus {
        let shops: BTreeMap<String, ShopStatus> = job.shops().into_iter().collect();
        JobStatus {
            job: job.name().to_string(),
            counters: Counters::default(),
            watermarks: BTreeMap::new(),
            shops,
        }
        .totals()
    }

    fn totals(mut self) -> JobStatus {
        self.counters = Counters::default();
        for s in self.shops.values() {
            self.counters.add(&s.counters);
        }
        self.watermarks = self
            .shops
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), s.watermark?)))
            .collect();
        self
    }

    /// What a caller bound to `shop` may see: that shop's watermark and totals only.
    pub fn only_shop(mut self, shop: &str) -> JobStatus {
        self.shops.retain(|s, _| s == shop);
        self.totals()
    }
}

#[derive(Default)]
struct View {
    status: JobStatus,
    history: VecDeque<Arc<Emission>>,
    late: VecDeque<Arc<Emission>>,
    /// Latest result per (shop, window length).
    latest: BTreeMap<(String, i64), Arc<Emission>>,
}

struct Shared {
    views: Mutex<BTreeMap<String, View>>,
    queued: AtomicU64,
    errors: AtomicU64,
}

enum Msg {
    Tables(Vec<TableBatch>, i64),
    Stop,
}

/// Handle to the running engine.
pub struct Live {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    names: Vec<String>,
}

/// Filters of [`Live::history`].
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only this shop (`None`: all the caller may see).
    pub shop: Option<String>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only windows ending at or after this, UTC ms.
    pub since_ms: Option<i64>,
    /// At most this many (newest).
    pub limit: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// Builds the jobs, rebuilds their open state from the lake's recent events, and starts
    /// the engine thread, which commits results to `store` when `cfg.save_results`.
    pub fn start(
        cfg: LiveConfig,
        subscriber: Option<Subscriber>,
        store: Option<Arc<Mutex<Store>>>,
    ) -> Result<Live, StreamError> {
        let mut jobs: Vec<Box<dyn Job>> = Vec::new();
        for (name, jc) in &cfg.jobs {
            jobs.push(
                build(name, jc, cfg.zone)
                    .map_err(|e| StreamError::Config(format!("live job {name}: {e}")))?,
            );
        }
        if let Some(store) = &store {
            warm_up(&lock(store), &mut jobs, collect::now_ms())?;
        }
        let names: Vec<String> = jobs.iter().map(|j| j.name().to_string()).collect();
        let shared = Arc::new(Shared {
            views: Mutex::new(
                names
                    .iter()
                    .map(|n| {
                        let v = View {
                            status: JobStatus {
                                job: n.clone(),
                                ..Default::default()
                            },
                            ..Default::default()
                        };
                        (n.clone(), v)
                    })
                    .collect(),
            ),
            queued: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let (tx, rx) = unbounded();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("live-engine".into())
            .spawn(move || run(jobs, cfg, rx, sh, subscriber, store))
            .map_err(|err| StreamError::Io {
                context: "starting the live engine".into(),
                err,
            })?;
        Ok(Live {
            tx,
            shared,
            thread: Mutex::new(Some(thread)),
            names,
        })
    }

    /// Hands durable batches to the jobs (never blocks).
    pub fn submit(&self, tables: Vec<TableBatch>) {
        let rows: u64 = tables.iter().map(|t| t.batch.num_rows() as u64).sum();
        self.shared.queued.fetch_add(rows, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Tables(tables, collect::now_ms()));
    }

    /// Events handed over but not yet processed.
    pub fn queued(&self) -> u64 {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Jobs that failed on a batch (logged; the batch is skipped by that job only).
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Names of the running jobs.
    pub fn jobs(&self) -> &[String] {
        &self.names
    }

    /// A job's status.
    pub fn status(&self, job: &str) -> Option<JobStatus> {
        lock(&self.shared.views).get(job).map(|v| v.status.clone())
    }

    /// A job's latest result per shop and window length.
    pub fn latest(&self, job: &str, shop: Option<&str>) -> Option<Vec<Arc<Emission>>> {
        let views = lock(&self.shared.views);
        let v = views.get(job)?;
        Some(
            v.latest
                .iter()
                .filter(|((s, _), _)| shop.is_none_or(|x| x == s))
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }

    /// A job's recent emissions, oldest first (late events with `kind = late`).
    pub fn history(&self, job: &str, q: &HistoryQuery) -> Option<Vec<Arc<Emission>>> {
        let views = lock(&self.shared.views);
        let v = views.get(job)?;
        let src = if q.kind == Some(Kind::Late) {
            &v.late
        } else {
            &v.history
        };
        let mut out: Vec<Arc<Emission>> = src
            .iter()
            .rev()
            .filter(|e| q.shop.as_deref().is_none_or(|s| s == e.shop))
            .filter(|e| q.kind.is_none_or(|k| k == e.kind))
            .filter(|e| q.since_ms.is_none_or(|t| e.end >= t))
            .take(q.limit.max(1))
            .cloned()
            .collect();
        out.reverse();
        Some(out)
    }

    /// Stops the engine, writing buffered results (open windows are not fired: they are not
    /// complete).
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Replays each job's horizon of the lake with its emissions discarded: windows that were open
/// when the server stopped are open again with what they held (rebuilt in event-time order), and
/// windows that had already fired are not reported twice. The sources count as seen at `now`
/// (processing time): idleness, and the wall-clock advance of an idle shop's watermark, start
/// from this process's start, not from the epoch.
fn warm_up(store: &Store, jobs: &mut [Box<dyn Job>], now: i64) -> Result<(), StreamError> {
    let t = Instant::now();
    let mut rows = 0;
    for job in jobs.iter_mut() {
        let newest = store
            .manifest()
            .files
            .iter()
            .filter(|f| job.inputs().iter().any(|t| t.name() == f.table))
            .map(|f| f.max_ts)
            .max();
        let Some(newest) = newest else { continue };
        let range = replay::LakeRange {
            shops: None,
            from_ms: Some(newest.saturating_sub(job.horizon())),
            to_ms: None,
        };
        let r = replay::feed_lake(store, job.as_mut(), &range, now, &mut |_| Ok(()), &|_| {})?;
        rows += r.rows;
    }
    if rows > 0 {
        tracing::info!(
            rows,
            secs = t.elapsed().as_secs_f64(),
            "live jobs rebuilt their open windows from the lake"
        );
    }
    Ok(())
}

/// Where emissions go: the in-memory views, subscribers and the results table.
struct Publisher {
    cfg: LiveConfig,
    shared: Arc<Shared>,
    subscriber: Option<Subscriber>,
    writer: Option<(ResultsWriter, Arc<Mutex<Store>>)>,
}

fn run(
    mut jobs: Vec<Box<dyn Job>>,
    cfg: LiveConfig,
    rx: Receiver<Msg>,
    shared: Arc<Shared>,
    subscriber: Option<Subscriber>,
    store: Option<Arc<Mutex<Store>>>,
) {
    let writer = store
        .filter(|_| cfg.save_results)
        .map(|s| (ResultsWriter::new(), s));
    let mut p = Publisher {
        cfg,
        shared,
        subscriber,
        writer,
    };
    let mut last_flush = Instant::now();
    let mut last_tick = Instant::now();
    let mut out = Vec::new();
    loop {
        let msg = rx.recv_timeout(p.cfg.tick_every);
        let now = collect::now_ms();
        match msg {
            Ok(Msg::Tables(tables, at)) => {
                let rows: u64 = tables.iter().map(|t| t.batch.num_rows() as u64).sum();
                for job in jobs.iter_mut() {
                    let mut n = 0;
                    if let Err(e) =
                        replay::process_tables(job.as_mut(), &tables, at, &mut out, &mut n)
                    {
                        p.shared.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(job = job.name(), "live job failed on a batch: {e}");
                    }
                    p.publish(job.as_ref(), &mut out, now);
                }
                p.shared.queued.fetch_sub(rows, Ordering::Relaxed);
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_tick.elapsed() >= p.cfg.tick_every {
            last_tick = Instant::now();
            for job in jobs.iter_mut() {
                job.tick(now, &mut out);
                p.publish(job.as_ref(), &mut out, now);
            }
        }
        if last_flush.elapsed() >= p.cfg.flush_every {
            last_flush = Instant::now();
            p.flush();
        }
    }
    p.flush();
}

impl Publisher {
    fn flush(&mut self) {
        if let Some((w, store)) = &mut self.writer
            && w.buffered() > 0
            && let Err(e) = w.flush(&mut lock(store))
        {
            tracing::error!(
                buffered = w.buffered(),
                dropped = w.dropped(),
                "committing live results to the lake failed; will retry: {e}"
            );
        }
    }

    fn publish(&mut self, job: &dyn Job, out: &mut Vec<Emission>, now: i64) {
        let (cfg, shared) = (&self.cfg, &self.shared);
        let fresh: Vec<Arc<Emission>> = out.drain(..).map(Arc::new).collect();
        {
            let mut views = lock(&shared.views);
            let Some(v) = views.get_mut(job.name()) else {
                return;
            };
            v.status = JobStatus::of(job);
            for e in &fresh {
                if e.kind == Kind::Late {
                    v.late.push_back(e.clone());
                    if v.late.len() > cfg.history {
                        v.late.pop_front();
                    }
                    continue;
                }
                if matches!(e.kind, Kind::Result | Kind::Update) {
                    let key = (e.shop.clone(), e.end - e.start);
                    let newer = v.latest.get(&key).is_none_or(|old| old.end <= e.end);
                    if newer {
                        v.latest.insert(key, e.clone());
                    }
                }
                v.history.push_back(e.clone());
                if v.history.len() > cfg.history {
                    v.history.pop_front();
                }
            }
        }
        if fresh.is_empty() {
            return;
        }
        if let Some((w, _)) = &mut self.writer {
            for e in &fresh {
                w.push(e, now);
            }
        }
        if let Some(s) = &self.subscriber {
            s(&fresh);
        }
    }
}
