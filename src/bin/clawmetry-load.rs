//! Load test client (`make load`): sends a mix of API calls (overview, sessions, usage, a
//! transcript page, health) at a fixed rate from a few threads over keep-alive loopback
//! connections, while another thread appends transcript lines to a JSONL file, then reports
//! errors, latency percentiles and the server's RSS at start, middle and end.
//!
//! It starts nothing itself: give it a running clawmetry's URL (and token unless the server runs
//! with `--no-auth`) and its pid.
//!
//! ```text
//! clawmetry-load --url http://127.0.0.1:8900 [--token T] [--rate 1000] [--secs 60]
//!                [--threads 4] [--append <sessions-dir>/<id>.jsonl] [--pid <server pid>]
//! ```

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    host: String,
    port: u16,
    token: Option<String>,
    rate: u64,
    secs: u64,
    threads: u64,
    append: Option<std::path::PathBuf>,
    pid: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: clawmetry-load --url http://127.0.0.1:8900 [--token T] [--rate 1000] [--secs 60] \
         [--threads 4] [--append FILE.jsonl] [--pid PID]"
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 8900,
        token: std::env::var("CLAWMETRY_TOKEN").ok().filter(|t| !t.is_empty()),
        rate: 1000,
        secs: 60,
        threads: 4,
        append: None,
        pid: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = || args.get(i + 1).cloned().unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--url" => {
                let u = val();
                let rest = u.strip_prefix("http://").unwrap_or_else(|| usage());
                let hostport = rest.split('/').next().unwrap_or("");
                let (h, p) = hostport.rsplit_once(':').unwrap_or((hostport, "80"));
                o.host = h.to_string();
                o.port = p.parse().unwrap_or_else(|_| usage());
            }
            "--token" => o.token = Some(val()),
            "--rate" => o.rate = val().parse().unwrap_or_else(|_| usage()),
            "--secs" => o.secs = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => o.threads = val().parse().unwrap_or_else(|_| usage()),
            "--append" => o.append = Some(val().into()),
            "--pid" => o.pid = Some(val().parse().unwrap_or_else(|_| usage())),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
        i += 2;
    }
    if o.rate == 0 || o.secs == 0 || o.threads == 0 || o.host.is_empty() {
        usage()
    }
    if !matches!(o.host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        eprintln!("clawmetry-load: loopback only (got {})", o.host);
        std::process::exit(2)
    }
    o
}

