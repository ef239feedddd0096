//! The byte scanner behind the JSON array reader: cuts a top-level JSON array into its
//! elements, tracking strings, escapes and the JSON grammar of nested objects and arrays.
//! Memory stays bounded by the largest element, whatever the array's length.
//!
//! A broken element is quarantined and scanning resynchronises on a plausible element start,
//! a `{` that follows a `,`:
//! - the first such `{` inside the broken element (inside a string — a cut left a string
//!   open, so the next element's text was read as string content — or nested, when a cut left
//!   an array open that the following elements were read into); the bytes from there on are
//!   scanned again, so at worst a stretch of the broken element becomes an extra quarantined
//!   record, but good elements after it are not lost;
//! - else the offending byte itself, when it is such a `{` (an element cut short);
//! - else the next such `{` after it.
//!
//! An element still open at end of input (a truncated array) is quarantined. Bytes that cannot
//! start an element (including a top-level array: elements must be objects), and a `]`
//! followed by more content, are quarantined as records too, so nothing is dropped silently.
//! Record number = position in this sequence (1-based).

use crate::options::MAX_LINE_BYTES;
use std::io::{ErrorKind, Read};

/// Deepest nesting the scanner follows.
const MAX_NEST: usize = 512;
/// Raw text kept for an over-long element.
const OVERSIZED_RAW: usize = 4096;

/// What the scanner found.
#[derive(Debug, PartialEq)]
pub(crate) enum Scanned {
    /// A complete element (its bytes are in [`Scanner::elem`]).
    Element,
    /// Bytes that are not a complete element, and why.
    Broken(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    Colon,
    CommaOrClose,
}

/// Cuts a JSON array into elements.
pub(crate) struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    /// Stream offset of `buf[pos]`.
    offset: u64,
    eof: bool,
    /// The current element's bytes.
    pub elem: Vec<u8>,
    oversized: bool,
    /// Last non-whitespace byte consumed (string state ignored).
    prev: u8,
    stack: Vec<u8>,
    /// Offset of a `]` seen between elements.
    closed: Option<u64>,
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')
}

