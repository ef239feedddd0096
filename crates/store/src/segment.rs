//! Writing lake files: sort a batch by `ts`, cut it at day boundaries, and encode each day as a
//! Parquet file (zstd, dictionary-encoded ids and names, delta-encoded times).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch, UInt32Array};
use model::EventType;
use model::Zone;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{WriterProperties, WriterVersion};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

/// One day's slice of a batch, sorted by `ts`.
pub struct DaySlice {
    /// `YYYY-MM-DD`.
    pub dt: String,
    /// The rows.
    pub batch: RecordBatch,
}

fn ts_values(batch: &RecordBatch) -> &[i64] {
    batch
        .column(0)
        .as_primitive::<TimestampMillisecondType>()
        .values()
}

/// Sorts by event time (ties keep input order) and splits at local-day boundaries.
pub fn split_days(
    batch: RecordBatch,
    zone: &Zone,
) -> Result<Vec<DaySlice>, arrow_schema::ArrowError> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let sorted = {
        let ts = ts_values(&batch);
        if ts.windows(2).all(|w| w[0] <= w[1]) {
            batch
        } else {
            let mut idx: Vec<u32> = (0..ts.len() as u32).collect();
            idx.sort_unstable_by_key(|&i| (ts[i as usize], i));
            arrow_select::take::take_record_batch(&batch, &UInt32Array::from(idx))?
        }
    };
    let ts = ts_values(&sorted);
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < ts.len() {
        let day = zone.day_of(ts[start]);
        let (_, end_ms) = zone.day_range(day);
        let len = ts[start..].partition_point(|&t| t < end_ms);
        out.push(DaySlice {
            dt: day.format("%Y-%m-%d").to_string(),
            batch: sorted.slice(start, len),
        });
        start += len;
    }
    Ok(out)
}

/// The column whose values are counted per file for quick stats.
pub fn kind_column(t: EventType) -> Option<&'static str> {
    match t {
        EventType::Behavior => Some("action"),
        EventType::Order => Some("status"),
        EventType::Login => Some("result"),
        EventType::Payment => Some("channel"),
        EventType::PageView => Some("method"),
        EventType::AdClick => None,
    }
}

/// Counts rows per value of a dictionary column over several batches.
pub fn count_kinds_all(batches: &[RecordBatch], column: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for b in batches {
        for (k, n) in count_kinds(b, column) {
            *out.entry(k).or_insert(0) += n;
        }
    }
    out
}

/// Counts rows per value of a dictionary column.
pub fn count_kinds(batch: &RecordBatch, column: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Some(col) = batch.column_by_name(column) else {
        return out;
    };
    let Some(dict) = col.as_dictionary_opt::<Int32Type>() else {
        return out;
    };
    let values = dict.values().as_string::<i32>();
    let mut counts = vec![0u64; values.len()];
    let mut nulls = 0u64;
    for (i, k) in dict.keys().values().iter().enumerate() {
        if dict.is_null(i) {
            nulls += 1;
        } else if let Some(c) = counts.get_mut(*k as usize) {
            *c += 1;
        }
    }
    for (i, c) in counts.into_iter().enumerate() {
        if c > 0 {
            *out.entry(values.value(i).to_string()).or_insert(0) += c;
        }
    }
    if nulls > 0 {
        out.insert("(null)".into(), nulls);
    }
    out
}

/// The staged and the final path (relative to the data dir) of lake file `seq`.
pub fn file_names(t: EventType, shop: &str, dt: &str, seq: u64) -> (String, String) {
    (
        format!("lake/_staging/{seq:012}.parquet.tmp"),
        format!(
            "lake/{}/shop={shop}/dt={dt}/part-{seq:012}.parquet",
            t.name()
        ),
    )
}

/// Files with fewer rows than this are compressed with LZ4 instead of zstd.
///
/// Readers set up a zstd context per column chunk, and that setup queries the CPU (`cpuid`,
/// which traps to the hypervisor on a VM): on a table of a few hundred small day files it took
/// a quarter of a query's time, more than the decompression itself. LZ4 has no setup, and on
/// small files its larger output costs little.
pub const SMALL_FILE_ROWS: u64 = 65_536;

