//! `make bench`: generates OpenClaw-shaped corpora (10 MB, 200 MB, 1 GB by default, both
//! stores, seeded) with `clawmetry-corpus`, plus an "archived" variant of the 1 GB one (the same
//! sessions, a third of them deleted: archive rows + `.zst` files, `.jsonl.deleted.<ts>` files),
//! starts the release `clawmetry` against each with a data dir of its own, and prints cold index
//! throughput, RSS, p50/p99 latency of the main endpoints, append-to-visible latency and the
//! size of `<data-dir>/ledger.db` once written. It measures, and checks one thing: clawmetry's
//! totals (sessions, deleted sessions, archives read, model calls, tokens, cost) equal those
//! the corpus tool wrote (`expected` in its summary); a difference is printed and makes the
//! exit status 1. Those runs have no search index (`--no-search`), so that their figures stay
//! comparable; a second table then measures the full-text search on each corpus: the first
//! build of its index (time, throughput, size on disk, RSS) and the latency of one- and
//! two-word queries, with the targets of issue 15 checked (p50 < 50 ms, p99 < 300 ms).
//! A "long-chat" corpus (a few chat sessions of 256 MB each, JSONL and SQLite) is measured with
//! the others, and a table gives the transcript page's latency at the first, middle and last
//! page of each corpus's longest sessions (issue 21: < 20 ms anywhere in a 200 MB session).
//! A corpus the disk has no room for is not generated: its row says so.
//!
//! `clawmetry-bench [--sizes 10,200,1024] [--archived 1024] [--many-sessions N]
//! [--long-chat N] [--session-mb M] [--data DIR] [--requests N] [--no-search-table]
//! [--generate-only]`

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    sizes: Vec<u64>,
    /// Sizes (MB) that also run as an archived variant.
    archived: Vec<u64>,
    /// A corpus of this many small sessions (0: none), for the ledger at scale.
    many_sessions: u64,
    data: PathBuf,
    requests: usize,
    /// Only generate the corpora (e.g. while the machine is busy), measure nothing.
    generate_only: bool,
    /// A corpus of this many long chat sessions (0: none), each of `session_mb` MiB.
    long_chat: u64,
    session_mb: u64,
    /// Leave out the search table (its index builds take minutes on the big corpora).
    no_search_table: bool,
}

/// Share of the sessions deleted in the archived variants.
const ARCHIVED_FRACTION: f64 = 0.33;
/// Bytes of transcript per session in the `--many-sessions` corpus (the 1 GB one has ~110 KB).
const SMALL_SESSION: u64 = 10 << 10;

fn sizes(v: &str) -> Result<Vec<u64>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad size {s:?}")))
        .collect()
}

const HELP: &str = "clawmetry-bench [--sizes 10,200,1024] [--archived 1024] [--many-sessions N] [--data DIR]
                [--long-chat N] [--session-mb M] [--requests N] [--no-search-table] [--generate-only]

  --sizes          corpora to generate and measure, MiB of transcript (default 10,200,1024)
  --archived       sizes to run again with a third of the sessions deleted (default 1024; '' = none)
  --many-sessions  also a corpus of N small (~10 KiB) sessions, for the ledger at scale (default 0 = none)
  --long-chat N    also a corpus of N long chat sessions, JSONL and SQLite in turn (default 2; 0 = none)
  --session-mb M   MiB of each long chat session (default 256)
  --no-search-table  measure no full-text search (the second table)
  --data DIR       where corpora and clawmetry's data dirs go (default bench-data)
  --requests N     requests per latency figure (default 400)
  --generate-only  generate (or keep) the corpora and stop";

/// The value of a numeric option.
fn number<T: std::str::FromStr>(p: &mut lexopt::Parser, name: &str) -> Result<T, String> {
    use lexopt::prelude::*;
    let v = p.value().map_err(|e| e.to_string())?.string().map_err(|e| e.to_string())?;
    v.parse().map_err(|_| format!("bad {name} {v:?}"))
}

