//! Measures generation speed.
//!
//! `cargo run --release -p storepulse-gen --example gen_bench -- [EVENTS] [THREADS] [PATH] [csv|ndjson]`
//! (defaults: 20M events, all cores, a temporary file that is removed afterwards, csv).
//! `GEN_CHUNK_EVENTS=N` overrides the chunk size (a performance knob; the output is the same).

use std::time::Instant;
use storepulse_gen::{GenConfig, Generator, write_ndjson_file, write_taobao_csv_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events = match args.first() {
        Some(a) => GenConfig::parse_count(a)?,
        None => 20_000_000,
    };
    let threads: usize = match args.get(1) {
        Some(t) => t.parse()?,
        None => 0,
    };
    let (path, keep) = match args.get(2) {
        Some(p) => (std::path::PathBuf::from(p), true),
        None => (std::env::temp_dir().join("storepulse_gen_bench.csv"), false),
    };
    let mut cfg = GenConfig::new(events);
    if let Some(c) = std::env::var("GEN_CHUNK_EVENTS")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        cfg = cfg.with_chunk_events(c);
    }
    let t = Instant::now();
    let generator = Generator::new(&cfg)?;
    let setup = t.elapsed().as_secs_f64();
    drop(generator);
    let t = Instant::now();
    let ndjson = args.get(3).is_some_and(|f| f == "ndjson");
    let stats = if ndjson {
        write_ndjson_file(&cfg, &path, threads)?
    } else {
        write_taobao_csv_file(&cfg, &path, threads)?
    };
    let secs = t.elapsed().as_secs_f64();
    let n = stats.pv + stats.cart + stats.fav + stats.buy;
    println!(
        "{n} events, {:.1} MB in {secs:.3} s (setup {setup:.3} s): {:.2} M events/s, {:.0} MB/s, threads={threads}",
        stats.bytes as f64 / 1e6,
        n as f64 / secs / 1e6,
        stats.bytes as f64 / 1e6 / secs
    );
    println!(
        "mix: pv {:.2}% cart {:.2}% fav {:.2}% buy {:.2}%",
        100.0 * stats.pv as f64 / n as f64,
        100.0 * stats.cart as f64 / n as f64,
        100.0 * stats.fav as f64 / n as f64,
        100.0 * stats.buy as f64 / n as f64
    );
    if ndjson {
        println!("{stats:#?}");
    }
    if !keep {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
