//! Taobao UserBehavior CSV: `user_id,item_id,category_id,behavior,ts`, no header. The hot path
//! parses bytes straight into numbers; anything unusual falls back to the general event path.

use super::{LineOptions, Parsed};
use crate::batch::ACTION_KEYS;
use model::time::{parse_int, unix_number_to_ms};
use model::{Behavior, Event, EventBody, Id, Reason, Reject};

/// Reads a canonical non-negative decimal (no leading zero) ending at `end` (a comma or the end
/// of the line), advancing `i` past the terminator. `None` sends the line to the general path.
#[inline(always)]
fn fast_num(b: &[u8], i: &mut usize, last: bool) -> Option<i64> {
    let start = *i;
    let mut n: u64 = 0;
    while let Some(&c) = b.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add(d as u64);
        *i += 1;
    }
    let len = *i - start;
    if len == 0 || len > 18 || (len > 1 && b[start] == b'0') {
        return None;
    }
    match (last, b.get(*i)) {
        (true, None) => {}
        (false, Some(b',')) => *i += 1,
        _ => return None,
    }
    Some(n as i64)
}

/// The single-pass hot path for `digits,digits,digits,pv|cart|fav|buy,digits`.
#[inline(always)]
pub(crate) fn fast(b: &[u8]) -> Option<(i64, i64, i64, i32, i64)> {
    let mut i = 0;
    let u = fast_num(b, &mut i, false)?;
    let it = fast_num(b, &mut i, false)?;
    let c = fast_num(b, &mut i, false)?;
    let rest = &b[i..];
    let (a, skip) = match rest {
        [b'p', b'v', b',', ..] => (0, 3),
        [b'c', b'a', b'r', b't', b',', ..] => (1, 5),
        [b'f', b'a', b'v', b',', ..] => (2, 4),
        [b'b', b'u', b'y', b',', ..] => (3, 4),
        _ => return None,
    };
    i += skip;
    let t = fast_num(b, &mut i, true)?;
    Some((u, it, c, a, t))
}

/// Parses one line.
pub fn parse(line: &[u8], opts: &LineOptions) -> Result<Parsed, Reject> {
    if let Some((u, i, c, a, t)) = fast(line) {
        let ts = unix_number_to_ms(t);
        opts.rules.check_ts(ts)?;
        return Ok(Parsed::Fast(ts, u, i, c, a));
    }
    let mut f: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for part in line.split(|&c| c == b',') {
        if n < 5 {
            f[n] = part;
        }
        n += 1;
    }
    if n != 5 {
        return Err(Reject::row(
            Reason::ColumnCount,
            format!("expected 5 columns (user_id,item_id,category_id,behavior,ts), found {n}"),
        ));
    }
    let fast_id = |b: &[u8]| parse_int(b).filter(|&v| v >= 0 && (b.len() == 1 || b[0] != b'0'));
    let action = ACTION_KEYS.iter().position(|a| a.as_bytes() == f[3]);
    if let (Some(u), Some(i), Some(c), Some(a), Some(t)) = (
        fast_id(f[0]),
        fast_id(f[1]),
        fast_id(f[2]),
        action,
        parse_int(f[4]),
    ) {
        let ts = unix_number_to_ms(t);
        opts.rules.check_ts(ts)?;
        return Ok(Parsed::Fast(ts, u, i, c, a as i32));
    }
    slow(f)
}

