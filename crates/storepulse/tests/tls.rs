//! `serve` over HTTPS (rustls), checked with a real TLS client — curl, built on OpenSSL — and a
//! certificate made by the `openssl` command: events go in over TLS, plain HTTP is refused, a
//! clean stop still folds everything into the lake.

mod common;

use common::{BIN, create_key, free_port, lake_event_ids};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn curl(cacert: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(cacert)
        .args(args)
        .output()
        .expect("curl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn serve_speaks_https_with_the_configured_certificate() {
    if Command::new("openssl").arg("version").output().is_err()
        || Command::new("curl").arg("--version").output().is_err()
    {
        assert!(
            std::env::var_os("STOREPULSE_TEST_ALLOW_MISSING_REFS").is_some(),
            "openssl and curl are needed for the TLS test (.ci/run installs them)"
        );
        eprintln!("SKIPPED: openssl or curl is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success(), "openssl made a certificate");
    let data = dir.path().join("data");
    let k = create_key(&data, "k", &["ingest", "read"], None);
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("STOREPULSE_SERVER__TLS_CERT", &cert)
        .env("STOREPULSE_SERVER__TLS_KEY", &key)
        .env_remove("STOREPULSE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let https = format!("https://localhost:{port}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let t = Instant::now();
    loop {
        let (ok, _) = curl(&cert, &["--resolve", &resolve, &format!("{https}/health")]);
        if ok {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the TLS server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let event = r#"{"type":"behavior","event_id":"tls-1","ts":"2026-11-20T10:00:00Z","user_id":1,"item_id":2,"action":"pv"}"#;
    let auth = format!("Authorization: Bearer {k}");
    let (ok, body) = curl(
        &cert,
        &[
            "--resolve",
            &resolve,
            "-H",
            &auth,
            "-H",
            "Content-Type: application/x-ndjson",
            "--data-binary",
            event,
            &format!("{https}/v1/events"),
        ],
    );
    assert!(ok, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accepted"], 1, "{v}");
    // The certificate is checked: an untrusting client refuses it, and plain HTTP gets nothing.
    let untrusted = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "--resolve",
            &resolve,
            &format!("{https}/health"),
        ])
        .output()
        .unwrap();
    assert!(!untrusted.status.success());
    let plain = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{port}/health"),
        ])
        .output()
        .unwrap();
    assert!(
        !plain.status.success(),
        "plain HTTP is not served: {plain:?}"
    );
    // SIGTERM: a clean exit that folds the WAL.
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(lake_event_ids(&data), vec!["tls-1"]);
}