/// One keep-alive HTTP/1.1 connection; reconnects after an error.
struct Conn {
    host: String,
    port: u16,
    token: Option<String>,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect((self.host.as_str(), self.port)).map_err(|e| format!("connect: {e}"))?;
                s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                s.set_nodelay(true).ok();
                self.stream = Some(BufReader::new(s));
            }
            match self.try_get(path) {
                Ok(r) => return Ok(r),
                // A keep-alive connection the server closed (read timeout): retry once, fresh.
                Err(e) => {
                    self.stream = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        unreachable!()
    }

    fn try_get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let r = self.stream.as_mut().unwrap();
        let auth = self.token.as_ref().map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!("GET {path} HTTP/1.1\r\nHost: {}:{}\r\n{auth}\r\n", self.host, self.port);
        r.get_mut().write_all(head.as_bytes()).map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status line")?;
        let mut len = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            line.clear();
            r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                close = true;
            }
        }
        let mut body = Vec::new();
        // Chunked bodies are understood too, though the server sends Content-Length.
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line).map_err(|e| format!("chunk: {e}"))?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                let at = body.len();
                body.resize(at + size, 0);
                r.read_exact(&mut body[at..]).map_err(|e| format!("chunk: {e}"))?;
                line.clear();
                r.read_line(&mut line).map_err(|e| format!("chunk: {e}"))?;
                if size == 0 {
                    break;
                }
            }
        } else {
            match len {
                Some(n) => {
                    body.resize(n, 0);
                    r.read_exact(&mut body).map_err(|e| format!("body: {e}"))?;
                }
                None => {
                    r.read_to_end(&mut body).map_err(|e| format!("body: {e}"))?;
                    close = true;
                }
            }
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

fn rss_kb(pid: Option<u32>) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    text.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let o = parse_args();
    let mut probe = Conn { host: o.host.clone(), port: o.port, token: o.token.clone(), stream: None };
    // Wait (up to 120 s) for the server to answer and finish its cold index.
    let w0 = Instant::now();
    loop {
        let ready = probe.get("/api/health").ok().and_then(|(_, b)| serde_json::from_slice::<Value>(&b).ok());
        if ready.is_some_and(|v| v["index"]["ready"] == true) {
            break;
        }
        if w0.elapsed() > Duration::from_secs(120) {
            eprintln!("clawmetry-load: {}:{} not ready after 120 s", o.host, o.port);
            std::process::exit(1)
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A session with a transcript for the transcript pages.
    let session = match probe.get("/api/sessions?limit=20&sort=messages") {
        Ok((200, body)) => serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            v["sessions"].as_array().and_then(|a| a.first()).and_then(|s| s["id"].as_str().map(String::from))
        }),
        Ok((st, body)) => {
            eprintln!("clawmetry-load: /api/sessions answered {st}: {}", String::from_utf8_lossy(&body));
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("clawmetry-load: cannot reach {}:{}: {e}", o.host, o.port);
            std::process::exit(1)
        }
    };
    let transcript = session.map(|id| format!("/api/transcript/{id}?limit=50")).unwrap_or("/api/health".into());
    let mix: Arc<Vec<(&'static str, String)>> = Arc::new(vec![
        ("overview", "/api/overview".into()),
        ("sessions", "/api/sessions?limit=50".into()),
        ("usage", "/api/usage".into()),
        ("transcript", transcript),
        ("health", "/api/health".into()),
        ("overview", "/api/overview".into()),
        ("sessions", "/api/sessions?limit=50&sort=cost".into()),
        ("health", "/api/health".into()),
    ]);

    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let appender = o.append.clone().map(|path| {
        let stop = stop.clone();
        let appended = appended.clone();
        std::thread::spawn(move || {
            let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("load").to_string();
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open --append file");
            if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                writeln!(f, r#"{{"type":"session","version":3,"id":"{id}","timestamp":"2026-11-25T10:00:00.000Z","cwd":"/load"}}"#).ok();
            }
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let line = json!({"type": "message", "id": format!("load{n}"), "parentId": null,
                    "timestamp": "2026-11-25T10:00:01.000Z",
                    "message": {"role": "assistant", "content": [{"type": "text", "text": format!("load line {n}")}],
                        "provider": "anthropic", "model": "claude-sonnet-4-5",
                        "usage": {"input": 100, "output": 10, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 110,
                            "cost": {"total": 0.001}}, "stopReason": "stop"}});
                if writeln!(f, "{line}").is_ok() {
                    appended.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    });

    let rss_start = rss_kb(o.pid);
    let t0 = Instant::now();
    let total = o.rate * o.secs;
    let per_thread = total / o.threads;
    let interval = Duration::from_secs_f64(o.threads as f64 / o.rate as f64);
    let workers: Vec<_> = (0..o.threads)
        .map(|w| {
            let mix = mix.clone();
            let mut conn = Conn { host: o.host.clone(), port: o.port, token: o.token.clone(), stream: None };
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_thread as usize);
                let mut errors: Vec<String> = Vec::new();
                let mut n_errors = 0u64;
                let mut by_kind: std::collections::BTreeMap<&'static str, Vec<u64>> = Default::default();
                // Threads start staggered within one interval.
                let start = t0 + interval.mul_f64(w as f64 / o.threads as f64);
                for i in 0..per_thread {
                    let due = start + interval * i as u32;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let (kind, path) = &mix[(i as usize * 7 + w as usize) % mix.len()];
                    let t = Instant::now();
                    let r = conn.get(path);
                    let us = t.elapsed().as_micros() as u64;
                    lat.push(us);
                    by_kind.entry(kind).or_default().push(us);
                    match r {
                        Ok((200 | 304, _)) => {}
                        Ok((st, body)) => {
                            n_errors += 1;
                            if errors.len() < 5 {
                                errors.push(format!("{path}: {st} {}", String::from_utf8_lossy(&body)));
                            }
                        }
                        Err(e) => {
                            n_errors += 1;
                            if errors.len() < 5 {
                                errors.push(format!("{path}: {e}"));
                            }
                        }
                    }
                }
                (lat, by_kind, n_errors, errors)
            })
        })
        .collect();
    // RSS in the middle.
    std::thread::sleep(Duration::from_secs(o.secs) / 2);
    let rss_mid = rss_kb(o.pid);
    let mut lat = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&'static str, Vec<u64>> = Default::default();
    let mut n_errors = 0;
    let mut errors = Vec::new();
    for w in workers {
        let (l, k, n, e) = w.join().unwrap();
        lat.extend(l);
        for (kind, v) in k {
            by_kind.entry(kind).or_default().extend(v);
        }
        n_errors += n;
        errors.extend(e);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(a) = appender {
        a.join().ok();
    }
    let rss_end = rss_kb(o.pid);
    lat.sort_unstable();
    let kinds: serde_json::Map<String, Value> = by_kind
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            (k.to_string(), json!({"n": v.len(), "p50Ms": pct(&v, 0.5), "p99Ms": pct(&v, 0.99), "maxMs": pct(&v, 1.0)}))
        })
        .collect();
    let report = json!({
        "requests": lat.len(), "errors": n_errors, "seconds": (elapsed * 10.0).round() / 10.0,
        "ratePerSec": (lat.len() as f64 / elapsed).round(),
        "p50Ms": pct(&lat, 0.5), "p99Ms": pct(&lat, 0.99), "maxMs": pct(&lat, 1.0),
        "byEndpoint": kinds, "appendedLines": appended.load(Ordering::Relaxed),
        "rssKb": {"start": rss_start, "middle": rss_mid, "end": rss_end},
        "firstErrors": errors,
    });
    println!(
        "requests {} in {:.1} s ({:.0}/s), errors {}, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         appended {} lines; server RSS start/middle/end {} / {} / {} kB",
        lat.len(),
        elapsed,
        lat.len() as f64 / elapsed,
        n_errors,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0),
        appended.load(Ordering::Relaxed),
        rss_start.map_or("?".into(), |v| v.to_string()),
        rss_mid.map_or("?".into(), |v| v.to_string()),
        rss_end.map_or("?".into(), |v| v.to_string()),
    );
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if n_errors > 0 {
        std::process::exit(1);
    }
}
