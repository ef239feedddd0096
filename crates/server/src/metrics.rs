//! Prometheus metrics (`GET /metrics`): events accepted, rejected by reason and duplicated,
//! request latency by route and status, WAL queue depth and fsync latency, lake files and bytes.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Latency buckets in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Events stored.
    pub accepted: IntCounter,
    /// Events answered as duplicates.
    pub duplicates: IntCounter,
    /// Rows rejected, by reason.
    pub rejected: IntCounterVec,
    /// Requests by route, method and status.
    pub requests: HistogramVec,
    /// Time from WAL submit to fsync acknowledgement.
    pub wal_append: HistogramVec,
    /// Requests refused with 429.
    pub throttled: IntCounter,
    /// WAL appends waiting for the disk.
    pub wal_queue: IntGauge,
    /// Lake files.
    pub lake_files: IntGauge,
    /// Lake bytes.
    pub lake_bytes: IntGauge,
    /// Lake rows.
    pub lake_rows: IntGauge,
    /// Event ids remembered for dedup.
    pub dedup_ids: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are constants: a failure here is a programming error caught by tests.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("storepulse".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let accepted = must(IntCounter::new("events_accepted_total", "Events stored"));
        let duplicates = must(IntCounter::new(
            "events_duplicate_total",
            "Events answered as duplicates of an accepted event_id",
        ));
        let rejected = must(IntCounterVec::new(
            Opts::new(
                "events_rejected_total",
                "Rows rejected (quarantined), by reason",
            ),
            &["reason"],
        ));
        let requests = must(HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(BUCKETS.to_vec()),
            &["route", "method", "status"],
        ));
        let wal_append = must(HistogramVec::new(
            HistogramOpts::new(
                "wal_append_seconds",
                "Time from WAL submit to its group fsync",
            )
            .buckets(BUCKETS.to_vec()),
            &["result"],
        ));
        let throttled = must(IntCounter::new(
            "http_throttled_total",
            "Requests answered 429 because the WAL queue was full",
        ));
        let wal_queue = must(IntGauge::new(
            "wal_queue_depth",
            "WAL appends waiting for the disk",
        ));
        let lake_files = must(IntGauge::new("lake_files", "Parquet files in the lake"));
        let lake_bytes = must(IntGauge::new(
            "lake_bytes",
            "Bytes of Parquet files in the lake",
        ));
        let lake_rows = must(IntGauge::new("lake_rows", "Rows in the lake"));
        let dedup_ids = must(IntGauge::new(
            "dedup_ids",
            "Event ids remembered for exact dedup",
        ));
        let m = Metrics {
            registry,
            accepted,
            duplicates,
            rejected,
            requests,
            wal_append,
            throttled,
            wal_queue,
            lake_files,
            lake_bytes,
            lake_rows,
            dedup_ids,
        };
        for c in [
            Box::new(m.accepted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.duplicates.clone()),
            Box::new(m.rejected.clone()),
            Box::new(m.requests.clone()),
            Box::new(m.wal_append.clone()),
            Box::new(m.throttled.clone()),
            Box::new(m.wal_queue.clone()),
            Box::new(m.lake_files.clone()),
            Box::new(m.lake_bytes.clone()),
            Box::new(m.lake_rows.clone()),
            Box::new(m.dedup_ids.clone()),
        ] {
            must(m.registry.register(c));
        }
        m
    }

    /// The text exposition, with the WAL's own fsync histogram appended.
    pub fn render(&self, fsync: &store::FsyncStats) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut s = String::from_utf8(buf).unwrap_or_default();
        fsync.render_prometheus("storepulse_wal_fsync_seconds", &mut s);
        s
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
