//! Stalled uploads over raw TCP against the real binary: a body that stops arriving is answered
//! 408 after `server.body_timeout_ms`, and SIGTERM with such a connection open exits promptly
//! while an upload that keeps sending still completes and is stored.

mod common;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Request headers for an NDJSON POST of `len` body bytes.
fn head(key: &str, len: usize) -> String {
    format!(
        "POST /v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// Connects and sends the headers of `body` and its first `sent` bytes.
fn open_upload(port: u16, key: &str, body: &[u8], sent: usize) -> TcpStream {
    let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    t.write_all(head(key, body.len()).as_bytes()).unwrap();
    t.write_all(&body[..sent]).unwrap();
    t.flush().unwrap();
    t
}

/// Reads a response to its end (the server closes the connection): status and JSON body.
fn response(t: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    let _ = t.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// SIGTERM, then waits up to `limit`: `Some(exited 0)`, or `None` if still running.
fn sigterm_and_wait(s: &mut Server, limit: Duration) -> Option<bool> {
    // SAFETY: sending a signal to our own child process id.
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGTERM);
    }
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Ok(Some(st)) = s.child.try_wait() {
            return Some(st.success());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn two_events(a: &str, b: &str) -> Vec<u8> {
    format!(
        "{}\n{}\n",
        behavior(a, 1, 10, "pv"),
        behavior(b, 2, 11, "buy")
    )
    .into_bytes()
}

#[test]
fn a_stalled_body_is_answered_408_and_nothing_of_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let port = free_port();
    let mut s = Server::start(
        &data,
        port,
        &[("STOREPULSE_SERVER__BODY_TIMEOUT_MS", "700")],
    );
    // The first event is complete in the half that was sent; it must not be stored either.
    let body = two_events("half1", "half2");
    let t0 = Instant::now();
    let mut t = open_upload(port, &key, &body, body.len() / 2 + 10);
    let (status, e) = response(&mut t);
    let waited = t0.elapsed();
    assert_eq!(status, 408, "{e}");
    assert_eq!(e["error"]["code"], "request_timeout", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("server.body_timeout_ms")),
        "{e}"
    );
    assert!(
        waited >= Duration::from_millis(650) && waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    // The server is fine, and a complete request next to it is stored.
    let c = reqwest::blocking::Client::new();
    let r: Value = c
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(two_events("ok1", "ok2"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["accepted"], 2, "{r}");
    assert!(s.stop(), "graceful shutdown must exit 0");
    let mut ids = lake_event_ids(&data);
    ids.sort();
    assert_eq!(ids, vec!["ok1", "ok2"]);
}

#[test]
fn sigterm_with_a_stalled_upload_open_exits_promptly_and_finishes_uploads_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "k", &["ingest"], None);
    let port = free_port();
    // The body timeout is far longer than the test: shutdown must not wait for it.
    let mut s = Server::start(
        &data,
        port,
        &[("STOREPULSE_SERVER__BODY_TIMEOUT_MS", "120000")],
    );
    let stalled_body = two_events("stall1", "stall2");
    let mut stalled = open_upload(port, &key, &stalled_body, 20);
    // An upload that keeps sending, a few bytes every 100 ms, across the SIGTERM.
    let body = two_events("slow1", "slow2");
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let key2 = key.clone();
    let uploader = std::thread::spawn(move || {
        let mut t = open_upload(port, &key2, &body, 0);
        for (i, piece) in body.chunks(8).enumerate() {
            t.write_all(piece).unwrap();
            t.flush().unwrap();
            if i == 3 {
                sent_tx.send(()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        response(&mut t)
    });
    sent_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let exit = sigterm_and_wait(&mut s, Duration::from_secs(8));
    assert_eq!(
        exit,
        Some(true),
        "SIGTERM with a stalled connection open must exit 0 within 8 s"
    );
    let (status, e) = response(&mut stalled);
    assert_eq!(status, 503, "the stalled upload is refused: {e}");
    assert_eq!(e["error"]["code"], "shutting_down", "{e}");
    let (status, r) = uploader.join().unwrap();
    assert_eq!(status, 200, "the upload in progress completes: {r}");
    assert_eq!(r["accepted"], 2, "{r}");
    // Its acknowledged events were folded into the lake at shutdown; the stalled ones are not.
    let mut ids = lake_event_ids(&data);
    ids.sort();
    assert_eq!(ids, vec!["slow1", "slow2"]);
}