impl<R: Read> Scanner<R> {
    /// Scans `src`, whose first byte sits at stream offset `base`.
    pub(crate) fn new(src: R, base: u64) -> Self {
        Scanner {
            src,
            buf: Vec::new(),
            pos: 0,
            offset: base,
            eof: false,
            elem: Vec::new(),
            oversized: false,
            prev: 0,
            stack: Vec::new(),
            closed: None,
        }
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        while self.pos == self.buf.len() && !self.eof {
            self.buf.resize(1 << 16, 0);
            self.pos = 0;
            match self.src.read(&mut self.buf) {
                Ok(0) => {
                    self.buf.clear();
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => self.buf.clear(),
                Err(e) => {
                    self.buf.clear();
                    return Err(e);
                }
            }
        }
        Ok(self.buf.get(self.pos).copied())
    }

    /// Consumes the peeked byte `c` into the element.
    #[inline]
    fn bump(&mut self, c: u8) {
        if self.elem.len() < MAX_LINE_BYTES {
            self.elem.push(c);
        } else {
            self.oversized = true;
        }
        if !c.is_ascii_whitespace() {
            self.prev = c;
        }
        self.pos += 1;
        self.offset += 1;
    }

    /// Consumes a byte that belongs to no element.
    fn skip(&mut self) {
        self.pos += 1;
        self.offset += 1;
    }

    /// Puts stream bytes that start at `at` back in front of the unread input.
    fn push_back(&mut self, bytes: Vec<u8>, at: u64) {
        let mut b = bytes;
        b.extend_from_slice(&self.buf[self.pos..]);
        self.buf = b;
        self.pos = 0;
        self.offset = at;
    }

    /// Skips leading whitespace and the opening `[`; false when the input is not an array.
    pub(crate) fn open(&mut self) -> std::io::Result<bool> {
        while let Some(c) = self.peek()? {
            match c {
                b'[' => {
                    self.skip();
                    return Ok(true);
                }
                c if c.is_ascii_whitespace() => self.skip(),
                _ => return Ok(false),
            }
        }
        Ok(false)
    }

    /// The next element (or broken stretch) and its stream offset; `None` at the end.
    pub(crate) fn next_item(&mut self) -> std::io::Result<Option<(u64, Scanned)>> {
        self.elem.clear();
        self.oversized = false;
        self.prev = 0;
        while let Some(c) = self.peek()? {
            match c {
                b',' => self.skip(),
                b']' => {
                    self.closed.get_or_insert(self.offset);
                    self.skip();
                }
                c if c.is_ascii_whitespace() => self.skip(),
                _ => {
                    if let Some(at) = self.closed.take() {
                        self.elem.push(b']');
                        let why = "a `]` closes the array before the end of the input".into();
                        return Ok(Some((at, Scanned::Broken(why))));
                    }
                    let start = self.offset;
                    let s = self.element(c)?;
                    let s = match s {
                        Scanned::Element if self.oversized => {
                            Scanned::Broken(format!("element longer than {MAX_LINE_BYTES} bytes"))
                        }
                        s => s,
                    };
                    if self.oversized {
                        self.elem.truncate(OVERSIZED_RAW);
                    }
                    return Ok(Some((start, s)));
                }
            }
        }
        Ok(None)
    }

    fn element(&mut self, first: u8) -> std::io::Result<Scanned> {
        match first {
            b'{' => self.container(),
            b'"' => {
                let start = self.offset;
                let mut cand = None;
                if !self.string(&mut cand)? {
                    return Ok(self.recover_at_eof(start, cand));
                }
                if let Some(k) = cand.filter(|_| !self.oversized) {
                    let tail = self.elem.split_off(k);
                    self.push_back(tail, start + k as u64);
                    let why = "a string where an event object should be, holding `,{`";
                    return Ok(Scanned::Broken(why.into()));
                }
                Ok(Scanned::Element)
            }
            c if is_token(c) => {
                self.token()?;
                Ok(Scanned::Element)
            }
            c => {
                let why = format!("unexpected {} where an element should start", show(c));
                self.forward()?;
                Ok(Scanned::Broken(why))
            }
        }
    }

    fn token(&mut self) -> std::io::Result<()> {
        while let Some(c) = self.peek()? {
            if !is_token(c) {
                break;
            }
            self.bump(c);
        }
        Ok(())
    }

    /// Consumes a string from its opening quote; false when the input ends inside it. Notes
    /// in `cand` where a `,{` occurs inside it (a possible element start, if the string is
    /// the unterminated remains of a cut element).
    fn string(&mut self, cand: &mut Option<usize>) -> std::io::Result<bool> {
        self.bump(b'"');
        while let Some(c) = self.peek()? {
            match c {
                b'\\' => {
                    self.bump(c);
                    match self.peek()? {
                        Some(e) => self.bump(e),
                        None => return Ok(false),
                    }
                }
                b'"' => {
                    self.bump(c);
                    return Ok(true);
                }
                b'{' if self.prev == b',' && !self.oversized && cand.is_none() => {
                    *cand = Some(self.elem.len());
                    self.bump(c);
                }
                _ => self.bump(c),
            }
        }
        Ok(false)
    }

    fn container(&mut self) -> std::io::Result<Scanned> {
        self.stack.clear();
        let mut want = Want::Value;
        let mut cand: Option<usize> = None;
        let start = self.offset;
        loop {
            let Some(c) = self.peek()? else {
                return Ok(self.recover_at_eof(start, cand));
            };
            if c.is_ascii_whitespace() {
                self.bump(c);
                continue;
            }
            let top = self.stack.last().copied();
            match (want, c) {
                (Want::Value | Want::ValueOrClose, b'{' | b'[') if self.stack.len() < MAX_NEST => {
                    if c == b'{' && self.prev == b',' && cand.is_none() && !self.oversized {
                        cand = Some(self.elem.len());
                    }
                    self.bump(c);
                    self.stack.push(c);
                    want = if c == b'{' {
                        Want::KeyOrClose
                    } else {
                        Want::ValueOrClose
                    };
                }
                (Want::Value | Want::ValueOrClose, b'"') => {
                    if !self.string(&mut cand)? {
                        return Ok(self.recover_at_eof(start, cand));
                    }
                    want = Want::CommaOrClose;
                }
                (Want::Value | Want::ValueOrClose, c) if is_token(c) => {
                    self.token()?;
                    want = Want::CommaOrClose;
                }
                (Want::Key | Want::KeyOrClose, b'"') => {
                    if !self.string(&mut cand)? {
                        return Ok(self.recover_at_eof(start, cand));
                    }
                    want = Want::Colon;
                }
                (Want::Colon, b':') => {
                    self.bump(c);
                    want = Want::Value;
                }
                (Want::CommaOrClose, b',') => {
                    self.bump(c);
                    want = if top == Some(b'{') {
                        Want::Key
                    } else {
                        Want::Value
                    };
                }
                (Want::CommaOrClose | Want::KeyOrClose, b'}') if top == Some(b'{') => {
                    self.bump(c);
                    self.stack.pop();
                    if self.stack.is_empty() {
                        return Ok(Scanned::Element);
                    }
                    want = Want::CommaOrClose;
                }
                (Want::CommaOrClose | Want::ValueOrClose, b']') if top == Some(b'[') => {
                    self.bump(c);
                    self.stack.pop();
                    if self.stack.is_empty() {
                        return Ok(Scanned::Element);
                    }
                    want = Want::CommaOrClose;
                }
                _ => return self.recover(start, c, cand),
            }
        }
    }

    /// Quarantines the element up to the unexpected byte `c` and resynchronises.
    fn recover(&mut self, start: u64, c: u8, cand: Option<usize>) -> std::io::Result<Scanned> {
        let why = if self.stack.len() >= MAX_NEST {
            format!("nested deeper than {MAX_NEST} levels")
        } else {
            format!(
                "invalid JSON: unexpected {} at byte {} of the element",
                show(c),
                self.elem.len()
            )
        };
        if self.resync_at(start, cand) || (c == b'{' && self.prev == b',') {
            return Ok(Scanned::Broken(why));
        }
        self.forward()?;
        Ok(Scanned::Broken(why))
    }

    /// The input ended inside an element.
    fn recover_at_eof(&mut self, start: u64, cand: Option<usize>) -> Scanned {
        self.resync_at(start, cand);
        truncated()
    }

    /// Cuts the element at candidate `cand` and scans the rest again; false without one.
    fn resync_at(&mut self, start: u64, cand: Option<usize>) -> bool {
        match cand.filter(|&k| !self.oversized && k > 0 && k < self.elem.len()) {
            Some(k) => {
                let tail = self.elem.split_off(k);
                self.push_back(tail, start + k as u64);
                true
            }
            None => false,
        }
    }

    /// Consumes bytes up to the next `{` that follows a `,` (or the end of input).
    fn forward(&mut self) -> std::io::Result<()> {
        while let Some(c) = self.peek()? {
            if c == b'{' && self.prev == b',' {
                break;
            }
            self.bump(c);
        }
        Ok(())
    }
}

fn truncated() -> Scanned {
    Scanned::Broken("the input ends inside this element (truncated array)".into())
}

fn show(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Vec<(u64, String, bool)> {
        let mut sc = Scanner::new(s.as_bytes(), 0);
        assert!(sc.open().unwrap());
        let mut v = Vec::new();
        while let Some((off, k)) = sc.next_item().unwrap() {
            v.push((
                off,
                String::from_utf8_lossy(&sc.elem).into_owned(),
                k == Scanned::Element,
            ));
        }
        v
    }

    fn texts(s: &str) -> Vec<(String, bool)> {
        scan(s).into_iter().map(|(_, t, ok)| (t, ok)).collect()
    }

    fn ok(t: &str) -> (String, bool) {
        (t.to_string(), true)
    }

    fn bad(t: &str) -> (String, bool) {
        (t.to_string(), false)
    }

    #[test]
    fn elements_with_nesting_strings_and_escapes() {
        let s = r#" [ {"a":"x,]}\"{","p":{"q":[1,{"r":null}]}} , 2,"s" ] "#;
        let v = scan(s);
        assert_eq!(v[0].1, r#"{"a":"x,]}\"{","p":{"q":[1,{"r":null}]}}"#);
        assert_eq!(v[0].0, 3);
        assert_eq!(
            v.iter().map(|x| x.1.as_str()).collect::<Vec<_>>()[1..],
            ["2", "\"s\""]
        );
        assert!(v.iter().all(|x| x.2));
        // Elements must be objects: a top-level array is skipped up to the next `,{`.
        assert_eq!(
            texts(r#"[[1,{"b":2}],{"c":3}]"#),
            [bad("[1,"), ok(r#"{"b":2}"#), bad("]"), ok(r#"{"c":3}"#)]
        );
    }

    #[test]
    fn a_cut_element_does_not_take_its_neighbours_with_it() {
        // Cut outside a string.
        assert_eq!(
            texts(r#"[{"a":1,"b":2,{"c":3},{"d":4}]"#),
            [bad(r#"{"a":1,"b":2,"#), ok(r#"{"c":3}"#), ok(r#"{"d":4}"#)]
        );
        // Cut inside a string: the next element's text was read as string content.
        assert_eq!(
            texts(r#"[{"a":"xy,{"c":"z"},{"d":4}]"#),
            [bad(r#"{"a":"xy,"#), ok(r#"{"c":"z"}"#), ok(r#"{"d":4}"#)]
        );
        // A cut left an array open and the following elements were read into it.
        assert_eq!(
            texts(r#"[{"a":[1,{"b":2},{"c":3}]"#),
            [bad(r#"{"a":[1,"#), ok(r#"{"b":2}"#), ok(r#"{"c":3}"#)]
        );
        // A cut left a top-level string open.
        assert_eq!(
            texts(r#"["abc,{"b":2}]"#),
            [bad(r#""abc,"#), ok(r#"{"b":2}"#)]
        );
        // Mismatched bracket: skip to the next element.
        assert_eq!(
            texts(r#"[{"a":[1}, {"d":4}]"#),
            [bad(r#"{"a":[1}, "#), ok(r#"{"d":4}"#)]
        );
        // Garbage between elements and a premature `]`.
        assert_eq!(
            texts(r#"[{"a":1}} ,{"b":2}] {"c":3}]"#),
            [
                ok(r#"{"a":1}"#),
                bad("} ,"),
                ok(r#"{"b":2}"#),
                bad("]"),
                ok(r#"{"c":3}"#)
            ]
        );
    }

    #[test]
    fn a_truncated_array_quarantines_the_partial_element() {
        assert_eq!(
            texts(r#"[{"a":1},{"b":"tw"#),
            [ok(r#"{"a":1}"#), bad(r#"{"b":"tw"#)]
        );
        assert_eq!(texts(r#"[{"a":1},"#), [ok(r#"{"a":1}"#)]);
        assert_eq!(texts("[]"), Vec::<(String, bool)>::new());
    }
}
