//! `make bench`: generates OpenClaw-shaped corpora (10 MB, 200 MB, 1 GB by default, both
//! stores, seeded) with `clawmetry-corpus`, starts the release `clawmetry` against each, and
//! prints cold index throughput, peak RSS, p50/p99 latency of the main endpoints and
//! append-to-visible latency. It measures; it asserts nothing.
//!
//! `clawmetry-bench [--sizes 10,200,1024] [--data DIR] [--requests N]`

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    sizes: Vec<u64>,
    data: PathBuf,
    requests: usize,
}

fn parse_args() -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut a = Args { sizes: vec![10, 200, 1024], data: PathBuf::from("bench-data"), requests: 400 };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("sizes") => {
                let v = p.value().map_err(|e| e.to_string())?.into_string().map_err(|_| "bad --sizes")?;
                a.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("bad size {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            Long("data") => a.data = p.value().map_err(|e| e.to_string())?.into(),
            Long("requests") => {
                a.requests = p
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|_| "bad --requests")?
            }
            Long("help") | Short('h') => {
                println!("clawmetry-bench [--sizes 10,200,1024] [--data DIR] [--requests N]");
                std::process::exit(0);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(a)
}

fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    me.parent().expect("exe dir").join(name)
}

/// Generates the corpus once; returns its transcript bytes (JSONL + event_json).
fn corpus(dir: &Path, size_mb: u64) -> u64 {
    let stamp = dir.join(".corpus.json");
    if let Ok(t) = std::fs::read_to_string(&stamp) {
        if let Ok(v) = serde_json::from_str::<Value>(&t) {
            return v["bytes_jsonl"].as_u64().unwrap_or(0) + v["bytes_sqlite_events"].as_u64().unwrap_or(0);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let t0 = Instant::now();
    let out = Command::new(sibling("clawmetry-corpus"))
        .args(["--out", dir.to_str().unwrap(), "--size-mb", &size_mb.to_string(), "--seed", "42"])
        .output()
        .expect("run clawmetry-corpus (build it with cargo build --release --bins)");
    assert!(out.status.success(), "clawmetry-corpus failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").to_string();
    let v: Value = serde_json::from_str(&line).expect("corpus summary line");
    eprintln!("generated {} in {:.1}s: {line}", dir.display(), t0.elapsed().as_secs_f64());
    // The stamp lives outside the state dir's watched folders; clawmetry ignores dot files.
    std::fs::write(&stamp, &line).unwrap();
    v["bytes_jsonl"].as_u64().unwrap_or(0) + v["bytes_sqlite_events"].as_u64().unwrap_or(0)
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: b\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    let status =
        String::from_utf8_lossy(&buf[..split]).split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    (status, buf[split + 4..].to_vec())
}

fn get_json(port: u16, path: &str) -> Value {
    let (st, body) = get(port, path);
    assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn latency(port: u16, path: &str, n: usize) -> (f64, f64) {
    for _ in 0..5 {
        get(port, path);
    }
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let (st, _) = get(port, path);
        t.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(st, 200, "{path}");
    }
    (percentile(&mut t, 0.5), percentile(&mut t, 0.99))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("clawmetry-bench: {e}");
            std::process::exit(2);
        }
    };
    std::fs::create_dir_all(&args.data).unwrap();
    println!("| corpus | sessions | cold index | throughput | RSS indexed / peak | overview p50/p99 | sessions p50/p99 | usage p50/p99 | transcript page p50/p99 | append→visible p50/max |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &mb in &args.sizes {
        let dir = args.data.join(format!("corpus-{mb}mb"));
        let bytes = corpus(&dir, mb);
        let state = std::fs::canonicalize(&dir).unwrap();
        // Drop nothing from the page cache (we cannot as non-root everywhere): the corpus was
        // just written or read, so this measures parsing, not the disk.
        let t0 = Instant::now();
        let mut child = Command::new(sibling("clawmetry"))
            .args(["--port", "0", "--host", "127.0.0.1", "--no-gateway", "--openclaw-dir", state.to_str().unwrap()])
            // The corpus's openclaw.json has a gateway token; the bench asks from loopback.
            .arg("--no-auth")
            .args(["--data-dir", args.data.join("clawmetry-data").to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clawmetry (release)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        std::thread::spawn(move || for _ in lines {});
        let port: u16 = first.rsplit(':').next().unwrap().trim().parse().unwrap();
        let server = Server { child };
        let pid = server.child.id();
        let index_ms = loop {
            let h = get_json(port, "/api/health");
            if h["index"]["ready"] == true {
                break h["index"]["coldIndexMs"].as_u64().unwrap_or(0) as f64;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
        // Resident size once indexed (the watcher trims the heap right after the cold index).
        std::thread::sleep(Duration::from_millis(300));
        let rss_indexed = rss_kb(pid, "VmRSS:");
        let sessions = get_json(port, "/api/overview")["sessions"]["total"].as_u64().unwrap_or(0);
        let mbps = bytes as f64 / 1e6 / (index_ms / 1000.0);
        let list = get_json(port, "/api/sessions?sort=messages&limit=1");
        let big_id = list["sessions"][0]["id"].as_str().unwrap_or("").to_string();
        let ov = latency(port, "/api/overview", args.requests);
        let ss = latency(port, "/api/sessions?limit=50", args.requests);
        let us = latency(port, "/api/usage?from=2026-09-01&to=2026-11-02&step=day", args.requests);
        let tr = latency(port, &format!("/api/transcript/{big_id}?limit=100&offset=100"), args.requests / 4);
        // Append-to-visible on a JSONL file of its own.
        let sess_dir = state.join("agents/main/sessions");
        let id = format!("bench-{}", std::process::id());
        let file = sess_dir.join(format!("{id}.jsonl"));
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file).unwrap();
        let mut vis = Vec::new();
        for i in 0..30u64 {
            let line = "{\"type\":\"message\",\"timestamp\":\"2026-11-01T00:00:00.000Z\",\"message\":{\"role\":\"assistant\",\"content\":[],\"provider\":\"anthropic\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input\":1,\"output\":1}}}\n";
            let t0 = Instant::now();
            f.write_all(line.as_bytes()).unwrap();
            f.flush().unwrap();
            loop {
                let (st, body) = get(port, &format!("/api/sessions/{id}"));
                if st == 200 {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    if v["events"].as_u64() == Some(i + 1) {
                        break;
                    }
                }
                assert!(t0.elapsed() < Duration::from_secs(10), "append not visible");
            }
            vis.push(t0.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(Duration::from_millis(20));
        }
        let vis_max = vis.iter().cloned().fold(0.0, f64::max);
        let vis_p50 = percentile(&mut vis, 0.5);
        drop(f);
        let _ = std::fs::remove_file(&file);
        let hwm = rss_kb(pid, "VmHWM:");
        println!(
            "| {:.0} MB | {sessions} | {:.2} s (wall {:.2} s) | {mbps:.0} MB/s | {:.1} MB / {:.1} MB | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.1}/{:.1} ms |",
            bytes as f64 / 1e6,
            index_ms / 1000.0,
            wall_ms / 1000.0,
            rss_indexed as f64 / 1024.0,
            hwm as f64 / 1024.0,
            ov.0, ov.1, ss.0, ss.1, us.0, us.1, tr.0, tr.1, vis_p50, vis_max
        );
        drop(server);
    }
    println!(
        "(latency is per request over a fresh loopback TCP connection, {} requests each; RSS: VmRSS once indexed / VmHWM at the end)",
        args.requests
    );
}
