//! What every cross-check test shares: where the real data sets are, and what a missing
//! reference (a Python package, Weka) or data set does — fail saying what to install, or, with
//! `STOREPULSE_TEST_ALLOW_MISSING_REFS` set, print `SKIPPED: …` straight to stderr (the test
//! harness would hide `eprintln!` of a passing test) and let the test return.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The shared real data sets (`STOREPULSE_DATASETS` overrides).
pub fn datasets() -> PathBuf {
    std::env::var_os("STOREPULSE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"))
}

/// Fails with `why`, or prints `SKIPPED: why` and returns false when missing references are
/// allowed.
pub fn missing(why: &str) -> bool {
    if std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some() {
        let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
        false
    } else {
        panic!("{why} (or set STOREPULSE_TEST_ALLOW_MISSING_REFS=1 to skip)");
    }
}

/// The data sets, or `None` after a loud skip when they are absent (CI always has them).
pub fn datasets_or_skip() -> Option<PathBuf> {
    let dir = datasets();
    if dir.is_dir() {
        Some(dir)
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: data sets not found at {}; CI always has them",
            dir.display()
        );
        None
    }
}
