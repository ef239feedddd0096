//! Writing query results: a text table, CSV, JSON, NDJSON, Arrow IPC or Parquet. The streaming
//! formats encode batch by batch (an HTTP body never holds the whole result).

use crate::error::QueryError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::writer::{LineDelimited, WriterBuilder as JsonWriterBuilder};
use std::str::FromStr;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text table (not streamed).
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Arrow IPC stream.
    Arrow,
    /// Parquet (files only).
    Parquet,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "arrow" | "ipc" => Format::Arrow,
            "parquet" => Format::Parquet,
            _ => {
                return Err(format!(
                    "unknown format {s:?}; use table, csv, json, ndjson, arrow or parquet"
                ));
            }
        })
    }
}

impl Format {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

fn err(e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(format!("encoding the result: {e}"))
}

/// Encodes a stream of batches: [`Encoder::head`], one [`Encoder::batch`] per batch, then
/// [`Encoder::finish`]. Table and Parquet are not streaming formats (see [`write_all`]).
pub struct Encoder {
    format: Format,
    rows: u64,
    ipc: Option<StreamWriter<Vec<u8>>>,
}

impl Encoder {
    /// An encoder for `schema`; also returns the bytes that open the output.
    pub fn new(format: Format, schema: &SchemaRef) -> Result<(Encoder, Vec<u8>), QueryError> {
        let mut enc = Encoder {
            format,
            rows: 0,
            ipc: None,
        };
        let head = match format {
            Format::Json => b"[".to_vec(),
            Format::Arrow => {
                let mut w = StreamWriter::try_new(Vec::new(), schema).map_err(err)?;
                let head = std::mem::take(w.get_mut());
                enc.ipc = Some(w);
                head
            }
            Format::Csv => {
                let names: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| csv_field(f.name()))
                    .collect();
                format!("{}\n", names.join(",")).into_bytes()
            }
            Format::Ndjson => Vec::new(),
            Format::Table | Format::Parquet => {
                return Err(err(format!("{format:?} is not a streaming format")));
            }
        };
        Ok((enc, head))
    }

    /// The bytes of one batch.
    pub fn batch(&mut self, b: &RecordBatch) -> Result<Vec<u8>, QueryError> {
        let first = self.rows == 0;
        self.rows += b.num_rows() as u64;
        match self.format {
            Format::Ndjson => ndjson(b),
            Format::Json => {
                let mut lines = ndjson(b)?;
                // Raw newlines only separate records: JSON escapes them inside strings.
                if lines.last() == Some(&b'\n') {
                    lines.pop();
                }
                for c in lines.iter_mut() {
                    if *c == b'\n' {
                        *c = b',';
                    }
                }
                if !first && !lines.is_empty() {
                    lines.insert(0, b',');
                }
                Ok(lines)
            }
            Format::Csv => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(false)
                    .build(Vec::new());
                w.write(b).map_err(err)?;
                Ok(w.into_inner())
            }
            Format::Arrow => {
                let w = self.ipc.as_mut().ok_or_else(|| err("no IPC writer"))?;
                w.write(b).map_err(err)?;
                Ok(std::mem::take(w.get_mut()))
            }
            Format::Table | Format::Parquet => Err(err("not a streaming format")),
        }
    }

    /// The bytes that close the output.
    pub fn finish(mut self) -> Result<Vec<u8>, QueryError> {
        match self.format {
            Format::Json => Ok(b"]\n".to_vec()),
            Format::Arrow => {
                let mut w = self.ipc.take().ok_or_else(|| err("no IPC writer"))?;
                w.finish().map_err(err)?;
                Ok(std::mem::take(w.get_mut()))
            }
            _ => Ok(Vec::new()),
        }
    }
}

fn ndjson(b: &RecordBatch) -> Result<Vec<u8>, QueryError> {
    let mut w = JsonWriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, LineDelimited>(Vec::new());
    w.write(b).map_err(err)?;
    w.finish().map_err(err)?;
    Ok(w.into_inner())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes whole results in any format (the CLI path).
pub fn write_all(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), QueryError> {
    match format {
        Format::Table => {
            let table =
                datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(err)?;
            writeln!(out, "{table}").map_err(err)?;
        }
        Format::Parquet => {
            let mut w =
                parquet::arrow::ArrowWriter::try_new(out, schema.clone(), None).map_err(err)?;
            for b in batches {
                w.write(b).map_err(err)?;
            }
            w.close().map_err(err)?;
        }
        _ => {
            let (mut enc, head) = Encoder::new(format, schema)?;
            out.write_all(&head).map_err(err)?;
            for b in batches {
                out.write_all(&enc.batch(b)?).map_err(err)?;
            }
            out.write_all(&enc.finish()?).map_err(err)?;
        }
    }
    Ok(())
}
