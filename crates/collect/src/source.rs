//! Opening inputs: files or stdin, gzip detected by its magic bytes (and decoded member by
//! member, so a broken file says where it broke), with a byte counter for progress bars.
//! [`identify`] fingerprints a file's content so a re-run can resume where a crash left off.

pub use crate::identity::{Identity, identify, prefix_hashes};
use std::fs::File;
use std::io::{self, BufReader, Read};
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
            let f = File::open(p).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))
            })?;
            let size = f.metadata()?.len();
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
            })
        }
    }
}

fn wrap_gz<R: io::BufRead + Send + 'static>(mut r: R) -> io::Result<Box<dyn Read + Send>> {
    if crate::identity::is_gzip(r.fill_buf()?) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            crate::gz::Members::new(r),
        )))
    } else {
        Ok(Box::new(r))
    }
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
}
