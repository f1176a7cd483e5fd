//! Resource limits of the HTTP layer and path traversal (SECURITY.md, "Resource limits"): a full
//! handler queue, slow and stalled clients, oversized heads and bodies, request framing,
//! connection limits, running out of file descriptors, `..` in ids and file names, and symlinks
//! in the sessions dir.

use crate::common::{install_fixture, start, start_env, start_exact_env, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn status(resp: &str) -> u16 {
    resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A connection that sent the headers of a POST and part of its body, then stalls.
fn stalled_post(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n{{\"token\": \"half")
        .unwrap();
    s
}

fn read_all(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `bytes` on a fresh connection and reads until the server closes it.
fn exchange(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    read_all(s)
}

fn get_once(port: u16, path: &str) -> (String, Duration) {
    let t = Instant::now();
    let r = exchange(port, format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes());
    (r, t.elapsed())
}

fn legacy_server(env: &[(&str, &str)], extra: &[&str]) -> (TempDir, Server) {
    let (tmp, home) = install_fixture("legacy-2026.3");
    let mut args = vec!["--openclaw-dir", home.to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = start_env(&args, env);
    (tmp, server)
}

#[test]
fn a_full_queue_answers_503_with_retry_after_at_once() {
    // One handler thread, one place in the queue, and every handler takes 2 s: the first request
    // is handled, the second waits, the rest get 503 at once.
    let (_tmp, server) =
        legacy_server(&[("CLAWMETRY_MAX_QUEUED", "1"), ("CLAWMETRY_HANDLER_DELAY_MS", "2000")], &["--workers", "1"]);
    let port = server.port;
    let first = std::thread::spawn(move || get_once(port, "/api/overview"));
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..6).map(|_| std::thread::spawn(move || get_once(port, "/api/overview"))).collect();
    let answers: Vec<(String, Duration)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|(r, _)| status(r) == 503).collect();
    assert_eq!(busy.len(), 5, "{:?}", answers.iter().map(|(r, _)| status(r)).collect::<Vec<_>>());
    for (r, took) in &busy {
        assert!(*took < Duration::from_millis(1000), "a 503 took {took:?}");
        assert!(r.contains("Retry-After: 1"), "{r}");
        assert!(r.contains("\"error\":\"server busy"), "{r}");
    }
    // The one that could wait is served once the first is done.
    assert!(answers.iter().any(|(r, _)| status(r) == 200), "one queued request is served");
    assert_eq!(status(&first.join().unwrap().0), 200);
    assert!(t0.elapsed() < Duration::from_secs(8));
    assert_eq!(server.get("/api/health")["http"]["queueFullRejections"], 5);
}

#[test]
fn stalled_and_trickling_clients_get_408_while_others_are_served() {
    // Head and idle timeout 500 ms, body deadline 1.5 s.
    let (_tmp, server) = legacy_server(&[("CLAWMETRY_READ_TIMEOUT_MS", "500")], &["--workers", "1"]);
    let port = server.port;
    // A body that stops halfway: 408 once the body deadline has passed.
    let stalled = std::thread::spawn(move || {
        let t = Instant::now();
        (read_all(stalled_post(port, "/api/login")), t.elapsed())
    });
    // A head sent one byte every 100 ms: 408 once the head timeout has passed, however it trickles.
    let trickle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t = Instant::now();
        for b in b"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (read_all(s), t.elapsed())
    });
    // An idle connection that never sends anything: closed after the idle timeout, no answer.
    let idle = std::thread::spawn(move || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t = Instant::now();
        (read_all(s), t.elapsed())
    });
    // Meanwhile the one handler thread serves everyone else at once.
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..10 {
        let (r, took) = get_once(port, "/api/overview");
        assert_eq!(status(&r), 200, "{r}");
        assert!(took < Duration::from_millis(500), "a request took {took:?} beside slow clients");
    }
    let (r, took) = stalled.join().unwrap();
    assert_eq!(status(&r), 408, "{r}");
    assert!(r.contains("\"error\":\"request body not received in time\""), "{r}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(4), "{took:?}");
    let (r, took) = trickle.join().unwrap();
    assert_eq!(status(&r), 408, "{r}");
    assert!(r.contains("request head not received in time"), "{r}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (r, took) = idle.join().unwrap();
    assert_eq!(r, "");
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "{took:?}");
    let health = server.get("/api/health");
    assert_eq!(health["http"]["timedOutRequests"], 2, "{health}");
    assert_eq!(health["index"]["ready"], true);
}

#[test]
fn oversized_heads_and_bodies_are_refused_without_reading_them() {
    let (_tmp, server) = legacy_server(&[], &[]);
    let port = server.port;
    // A 100 KB header line: 431, the connection closed.
    let big = format!("GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let r = exchange(port, big.as_bytes());
    assert_eq!(status(&r), 431, "{}", &r[..r.len().min(300)]);
    assert!(r.contains("\"error\":\"request head over 65536 bytes\""), "{r}");
    // Many small headers.
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(200));
    assert_eq!(status(&exchange(port, many.as_bytes())), 431);
    // A 20 KB request target: 414.
    let long = format!("GET /api/sessions?q={} HTTP/1.1\r\n\r\n", "x".repeat(20_000));
    assert_eq!(status(&exchange(port, long.as_bytes())), 414);
    // A declared body of 100 TB: 413 at once; nothing of it is read or allocated.
    let t = Instant::now();
    let r = exchange(port, b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000000000\r\n\r\n");
    assert_eq!(status(&r), 413, "{r}");
    assert!(r.contains("request body over 16777216 bytes"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(2));
    let r = exchange(port, b"POST /api/login HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n");
    assert_eq!(status(&r), 413, "{r}");
    // A chunked body over the limit: 413 once the limit is passed.
    let mut chunked = b"POST /api/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("10000\r\n{}\r\n", "a".repeat(0x10000)).as_bytes());
    }
    assert_eq!(status(&exchange(port, &chunked)), 413);
    // Framing that could smuggle a request is refused.
    let r =
        exchange(port, b"POST /api/login HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(status(&r), 400, "{r}");
    let r = exchange(port, b"POST /api/login HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    assert_eq!(status(&r), 400, "{r}");
    assert_eq!(status(&exchange(port, b"GET / HTTP/2.0\r\n\r\n")), 505);
    assert_eq!(status(&exchange(port, b"GARBAGE\r\n\r\n")), 400);
    // The process is alive and serving.
    assert_eq!(server.get("/api/health")["index"]["ready"], true);
}

#[test]
fn keep_alive_pipelining_chunked_bodies_and_expect_continue_work() {
    let (_tmp, server) = legacy_server(&[], &["--token", "s3cret-token-for-tests"]);
    let port = server.port;
    // Two pipelined requests in one write, answered in order on one connection.
    let r = exchange(
        port,
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    let first = r.find("HTTP/1.1 200 OK").expect("first answer");
    let second = r.find("HTTP/1.1 404 Not Found").expect("second answer");
    assert!(first < second, "{r}");
    assert!(r[..second].contains("Connection: keep-alive"), "{r}");
    // A chunked login body is read whole: a wrong token is a 401, the right one sets the cookie.
    let login = |token: &str| {
        let body = format!("{{\"token\":\"{token}\"}}");
        let (a, b) = body.split_at(5);
        format!(
            "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\nTrailer: x\r\n\r\n",
            a.len(),
            b.len()
        )
    };
    let r = exchange(port, login("wrong").as_bytes());
    assert_eq!(status(&r), 401, "{r}");
    let r = exchange(port, login("s3cret-token-for-tests").as_bytes());
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.to_ascii_lowercase().contains("set-cookie:"), "{r}");
    // Expect: 100-continue gets the interim answer before the body is sent.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = "{\"token\":\"s3cret-token-for-tests\"}";
    write!(
        s,
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body.as_bytes()).unwrap();
    assert_eq!(status(&read_all(s)), 200);
}

#[test]
fn connection_limits_per_peer_answer_503_and_free_up() {
    let (_tmp, server) = legacy_server(&[("CLAWMETRY_MAX_CONNS_PER_PEER", "4")], &[]);
    let port = server.port;
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let (r, took) = get_once(port, "/api/overview");
    assert_eq!(status(&r), 503, "{r}");
    assert!(r.contains("too many connections"), "{r}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let (r, _) = get_once(port, "/api/overview");
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(server.get("/api/health")["http"]["refusedConnections"], 1);
}

#[test]
fn running_out_of_file_descriptors_does_not_stop_the_server() {
    let (_tmp, server) = legacy_server(&[], &[]);
    let port = server.port;
    // Lower the running server's descriptor limit, then open more connections than it allows:
    // accept() fails with EMFILE for a while, and the server must go on once they are closed.
    let pid = server.child.id().to_string();
    let out = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=64:64"])
        .output()
        .expect("prlimit (util-linux) is needed for this test");
    assert!(out.status.success(), "prlimit: {}", String::from_utf8_lossy(&out.stderr));
    let flood: Vec<TcpStream> = (0..150).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    drop(flood);
    let (_, took) = server.wait_for(Duration::from_secs(10), |s| {
        let (code, _) = s.try_get_json("/api/health").ok()?;
        (code == 200).then_some(())
    });
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(server.stderr().contains("accept: Too many open files"), "EMFILE was not reached: {}", server.stderr());
    assert!(server.get("/api/health")["http"]["acceptErrors"].as_u64().unwrap() > 0);
    assert!(server.get("/api/overview")["usage"]["total"]["calls"].as_u64().unwrap() > 0);
}

#[test]
fn bodies_are_read_only_for_authorised_requests_and_within_a_budget() {
    // With a token: an unauthorised POST is refused from its head alone, before its body.
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start_exact_env(&["--openclaw-dir", home.to_str().unwrap(), "--token", "body-gate-token"], &[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    s.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 512];
    let n = s.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert_eq!(status(&answer), 401, "{answer}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    drop(server);

    // One address holds at most a quarter of CLAWMETRY_BODY_BUDGET bytes of bodies (all
    // together at most the budget): a second large body while the first is still arriving gets
    // a 503; once it is done, there is room.
    let (_tmp2, server) = legacy_server(&[("CLAWMETRY_BODY_BUDGET", "4000000")], &[]);
    let port = server.port;
    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = format!("{{\"resourceSpans\":[]}}{}", " ".repeat(799_980));
    let head = |n: usize| {
        format!("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n")
    };
    first.write_all(head(body.len()).as_bytes()).unwrap();
    first.write_all(&body.as_bytes()[..1000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut req = head(body.len()).into_bytes();
    req.extend_from_slice(body.as_bytes());
    let r = exchange(port, &req);
    assert_eq!(status(&r), 503, "{}", &r[..r.len().min(300)]);
    assert!(r.contains("too many request bodies") && r.contains("Retry-After: 1"), "{r}");
    first.write_all(&body.as_bytes()[1000..]).unwrap();
    let r = read_all(first);
    assert_eq!(status(&r), 200, "{r}");
    let r = exchange(port, &req);
    assert_eq!(status(&r), 200, "{}", &r[..r.len().min(300)]);
}

#[test]
fn bodies_anyone_may_send_are_tiny_and_fleet_is_refused_when_off() {
    let (_tmp, server) = legacy_server(&[], &[]);
    let port = server.port;
    // 64 connections announcing 1 MiB logins cannot take the body budget: each is refused from
    // its head (413), at once, without the body being read.
    let t = Instant::now();
    for _ in 0..64 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{")
            .unwrap();
        let mut answer = [0u8; 512];
        let n = s.read(&mut answer).unwrap();
        assert_eq!(status(&String::from_utf8_lossy(&answer[..n])), 413);
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Fleet endpoints without fleet mode: 403 from the head, the body never read.
    for path in ["/api/nodes/register", "/api/nodes/report"] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n")
            .unwrap();
        let mut answer = [0u8; 512];
        let n = s.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert_eq!(status(&answer), 403, "{answer}");
        assert!(answer.contains("CLAWMETRY_FLEET_KEY"), "{answer}");
    }
    // Budget changes still go through.
    let r = exchange(port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status(&r), 200);
}

#[test]
fn chunked_trailers_are_capped() {
    let (_tmp, server) = legacy_server(&[], &[]);
    let mut req = b"POST /api/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n".to_vec();
    for _ in 0..100 {
        req.extend_from_slice(format!("X-T: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let r = exchange(server.port, &req);
    assert_eq!(status(&r), 431, "{r}");
    assert!(r.contains("chunked trailer over 65536 bytes"), "{r}");
    // Signs, spaces inside and codings other than chunked are refused.
    for (te_body, want) in [
        ("Transfer-Encoding: chunked\r\n\r\n+1\r\na\r\n0\r\n\r\n", 400),
        ("Transfer-Encoding: chunked\r\n\r\n 1\r\na\r\n0\r\n\r\n", 400),
        ("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ] {
        let r = exchange(server.port, format!("POST /api/login HTTP/1.1\r\n{te_body}").as_bytes());
        assert_eq!(status(&r), want, "{te_body:?}: {r}");
    }
    let r = exchange(server.port, b"POST /api/login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(status(&r), 400, "{r}");
}

#[test]
fn connection_threads_are_reused_across_connections() {
    let (_tmp, server) = legacy_server(&[], &[]);
    // The ids of the server's connection threads alive now.
    let conn_threads = || -> Vec<String> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", server.child.id())).unwrap();
        tasks
            .filter_map(|t| {
                let t = t.ok()?;
                let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
                (comm.trim() == "http-conn").then(|| t.file_name().to_string_lossy().into_owned())
            })
            .collect()
    };
    // 100 requests, each on a new connection (no keep-alive): the same connection thread takes
    // one after another instead of a thread being started for each.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let (r, _) = get_once(server.port, "/api/overview");
        assert_eq!(status(&r), 200);
        seen.extend(conn_threads());
    }
    assert!(!seen.is_empty() && seen.len() <= 3, "connection threads seen: {seen:?}");
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

#[test]
fn a_transcript_replaced_by_a_symlink_is_not_read() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let outside = TempDir::new("outside-replaced");
    let secret = outside.path().join("passwd");
    std::fs::write(
        &secret,
        "{\"type\":\"message\",\"id\":\"x\",\"timestamp\":\"2026-03-08T14:34:11.880Z\",\"message\":{\"role\":\"user\",\
         \"content\":[{\"type\":\"text\",\"text\":\"OUTSIDE-SECRET\"}]}}\nroot:x:0:0:root:/root:/bin/bash\n",
    )
    .unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    // An indexed session whose file is then swapped for a link to a file outside.
    let list = server.get("/api/sessions?limit=100&sort=cost");
    let id = list["sessions"][0]["id"].as_str().unwrap().to_string();
    let file = home.join("agents/main/sessions").join(format!("{id}.jsonl"));
    assert!(file.is_file(), "{file:?}");
    let before = server.get(&format!("/api/sessions/{id}"));
    let link = file.with_extension("link");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    std::fs::rename(&link, &file).unwrap();
    std::thread::sleep(Duration::from_millis(6000)); // a rescan, plus margin
    let (status, _, body) = server.get_raw(&format!("/api/transcript/{id}?limit=1000")).unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(!body.contains("OUTSIDE-SECRET") && !body.contains("root:x:0"), "{status} {body}");
    // What was counted stays counted; nothing from the link was added.
    let after = server.get(&format!("/api/sessions/{id}"));
    assert_eq!(after["events"], before["events"]);
    assert_eq!(after["cost"], before["cost"]);
}

#[test]
fn a_panicking_handler_costs_its_request_a_500_and_the_server_goes_on() {
    // One handler thread: had a panic ended it (or the process), nothing after it would be
    // answered. Run against the release binary too (`cargo test --release --test it
    // a_panicking_handler`): release builds unwind, and this is what that buys.
    let (_tmp, server) = legacy_server(&[("CLAWMETRY_TEST_HANDLER_PANIC", "1")], &["--workers", "1"]);
    for _ in 0..3 {
        let (r, _) = get_once(server.port, "/__test/panic");
        assert_eq!(status(&r), 500, "{r}");
        assert!(r.contains("\"error\":\"the request handler failed"), "{r}");
    }
    assert_eq!(server.get("/api/health")["http"]["handlerPanics"], 3);
    assert!(server.get("/api/overview")["sessions"]["total"].as_u64().is_some());
    assert!(server.stderr().contains("a deliberate test panic in a handler"), "{}", server.stderr());
    // Without the variable the path is an ordinary one (the web UI's page).
    let (_tmp2, plain) = legacy_server(&[], &[]);
    assert_eq!(status(&get_once(plain.port, "/__test/panic").0), 200);
    assert_eq!(plain.get("/api/health")["http"]["handlerPanics"], 0);
}
