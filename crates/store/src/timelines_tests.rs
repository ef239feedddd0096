use super::*;
use arrow_array::{DictionaryArray, Int64Array, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

type Row = (Option<i64>, Option<i64>, Option<&'static str>);

fn batch(rows: &[Row]) -> RecordBatch {
    let dict: DictionaryArray<Int32Type> = rows.iter().map(|r| r.2).collect();
    let schema = Schema::new(vec![
        Field::new("user_id", DataType::Int64, true),
        Field::new(
            "ts",
            DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None),
            true,
        ),
        Field::new("action", dict.data_type().clone(), true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))),
            Arc::new(TimestampMillisecondArray::from_iter(
                rows.iter().map(|r| r.1),
            )),
            Arc::new(dict),
        ],
    )
    .unwrap()
}

/// Per user, the (time, action) events in time order, ties in input order: what a timeline
/// must give back, computed without it.
fn reference(batches: &[&[Row]]) -> BTreeMap<i64, Vec<(i64, Option<String>)>> {
    let mut out: BTreeMap<i64, Vec<(i64, Option<String>)>> = BTreeMap::new();
    for rows in batches {
        for &(u, t, a) in rows.iter() {
            if let (Some(u), Some(t)) = (u, t) {
                out.entry(u).or_default().push((t, a.map(str::to_string)));
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|e| e.0); // stable: ties keep input order
    }
    out
}

/// Everything a cursor from `from` yields, with codes turned back into names.
fn read(t: &Timelines, from: i64) -> BTreeMap<i64, Vec<(i64, Option<String>)>> {
    let mut out = BTreeMap::new();
    let mut c = t.cursor(from).unwrap();
    while let Some(u) = c.user() {
        let mut ev = Vec::new();
        c.events(|ts, code| {
            // Codes are the names' indexes, and exactly one past them is a null action.
            assert!(code as usize <= t.names().len(), "code {code}");
            ev.push((ts, t.names().get(code as usize).cloned()))
        })
        .unwrap();
        assert!(out.insert(u, ev).is_none(), "user {u} came twice");
    }
    out
}

fn encoded(batches: &[&[Row]]) -> Timelines {
    let owned: Vec<RecordBatch> = batches.iter().map(|r| batch(r)).collect();
    let bytes = TimelineBuilder::of(&owned).encode().unwrap();
    Timelines::decode(bytes).unwrap()
}

#[test]
fn users_come_back_in_id_order_with_their_events_in_time_order() {
    let a: &[Row] = &[
        (Some(7), Some(5_000), Some("pv")),
        (Some(-3), Some(4_000), Some("cart")),
        (Some(7), Some(2_000), Some("buy")), // behind the file's time order
        (None, Some(1_000), Some("pv")),     // no user: not part of any timeline
        (Some(7), None, Some("pv")),         // no time: same
        (Some(i64::MAX), Some(9_000), None), // null action keeps its own code
        (Some(7), Some(5_000), Some("cart")), // same time as the first: input order kept
    ];
    let b: &[Row] = &[
        (Some(i64::MIN), Some(1_500), Some("fav")),
        (Some(7), Some(6_001), Some("pv")), // a millisecond time: the unit becomes 1 ms
    ];
    let t = encoded(&[a, b]);
    assert_eq!(read(&t, i64::MIN), reference(&[a, b]));
    assert_eq!((t.users(), t.events()), (4, 7));
    let null = t.cursor(i64::MAX).unwrap();
    assert_eq!(null.user(), Some(i64::MAX));
    assert_eq!(
        t.names(),
        ["buy", "cart", "fav", "pv"],
        "used names, sorted"
    );
}

#[test]
fn chunks_appended_equal_one_build_even_with_different_dictionaries() {
    let a: &[Row] = &[
        (Some(1), Some(1_000), Some("pv")),
        (Some(2), Some(2_000), None),
    ];
    let b: &[Row] = &[
        (Some(1), Some(3_000), Some("buy")),
        (Some(2), Some(4_000), Some("pv")),
    ];
    let mut built = TimelineBuilder::of(&[batch(a)]);
    built.append(TimelineBuilder::of(&[batch(b)]));
    let whole = TimelineBuilder::of(&[batch(a), batch(b)]);
    assert_eq!(built.encode(), whole.encode());
    let t = Timelines::decode(built.encode().unwrap()).unwrap();
    assert_eq!(read(&t, i64::MIN), reference(&[a, b]));
}

#[test]
fn a_cursor_seeks_to_the_first_user_at_or_after_an_id_across_blocks() {
    // 5000 users with ids 0, 3, 6, ...: five blocks.
    let rows: Vec<Row> = (0..20_000i64)
        .map(|i| {
            (
                Some((i % 5000) * 3),
                Some(i * 1000),
                Some(["pv", "buy"][i as usize % 2]),
            )
        })
        .collect();
    let t = encoded(&[&rows]);
    assert_eq!(t.blocks().len(), 5);
    let all = reference(&[&rows]);
    for from in [
        i64::MIN,
        -1,
        0,
        1,
        3071,
        3072,
        3073,
        6143,
        6144,
        9_000,
        14_997,
        14_998,
    ] {
        let want: BTreeMap<_, _> = all.range(from..).map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(read(&t, from), want, "from {from}");
    }
}

#[test]
fn damaged_or_foreign_bytes_are_not_a_timeline() {
    let rows: &[Row] = &[
        (Some(1), Some(1_000), Some("pv")),
        (Some(2), Some(2_000), Some("buy")),
    ];
    let bytes = TimelineBuilder::of(&[batch(rows)]).encode().unwrap();
    assert!(Timelines::decode(bytes.clone()).is_some());
    for cut in [0, 3, 8, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            Timelines::decode(bytes[..cut].to_vec()).is_none(),
            "cut at {cut}"
        );
    }
    for at in [0, 5, 12, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        assert!(Timelines::decode(b).is_none(), "byte {at} flipped");
    }
    assert!(Timelines::decode(b"PAR1 not a timeline".to_vec()).is_none());
}