/// The general path: precise reasons, string ids, RFC 3339 times, extra actions.
fn slow(f: [&[u8]; 5]) -> Result<Parsed, Reject> {
    let names = ["user_id", "item_id", "category_id", "behavior", "ts"];
    let mut s = [""; 5];
    for k in 0..5 {
        s[k] = std::str::from_utf8(f[k]).map_err(|_| {
            Reject::field(
                Reason::Malformed,
                names[k],
                &String::from_utf8_lossy(f[k]),
                "must be valid UTF-8",
            )
        })?;
    }
    let ts = super::ts_field("ts", s[4])?;
    let action = s[3].trim();
    if action.is_empty() {
        return Err(Reject::missing("behavior"));
    }
    Ok(Parsed::Event(Box::new(Event {
        event_id: None,
        shop: None,
        ts,
        received_at: None,
        body: EventBody::Behavior(Behavior {
            user_id: super::id_field("user_id", s[0])?,
            item_id: super::id_field("item_id", s[1])?,
            category_id: Id::parse(s[2]),
            action: action.to_string(),
            session_id: None,
            price: None,
            qty: None,
            channel: None,
        }),
        props: None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Parsed, Reject> {
        parse(line.as_bytes(), &LineOptions::default())
    }

    #[test]
    fn the_fast_path_refuses_what_it_cannot_judge() {
        for line in [
            "01,2,3,pv,1511658000",
            "1,2,3,pv,1511658000,",
            "1,2,3,pv ,1511658000",
            "1,2,3,Pv,1511658000",
            "1,2,3,pv,",
            "1,,3,pv,1",
        ] {
            assert!(fast(line.as_bytes()).is_none(), "{line}");
        }
        assert_eq!(
            fast(b"0,20,3,cart,1511658000"),
            Some((0, 20, 3, 1, 1511658000))
        );
    }

    /// The obvious byte-at-a-time reading the SWAR path must agree with.
    fn reference(b: &[u8]) -> Option<(i64, i64, i64, i32, i64)> {
        let text = std::str::from_utf8(b).ok()?;
        let f: Vec<&str> = text.split(',').collect();
        if f.len() != 5 {
            return None;
        }
        let num = |s: &str| -> Option<i64> {
            let ok = !s.is_empty()
                && s.len() <= 18
                && s.bytes().all(|c| c.is_ascii_digit())
                && (s.len() == 1 || !s.starts_with('0'));
            ok.then(|| s.parse().ok()).flatten()
        };
        let a = ACTION_KEYS.iter().position(|a| *a == f[3])? as i32;
        Some((num(f[0])?, num(f[1])?, num(f[2])?, a, num(f[4])?))
    }

    proptest::proptest! {
        #[test]
        fn swar_parsing_agrees_with_the_reference(line in "[0-9]{0,18},[0-9]{0,18},[0-9:/ a]{0,9},(pv|cart|fav|buy|bu|pvv),[0-9.]{0,18}") {
            proptest::prop_assert_eq!(fast(line.as_bytes()), reference(line.as_bytes()));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_agree(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60)) {
            proptest::prop_assert_eq!(fast(&bytes), reference(&bytes));
        }
    }

    #[test]
    fn numeric_rows_take_the_fast_path() {
        match p("543462,1715,1464116,pv,1511658000").unwrap() {
            Parsed::Fast(ts, u, i, c, a) => assert_eq!(
                (ts, u, i, c, a),
                (1_511_658_000_000, 543462, 1715, 1464116, 0)
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_problem_gets_its_reason() {
        assert_eq!(p("1,2,3,pv").unwrap_err().reason, Reason::ColumnCount);
        assert_eq!(p("1,2,3,pv,1,9").unwrap_err().reason, Reason::ColumnCount);
        assert_eq!(p("1,2,3,pv,soon").unwrap_err().reason, Reason::BadTimestamp);
        assert_eq!(
            p(",2,3,pv,1511658000").unwrap_err().reason,
            Reason::MissingField
        );
        assert_eq!(p("1,2,3,pv,1").unwrap_err().reason, Reason::TsOutOfRange);
    }

    #[test]
    fn unusual_but_valid_rows_fall_back_to_events() {
        // Unknown actions are judged later by the rules, with the event in hand.
        assert!(matches!(
            p("1,2,3,like,1511658000").unwrap(),
            Parsed::Event(_)
        ));
        assert!(matches!(
            p("u1,2,3,pv,2017-11-26T01:00:00Z").unwrap(),
            Parsed::Event(_)
        ));
    }
}
