//! Test harness: copies a fixture state dir to a temp dir, starts the real `clawmetry` binary on
//! port 0 against it, and talks HTTP to it with a tiny std-only client. Every test file starts
//! its servers here; browser.rs (Chromium) and monitor_support.rs (transcript rows, the alert
//! log) add only what is theirs.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The repository (`CARGO_MANIFEST_DIR`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

pub fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("tests/fixtures/expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// A fresh temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        // Time and a counter: two dirs made in the same instant by one process still differ.
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("clawmetry-test-{tag}-{}-{t}-{n}", std::process::id()));
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

/// A port that was free a moment ago (for a server that must come back on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
    /// What it printed so far, a line each.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The server's own data dir (history, settings, device key; its stderr), removed with it.
    /// A `--data-dir` in the arguments comes later and wins. Held for its `Drop`.
    _data_dir: TempDir,
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

/// Like [`start`] without `--no-auth`: the dashboard's auth applies (security.rs).
pub fn start_exact(args: &[&str]) -> Server {
    start_exact_env(args, &[])
}

/// Like [`start`] with extra environment variables (e.g. the HTTP limits of http_limits.rs).
pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut all = vec!["--no-auth"];
    all.extend_from_slice(args);
    start_exact_env(&all, env)
}

/// [`start_exact`] with extra environment variables.
pub fn start_exact_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    launch(&["--no-gateway"], args, env)
}

/// Like [`start`] with the gateway thread running (pass `--gateway-url` or an `--openclaw-dir`
/// whose config names the gateway).
pub fn start_with_gateway(args: &[&str]) -> Server {
    let mut all = vec!["--no-auth"];
    all.extend_from_slice(args);
    launch(&[], &all, &[])
}

/// Port 0 on loopback, its own data dir, a HOME without clawmetry or OpenClaw files, TZ=UTC, and
/// none of their variables from the caller's environment but `env`; then `first` and `args` (a later
/// `--port` or `--data-dir` wins). Returns once the index is ready.
fn launch(first: &[&str], args: &[&str], env: &[(&str, &str)]) -> Server {
    let data_dir = TempDir::new("data");
    let stderr_path = data_dir.path().join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["--port", "0", "--host", "127.0.0.1"])
        .args(["--data-dir", data_dir.path().to_str().unwrap()])
        .args(first)
        .args(args)
        .env("HOME", std::env::temp_dir().join("clawmetry-test-no-home"))
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_HOME")
        .env_remove("OPENCLAW_CONFIG_PATH")
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env_remove("OPENCLAW_GATEWAY_PORT")
        .env_remove("CLAWMETRY_TOKEN")
        .env_remove("CLAWMETRY_FLEET_KEY")
        // Days and months are the machine's zone's (tz.rs); the expectations of the tests are
        // UTC days unless a test names a zone (`--tz`, or TZ in `env`): the test clocks run
        // the suite in other zones too.
        .env("TZ", "UTC")
        .env_remove("TZDIR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start clawmetry");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = match lines.next() {
        Some(Ok(l)) => l,
        _ => panic!("clawmetry printed nothing; stderr: {}", std::fs::read_to_string(&stderr_path).unwrap_or_default()),
    };
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    // Keep draining stdout so the child never blocks on a full pipe; its lines are kept.
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(vec![first.clone()]));
    let kept = stdout.clone();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(l);
        }
    });
    let server = Server { child, port, stderr_path, stdout, _data_dir: data_dir };
    let t0 = Instant::now();
    loop {
        if let Ok((200, v)) = server.try_get_json("/api/health") {
            if v["index"]["ready"] == true {
                break;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "index not ready after 30 s; stderr:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// The one test HTTP client: an HTTP/1.0 request to the server on `port` (loopback), with
/// `Host: 127.0.0.1` unless `headers` name another, a `Content-Length` when there is a body;
/// (status, head, body). Long read timeout: a cron run through a real gateway takes seconds.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str("Host: 127.0.0.1\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // The server may answer (413) and close before reading all of a large body: an error
    // writing it, or a reset after the answer, is not the test's failure.
    let _ = s.write_all(body.unwrap_or_default());
    let mut buf = Vec::new();
    let read = s.read_to_end(&mut buf);
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        read?;
        return Err(std::io::Error::other(format!(
            "{method} {path}: no header end in {:?}",
            String::from_utf8_lossy(&buf)
        )));
    };
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("{method} {path}: no status in {head:?}")))?;
    Ok((status, head, buf[split + 4..].to_vec()))
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One request with extra headers and a body: (status, head, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<(u16, String, Vec<u8>)> {
        http_request(self.port, method, path, headers, body)
    }

    /// Raw GET: (status, headers, body).
    pub fn get_raw(&self, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
        self.request("GET", path, &[], None)
    }

    pub fn try_get_json(&self, path: &str) -> std::io::Result<(u16, Value)> {
        let (status, _, body) = self.get_raw(path)?;
        let v = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        Ok((status, v))
    }

    /// GET that must answer 200 with JSON.
    #[track_caller]
    pub fn get(&self, path: &str) -> Value {
        let (status, v) = self.try_get_json(path).unwrap();
        assert_eq!(status, 200, "{path}: {v}\nstderr: {}", self.stderr());
        v
    }

    /// GET that must fail with `status` and a JSON `{"error": ...}` body.
    pub fn get_error(&self, path: &str, status: u16) -> String {
        let (got, v) = self.try_get_json(path).unwrap();
        assert_eq!(got, status, "{path}: {v}");
        v["error"].as_str().unwrap_or_else(|| panic!("{path}: no error field in {v}")).to_string()
    }

    /// A request with a JSON body (or raw bytes that may not be JSON): (status, JSON answer;
    /// Null when the answer is not JSON).
    pub fn call_bytes(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
        let (status, _, answer) = self
            .request(method, path, &[("Content-Type", "application/json")], Some(body.unwrap_or_default()))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
    }

    /// [`Server::call_bytes`] with a JSON value.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_bytes(method, path, body.map(|b| b.to_string()).as_deref().map(str::as_bytes))
    }

    /// A request that must answer `want`; returns the JSON answer.
    #[track_caller]
    pub fn send(&self, method: &str, path: &str, body: &Value, want: u16) -> Value {
        let (st, v) = self.call(method, path, Some(body));
        assert_eq!(st, want, "{method} {path} {body}: {v}\nstderr: {}", self.stderr());
        v
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

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A header's value from a raw response head.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
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

/// The peak resident size (VmHWM) of a process, in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"));
    kb * 1024
}

/// Opens `/api/events` on the server and reads until its `hello`; returns the stream and what
/// was read so far.
pub fn open_events(port: u16) -> (std::net::TcpStream, String) {
    use std::io::{Read, Write};
    let mut sse = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(sse, "GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("event: hello") {
        let n = sse.read(&mut buf).expect("event stream");
        assert!(n > 0, "event stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    (sse, seen)
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a query string value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