/// Parquet settings for a lake file of about `rows` rows.
pub fn writer_properties(zstd_level: i32, rows: u64) -> WriterProperties {
    let level = ZstdLevel::try_new(zstd_level).unwrap_or_default();
    let codec = if rows < SMALL_FILE_ROWS {
        Compression::LZ4_RAW
    } else {
        Compression::ZSTD(level)
    };
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(codec)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_column_dictionary_enabled("ts".into(), false)
        .set_column_encoding("ts".into(), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled("received_at".into(), false)
        // Millions of distinct users and items overflow any dictionary page: hashing every value
        // only to fall back to plain costs a fifth of the import. zstd does the compressing.
        .set_column_dictionary_enabled("user_id".into(), false)
        .set_column_dictionary_enabled("item_id".into(), false)
        .set_column_encoding("received_at".into(), Encoding::DELTA_BINARY_PACKED)
        .set_created_by("storepulse".into())
        .build()
}

/// Writes a batch to `path` and fsyncs it; returns the file size.
pub fn write_parquet(path: &Path, batch: &RecordBatch, props: WriterProperties) -> io::Result<u64> {
    write_parquet_all(path, std::slice::from_ref(batch), props)
}

/// Writes batches (sharing one schema, already in order) to one file and fsyncs it. A write
/// that fails leaves no partial file behind: on a full disk it would hold space until the next
/// start's sweep.
pub fn write_parquet_all(
    path: &Path,
    batches: &[RecordBatch],
    props: WriterProperties,
) -> io::Result<u64> {
    let r = write_parquet_inner(path, batches, props);
    if r.is_err() {
        let _ = std::fs::remove_file(path);
    }
    r
}

fn write_parquet_inner(
    path: &Path,
    batches: &[RecordBatch],
    props: WriterProperties,
) -> io::Result<u64> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| io::Error::other("no batches to write"))?;
    let file = File::create(path)?;
    let mut w = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
        .map_err(io::Error::other)?;
    for b in batches {
        w.write(b).map_err(io::Error::other)?;
    }
    let buf = w.into_inner().map_err(io::Error::other)?;
    let file = buf.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// Day slices of batches of one table: if every batch is sorted and each starts at or after
/// the previous one's end (the usual case for time-ordered input), they are cut without copying;
/// otherwise they are concatenated and sorted.
pub fn split_days_many(
    batches: Vec<RecordBatch>,
    zone: &Zone,
) -> Result<Vec<(String, Vec<RecordBatch>)>, arrow_schema::ArrowError> {
    let mut prev_end = i64::MIN;
    let ordered = batches.iter().all(|b| {
        let ts = ts_values(b);
        let ok = ts.first().is_none_or(|&f| f >= prev_end) && ts.windows(2).all(|w| w[0] <= w[1]);
        if let Some(&l) = ts.last() {
            prev_end = l;
        }
        ok
    });
    let slices = if ordered {
        let mut v = Vec::new();
        for b in batches {
            v.extend(split_days(b, zone)?);
        }
        v
    } else {
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            return Ok(Vec::new());
        };
        split_days(
            arrow_select::concat::concat_batches(&schema, &batches)?,
            zone,
        )?
    };
    let mut out: Vec<(String, Vec<RecordBatch>)> = Vec::new();
    for s in slices {
        match out.last_mut() {
            Some((dt, v)) if *dt == s.dt => v.push(s.batch),
            _ => out.push((s.dt, vec![s.batch])),
        }
    }
    Ok(out)
}

/// Smallest and largest `ts` of a sorted batch.
pub fn ts_range(batch: &RecordBatch) -> (i64, i64) {
    let ts = ts_values(batch);
    (
        ts.first().copied().unwrap_or(0),
        ts.last().copied().unwrap_or(0),
    )
}
