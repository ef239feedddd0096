//! Record formats that are not one-row-per-line: CSV with a header (generic and Online Retail),
//! JSON arrays and Parquet. Each is read sequentially on one thread and emitted in chunks.
//!
//! Record numbers (what `ParsedChunk::first_record`, `ParsedChunk::records` and
//! `ParseOptions::skip_records` count) are deterministic, so a resume is exact:
//!
//! - CSV (Online Retail, generic): physical lines, the header being line 1. A record whose quoted
//!   field spans several lines is numbered by its first line and covers all of them.
//! - JSON array: elements, 1-based (a stretch of bytes that is not an element counts as one).
//! - Parquet: rows, 1-based.

use crate::chunk::{ChunkBuilder, ItemRecord, ParsedChunk};
use crate::format::Format;
pub use crate::options::RecordOptions;
use crate::options::{CollectError, ParseOptions};
use model::{DEFAULT_SHOP, Id, Rules};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// Which record reader to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// UCI Online Retail.
    OnlineRetail,
    /// CSV with header and mapping.
    Csv,
    /// A JSON array of events.
    JsonArray,
    /// Parquet.
    Parquet,
}

impl From<Format> for RecordFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::OnlineRetail => RecordFormat::OnlineRetail,
            Format::Parquet => RecordFormat::Parquet,
            Format::Ndjson => RecordFormat::JsonArray,
            _ => RecordFormat::Csv,
        }
    }
}

/// Reads a record-format input, calling `emit` per chunk; stops early when `emit` returns false.
/// `base` is the stream offset of the reader's first byte (past a byte order mark). When the
/// input breaks off, the records read before the break are emitted before the error returns.
pub fn read(
    format: RecordFormat,
    reader: Box<dyn Read + Send>,
    opts: &ParseOptions,
    source: &str,
    base: u64,
    emit: &mut dyn FnMut(ParsedChunk) -> bool,
) -> Result<(), CollectError> {
    // One instant for the whole import, so every row is judged against the same upper bound.
    let rules = opts.line.rules.pinned();
    let shop = opts.line.shop.as_deref().unwrap_or(DEFAULT_SHOP);
    let mut sink = Sink::new(source, opts.format.name(), shop, &rules, opts, emit);
    sink.base = base;
    let reader = BufReader::with_capacity(1 << 16, reader);
    let r = match format {
        RecordFormat::OnlineRetail => super::online_retail::read(reader, opts, &mut sink),
        RecordFormat::Csv => super::csv_mapped::read(reader, opts, &mut sink),
        RecordFormat::JsonArray => super::json_array::read(reader, opts, &mut sink),
        RecordFormat::Parquet => super::parquet_in::read(reader, opts, &mut sink),
    };
    sink.finish();
    r
}

/// An I/O error while reading `source`.
pub(crate) fn io_error(source: &str, err: std::io::Error) -> CollectError {
    CollectError::Io {
        source_name: source.to_string(),
        err,
    }
}

/// The input as a whole is not in the expected format.
pub(crate) fn format_error(source: &str, format: &str, message: impl Into<String>) -> CollectError {
    CollectError::Format {
        source_name: source.to_string(),
        format: format.to_string(),
        message: message.into(),
    }
}

/// Collects records into chunks of about `chunk_rows` records and hands them to `emit`.
pub(crate) struct Sink<'a> {
    pub(crate) source: &'a str,
    pub(crate) format: &'static str,
    pub(crate) shop: &'a str,
    /// Stream offset of the first byte the reader sees.
    pub(crate) base: u64,
    rules: &'a Rules,
    chunk_rows: u64,
    skip: u64,
    emit: &'a mut dyn FnMut(ParsedChunk) -> bool,
    cur: Option<ChunkBuilder<'a>>,
    /// Item rows of the open chunk, one per item (the latest fact wins).
    items: Vec<ItemRecord>,
    item_index: HashMap<Id, usize>,
    /// Bytes counted twice for continuation lines (see [`Sink::continuation_lines`]).
    bytes_fix: u64,
    stopped: bool,
}

impl<'a> Sink<'a> {
    fn new(
        source: &'a str,
        format: &'static str,
        shop: &'a str,
        rules: &'a Rules,
        opts: &ParseOptions,
        emit: &'a mut dyn FnMut(ParsedChunk) -> bool,
    ) -> Self {
        Sink {
            source,
            format,
            shop,
            base: 0,
            rules,
            chunk_rows: opts.records.chunk_rows.max(1) as u64,
            skip: opts.skip_records,
            emit,
            cur: None,
            items: Vec::new(),
            item_index: HashMap::new(),
            bytes_fix: 0,
            stopped: false,
        }
    }