#[test]
fn a_batch_without_the_columns_gets_no_timeline() {
    let schema = Schema::new(vec![Field::new("user_id", DataType::Int64, false)]);
    let b =
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    assert!(TimelineBuilder::of(&[b]).encode().is_none());
    // No rows at all is a valid, empty timeline.
    let t = Timelines::decode(TimelineBuilder::default().encode().unwrap()).unwrap();
    assert_eq!((t.users(), t.events()), (0, 0));
    assert_eq!(t.cursor(0).unwrap().user(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_rows_round_trip(
        rows in prop::collection::vec(
            (
                prop_oneof![3 => (0i64..3000).prop_map(Some), 1 => any::<i64>().prop_map(Some), 1 => Just(None)],
                prop_oneof![4 => (0i64..2_000_000).prop_map(|s| Some(s * 1000)), 1 => (0i64..2_000_000_000).prop_map(Some), 1 => Just(None)],
                prop_oneof![Just(Some("pv")), Just(Some("cart")), Just(Some("buy")), Just(None)],
            ),
            0..3000,
        ),
        split in 0usize..3000,
        from in prop_oneof![Just(i64::MIN), 0i64..3000],
    ) {
        let split = split.min(rows.len());
        let (a, b) = rows.split_at(split);
        let t = encoded(&[a, b]);
        let want: BTreeMap<_, _> = reference(&[a, b]).range(from..).map(|(k, v)| (*k, v.clone())).collect();
        prop_assert_eq!(read(&t, from), want);
    }
}

/// Encoded bytes with the body changed and the checksum made valid again: what a bug or a
/// crafted file could hold past the CRC.
fn recrc(mut bytes: Vec<u8>, f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    f(&mut bytes[8..]);
    let crc = crc32fast::hash(&bytes[8..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn altered_bytes_with_a_valid_checksum_never_panic(
        at in 0usize..4096,
        byte in any::<u8>(),
        cut in 0usize..64,
    ) {
        let rows: Vec<Row> = (0..3000i64)
            .map(|i| (Some(i % 1500), Some(1_000 * (i * 7 % 9000)), Some(["pv", "buy"][i as usize % 2])))
            .collect();
        let good = TimelineBuilder::of(&[batch(&rows)]).encode().unwrap();
        let at = 8 + at % (good.len() - 8);
        let mut bad = recrc(good.clone(), |b| b[at - 8] = byte);
        bad.truncate(bad.len() - cut.min(bad.len() - 8));
        let bad = recrc(bad, |_| {});
        // It is refused, or every cursor reads to the end or to a clean error.
        if let Some(t) = Timelines::decode(bad) {
            for from in [i64::MIN, 0, 700, 1499, i64::MAX] {
                if let Ok(mut c) = t.cursor(from) {
                    let mut guard = 0;
                    while c.user().is_some() && guard < 10_000 {
                        if c.skip().is_err() {
                            break;
                        }
                        guard += 1;
                    }
                }
            }
        }
    }
}
