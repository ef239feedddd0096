//! Replays: running a job over history — the lake (each shop's rows in event-time order) or a
//! file (rows in file order, as a live stream would have delivered them). Input is decoded on
//! its own thread(s) while the job runs, and results go to a caller's sink as they fire.

use crate::StreamError;
use crate::emit::Emission;
use crate::jobs::{Input, Job};
use arrow_array::RecordBatch;
use collect::{ParseOptions, TableBatch};
use crossbeam_channel::{Receiver, bounded};
use model::EventType;
use std::time::Instant;
use store::Store;
use store::reader::Scan;

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Input rows read (of the job's tables).
    pub rows: u64,
    /// Rows the input rejected (file replays; not stored anywhere).
    pub rejected: u64,
    /// Emissions produced.
    pub emissions: u64,
    /// Seconds taken.
    pub secs: f64,
    /// The job's counters.
    pub counters: crate::Counters,
}

/// Where a replay reads from the lake.
#[derive(Debug, Clone, Default)]
pub struct LakeRange {
    /// Only these shops.
    pub shops: Option<Vec<String>>,
    /// From (inclusive), UTC ms.
    pub from_ms: Option<i64>,
    /// To (exclusive), UTC ms.
    pub to_ms: Option<i64>,
}

type Batch = Result<(EventType, String, RecordBatch), StreamError>;

fn lake_reader(store: &Store, job: &dyn Job, t: EventType, range: &LakeRange) -> Receiver<Batch> {
    let scan = Scan {
        table: t,
        shops: range.shops.clone(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        columns: Some(job.columns(t).iter().map(|c| c.to_string()).collect()),
        batch_rows: 65_536,
    };
    let it = store.scan_ordered(scan);
    let (tx, rx) = bounded(4);
    std::thread::spawn(move || {
        for b in it {
            let msg = b.map(|b| (t, b.shop, b.batch)).map_err(StreamError::from);
            let stop = msg.is_err();
            if tx.send(msg).is_err() || stop {
                return;
            }
        }
    });
    rx
}

fn first_ts(b: &RecordBatch) -> i64 {
    crate::cols::ts(b)
        .ok()
        .and_then(|t| t.first().copied())
        .unwrap_or(i64::MIN)
}

/// Replays a job over the lake and ends the input (every window fires). With several input
/// tables, a shop's rows are taken in event-time order across them, so each source's watermark
/// advances together.
pub fn replay_lake(
    store: &Store,
    job: &mut dyn Job,
    range: &LakeRange,
    sink: &mut dyn FnMut(&[Emission]) -> Result<(), StreamError>,
    progress: &dyn Fn(u64),
) -> Result<ReplayReport, StreamError> {
    let mut report = feed_lake(store, job, range, 0, sink, progress)?;
    let t0 = Instant::now();
    let mut out = Vec::new();
    job.finish(&mut out);
    drain(&mut out, &mut report, sink)?;
    report.secs += t0.elapsed().as_secs_f64();
    report.counters = job.counters();
    Ok(report)
}

/// Feeds a job the lake's rows without ending the input: open windows stay open (how the live
/// engine rebuilds its state at startup). `now` is the processing time the rows count as seen.
pub fn feed_lake(
    store: &Store,
    job: &mut dyn Job,
    range: &LakeRange,
    now: i64,
    sink: &mut dyn FnMut(&[Emission]) -> Result<(), StreamError>,
    progress: &dyn Fn(u64),
) -> Result<ReplayReport, StreamError> {
    let t0 = Instant::now();
    let readers: Vec<Receiver<Batch>> = job
        .inputs()
        .iter()
        .map(|t| lake_reader(store, job, *t, range))
        .collect();
    let mut heads: Vec<Option<(EventType, String, RecordBatch)>> = Vec::new();
    for r in &readers {
        heads.push(r.recv().ok().transpose()?);
    }
    let mut report = ReplayReport::default();
    let mut out = Vec::new();
    loop {
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (first_ts(&h.2), i)))
            .min();
        let Some((_, i)) = next else { break };
        let Some((t, shop, mut batch)) = heads[i].take() else {
            break;
        };
        // Rows of the same shop in another table that come earlier must go first, or that
        // table's source would find the watermark already past them (a late event the live
        // run never saw as late): the batch is cut at the other tables' next event.
        let bound = heads
            .iter()
            .flatten()
            .filter(|h| h.1 == shop)
            .map(|h| first_ts(&h.2))
            .min();
        if let Some(bound) = bound {
            let cut = crate::cols::ts(&batch)?
                .partition_point(|&x| x <= bound)
                .max(1);
            if cut < batch.num_rows() {
                let rest = batch.slice(cut, batch.num_rows() - cut);
                batch = batch.slice(0, cut);
                heads[i] = Some((t, shop.clone(), rest));
            }
        }
        report.rows += batch.num_rows() as u64;
        job.process(
            Input {
                table: t,
                shop: &shop,
                batch: &batch,
            },
            now,
            &mut out,
        )?;
        drain(&mut out, &mut report, sink)?;
        progress(report.rows);
        if heads[i].is_none() {
            heads[i] = readers[i].recv().ok().transpose()?;
        }
    }
    report.secs = t0.elapsed().as_secs_f64();
    report.counters = job.counters();
    Ok(report)
}

fn drain(
    out: &mut Vec<Emission>,
    report: &mut ReplayReport,
    sink: &mut dyn FnMut(&[Emission]) -> Result<(), StreamError>,
) -> Result<(), StreamError> {
    if !out.is_empty() {
        report.emissions += out.len() as u64;
        sink(out)?;
        out.clear();
    }
    Ok(())
}

/// Replays a job over a file (or stdin), rows in file order; rejected rows are counted only.
pub fn replay_file(
    input: &collect::Input,
    opts: ParseOptions,
    job: &mut dyn Job,
    sink: &mut dyn FnMut(&[Emission]) -> Result<(), StreamError>,
    progress: &dyn Fn(u64),
) -> Result<ReplayReport, StreamError> {
    let t0 = Instant::now();
    let opened = collect::source::open(input).map_err(|err| StreamError::Io {
        context: format!("opening {}", input.name()),
        err,
    })?;
    let mut report = ReplayReport::default();
    let mut out = Vec::new();
    for chunk in collect::parse(opened, opts) {
        let chunk = chunk?;
        report.rejected += chunk.rejects.len() as u64;
        let tables = chunk
            .batch
            .finish()
            .map_err(|e| StreamError::Input(e.to_string()))?;
        process_tables(job, &tables, 0, &mut out, &mut report.rows)?;
        drain(&mut out, &mut report, sink)?;
        progress(report.rows);
    }
    job.finish(&mut out);
    drain(&mut out, &mut report, sink)?;
    report.secs = t0.elapsed().as_secs_f64();
    report.counters = job.counters();
    Ok(report)
}

/// Feeds parsed tables to a job (the tables it reads; others are skipped).
pub fn process_tables(
    job: &mut dyn Job,
    tables: &[TableBatch],
    now: i64,
    out: &mut Vec<Emission>,
    rows: &mut u64,
) -> Result<(), StreamError> {
    for t in tables {
        if !job.inputs().contains(&t.table) {
            continue;
        }
        *rows += t.batch.num_rows() as u64;
        job.process(
            Input {
                table: t.table,
                shop: &t.shop,
                batch: &t.batch,
            },
            now,
            out,
        )?;
    }
    Ok(())
}
