//! The `[server]` section of `storepulse.toml`.

use crate::auth::KeyConfig;
use serde::{Deserialize, Serialize};

/// Server settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Largest request body accepted, after gzip decompression, in bytes (larger gets 413).
    pub max_body_bytes: usize,
    /// WAL appends allowed to wait for the disk before requests get 429 (backpressure).
    pub wal_queue: usize,
    /// How often acknowledged events are folded from the WAL into the Parquet lake, in ms.
    pub fold_interval_ms: u64,
    /// How often small lake files written by folding are merged (lake.compact_* settings), s.
    pub compact_interval_secs: u64,
    /// Seconds a client is told to wait (`Retry-After`) when the server is saturated.
    pub retry_after_secs: u64,
    /// Worker threads of the HTTP runtime (0 = one per CPU).
    pub workers: usize,
    /// Longest wait for the next bytes of a request body, in ms; a body that stalls longer is
    /// answered 408 and its connection closed (a slow upload that keeps sending is not cut).
    pub body_timeout_ms: u64,
    /// Longest wait at shutdown for requests in progress, in s. Once shutdown starts, a body
    /// that stalls for a second is answered 503; whatever is still open after this is dropped
    /// unanswered (so never acknowledged) and the WAL is folded.
    pub shutdown_timeout_secs: u64,
    /// API keys (besides those made by `storepulse keys create`): name, key or key_sha256,
    /// scopes (ingest, read, admin) and an optional shop.
    pub keys: Vec<KeyConfig>,
    /// PEM file of the TLS certificate chain; with `tls_key` set, `serve` speaks HTTPS only
    /// (empty = plain HTTP, e.g. behind a TLS-terminating proxy).
    pub tls_cert: String,
    /// PEM file of the TLS private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8720".into(),
            max_body_bytes: 16 << 20,
            wal_queue: 512,
            fold_interval_ms: 1000,
            retry_after_secs: 1,
            compact_interval_secs: 300,
            workers: 0,
            body_timeout_ms: 30_000,
            shutdown_timeout_secs: 20,
            keys: Vec::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}
