//! End-to-end checks of the lake: round trips, dedup, recovery, WAL, compaction, retention.

use collect::{ChunkBuilder, Format, Input, ParseOptions};
use model::{Event, EventType, Reason, Rules};
use std::collections::BTreeMap;
use std::time::Instant;
use store::import::{self, ImportConfig, ImportReport, Progress, StreamMeta};
use store::reader::Scan;
use store::{Store, StoreConfig};
use storepulse_store as store;

fn open(dir: &std::path::Path) -> Store {
    let mut c = StoreConfig::new(dir);
    c.zone = "+08:00".parse().unwrap();
    Store::open(c).unwrap()
}

/// Every event in the lake as canonical JSON text, sorted.
fn lake_events(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for t in EventType::ALL {
        for b in store.scan(Scan::table(t)) {
            let b = b.unwrap();
            for e in store::to_events(&b.batch, t, &b.shop, Some(store.catalog())).unwrap() {
                out.push(e.to_json().to_string());
            }
        }
    }
    out.sort();
    out
}

fn canonical(events: &[Event]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e.shop.as_deref() == Some(model::DEFAULT_SHOP) {
                e.shop = None;
            }
            e.to_json().to_string()
        })
        .collect();
    v.sort();
    v
}

/// `n` generated events over `days` days (the generator's default seed).
fn generated(n: u64, days: u32) -> Vec<Event> {
    let mut events = Vec::new();
    eventgen::for_each_event(&eventgen::GenConfig::new(n).with_days(days), |e| {
        events.push(e.clone())
    })
    .unwrap();
    events
}

/// Every file of a directory with its bytes, sorted by path.
fn files_with_bytes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

fn import_events(
    store: &mut Store,
    events: &[Event],
    per_chunk: usize,
    rows_per_commit: usize,
) -> ImportReport {
    let rules = Rules::default();
    let chunks: Vec<_> = events
        .chunks(per_chunk)
        .enumerate()
        .map(|(i, part)| {
            let mut b = ChunkBuilder::new(
                "test",
                "test",
                "default",
                &rules,
                (i * per_chunk) as u64 + 1,
            );
            for (k, e) in part.iter().enumerate() {
                b.event((i * per_chunk + k) as u64 + 1, None, b"", e);
            }
            Ok(b.finish())
        })
        .collect();
    let meta = StreamMeta {
        source: "test".into(),
        format: "test".into(),
        shop: "default".into(),
        fingerprint: None,
    };
    let cfg = ImportConfig {
        rows_per_commit,
        ..Default::default()
    };
    import::run_stream(
        store,
        chunks.into_iter(),
        meta,
        &cfg,
        &Progress::default(),
        None,
        ImportReport::default(),
        Instant::now(),
    )
    .unwrap()
}

#[test]
fn generated_events_round_trip_through_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = eventgen::GenConfig::new(30_000).with_days(2).with_seed(3);
    let mut events = Vec::new();
    eventgen::for_each_event(&cfg, |e| events.push(e.clone())).unwrap();
    assert!(events.len() > 30_000, "every type is generated");
    let mut store = open(dir.path());
    let r = import_events(&mut store, &events, 7_000, 20_000);
    assert_eq!(r.imported, events.len() as u64);
    assert_eq!(r.quarantined_total(), 0);
    assert_eq!(lake_events(&store), canonical(&events));
    // Files are sorted by ts and each holds one local day.
    for f in &store.manifest().files {
        let zone: store::Zone = "+08:00".parse().unwrap();
        assert_eq!(zone.day_of(f.min_ts).to_string(), f.dt);
        assert_eq!(zone.day_of(f.max_ts).to_string(), f.dt);
    }
    // Distinct counts from the per-file sketches agree with the exact count.
    let exact = store::stats(&store, store::Distinct::Exact).unwrap();
    let est = store::stats(&store, store::Distinct::Estimate).unwrap();
    assert!(exact.distinct_exact && !est.distinct_exact);
    for (e, x) in [
        (est.distinct_users, exact.distinct_users),
        (est.distinct_items, exact.distinct_items),
    ] {
        assert!(
            (e as f64 - x as f64).abs() <= 0.03 * x as f64,
            "estimate {e} vs exact {x}"
        );
    }
    // Reopening sees the same lake.
    drop(store);
    let store = open(dir.path());
    assert_eq!(lake_events(&store), canonical(&events));
}

