//! Test harness: copies a fixture state dir to a temp dir, starts the real `clawmetry` binary on
//! port 0 against it, and talks HTTP to it with a tiny std-only client.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("tests/fixtures/expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// A fresh temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("clawmetry-test-{tag}-{}-{n}", std::process::id()));
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

pub fn copy_dir(from: &Path, to: &Path) {
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

/// Copies `tests/fixtures/<name>` into a temp dir, replacing the `<lab>` placeholder in
/// openclaw.json with the copy's path. Returns (temp dir, state dir).
pub fn install_fixture(name: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(name);
    let root = tmp.path().join(name);
    copy_dir(&fixtures().join(name), &root);
    let cfg = root.join("home/openclaw.json");
    if let Ok(text) = std::fs::read_to_string(&cfg) {
        std::fs::write(&cfg, text.replace("<lab>", &root.display().to_string())).unwrap();
    }
    (tmp, root.join("home"))
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
    /// The server's own data dir (history, settings, device key), removed with it.
    pub data_dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on port 0 with `args` and `--no-auth` (the tests call from loopback) and
/// waits for its index to be ready.
pub fn start(args: &[&str]) -> Server {
    let mut all = vec!["--no-auth"];
    all.extend_from_slice(args);
    start_exact(&all)
}

/// Like [`start`] without `--no-auth`: the dashboard's auth applies (tests/security.rs).
pub fn start_exact(args: &[&str]) -> Server {
    start_exact_env(args, &[])
}

/// Like [`start`] with extra environment variables (e.g. the HTTP limits of tests/http_limits.rs).
pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut all = vec!["--no-auth"];
    all.extend_from_slice(args);
    start_exact_env(&all, env)
}

/// [`start_exact`] with extra environment variables.
pub fn start_exact_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    let stderr_path = std::env::temp_dir().join(format!(
        "clawmetry-test-stderr-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    let data_dir = TempDir::new("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["--port", "0", "--host", "127.0.0.1", "--no-gateway"])
        .args(["--data-dir", data_dir.path().to_str().unwrap()])
        .args(args)
        .env("HOME", std::env::temp_dir().join("clawmetry-test-no-home"))
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_HOME")
        .env_remove("CLAWMETRY_TOKEN")
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start clawmetry");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("clawmetry printed nothing").unwrap();
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let server = Server { child, port, stderr_path, data_dir };
    let t0 = Instant::now();
    loop {
        if let Ok((200, v)) = server.try_get_json("/api/health") {
            if v["index"]["ready"] == true {
                break;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "index not ready after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

impl Server {
    /// Raw GET: (status, headers, body).
    pub fn get_raw(&self, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
        let head = String::from_utf8_lossy(&buf[..split]).to_string();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        Ok((status, head, buf[split + 4..].to_vec()))
    }

    pub fn try_get_json(&self, path: &str) -> std::io::Result<(u16, Value)> {
        let (status, _, body) = self.get_raw(path)?;
        let v = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        Ok((status, v))
    }

    /// GET that must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        let (status, v) = self.try_get_json(path).unwrap();
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// GET that must fail with `status` and a JSON `{"error": ...}` body.
    pub fn get_error(&self, path: &str, status: u16) -> String {
        let (got, v) = self.try_get_json(path).unwrap();
        assert_eq!(got, status, "{path}: {v}");
        v["error"].as_str().unwrap_or_else(|| panic!("{path}: no error field in {v}")).to_string()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Polls `f` until it returns Some, up to `timeout`; returns the value and the time it took.
    #[track_caller]
    pub fn wait_for<T>(&self, timeout: Duration, mut f: impl FnMut(&Server) -> Option<T>) -> (T, Duration) {
        let t0 = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return (v, t0.elapsed());
            }
            assert!(t0.elapsed() < timeout, "condition not met within {timeout:?}; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

pub fn approx(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|x| (x - b).abs() < 1e-6)
}

/// Every file under `dir` with its size and modification time, to prove nothing was written.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, u64, std::time::SystemTime)>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk(&e.path(), out);
            } else {
                out.push((e.path(), m.len(), m.modified().unwrap()));
            }
        }
    }
    walk(dir, &mut out);
    out.sort();
    out
}
