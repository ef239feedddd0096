//! The parse pipeline: a reader thread cuts the input into line-aligned blocks, a pool of
//! workers parses them in parallel, and [`ChunkStream`] hands the results back in input order.
//! Channels are bounded, so memory stays constant whatever the input size.

use crate::chunk::{ChunkBuilder, ParsedChunk};
use crate::format::Format;
use crate::formats::parse_line;
use crate::options::{BOM, CollectError, MAX_LINE_BYTES, ParseOptions};
use crate::source::Opened;
use crossbeam_channel::{Receiver, Sender, bounded};
use model::{DEFAULT_SHOP, Reason, Reject};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::thread;

/// A parsed chunk with its sequence number, or the end of input with the number of chunks sent
/// (and, if the input broke off, the error, to be handed out after those chunks).
enum Item {
    Chunk(u64, ParsedChunk),
    End(u64, Option<CollectError>),
}

type Msg = Result<Item, CollectError>;

/// Parsed chunks in input order.
pub struct ChunkStream {
    rx: Receiver<Msg>,
    pending: BTreeMap<u64, ParsedChunk>,
    next: u64,
    total: Option<u64>,
    /// Why the input broke off, once every chunk before the break is out.
    broken: Option<CollectError>,
    failed: bool,
    source_name: String,
}

impl Iterator for ChunkStream {
    type Item = Result<ParsedChunk, CollectError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.total == Some(self.next) {
                return self.broken.take().map(Err);
            }
            if let Some(c) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(Ok(c));
            }
            match self.rx.recv() {
                Ok(Ok(Item::Chunk(seq, c))) => {
                    self.pending.insert(seq, c);
                }
                Ok(Ok(Item::End(n, broken))) => {
                    self.total = Some(n);
                    self.broken = broken;
                }
                Ok(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Err(_) if self.total == Some(self.next) => return self.broken.take().map(Err),
                Err(_) => {
                    // Every sender is gone but chunks are missing: a thread panicked.
                    self.failed = true;
                    return Some(Err(CollectError::Internal {
                        source_name: self.source_name.clone(),
                    }));
                }
            }
        }
    }
}

/// Starts parsing an opened input.
pub fn parse(opened: Opened, opts: ParseOptions) -> ChunkStream {
    let threads = if opts.threads == 0 {
        thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        opts.threads
    };
    let (tx, rx) = bounded::<Msg>(threads * 2 + 2);
    let opts = Arc::new(opts);
    let name: Arc<str> = opened.name.clone().into();
    let opened_name = opened.name.clone();
    let mut reader = BufReader::with_capacity(1 << 20, opened.reader);
    // A UTF-8 byte order mark is no part of the first row (offsets still count it).
    let base = if opts.format != Format::Parquet && skip_bom(&mut reader) {
        BOM.len() as u64
    } else {
        0
    };
    let json_array = opts.format == Format::Ndjson && starts_with_bracket(&mut reader);
    if opts.format.is_line_based() && !json_array {
        let (work_tx, work_rx) = bounded::<Block>(threads * 2);
        for _ in 0..threads {
            let (work_rx, tx, opts, name) =
                (work_rx.clone(), tx.clone(), opts.clone(), name.clone());
            thread::spawn(move || {
                for block in work_rx {
                    let chunk = parse_block(&block, &opts, &name);
                    if tx.send(Ok(Item::Chunk(block.seq, chunk))).is_err() {
                        return;
                    }
                }
            });
        }
        thread::spawn(move || {
            let (blocks, err) = cut_blocks(reader, &opts, work_tx, base);
            let err = err.map(|err| CollectError::Io {
                source_name: name.to_string(),
                err,
            });
            let _ = tx.send(Ok(Item::End(blocks, err)));
        });
    } else {
        thread::spawn(move || {
            let mut seq = 0u64;
            let mut emit = |c: ParsedChunk| {
                let ok = tx.send(Ok(Item::Chunk(seq, c))).is_ok();
                seq += 1;
                ok
            };
            let format = if json_array {
                crate::formats::records::RecordFormat::JsonArray
            } else {
                opts.format.into()
            };
            let result = crate::formats::records::read(
                format,
                Box::new(reader),
                &opts,
                &name,
                base,
                &mut emit,
            );
            // An input that broke off mid-way: the chunks before the break count.
            let msg = match result {
                Ok(()) => Ok(Item::End(seq, None)),
                Err(e @ CollectError::Io { .. }) => Ok(Item::End(seq, Some(e))),
                Err(e) => Err(e),
            };
            let _ = tx.send(msg);
        });
    }
    ChunkStream {
        rx,
        pending: BTreeMap::new(),
        next: 0,
        total: None,
        broken: None,
        failed: false,
        source_name: opened_name,
    }
}

/// Consumes a byte order mark at the start of the input; true if there was one.
fn skip_bom<R: Read>(r: &mut BufReader<R>) -> bool {
    // A read error is left for the parser to meet (and report).
    let Ok(buf) = r.fill_buf() else { return false };
    if buf.starts_with(BOM) {
        r.consume(BOM.len());
        return true;
    }
    false
}