#[test]
fn string_ids_event_ids_and_props_round_trip_and_duplicates_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let lines = [
        r#"{"type":"behavior","event_id":"a","ts":"2017-11-26T01:00:00Z","user_id":"alice","item_id":"SKU-1","action":"pv","color":"red"}"#,
        r#"{"type":"behavior","event_id":"b","ts":1511658001,"user_id":7,"item_id":"SKU-1","action":"cart","price":9.5}"#,
        r#"{"type":"behavior","event_id":"a","ts":1511658002,"user_id":7,"item_id":3,"action":"pv"}"#,
        r#"{"type":"behavior","event_id":"a","shop":"other","ts":1511658002,"user_id":7,"item_id":3,"action":"pv"}"#,
        r#"{"type":"login","ts":1511658003,"user_id":"alice","result":"success"}"#,
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut store = open(dir.path().join("data").as_path());
    let opts = ParseOptions::new(Format::Ndjson);
    let r = import::run(
        &mut store,
        &Input::Path(file.clone()),
        opts.clone(),
        &ImportConfig::default(),
        &Progress::default(),
    )
    .unwrap();
    assert_eq!((r.imported, r.quarantined_total()), (4, 1));
    assert_eq!(r.quarantined.get(&Reason::Duplicate), Some(&1));
    let q = store.quarantine_rows().unwrap();
    assert_eq!((q[0].line, q[0].raw.as_str()), (3, lines[2]));
    let got = lake_events(&store);
    let want: Vec<Event> = [0, 1, 3, 4]
        .iter()
        .map(|&i| {
            collect::formats::ndjson::parse_event(lines[i].as_bytes(), &Default::default()).unwrap()
        })
        .collect();
    assert_eq!(got, canonical(&want));

    // The same ids in another file are duplicates across imports and restarts.
    drop(store);
    let mut store = open(dir.path().join("data").as_path());
    let file2 = dir.path().join("again.ndjson");
    std::fs::write(
        &file2,
        format!("{}\n{}\n", lines[1], lines[0].replace("\"a\"", "\"c\"")),
    )
    .unwrap();
    let r = import::run(
        &mut store,
        &Input::Path(file2),
        opts,
        &ImportConfig::default(),
        &Progress::default(),
    )
    .unwrap();
    assert_eq!((r.imported, r.quarantined_total()), (1, 1));
}

#[test]
fn a_fully_imported_file_is_not_imported_twice_and_a_partial_one_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ub.csv");
    let body: String = (0..1000)
        .map(|i| format!("{},{},{},pv,{}\n", i % 7, i, i % 3, 1_511_658_000 + i))
        .collect();
    std::fs::write(&file, &body).unwrap();
    let mut store = open(&dir.path().join("data"));
    let cfg = ImportConfig {
        rows_per_commit: 100,
        ..Default::default()
    };
    let opts = ParseOptions::new(Format::Taobao);
    let r = import::run(
        &mut store,
        &Input::Path(file.clone()),
        opts.clone(),
        &cfg,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(r.imported, 1000);
    let r = import::run(
        &mut store,
        &Input::Path(file.clone()),
        opts.clone(),
        &cfg,
        &Progress::default(),
    )
    .unwrap();
    assert!(r.already_imported);
    assert_eq!(
        store::stats(&store, store::Distinct::Exact).unwrap().tables["behavior"].rows,
        1000
    );
    let forced = ImportConfig { force: true, ..cfg };
    let r = import::run(
        &mut store,
        &Input::Path(file),
        opts,
        &forced,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(r.imported, 1000, "--force imports again");
}

#[test]
fn recovery_finishes_committed_renames_and_drops_uncommitted_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let events = generated(2_000, 1);
    let mut store = open(&root);
    import_events(&mut store, &events, 1_000, 1_000_000);
    let committed = store.manifest().clone();
    drop(store);
    // A crash after the manifest commit but before the renames: move files back to staging.
    let mut m = committed.clone();
    for f in &mut m.files {
        let staged = format!("lake/_staging/{:012}.parquet.tmp", f.seq);
        std::fs::rename(root.join(&f.path), root.join(&staged)).unwrap();
        f.staged = Some(staged);
    }
    m.save(&store::manifest_path(&root)).unwrap();
    // And a crash before a commit: an orphan staged file and an orphan lake file.
    std::fs::write(
        root.join("lake/_staging/999999.parquet.tmp"),
        b"half written",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("lake/behavior/shop=x/dt=2017-11-25")).unwrap();
    std::fs::write(
        root.join("lake/behavior/shop=x/dt=2017-11-25/part-999999.parquet"),
        b"junk",
    )
    .unwrap();
    let store = open(&root);
    assert!(!root.join("lake/_staging/999999.parquet.tmp").exists());
    assert!(!root.join("lake/behavior/shop=x").exists());
    assert!(
        store
            .manifest()
            .files
            .iter()
            .all(|f| f.staged.is_none() && root.join(&f.path).exists())
    );
    assert_eq!(lake_events(&store), canonical(&events));
}

