//! Crash points for fault-injection tests: `STOREPULSE_CRASH_AT=<point>:<n>` makes the process
//! kill itself with SIGKILL the `n`-th time it passes `<point>` (1-based), so a test can stop it
//! exactly between a WAL write and its fsync, inside a fold or inside a compaction, which
//! random kills hit too rarely. Unset (always, outside tests), a point costs one relaxed load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Between writing WAL records and their fsync.
pub const WAL_BEFORE_FSYNC: &str = "wal-before-fsync";
/// A fold's files are staged; its manifest commit has not happened.
pub const FOLD_BEFORE_COMMIT: &str = "fold-before-commit";
/// A fold's manifest is committed; its staged files are not renamed yet.
pub const FOLD_AFTER_COMMIT: &str = "fold-after-commit";
/// A compaction's merged file is staged; the manifest still lists the small files.
pub const COMPACT_BEFORE_COMMIT: &str = "compact-before-commit";

/// Every crash point, for the tests and for a clear error on a misspelt one.
pub const POINTS: [&str; 4] = [
    WAL_BEFORE_FSYNC,
    FOLD_BEFORE_COMMIT,
    FOLD_AFTER_COMMIT,
    COMPACT_BEFORE_COMMIT,
];

struct Armed {
    point: String,
    at: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var("STOREPULSE_CRASH_AT").ok()?;
            let (point, n) = v.rsplit_once(':').unwrap_or((v.as_str(), "1"));
            if !POINTS.contains(&point) {
                tracing::warn!(point, known = ?POINTS, "STOREPULSE_CRASH_AT names no crash point");
                return None;
            }
            Some(Armed {
                point: point.to_string(),
                at: n.parse().unwrap_or(1).max(1),
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Passes crash point `name`; kills the process if it is armed for this pass.
pub fn reach(name: &str) {
    let Some(a) = armed() else { return };
    if a.point == name && a.hits.fetch_add(1, Ordering::SeqCst) + 1 == a.at {
        eprintln!("crash point {name} reached: SIGKILL");
        // SAFETY: signalling our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