    /// Whether record `n` lies before the resume point and must be read past, not parsed.
    #[inline]
    pub(crate) fn skipped(&self, n: u64) -> bool {
        n <= self.skip
    }

    /// The builder of the open chunk, opening one that starts at record `n` if needed.
    #[inline]
    pub(crate) fn at(&mut self, n: u64) -> &mut ChunkBuilder<'a> {
        let (source, format, shop, rules) = (self.source, self.format, self.shop, self.rules);
        self.cur
            .get_or_insert_with(|| ChunkBuilder::new(source, format, shop, rules, n))
    }

    /// Counts the extra lines of a record that spans several lines (CSV quoted newlines), so
    /// chunks count lines; the bytes of those lines are already in the record's raw text.
    pub(crate) fn continuation_lines(&mut self, k: u64) {
        if let Some(b) = self.cur.as_mut() {
            for _ in 0..k {
                b.skip(0);
            }
            self.bytes_fix += k;
        }
    }

    /// Adds an item dimension row. Within a chunk one row per item is kept: the latest fact's
    /// known fields win, and fields it lacks keep what an earlier row said.
    pub(crate) fn item(&mut self, item: ItemRecord) {
        match self.item_index.get(&item.item_id) {
            Some(&k) => {
                let old = &mut self.items[k];
                if item.updated_at >= old.updated_at {
                    let prev = std::mem::replace(old, item);
                    old.category_id = old.category_id.take().or(prev.category_id);
                    old.title = old.title.take().or(prev.title);
                    old.price = old.price.or(prev.price);
                } else {
                    old.category_id = old.category_id.take().or(item.category_id);
                    old.title = old.title.take().or(item.title);
                    old.price = old.price.or(item.price);
                }
            }
            None => {
                self.item_index
                    .insert(item.item_id.clone(), self.items.len());
                self.items.push(item);
            }
        }
    }

    /// Call after each record: emits the chunk once it holds `chunk_rows` records. Returns
    /// false when the consumer wants no more.
    #[inline]
    pub(crate) fn end_record(&mut self) -> bool {
        if self
            .cur
            .as_ref()
            .is_some_and(|b| b.records() >= self.chunk_rows)
        {
            self.flush();
        }
        !self.stopped
    }

    fn flush(&mut self) {
        let Some(mut b) = self.cur.take() else { return };
        for it in self.items.drain(..) {
            b.item(it);
        }
        self.item_index.clear();
        let mut chunk = b.finish();
        chunk.bytes = chunk
            .bytes
            .saturating_sub(std::mem::take(&mut self.bytes_fix));
        if !self.stopped && !(self.emit)(chunk) {
            self.stopped = true;
        }
    }

    /// Emits what is left.
    pub(crate) fn finish(mut self) {
        self.flush();
    }
}

/// Reads one line (without its `\n`) into `out`, keeping at most `cap` bytes of it. Returns
/// `(bytes consumed, line was longer than cap)`, or `None` at end of input.
pub(crate) fn read_line_capped(
    r: &mut impl BufRead,
    out: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<(u64, bool)>> {
    out.clear();
    let (mut consumed, mut over, mut any) = (0u64, false, false);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let (take, nl) = match memchr::memchr(b'\n', buf) {
            Some(p) => (p, true),
            None => (buf.len(), false),
        };
        let room = cap.saturating_sub(out.len());
        if take > room {
            over = true;
        }
        out.extend_from_slice(&buf[..take.min(room)]);
        let used = take + usize::from(nl);
        r.consume(used);
        consumed += used as u64;
        if nl {
            break;
        }
    }
    Ok(any.then_some((consumed, over)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lines_report_overflow_and_consume_the_whole_line() {
        let mut r = std::io::Cursor::new(b"abcdef\nxy".to_vec());
        let mut out = Vec::new();
        assert_eq!(
            read_line_capped(&mut r, &mut out, 3).unwrap(),
            Some((7, true))
        );
        assert_eq!(out, b"abc");
        assert_eq!(
            read_line_capped(&mut r, &mut out, 3).unwrap(),
            Some((2, false))
        );
        assert_eq!(out, b"xy");
        assert_eq!(read_line_capped(&mut r, &mut out, 3).unwrap(), None);
    }
}
