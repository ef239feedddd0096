//! Fault injection on the WAL: a segment file that runs out of space part-way through a write,
//! fails its fsync or cannot be cut, standing in for a full disk. Whatever fails, every
//! acknowledged append reaches the lake exactly once, nothing unacknowledged does, and the log
//! takes writes again by itself once the disk does.

use collect::{ChunkBuilder, TableBatch};
use model::{Event, Rules};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::reader::Scan;
use store::{SegmentFile, Store, StoreConfig, Wal, WalConfig};
use storepulse_store as store;

/// What the fake disk does next.
#[derive(Default)]
struct Plan {
    /// Bytes the disk still takes (`u64::MAX`: unlimited).
    space: AtomicU64,
    fail_sync: AtomicBool,
    fail_truncate: AtomicBool,
}

impl Plan {
    fn unlimited() -> Arc<Plan> {
        let p = Plan::default();
        p.space.store(u64::MAX, Ordering::SeqCst);
        Arc::new(p)
    }
}

struct Faulty {
    f: File,
    plan: Arc<Plan>,
}

impl SegmentFile for Faulty {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let room = self.plan.space.load(Ordering::SeqCst);
        if room == u64::MAX || buf.len() as u64 <= room {
            Write::write_all(&mut self.f, buf)?;
            if room != u64::MAX {
                self.plan
                    .space
                    .fetch_sub(buf.len() as u64, Ordering::SeqCst);
            }
            return Ok(());
        }
        // A full disk: part of the record lands, then the write fails.
        Write::write_all(&mut self.f, &buf[..room as usize])?;
        self.plan.space.store(0, Ordering::SeqCst);
        Err(io::Error::new(
            io::ErrorKind::StorageFull,
            "No space left on device",
        ))
    }
    fn sync_data(&mut self) -> io::Result<()> {
        if self.plan.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("fsync failed (injected)"));
        }
        self.f.sync_data()
    }
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        if self.plan.fail_truncate.load(Ordering::SeqCst) {
            return Err(io::Error::other("ftruncate failed (injected)"));
        }
        self.f.set_len(len)?;
        self.f.seek(SeekFrom::Start(len))?;
        Ok(())
    }
}

fn open_wal(root: &Path, plan: &Arc<Plan>) -> Wal {
    let p = plan.clone();
    Wal::open_with(
        &root.join("wal"),
        WalConfig::default(),
        Some(Box::new(move |f| Box::new(Faulty { f, plan: p }))),
    )
    .unwrap()
}

fn open_store(root: &Path) -> Store {
    Store::open(StoreConfig::new(root)).unwrap()
}

/// Batches of `n` events each with event ids `<tag>-<i>`.
fn batch(tag: &str, n: usize) -> Vec<TableBatch> {
    let rules = Rules::default();
    let mut b = ChunkBuilder::new("wal", "wal", "default", &rules, 1);
    for i in 0..n {
        let line = format!(
            r#"{{"type":"behavior","event_id":"{tag}-{i}","user_id":{},"item_id":{},"category_id":7,"action":"pv","ts":1511658000}}"#,
            i + 1,
            i + 100
        );
        let e: Event = collect::formats::ndjson::parse_event(
            line.as_bytes(),
            &collect::formats::LineOptions::default(),
        )
        .unwrap();
        b.event(1, None, line.as_bytes(), &e);
    }
    b.finish().batch.finish().unwrap()
}

/// Event ids in the lake, sorted.
fn lake_ids(store: &Store) -> Vec<String> {
    let mut ids = Vec::new();
    for b in store.scan(Scan::table(model::EventType::Behavior)) {
        let b = b.unwrap().batch;
        let col = b.column_by_name("event_id").unwrap();
        let a = arrow_array::cast::AsArray::as_string::<i32>(col);
        ids.extend(a.iter().flatten().map(str::to_string));
    }
    ids.sort();
    ids
}

