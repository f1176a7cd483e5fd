//! Resource limits of the HTTP layer and path traversal (SECURITY.md, "Resource limits"): a full
//! handler queue, `..` in ids and file names, and symlinks in the sessions dir.

mod common;

use common::{install_fixture, start, start_env, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn status(resp: &str) -> u16 {
    resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A connection that sent the headers of a POST and part of its body, then stalls.
fn stalled_post(server: &Server, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"token\": \"half")
        .unwrap();
    s
}

fn read_all(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_full_queue_answers_503_with_retry_after_at_once() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start_env(
        &["--openclaw-dir", home.to_str().unwrap(), "--workers", "1"],
        &[("CLAWMETRY_READ_TIMEOUT_MS", "3000"), ("CLAWMETRY_MAX_QUEUED", "1")],
    );
    // The worker is stuck on a stalled body; one request may wait, the rest get 503 at once.
    // (tiny_http 0.12 sets no read timeout, so the worker is free only when the client goes:
    // SECURITY.md, "Not protected (yet)".)
    let stalled = stalled_post(&server, "/api/login");
    std::thread::sleep(Duration::from_millis(200));
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(stalled);
    });
    let port = server.port;
    let t0 = Instant::now();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s.write_all(b"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
                let t = Instant::now();
                let r = read_all(s);
                (r, t.elapsed())
            })
        })
        .collect();
    let answers: Vec<(String, Duration)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|(r, _)| status(r) == 503).collect();
    assert!(busy.len() >= 4, "expected 503s: {:?}", answers.iter().map(|(r, _)| status(r)).collect::<Vec<_>>());
    for (r, took) in &busy {
        assert!(*took < Duration::from_millis(1500), "a 503 took {took:?}");
        assert!(r.contains("Retry-After: 1"), "{r}");
        assert!(r.contains("\"error\":\"server busy"), "{r}");
    }
    // The one that could wait is served once the stalled client is gone.
    closer.join().unwrap();
    assert!(answers.iter().any(|(r, _)| status(r) == 200), "one queued request is served");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(server.get("/api/health")["index"]["ready"], true);
}

#[test]
fn path_traversal_never_reaches_the_file_system() {
    let (tmp, home) = install_fixture("legacy-2026.3");
    // A secret next to the OpenClaw dir, and one inside it that no endpoint lists.
    std::fs::write(tmp.path().join("secret.txt"), "TOPSECRET-outside").unwrap();
    std::fs::write(home.join("secret.md"), "TOPSECRET-inside").unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let secret = tmp.path().join("secret.txt");
    let abs = secret.to_str().unwrap();
    let abs_enc = abs.replace('/', "%2F");
    let paths = [
        "/api/transcript/..%2F..%2Fsecret.txt".to_string(),
        "/api/transcript/%2e%2e%2f%2e%2e%2fsecret.txt".to_string(),
        "/api/transcript/../../secret.txt".to_string(),
        format!("/api/transcript/{abs_enc}"),
        "/api/sessions/..%2F..%2Fsecret.txt".to_string(),
        "/api/timeline?session=..%2F..%2Fsecret.txt".to_string(),
        format!("/api/timeline?session={abs_enc}"),
        "/api/memory?file=../secret.md".to_string(),
        "/api/memory?file=..%2F..%2Fsecret.txt".to_string(),
        "/api/memory?file=%2e%2e%2fsecret.md".to_string(),
        format!("/api/memory?file={abs_enc}"),
        "/api/memory?agent=..&file=secret.md".to_string(),
        "/../../secret.txt".to_string(),
        "/%2e%2e/%2e%2e/secret.txt".to_string(),
        "/static/..%2F..%2FCargo.toml".to_string(),
        "/js/../../Cargo.toml".to_string(),
        format!("/{abs}"),
        format!("/{abs_enc}"),
    ];
    for p in &paths {
        let (status, _, body) = server.get_raw(p).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("TOPSECRET"), "{p}: {status} leaked: {body}");
        assert!(!body.contains("[package]"), "{p}: {status} leaked Cargo.toml");
        assert!(status == 404 || status == 400 || (status == 200 && body.contains("<html")), "{p}: {status} {body}");
    }
}

#[test]
fn the_watcher_does_not_follow_symlinks_out_of_the_openclaw_dir() {
    let (tmp, home) = install_fixture("legacy-2026.3");
    let outside = TempDir::new("outside");
    let id = "5eeeeeee-0000-4000-8000-00000000dead";
    let line = |t: &str| {
        format!(
            "{{\"type\":\"session\",\"version\":3,\"id\":\"{id}\",\"timestamp\":\"{t}\",\"cwd\":\"/tmp\"}}\n\
             {{\"type\":\"message\",\"id\":\"m1\",\"parentId\":null,\"timestamp\":\"{t}\",\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"text\",\"text\":\"SYMLINKED-SECRET\"}}]}}}}\n"
        )
    };
    let target = outside.path().join("victim.jsonl");
    std::fs::write(&target, line("2026-03-08T14:34:11.880Z")).unwrap();
    let sessions = home.join("agents/main/sessions");
    // One link present at start (cold index), one made while running (inotify).
    std::os::unix::fs::symlink(&target, sessions.join(format!("{id}.jsonl"))).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let id2 = "5eeeeeee-0000-4000-8000-00000000beef";
    std::os::unix::fs::symlink(&target, sessions.join(format!("{id2}.jsonl"))).unwrap();
    // A symlinked agent dir pointing outside too.
    std::os::unix::fs::symlink(outside.path(), home.join("agents/evil")).unwrap();
    std::fs::create_dir_all(outside.path().join("sessions")).unwrap();
    std::fs::write(
        outside.path().join("sessions/5eeeeeee-0000-4000-8000-00000000f00d.jsonl"),
        line("2026-03-08T14:35:00.000Z"),
    )
    .unwrap();
    // A control: the same content as a regular file is indexed. Then give the watcher a rescan
    // (every 5 s) plus margin and check that none of the links came in.
    let control = "5eeeeeee-0000-4000-8000-00000000c0de";
    std::fs::write(sessions.join(format!("{control}.jsonl")), line("2026-03-08T14:36:00.000Z").replace(id, control))
        .unwrap();
    server.wait_for(Duration::from_secs(10), |s| {
        s.get("/api/sessions?limit=1000").to_string().contains(control).then_some(())
    });
    std::thread::sleep(Duration::from_millis(6000));
    let v = server.get("/api/sessions?limit=1000");
    let text = v.to_string();
    for bad in [id, id2, "00000000f00d"] {
        assert!(!text.contains(bad), "symlinked session {bad} was indexed");
    }
    let (status, _, body) = server.get_raw(&format!("/api/transcript/{id}")).unwrap();
    assert_eq!(status, 404);
    assert!(!String::from_utf8_lossy(&body).contains("SYMLINKED-SECRET"));
    drop(tmp);
}
