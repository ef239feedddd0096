//! The crash-and-fault suite: a real server is killed at chosen points (between a WAL write
//! and its fsync, inside a fold, inside a compaction), its disk fills up (a tmpfs), and retries
//! race the requests they repeat. After every round the lake is counted against the client's
//! record of 200s: nothing acknowledged may be missing, nothing may be stored twice.
//!
//! Scale (for `scripts/fault-bench.sh`): `FAULTS_ROUNDS` rounds per crash point
//! (default 2), `FAULTS_BATCH` events per request (default 200), and
//! `FAULTS_MAX_HITS`: a point fires on a random pass up to this (default 8), `FAULTS_RATE`:
//! requests per second per client (default 20).

mod common;

use common::*;
use reqwest::blocking::Client;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a client learned: batches answered 200, and batches whose fate it does not know.
#[derive(Default)]
struct Ledger {
    acked: Vec<String>,
    unknown: Vec<Vec<String>>,
}

fn body(ids: &[String]) -> String {
    ids.iter()
        .enumerate()
        .map(|(i, id)| behavior(id, i as u64 + 1, 7, "pv"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn post(c: &Client, url: &str, key: &str, ids: &[String]) -> Option<u16> {
    c.post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(body(ids))
        .send()
        .ok()
        .map(|r| r.status().as_u16())
}

/// Posts fresh batches `<tag>-<n>` from `threads` clients until `stop`, or until a request
/// fails to connect (the server died).
fn drive(url: &str, key: &str, tag: &str, batch: u64, threads: usize, stop: &AtomicBool) -> Ledger {
    let rate = env_u64("FAULTS_RATE", 20);
    let statuses = std::sync::Mutex::new(HashMap::<u16, u64>::new());
    let ledgers: Vec<Ledger> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let statuses = &statuses;
                s.spawn(move || {
                    let c = Client::builder()
                        .timeout(Duration::from_secs(20))
                        .build()
                        .unwrap();
                    let mut l = Ledger::default();
                    let pace = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        // Paced: a round waiting for a late crash point would otherwise pile
                        // up millions of events that every later restart warms up from.
                        let sent = Instant::now();
                        let ids: Vec<String> =
                            (0..batch).map(|i| format!("{tag}-{t}-{n}-{i}")).collect();
                        match post(&c, url, key, &ids) {
                            Some(200) => l.acked.extend(ids),
                            other => {
                                *statuses
                                    .lock()
                                    .unwrap()
                                    .entry(other.unwrap_or(0))
                                    .or_default() += 1;
                                l.unknown.push(ids);
                                if other.is_none() {
                                    break;
                                }
                            }
                        }
                        std::thread::sleep(pace.saturating_sub(sent.elapsed()));
                    }
                    l
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let st = statuses.into_inner().unwrap();
    assert!(
        !st.contains_key(&500),
        "no request may fail with 500: {st:?}"
    );
    let mut all = Ledger::default();
    for l in ledgers {
        all.acked.extend(l.acked);
        all.unknown.extend(l.unknown);
    }
    all
}

/// Counts the lake: every acknowledged id present, none twice. Returns the ids stored.
fn check(data: &Path, acked: &HashSet<String>, what: &str) -> usize {
    let stored = lake_event_ids(data);
    let mut seen = HashSet::with_capacity(stored.len());
    let twice: Vec<&String> = stored
        .iter()
        .filter(|id| !seen.insert(*id))
        .take(5)
        .collect();
    assert!(twice.is_empty(), "{what}: stored twice: {twice:?}");
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| !seen.contains(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: acknowledged but missing ({} acked, {} stored): {missing:?}",
        acked.len(),
        stored.len()
    );
    stored.len()
}

/// Resends every batch of unknown fate until it is answered 200.
fn resend(url: &str, key: &str, unknown: Vec<Vec<String>>, acked: &mut HashSet<String>) {
    let c = Client::new();
    for ids in unknown {
        let t = Instant::now();
        loop {
            let st = post(&c, url, key, &ids);
            if st == Some(200) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "resend kept failing: {st:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        acked.extend(ids);
    }
}

#[test]
fn killed_at_chosen_points_the_server_loses_and_duplicates_nothing() {
    let rounds = env_u64("FAULTS_ROUNDS", 2);
    let batch = env_u64("FAULTS_BATCH", 200);
    let max_hits = env_u64("FAULTS_MAX_HITS", 8).max(1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let mut next = seeded_rng("crash points");
    let mut acked: HashSet<String> = HashSet::new();
    let started = Instant::now();
    let mut round = 0;
    for point in store::crashpoint::POINTS {
        for _ in 0..rounds {
            round += 1;
            let hit = 1 + next() % max_hits;
            let crash = format!("{point}:{hit}");
            let env = [
                ("STOREPULSE_CRASH_AT", crash.as_str()),
                // Small files every 50 ms and a compaction check every second.
                ("STOREPULSE_SERVER__FOLD_INTERVAL_MS", "50"),
                ("STOREPULSE_SERVER__COMPACT_INTERVAL_SECS", "1"),
            ];
            let port = free_port();
            let mut s = Server::start(&data, port, &env);
            let stop = AtomicBool::new(false);
            let died = std::thread::scope(|sc| {
                let h = sc.spawn(|| drive(&s.url, &key, &format!("p{round}"), batch, 2, &stop));
                let t = Instant::now();
                let status = loop {
                    if let Some(st) = s.child.try_wait().unwrap() {
                        break Some(st);
                    }
                    if t.elapsed() > Duration::from_secs(60) {
                        break None;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                };
                stop.store(true, Ordering::Relaxed);
                (status, h.join().unwrap())
            });
            let (status, ledger) = died;
            let status = status.unwrap_or_else(|| panic!("crash point {crash} was never reached"));
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9),
                "{crash}: the server died by its crash point, not otherwise"
            );
            acked.extend(ledger.acked);
            // Recovery on the next start; then everything unknown is sent again.
            let mut s = Server::start(&data, port, &[]);
            resend(&s.url, &key, ledger.unknown, &mut acked);
            assert!(s.stop(), "clean shutdown after recovery");
            let stored = check(&data, &acked, &crash);
            assert_eq!(
                stored,
                acked.len(),
                "{crash}: only acknowledged events are stored"
            );
        }
    }
    eprintln!(
        "fault suite: {round} rounds over {:?}, {} events acknowledged, {} stored, 0 lost, 0 duplicated, {:.1} s",
        store::crashpoint::POINTS,
        acked.len(),
        lake_event_ids(&data).len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_retry_answered_200_holds_even_if_the_server_dies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let mut next = seeded_rng("racing retries");
    let mut raced = 0;
    for attempt in 0..8 {
        let port = free_port();
        let mut s = Server::start(&data, port, &[]);
        // A big first request (slow to parse and write) and a retry of one of its events.
        let big: Vec<String> = (0..20_000).map(|i| format!("a{attempt}-{i}")).collect();
        let probe = big[big.len() / 2].clone();
        let first_done = AtomicBool::new(false);
        let retry_ok = std::thread::scope(|sc| {
            let url = s.url.clone();
            let (key, big) = (&key, &big);
            let first_done = &first_done;
            sc.spawn(move || {
                let c = Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let _ = post(&c, &url, key, big);
                first_done.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(next() % 400));
            let c = Client::new();
            let mut ok = false;
            while !first_done.load(Ordering::SeqCst) {
                if post(&c, &s.url, key, std::slice::from_ref(&probe)) == Some(200) {
                    ok = true;
                    break;
                }
            }
            // The chosen point: right after the retry's 200, before anything else happens.
            if ok && !first_done.load(Ordering::SeqCst) {
                raced += 1;
            }
            s.kill9();
            ok
        });
        if retry_ok {
            let _s = Server::start(&data, port, &[]);
            drop(_s);
            let stored: HashSet<String> = lake_event_ids(&data).into_iter().collect();
            assert!(
                stored.contains(&probe),
                "attempt {attempt}: the retry got 200 but its event is not in the lake"
            );
        }
    }
    eprintln!("{raced} of 8 retries were answered while their first request was in flight");
    assert!(
        raced > 0,
        "no retry raced its first request: the test did not exercise the race"
    );
}

/// Unmounts a test's tmpfs when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_refuses_with_503_loses_nothing_and_ingest_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(&data)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var_os("FAULTS_REQUIRE_TMPFS").is_none(),
            "FAULTS_REQUIRE_TMPFS is set but a tmpfs cannot be mounted"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root and requires it)");
        return;
    }
    let _m = Mount(data.clone());
    let key = create_key(&data, "k", &["ingest"], None);
    let port = free_port();
    let mut s = Server::start(&data, port, &[]);
    // Leave about 2 MiB free.
    let free = store::free_bytes(&data).unwrap();
    let filler = data.join("filler");
    std::fs::write(&filler, vec![0u8; (free - (2 << 20)) as usize]).unwrap();
    let c = Client::new();
    let health = || {
        c.get(format!("{}/health", s.url))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let mut acked: HashSet<String> = HashSet::new();
    let mut unknown = Vec::new();
    let (mut refused, mut saw_unready) = (0, false);
    for n in 0..400 {
        let ids: Vec<String> = (0..500).map(|i| format!("f{n}-{i}")).collect();
        let r = c
            .post(format!("{}/v1/events", s.url))
            .bearer_auth(&key)
            .header("content-type", "application/x-ndjson")
            .body(body(&ids))
            .send()
            .unwrap();
        match r.status().as_u16() {
            200 => acked.extend(ids),
            503 => {
                let v: serde_json::Value = r.json().unwrap();
                assert_eq!(v["error"]["code"], "storage_unavailable", "{v}");
                refused += 1;
                unknown.push(ids);
                saw_unready |= health() == 503;
            }
            st => panic!("a full disk must give 200 or 503, not {st}"),
        }
        if refused >= 10 && saw_unready {
            break;
        }
    }
    assert!(
        refused >= 10,
        "the disk never filled ({} acked)",
        acked.len()
    );
    assert!(
        saw_unready,
        "/health reports not ready while the disk is full"
    );
    // Space returns: the server becomes ready by itself and takes everything again.
    std::fs::remove_file(&filler).unwrap();
    let t = Instant::now();
    while health() != 200 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "/health never recovered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    resend(&s.url, &key, unknown, &mut acked);
    for n in 0..20 {
        let ids: Vec<String> = (0..500).map(|i| format!("g{n}-{i}")).collect();
        assert_eq!(post(&c, &s.url, &key, &ids), Some(200));
        acked.extend(ids);
    }
    assert!(s.stop(), "a clean stop folds everything");
    let stored = check(&data, &acked, "full disk, clean stop");
    assert_eq!(stored, acked.len());
    // The same with a SIGKILL while the disk is full.
    let mut s = Server::start(&data, port, &[]);
    let free = store::free_bytes(&data).unwrap();
    std::fs::write(&filler, vec![0u8; (free - (1 << 20)) as usize]).unwrap();
    let stop = AtomicBool::new(false);
    let url = s.url.clone();
    let ledger = std::thread::scope(|sc| {
        let h = sc.spawn(|| drive(&url, &key, "k", 500, 2, &stop));
        std::thread::sleep(Duration::from_secs(3));
        s.kill9();
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap()
    });
    acked.extend(ledger.acked);
    std::fs::remove_file(&filler).unwrap();
    let mut s = Server::start(&data, port, &[]);
    resend(&s.url, &key, ledger.unknown, &mut acked);
    assert!(s.stop());
    let stored = check(&data, &acked, "full disk, SIGKILL");
    assert_eq!(stored, acked.len());
}
