//! Helpers for the web UI tests: headless Chromium driven over the DevTools protocol on
//! `--remote-debugging-pipe` (NUL-separated JSON on fds 3 and 4), with std and serde_json only.
//! The server, fixtures and temp dirs are common.rs's.

use crate::common::{root, TempDir};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lab data's "now" for the tests: 2026-11-25 09:46 UTC, about 13 h after the lab ran.
pub const LAB_NOW_MS: &str = "1795600000000";

/// `target/screenshots`, created on demand.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let dir = if target.is_absolute() { target } else { root().join(target) }.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- Chromium over the DevTools protocol ------------------------------------------------------

extern "C" {
    fn dup2(old: i32, new: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn close(fd: i32) -> i32;
}
const F_DUPFD: i32 = 0;

/// The Chromium binary: `$CLAWMETRY_CHROMIUM`, else the first of chromium, chromium-browser,
/// google-chrome on `PATH`. Panics with what to do when there is none: the browser tests must
/// fail, never skip, on a machine without a browser.
pub fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CLAWMETRY_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "the web UI tests need headless Chromium and none was found on PATH (looked for chromium, \
         chromium-browser, google-chrome). Install it with `apt-get install -y --no-install-recommends \
         chromium` (Debian/Ubuntu) or point CLAWMETRY_CHROMIUM at the binary."
    );
}

#[derive(Default)]
struct Inbox {
    responses: HashMap<u64, Value>,
    /// Every event, in order; pages read their own (by session id).
    events: Vec<Value>,
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    cond: Condvar,
}

pub struct Chrome {
    child: Child,
    writer: Mutex<UnixStream>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    /// Chromium's profile and stderr, removed after the browser (held for its `Drop`).
    _profile: TempDir,
    stderr_path: PathBuf,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Chrome {
    pub fn launch() -> Chrome {
        let bin = chromium_path();
        let profile = TempDir::new("chromium-profile");
        let stderr_path = profile.path().join("chromium-stderr.txt");
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let their_fd = theirs.as_raw_fd();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--mute-audio",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().join("data").display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        // Under `make test-clocks` (tests/clock/run) the tests and the server run on a shifted
        // clock through libfaketime; Chromium hangs under it, so it keeps the real clock (and
        // TZ): a browser whose clock differs from the server's, which the UI must cope with.
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME");
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2, close) are made.
        // The socket is first copied above fd 10 so that dup2 onto 3 and 4 never meets itself
        // (and the copies lose close-on-exec, which Chromium needs).
        unsafe {
            cmd.pre_exec(move || {
                let high = fcntl(their_fd, F_DUPFD, 10);
                if high < 0 || dup2(high, 3) < 0 || dup2(high, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                close(high);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}); is Chromium installed and working?", bin.display()));
        drop(theirs);
        let shared = Arc::new(Shared { inbox: Mutex::new(Inbox::default()), cond: Condvar::new() });
        let reader = ours.try_clone().unwrap();
        let sh = shared.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        let Ok(v) = serde_json::from_slice::<Value>(&buf) else { continue };
                        let mut g = sh.inbox.lock().unwrap();
                        match v["id"].as_u64() {
                            Some(id) => {
                                g.responses.insert(id, v);
                            }
                            None => g.events.push(v),
                        }
                        drop(g);
                        sh.cond.notify_all();
                    }
                }
            }
            sh.inbox.lock().unwrap().closed = true;
            sh.cond.notify_all();
        });
        let chrome = Chrome {
            child,
            writer: Mutex::new(ours),
            shared,
            next_id: AtomicU64::new(1),
            _profile: profile,
            stderr_path,
        };
        chrome
            .call(None, "Browser.getVersion", json!({}))
            .unwrap_or_else(|e| panic!("Chromium did not answer over the DevTools pipe: {e}\n{}", chrome.stderr()));
        chrome
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// One DevTools command; `session` targets a page. Err carries the protocol's error.
    pub fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.writer.lock().unwrap().write_all(&bytes).map_err(|e| format!("{method}: write to Chromium: {e}"))?;
        let t0 = Instant::now();
        let mut g = self.shared.inbox.lock().unwrap();
        loop {
            if let Some(v) = g.responses.remove(&id) {
                return match v.get("error") {
                    Some(e) => Err(format!("{method}: {e}")),
                    None => Ok(v["result"].clone()),
                };
            }
            if g.closed {
                return Err(format!("{method}: Chromium closed the pipe"));
            }
            let left = CALL_TIMEOUT.checked_sub(t0.elapsed()).ok_or_else(|| format!("{method}: no answer in 30 s"))?;
            g = self.shared.cond.wait_timeout(g, left).unwrap().0;
        }
    }

    /// A new tab, attached in flattened mode, with the domains the tests read enabled.
    pub fn page(&self) -> Page<'_> {
        // Each page in its own window, so that every page is visible (the app defers updates in
        // hidden tabs until they are shown again).
        let t = self.call(None, "Target.createTarget", json!({"url": "about:blank", "newWindow": true})).unwrap();
        let target = t["targetId"].as_str().unwrap().to_string();
        let a = self.call(None, "Target.attachToTarget", json!({"targetId": target, "flatten": true})).unwrap();
        let session = a["sessionId"].as_str().unwrap().to_string();
        let p = Page { chrome: self, session };
        for m in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] {
            p.cmd(m, json!({}));
        }
        p
    }

    /// Lets downloads land in `dir`.
    pub fn allow_downloads(&self, dir: &Path) {
        self.call(
            None,
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string(), "eventsEnabled": true}),
        )
        .unwrap();
    }

    /// Waits for a download begun after `from` events to complete and returns its file. Chromium
    /// makes an empty file under the final name before it writes the bytes (to a `.crdownload`
    /// beside it), so a file of that name appearing does not mean the download is done; the
    /// browser's `Browser.downloadProgress` event with state "completed" does.
    pub fn wait_download(&self, from: usize, dir: &Path, timeout: Duration) -> PathBuf {
        let t0 = Instant::now();
        let mut g = self.shared.inbox.lock().unwrap();
        let guid = loop {
            let events = &g.events[from.min(g.events.len())..];
            if let Some(e) = events.iter().find(|e| {
                e["method"] == "Browser.downloadProgress"
                    && matches!(e["params"]["state"].as_str(), Some("completed" | "canceled"))
            }) {
                assert_eq!(e["params"]["state"], "completed", "the download was cancelled: {e}");
                break e["params"]["guid"].as_str().unwrap_or_default().to_string();
            }
            let left = timeout.checked_sub(t0.elapsed()).unwrap_or_else(|| {
                panic!(
                    "no download completed within {timeout:?}; files: {:?}",
                    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                )
            });
            g = self.shared.cond.wait_timeout(g, left).unwrap().0;
        };
        let begun = g.events[from.min(g.events.len())..]
            .iter()
            .find(|e| e["method"] == "Browser.downloadWillBegin" && e["params"]["guid"] == guid.as_str())
            .unwrap_or_else(|| panic!("a download {guid} completed that never began"))
            .clone();
        drop(g);
        let name = begun["params"]["suggestedFilename"].as_str().expect("a suggested file name");
        dir.join(name)
    }

    /// How many events the browser has sent so far (a mark for `wait_download`).
    pub fn event_count(&self) -> usize {
        self.shared.inbox.lock().unwrap().events.len()
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.writer.lock().map(|mut w| {
            let _ = w.write_all(b"{\"id\":999999999,\"method\":\"Browser.close\",\"params\":{}}\0");
        });
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Page<'a> {
    pub chrome: &'a Chrome,
    pub session: String,
}