fn starts_with_bracket<R: Read>(r: &mut BufReader<R>) -> bool {
    loop {
        let Ok(buf) = r.fill_buf() else { return false };
        if buf.is_empty() {
            return false;
        }
        match buf.iter().position(|c| !c.is_ascii_whitespace()) {
            Some(p) => return buf[p] == b'[',
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

/// A line-aligned block of input.
struct Block {
    seq: u64,
    first_line: u64,
    offset: u64,
    data: Vec<u8>,
    /// Set when the block is one over-long line, cut at [`MAX_LINE_BYTES`].
    oversized: bool,
}

/// Cuts the input into blocks; returns how many were sent and, if reading failed, the error
/// (after sending every complete line read before it).
fn cut_blocks(
    r: impl BufRead,
    opts: &ParseOptions,
    tx: Sender<Block>,
    base: u64,
) -> (u64, Option<std::io::Error>) {
    let mut seq = 0u64;
    match cut_blocks_inner(r, opts, &tx, base, &mut seq) {
        Ok(()) => (seq, None),
        Err(e) => (seq, Some(e)),
    }
}

fn cut_blocks_inner(
    mut r: impl BufRead,
    opts: &ParseOptions,
    tx: &Sender<Block>,
    base: u64,
    seq: &mut u64,
) -> std::io::Result<()> {
    let (mut line, mut offset) = (1u64, base);
    // Resume: read past records already imported.
    while line <= opts.skip_records {
        let mut skipped = Vec::new();
        let n = r.read_until(b'\n', &mut skipped)?;
        if n == 0 {
            return Ok(());
        }
        offset += n as u64;
        line += 1;
    }
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut data = std::mem::take(&mut carry);
        let want = opts.chunk_bytes.max(1 << 16);
        let start = data.len();
        data.resize(start + want, 0);
        let mut filled = start;
        let mut failed = None;
        while filled < data.len() {
            match r.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        data.truncate(filled);
        if let Some(e) = failed {
            // The input broke off: send the complete lines; a partial last line is not a row.
            let end = memchr::memrchr(b'\n', &data).map_or(0, |p| p + 1);
            data.truncate(end);
            if !data.is_empty() {
                let block = Block {
                    seq: *seq,
                    first_line: line,
                    offset,
                    data,
                    oversized: false,
                };
                if tx.send(block).is_ok() {
                    *seq += 1;
                }
            }
            return Err(e);
        }
        let eof = filled < start + want;
        if data.is_empty() {
            return Ok(());
        }
        let cut = if eof {
            Some(data.len())
        } else {
            memchr::memrchr(b'\n', &data).map(|p| p + 1)
        };
        let oversized;
        match cut {
            Some(c) => {
                carry = data.split_off(c);
                oversized = false;
            }
            None if data.len() >= MAX_LINE_BYTES => {
                // One line bigger than the limit: quarantine its head, skip the rest of it.
                data.truncate(MAX_LINE_BYTES);
                skip_to_newline(&mut r)?;
                oversized = true;
            }
            None => {
                carry = data;
                continue;
            }
        }
        let lines = if oversized {
            1
        } else {
            memchr::memchr_iter(b'\n', &data).count() as u64 + u64::from(!data.ends_with(b"\n"))
        };
        let len = data.len() as u64;
        if tx
            .send(Block {
                seq: *seq,
                first_line: line,
                offset,
                data,
                oversized,
            })
            .is_err()
        {
            return Ok(());
        }
        *seq += 1;
        line += lines;
        offset += len;
        if eof && carry.is_empty() {
            return Ok(());
        }
    }
}

fn skip_to_newline(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(p) = memchr::memchr(b'\n', buf) {
            r.consume(p + 1);
            return Ok(());
        }
        let n = buf.len();
        r.consume(n);
    }
}

fn parse_block(block: &Block, opts: &ParseOptions, name: &str) -> ParsedChunk {
    let shop = opts.line.shop.as_deref().unwrap_or(DEFAULT_SHOP);
    let mut b = ChunkBuilder::new(
        name,
        opts.format.name(),
        shop,
        &opts.line.rules,
        block.first_line,
    );
    if block.oversized {
        let r = Reject::row(
            Reason::Malformed,
            format!("line longer than {MAX_LINE_BYTES} bytes"),
        );
        b.record(
            block.first_line,
            Some(block.offset),
            &block.data[..4096.min(block.data.len())],
            Err(r),
        );
        return b.finish();
    }
    let data = &block.data[..];
    let (mut start, mut line) = (0usize, block.first_line);
    // Taobao hot path: well-formed numeric rows go straight into the columns.
    let taobao = opts.format == Format::Taobao;
    let (min_ts, max_ts) = (opts.line.rules.min_ts_ms, opts.line.rules.max_ts());
    if taobao {
        // Taobao lines are 30-40 bytes.
        b.reserve_fast(data.len() / 30 + 1);
    }
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p);
        let raw = &data[start..end];
        if taobao
            && let Some((u, i, c, a, t)) =
                crate::formats::taobao::fast(raw.strip_suffix(b"\r").unwrap_or(raw))
            && let ts = model::time::unix_number_to_ms(t)
            && (min_ts..=max_ts).contains(&ts)
        {
            b.fast_row(raw.len(), ts, u, i, c, a);
            start = end + 1;
            line += 1;
            continue;
        }
        b.record(
            line,
            Some(block.offset + start as u64),
            raw,
            parse_line(opts.format, raw, &opts.line),
        );
        start = end + 1;
        line += 1;
    }
    b.finish()
}
