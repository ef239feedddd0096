//! CSV records read line by line, shared by the Online Retail and generic CSV readers.
//!
//! Fields are split by the `csv-core` parser (RFC 4180 quoting, `""` escapes). Unlike a plain
//! streaming CSV reader, a broken row can never swallow its neighbours: a quote left open at the
//! end of a line continues onto the next lines only if the joined record then closes, is
//! well-formed (every quote opens a field and is followed by a delimiter or the end) and has
//! the header's column count. Otherwise the first line alone is reported as
//! [`RowKind::Unterminated`] and the following lines are read again as records of their own.
//! Lines read again are counted: once they outnumber the lines of the input (plus a margin),
//! a garbage file full of stray quotes stops trying joins, so work stays linear.

use super::records::read_line_capped;
use crate::options::MAX_LINE_BYTES;
use csv_core::{ReadRecordResult, Reader, ReaderBuilder, Terminator};
use std::collections::VecDeque;
use std::io::BufRead;

/// Most lines one quoted field may span before the record is judged broken.
pub(crate) const MAX_JOIN_LINES: usize = 256;
/// Lines that may be read again beyond the input's own line count before joins stop.
const REREAD_MARGIN: u64 = 100_000;
/// Raw text kept for an over-long line.
const OVERSIZED_RAW: usize = 4096;

/// What a record turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// Only whitespace.
    Blank,
    /// Longer than [`MAX_LINE_BYTES`]; the raw text is its head.
    Oversized,
    /// A quote opened on this line never closes properly; fields are split as if it closed
    /// at the end of the line.
    Unterminated,
    /// A complete record.
    Fields,
}

/// Where a record sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowMeta {
    /// 1-based number of its first line.
    pub line: u64,
    /// Byte offset of its first line.
    pub offset: u64,
    /// Physical lines it spans.
    pub lines: u64,
    pub kind: RowKind,
}

struct PhysLine {
    line: u64,
    offset: u64,
    bytes: Vec<u8>,
    oversized: bool,
}

/// Reads CSV records from a line stream.
pub(crate) struct CsvLines<R> {
    src: R,
    next_line: u64,
    next_offset: u64,
    pending: VecDeque<PhysLine>,
    core: Reader,
    /// The record as received (lines joined by `\n`, without the final line break).
    raw: Vec<u8>,
    /// The text fed to the parser (as `raw`, with each line's trailing `\r` removed).
    text: Vec<u8>,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// Column count a multi-line record must have to be accepted (the header's).
    pub expected_cols: Option<usize>,
    /// Lines pushed back after failed joins, to be read again.
    reread: u64,
}

fn strip_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

impl<R: BufRead> CsvLines<R> {
    /// Reads `src`, whose first byte sits at stream offset `base`.
    pub(crate) fn new(src: R, base: u64) -> Self {
        CsvLines {
            src,
            next_line: 1,
            next_offset: base,
            pending: VecDeque::new(),
            core: ReaderBuilder::new()
                .terminator(Terminator::Any(b'\n'))
                .build(),
            raw: Vec::new(),
            text: Vec::new(),
            out: vec![0; 1024],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            expected_cols: None,
            reread: 0,
        }
    }

    /// The record's raw text.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends_len
    }

    /// Field `i` (unquoted, unescaped).
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }

    fn read_phys(&mut self) -> std::io::Result<Option<PhysLine>> {
        if let Some(l) = self.pending.pop_front() {
            return Ok(Some(l));
        }
        let mut bytes = Vec::new();
        let Some((consumed, oversized)) =
            read_line_capped(&mut self.src, &mut bytes, MAX_LINE_BYTES)?
        else {
            return Ok(None);
        };
        let l = PhysLine {
            line: self.next_line,
            offset: self.next_offset,
            bytes,
            oversized,
        };
        self.next_line += 1;
        self.next_offset += consumed;
        Ok(Some(l))
    }

    /// Feeds bytes to the parser; true when they completed a record.
    fn feed(&mut self, mut input: &[u8]) -> bool {
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if input.is_empty() {
                        return false;
                    }
                }
                ReadRecordResult::OutputFull => {
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => return true,
            }
        }
    }

    fn start(&mut self) {
        self.core.reset();
        self.out_len = 0;
        self.ends_len = 0;
    }

    /// Parses one line on its own, closing an open quote at its end.
    fn parse_alone(&mut self, line: &[u8]) {
        self.start();
        if !self.feed(line) {
            self.feed(&[]);
        }
    }

    /// The next record, or `None` at end of input.
    pub(crate) fn next_row(&mut self) -> std::io::Result<Option<RowMeta>> {
        let Some(first) = self.read_phys()? else {
            return Ok(None);
        };
        let meta = |kind, lines| RowMeta {
            line: first.line,
            offset: first.offset,
            lines,
            kind,
        };
        self.raw.clear();
        self.text.clear();
        self.ends_len = 0;
        if first.oversized {
            self.raw
                .extend_from_slice(&first.bytes[..OVERSIZED_RAW.min(first.bytes.len())]);
            return Ok(Some(meta(RowKind::Oversized, 1)));
        }
        self.raw.extend_from_slice(&first.bytes);
        let line = strip_cr(&first.bytes);
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Some(meta(RowKind::Blank, 1)));
        }
        self.text.extend_from_slice(line);
        self.start();
        if self.feed(line) || self.feed(b"\n") {
            return Ok(Some(meta(RowKind::Fields, 1)));
        }
        // A quoted field is still open: try to continue it on the following lines.
        let mut group: Vec<PhysLine> = Vec::new();
        let mut joined = false;
        let budget = self.reread <= self.next_line + REREAD_MARGIN;
        while budget && group.len() + 1 < MAX_JOIN_LINES && self.text.len() <= MAX_LINE_BYTES {
            let Some(next) = self.read_phys()? else { break };
            let over = next.oversized;
            let done = !over && {
                let l = strip_cr(&next.bytes);
                self.raw.push(b'\n');
                self.raw.extend_from_slice(&next.bytes);
                self.text.push(b'\n');
                self.text.extend_from_slice(l);
                self.feed(l) || self.feed(b"\n")
            };
            group.push(next);
            if over {
                break;
            }
            if done {
                joined = quotes_well_formed(&self.text)
                    && self.expected_cols.is_none_or(|n| n == self.ends_len);
                break;
            }
        }
        if joined {
            return Ok(Some(meta(RowKind::Fields, group.len() as u64 + 1)));
        }
        self.reread += group.len() as u64;
        for l in group.into_iter().rev() {
            self.pending.push_front(l);
        }
        self.raw.clear();
        self.raw.extend_from_slice(&first.bytes);
        self.text.clear();
        self.parse_alone(strip_cr(&first.bytes));
        Ok(Some(meta(RowKind::Unterminated, 1)))
    }
}

