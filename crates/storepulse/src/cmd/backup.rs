//! `storepulse backup DIR` and `storepulse restore DIR`: a consistent online snapshot of the
//! data dir (safe while `serve` runs) and bringing one back into a fresh data dir.

use crate::cli::{BackupArgs, RestoreArgs};
use crate::config::Config;
use anyhow::{Context, Result};

/// Runs `storepulse backup`.
pub fn backup(cfg: &Config, a: &BackupArgs, json: bool) -> Result<()> {
    let r = store::backup::backup(&cfg.data_dir, &a.dir).with_context(|| {
        format!(
            "backing up {} into {}",
            cfg.data_dir.display(),
            a.dir.display()
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "backed up manifest version {} into {}: {} files ({} hard-linked, {:.1} MiB), {:.1} MiB of WAL",
            r.manifest_version,
            a.dir.display(),
            r.files,
            r.linked,
            r.bytes as f64 / (1 << 20) as f64,
            r.wal_bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}

/// Runs `storepulse restore`: copies the backup in, then opens the store once, which folds the
/// restored WAL (events acknowledged before the backup but not yet in the lake).
pub fn restore(cfg: &Config, a: &RestoreArgs, json: bool) -> Result<()> {
    let files = store::backup::restore(&a.dir, &cfg.data_dir).with_context(|| {
        format!(
            "restoring {} into {}",
            a.dir.display(),
            cfg.data_dir.display()
        )
    })?;
    let mut st = super::open_store(cfg)?;
    let folded = st.fold_wal(&cfg.data_dir.join("wal"))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"files": files, "wal_rows_folded": folded, "data_dir": cfg.data_dir})
        );
    } else {
        println!(
            "restored {} files into {}; folded {folded} events from the restored WAL",
            files,
            cfg.data_dir.display()
        );
    }
    Ok(())
}