fn parse_args() -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut a = Args {
        sizes: vec![10, 200, 1024],
        archived: vec![1024],
        many_sessions: 0,
        data: PathBuf::from("bench-data"),
        requests: 400,
        generate_only: false,
        long_chat: 2,
        session_mb: 256,
        no_search_table: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("sizes") => {
                let v = p.value().map_err(|e| e.to_string())?.into_string().map_err(|_| "bad --sizes")?;
                a.sizes = sizes(&v)?;
            }
            Long("archived") => {
                let v = p.value().map_err(|e| e.to_string())?.into_string().map_err(|_| "bad --archived")?;
                a.archived = sizes(&v)?;
            }
            Long("many-sessions") => a.many_sessions = number(&mut p, "--many-sessions")?,
            Long("data") => a.data = p.value().map_err(|e| e.to_string())?.into(),
            Long("requests") => a.requests = number(&mut p, "--requests")?,
            Long("generate-only") => a.generate_only = true,
            Long("no-search-table") => a.no_search_table = true,
            Long("long-chat") => a.long_chat = number(&mut p, "--long-chat")?,
            Long("session-mb") => a.session_mb = number(&mut p, "--session-mb")?,
            Long("help") | Short('h') => {
                println!("{HELP}");
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

/// One corpus to measure.
struct Variant {
    name: String,
    label: String,
    corpus_args: Vec<String>,
    /// Transcript MiB it holds (for the disk check before generating it).
    mb: u64,
    /// Sessions whose first / middle / last transcript pages are measured (the longest ones).
    long_sessions: usize,
}

fn variants(a: &Args) -> Vec<Variant> {
    let mut v = Vec::new();
    let plain = |mb: u64| vec!["--size-mb".to_string(), mb.to_string(), "--seed".into(), "42".into()];
    for &mb in &a.sizes {
        v.push(Variant {
            name: format!("corpus-{mb}mb"),
            label: String::new(),
            corpus_args: plain(mb),
            mb,
            long_sessions: 1,
        });
    }
    for &mb in &a.archived {
        let mut args = plain(mb);
        args.extend(["--archived-fraction".to_string(), ARCHIVED_FRACTION.to_string()]);
        v.push(Variant {
            name: format!("corpus-{mb}mb-archived"),
            label: format!(", {:.0} % deleted", ARCHIVED_FRACTION * 100.0),
            corpus_args: args,
            mb,
            long_sessions: 1,
        });
    }
    if a.many_sessions > 0 {
        let n = a.many_sessions;
        let mb = (n * SMALL_SESSION).div_ceil(1 << 20).max(1);
        v.push(Variant {
            name: format!("corpus-{n}-sessions"),
            label: ", small sessions".into(),
            corpus_args: vec![
                "--size-mb".into(),
                mb.to_string(),
                "--sessions".into(),
                n.to_string(),
                "--seed".into(),
                "42".into(),
            ],
            mb,
            long_sessions: 1,
        });
    }
    if a.long_chat > 0 {
        let (n, m) = (a.long_chat, a.session_mb);
        v.push(Variant {
            name: format!("corpus-long-chat-{n}x{m}mb"),
            label: format!(", {n} sessions of {m} MiB"),
            corpus_args: vec![
                "--long-chat".into(),
                n.to_string(),
                "--session-mb".into(),
                m.to_string(),
                "--seed".into(),
                "42".into(),
            ],
            mb: n * m,
            long_sessions: n as usize,
        });
    }
    v
}

/// Free bytes on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data; all zeroes is a valid value of it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs struct to fill.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Why a corpus cannot be generated here, if it cannot: the disk would not hold it (its
/// transcripts, SQLite's pages and WAL, and 1 GiB to spare).
fn no_room(dir: &Path, v: &Variant) -> Option<String> {
    if std::fs::read_to_string(dir.join(".corpus.json")).is_ok_and(|t| t.contains(&v.corpus_args.join("\",\""))) {
        return None;
    }
    let need = v.mb * (1 << 20) * 3 / 2 + (1 << 30);
    let free = free_bytes(dir.parent().unwrap_or(dir))?;
    (free < need).then(|| format!("not generated: it needs ~{} free, the disk has {}", mb(need), mb(free)))
}

/// Generates the corpus once (again when the arguments or the summary format changed);
/// returns its summary line: bytes, sessions, `expected` totals.
fn corpus(dir: &Path, corpus_args: &[String]) -> Value {
    let stamp = dir.join(".corpus.json");
    if let Ok(t) = std::fs::read_to_string(&stamp) {
        if let Ok(v) = serde_json::from_str::<Value>(&t) {
            if v["args"] == serde_json::json!(corpus_args) && v["expected"].is_object() {
                return v;
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let t0 = Instant::now();
    let out = Command::new(sibling("clawmetry-corpus"))
        .args(["--out", dir.to_str().unwrap()])
        .args(corpus_args)
        .output()
        .expect("run clawmetry-corpus (build it with cargo build --release --bins)");
    assert!(out.status.success(), "clawmetry-corpus failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").to_string();
    let mut v: Value = serde_json::from_str(&line).expect("corpus summary line");
    eprintln!("generated {} in {:.1}s: {line}", dir.display(), t0.elapsed().as_secs_f64());
    v["args"] = serde_json::json!(corpus_args);
    // The stamp lives outside the state dir's watched folders; clawmetry ignores dot files.
    std::fs::write(&stamp, v.to_string()).unwrap();
    v
}

/// Transcript bytes a reader decodes: JSONL files, event_json rows and inflated archives.
fn transcript_bytes(v: &Value) -> u64 {
    ["bytes_jsonl", "bytes_sqlite_events", "bytes_archived"].iter().map(|k| v[*k].as_u64().unwrap_or(0)).sum()
}

/// Compares clawmetry's totals with the corpus's `expected`; returns the differences.
fn check_totals(port: u16, expected: &Value) -> Vec<String> {
    let ov = get_json(port, "/api/overview");
    let health = get_json(port, "/api/health");
    let deleted = get_json(port, "/api/sessions?state=deleted&limit=1");
    let u = &ov["usage"]["total"];
    let got = [
        ("sessions", &ov["sessions"]["total"]),
        ("deleted", &deleted["total"]),
        ("archives", &health["index"]["archives"]),
        ("calls", &u["calls"]),
        ("input", &u["input"]),
        ("output", &u["output"]),
        ("cacheRead", &u["cacheRead"]),
        ("cacheWrite", &u["cacheWrite"]),
        ("reasoning", &u["reasoning"]),
    ];
    let mut bad = Vec::new();
    for (k, g) in got {
        if g.as_u64() != expected[k].as_u64() {
            bad.push(format!("{k}: clawmetry {g}, corpus {}", expected[k]));
        }
    }
    // clawmetry sums the same float costs in another order and rounds to 1e-9 USD.
    let (gc, ec) = (u["cost"].as_f64().unwrap_or(f64::NAN), expected["cost"].as_f64().unwrap_or(0.0));
    let close = (gc - ec).abs() <= 1e-6f64.max(ec.abs() * 1e-12);
    if !close {
        bad.push(format!("cost: clawmetry {gc}, corpus {ec}"));
    }
    for k in ["badArchives", "malformedLines", "badRows", "sourceErrors"] {
        if health["index"][k].as_u64().unwrap_or(0) != 0 {
            bad.push(format!("index.{k} = {}", health["index"][k]));
        }
    }
    bad
}

/// Starts the release `clawmetry` on a free port; returns it and the port.
fn start(state: &Path, data_dir: &Path) -> (Server, u16) {
    start_with(state, data_dir, &["--no-search"])
}

fn start_with(state: &Path, data_dir: &Path, extra: &[&str]) -> (Server, u16) {
    let mut child = Command::new(sibling("clawmetry"))
        .args(["--port", "0", "--host", "127.0.0.1", "--no-gateway", "--openclaw-dir", state.to_str().unwrap()])
        .args(extra)
        // The corpus's openclaw.json has a gateway token; the bench asks from loopback.
        .arg("--no-auth")
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clawmetry (release)");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let port: u16 = first.rsplit(':').next().unwrap().trim().parse().unwrap();
    (Server { child }, port)
}

/// Waits for the end of the cold index; returns its duration (ms) as clawmetry measured it.
fn wait_ready(port: u16) -> f64 {
    loop {
        let h = get_json(port, "/api/health");
        if h["index"]["ready"] == true {
            return h["index"]["coldIndexMs"].as_u64().unwrap_or(0) as f64;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `f` every 20 ms until it holds or `limit` passed; whether it held.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Ledger rows written at or after `since_ms` (their `updated_ms`).
fn ledger_rows_since(p: &Path, since_ms: i64) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(p, flags)
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM sessions WHERE updated_ms >= ?1", [since_ms], |r| r.get::<_, i64>(0))
        })
        .map(|n| n as u64)
        .unwrap_or(0)
}

/// Reads every file under `dir` once (into the page cache); returns the bytes read and the
/// seconds it took.
fn warm_page_cache(dir: &Path) -> (u64, f64) {
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut dirs) = (0u64, vec![dir.to_path_buf()]);
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                dirs.push(e.path());
            } else if kind.is_file() {
                if let Ok(mut f) = std::fs::File::open(e.path()) {
                    while let Ok(n @ 1..) = f.read(&mut buf) {
                        bytes += n as u64;
                    }
                }
            }
        }
    }
    (bytes, t.elapsed().as_secs_f64())
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The ledger's size as a database (page count × page size, WAL frames included: what
/// `ledger.db` is once checkpointed) and its session rows. Read-only, beside the running server.
fn ledger_size(p: &Path) -> (u64, u64) {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(p, flags)
        .and_then(|c| {
            let size =
                c.query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |r| {
                    r.get::<_, i64>(0)
                })?;
            let rows = c.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0))?;
            Ok((size as u64, rows as u64))
        })
        .unwrap_or((0, 0))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
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
    request(port, "GET", path, "")
}

