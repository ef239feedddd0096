//! # storepulse-collect
//!
//! The collection stage: turns raw input into validated, columnar events, and every row it
//! cannot accept into a quarantine record that says why.
//!
//! ```text
//! Input (file | .gz | stdin) ─► source::open ─► pipeline::parse ─► ChunkStream of ParsedChunk
//!                                              (reader thread → N parser threads → in order)
//!   ParsedChunk = EventBatch (valid events as columns) + QuarantineRecord[] + ItemRecord[]
//! ```
//!
//! - [`Format`] — the input formats; [`formats`] — one module each.
//! - [`ParseOptions`], [`CollectError`], the limits — shared by the pipeline and the formats
//!   (`options`, below both).
//! - [`EventBatch`] — events grouped by (table, shop) as Arrow columns.
//! - [`QuarantineRecord`] — a rejected row with source, line, offset, raw text and reason.
//!
//! ```
//! use storepulse_collect::{parse, ParseOptions, Format, Input, source};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ub.csv");
//! std::fs::write(&path, "1,2,3,pv,1511658000\n1,2,3,??,1511658000\n").unwrap();
//! let opened = source::open(&Input::Path(path)).unwrap();
//! let chunks: Vec<_> = parse(opened, ParseOptions::new(Format::Taobao)).collect::<Result<_, _>>().unwrap();
//! assert_eq!(chunks.iter().map(|c| c.batch.len()).sum::<usize>(), 1);
//! assert_eq!(chunks.iter().map(|c| c.rejects.len()).sum::<usize>(), 1);
//! ```
//!
//! Durable storage of what this produces lives in `storepulse-store`.
#![deny(missing_docs)]

mod batch;
mod chunk;
mod columns;
mod format;
pub mod formats;
mod gz;
mod identity;
mod options;
mod pipeline;
mod quarantine;
pub mod source;

pub use batch::{ACTION_KEYS, EventBatch, TableBatch};
pub use chunk::{ChunkBuilder, IdRow, ItemRecord, ParsedChunk};
pub use format::Format;
pub use options::{CollectError, MAX_LINE_BYTES, ParseOptions};
pub use pipeline::{ChunkStream, parse};
pub use quarantine::{QuarantineRecord, RowPos, now_ms};
pub use source::Input;
