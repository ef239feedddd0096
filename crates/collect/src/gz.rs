//! Gzip input decoded member by member, so that a broken file says where it broke: a
//! truncated member, a corrupt one, or bytes after the last member that are not gzip at all.
//! Everything decoded before the break is handed out first; the error comes after it.

use flate2::bufread::GzDecoder;
use std::io::{self, BufRead, Read};

/// A `BufRead` that knows how many bytes were taken from it and whether it hit the end.
pub(crate) struct Tracked<R> {
    inner: R,
    pos: u64,
    eof: bool,
}

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.eof |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let b = self.inner.fill_buf()?;
        self.eof |= b.is_empty();
        Ok(b)
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos += n as u64;
    }
}

enum State<R> {
    Between(Tracked<R>),
    In(Box<GzDecoder<Tracked<R>>>),
    End,
    Failed(io::ErrorKind, String),
}

/// Decodes every gzip member of a stream in turn.
pub(crate) struct Members<R> {
    state: State<R>,
    /// Decompressed bytes handed out.
    out: u64,
    /// 1-based number of the current member, and where it starts.
    member: u64,
    member_start: u64,
}

impl<R: BufRead> Members<R> {
    pub(crate) fn new(r: R) -> Self {
        Members {
            state: State::Between(Tracked {
                inner: r,
                pos: 0,
                eof: false,
            }),
            out: 0,
            member: 0,
            member_start: 0,
        }
    }

    fn fail(&mut self, kind: io::ErrorKind, msg: String) -> io::Error {
        self.state = State::Failed(kind, msg.clone());
        io::Error::new(kind, msg)
    }

    /// Counts the bytes left after a point where a member should start.
    fn garbage(&mut self, mut r: Tracked<R>) -> io::Error {
        let at = r.pos;
        let mut n = 0u64;
        loop {
            match r.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(b) => {
                    let k = b.len();
                    n += k as u64;
                    r.consume(k);
                }
            }
        }
        let what = if self.member == 0 {
            "the input is not gzip".to_string()
        } else {
            format!(
                "{n} bytes that are not gzip follow the last complete gzip member (member {} ends at compressed byte {at}, after {} decompressed bytes)",
                self.member, self.out
            )
        };
        self.fail(io::ErrorKind::InvalidData, what)
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, State::End) {
                State::End => return Ok(0),
                State::Failed(kind, msg) => {
                    self.state = State::Failed(kind, msg.clone());
                    return Err(io::Error::new(kind, msg));
                }
                State::Between(mut r) => {
                    let head = match r.fill_buf() {
                        Ok(h) => h,
                        Err(e) => return Err(self.fail(e.kind(), e.to_string())),
                    };
                    if head.is_empty() {
                        return Ok(0);
                    }
                    // A member starts 1f 8b (only the first byte may be visible yet).
                    if head[0] != 0x1f || head.get(1).is_some_and(|&b| b != 0x8b) {
                        return Err(self.garbage(r));
                    }
                    self.member += 1;
                    self.member_start = r.pos;
                    self.state = State::In(Box::new(GzDecoder::new(r)));
                }
                State::In(mut d) => match d.read(buf) {
                    Ok(0) => self.state = State::Between(d.into_inner()),
                    Ok(n) => {
                        self.out += n as u64;
                        self.state = State::In(d);
                        return Ok(n);
                    }
                    Err(e) => {
                        let t = d.get_ref();
                        let (member, start, pos, out) =
                            (self.member, self.member_start, t.pos, self.out);
                        let msg = if t.eof {
                            format!(
                                "the file ends inside gzip member {member} (it is truncated): the member starts at compressed byte {start}, the data stops at byte {pos}, after {out} decompressed bytes ({e})"
                            )
                        } else {
                            format!(
                                "gzip member {member} (from compressed byte {start}) is corrupt near compressed byte {pos}, after {out} decompressed bytes ({e})"
                            )
                        };
                        return Err(self.fail(io::ErrorKind::InvalidData, msg));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Reads to the end: the bytes decoded before any error, and the error.
    fn drain(bytes: &[u8]) -> (Vec<u8>, Option<String>) {
        let mut m = Members::new(io::BufReader::with_capacity(7, bytes));
        let mut out = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            match m.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn members_decode_in_turn_and_breaks_say_where() {
        let text: Vec<u8> = (0..3000u32)
            .flat_map(|i| format!("{i},{}\n", i * 7).into_bytes())
            .collect();
        let (a, b) = (gz(&text[..10_000]), gz(&text[10_000..]));
        let whole = [a.clone(), b.clone()].concat();
        assert_eq!(drain(&whole), (text.clone(), None));

        // Cut inside the second member: the first member and a part of the second come out.
        let cut = &whole[..whole.len() - 200];
        let (got, err) = drain(cut);
        assert!(
            got.len() > 10_000 && got.len() < text.len(),
            "{}",
            got.len()
        );
        assert_eq!(got[..], text[..got.len()]);
        let err = err.unwrap();
        assert!(
            err.contains("ends inside gzip member 2 (it is truncated)"),
            "{err}"
        );
        assert!(
            err.contains(&format!("starts at compressed byte {}", a.len())),
            "{err}"
        );

        // Trailing bytes that are not gzip.
        let (got, err) = drain(&[whole.clone(), b"garbage!".to_vec()].concat());
        assert_eq!(got, text);
        let err = err.unwrap();
        assert!(err.contains("8 bytes that are not gzip follow"), "{err}");
        assert!(
            err.contains(&format!("compressed byte {}", whole.len())),
            "{err}"
        );

        // A flipped byte in the deflate data.
        let mut bad = whole.clone();
        bad[a.len() / 2] ^= 0x55;
        let err = drain(&bad).1.unwrap();
        assert!(err.contains("gzip member 1"), "{err}");
    }
}