/// Whether every quote in a record is RFC 4180 well-formed: a quoted field starts with its
/// quote, doubles inner quotes and is followed by a delimiter or the end; unquoted fields hold
/// no quotes.
pub(crate) fn quotes_well_formed(text: &[u8]) -> bool {
    let (mut i, n) = (0usize, text.len());
    loop {
        // At the start of a field.
        if i < n && text[i] == b'"' {
            i += 1;
            loop {
                match memchr::memchr(b'"', &text[i..]) {
                    None => return false,
                    Some(p) => {
                        i += p + 1;
                        if i < n && text[i] == b'"' {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            if i == n {
                return true;
            }
            if text[i] != b',' {
                return false;
            }
            i += 1;
        } else {
            let end = memchr::memchr(b',', &text[i..]).map_or(n, |p| i + p);
            if memchr::memchr(b'"', &text[i..end]).is_some() {
                return false;
            }
            if end == n {
                return true;
            }
            i = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(input: &str, cols: Option<usize>) -> Vec<(u64, u64, RowKind, Vec<String>)> {
        let mut r = CsvLines::new(std::io::Cursor::new(input.as_bytes().to_vec()), 0);
        r.expected_cols = cols;
        let mut v = Vec::new();
        while let Some(m) = r.next_row().unwrap() {
            let f = (0..r.len())
                .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                .collect();
            v.push((m.line, m.lines, m.kind, f));
        }
        v
    }

    #[test]
    fn quoted_commas_escapes_and_crlf() {
        let v = rows("a,\"b,c\",\"7\"\" x\"\r\n\r\nd,,\n", None);
        assert_eq!(v[0].3, ["a", "b,c", "7\" x"]);
        assert_eq!(v[1].2, RowKind::Blank);
        assert_eq!(
            (v[2].0, v[2].3.clone()),
            (3, vec!["d".into(), "".into(), "".into()])
        );
    }

    #[test]
    fn a_quoted_newline_joins_lines_but_an_open_quote_does_not_swallow_neighbours() {
        let v = rows("1,\"two\nlines\",3\n4,5,6\n", Some(3));
        assert_eq!((v[0].1, v[0].2), (2, RowKind::Fields));
        assert_eq!(v[0].3[1], "two\nlines");
        assert_eq!(
            (v[1].0, v[1].3.clone()),
            (3, vec!["4".into(), "5".into(), "6".into()])
        );
        // The open quote would close on the next line's quote, but the result is malformed.
        let v = rows("1,\"x\n5,\"hi\",6\n7,8,9\n", Some(3));
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].0, v[0].2), (1, RowKind::Unterminated));
        assert_eq!((v[1].0, v[1].2), (2, RowKind::Fields));
        assert_eq!(v[1].3, ["5", "hi", "6"]);
        assert_eq!(v[2].3, ["7", "8", "9"]);
        // Never closed at all.
        let v = rows("1,\"x\n4,5,6\n", Some(3));
        assert_eq!(
            v.iter().map(|r| r.2).collect::<Vec<_>>(),
            [RowKind::Unterminated, RowKind::Fields]
        );
    }

    #[test]
    fn a_stray_quote_on_every_line_quarantines_each_alone_in_linear_work() {
        let n = 150_000u64;
        let input = "a,\"x\n".repeat(n as usize);
        let mut r = CsvLines::new(std::io::Cursor::new(input.into_bytes()), 0);
        r.expected_cols = Some(2);
        let mut rows = 0;
        while let Some(m) = r.next_row().unwrap() {
            assert_eq!(m.kind, RowKind::Unterminated);
            rows += 1;
        }
        assert_eq!(rows, n);
        assert!(
            r.reread <= n + REREAD_MARGIN + MAX_JOIN_LINES as u64,
            "{}",
            r.reread
        );
    }

    #[test]
    fn well_formed_quotes() {
        assert!(quotes_well_formed(b"a,\"b,c\",\"d\"\"e\""));
        assert!(quotes_well_formed(b"\"x\ny\",2,"));
        assert!(!quotes_well_formed(b"a,\"b\"c"));
        assert!(!quotes_well_formed(b"a,b\"c"));
        assert!(!quotes_well_formed(b"a,\"open"));
    }
}