impl Page<'_> {
    pub fn cmd(&self, method: &str, params: Value) -> Value {
        self.chrome.call(Some(&self.session), method, params).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Navigates and waits for the load event.
    pub fn goto(&self, url: &str) {
        let before = self.event_count();
        let r = self.cmd("Page.navigate", json!({"url": url}));
        assert!(r.get("errorText").is_none(), "navigate {url}: {r}");
        self.wait_event(before, "Page.loadEventFired", Duration::from_secs(20));
    }

    fn event_count(&self) -> usize {
        self.chrome.shared.inbox.lock().unwrap().events.len()
    }

    fn wait_event(&self, from: usize, method: &str, timeout: Duration) {
        let t0 = Instant::now();
        let mut g = self.chrome.shared.inbox.lock().unwrap();
        loop {
            if g.events[from..].iter().any(|e| e["method"] == method && e["sessionId"] == self.session.as_str()) {
                return;
            }
            let left = timeout.checked_sub(t0.elapsed()).unwrap_or_else(|| panic!("no {method} within {timeout:?}"));
            g = self.chrome.shared.cond.wait_timeout(g, left).unwrap().0;
        }
    }

    /// Evaluates `expr` (awaiting a promise) and returns its JSON value; a thrown error panics.
    pub fn eval(&self, expr: &str) -> Value {
        let r = self.cmd("Runtime.evaluate", json!({"expression": expr, "returnByValue": true, "awaitPromise": true}));
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("evaluating {expr}: {}", ex["exception"]["description"].as_str().unwrap_or(&ex.to_string()));
        }
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is truthy; returns its value. Panics with `what` and the page's
    /// state when it does not happen within `timeout`.
    pub fn wait_for(&self, what: &str, expr: &str, timeout: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.eval(expr);
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if t0.elapsed() > timeout {
                let state = self.eval(
                    "JSON.stringify({hash: location.hash, probe: window.__cm, text: document.querySelector('main') && document.querySelector('main').innerText.slice(0, 1500)})",
                );
                panic!("{what}: not true within {timeout:?}: {expr}\npage: {}", state.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Goes to `hash` in the app and waits until view `view` has rendered after that.
    pub fn show(&self, hash: &str, view: &str) {
        let before = self.eval("window.__cm ? window.__cm.renders : 0").as_u64().unwrap_or(0);
        self.eval(&format!("location.hash = {}", json!(hash)));
        self.wait_rendered(before, view);
    }

    /// Waits until the app rendered `view` more than `before` times in total.
    pub fn wait_rendered(&self, before: u64, view: &str) {
        self.wait_for(
            &format!("view {view} rendered"),
            &format!(
                "window.__cm && window.__cm.renders > {before} && window.__cm.view === {} && document.documentElement.dataset.state === 'ready'",
                json!(view)
            ),
            Duration::from_secs(15),
        );
    }

    pub fn text(&self, selector: &str) -> String {
        // innerText (as shown); SVG elements have only textContent.
        let v = self.eval(&format!(
            "(e => e ? (e.innerText ?? e.textContent) : '')(document.querySelector({}))",
            json!(selector)
        ));
        v.as_str().unwrap_or("").to_string()
    }

    pub fn count(&self, selector: &str) -> u64 {
        self.eval(&format!("document.querySelectorAll({}).length", json!(selector))).as_u64().unwrap()
    }

    pub fn click(&self, selector: &str) {
        let ok = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        ));
        assert_eq!(ok, Value::Bool(true), "nothing to click at {selector}");
    }

    /// Console errors, uncaught exceptions, failed requests and the app's own error probe.
    pub fn errors(&self) -> Vec<String> {
        let g = self.chrome.shared.inbox.lock().unwrap();
        let mut out = Vec::new();
        for e in g.events.iter().filter(|e| e["sessionId"] == self.session.as_str()) {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.exceptionThrown" => out.push(format!(
                    "exception: {}",
                    p["exceptionDetails"]["exception"]["description"]
                        .as_str()
                        .or(p["exceptionDetails"]["text"].as_str())
                        .unwrap_or("?")
                )),
                "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                    out.push(format!("console.{}: {}", p["type"].as_str().unwrap_or(""), p["args"]))
                }
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    out.push(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]))
                }
                // Requests the app cancels on purpose (a newer load replaced them) are not errors.
                "Network.loadingFailed" if p["canceled"] != true && p["errorText"] != "net::ERR_ABORTED" => {
                    out.push(format!("request failed: {} ({})", p["errorText"], p["type"]))
                }
                _ => {}
            }
        }
        drop(g);
        let probe = self.eval("window.__cm ? window.__cm.errors : []");
        for e in probe.as_array().into_iter().flatten() {
            out.push(format!("app: {e}"));
        }
        out
    }

    pub fn assert_no_errors(&self, context: &str) {
        self.assert_errors_only(context, &[]);
    }

    /// Like `assert_no_errors`, but errors containing one of `expected` are allowed (e.g. the
    /// browser's own log line for a 404 the test asked for).
    pub fn assert_errors_only(&self, context: &str, expected: &[&str]) {
        let errs: Vec<String> = self.errors().into_iter().filter(|e| !expected.iter().any(|x| e.contains(x))).collect();
        assert!(errs.is_empty(), "{context}: the page reported errors:\n{}", errs.join("\n"));
    }

    /// prefers-color-scheme as the page sees it.
    pub fn color_scheme(&self, dark: bool) {
        self.cmd(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]}),
        );
    }

    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile}),
        );
    }

    /// A full-page PNG (at most 4000 CSS px tall) written to `target/screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        // Let animations (row flashes, chart drawing) settle first.
        std::thread::sleep(Duration::from_millis(150));
        let m = self.cmd("Page.getLayoutMetrics", json!({}));
        let w = m["cssLayoutViewport"]["clientWidth"].as_f64().unwrap_or(1280.0);
        let h = m["cssContentSize"]["height"].as_f64().unwrap_or(900.0).clamp(200.0, 4000.0);
        let r = self.cmd(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true, "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
        );
        let png = base64_decode(r["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// CRC-32 as gzip uses it, to check the served gzip trailer independently of the server.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}
