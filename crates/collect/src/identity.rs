//! What identifies an input: a fingerprint of its decompressed content, so that a file, its
//! `.gz` and a `.gz` of it made at another level are one input to an import.
//!
//! The fingerprint covers the content's size, its first and last MiB and 4 KiB every 4 MiB.
//! A plain file is sampled by seeking; a gzip file is decompressed once to take the same
//! samples (and a hash of everything it decoded, which lets a repaired file be recognised as
//! the continuation of a broken one, see [`prefix_hashes`]).

use crate::gz::Members;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

const HEAD: u64 = 1 << 20;
const TAIL: u64 = 1 << 20;
const STRIDE: u64 = 4 << 20;
const SAMPLE: u64 = 4096;

/// The identity of a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Fingerprint of the decompressed content.
    pub fingerprint: String,
    /// The fingerprint earlier versions recorded: of the file's own (compressed) bytes.
    pub legacy: String,
    /// Decompressed size (of what decoded, when the file is broken).
    pub size: u64,
    /// xxh3-128 of all the decompressed bytes, when the file was decompressed to identify it.
    pub hash: Option<u128>,
    /// Why decompression stopped early; the fingerprint covers what decoded before.
    pub broken: Option<String>,
}

/// Whether bytes start like gzip.
pub(crate) fn is_gzip(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
}

/// Identifies a file (decompressing it once if it is gzip).
pub fn identify(path: &Path) -> io::Result<Identity> {
    let mut f = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    let raw_size = f.metadata()?.len();
    let legacy = legacy_fingerprint(&mut f, raw_size)?;
    f.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    if !is_gzip(r.fill_buf()?) {
        let mut f = r.into_inner();
        return Ok(Identity {
            fingerprint: sampled(&mut f, raw_size)?,
            legacy,
            size: raw_size,
            hash: None,
            broken: None,
        });
    }
    let mut m = Members::new(r);
    let (mut s, mut all) = (Streamed::new(), Xxh3::new());
    let mut buf = vec![0u8; 1 << 20];
    let broken = loop {
        match m.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                s.update(&buf[..n]);
                all.update(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e.to_string()),
        }
    };
    Ok(Identity {
        size: s.size,
        fingerprint: s.finish(),
        legacy,
        hash: Some(all.digest128()),
        broken,
    })
}

/// xxh3-128 of the first `len` decompressed bytes of a file, for each of `lens`; `None` where
/// the content is shorter (or breaks before).
pub fn prefix_hashes(path: &Path, lens: &[u64]) -> io::Result<Vec<Option<u128>>> {
    let mut r = crate::source::open(&crate::Input::Path(path.to_path_buf()))?.reader;
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| lens[i]);
    let mut out = vec![None; lens.len()];
    let (mut h, mut pos) = (Xxh3::new(), 0u64);
    let mut buf = vec![0u8; 1 << 20];
    let mut next = order.into_iter().peekable();
    // Prefixes of length 0 need no read.
    while let Some(&i) = next.peek() {
        if lens[i] > pos {
            break;
        }
        out[i] = Some(h.digest128());
        next.next();
    }
    while next.peek().is_some() {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while let Some(&i) = next.peek() {
            let room = (lens[i] - pos).min(chunk.len() as u64) as usize;
            h.update(&chunk[..room]);
            pos += room as u64;
            chunk = &chunk[room..];
            if pos < lens[i] {
                break;
            }
            out[i] = Some(h.digest128());
            next.next();
        }
    }
    Ok(out)
}

fn combine(size: u64, head: u128, samples: u128, tail: u128) -> String {
    let mut b = b"storepulse-content-v2".to_vec();
    for part in [u128::from(size), head, samples, tail] {
        b.extend_from_slice(&part.to_le_bytes());
    }
    format!("c2-{:032x}", xxh3_128(&b))
}

/// Reads up to `len` bytes at `at`.
fn read_at(f: &mut File, at: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    f.seek(SeekFrom::Start(at))?;
    f.take(len).read_to_end(buf)?;
    Ok(())
}

/// The content fingerprint of a plain file, by seeking to the samples.
fn sampled(f: &mut File, size: u64) -> io::Result<String> {
    let mut buf = Vec::new();
    read_at(f, 0, HEAD, &mut buf)?;
    let head = xxh3_128(&buf);
    let mut samples = Xxh3::new();
    let mut at = STRIDE;
    while at + SAMPLE <= size {
        read_at(f, at, SAMPLE, &mut buf)?;
        samples.update(&buf);
        at += STRIDE;
    }
    read_at(f, size.saturating_sub(TAIL), TAIL, &mut buf)?;
    Ok(combine(size, head, samples.digest128(), xxh3_128(&buf)))
}