#[test]
fn wal_appends_survive_a_crash_and_fold_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let events = generated(3_000, 1);
    let rules = Rules::default();
    let batches: Vec<_> = events
        .chunks(500)
        .map(|part| {
            let mut b = ChunkBuilder::new("wal", "wal", "default", &rules, 1);
            for e in part {
                b.event(1, None, b"", e);
            }
            b.finish().batch.finish().unwrap()
        })
        .collect();
    {
        let _store = open(&root);
        let wal = store::Wal::open(&root.join("wal"), store::WalConfig::default()).unwrap();
        let handles: Vec<_> = batches
            .iter()
            .cloned()
            .map(|b| {
                let wal = wal.clone();
                std::thread::spawn(move || wal.append(&b, true).unwrap())
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // "Crash": nothing folded yet. Append a torn record by hand.
    }
    let seg = std::fs::read_dir(root.join("wal"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
    drop(f);
    let mut store = open(&root);
    let _wal = store::Wal::open(&root.join("wal"), store::WalConfig::default()).unwrap();
    assert_eq!(
        store.fold_wal(&root.join("wal")).unwrap(),
        events.len() as u64
    );
    assert_eq!(
        store.fold_wal(&root.join("wal")).unwrap(),
        0,
        "folding twice adds nothing"
    );
    drop(store);
    let mut store = open(&root);
    assert_eq!(
        store.fold_wal(&root.join("wal")).unwrap(),
        0,
        "the folded position survives reopen"
    );
    assert_eq!(lake_events(&store), canonical(&events));
    // Appends after a reopen go after the records already there (they once overwrote them).
    let wal = store::Wal::open(&root.join("wal"), store::WalConfig::default()).unwrap();
    wal.append(&batches[0], true).unwrap();
    assert_eq!(store.fold_wal(&root.join("wal")).unwrap(), 500);
}

#[test]
fn compaction_merges_small_files_and_retention_drops_old_days() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(20_000, 3);
    let mut store = open(dir.path());
    import_events(&mut store, &events, 1_000, 2_000);
    let before = store.manifest().files.len();
    let r = store.compact(u64::MAX, u64::MAX).unwrap();
    let after = store.manifest().files.len();
    assert!(
        after < before && r.files_before > r.files_after,
        "{before} -> {after}"
    );
    let mut parts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for f in &store.manifest().files {
        *parts
            .entry((f.table.clone(), f.shop.clone(), f.dt.clone()))
            .or_default() += 1;
        assert!(dir.path().join(&f.path).exists());
    }
    assert!(
        parts.values().all(|&n| n == 1),
        "one file per partition after compaction"
    );
    assert_eq!(lake_events(&store), canonical(&events));
    // Each merged file is sorted by time, and its entry's rows, range and kinds are right.
    for f in store.manifest().files.clone() {
        let t: model::EventType = f.table.parse().unwrap();
        let mut scan = store::reader::Scan::table(t);
        scan.shops = Some(vec![f.shop.clone()]);
        let mut ts = Vec::new();
        let mut batches = Vec::new();
        for b in store.scan(scan) {
            let b = b.unwrap();
            if b.dt != f.dt {
                continue;
            }
            batches.push(b.batch.clone());
            let col = b
                .batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::TimestampMillisecondArray>()
                .unwrap()
                .clone();
            ts.extend(col.values().iter().copied());
        }
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{} is sorted", f.path);
        assert_eq!(ts.len() as u64, f.rows);
        assert_eq!((ts[0], ts[ts.len() - 1]), (f.min_ts, f.max_ts));
        if f.table != "ad_click" {
            // Every other table has a kind column (action, status, result, channel, method).
            assert_eq!(f.kinds.values().sum::<u64>(), f.rows, "{}", f.path);
        }
        if f.table != "ad_click" && f.table != "payment" {
            // The merged file's user sets, built chunk by chunk, are those of its rows.
            let sets = store::UserSets::load(&store::user_sets_path(dir.path(), f.seq)).unwrap();
            let want = store::UserSets::of(t, &batches).unwrap();
            assert_eq!(sets.kinds.len(), want.kinds.len(), "{}", f.path);
            for ((k, a), (wk, w)) in sets.kinds.iter().zip(&want.kinds) {
                assert_eq!((k, a.rows, &a.users), (wk, w.rows, &w.users), "{}", f.path);
                assert!((a.amount - w.amount).abs() < 1e-6 * w.amount.abs().max(1.0));
                assert_eq!(f.kinds.get(k), Some(&a.rows), "{}", f.path);
            }
        }
        if f.table == "behavior" {
            // So is its user timeline, byte for byte.
            let written = std::fs::read(store::timeline_path(dir.path(), f.seq)).unwrap();
            let want = store::TimelineBuilder::of(&batches).encode().unwrap();
            assert_eq!(written, want, "{}", f.path);
            assert!(store::Timelines::decode(written).unwrap().events() > 0);
        }
    }
    let days: Vec<String> = store
        .manifest()
        .files
        .iter()
        .map(|f| f.dt.clone())
        .collect();
    let first = days.iter().min().unwrap().clone();
    let r = store
        .drop_before(&days.iter().filter(|d| **d > first).min().unwrap().clone())
        .unwrap();
    assert!(r.rows_dropped > 0);
    assert!(store.manifest().files.iter().all(|f| f.dt > first));
    let left: usize = lake_events(&store).len();
    let sidecars = |ext: &str| {
        std::fs::read_dir(dir.path().join("lake/_sketches"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == ext)
            .count()
    };
    let sketches = sidecars("json");
    let behavior_files = store
        .manifest()
        .files
        .iter()
        .filter(|f| f.table == "behavior")
        .count();
    assert_eq!(
        sketches, behavior_files,
        "sketches follow their files through compaction and retention"
    );
    let with_kinds = store
        .manifest()
        .files
        .iter()
        .filter(|f| f.table != "ad_click" && f.table != "payment")
        .count();
    assert_eq!(
        sidecars("users"),
        with_kinds,
        "and so do the user sets of tables with users and a kind"
    );
    assert_eq!(
        sidecars("timeline"),
        behavior_files,
        "and the user timelines"
    );
    assert_eq!(left as u64 + r.rows_dropped, events.len() as u64);
}

#[test]
fn the_background_folder_moves_acknowledged_appends_into_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = std::sync::Arc::new(std::sync::Mutex::new(open(&root)));
    let wal = store::Wal::open(&root.join("wal"), store::WalConfig::default()).unwrap();
    let folder = store::Folder::spawn(
        store.clone(),
        root.join("wal"),
        wal.state(),
        std::time::Duration::from_millis(20),
    );
    let events = generated(1_000, 1);
    let rules = Rules::default();
    for part in events.chunks(100) {
        let mut b = ChunkBuilder::new("wal", "wal", "default", &rules, 1);
        for e in part {
            b.event(1, None, b"", e);
        }
        wal.append(&b.finish().batch.finish().unwrap(), true)
            .unwrap();
    }
    folder.stop();
    let s = store.lock().unwrap();
    assert_eq!(lake_events(&s), canonical(&events));
}

#[test]
fn one_writer_at_a_time_and_readers_alongside_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(2_000, 1);
    let mut writer = open(dir.path());
    import_events(&mut writer, &events, 1_000, 1_000_000);
    let second = Store::open(StoreConfig::new(dir.path()));
    assert!(
        matches!(second, Err(store::StoreError::Locked(_))),
        "a second writer is refused"
    );
    let mut reader = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(lake_events(&reader), canonical(&events));
    let err = reader
        .commit(Default::default(), Vec::new(), Vec::new(), Vec::new(), None)
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn wal_table_appends_of_one_group_share_a_record_and_fold_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let events = generated(2_000, 1);
    let rules = Rules::default();
    let mut store = open(&root);
    let wal = store::Wal::open(&root.join("wal"), store::WalConfig::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut submitted = 0;
    for part in events.chunks(7) {
        let mut b = ChunkBuilder::new("wal", "wal", "default", &rules, 1);
        for e in part {
            b.event(1, None, b"", e);
        }
        let tables = b.finish().batch.finish().unwrap();
        let tx = tx.clone();
        wal.submit_tables(
            tables,
            store::WalExtras::default(),
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        )
        .unwrap();
        submitted += 1;
    }
    let acks: Vec<bool> = rx.iter().take(submitted).collect();
    assert!(acks.iter().all(|ok| *ok));
    assert!(
        wal.fsync_stats().fsyncs() < submitted as u64,
        "concurrent appends share fsyncs"
    );
    assert_eq!(
        store.fold_wal(&root.join("wal")).unwrap(),
        events.len() as u64
    );
    assert_eq!(store.fold_wal(&root.join("wal")).unwrap(), 0);
    assert_eq!(lake_events(&store), canonical(&events));
}

#[test]
fn missing_or_damaged_sidecars_are_written_again_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(6_000, 2);
    let mut store = open(dir.path());
    import_events(&mut store, &events, 1_000, 2_000);
    assert_eq!(
        store.write_missing_sidecars().unwrap(),
        0,
        "a new lake has them all"
    );
    let sidecar_dir = dir.path().join("lake/_sketches");
    let written = files_with_bytes(&sidecar_dir);
    let timelines = written
        .iter()
        .filter(|(p, _)| p.extension().unwrap() == "timeline")
        .count();
    assert!(timelines >= 2);
    // As a lake from before timelines: none of them. Plus a torn user set and a foreign sketch.
    let mut damaged = 0;
    for (i, (p, bytes)) in written.iter().enumerate() {
        match p.extension().unwrap().to_str().unwrap() {
            "timeline" => std::fs::remove_file(p).unwrap(),
            "users" if i % 3 == 0 => {
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
                damaged += 1;
            }
            "json" if i % 4 == 0 => std::fs::write(p, b"{}").unwrap(),
            _ => continue,
        }
    }
    assert!(damaged > 0);
    let done = store.write_missing_sidecars().unwrap();
    assert!(
        done >= timelines,
        "{done} files redone, {timelines} timelines were removed"
    );
    let again = files_with_bytes(&sidecar_dir);
    let names = |v: &[(std::path::PathBuf, Vec<u8>)]| -> Vec<std::path::PathBuf> {
        v.iter().map(|(p, _)| p.clone()).collect()
    };
    assert_eq!(names(&again), names(&written), "every sidecar is back");
    for ((p, now), (_, was)) in again.iter().zip(&written) {
        match p.extension().unwrap().to_str().unwrap() {
            // Timelines depend only on the rows: byte for byte what the import wrote.
            "timeline" => assert!(now == was, "{}", p.display()),
            // Sets and sketches are built per batch when written again: the same counts and
            // users, sums equal up to rounding, the same estimate.
            "users" => {
                let (a, b) = (
                    store::UserSets::decode(now).unwrap(),
                    store::UserSets::decode(was).unwrap(),
                );
                assert_eq!(a.kinds.len(), b.kinds.len(), "{}", p.display());
                for ((ka, va), (kb, vb)) in a.kinds.iter().zip(&b.kinds) {
                    assert_eq!((ka, va.rows, &va.users), (kb, vb.rows, &vb.users));
                    assert!((va.amount - vb.amount).abs() <= 1e-9 * vb.amount.abs().max(1.0));
                }
            }
            _ => {
                let est = |b: &[u8]| {
                    let m: BTreeMap<String, store::Hll> = serde_json::from_slice(b).unwrap();
                    m.iter()
                        .map(|(k, h)| (k.clone(), h.estimate()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(est(now), est(was), "{}", p.display());
            }
        }
    }
    assert_eq!(store.write_missing_sidecars().unwrap(), 0);
}
