//! `storepulse`: the command-line entry point. It parses arguments, loads the configuration and
//! calls into the library crates; all real work lives there.
//!
//! ```text
//! import / gen ─► collect (parse, clean, quarantine) ─► store (WAL, Parquet lake, catalog)
//! stats / quarantine / compact ─► store
//! ```

mod cli;
mod cli_mine;
mod cmd;
mod config;
mod config_doc;
mod fmt;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // `storepulse stats | head`: a closed stdout ends the process quietly, as it does any Unix
    // tool (Rust ignores SIGPIPE, so every print would panic instead). The server and the load
    // generators keep ignoring it: a peer closing its socket must not kill them.
    if !matches!(cli.command, cli::Command::Serve(_) | cli::Command::Bench(_)) {
        // SAFETY: before any thread starts; restores the default disposition of one signal.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("STOREPULSE_LOG")
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`storepulse stats | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if e.downcast_ref::<cmd::Usage>().is_some() {
                eprintln!("\nFor more information, try '--help'.");
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
