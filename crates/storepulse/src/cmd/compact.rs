//! `storepulse compact`.

use crate::cli::CompactArgs;
use crate::config::Config;
use crate::fmt::thousands;
use anyhow::Result;

pub fn run(cfg: &Config, args: &CompactArgs, json: bool) -> Result<()> {
    let mut store = super::open_store(cfg)?;
    let mut r = store.compact(
        cfg.lake.compact_small_file_mb << 20,
        cfg.lake.compact_target_rows,
    )?;
    // Lakes written by older versions lack newer sidecars (user timelines, user sets).
    r.sidecars_written = store.write_missing_sidecars()?;
    let days = args.retention_days.unwrap_or(cfg.lake.retention_days);
    if days > 0 {
        let d = store.apply_retention(days)?;
        r.partitions_dropped = d.partitions_dropped;
        r.rows_dropped = d.rows_dropped;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "compacted {} files into {} ({} rows rewritten)",
            r.files_before,
            r.files_after,
            thousands(r.rows)
        );
        if r.sidecars_written > 0 {
            println!(
                "wrote the missing sketches, user sets and timelines of {} files",
                r.sidecars_written
            );
        }
        if days > 0 {
            println!(
                "retention {days} days: dropped {} partitions ({} rows)",
                r.partitions_dropped,
                thousands(r.rows_dropped)
            );
        }
    }
    Ok(())
}
