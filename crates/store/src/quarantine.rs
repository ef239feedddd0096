//! The quarantine: list, count and replay rejected rows. Replay parses each row again with the
//! current rules; rows that now pass are stored and leave the quarantine, the rest stay (with
//! their new reason) — all in one atomic commit, so a crash mid-replay changes nothing.

use crate::fsutil::sync_dir;
use crate::manifest::QuarantineFile;
use crate::store::{Ctx, Store, StoreError};
use collect::{Format, Input, ParseOptions, QuarantineRecord};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};

/// Header line of formats whose rows need one to be parsed again.
fn header_for(format: Format) -> Option<&'static str> {
    match format {
        Format::OnlineRetail => Some(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        ),
        _ => None,
    }
}

/// Whether rows of this format can be replayed from their raw text alone.
pub fn replayable(format: Format) -> bool {
    format.is_line_based() || header_for(format).is_some()
}

impl Store {
    /// Every quarantined row, oldest first.
    pub fn quarantine_rows(&self) -> Result<Vec<QuarantineRecord>, StoreError> {
        let mut out = Vec::new();
        for q in &self.manifest().quarantine {
            out.extend(read_file(self, q)?);
        }
        Ok(out)
    }

    /// Parses the selected quarantined rows again. `opts_for` gives the parse options for a
    /// format (rules, time zones); returns (rows now stored, rows still quarantined).
    pub fn replay_quarantine(
        &mut self,
        select: &dyn Fn(&QuarantineRecord) -> bool,
        opts_for: &dyn Fn(Format) -> ParseOptions,
    ) -> Result<(u64, u64), StoreError> {
        let old: Vec<QuarantineFile> = self.manifest().quarantine.clone();
        let mut keep = Vec::new();
        let mut groups: BTreeMap<(String, String), Vec<QuarantineRecord>> = BTreeMap::new();
        for q in &old {
            for r in read_file(self, q)? {
                match r.format.parse::<Format>() {
                    Ok(f) if select(&r) && replayable(f) => groups
                        .entry((r.format.clone(), r.shop.clone()))
                        .or_default()
                        .push(r),
                    _ => keep.push(r),
                }
            }
        }
        if groups.is_empty() {
            return Ok((0, 0));
        }
        let tmpdir = self.root().join("state/replay");
        std::fs::create_dir_all(&tmpdir).ctx(|| "creating state/replay".into())?;
        let mut files = Vec::new();
        let mut still = Vec::new();
        let mut stored = 0u64;
        for ((format, shop), rows) in groups {
            let format: Format = format.parse().map_err(|e: String| StoreError::Encode(e))?;
            let path = tmpdir.join("rows");
            let mut f = std::fs::File::create(&path).ctx(|| "writing replay rows".into())?;
            let skip_lines = match header_for(format) {
                Some(h) => {
                    writeln!(f, "{h}").ctx(|| "writing replay rows".into())?;
                    1
                }
                None => 0,
            };
            for r in &rows {
                writeln!(f, "{}", r.raw).ctx(|| "writing replay rows".into())?;
            }
            drop(f);
            let mut opts = opts_for(format);
            opts.line.shop = Some(shop);
            opts.records.path = Some(path.clone());
            let opened = collect::source::open(&Input::Path(path.clone()))
                .ctx(|| "reading replay rows".into())?;
            for chunk in collect::parse(opened, opts) {
                let chunk = chunk.map_err(|e| StoreError::Encode(e.to_string()))?;
                let (tables, rejects) = self.dedup(chunk, "replay", format.name())?;
                let prepared = self.prepare(tables)?;
                stored += prepared.rows();
                files.push(prepared);
                for mut r in rejects {
                    // Point the record back at the row's original source and line.
                    if let Some(orig) = (r.line as usize)
                        .checked_sub(1 + skip_lines)
                        .and_then(|i| rows.get(i))
                    {
                        r.source = orig.source.clone();
                        r.line = orig.line;
                        r.offset = orig.offset;
                    }
                    still.push(r);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&tmpdir);
        let remaining = still.len() as u64;
        keep.extend(still);
        let new_q = if keep.is_empty() {
            None
        } else {
            let seq = self.next_seq();
            let staged = format!("quarantine/q-{seq:012}.ndjson.tmp");
            crate::store::write_ndjson(&self.root().join(&staged), &keep)
                .ctx(|| format!("writing {staged}"))?;
            Some(QuarantineFile {
                seq,
                path: format!("quarantine/q-{seq:012}.ndjson"),
                staged: Some(staged),
                rows: keep.len() as u64,
            })
        };
        self.commit_replay(files, new_q)?;
        sync_dir(&self.root().join("quarantine")).ctx(|| "syncing quarantine/".into())?;
        Ok((stored, remaining))
    }
}

fn read_file(store: &Store, q: &QuarantineFile) -> Result<Vec<QuarantineRecord>, StoreError> {
    read_quarantine_file(store.root(), q)
}

/// The rows of one quarantine file (`root` = the data dir), for readers without a [`Store`].
pub fn read_quarantine_file(
    root: &std::path::Path,
    q: &QuarantineFile,
) -> Result<Vec<QuarantineRecord>, StoreError> {
    let mut path = root.join(&q.path);
    if let (false, Some(staged)) = (path.exists(), &q.staged) {
        path = root.join(staged);
    }
    let f = std::fs::File::open(&path).ctx(|| format!("reading {}", q.path))?;
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line.ctx(|| format!("reading {}", q.path))?;
        if line.is_empty() {
            continue;
        }
        let r: QuarantineRecord = serde_json::from_str(&line).map_err(|e| StoreError::Io {
            context: format!("reading {}", q.path),
            err: std::io::Error::other(e),
        })?;
        out.push(r);
    }
    Ok(out)
}
