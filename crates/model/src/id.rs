//! User, item and category ids.

use std::fmt;

/// Numeric ids at or above this bound are surrogates of string keys.
const SURROGATE_BIT: i64 = 1 << 62;

/// An id as it arrived: numeric ids take the fast path; anything else stays a string key.
///
/// In the lake every id column is `Int64`: a numeric id is stored as itself, a string key as its
/// [`surrogate`](Id::surrogate) (bit 62 set, so it can never equal a natural numeric id), and the
/// catalog remembers which key each surrogate stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    /// A plain decimal id in `0..2^62` without leading zeros.
    Num(i64),
    /// Any other id text (`"SKU-1"`, `"007"`, `"85123A"`).
    Key(Box<str>),
}

impl Id {
    /// Classifies id text: canonical decimals below 2^62 become [`Id::Num`], the rest [`Id::Key`].
    /// Returns `None` for empty (or all-blank) text.
    pub fn parse(text: &str) -> Option<Id> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        Some(match parse_canonical_u62(t.as_bytes()) {
            Some(n) => Id::Num(n),
            None => Id::Key(t.into()),
        })
    }

    /// The `Int64` stored in the lake for this id.
    pub fn as_i64(&self) -> i64 {
        match self {
            Id::Num(n) => *n,
            Id::Key(k) => Id::surrogate(k),
        }
    }

    /// Whether a stored id is the surrogate of a string key.
    pub fn is_surrogate(stored: i64) -> bool {
        stored >= SURROGATE_BIT
    }

    /// The stable surrogate of a string key: bit 62 set, the low 62 bits from xxh3. Stable across
    /// processes and machines, so partitioned workers agree without coordination.
    pub fn surrogate(key: &str) -> i64 {
        let h = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        SURROGATE_BIT | (h >> 2) as i64
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Num(n) => write!(f, "{n}"),
            Id::Key(k) => f.write_str(k),
        }
    }
}

/// Parses a canonical decimal (no sign, no leading zero unless "0") below 2^62.
pub(crate) fn parse_canonical_u62(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 19 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + d as u64;
    }
    (n < SURROGATE_BIT as u64).then_some(n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_take_the_fast_path() {
        assert_eq!(Id::parse("543462"), Some(Id::Num(543462)));
        assert_eq!(Id::parse(" 0 "), Some(Id::Num(0)));
        assert_eq!(Id::parse(""), None);
    }

    #[test]
    fn non_canonical_numbers_stay_keys_so_nothing_is_conflated() {
        assert_eq!(Id::parse("007"), Some(Id::Key("007".into())));
        assert_eq!(Id::parse("-5"), Some(Id::Key("-5".into())));
        assert_eq!(Id::parse("85123A"), Some(Id::Key("85123A".into())));
        let huge = (1u64 << 62).to_string();
        assert!(matches!(Id::parse(&huge), Some(Id::Key(_))));
    }

    #[test]
    fn surrogates_never_collide_with_numeric_ids() {
        let s = Id::parse("SKU-1").unwrap().as_i64();
        assert!(Id::is_surrogate(s));
        assert!(!Id::is_surrogate(
            Id::parse("4611686018427387903").unwrap().as_i64()
        ));
        assert_eq!(s, Id::surrogate("SKU-1"));
    }
}
