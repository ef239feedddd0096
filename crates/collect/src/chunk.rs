//! [`ChunkBuilder`]: turns parsed rows into a [`ParsedChunk`] — valid events into columns,
//! everything else into quarantine records. Shared by every format.

use crate::batch::EventBatch;
use crate::formats::Parsed;
use crate::quarantine::{QuarantineRecord, RowPos};
use model::{Event, Id, Reject, Rules};

/// An item dimension row learnt from an import (e.g. Online Retail's stock codes).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    /// The item id.
    pub item_id: Id,
    /// The item's category, when known.
    pub category_id: Option<Id>,
    /// Title / description.
    pub title: Option<String>,
    /// Latest unit price.
    pub price: Option<f64>,
    /// Time of the fact that taught us this, UTC ms.
    pub updated_at: i64,
}

/// A run of consecutive source records after parsing and validation.
pub struct ParsedChunk {
    /// 1-based number of the first record this chunk covers.
    pub first_record: u64,
    /// How many source records (lines) it covers, good and bad: the unit of
    /// `first_record` and of a resume point.
    pub records: u64,
    /// Of `records`, the lines that are no row of their own: a CSV header, the continuation
    /// lines of a record with a quoted line break.
    pub non_records: u64,
    /// Decompressed bytes it covers.
    pub bytes: u64,
    /// Valid events.
    pub batch: EventBatch,
    /// Rejected rows.
    pub rejects: Vec<QuarantineRecord>,
    /// Item dimension rows.
    pub items: Vec<ItemRecord>,
    /// Rows that carry an `event_id`, for exact dedup by the store.
    pub ids: Vec<IdRow>,
}

/// A kept row with a client `event_id`: where it sits, and its raw text in case it turns out to
/// be a duplicate and must be quarantined.
#[derive(Debug, Clone)]
pub struct IdRow {
    /// Table slot in the chunk's [`EventBatch`].
    pub slot: usize,
    /// Row within that slot.
    pub row: usize,
    /// The shop.
    pub shop: String,
    /// The event id.
    pub event_id: String,
    /// 1-based record number.
    pub line: u64,
    /// Byte offset.
    pub offset: Option<u64>,
    /// Raw text.
    pub raw: Vec<u8>,
}

impl ParsedChunk {
    /// Rows read: the records that are rows (blank lines included), not headers.
    pub fn rows_read(&self) -> u64 {
        self.records - self.non_records
    }
}

/// Builds one [`ParsedChunk`].
pub struct ChunkBuilder<'a> {
    source: &'a str,
    format: &'a str,
    shop: &'a str,
    rules: &'a Rules,
    chunk: ParsedChunk,
    id_raw: bool,
}

impl<'a> ChunkBuilder<'a> {
    /// Starts a chunk at record `first_record`.
    pub fn new(
        source: &'a str,
        format: &'a str,
        shop: &'a str,
        rules: &'a Rules,
        first_record: u64,
    ) -> Self {
        ChunkBuilder {
            source,
            format,
            shop,
            rules,
            chunk: ParsedChunk {
                first_record,
                records: 0,
                non_records: 0,
                bytes: 0,
                batch: EventBatch::new(),
                rejects: Vec::new(),
                items: Vec::new(),
                ids: Vec::new(),
            },
            id_raw: true,
        }
    }

    /// Whether rows with an `event_id` keep their raw text (needed only to quarantine a
    /// duplicate; the ingest server answers duplicates instead, and skips the copy).
    pub fn keep_id_raw(mut self, keep: bool) -> Self {
        self.id_raw = keep;
        self
    }

    /// Records handled so far.
    pub fn records(&self) -> u64 {
        self.chunk.records
    }

    /// Valid rows held so far.
    pub fn rows(&self) -> usize {
        self.chunk.batch.len()
    }

    /// Takes the result of parsing one record (`line` is its 1-based number, `raw` its text).
    #[inline]
    pub fn record(
        &mut self,
        line: u64,
        offset: Option<u64>,
        raw: &[u8],
        parsed: Result<Parsed, Reject>,
    ) {
        self.chunk.records += 1;
        self.chunk.bytes += raw.len() as u64 + 1;
        match parsed {
            Ok(Parsed::Skip) => {}
            Ok(Parsed::Fast(ts, u, i, c, a)) => self
                .chunk
                .batch
                .push_behavior_fast(self.shop, ts, u, i, c, a),
            Ok(Parsed::Event(e)) => self.event(line, offset, raw, &e),
            Err(r) => self.reject(line, offset, raw, r),
        }
    }

    /// Reserves room for about `rows` fast-path rows.
    pub fn reserve_fast(&mut self, rows: usize) {
        self.chunk.batch.reserve_behavior(self.shop, rows);
    }

    /// Keeps one numeric behaviour row that the caller already parsed and range-checked.
    #[inline]
    pub fn fast_row(
        &mut self,
        raw_len: usize,
        ts: i64,
        user: i64,
        item: i64,
        category: i64,
        action: i32,
    ) {
        self.chunk.records += 1;
        self.chunk.bytes += raw_len as u64 + 1;
        self.chunk
            .batch
            .push_behavior_fast(self.shop, ts, user, item, category, action);
    }

    /// Validates and keeps (or quarantines) one event.
    pub fn event(&mut self, line: u64, offset: Option<u64>, raw: &[u8], e: &Event) {
        match e.validate(self.rules) {
            Ok(()) => {
                let (slot, row) = self.chunk.batch.push(e);
                if let Some(id) = &e.event_id {
                    self.chunk.ids.push(IdRow {
                        slot,
                        row,
                        shop: e.shop().to_string(),
                        event_id: id.clone(),
                        line,
                        offset,
                        raw: if self.id_raw {
                            raw.to_vec()
                        } else {
                            Vec::new()
                        },
                    });
                }
            }
            Err(r) => self.reject(line, offset, raw, r),
        }
    }

    /// Quarantines one row.
    pub fn reject(&mut self, line: u64, offset: Option<u64>, raw: &[u8], r: Reject) {
        let pos = RowPos {
            source: self.source,
            format: self.format,
            shop: self.shop,
            line,
            offset,
        };
        self.chunk.rejects.push(QuarantineRecord::new(&pos, raw, r));
    }

    /// Adds an item dimension row.
    pub fn item(&mut self, item: ItemRecord) {
        self.chunk.items.push(item);
    }

    /// Counts a line that is no row (a header, a continuation line): it moves the record
    /// numbering on but is not a row read.
    pub fn skip(&mut self, raw_len: usize) {
        self.chunk.records += 1;
        self.chunk.non_records += 1;
        self.chunk.bytes += raw_len as u64 + 1;
    }

    /// Finishes the chunk.
    pub fn finish(self) -> ParsedChunk {
        self.chunk
    }

    /// Quarantines a row that was kept but turned out to be a duplicate (used by the store).
    pub fn duplicate_record(source: &str, format: &str, id: &IdRow) -> QuarantineRecord {
        let pos = RowPos {
            source,
            format,
            shop: &id.shop,
            line: id.line,
            offset: id.offset,
        };
        let r = Reject::field(
            model::Reason::Duplicate,
            "event_id",
            &id.event_id,
            "an event with this event_id was already accepted for this shop",
        );
        QuarantineRecord::new(&pos, &id.raw, r)
    }
}