/// The same fingerprint taken from a stream.
struct Streamed {
    size: u64,
    head: Xxh3,
    samples: Xxh3,
    /// The sample being collected, and where it starts.
    sample: Vec<u8>,
    next: u64,
    /// At least the last [`TAIL`] bytes.
    tail: Vec<u8>,
}

impl Streamed {
    fn new() -> Self {
        Streamed {
            size: 0,
            head: Xxh3::new(),
            samples: Xxh3::new(),
            sample: Vec::new(),
            next: STRIDE,
            tail: Vec::new(),
        }
    }

    fn update(&mut self, b: &[u8]) {
        let (start, end) = (self.size, self.size + b.len() as u64);
        if start < HEAD {
            self.head
                .update(&b[..((HEAD - start) as usize).min(b.len())]);
        }
        let mut pos = start.max(self.next);
        while pos < end {
            let to = (self.next + SAMPLE).min(end);
            self.sample
                .extend_from_slice(&b[(pos - start) as usize..(to - start) as usize]);
            if to == self.next + SAMPLE {
                self.samples.update(&self.sample);
                self.sample.clear();
                self.next += STRIDE;
            }
            pos = to.max(self.next);
        }
        self.tail.extend_from_slice(b);
        if self.tail.len() as u64 > 2 * TAIL {
            let cut = self.tail.len() - TAIL as usize;
            self.tail.drain(..cut);
        }
        self.size = end;
    }

    fn finish(self) -> String {
        let keep = (TAIL as usize).min(self.tail.len());
        let tail = xxh3_128(&self.tail[self.tail.len() - keep..]);
        combine(
            self.size,
            self.head.digest128(),
            self.samples.digest128(),
            tail,
        )
    }
}

/// The fingerprint of earlier versions: the file's size plus xxh3 of its first and last MiB
/// and 62 samples between, of the bytes as stored.
fn legacy_fingerprint(f: &mut File, size: u64) -> io::Result<String> {
    let mut h = Xxh3::new();
    h.update(&size.to_le_bytes());
    let mut buf = Vec::new();
    read_at(f, 0, 1 << 20, &mut buf)?;
    h.update(&buf);
    for i in 1..63u64 {
        read_at(f, size / 64 * i, 4096, &mut buf)?;
        h.update(&buf);
    }
    read_at(f, size.saturating_sub(1 << 20), 1 << 20, &mut buf)?;
    h.update(&buf);
    Ok(format!("{:032x}", h.digest128()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_file_and_its_gzips_share_one_identity_and_other_content_differs() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around the head, a stride and a sample boundary.
        for size in [
            0usize,
            10,
            (1 << 20) + 5,
            (4 << 20) + 4095,
            (4 << 20) + 4096,
            9 << 20,
        ] {
            let text: Vec<u8> = (0..size as u64)
                .map(|i| b"0123456789,\n"[((i * 2_654_435_761) >> 7) as usize % 12])
                .collect();
            let plain = dir.path().join("a.csv");
            std::fs::write(&plain, &text).unwrap();
            let a = identify(&plain).unwrap();
            for level in [1, 9] {
                let z = dir.path().join(format!("a{level}.csv.gz"));
                std::fs::write(&z, gz(&text, level)).unwrap();
                let b = identify(&z).unwrap();
                assert_eq!((&b.fingerprint, b.size), (&a.fingerprint, a.size), "{size}");
                assert_eq!(b.hash, Some(xxh3_128(&text)));
                assert_ne!(b.legacy, a.legacy);
                // The gzip of the gzip's content, once more.
                let again = dir.path().join("again.gz");
                std::fs::write(&again, gz(&gz_content(&z), 6)).unwrap();
                assert_eq!(identify(&again).unwrap().fingerprint, a.fingerprint);
            }
            if size > 0 {
                let mut other = text.clone();
                other[size - 1] ^= 1;
                std::fs::write(&plain, &other).unwrap();
                assert_ne!(identify(&plain).unwrap().fingerprint, a.fingerprint);
            }
        }
    }

    fn gz_content(p: &Path) -> Vec<u8> {
        crate::source::read_all(p).unwrap()
    }

    #[test]
    fn a_broken_gzip_is_identified_by_what_decodes_and_prefixes_hash_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let text = "1,2,3,pv,1511658000\n".repeat(50_000).into_bytes();
        let z = gz(&text, 6);
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &z[..z.len() / 2]).unwrap();
        let id = identify(&cut).unwrap();
        assert!(
            id.broken.as_deref().unwrap().contains("truncated"),
            "{id:?}"
        );
        assert!(id.size > 0 && id.size < text.len() as u64);
        let fixed = dir.path().join("fixed.csv");
        std::fs::write(&fixed, &text).unwrap();
        let lens = [id.size, 0, text.len() as u64 + 1];
        let got = prefix_hashes(&fixed, &lens).unwrap();
        assert_eq!(got, [id.hash, Some(xxh3_128(b"")), None]);
    }
}