/// Event ids `<tag>-0..n` of every (tag, n), sorted as [`lake_ids`] sorts.
fn ids(batches: &[(&str, usize)]) -> Vec<String> {
    let mut v: Vec<String> = batches
        .iter()
        .flat_map(|&(tag, n)| (0..n).map(move |i| format!("{tag}-{i}")))
        .collect();
    v.sort();
    v
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_torn_write_is_cut_back_so_later_appends_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let plan = Plan::unlimited();
    {
        let _store = open_store(&root);
        let wal = open_wal(&root, &plan);
        wal.append(&batch("a", 50), true).unwrap();
        // The disk fills in the middle of the next record.
        plan.space.store(100, Ordering::SeqCst);
        let e = wal.append(&batch("b", 50), true);
        assert!(e.is_err(), "a failed write is never acknowledged");
        assert!(wal.state().error().is_some(), "the WAL reports its failure");
        // Space returns; the next append is acknowledged and clears the error.
        plan.space.store(u64::MAX, Ordering::SeqCst);
        wal.append(&batch("c", 50), true).unwrap();
        assert_eq!(wal.state().error(), None);
        // "Crash": nothing folded, the writer thread is gone with the process.
    }
    let mut store = open_store(&root);
    store.fold_wal(&root.join("wal")).unwrap();
    assert_eq!(
        lake_ids(&store),
        ids(&[("a", 50), ("c", 50)]),
        "every acknowledged event, and none of the failed append"
    );
}

#[test]
fn bytes_past_the_last_fsync_are_never_folded_and_the_fold_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let plan = Plan::unlimited();
    let store = Arc::new(std::sync::Mutex::new(open_store(&root)));
    let wal = open_wal(&root, &plan);
    let wal_dir = root.join("wal");
    wal.append(&batch("a", 20), true).unwrap();
    // The record is written whole but its fsync fails, and it cannot be cut off either.
    plan.fail_sync.store(true, Ordering::SeqCst);
    plan.fail_truncate.store(true, Ordering::SeqCst);
    assert!(wal.append(&batch("b", 20), true).is_err());
    store::fold::fold_shared(&store, &wal_dir, Some(&wal.state())).unwrap();
    assert_eq!(
        lake_ids(&store.lock().unwrap()),
        ids(&[("a", 20)]),
        "the unacknowledged record is not folded"
    );
    // While the file cannot be cut, nothing is written after the stray bytes.
    plan.fail_sync.store(false, Ordering::SeqCst);
    assert!(wal.append(&batch("c", 20), true).is_err());
    plan.fail_truncate.store(false, Ordering::SeqCst);
    wal.append(&batch("d", 20), true).unwrap();
    store::fold::fold_shared(&store, &wal_dir, Some(&wal.state())).unwrap();
    assert_eq!(
        lake_ids(&store.lock().unwrap()),
        ids(&[("a", 20), ("d", 20)])
    );
    let seg_bytes: u64 = std::fs::read_dir(&wal_dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(
        wal.state().durable().1,
        seg_bytes,
        "the log holds exactly its durable records"
    );
}

#[test]
fn an_idle_wal_notices_by_itself_that_the_disk_takes_writes_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let plan = Plan::unlimited();
    let store = open_store(&root);
    let wal = open_wal(&root, &plan);
    plan.space.store(10, Ordering::SeqCst);
    assert!(wal.append(&batch("a", 10), true).is_err());
    // Still full: the probe fails and the error stays.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(wal.state().error().is_some());
    plan.space.store(u64::MAX, Ordering::SeqCst);
    let state = wal.state();
    wait_for("the probe clears the error", || state.error().is_none());
    wal.append(&batch("b", 10), true).unwrap();
    drop((wal, store));
    let mut store = open_store(&root);
    store.fold_wal(&root.join("wal")).unwrap();
    assert_eq!(
        lake_ids(&store),
        ids(&[("b", 10)]),
        "a probe leaves nothing behind"
    );
}
