//! Opening inputs: files or stdin, gzip detected by its magic bytes, with a byte counter for
//! progress bars and a content fingerprint so a re-run can resume where a crash left off.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (gzip-compressed or not).
    Path(PathBuf),
    /// Standard input (gzip-compressed or not).
    Stdin,
}

impl Input {
    /// `-` means stdin.
    pub fn from_arg(s: &str) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(s))
        }
    }

    /// The name recorded with quarantined rows.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "stdin".into(),
        }
    }
}

/// An opened input: a decompressed byte stream plus what is known about it.
pub struct Opened {
    /// Decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// Source name.
    pub name: String,
    /// Size on disk (compressed), for progress; `None` for stdin.
    pub size: Option<u64>,
    /// Raw (compressed) bytes consumed so far.
    pub consumed: Arc<AtomicU64>,
    /// Content identity of a file (size + samples of its bytes); `None` for stdin.
    pub fingerprint: Option<String>,
}

struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Opens an input, transparently decompressing gzip.
pub fn open(input: &Input) -> io::Result<Opened> {
    let consumed = Arc::new(AtomicU64::new(0));
    match input {
        Input::Path(p) => {
            let mut f = File::open(p).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))
            })?;
            let size = f.metadata()?.len();
            let fingerprint = Some(fingerprint(&mut f, size)?);
            f.seek(SeekFrom::Start(0))?;
            let counted = BufReader::with_capacity(
                1 << 20,
                Counting {
                    inner: f,
                    n: consumed.clone(),
                },
            );
            Ok(Opened {
                reader: wrap_gz(counted)?,
                name: p.display().to_string(),
                size: Some(size),
                consumed,
                fingerprint,
            })
        }
        Input::Stdin => {
            let counted = BufReader::with_capacity(
                1 << 20,
                Counting {
                    inner: io::stdin(),
                    n: consumed.clone(),
                },
            );
            Ok(Opened {
                reader: wrap_gz(counted)?,
                name: "stdin".into(),
                size: None,
                consumed,
                fingerprint: None,
            })
        }
    }
}

fn wrap_gz<R: io::BufRead + Send + 'static>(mut r: R) -> io::Result<Box<dyn Read + Send>> {
    let head = r.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(r),
        )))
    } else {
        Ok(Box::new(r))
    }
}

/// A content fingerprint: the size plus xxh3 of the first and last MiB and 62 samples between.
fn fingerprint(f: &mut File, size: u64) -> io::Result<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&size.to_le_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut sample = |at: u64, len: usize, h: &mut xxhash_rust::xxh3::Xxh3| -> io::Result<()> {
        f.seek(SeekFrom::Start(at))?;
        let len = len.min(buf.len());
        let mut got = 0;
        while got < len {
            let k = f.read(&mut buf[got..len])?;
            if k == 0 {
                break;
            }
            got += k;
        }
        h.update(&buf[..got]);
        Ok(())
    };
    sample(0, 1 << 20, &mut h)?;
    for i in 1..63u64 {
        sample(size / 64 * i, 4096, &mut h)?;
    }
    sample(size.saturating_sub(1 << 20), 1 << 20, &mut h)?;
    Ok(format!("{:032x}", h.digest128()))
}

/// Reads a whole small file (tests, replays); large inputs go through [`open`].
pub fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut o = open(&Input::Path(path.to_path_buf()))?;
    let mut v = Vec::new();
    o.reader.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain.csv");
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        gz.write_all(b"a,b\n").unwrap();
        gz.finish().unwrap();
        assert_eq!(read_all(&p).unwrap(), b"a,b\n");
        let q = dir.path().join("x.gz");
        std::fs::write(&q, b"not gzip").unwrap();
        assert_eq!(read_all(&q).unwrap(), b"not gzip");
    }

    #[test]
    fn fingerprint_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"1,2,3\n").unwrap();
        std::fs::write(&b, b"1,2,3\n").unwrap();
        let fa = open(&Input::Path(a.clone())).unwrap().fingerprint;
        assert_eq!(fa, open(&Input::Path(b)).unwrap().fingerprint);
        std::fs::write(&a, b"1,2,4\n").unwrap();
        assert_ne!(fa, open(&Input::Path(a)).unwrap().fingerprint);
    }
}
