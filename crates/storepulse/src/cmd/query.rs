//! `storepulse query`: read-only SQL over the lake.

use crate::cli::QueryArgs;
use crate::config::Config;
use anyhow::{Context, Result, bail};
use query::output::{Encoder, Format};
use query::{Engine, Scope};
use std::io::{Read, Write};
use std::time::Instant;

/// Runs `storepulse query`.
pub fn run(cfg: &Config, a: &QueryArgs) -> Result<()> {
    let format: Format = a.format.parse().map_err(super::usage)?;
    if format == Format::Parquet && a.out.is_none() {
        bail!("--format parquet writes a file: add --out result.parquet");
    }
    let sql = if a.sql == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the SQL from stdin")?;
        s
    } else {
        a.sql.clone()
    };
    let engine = Engine::new(&cfg.data_dir, cfg.query.clone())?;
    let scope = a.shop.clone().map(Scope::shop).unwrap_or_default();
    let started = Instant::now();
    let mut rows = engine.sql_blocking(&sql, scope)?;
    let mut out: Box<dyn Write + Send> = match &a.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut n = 0u64;
    match format {
        Format::Table | Format::Parquet => {
            let mut batches = Vec::new();
            while let Some(b) = rows.blocking_next() {
                let b = b?;
                n += b.num_rows() as u64;
                batches.push(b);
            }
            query::output::write_all(format, &rows.schema, &batches, &mut out)?;
        }
        _ => {
            let (mut enc, head) = Encoder::new(format, &rows.schema)?;
            out.write_all(&head)?;
            while let Some(b) = rows.blocking_next() {
                let b = b?;
                n += b.num_rows() as u64;
                out.write_all(&enc.batch(&b)?)?;
            }
            out.write_all(&enc.finish()?)?;
        }
    }
    out.flush()?;
    if a.timing {
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{n} rows in {:.1} ms", secs * 1000.0);
    }
    Ok(())
}
