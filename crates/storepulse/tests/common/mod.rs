//! A real `storepulse serve` child process on a free port, with keys, for HTTP tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_storepulse");

/// Runs the binary on a data dir (no config from the environment) and requires success.
pub fn sp(data: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("STOREPULSE_CONFIG")
        .output()
        .expect("run storepulse");
    assert!(
        out.status.success(),
        "storepulse {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn create_key(data: &Path, name: &str, scopes: &[&str], shop: Option<&str>) -> String {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .args(["keys", "create", "--name", name]);
    for s in scopes {
        c.args(["--scope", s]);
    }
    if let Some(s) = shop {
        c.args(["--shop", s]);
    }
    let out = c.output().expect("run keys create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    pub port: u16,
}

impl Server {
    pub fn start(data: &Path, port: u16, extra_env: &[(&str, &str)]) -> Server {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("STOREPULSE_SERVER__FOLD_INTERVAL_MS", "200")
            .env("STOREPULSE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(data.with_extension(format!("serve-{port}.log")))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let child = c.spawn().expect("spawn serve");
        let s = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            port,
        };
        s.wait_ready();
        s
    }

    pub fn wait_ready(&self) {
        let t = Instant::now();
        let client = reqwest::blocking::Client::new();
        // Generous: a debug build recovering a big lake (fault-bench) takes a while.
        while t.elapsed() < Duration::from_secs(120) {
            if let Ok(r) = client.get(format!("{}/health", self.url)).send()
                && r.status() == 200
            {
                if t.elapsed() > Duration::from_secs(10) {
                    eprintln!(
                        "server took {:.1} s to become ready",
                        t.elapsed().as_secs_f64()
                    );
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let log =
            std::fs::read_to_string(self.data.with_extension(format!("serve-{}.log", self.port)));
        panic!("server did not become ready: {}", log.unwrap_or_default());
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        // SAFETY: sending a signal to our own child process id.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `event_id` in the lake's behaviour table.
pub fn lake_event_ids(data: &Path) -> Vec<String> {
    let store = store::Store::open_read_only(store::StoreConfig::new(data)).expect("open lake");
    let mut scan = store::reader::Scan::table(model::EventType::Behavior);
    scan.columns = Some(vec!["event_id".into()]);
    let mut out = Vec::new();
    for b in store.scan(scan) {
        let b = b.unwrap().batch;
        let col = b
            .column_by_name("event_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap()
            .clone();
        for i in 0..arrow_array::Array::len(&col) {
            if arrow_array::Array::is_valid(&col, i) {
                out.push(col.value(i).to_string());
            }
        }
    }
    out
}

pub fn behavior(id: &str, user: u64, item: u64, action: &str) -> String {
    format!(
        r#"{{"type":"behavior","event_id":"{id}","ts":"2026-11-20T10:00:00Z","user_id":{user},"item_id":{item},"category_id":7,"action":"{action}"}}"#
    )
}

/// A xorshift generator seeded from the clock; the seed is printed so a failing run can be
/// told apart (timing-driven tests cannot be replayed exactly anyway).
pub fn seeded_rng(what: &str) -> impl FnMut() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("{what} seed {seed}");
    let mut rng = seed | 1;
    move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    }
}

/// Runs SQL on a loopback database with its command-line client; one value per line.
pub fn db_query(kind: &str, sql: &str) -> Vec<String> {
    let out = match kind {
        "postgres" => Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-tAc",
                sql,
            ])
            .output(),
        _ => Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-u",
                "root",
                "test",
                "-N",
                "-B",
                "-e",
                sql,
            ])
            .output(),
    }
    .unwrap_or_else(|e| panic!("{kind} client: {e}"));
    assert!(
        out.status.success(),
        "{kind}: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}