/// One HTTP/1.0 request (a JSON body when `body` is not empty); status and body.
fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n").unwrap();
    if !body.is_empty() {
        write!(s, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()).unwrap();
    }
    write!(s, "\r\n{body}").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    let status =
        String::from_utf8_lossy(&buf[..split]).split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    (status, buf[split + 4..].to_vec())
}

/// The monitor's detection cost with every alert rule on: each rule change wakes a check;
/// after all are on, `n` more checks. Returns the rules part (observations over the index,
/// the guard's baselines, evaluation, incidents) and the whole check, µs, one per check.
fn detection_cost(port: u16, n: usize) -> (Vec<f64>, Vec<f64>) {
    let ticks = || get_json(port, "/api/system-health")["monitor"]["ticks"].as_u64().unwrap_or(0);
    let wait_tick = |before: u64| {
        let t0 = Instant::now();
        while ticks() <= before {
            assert!(t0.elapsed() < Duration::from_secs(60), "the monitor did not check");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let rules = [
        r#"{"kind":"token_spike","tokens":1000000000}"#,
        r#"{"kind":"error_rate","percent":99}"#,
        r#"{"kind":"long_session","minutes":100000}"#,
        r#"{"kind":"cron_failure"}"#,
        r#"{"kind":"disk","percent":100}"#,
        r#"{"kind":"gateway_down"}"#,
        r#"{"kind":"cron_health"}"#,
        r#"{"kind":"spend_anomaly"}"#,
    ];
    let mut first_id = 0;
    for (i, r) in rules.iter().enumerate() {
        let before = ticks();
        let (st, body) = request(port, "POST", "/api/alerts/rules", r);
        assert_eq!(st, 201, "{r}: {}", String::from_utf8_lossy(&body));
        if i == 0 {
            first_id = serde_json::from_slice::<Value>(&body).unwrap()["id"].as_i64().unwrap();
        }
        wait_tick(before);
    }
    let (mut rules_us, mut check_us) = (Vec::new(), Vec::new());
    for i in 0..n {
        let before = ticks();
        let body = format!(r#"{{"kind":"token_spike","tokens":{}}}"#, 1_000_000_000 + i);
        let (st, _) = request(port, "PUT", &format!("/api/alerts/rules/{first_id}"), &body);
        assert_eq!(st, 200);
        wait_tick(before);
        let m = &get_json(port, "/api/system-health")["monitor"];
        rules_us.push(m["lastRulesUs"].as_f64().unwrap_or(f64::NAN));
        check_us.push(m["lastCheckUs"].as_f64().unwrap_or(f64::NAN));
    }
    (rules_us, check_us)
}

fn get_json(port: u16, path: &str) -> Value {
    let (st, body) = get(port, path);
    assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

/// CPU seconds (user + system) the process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / 100.0
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

/// Queries of the search table: words of the corpus tool's filler (every one is common, so
/// every query has hundreds of thousands of hits at 1 GB: the worst case for ranking).
const ONE_WORD: [&str; 4] = ["gateway", "invoice", "weather", "backup"];
const TWO_WORDS: [&str; 4] = ["deploy%20server", "weather%20report", "%22backup%20report%22", "calendar%20meeting"];

/// p50/p99 over `n` requests cycling through `paths`.
fn latency_of(port: u16, paths: &[String], n: usize) -> (f64, f64) {
    for p in paths {
        get(port, p);
    }
    let mut t = Vec::with_capacity(n);
    for i in 0..n {
        let p = &paths[i % paths.len()];
        let t0 = Instant::now();
        let (st, _) = get(port, p);
        t.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(st, 200, "{p}");
    }
    (percentile(&mut t, 0.5), percentile(&mut t, 0.99))
}

/// The search table: one row per corpus, a fresh data dir each.
fn search_table(args: &Args, variants: &[Variant], summaries: &[Value], failures: &mut Vec<String>) {
    println!();
    println!("| corpus | search index build | throughput | text indexed | search.db | RSS building / after | one word p50/p99 | two words p50/p99 | agent filter, no hit p50/p99 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (v, summary) in variants.iter().zip(summaries) {
        let dir = args.data.join(&v.name);
        let state = std::fs::canonicalize(&dir).unwrap();
        let data_dir = args.data.join(format!("clawmetry-search-{}", v.name));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).unwrap();
        let (server, port) = start_with(&state, &data_dir, &[]);
        let pid = server.child.id();
        wait_ready(port);
        let t0 = Instant::now();
        let ix = loop {
            let ix = get_json(port, "/api/health")["search"].clone();
            if ix["state"] == "ready" && ix["sessionsIndexed"] == ix["sessions"] {
                break ix;
            }
            if t0.elapsed() > Duration::from_secs(1800) {
                failures.push(format!("{}: the search index was not built within 30 min: {ix}", v.name));
                break ix;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let hwm = rss_kb(pid, "VmHWM:");
        // The watcher's next heap trim (every 5 s) hands back what the build freed.
        std::thread::sleep(Duration::from_millis(5500));
        let rss = rss_kb(pid, "VmRSS:");
        let build_ms = ix["buildMs"].as_f64().unwrap_or(0.0).max(1.0);
        let read = ix["bytesRead"].as_f64().unwrap_or(0.0);
        let one: Vec<String> = ONE_WORD.iter().map(|q| format!("/api/search?q={q}")).collect();
        let two: Vec<String> = TWO_WORDS.iter().map(|q| format!("/api/search?q={q}")).collect();
        let none: Vec<String> = ONE_WORD.iter().map(|q| format!("/api/search?q={q}&agent=no-such-agent")).collect();
        let (o50, o99) = latency_of(port, &one, args.requests);
        let (t50, t99) = latency_of(port, &two, args.requests);
        let (n50, n99) = latency_of(port, &none, args.requests / 4);
        let bytes = transcript_bytes(summary);
        println!(
            "| {:.0} MB{} | {:.1} s | {:.0} MB/s | {} | {} | {:.1} MB / {:.1} MB | {o50:.1}/{o99:.1} ms | {t50:.1}/{t99:.1} ms | {n50:.1}/{n99:.1} ms |",
            bytes as f64 / 1e6,
            v.label,
            build_ms / 1000.0,
            read / 1e6 / (build_ms / 1000.0),
            mb(ix["textBytes"].as_u64().unwrap_or(0)),
            mb(ix["diskBytes"].as_u64().unwrap_or(0)),
            hwm as f64 / 1024.0,
            rss as f64 / 1024.0,
        );
        for (what, p50, p99) in [("one word", o50, o99), ("two words", t50, t99), ("agent filter", n50, n99)] {
            if p50 >= 50.0 || p99 >= 300.0 {
                failures.push(format!(
                    "{}: search, {what}: p50 {p50:.1} ms, p99 {p99:.1} ms (targets 50 / 300 ms)",
                    v.name
                ));
            }
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    println!(
        "(search: the first build of <data-dir>/search.db after the cold index, at nice 10; throughput = transcript bytes read / build time;          text indexed = the events' searchable text; search.db = the file and its WAL; queries: {} requests each over {:?} and {:?})",
        args.requests, ONE_WORD, TWO_WORDS
    );
}

/// The first, middle and last transcript page of one session: the rest of a table row.
fn pages(port: u16, s: &Value, n: usize) -> String {
    let id = s["id"].as_str().unwrap_or("");
    let total = get_json(port, &format!("/api/transcript/{id}?limit=1"))["total"].as_u64().unwrap_or(0);
    let mut row = format!(
        "{}… | {}, {} | {total} |",
        id.get(..8).unwrap_or(id),
        s["store"].as_str().unwrap_or("?"),
        s["state"].as_str().unwrap_or("?")
    );
    for offset in [0, total / 2, total.saturating_sub(100)] {
        let (p50, p99) = latency(port, &format!("/api/transcript/{id}?limit=100&offset={offset}"), n);
        row.push_str(&format!(" {p50:.2}/{p99:.2} ms |"));
    }
    row
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
    let all = variants(&args);
    // Corpora first, so that generating one does not overlap a measurement. One the disk has
    // no room for is left out, and said so in the table.
    let mut skipped = Vec::new();
    let mut variants = Vec::new();
    for v in all {
        match no_room(&args.data.join(&v.name), &v) {
            Some(why) => skipped.push((v, why)),
            None => variants.push(v),
        }
    }
    let summaries: Vec<Value> = variants.iter().map(|v| corpus(&args.data.join(&v.name), &v.corpus_args)).collect();
    for (v, why) in &skipped {
        eprintln!("{}: {why}", v.name);
    }
    if args.generate_only {
        return;
    }
    println!("| corpus | sessions | cold index | throughput | RSS indexed / peak | overview p50/p99 | sessions p50/p99 | usage p50/p99 | transcript page p50/p99 | append→visible p50/max | ledger.db |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut page_rows = Vec::new();
    for (v, why) in &skipped {
        println!("| {} MiB{} | {why} | | | | | | | | | |", v.mb, v.label);
    }
    for (v, summary) in variants.iter().zip(&summaries) {
        let dir = args.data.join(&v.name);
        let bytes = transcript_bytes(summary);
        let state = std::fs::canonicalize(&dir).unwrap();
        // A data dir of its own, empty: a ledger left by another corpus would add its sessions.
        let data_dir = args.data.join(format!("clawmetry-data-{}", v.name));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).unwrap();
        let data_dir = std::fs::canonicalize(&data_dir).unwrap();
        // Drop nothing from the page cache (we cannot as non-root everywhere), and read the
        // corpus once first: a corpus generated by an earlier run may have been pushed out of
        // the cache since (by another corpus, another job), and its first start would then
        // measure the disk, not the parsing.
        let (warm_bytes, warm_s) = warm_page_cache(&state);
        if warm_s > 1.0 {
            notes.push(format!(
                "{}: {:.0} MB of corpus read once before its first start in {warm_s:.1} s ({:.0} MB/s)",
                v.name,
                warm_bytes as f64 / 1e6,
                warm_bytes as f64 / 1e6 / warm_s
            ));
        }
        let t0 = Instant::now();
        let (server, port) = start(&state, &data_dir);
        let pid = server.child.id();
        let index_ms = wait_ready(port);
        let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
        // The ledger: written behind the index (within 2 s of it, or at its end when the ledger
        // already had sessions); wait until it has been written without error, then take its size.
        let t_ledger = Instant::now();
        let ledger = loop {
            let h = get_json(port, "/api/health");
            let l = &h["ledger"];
            if l["lastWriteMs"].is_i64() && l["lastError"].is_null() {
                break l.clone();
            }
            if t_ledger.elapsed() > Duration::from_secs(120) {
                failures.push(format!("{}: the ledger was not written within 120 s: {l}", v.name));
                break l.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let ledger_path = ledger["path"].as_str().map(PathBuf::from).unwrap_or_else(|| data_dir.join("ledger.db"));
        let (ledger_bytes, ledger_rows) = ledger_size(&ledger_path);
        let ledger_file = file_len(&ledger_path);
        let ledger_wal = file_len(&ledger_path.with_extension("db-wal"));
        // Resident size once indexed and the ledger written: the watcher trims the heap right
        // after the cold index and at each rescan (every 5 s), so wait for the next one.
        std::thread::sleep(Duration::from_millis(5500));
        let rss_indexed = rss_kb(pid, "VmRSS:");
        let sessions = get_json(port, "/api/overview")["sessions"]["total"].as_u64().unwrap_or(0);
        let mbps = bytes as f64 / 1e6 / (index_ms / 1000.0);
        // Before anything is appended: clawmetry's totals are the corpus's.
        let bad = check_totals(port, &summary["expected"]);
        if ledger_rows != sessions {
            failures.push(format!("{}: the ledger has {ledger_rows} sessions, the index {sessions}", v.name));
        }
        if bad.is_empty() {
            notes.push(format!(
                "{}: totals match the corpus ({sessions} sessions, {} deleted, {} archives read, {} calls, cost {:.2} USD); ledger {} B, {ledger_rows} rows, {:.0} B per session (files: ledger.db {} B, WAL {} B)",
                v.name,
                summary["expected"]["deleted"],
                summary["expected"]["archives"],
                summary["expected"]["calls"],
                summary["expected"]["cost"].as_f64().unwrap_or(0.0),
                ledger_bytes,
                ledger_bytes as f64 / sessions.max(1) as f64,
                ledger_file,
                ledger_wal,
            ));
        } else {
            failures.push(format!("{}: totals differ from the corpus: {}", v.name, bad.join("; ")));
        }
        let list = get_json(port, "/api/sessions?sort=messages&limit=1");
        let big_id = list["sessions"][0]["id"].as_str().unwrap_or("").to_string();
        if list["sessions"][0]["state"] != "live" {
            notes.push(format!("{}: the transcript page is of a {} session", v.name, list["sessions"][0]["state"]));
        }
        let ov = latency(port, "/api/overview", args.requests);
        let ss = latency(port, "/api/sessions?limit=50", args.requests);
        let us = latency(port, "/api/usage?from=2026-09-01&to=2026-11-02&step=day", args.requests);
        let tr = latency(port, &format!("/api/transcript/{big_id}?limit=100&offset=100"), args.requests / 4);
        let longest = get_json(port, &format!("/api/sessions?sort=messages&limit={}", v.long_sessions));
        for s in longest["sessions"].as_array().into_iter().flatten() {
            page_rows.push(format!(
                "| {:.0} MB{} | {}",
                bytes as f64 / 1e6,
                v.label,
                pages(port, s, args.requests / 4)
            ));
        }
        // Idle: nothing changes for 30 s after the last request has settled (the watcher's
        // rescans, the monitor's checks and health, inotify only otherwise).
        std::thread::sleep(Duration::from_secs(6));
        let cpu0 = cpu_seconds(pid);
        std::thread::sleep(Duration::from_secs(30));
        let idle_per_min = (cpu_seconds(pid) - cpu0) * 2.0;
        notes.push(format!("{}: idle CPU {idle_per_min:.2} s per minute ({sessions} sessions; 30 s measured)", v.name));
        let (mut rules_us, mut check_us) = detection_cost(port, 7);
        notes.push(format!(
            "{}: the monitor's check with all 8 alert rules on, over 7 checks: detection (observations over {sessions} sessions, the guard's baselines, rules, incidents) p50 {:.2} ms, max {:.2} ms; whole check p50 {:.2} ms",
            v.name,
            percentile(&mut rules_us, 0.5) / 1000.0,
            rules_us.iter().cloned().fold(0.0, f64::max) / 1000.0,
            percentile(&mut check_us, 0.5) / 1000.0,
        ));
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
            "| {:.0} MB{} | {sessions} | {:.2} s (wall {:.2} s) | {mbps:.0} MB/s | {:.1} MB / {:.1} MB | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.2}/{:.2} ms | {:.1}/{:.1} ms | {} |",
            bytes as f64 / 1e6,
            v.label,
            index_ms / 1000.0,
            wall_ms / 1000.0,
            rss_indexed as f64 / 1024.0,
            hwm as f64 / 1024.0,
            ov.0, ov.1, ss.0, ss.1, us.0, us.1, tr.0, tr.1, vis_p50, vis_max,
            mb(ledger_bytes)
        );
        // The restart checkpoint is written once the cold index is done (long done by now).
        let written =
            wait_for(Duration::from_secs(60), || get_json(port, "/api/health")["checkpoint"]["lastWriteMs"].is_i64());
        if !written {
            failures.push(format!("{}: no restart checkpoint written within 60 s", v.name));
        }
        drop(server);
        // A restart: the ledger now has every session (perhaps the bench's appended one too,
        // whose file is gone). Unchanged sessions need no new write; unchanged sources are taken
        // from the checkpoint.
        let t_restart = now_ms();
        let (server, port) = start(&state, &data_dir);
        let restart_ms = wait_ready(port);
        let cp = get_json(port, "/api/health")["checkpoint"].clone();
        let hwm2 = rss_kb(server.child.id(), "VmHWM:");
        let rewritten = ledger_rows_since(&ledger_path, t_restart);
        let rows_then = ledger_size(&ledger_path).1;
        drop(server);
        // The same restart reading everything (`--no-checkpoint`): what the checkpoint saves.
        let (server, port) = start_with(&state, &data_dir, &["--no-search", "--no-checkpoint"]);
        let cold_ms = wait_ready(port);
        drop(server);
        notes.push(format!(
            "{}: restart with its ledger and checkpoint: full totals after {:.2} s ({} sources reused, {} resumed, {} read; \
             --no-checkpoint {:.2} s; first start {:.2} s), peak RSS {:.1} MB; {rewritten} of {} ledger rows written again",
            v.name,
            restart_ms / 1000.0,
            cp["sourcesReused"],
            cp["sourcesResumed"],
            cp["sourcesReread"],
            cold_ms / 1000.0,
            index_ms / 1000.0,
            hwm2 as f64 / 1024.0,
            rows_then,
        ));
    }
    println!(
        "(latency is per request over a fresh loopback TCP connection, {} requests each; RSS: VmRSS once indexed and the ledger written (after the next 5 s heap trim) / VmHWM at the end; \
         MB = transcript bytes decoded: JSONL, event_json, inflated archives; ledger.db: its size as a database once written, \
         WAL frames included = the file once checkpointed)",
        args.requests
    );
    println!();
    println!(
        "| corpus | session | store, state | events | first page p50/p99 | middle page p50/p99 | last page p50/p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &page_rows {
        println!("{r}");
    }
    for (v, why) in &skipped {
        println!("| {} MiB{} | {why} | | | | | |", v.mb, v.label);
    }
    println!(
        "(GET /api/transcript/<id>?limit=100&offset=0, total/2 and total-100 of each corpus's longest sessions (by messages), {} requests each)",
        args.requests / 4
    );
    if !args.no_search_table {
        search_table(&args, &variants, &summaries, &mut failures);
    }
    for n in &notes {
        println!("{n}");
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
