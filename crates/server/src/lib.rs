//! # storepulse-server
//!
//! The HTTP face of StorePulse: how a shop's web, app and back-end systems send events, and how
//! operators read what was collected.
//!
//! ```text
//! client ─► axum ─► admit (shutdown gate, body timeout) ─► auth (key → scopes, shop)
//!        ─► events: content type, gzip ─► ingest::Ingestor (validate, dedup, WAL submit)
//!        ◄─ 200 after the group fsync (429 when the WAL queue is full, 503 when it cannot write)
//!                                   WAL ─► Folder (background) ─► Parquet lake + quarantine + ids
//!                                    └──► live engine (stream jobs) ─► /v1/live, SSE, results
//! ```
//!
//! Layers, each importing only those below it: [`state`] (the shared [`state::App`]), [`auth`],
//! [`error`], [`extract`] and [`body`] at the bottom; the handlers in the middle; [`routes`] (the
//! route table and its layers) and [`app`] (open, serve, shutdown) on top.
//!
//! - Handlers: [`events`] — `POST /v1/events`; [`dims`] — items and users; [`read`] — stats,
//!   quarantine, metrics, health, audit; [`live`] — live job results, history, server-sent
//!   events (resumable through [`live_log`]); [`analytics`] — SQL and analyses; [`jobs`] — scheduled tasks; [`openapi`] — the
//!   generated document.
//! - [`admit`] — the shutdown gate and the body read timeout in front of every handler.
//! - [`auth`] — API keys with scopes bound to a shop; [`audit`] — admin actions.
//! - [`error`] — the one JSON error envelope; [`extract`] — query and path extractors that
//!   answer with it.
//! - [`scheduler`], [`tasks`] — `[[schedule]]`; [`sinks`] — results to a database; [`tls`] —
//!   HTTPS with rustls when `server.tls_cert` and `server.tls_key` are set.
//!
//! The ingest path is `storepulse-ingest`; storage `storepulse-store`; the live jobs
//! `storepulse-stream`.
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
pub mod events;
pub mod extract;
pub mod jobs;
pub mod live;
pub mod live_log;
pub mod metrics;
pub mod mining;
pub mod openapi;
pub mod read;
pub mod routes;
pub mod scheduler;
pub mod sinks;
pub mod state;
pub mod tasks;
pub mod tls;

pub use app::{ServeOptions, open, serve};
pub use config::ServerConfig;
