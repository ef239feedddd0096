//! # storepulse-server
//!
//! The HTTP face of StorePulse: how a shop's web, app and back-end systems send events, and how
//! operators read what was collected.
//!
//! ```text
//! client ─► axum ─► auth (key → scopes, shop) ─► body (type, gzip ≤ limit, rows)
//!        ─► ingest: parse + validate each row ─► exact dedup (reserve ids) ─► WAL submit
//!        ◄─ 200 after the group fsync (or 429 when the WAL queue is full)
//!                                   WAL ─► Folder (background) ─► Parquet lake + quarantine + ids
//!                                    └──► live engine (stream jobs) ─► /v1/live, SSE, lake/results
//! ```
//!
//! - [`app`] — state, routes, startup recovery, graceful shutdown ([`app::open`], [`app::serve`]);
//!   [`admit`] — the shutdown gate and the body read timeout in front of every handler.
//! - [`ingest`] — `POST /v1/events`; [`dims`] — items and users; [`read`] — stats, quarantine,
//!   metrics, health, audit; [`openapi`] — the generated document.
//! - [`live`] — live job results: latest, history, server-sent events.
//! - [`auth`] — API keys with scopes bound to a shop; [`audit`] — admin actions.
//! - [`error`] — the one JSON error envelope; [`extract`] — query and path extractors that
//!   answer with it.
//! - [`loadgen`] — `storepulse bench ingest`, the HTTP load generator; [`freshness`] —
//!   `storepulse bench freshness`, time from watermark to result on the event stream.
//!
//! Storage is `storepulse-store`; the live jobs are `storepulse-stream`.
#![deny(missing_docs)]

pub mod admit;
pub mod analytics;
pub mod app;
pub mod audit;
pub mod auth;
pub mod body;
pub mod config;
pub mod dims;
pub mod error;
pub mod extract;
pub mod freshness;
pub mod ingest;
pub mod jobs;
pub mod live;
pub mod loadgen;
pub mod metrics;
pub mod openapi;
pub mod read;
pub mod scheduler;
pub mod sinks;
pub mod tasks;

pub use app::{ServeOptions, open, serve};
pub use config::ServerConfig;
