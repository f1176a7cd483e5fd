//! Helpers for the monitor tests (tests/monitor_*.rs): a temp copy of a fixture, the real
//! binary on port 0 with its own data dir, a tiny HTTP client with bodies, and a child handle
//! that can be killed with SIGKILL. Copied from tests/common/mod.rs and extended, so that file
//! stays the other tests'.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 2026-11-24T22:00:00Z: the evening of the lab fixture's day (all of its usage, $0.5966346,
/// was spent 21:06-21:07 that day).
pub const LAB_EVENING_MS: i64 = 1_795_557_600_000;
pub const LAB_COST: f64 = 0.5966346;

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("clawmetry-mon-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A temp copy of tests/fixtures/lab-2026.9: (temp dir, OpenClaw state dir, data dir).
pub fn lab() -> (TempDir, PathBuf, PathBuf) {
    let tmp = TempDir::new("lab");
    let root = tmp.path().join("lab-2026.9");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab-2026.9"), &root);
    let cfg = root.join("home/openclaw.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("<lab>", &root.display().to_string())).unwrap();
    let data = tmp.path().join("data");
    (tmp, root.join("home"), data)
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// Starts the binary (port 0, loopback, no gateway, a HOME without clawmetry files) and waits
/// until its index is ready.
pub fn start(args: &[&str]) -> Server {
    start_opts(args, false)
}

/// Like [`start`]; with `gateway` the gateway thread runs (pass `--gateway-url`).
pub fn start_opts(args: &[&str], gateway: bool) -> Server {
    let stderr_path = std::env::temp_dir().join(format!(
        "clawmetry-mon-stderr-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["--port", "0", "--host", "127.0.0.1", "--no-auth"])
        .args(if gateway { &[][..] } else { &["--no-gateway"][..] })
        .args(args)
        .env("HOME", std::env::temp_dir().join("clawmetry-mon-no-home"))
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_HOME")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start clawmetry");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("clawmetry printed nothing").unwrap();
    let port: u16 = first.rsplit(':').next().and_then(|p| p.trim().parse().ok()).expect("port in the first line");
    std::thread::spawn(move || for _ in lines {});
    let server = Server { child, port, stderr_path };
    server.wait_for(Duration::from_secs(30), |s| {
        let (st, v) = s.call("GET", "/api/health", None);
        (st == 200 && v["index"]["ready"] == true).then_some(())
    });
    server
}

impl Server {
    /// One request: (status, JSON body; Null when the body is not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let b = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
        let head = String::from_utf8_lossy(&buf[..split]).to_string();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        (status, serde_json::from_slice(&buf[split + 4..]).unwrap_or(Value::Null))
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Value {
        let (st, v) = self.call("GET", path, None);
        assert_eq!(st, 200, "GET {path}: {v}\nstderr: {}", self.stderr());
        v
    }

    #[track_caller]
    pub fn send(&self, method: &str, path: &str, body: &Value, want: u16) -> Value {
        let (st, v) = self.call(method, path, Some(body));
        assert_eq!(st, want, "{method} {path} {body}: {v}\nstderr: {}", self.stderr());
        v
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Polls `f` every 20 ms until it returns Some.
    #[track_caller]
    pub fn wait_for<T>(&self, timeout: Duration, mut f: impl FnMut(&Server) -> Option<T>) -> T {
        let t0 = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(t0.elapsed() < timeout, "condition not met within {timeout:?}; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The alert log, oldest first.
    pub fn alerts(&self) -> Vec<Value> {
        let mut v = self.get("/api/alerts?limit=1000")["alerts"].as_array().unwrap().clone();
        v.reverse();
        v
    }

    pub fn alerts_of(&self, kind: &str) -> Vec<Value> {
        self.alerts().into_iter().filter(|a| a["kind"] == kind).collect()
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// An assistant transcript line as OpenClaw writes it, with its own cost.
pub fn assistant_line(n: u64, iso: &str, input: u64, cost: f64) -> String {
    format!(
        r#"{{"type":"message","id":"mon{n}","parentId":null,"timestamp":"{iso}","message":{{"role":"assistant","content":[{{"type":"text","text":"turn {n}"}}],"provider":"fakellm","model":"fake-model","usage":{{"input":{input},"output":10,"cacheRead":0,"cacheWrite":0,"totalTokens":{},"cost":{{"total":{cost}}}}},"stopReason":"stop"}}}}"#,
        input + 10
    )
}

/// Appends a transcript row to an existing session of the main agent's database.
pub fn insert_row(home: &Path, session: &str, seq: i64, line: &str, created_ms: i64) {
    let db = rusqlite::Connection::open(home.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute(
        "INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![session, seq, line, created_ms],
    )
    .unwrap();
}

/// The main session of the lab fixture, and its next free seq.
pub const MAIN_SESSION: &str = "bdfa3cc5-508a-4896-9c98-ae502491d01e";

pub fn next_seq(home: &Path, session: &str) -> i64 {
    let db = rusqlite::Connection::open(home.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    db.query_row("SELECT COALESCE(MAX(seq), -1) + 1 FROM transcript_events WHERE session_id = ?1", [session], |r| {
        r.get(0)
    })
    .unwrap()
}

pub fn approx(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}
