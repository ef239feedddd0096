//! # storepulse-bench
//!
//! The benchmark clients behind `storepulse bench`, kept out of the server and the CLI so that
//! neither holds benchmark code:
//!
//! - [`loadgen`] — `bench ingest`: an HTTP load generator (generated events into a scratch shop,
//!   or a file), with throughput and latency percentiles;
//! - [`freshness`] — `bench freshness`: time from the watermark passing a window's end to its
//!   result arriving on `GET /v1/live/stream`;
//! - [`query`] — `bench query`: warm in-process timings of SQL and analyses on the lake;
//! - [`mining`] — `bench mining`: the mining algorithms against mlxtend, scikit-learn and Weka
//!   timed in the same run on the same data.
#![deny(missing_docs)]

pub mod freshness;
pub mod loadgen;
pub mod mining;
pub mod query;
