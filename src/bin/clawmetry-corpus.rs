//! `clawmetry-corpus` — a seeded, deterministic generator of an OpenClaw-shaped state directory,
//! for clawmetry's benchmarks and load tests. It writes `openclaw.json`, the legacy file store
//! (`agents/<id>/sessions/<sessionId>.jsonl` + `sessions.json`) and the current SQLite store
//! (`agents/<id>/agent/openclaw-agent.sqlite`: `session_nodes`, `session_windows`,
//! `transcript_events`) with the line and row shapes of the real samples in `shared/fixtures/`,
//! until the requested number of transcript bytes is written. Same arguments, same bytes.
//! It is not a fixture of record: the text is filler; only the structure, the sizes and the mix
//! (agents, channels, sub-agents, crons, models, resets, tool errors, missing `usage.cost`) aim
//! to look like a busy real installation. By default the older part of the time range is in the
//! legacy files and the newer part in SQLite, like an install upgraded to 2026.9 mid-window.
//!
//! `--archived-fraction F` makes that fraction of the sessions deleted ones, in the shapes
//! OpenClaw leaves: a SQLite-store session's rows are not in `transcript_events` /
//! `session_windows` / `session_nodes` but in `session_transcript_archives` (the transcript as
//! JSONL, zstd) plus the byte-identical `<id>.jsonl.deleted.<ts>.<generation>.zst` beside it in
//! the sessions dir; a JSONL-store session is renamed `<id>.jsonl.deleted.<ts>` (half of them) or
//! kept only as `<id>.jsonl.deleted.<ts>.zst` (the other half), and is not in `sessions.json`.
//! The choice comes from a PRNG of its own, so the sessions and their figures are those of the
//! same corpus without archives.
//!
//! `--long-chat N --session-mb M` writes instead N chat sessions of M MiB each (one long
//! conversation with tool rounds and compactions), alternately in the legacy files and in
//! SQLite: the shape of a transcript page deep in a session of hundreds of MB. The summary line (stdout) carries the totals a correct reader
//! must find (`expected`), which `clawmetry-bench` compares with clawmetry's.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{params, Connection};
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn Error>>;

/// 2026-11-01T00:00:00Z, the default newest timestamp (fixed so that output is reproducible).
const DEFAULT_END_MS: i64 = 1_793_491_200_000;
const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WINDOW: i64 = 60 * DAY;
const MIB: u64 = 1 << 20;
/// Rows per SQLite transaction are bounded by bytes: big enough to be fast, small enough to keep
/// the WAL file reasonable.
const COMMIT_EVERY: u64 = 64 * MIB;
const APP_VERSION: &str = "2026.9.6";
const AGENT_SCHEMA_VERSION: i64 = 23;
const HOME: &str = "/home/u/.openclaw";

const USAGE: &str = "\
clawmetry-corpus: write a synthetic OpenClaw state directory for benchmarks

usage: clawmetry-corpus --out DIR --size-mb N [options]
       clawmetry-corpus --out DIR --long-chat N [--session-mb M] [options]

  --out DIR            directory to create (must be missing or empty)
  --size-mb N          stop once N MiB of transcript lines are written (JSONL + event_json)
  --seed S             PRNG seed (default 1); the same arguments give the same bytes
  --sqlite-share F     share of the bytes in the SQLite store, 0..1 (default 0.5)
  --agents N           number of agents (default 3: main, ops, research)
  --end-ms MS          newest timestamp, epoch ms (default 2026-11-01T00:00:00Z); sessions
                       spread over the 60 days before it
  --interleave         mix both stores over the whole time range instead of legacy files
                       first and SQLite after (an upgrade in the middle of the window)
  --archived-fraction F  share of the sessions that are deleted, 0..1 (default 0): SQLite
                       ones become session_transcript_archives rows (zstd) + the identical
                       .zst file, JSONL ones <id>.jsonl.deleted.<ts> files (half) or
                       <id>.jsonl.deleted.<ts>.zst files (the other half)
  --sessions N         stop after N sessions (sub-agents included; the last parent's
                       children may add one or two) instead of at the byte size; --size-mb
                       then sets the average session size (size / N)
  --long-chat N        instead: N long chat sessions, alternately JSONL and SQLite (as
                       --sqlite-share allows), each of --session-mb MiB; no --size-mb
  --session-mb M       size of each --long-chat session, MiB (default 256)
";

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    out: PathBuf,
    size_mb: u64,
    seed: u64,
    sqlite_share: f64,
    agents: usize,
    end_ms: i64,
    interleave: bool,
    archived_fraction: f64,
    sessions: Option<u64>,
    /// `--long-chat`: this many long sessions of `session_mb` MiB each (0: the usual mix).
    long_chat: u64,
    session_mb: u64,
}

fn parse_args() -> Res<Args> {
    use lexopt::prelude::*;
    let mut out = None;
    let mut size_mb = None;
    let mut seed = 1u64;
    let mut sqlite_share = 0.5f64;
    let mut agents = 3usize;
    let mut end_ms = DEFAULT_END_MS;
    let mut interleave = false;
    let mut archived_fraction = 0.0f64;
    let mut sessions = None;
    let mut long_chat = 0u64;
    let mut session_mb = 256u64;
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("out") => out = Some(PathBuf::from(p.value()?)),
            Long("size-mb") => size_mb = Some(p.value()?.parse::<u64>()?),
            Long("seed") => seed = p.value()?.parse()?,
            Long("sqlite-share") => sqlite_share = p.value()?.parse()?,
            Long("agents") => agents = p.value()?.parse()?,
            Long("end-ms") => end_ms = p.value()?.parse()?,
            Long("interleave") => interleave = true,
            Long("archived-fraction") => archived_fraction = p.value()?.parse()?,
            Long("sessions") => sessions = Some(p.value()?.parse::<u64>()?),
            Long("long-chat") => long_chat = p.value()?.parse()?,
            Long("session-mb") => session_mb = p.value()?.parse()?,
            Short('h') | Long("help") => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    let out = out.ok_or("missing --out DIR (see --help)")?;
    if long_chat > 0 && (size_mb.is_some() || sessions.is_some()) {
        return Err("--long-chat sets the size itself: give --session-mb, not --size-mb or --sessions".into());
    }
    if long_chat > 0 && session_mb == 0 {
        return Err("--session-mb must be at least 1".into());
    }
    let size_mb = if long_chat > 0 { Some(long_chat * session_mb) } else { size_mb };
    let size_mb = size_mb.ok_or("missing --size-mb N (see --help)")?;
    if size_mb == 0 {
        return Err("--size-mb must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&sqlite_share) {
        return Err("--sqlite-share must be between 0 and 1".into());
    }
    if !(0.0..=1.0).contains(&archived_fraction) {
        return Err("--archived-fraction must be between 0 and 1".into());
    }
    if sessions == Some(0) {
        return Err("--sessions must be at least 1".into());
    }
    if !(1..=64).contains(&agents) {
        return Err("--agents must be between 1 and 64".into());
    }
    if end_ms < WINDOW {
        return Err("--end-ms is too small: give epoch milliseconds".into());
    }
    Ok(Args {
        out,
        size_mb,
        seed,
        sqlite_share,
        agents,
        end_ms,
        interleave,
        archived_fraction,
        sessions,
        long_chat,
        session_mb,
    })
}

// ---------------------------------------------------------------------------------------------
// PRNG (splitmix64: tiny, fast, good enough for filler, and stable across platforms)

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    fn idx(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// Inclusive range.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.idx(xs.len())]
    }
    fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.idx(xs.len())]
    }
    fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u32 = w.iter().sum();
        let mut r = self.below(u64::from(total)) as u32;
        for (i, &x) in w.iter().enumerate() {
            if r < x {
                return i;
            }
            r -= x;
        }
        w.len() - 1
    }
}

// ---------------------------------------------------------------------------------------------
// Small writers: everything in the hot loop is written straight into a String.

fn push_esc(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        // `c` is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

fn push_lit(out: &mut String, s: &str) {
    out.push('"');
    push_esc(out, s);
    out.push('"');
}

fn push_num(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// `,"key":` — keys are literals that never need escaping.
fn push_key(out: &mut String, key: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

fn push_hex(out: &mut String, v: u64, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (4 * (i % 16))) & 15) as usize] as char);
    }
}

fn push_uuid(out: &mut String, rng: &mut Rng) {
    let a = rng.next_u64();
    let b = rng.next_u64();
    push_hex(out, a >> 32, 8);
    out.push('-');
    push_hex(out, a >> 16, 4);
    out.push_str("-4");
    push_hex(out, a, 3);
    out.push('-');
    push_hex(out, 8 | (b >> 62), 1);
    push_hex(out, b >> 48, 3);
    out.push('-');
    push_hex(out, b, 12);
}

fn uuid(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(36);
    push_uuid(&mut s, rng);
    s
}

fn push_base62(out: &mut String, rng: &mut Rng, n: usize) {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..n {
        out.push(ALPHA[rng.idx(ALPHA.len())] as char);
    }
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// ISO 8601 UTC with milliseconds, as JavaScript's `Date.toISOString()` prints it.
fn push_iso(out: &mut String, ms: i64) {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    let r = ms.rem_euclid(DAY);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", r / HOUR, r / MIN % 60, r / SEC % 60, r % SEC);
}

// ---------------------------------------------------------------------------------------------
// Filler text: two pools built once from the seed; texts are slices of them.

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "for",
    "on",
    "with",
    "that",
    "this",
    "it",
    "we",
    "you",
    "be",
    "are",
    "as",
    "at",
    "by",
    "from",
    "or",
    "not",
    "can",
    "will",
    "should",
    "now",
    "agent",
    "gateway",
    "session",
    "token",
    "config",
    "deploy",
    "server",
    "backup",
    "report",
    "calendar",
    "invoice",
    "meeting",
    "weather",
    "flight",
    "budget",
    "cost",
    "model",
    "prompt",
    "cache",
    "latency",
    "error",
    "retry",
    "timeout",
    "database",
    "migration",
    "schema",
    "query",
    "index",
    "file",
    "folder",
    "script",
    "cron",
    "job",
    "schedule",
    "reminder",
    "email",
    "inbox",
    "summary",
    "draft",
    "reply",
    "message",
    "channel",
    "group",
    "thread",
    "user",
    "customer",
    "price",
    "order",
    "shipment",
    "tracking",
    "update",
    "release",
    "version",
    "branch",
    "commit",
    "review",
    "test",
    "build",
    "pipeline",
    "container",
    "image",
    "volume",
    "disk",
    "memory",
    "cpu",
    "load",
    "network",
    "firewall",
    "port",
    "certificate",
    "domain",
    "dns",
    "proxy",
    "nginx",
    "postgres",
    "redis",
    "docker",
    "python",
    "rust",
    "node",
    "markdown",
    "table",
    "chart",
    "dashboard",
    "metric",
    "alert",
    "threshold",
    "incident",
    "fix",
    "patch",
    "issue",
    "quickly",
    "carefully",
    "again",
    "today",
    "tomorrow",
    "yesterday",
    "weekly",
    "monthly",
    "important",
    "small",
    "large",
    "new",
    "old",
    "current",
    "previous",
    "next",
    "final",
    "check",
    "list",
    "find",
    "read",
    "write",
    "send",
    "open",
    "close",
    "compare",
    "explain",
    "looks",
    "seems",
    "works",
    "fails",
    "runs",
    "stops",
    "starts",
    "changes",
    "needs",
    "has",
    "because",
    "however",
    "although",
    "then",
    "also",
    "only",
    "still",
    "already",
    "maybe",
];
const ODD_WORDS: &[&str] =
    &["café", "naïve", "—", "🦞", "日本語", "Привет", "“quoted”", "€42", "über", "señal", "✅", "→"];
const FILES: &[&str] = &[
    "src/main.rs",
    "README.md",
    "package.json",
    "notes/2026-10-12.md",
    "memory/MEMORY.md",
    "scripts/deploy.sh",
    "/etc/nginx/sites-enabled/default",
    "/var/log/syslog",
    "docs/ARCHITECTURE.md",
    "data/report.csv",
    "config/settings.yaml",
    "skills/weather/SKILL.md",
    "AGENTS.md",
    "SOUL.md",
    "HEARTBEAT.md",
    "src/lib/db.ts",
    "app/models/user.py",
    "Cargo.toml",
    "Dockerfile",
    "docker-compose.yml",
    "invoices/2026-10.json",
    "projects/site/index.html",
];
const DIRS: &[&str] =
    &[".", "src", "scripts", "memory", "notes", "projects/site", "/var/log", "/etc/nginx", "data", "~/Downloads"];
const SERVICES: &[&str] =
    &["nginx", "postgresql", "redis-server", "openclaw-gateway", "docker", "caddy", "home-assistant", "tailscaled"];
const LABELS: &[&str] = &[
    "research",
    "naming-agent",
    "code-review",
    "log-digest",
    "price-check",
    "doc-writer",
    "scraper",
    "inbox-triage",
    "trip-planner",
];
const ASKS: &[&str] = &[
    "Can you check why the server is slow today?",
    "Summarize what changed in the repo since Monday.",
    "Find me a cheaper flight for next week.",
    "Draft a reply to the invoice email, polite but firm.",
    "What's on my calendar tomorrow?",
    "Remind me to call the bank at 5pm.",
    "Look at the nginx logs and tell me what is failing.",
    "Please update the notes with today's decisions.",
    "How much did we spend on models this week?",
    "Write a short script that backs up the database.",
    "Compare these two offers and recommend one.",
    "Research the best way to migrate this to Postgres.",
    "ok",
    "thanks! one more thing:",
    "hmm that didn't work, the build still fails",
    "Can you translate this for the group?",
];
const ERRORS: &[&str] = &[
    "429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed the rate limit for your organization.\"}}",
    "529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
    "Request timed out.",
    "500 Internal server error",
    "Connection error.",
];

struct Pools {
    prose: String,
    output: String,
}

impl Pools {
    fn new(rng: &mut Rng) -> Pools {
        Pools { prose: build_prose(rng, 768 << 10), output: build_output(rng, 1536 << 10) }
    }
}

fn push_sentence(s: &mut String, rng: &mut Rng) {
    let n = rng.between(5, 18);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let roll = rng.below(100);
        let w = if roll < 3 { *rng.pick(ODD_WORDS) } else { *rng.pick(WORDS) };
        match roll {
            3..=5 => {
                s.push('`');
                s.push_str(w);
                s.push('`');
            }
            6 | 7 => {
                s.push_str("**");
                s.push_str(w);
                s.push_str("**");
            }
            8 => {
                s.push('"');
                s.push_str(w);
                s.push('"');
            }
            _ if i == 0 => {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    s.extend(f.to_uppercase());
                    s.push_str(c.as_str());
                }
            }
            _ => s.push_str(w),
        }
    }
    s.push_str(match rng.below(12) {
        0 => "?",
        1 => "!",
        _ => ".",
    });
}

fn build_prose(rng: &mut Rng, size: usize) -> String {
    let mut s = String::with_capacity(size + 4096);
    while s.len() < size {
        match rng.below(10) {
            0 => {
                for _ in 0..rng.between(2, 6) {
                    s.push_str("- ");
                    push_sentence(&mut s, rng);
                    s.push('\n');
                }
            }
            1 => {
                s.push_str("```bash\n");
                for _ in 0..rng.between(1, 4) {
                    let _ = writeln!(s, "{} {}", rng.pick(WORDS), rng.pick(FILES));
                }
                s.push_str("```");
            }
            _ => {
                for i in 0..rng.between(1, 5) {
                    if i > 0 {
                        s.push(' ');
                    }
                    push_sentence(&mut s, rng);
                }
            }
        }
        s.push_str("\n\n");
    }
    s
}

fn build_output(rng: &mut Rng, size: usize) -> String {
    let mut s = String::with_capacity(size + 4096);
    while s.len() < size {
        let w = *rng.pick(WORDS);
        let n = rng.below(100_000);
        let _ = match rng.below(9) {
            0 => writeln!(
                s,
                "-rw-r--r--  1 u u {:>7} Oct {:>2} {:02}:{:02} {}",
                n,
                1 + n % 30,
                n % 24,
                n % 60,
                rng.pick(FILES)
            ),
            1 => writeln!(
                s,
                "2026-10-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] {} {} {} {}ms",
                1 + n % 30,
                n % 24,
                n % 60,
                (n / 7) % 60,
                n % 1000,
                rng.pick(&["INFO", "WARN", "ERROR", "DEBUG"]),
                rng.pick(SERVICES),
                w,
                rng.pick(WORDS),
                rng.pick(WORDS),
                n % 5000
            ),
            2 => writeln!(
                s,
                "{}let {} = {}(\"{}\", {});",
                "    ".repeat(rng.idx(4)),
                w,
                rng.pick(WORDS),
                rng.pick(FILES),
                n
            ),
            3 => writeln!(
                s,
                "  {{\"id\": {}, \"name\": \"{}\", \"ok\": {}, \"path\": \"C:\\\\Users\\\\u\\\\{}\"}},",
                n,
                w,
                n % 2 == 0,
                rng.pick(WORDS)
            ),
            4 => writeln!(
                s,
                "{:07x} {}: {} {} {}",
                rng.next_u64() & 0xfff_ffff,
                rng.pick(&["fix", "feat", "chore", "docs", "refactor"]),
                w,
                rng.pick(WORDS),
                rng.pick(WORDS)
            ),
            5 => writeln!(s, "\u{1b}[32m✓\u{1b}[0m test {}::{} ... ok ({}ms)", w, rng.pick(WORDS), n % 900),
            6 => writeln!(s, "{},{},{}.{:02},2026-10-{:02}", n, w, n % 1000, n % 100, 1 + n % 30),
            7 => writeln!(s, "{}\t{}\t{}\t{}", w, n, rng.pick(WORDS), n % 7),
            _ => {
                push_sentence(&mut s, rng);
                writeln!(s)
            }
        };
    }
    s
}

/// A slice of about `len` bytes of `pool`, starting at a word and cut at char boundaries.
fn take<'p>(pool: &'p str, rng: &mut Rng, len: usize) -> &'p str {
    let len = len.clamp(1, pool.len() - 64);
    let mut a = rng.idx(pool.len() - len - 32);
    let bytes = pool.as_bytes();
    let word = bytes[a..a + 32].iter().position(|&c| c == b' ' || c == b'\n');
    if let Some(i) = word {
        a += i + 1;
    }
    while !pool.is_char_boundary(a) {
        a += 1;
    }
    let mut b = (a + len).min(pool.len());
    while !pool.is_char_boundary(b) {
        b += 1;
    }
    &pool[a..b]
}

// ---------------------------------------------------------------------------------------------
// The installation being simulated

struct Model {
    provider: &'static str,
    id: &'static str,
    api: &'static str,
    /// USD per 1M tokens: input, output, cacheRead, cacheWrite.
    price: [f64; 4],
    context: u64,
}

const MODELS: [Model; 4] = [
    Model {
        provider: "anthropic",
        id: "claude-opus-4-5",
        api: "anthropic-messages",
        price: [5.0, 25.0, 0.5, 6.25],
        context: 200_000,
    },
    Model {
        provider: "anthropic",
        id: "claude-sonnet-4-5",
        api: "anthropic-messages",
        price: [3.0, 15.0, 0.3, 3.75],
        context: 200_000,
    },
    Model {
        provider: "openai",
        id: "gpt-5",
        api: "openai-responses",
        price: [1.25, 10.0, 0.125, 0.0],
        context: 400_000,
    },
    Model {
        provider: "google",
        id: "gemini-2.5-pro",
        api: "google-generative-ai",
        price: [1.25, 10.0, 0.31, 0.0],
        context: 1_000_000,
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Store {
    Jsonl,
    Sqlite,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Telegram,
    Whatsapp,
    Discord,
    None,
}

impl Channel {
    const ALL: [Channel; 4] = [Channel::Telegram, Channel::Whatsapp, Channel::Discord, Channel::None];
    fn name(self) -> Option<&'static str> {
        match self {
            Channel::Telegram => Some("telegram"),
            Channel::Whatsapp => Some("whatsapp"),
            Channel::Discord => Some("discord"),
            Channel::None => None,
        }
    }
}

struct Job {
    id: String,
    name: &'static str,
    task: &'static str,
}

const JOBS: &[(&str, &str)] = &[
    ("morning-briefing", "Prepare the morning briefing: calendar, weather, unread mail, and anything due today."),
    ("inbox-triage", "Triage the inbox: label, archive newsletters, and list what needs a reply."),
    ("backup-check", "Check that last night's backups exist and are not empty; report problems only."),
    ("auto-dream", "Review recent sessions and consolidate durable facts into MEMORY.md."),
    ("disk-watch", "Check disk usage on all volumes and warn above 85 percent."),
    ("weekly-report", "Write the weekly activity report and post it to the team channel."),
];

/// One session-key row of the SQLite index, kept in memory and written at the end.
struct Node {
    sid: String,
    entry: String,
    updated_at: i64,
    status: Option<&'static str>,
    created_at: i64,
    created_via: &'static str,
    actor_type: Option<&'static str>,
    actor_id: Option<String>,
    parent: Option<String>,
    label: Option<String>,
    display_name: Option<String>,
    last_interaction_at: i64,
    last_activity_at: i64,
}

struct Agent {
    id: String,
    workspace: String,
    sessions_dir: PathBuf,
    model_weights: [u32; 4],
    /// Session keys of chat peers, by channel (index into `Channel::ALL`).
    peers: Vec<Vec<String>>,
    jobs: Vec<Job>,
    legacy: BTreeMap<String, (i64, Value)>,
    db: Option<Connection>,
    db_pending: u64,
    nodes: BTreeMap<String, Node>,
}

enum Kind {
    Chat { channel: Channel, children: usize },
    Cron { job: usize },
    Sub { parent: String, task: String, label: String },
}

struct Spec {
    agent: usize,
    store: Store,
    key: String,
    sid: String,
    kind: Kind,
    start: i64,
    /// No timestamp of the session goes past this.
    t_max: i64,
    budget: u64,
    model: usize,
}

/// What becomes of a deleted (`--archived-fraction`) session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arch {
    /// SQLite store: a `session_transcript_archives` row (zstd) + the identical `.zst` file.
    Row,
    /// JSONL store: the file renamed `<id>.jsonl.deleted.<ts>`.
    Renamed,
    /// JSONL store: only `<id>.jsonl.deleted.<ts>.zst` (the plain file gone).
    Zst,
}

/// State of the transcript being written.
struct Cur {
    agent: usize,
    store: Store,
    sid: String,
    file: Option<BufWriter<File>>,
    /// Deleted sessions: how they are kept; `Row` and `Zst` collect their JSONL in `buf`.
    arch: Option<Arch>,
    buf: Vec<u8>,
    seq: i64,
    t: i64,
    t_max: i64,
    parent: String,
    last_user_id: String,
    bytes: u64,
    model: usize,
    /// Context tokens the next model call sees, and what the previous one saw (cache).
    ctx: u64,
    prev_prompt: u64,
    last_usage: [u64; 5],
    cost_total: f64,
    last_user_t: i64,
    failed: bool,
}

struct Announce {
    due: i64,
    key: String,
    sid: String,
    task: String,
}

#[derive(Clone, Copy)]
enum Tool {
    Exec,
    Read,
    Write,
    WebSearch,
    Spawn,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Exec => "exec",
            Tool::Read => "read",
            Tool::Write => "write",
            Tool::WebSearch => "web_search",
            Tool::Spawn => "sessions_spawn",
        }
    }
}

struct Call {
    id: String,
    tool: Tool,
    /// The `arguments` object, already JSON.
    args: String,
    target: String,
    spawn: Option<(String, String)>,
}

#[derive(Default)]
struct Stats {
    /// Transcript bytes generated per store, archived sessions included (they drive the size
    /// and the time line, so that archiving changes nothing else).
    bytes_jsonl: u64,
    bytes_sqlite: u64,
    sessions: u64,
    events: u64,
    sessions_archived: u64,
    archive_rows: u64,
    renamed_files: u64,
    zst_files: u64,
    /// Of `bytes_jsonl` / `bytes_sqlite`: what is only in zstd archives.
    arch_jsonl: u64,
    arch_sqlite: u64,
    /// Inflated JSONL bytes of the zstd archives (each once; a row's identical file not again).
    bytes_archived: u64,
    /// Compressed bytes in archive rows, and in `.zst` files (the copies beside rows included).
    zst_row_bytes: u64,
    zst_file_bytes: u64,
    /// What a reader must count: model calls (assistant lines with `usage`), their tokens, and
    /// their cost (`usage.cost.total`, or the price table's, which equals it).
    calls: u64,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
    reasoning: u64,
    cost: f64,
}

struct Gen {
    rng: Rng,
    /// Which sessions are archived: a stream of its own, so `rng` (and every byte it decides)
    /// is the same with and without archives.
    arch_rng: Rng,
    archived_fraction: f64,
    /// `--sessions`: stop after this many sessions instead of at the byte target.
    sessions_goal: Option<u64>,
    pools: Pools,
    line: String,
    tmp: String,
    idbuf: String,
    agents: Vec<Agent>,
    stats: Stats,
    avg_budget: u64,
    end_ms: i64,
}

const SCHEMA: &str = "
CREATE TABLE schema_meta (
  meta_key TEXT NOT NULL PRIMARY KEY,
  role TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  agent_id TEXT,
  app_version TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE session_nodes (
  session_key TEXT NOT NULL PRIMARY KEY,
  current_session_id TEXT NOT NULL,
  entry_json TEXT NOT NULL,
  entry_valid INTEGER NOT NULL DEFAULT 0 CHECK (entry_valid IN (-1, 0, 1)),
  updated_at INTEGER NOT NULL,
  status TEXT CHECK (status IS NULL OR status IN ('running', 'done', 'failed', 'killed', 'timeout')),
  created_at INTEGER,
  created_via TEXT CHECK (created_via IS NULL OR created_via IN ('operator', 'spawn', 'channel', 'cron', 'talk', 'run', 'plugin', 'internal')),
  created_actor_type TEXT CHECK (created_actor_type IS NULL OR created_actor_type IN ('human', 'agent', 'system')),
  created_actor_id TEXT,
  parent_session_key TEXT,
  spawned_by TEXT,
  label TEXT,
  display_name TEXT,
  last_interaction_at INTEGER,
  last_activity_at INTEGER
) STRICT;
CREATE TABLE session_windows (
  session_id TEXT NOT NULL PRIMARY KEY,
  session_key TEXT NOT NULL,
  previous_session_id TEXT,
  reason TEXT CHECK (reason IS NULL OR reason IN ('initial', 'reset', 'rollover', 'fork', 'rewind', 'switch', 'recovery', 'compaction')),
  session_scope TEXT NOT NULL DEFAULT 'conversation' CHECK (session_scope IN ('conversation', 'shared-main', 'group', 'channel')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  transcript_updated_at INTEGER DEFAULT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  status TEXT CHECK (status IS NULL OR status IN ('running', 'done', 'failed', 'killed', 'timeout')),
  chat_type TEXT CHECK (chat_type IS NULL OR chat_type IN ('direct', 'group', 'channel')),
  channel TEXT,
  model_provider TEXT,
  model TEXT,
  agent_harness_id TEXT,
  parent_session_key TEXT,
  spawned_by TEXT,
  display_name TEXT,
  FOREIGN KEY (session_key) REFERENCES session_nodes(session_key) ON DELETE CASCADE
) STRICT;
CREATE TABLE transcript_events (
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_json TEXT,
  created_at INTEGER NOT NULL,
  event_zstd BLOB,
  event_utf8_bytes INTEGER CHECK (event_utf8_bytes IS NULL OR event_utf8_bytes >= 0),
  navigation_json TEXT,
  PRIMARY KEY (session_id, seq),
  FOREIGN KEY (session_id) REFERENCES session_windows(session_id) ON DELETE CASCADE,
  CHECK ((event_json IS NOT NULL AND event_zstd IS NULL) OR (event_json IS NULL AND event_zstd IS NOT NULL AND event_utf8_bytes IS NOT NULL AND navigation_json IS NOT NULL))
) STRICT;
CREATE INDEX idx_agent_session_nodes_current_session_id ON session_nodes(current_session_id);
CREATE INDEX idx_agent_session_nodes_parent_session_key ON session_nodes(parent_session_key) WHERE parent_session_key IS NOT NULL;
CREATE INDEX idx_agent_session_windows_session_key ON session_windows(session_key, updated_at DESC, session_id);
CREATE INDEX idx_agent_session_windows_updated_at ON session_windows(updated_at DESC, session_id);
";

// Real OpenClaw stores events above a few KB zstd-compressed in `event_zstd` (with
// `navigation_json`). No pure-Rust zstd *encoder* is available to this crate, so every
// generated row is plain `event_json` with `event_zstd` NULL; readers' zstd paths are tested on
// the real fixtures instead.
const INSERT_EVENT: &str = "INSERT INTO transcript_events \
    (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, navigation_json) \
    VALUES (?1, ?2, ?3, ?4, NULL, ?5, NULL)";

const INSERT_WINDOW: &str = "INSERT INTO session_windows \
    (session_id, session_key, previous_session_id, reason, session_scope, created_at, updated_at, \
     transcript_updated_at, started_at, ended_at, status, chat_type, channel, model_provider, \
     model, agent_harness_id, parent_session_key, spawned_by, display_name) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'openclaw', ?16, ?16, ?17)";

const INSERT_NODE: &str = "INSERT INTO session_nodes \
    (session_key, current_session_id, entry_json, entry_valid, updated_at, status, created_at, \
     created_via, created_actor_type, created_actor_id, parent_session_key, spawned_by, label, \
     display_name, last_interaction_at, last_activity_at) \
    VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14)";

/// OpenClaw 2026.9.6's archive table (`shared/fixtures/openclaw-2026.9.6/sqlite/agent-main.schema.sql`),
/// created only with `--archived-fraction` so that corpora without archives stay as they were.
const SCHEMA_ARCHIVES: &str = "
CREATE TABLE session_transcript_archives (
  session_id TEXT NOT NULL,
  generation TEXT NOT NULL,
  session_key TEXT NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('deleted', 'reset')),
  encoding TEXT NOT NULL CHECK (encoding IN ('identity', 'zstd')),
  archive_blob BLOB NOT NULL,
  archive_sha256 TEXT NOT NULL CHECK (length(archive_sha256) = 64),
  archive_name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  published_at INTEGER,
  publish_attempts INTEGER NOT NULL DEFAULT 0 CHECK (publish_attempts >= 0),
  last_publish_attempt_at INTEGER,
  last_publish_error TEXT,
  PRIMARY KEY (session_id, generation),
  CHECK (archive_name NOT LIKE '%/%' AND archive_name NOT LIKE '%\\%')
) STRICT;
CREATE INDEX idx_agent_session_transcript_archives_pending
  ON session_transcript_archives(created_at, session_id, generation)
  WHERE published_at IS NULL;
CREATE INDEX idx_agent_session_transcript_archives_retention
  ON session_transcript_archives(created_at, session_id, generation);
";

const INSERT_ARCHIVE: &str = "INSERT INTO session_transcript_archives \
    (session_id, generation, session_key, reason, encoding, archive_blob, archive_sha256, archive_name, \
     created_at, published_at, publish_attempts, last_publish_attempt_at, last_publish_error) \
    VALUES (?1, ?2, ?3, 'deleted', 'zstd', ?4, ?5, ?6, ?7, ?8, 1, ?8, NULL)";

/// Compresses a transcript the way OpenClaw's archives are: one zstd frame.
fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(data).iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// OpenClaw's archive time stamp: ISO 8601 with `:` turned into `-`.
fn archive_ts(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    push_iso(&mut s, ms);
    s.replace(':', "-")
}

fn open_db(path: &Path, agent: &str, now: i64, archives: bool) -> Res<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("{}: could not switch to WAL (got {mode})", path.display()).into());
    }
    // A generated corpus can be regenerated: trade durability for speed while loading. Rows go
    // in child-first (events, then their window, then the key's node at the end), so foreign
    // keys (on by default in rusqlite's bundled build) are checked by the tests instead.
    conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA cache_size=-32768; PRAGMA foreign_keys=OFF;")?;
    conn.execute_batch(SCHEMA)?;
    if archives {
        conn.execute_batch(SCHEMA_ARCHIVES)?;
    }
    conn.execute(
        "INSERT INTO schema_meta VALUES ('primary', 'agent', ?1, ?2, ?3, ?4, ?4)",
        params![AGENT_SCHEMA_VERSION, agent, APP_VERSION, now],
    )?;
    conn.execute_batch("BEGIN")?;
    Ok(conn)
}

fn agent_name(i: usize) -> String {
    match i {
        0 => "main".into(),
        1 => "ops".into(),
        2 => "research".into(),
        _ => format!("agent{}", i + 1),
    }
}

fn digits(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    s.push(char::from(b'1' + rng.below(9) as u8));
    for _ in 1..n {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    s
}

fn make_peer(rng: &mut Rng, agent: &str, ch: Channel) -> String {
    match ch {
        Channel::Telegram if rng.chance(0.8) => {
            format!("agent:{agent}:telegram:direct:{}", digits(rng, 10))
        }
        Channel::Telegram => format!("agent:{agent}:telegram:group:-100{}", digits(rng, 10)),
        Channel::Whatsapp if rng.chance(0.75) => {
            format!("agent:{agent}:whatsapp:direct:+1555{}", digits(rng, 7))
        }
        Channel::Whatsapp => format!("agent:{agent}:whatsapp:group:{}@g.us", digits(rng, 18)),
        Channel::Discord => format!("agent:{agent}:discord:channel:{}", digits(rng, 18)),
        Channel::None => format!("agent:{agent}:main"),
    }
}

/// `direct` / `group` / `channel` and the peer address, from a chat session key.
fn peer_of(key: &str) -> (&'static str, &str) {
    let mut it = key.rsplitn(3, ':');
    let peer = it.next().unwrap_or("");
    match it.next() {
        Some("group") => ("group", peer),
        Some("channel") => ("channel", peer),
        _ => ("direct", peer),
    }
}

// ---------------------------------------------------------------------------------------------

impl Gen {
    fn new(args: &Args, out: &Path, n_plan: u64) -> Res<Gen> {
        let mut rng = Rng(args.seed ^ 0x636C_6177_6D65_7472);
        let pools = Pools::new(&mut rng);
        let peers_per_channel = (n_plan / (args.agents as u64 * 4 * 20)).clamp(2, 400) as usize;
        let mut agents = Vec::with_capacity(args.agents);
        for i in 0..args.agents {
            let id = agent_name(i);
            let workspace = if i == 0 { format!("{HOME}/workspace") } else { format!("{HOME}/workspace-{id}") };
            let sessions_dir = out.join("agents").join(&id).join("sessions");
            let agent_dir = out.join("agents").join(&id).join("agent");
            fs::create_dir_all(&sessions_dir)?;
            fs::create_dir_all(&agent_dir)?;
            let db = if args.sqlite_share > 0.0 {
                Some(open_db(
                    &agent_dir.join("openclaw-agent.sqlite"),
                    &id,
                    args.end_ms - WINDOW,
                    args.archived_fraction > 0.0,
                )?)
            } else {
                None
            };
            let peers = Channel::ALL
                .iter()
                .map(|&ch| {
                    let n = if ch == Channel::None { 1 } else { peers_per_channel };
                    (0..n).map(|_| make_peer(&mut rng, &id, ch)).collect()
                })
                .collect();
            let jobs = (0..3)
                .map(|j| {
                    let (name, task) = JOBS[(i * 2 + j) % JOBS.len()];
                    Job { id: uuid(&mut rng), name, task }
                })
                .collect();
            let model_weights = match i {
                0 => [20, 50, 15, 15],
                1 => [10, 40, 40, 10],
                2 => [35, 15, 15, 35],
                _ => [25, 25, 25, 25],
            };
            agents.push(Agent {
                id,
                workspace,
                sessions_dir,
                model_weights,
                peers,
                jobs,
                legacy: BTreeMap::new(),
                db,
                db_pending: 0,
                nodes: BTreeMap::new(),
            });
        }
        Ok(Gen {
            rng,
            arch_rng: Rng(args.seed ^ 0x6172_6368_6976_6564),
            archived_fraction: args.archived_fraction,
            sessions_goal: args.sessions,
            pools,
            line: String::with_capacity(1 << 20),
            tmp: String::with_capacity(1 << 20),
            idbuf: String::with_capacity(40),
            agents,
            stats: Stats::default(),
            avg_budget: 0,
            end_ms: args.end_ms,
        })
    }

    fn total(&self) -> u64 {
        self.stats.bytes_jsonl + self.stats.bytes_sqlite
    }

    /// Log-normal session size around the average, so a few sessions are huge.
    fn budget(&mut self) -> u64 {
        let f = (0.9 * self.rng.normal() - 0.405).exp().clamp(0.03, 15.0);
        (self.avg_budget as f64 * f) as u64
    }

    /// `--long-chat`: one long chat after another, the stores taking turns.
    fn run_long_chats(&mut self, args: &Args) -> Res<()> {
        let win_start = self.end_ms - WINDOW;
        for i in 0..args.long_chat {
            let store = if args.sqlite_share <= 0.0 {
                Store::Jsonl
            } else if args.sqlite_share >= 1.0 || i % 2 == 1 {
                Store::Sqlite
            } else {
                Store::Jsonl
            };
            let agent = (i as usize) % self.agents.len();
            let model = self.rng.weighted(&self.agents[agent].model_weights);
            // A channel with a person on it (no heartbeats), the first peer of it.
            let ci = (i as usize) % 3;
            let key = self.agents[agent].peers[ci][0].clone();
            let spec = Spec {
                agent,
                store,
                key,
                sid: uuid(&mut self.rng),
                kind: Kind::Chat { channel: Channel::ALL[ci], children: 0 },
                start: win_start + i as i64 * HOUR,
                t_max: self.end_ms - 1,
                budget: args.session_mb * MIB,
                model,
            };
            self.session(spec)?;
        }
        Ok(())
    }

    fn run(&mut self, args: &Args, target: u64) -> Res<()> {
        let win_start = self.end_ms - WINDOW;
        let spread = (WINDOW - 8 * HOUR) as f64;
        let agent_w: Vec<u32> = (0..self.agents.len()).map(|i| [50, 30, 20].get(i).copied().unwrap_or(15)).collect();
        let goal = self.sessions_goal;
        while goal.map_or(self.total() < target, |n| self.stats.sessions < n) {
            let done = self.total();
            // How far along the run is: by bytes, or by sessions with --sessions.
            let progress = match goal {
                None => done as f64 / target as f64,
                Some(n) => self.stats.sessions as f64 / n as f64,
            };
            let store = if args.sqlite_share <= 0.0 {
                Store::Jsonl
            } else if args.sqlite_share >= 1.0 {
                Store::Sqlite
            } else if args.interleave {
                let s = self.stats.bytes_sqlite as f64 * (1.0 - args.sqlite_share);
                let j = self.stats.bytes_jsonl as f64 * args.sqlite_share;
                if s <= j {
                    Store::Sqlite
                } else {
                    Store::Jsonl
                }
            } else {
                // Legacy files first, SQLite after (by bytes as before, or by sessions).
                let files_era = match goal {
                    None => (done as f64) < (1.0 - args.sqlite_share) * target as f64,
                    Some(_) => progress < 1.0 - args.sqlite_share,
                };
                if files_era {
                    Store::Jsonl
                } else {
                    Store::Sqlite
                }
            };
            let start = (win_start + (progress * spread) as i64 + self.rng.below(2 * HOUR as u64) as i64)
                .min(self.end_ms - MIN);
            let agent = self.rng.weighted(&agent_w);
            let model = self.rng.weighted(&self.agents[agent].model_weights);
            let (key, kind) = if self.rng.chance(0.125) {
                let job = self.rng.idx(self.agents[agent].jobs.len());
                let key = format!("agent:{}:cron:{}", self.agents[agent].id, self.agents[agent].jobs[job].id);
                (key, Kind::Cron { job })
            } else {
                let ci = self.rng.weighted(&[35, 20, 15, 30]);
                let peers = &self.agents[agent].peers[ci];
                let key = peers[self.rng.idx(peers.len())].clone();
                let children = if self.rng.chance(0.2) { 1 + self.rng.idx(2) } else { 0 };
                (key, Kind::Chat { channel: Channel::ALL[ci], children })
            };
            let spec = Spec {
                agent,
                store,
                key,
                sid: uuid(&mut self.rng),
                kind,
                start,
                t_max: self.end_ms - 1,
                budget: self.budget(),
                model,
            };
            let children = self.session(spec)?;
            for child in children {
                self.session(child)?;
            }
        }
        Ok(())
    }

    // --- line plumbing -------------------------------------------------------------------------

    fn tick(&mut self, cur: &mut Cur, lo_ms: f64, hi_ms: f64) {
        let dt = self.rng.log_uniform(lo_ms, hi_ms) as i64;
        cur.t = (cur.t + dt).min(cur.t_max).max(cur.t);
    }

    /// Starts a tree line: `{"type":..,"id":..,"parentId":..,"timestamp":..` (no closing brace).
    fn head(&mut self, cur: &mut Cur, ty: &str) {
        self.line.clear();
        self.line.push_str("{\"type\":\"");
        self.line.push_str(ty);
        self.line.push_str("\",\"id\":\"");
        self.idbuf.clear();
        if cur.store == Store::Sqlite {
            push_uuid(&mut self.idbuf, &mut self.rng);
        } else {
            push_hex(&mut self.idbuf, self.rng.next_u64(), 8);
        }
        self.line.push_str(&self.idbuf);
        self.line.push_str("\",\"parentId\":");
        if cur.parent.is_empty() {
            self.line.push_str("null");
        } else {
            push_lit(&mut self.line, &cur.parent);
        }
        self.line.push_str(",\"timestamp\":\"");
        push_iso(&mut self.line, cur.t);
        self.line.push('"');
        cur.parent.clear();
        cur.parent.push_str(&self.idbuf);
    }

    fn emit(&mut self, cur: &mut Cur) -> Res<()> {
        let n = self.line.len() as u64;
        match cur.store {
            Store::Jsonl if cur.arch == Some(Arch::Zst) => {
                cur.buf.extend_from_slice(self.line.as_bytes());
                cur.buf.push(b'\n');
                self.stats.bytes_jsonl += n + 1;
                self.stats.arch_jsonl += n + 1;
                cur.bytes += n + 1;
            }
            Store::Jsonl => {
                let w = cur.file.as_mut().ok_or("internal: JSONL session without a file")?;
                w.write_all(self.line.as_bytes())?;
                w.write_all(b"\n")?;
                self.stats.bytes_jsonl += n + 1;
                cur.bytes += n + 1;
            }
            Store::Sqlite if cur.arch == Some(Arch::Row) => {
                // The archive is the transcript as JSONL: each row's event_json and a newline.
                cur.buf.extend_from_slice(self.line.as_bytes());
                cur.buf.push(b'\n');
                self.stats.bytes_sqlite += n;
                self.stats.arch_sqlite += n;
                cur.bytes += n;
            }
            Store::Sqlite => {
                let ag = &mut self.agents[cur.agent];
                let db = ag.db.as_ref().ok_or("internal: SQLite session without a DB")?;
                db.prepare_cached(INSERT_EVENT)?.execute(params![cur.sid, cur.seq, self.line, cur.t, n as i64])?;
                ag.db_pending += n;
                self.stats.bytes_sqlite += n;
                cur.bytes += n;
            }
        }
        cur.seq += 1;
        cur.ctx += n / 4;
        self.stats.events += 1;
        Ok(())
    }

    // --- a session -----------------------------------------------------------------------------

    fn session(&mut self, spec: Spec) -> Res<Vec<Spec>> {
        let arch = if self.archived_fraction > 0.0 && self.arch_rng.chance(self.archived_fraction) {
            Some(match spec.store {
                Store::Sqlite => Arch::Row,
                Store::Jsonl if self.arch_rng.chance(0.5) => Arch::Renamed,
                Store::Jsonl => Arch::Zst,
            })
        } else {
            None
        };
        let file = match spec.store {
            Store::Jsonl if arch == Some(Arch::Zst) => None,
            Store::Jsonl => {
                let path = self.agents[spec.agent].sessions_dir.join(format!("{}.jsonl", spec.sid));
                Some(BufWriter::with_capacity(256 << 10, File::create(path)?))
            }
            Store::Sqlite => None,
        };
        let mut cur = Cur {
            agent: spec.agent,
            store: spec.store,
            sid: spec.sid.clone(),
            file,
            arch,
            buf: Vec::new(),
            seq: 0,
            t: spec.start,
            t_max: spec.t_max,
            parent: String::with_capacity(40),
            last_user_id: String::new(),
            bytes: 0,
            model: spec.model,
            ctx: 0,
            prev_prompt: 0,
            last_usage: [0; 5],
            cost_total: 0.0,
            last_user_t: spec.start,
            failed: false,
        };
        let m = &MODELS[spec.model];

        self.line.clear();
        self.line.push_str("{\"type\":\"session\",\"version\":4,\"id\":\"");
        self.line.push_str(&spec.sid);
        self.line.push_str("\",\"timestamp\":\"");
        push_iso(&mut self.line, cur.t);
        self.line.push_str("\",\"cwd\":");
        push_lit(&mut self.line, &self.agents[spec.agent].workspace);
        self.line.push('}');
        self.emit(&mut cur)?;

        self.tick(&mut cur, 1.0, 40.0);
        self.model_change(&mut cur);
        self.emit(&mut cur)?;
        self.head(&mut cur, "thinking_level_change");
        self.line.push_str(",\"thinkingLevel\":\"");
        self.line.push_str(self.rng.pick_str(&["off", "off", "low", "medium"]));
        self.line.push_str("\"}");
        self.emit(&mut cur)?;
        self.tick(&mut cur, 5.0, 120.0);
        self.head(&mut cur, "custom");
        self.line.push_str(",\"customType\":\"model-snapshot\",\"data\":{\"timestamp\":");
        push_num(&mut self.line, cur.t);
        self.line.push_str(",\"provider\":\"");
        self.line.push_str(m.provider);
        self.line.push_str("\",\"modelApi\":\"");
        self.line.push_str(m.api);
        self.line.push_str("\",\"modelId\":\"");
        self.line.push_str(m.id);
        self.line.push_str("\"}}");
        self.emit(&mut cur)?;
        // System prompt, tools and workspace files: what every first call carries.
        cur.ctx = self.rng.between(9_000, 16_000);

        let mut to_spawn = match spec.kind {
            Kind::Chat { children, .. } => children,
            _ => 0,
        };
        let mut children = Vec::new();
        let mut announces: Vec<Announce> = Vec::new();
        let mut turn = 0usize;
        loop {
            if turn > 0 {
                if !matches!(spec.kind, Kind::Chat { .. }) || cur.bytes >= spec.budget {
                    break;
                }
                let next = cur.t + self.rng.log_uniform(20e3, 40.0 * 60e3) as i64;
                if let Some(i) = (0..announces.len()).min_by_key(|&i| announces[i].due) {
                    if announces[i].due <= next {
                        let a = announces.swap_remove(i);
                        self.announce_turn(&mut cur, &spec, &a)?;
                        turn += 1;
                        continue;
                    }
                }
                cur.t = next.min(cur.t_max);
                if self.rng.chance(0.03) && cur.model == spec.model {
                    // The user switches model for the rest of the session.
                    cur.model = self.rng.idx(MODELS.len());
                    self.model_change(&mut cur);
                    self.emit(&mut cur)?;
                    self.tick(&mut cur, 200.0, 20e3);
                }
            }
            let heartbeat =
                turn > 0 && matches!(spec.kind, Kind::Chat { channel: Channel::None, .. }) && self.rng.chance(0.06);
            if heartbeat {
                self.heartbeat_turn(&mut cur)?;
            } else {
                self.user_message(&mut cur, &spec, turn)?;
                self.agent_loop(&mut cur, &spec, &mut to_spawn, &mut children, &mut announces)?;
            }
            turn += 1;
        }
        announces.sort_by_key(|a| a.due);
        for a in announces {
            self.announce_turn(&mut cur, &spec, &a)?;
        }
        if let Some(mut f) = cur.file.take() {
            f.flush()?;
        }
        self.record(&spec, &mut cur)?;
        self.stats.sessions += 1;
        Ok(children)
    }

    fn model_change(&mut self, cur: &mut Cur) {
        let m = &MODELS[cur.model];
        self.head(cur, "model_change");
        self.line.push_str(",\"provider\":\"");
        self.line.push_str(m.provider);
        self.line.push_str("\",\"modelId\":\"");
        self.line.push_str(m.id);
        self.line.push_str("\"}");
    }

    /// `{"type":"message",…,"message":{"role":"user","content":` — the caller writes the rest.
    fn user_head(&mut self, cur: &mut Cur) {
        self.head(cur, "message");
        cur.last_user_id.clear();
        cur.last_user_id.push_str(&cur.parent);
        cur.last_user_t = cur.t;
        self.line.push_str(",\"message\":{\"role\":\"user\",\"content\":");
    }

    fn user_message(&mut self, cur: &mut Cur, spec: &Spec, turn: usize) -> Res<()> {
        self.tmp.clear();
        match &spec.kind {
            Kind::Cron { job } if turn == 0 => {
                let j = &self.agents[spec.agent].jobs[*job];
                let _ = write!(self.tmp, "[cron:{} {}] {}\nCurrent time: ", j.id, j.name, j.task);
                push_iso(&mut self.tmp, cur.t);
                self.tmp.push_str(
                    "\n\nThis is an unattended scheduled run. Nobody is present to clarify or \
                     approve, so complete the task with what you have. If nothing needs doing, \
                     reply exactly NO_REPLY.",
                );
            }
            Kind::Sub { task, .. } if turn == 0 => {
                self.tmp.push_str(
                    "[Subagent Context] You are running as a subagent (depth 1/1). Results \
                     auto-announce to your requester; do not busy-poll for status.\n\n\
                     [Subagent Task]: ",
                );
                self.tmp.push_str(task);
            }
            _ => {
                self.tmp.push_str(self.rng.pick_str(ASKS));
                if self.rng.chance(0.6) {
                    let n = if self.rng.chance(0.05) {
                        self.rng.log_uniform(1500.0, 6000.0)
                    } else {
                        self.rng.log_uniform(20.0, 600.0)
                    } as usize;
                    self.tmp.push(' ');
                    self.tmp.push_str(take(&self.pools.prose, &mut self.rng, n));
                }
            }
        }
        self.user_head(cur);
        push_lit(&mut self.line, &self.tmp);
        push_key(&mut self.line, "timestamp");
        push_num(&mut self.line, cur.t);
        self.line.push_str("}}");
        self.emit(cur)
    }

    fn heartbeat_turn(&mut self, cur: &mut Cur) -> Res<()> {
        self.user_head(cur);
        self.line.push_str("\"[OpenClaw heartbeat poll]\",\"timestamp\":");
        push_num(&mut self.line, cur.t);
        self.line.push_str(",\"provenance\":{\"kind\":\"internal_system\",\"sourceTool\":\"heartbeat\"}}}");
        self.emit(cur)?;
        self.tick(cur, 600.0, 8e3);
        self.assistant(cur, &[], "stop", Some("NO_REPLY"))
    }

    fn announce_turn(&mut self, cur: &mut Cur, spec: &Spec, a: &Announce) -> Res<()> {
        cur.t = cur.t.max(a.due).min(cur.t_max);
        self.tmp.clear();
        self.tmp.push('[');
        push_iso(&mut self.tmp, cur.t);
        let _ = write!(
            self.tmp,
            "] OpenClaw runtime context (internal):\nThis context is runtime-generated, not \
             user-authored. Keep internal details private.\n\n[Internal task completion event]\n\
             source: subagent\nsession_key: {}\nsession_id: {}\ntype: subagent task\ntask: ",
            a.key, a.sid
        );
        let cut = a.task.char_indices().nth(300).map_or(a.task.len(), |(i, _)| i);
        self.tmp.push_str(&a.task[..cut]);
        self.tmp.push_str("\nstatus: completed successfully\n\nResult (untrusted content):\n");
        let n = self.rng.log_uniform(200.0, 3000.0) as usize;
        self.tmp.push_str(take(&self.pools.prose, &mut self.rng, n));
        self.user_head(cur);
        push_lit(&mut self.line, &self.tmp);
        push_key(&mut self.line, "timestamp");
        push_num(&mut self.line, cur.t);
        self.line.push_str(",\"provenance\":{\"kind\":\"inter_session\",\"sourceSessionKey\":");
        push_lit(&mut self.line, &a.key);
        self.line.push_str(",\"sourceChannel\":");
        let ch = match spec.kind {
            Kind::Chat { channel, .. } => channel.name().unwrap_or("webchat"),
            _ => "webchat",
        };
        push_lit(&mut self.line, ch);
        self.line.push_str(",\"sourceTool\":\"subagent_announce\"}}}");
        self.emit(cur)?;
        self.tick(cur, 1500.0, 30e3);
        self.assistant(cur, &[], "stop", None)
    }

    /// Tool rounds until the turn's share of the budget is used, then the final answer.
    fn agent_loop(
        &mut self,
        cur: &mut Cur,
        spec: &Spec,
        to_spawn: &mut usize,
        children: &mut Vec<Spec>,
        announces: &mut Vec<Announce>,
    ) -> Res<()> {
        let cap = match spec.kind {
            Kind::Chat { .. } => {
                let mut r = 0;
                while r < 12 && self.rng.chance(0.62) {
                    r += 1;
                }
                r
            }
            _ => 80,
        };
        let mut round = 0;
        loop {
            if *to_spawn == 0 && (round >= cap || cur.bytes >= spec.budget) {
                break;
            }
            self.tick(cur, 800.0, 25e3);
            if self.rng.chance(0.004) {
                return self.error_message(cur);
            }
            let calls = if *to_spawn > 0 {
                let n = (*to_spawn).min(2);
                *to_spawn -= n;
                (0..n).map(|_| self.spawn_call(cur, spec, children, announces)).collect::<Vec<_>>()
            } else {
                let n = 1 + self.rng.weighted(&[85, 12, 3]);
                (0..n).map(|_| self.tool_call(cur)).collect()
            };
            let text = self.rng.chance(0.3).then_some("");
            self.assistant(cur, &calls, "toolUse", text)?;
            for c in &calls {
                self.tool_result(cur, c)?;
            }
            round += 1;
        }
        self.tick(cur, 1500.0, 40e3);
        if self.rng.chance(0.008) {
            return self.error_message(cur);
        }
        self.assistant(cur, &[], "stop", None)
    }

    fn call_id(&mut self, cur: &Cur) -> String {
        let mut id = String::with_capacity(32);
        if MODELS[cur.model].provider == "anthropic" {
            id.push_str("toolu_01");
            push_base62(&mut id, &mut self.rng, 22);
        } else {
            id.push_str("call_");
            push_hex(&mut id, self.rng.next_u64(), 16);
            push_hex(&mut id, self.rng.next_u64(), 8);
        }
        id
    }

    fn tool_call(&mut self, cur: &Cur) -> Call {
        let id = self.call_id(cur);
        let tool = match self.rng.weighted(&[42, 26, 10, 14]) {
            0 => Tool::Exec,
            1 => Tool::Read,
            2 => Tool::Write,
            _ => Tool::WebSearch,
        };
        let r = &mut self.rng;
        let target = match tool {
            Tool::Exec => {
                let n = r.between(5, 200);
                match r.below(12) {
                    0 => format!("ls -la {}", r.pick(DIRS)),
                    1 => format!("git -C {} status --short", r.pick(DIRS)),
                    2 => format!("git log --oneline -n {n}"),
                    3 => format!("grep -rn \"{}\" {} | head -{n}", r.pick(WORDS), r.pick(DIRS)),
                    4 => format!("systemctl status {} --no-pager", r.pick(SERVICES)),
                    5 => format!("journalctl -u {} -n {n} --no-pager", r.pick(SERVICES)),
                    6 => (*r.pick(&["df -h", "free -m", "uptime", "docker ps -a"])).to_string(),
                    7 => format!("cat {}", r.pick(FILES)),
                    8 => format!("python3 scripts/{}.py --dry-run", r.pick(WORDS)),
                    9 => format!("curl -s 'https://api.example.com/v1/{}?limit={n}' | jq .", r.pick(WORDS)),
                    10 => format!("npm test -- {}", r.pick(WORDS)),
                    _ => format!("tail -n {n} /var/log/{}/error.log", r.pick(SERVICES)),
                }
            }
            Tool::Read | Tool::Write => {
                let f = *r.pick(FILES);
                if f.starts_with('/') {
                    f.to_string()
                } else {
                    format!("{}/{f}", self.agents[cur.agent].workspace)
                }
            }
            _ => format!("{} {} {} 2026", r.pick(WORDS), r.pick(WORDS), r.pick(WORDS)),
        };
        let mut args = String::with_capacity(128);
        match tool {
            Tool::Exec => {
                args.push_str("{\"command\":");
                push_lit(&mut args, &target);
                if self.rng.chance(0.2) {
                    args.push_str(",\"timeout\":120");
                }
            }
            Tool::Read => {
                args.push_str("{\"path\":");
                push_lit(&mut args, &target);
                if self.rng.chance(0.15) {
                    args.push_str(",\"offset\":1,\"limit\":400");
                }
            }
            Tool::Write => {
                args.push_str("{\"path\":");
                push_lit(&mut args, &target);
                args.push_str(",\"content\":");
                let n = self.rng.log_uniform(200.0, 8000.0) as usize;
                push_lit(&mut args, take(&self.pools.output, &mut self.rng, n));
            }
            _ => {
                args.push_str("{\"query\":");
                push_lit(&mut args, &target);
                args.push_str(",\"count\":5");
            }
        }
        args.push('}');
        Call { id, tool, args, target, spawn: None }
    }

    fn spawn_call(&mut self, cur: &Cur, spec: &Spec, children: &mut Vec<Spec>, announces: &mut Vec<Announce>) -> Call {
        let id = self.call_id(cur);
        let label = format!("{}-{}", self.rng.pick(LABELS), self.rng.below(1000));
        let n = self.rng.log_uniform(80.0, 1500.0) as usize;
        let task = format!("{} {}", self.rng.pick(ASKS), take(&self.pools.prose, &mut self.rng, n));
        let mut args = String::with_capacity(task.len() + 64);
        args.push_str("{\"task\":");
        push_lit(&mut args, &task);
        args.push_str(",\"label\":");
        push_lit(&mut args, &label);
        args.push('}');
        let key = format!("agent:{}:subagent:{}", self.agents[spec.agent].id, uuid(&mut self.rng));
        let sid = uuid(&mut self.rng);
        let run_id = uuid(&mut self.rng);
        let start = (cur.t + self.rng.between(300, 3000) as i64).min(spec.t_max);
        let end_by = (start + self.rng.log_uniform(30e3, 30.0 * 60e3) as i64).min(spec.t_max);
        let model =
            if self.rng.chance(0.7) { spec.model } else { self.rng.weighted(&self.agents[spec.agent].model_weights) };
        children.push(Spec {
            agent: spec.agent,
            store: spec.store,
            key: key.clone(),
            sid: sid.clone(),
            kind: Kind::Sub { parent: spec.key.clone(), task: task.clone(), label },
            start,
            t_max: end_by,
            budget: self.budget(),
            model,
        });
        announces.push(Announce { due: end_by + self.rng.between(500, 5000) as i64, key: key.clone(), sid, task });
        Call { id, tool: Tool::Spawn, args, target: String::new(), spawn: Some((key, run_id)) }
    }

    /// An assistant message. `text`: `None` = a generated answer, `Some("")` = a short preamble
    /// before tool calls, `Some(s)` = exactly `s`.
    fn assistant(&mut self, cur: &mut Cur, calls: &[Call], stop: &str, text: Option<&str>) -> Res<()> {
        let m = &MODELS[cur.model];
        let stop = if calls.is_empty() { "stop" } else { stop };
        self.head(cur, "message");
        self.line.push_str(",\"message\":{\"role\":\"assistant\",\"content\":[");
        let content_start = self.line.len();
        let mut thinking = 0usize;
        let wants_thinking = match m.provider {
            "anthropic" => self.rng.chance(0.3),
            _ => self.rng.chance(0.1),
        };
        if wants_thinking && text != Some("NO_REPLY") {
            let n = self.rng.log_uniform(100.0, 2500.0) as usize;
            self.line.push_str("{\"type\":\"thinking\",\"thinking\":");
            let before = self.line.len();
            push_lit(&mut self.line, take(&self.pools.prose, &mut self.rng, n));
            thinking = self.line.len() - before;
            self.line.push('}');
        }
        let body = match text {
            Some("") => {
                let n = self.rng.log_uniform(30.0, 300.0) as usize;
                Some(take(&self.pools.prose, &mut self.rng, n))
            }
            Some(s) => Some(s),
            None if calls.is_empty() => {
                let n = if self.rng.chance(0.05) {
                    self.rng.log_uniform(3000.0, 9000.0)
                } else {
                    self.rng.log_uniform(40.0, 2500.0)
                } as usize;
                Some(take(&self.pools.prose, &mut self.rng, n))
            }
            None => None,
        };
        if let Some(b) = body {
            if self.line.len() > content_start {
                self.line.push(',');
            }
            self.line.push_str("{\"type\":\"text\",\"text\":");
            push_lit(&mut self.line, b);
            self.line.push('}');
        }
        for c in calls {
            if self.line.len() > content_start {
                self.line.push(',');
            }
            self.line.push_str("{\"type\":\"toolCall\",\"id\":\"");
            self.line.push_str(&c.id);
            self.line.push_str("\",\"name\":\"");
            self.line.push_str(c.tool.name());
            self.line.push_str("\",\"arguments\":");
            self.line.push_str(&c.args);
            self.line.push('}');
        }
        let out_bytes = (self.line.len() - content_start) as u64;
        self.line.push_str("],\"api\":\"");
        self.line.push_str(m.api);
        self.line.push_str("\",\"provider\":\"");
        self.line.push_str(m.provider);
        self.line.push_str("\",\"model\":\"");
        self.line.push_str(m.id);
        self.line.push('"');

        // Usage: the prompt is everything so far; most of it is a cache hit on the previous one.
        let prompt = cur.ctx;
        let hit = cur.prev_prompt > 0 && self.rng.chance(0.9);
        let (input, cache_read, cache_write) = if m.provider == "anthropic" {
            if hit {
                let cr = cur.prev_prompt.min(prompt);
                (self.rng.between(1, 40), cr, prompt.saturating_sub(cr))
            } else {
                (self.rng.between(1, 40), 0, prompt)
            }
        } else if hit {
            let cr = cur.prev_prompt.min(prompt) / 128 * 128;
            (prompt - cr, cr, 0)
        } else {
            (prompt, 0, 0)
        };
        let reasoning =
            if m.provider == "anthropic" { thinking as u64 / 4 } else { self.rng.below(out_bytes / 2 + 200) };
        let output = out_bytes / 4 + self.rng.between(3, 40) + reasoning;
        let total = input + output + cache_read + cache_write;
        let p = m.price;
        let costs = [
            input as f64 * p[0] / 1e6,
            output as f64 * p[1] / 1e6,
            cache_read as f64 * p[2] / 1e6,
            cache_write as f64 * p[3] / 1e6,
        ];
        let cost_total = costs.iter().sum::<f64>();
        let st = &mut self.stats;
        st.calls += 1;
        st.input += input;
        st.output += output;
        st.cache_read += cache_read;
        st.cache_write += cache_write;
        st.reasoning += reasoning;
        st.cost += cost_total;
        self.line.push_str(",\"usage\":{\"input\":");
        push_num(&mut self.line, input);
        push_key(&mut self.line, "output");
        push_num(&mut self.line, output);
        push_key(&mut self.line, "cacheRead");
        push_num(&mut self.line, cache_read);
        push_key(&mut self.line, "cacheWrite");
        push_num(&mut self.line, cache_write);
        push_key(&mut self.line, "reasoningTokens");
        push_num(&mut self.line, reasoning);
        push_key(&mut self.line, "totalTokens");
        push_num(&mut self.line, total);
        // ~30 % of messages carry no cost, so readers must fall back to their price table.
        if self.rng.chance(0.7) {
            self.line.push_str(",\"cost\":{\"input\":");
            push_num(&mut self.line, costs[0]);
            push_key(&mut self.line, "output");
            push_num(&mut self.line, costs[1]);
            push_key(&mut self.line, "cacheRead");
            push_num(&mut self.line, costs[2]);
            push_key(&mut self.line, "cacheWrite");
            push_num(&mut self.line, costs[3]);
            push_key(&mut self.line, "total");
            push_num(&mut self.line, cost_total);
            self.line.push('}');
        }
        self.line.push_str("},\"stopReason\":\"");
        self.line.push_str(stop);
        self.line.push_str("\",\"timestamp\":");
        push_num(&mut self.line, cur.t - self.rng.between(5, 400) as i64);
        self.line.push_str(",\"responseId\":\"");
        match m.provider {
            "anthropic" => {
                self.line.push_str("msg_01");
                push_base62(&mut self.line, &mut self.rng, 22);
            }
            "openai" => {
                self.line.push_str("resp_");
                for _ in 0..3 {
                    push_hex(&mut self.line, self.rng.next_u64(), 16);
                }
            }
            _ => push_base62(&mut self.line, &mut self.rng, 22),
        }
        self.line.push_str("\"}}");
        cur.last_usage = [input, output, cache_read, cache_write, total];
        // A session counts as failed only while its latest turn ended in an error.
        if stop == "stop" {
            cur.failed = false;
        }
        cur.cost_total += cost_total;
        cur.prev_prompt = prompt;
        self.emit(cur)?;
        self.maybe_compact(cur)
    }

    fn error_message(&mut self, cur: &mut Cur) -> Res<()> {
        let m = &MODELS[cur.model];
        self.head(cur, "message");
        self.line.push_str(",\"message\":{\"role\":\"assistant\",\"content\":[],\"api\":\"");
        self.line.push_str(m.api);
        self.line.push_str("\",\"provider\":\"");
        self.line.push_str(m.provider);
        self.line.push_str("\",\"model\":\"");
        self.line.push_str(m.id);
        self.line.push_str(
            "\",\"usage\":{\"input\":0,\"output\":0,\"cacheRead\":0,\"cacheWrite\":0,\
             \"reasoningTokens\":0,\"totalTokens\":0,\"cost\":{\"input\":0,\"output\":0,\
             \"cacheRead\":0,\"cacheWrite\":0,\"total\":0}},\"stopReason\":\"error\",\"timestamp\":",
        );
        push_num(&mut self.line, cur.t);
        self.line.push_str(",\"errorMessage\":");
        push_lit(&mut self.line, self.rng.pick_str(ERRORS));
        self.line.push_str("}}");
        // A model call too (all-zero usage).
        self.stats.calls += 1;
        cur.failed = true;
        self.emit(cur)
    }

    fn maybe_compact(&mut self, cur: &mut Cur) -> Res<()> {
        let limit = MODELS[cur.model].context.min(200_000) * 4 / 5;
        if cur.ctx < limit {
            return Ok(());
        }
        let before = cur.ctx;
        self.tick(cur, 2e3, 40e3);
        self.head(cur, "compaction");
        self.line.push_str(",\"summary\":");
        let n = self.rng.log_uniform(1000.0, 6000.0) as usize;
        self.tmp.clear();
        self.tmp.push_str("## Goal\n");
        self.tmp.push_str(take(&self.pools.prose, &mut self.rng, n));
        push_lit(&mut self.line, &self.tmp);
        self.line.push_str(",\"firstKeptEntryId\":");
        push_lit(&mut self.line, &cur.last_user_id);
        push_key(&mut self.line, "tokensBefore");
        push_num(&mut self.line, before);
        self.line.push_str(",\"details\":{\"readFiles\":[],\"modifiedFiles\":[]}}");
        self.emit(cur)?;
        cur.ctx = self.rng.between(15_000, 40_000);
        cur.prev_prompt = 0;
        Ok(())
    }

    /// Tool output sizes: mostly small, a long tail to 20 KB, and a few ~200 KB dumps.
    fn output_len(&mut self) -> usize {
        let r = self.rng.unit();
        (if r < 0.001 {
            self.rng.log_uniform(150e3, 250e3)
        } else if r < 0.16 {
            self.rng.log_uniform(1500.0, 20e3)
        } else {
            self.rng.log_uniform(200.0, 1500.0)
        }) as usize
    }

    fn tool_result(&mut self, cur: &mut Cur, c: &Call) -> Res<()> {
        let ws = self.agents[cur.agent].workspace.clone();
        let mut is_error = false;
        let duration;
        self.tmp.clear();
        let mut details = String::with_capacity(256);
        match c.tool {
            Tool::Exec => {
                duration = self.rng.log_uniform(5.0, 30e3) as i64;
                if self.rng.chance(0.02) {
                    is_error = true;
                    self.tmp.push_str("Command aborted by timeout after 120s.\n");
                    details.push_str("{\"status\":\"failed\",\"exitCode\":null,\"exitSignal\":\"SIGKILL\",\"exitReason\":\"timeout\"");
                } else {
                    let n = self.output_len();
                    self.tmp.push_str(take(&self.pools.output, &mut self.rng, n));
                    let code = if self.rng.chance(0.08) {
                        let code = *self.rng.pick(&[1, 2, 3, 127]);
                        let _ = write!(self.tmp, "\n\n(Command exited with code {code})");
                        code
                    } else {
                        0
                    };
                    details.push_str("{\"status\":\"completed\",\"exitCode\":");
                    push_num(&mut details, code);
                    details.push_str(",\"exitSignal\":null,\"exitReason\":\"exit\"");
                }
                push_key(&mut details, "durationMs");
                push_num(&mut details, duration);
                // `aggregated` repeats the output; for the rare huge dumps keep only its tail so
                // that those lines stay near 200 KB instead of doubling.
                push_key(&mut details, "aggregated");
                let mut tail = self.tmp.len().saturating_sub(16 << 10);
                while !self.tmp.is_char_boundary(tail) {
                    tail += 1;
                }
                push_lit(&mut details, &self.tmp[tail..]);
                push_key(&mut details, "cwd");
                push_lit(&mut details, &ws);
                details.push('}');
            }
            Tool::Read => {
                duration = self.rng.log_uniform(2.0, 200.0) as i64;
                details.push_str("{\"path\":");
                push_lit(&mut details, &c.target);
                if self.rng.chance(0.03) {
                    is_error = true;
                    let _ = write!(self.tmp, "ENOENT: no such file or directory, access '{}'", c.target);
                } else {
                    let n = self.output_len();
                    self.tmp.push_str(take(&self.pools.output, &mut self.rng, n));
                    if n > 50_000 {
                        details.push_str(",\"truncation\":{\"truncated\":true,\"outputLines\":2000}");
                    }
                }
                details.push('}');
            }
            Tool::Write => {
                duration = self.rng.log_uniform(2.0, 100.0) as i64;
                if self.rng.chance(0.01) {
                    is_error = true;
                    let _ = write!(self.tmp, "EACCES: permission denied, open '{}'", c.target);
                } else {
                    let bytes = c.args.len().saturating_sub(c.target.len() + 30);
                    let _ = write!(self.tmp, "Successfully wrote {bytes} bytes to {}", c.target);
                }
                details.push_str("{\"path\":");
                push_lit(&mut details, &c.target);
                details.push_str(",\"readFiles\":[],\"modifiedFiles\":[");
                if !is_error {
                    push_lit(&mut details, &c.target);
                }
                details.push_str("]}");
            }
            Tool::WebSearch => {
                duration = self.rng.log_uniform(300.0, 6e3) as i64;
                if self.rng.chance(0.02) {
                    is_error = true;
                    self.tmp.push_str("Search provider error: 429 Too Many Requests");
                } else {
                    for i in 1..=5 {
                        let n = self.rng.log_uniform(100.0, 800.0) as usize;
                        let _ = write!(
                            self.tmp,
                            "{i}. {} {}\n   https://www.example.com/{}/{}\n   ",
                            self.rng.pick(WORDS),
                            self.rng.pick(WORDS),
                            self.rng.pick(WORDS),
                            self.rng.below(100_000)
                        );
                        self.tmp.push_str(take(&self.pools.prose, &mut self.rng, n));
                        self.tmp.push_str("\n\n");
                    }
                }
                details.push_str("{\"provider\":\"brave\",\"count\":5,\"tookMs\":");
                push_num(&mut details, duration);
                details.push('}');
            }
            Tool::Spawn => {
                duration = self.rng.log_uniform(20.0, 400.0) as i64;
                let (key, run_id) = c.spawn.as_ref().ok_or("internal: spawn call without child")?;
                details.push_str("{\"status\":\"accepted\",\"childSessionKey\":");
                push_lit(&mut details, key);
                details.push_str(",\"runId\":");
                push_lit(&mut details, run_id);
                details.push_str(",\"mode\":\"run\"}");
                let _ = write!(
                    self.tmp,
                    "{{\n  \"status\": \"accepted\",\n  \"childSessionKey\": \"{key}\",\n  \
                     \"runId\": \"{run_id}\",\n  \"mode\": \"run\",\n  \"note\": \"Auto-announce \
                     is push-based. Wait for completion events to arrive as user messages.\"\n}}"
                );
            }
        }
        cur.t = (cur.t + duration + self.rng.between(2, 30) as i64).min(cur.t_max);
        self.head(cur, "message");
        self.line.push_str(",\"message\":{\"role\":\"toolResult\",\"toolCallId\":\"");
        self.line.push_str(&c.id);
        self.line.push_str("\",\"toolName\":\"");
        self.line.push_str(c.tool.name());
        self.line.push_str("\",\"content\":[{\"type\":\"text\",\"text\":");
        push_lit(&mut self.line, &self.tmp);
        self.line.push_str("}],\"isError\":");
        self.line.push_str(if is_error { "true" } else { "false" });
        self.line.push_str(",\"details\":");
        self.line.push_str(&details);
        push_key(&mut self.line, "timestamp");
        push_num(&mut self.line, cur.t);
        self.line.push_str("}}");
        self.emit(cur)
    }

    // --- indexes -------------------------------------------------------------------------------

    /// Adds the finished session to its store's index: `sessions.json` or
    /// `session_nodes` + `session_windows`.
    fn record(&mut self, spec: &Spec, cur: &mut Cur) -> Res<()> {
        let end = cur.t;
        let m = &MODELS[cur.model];
        let running = end > self.end_ms - 20 * MIN;
        let status = if running {
            "running"
        } else if cur.failed {
            "failed"
        } else if matches!(spec.kind, Kind::Sub { .. }) && self.rng.chance(0.02) {
            "timeout"
        } else {
            "done"
        };
        let agent_id = self.agents[spec.agent].id.clone();
        let u = cur.last_usage;
        let mut e = json!({
            "sessionId": spec.sid,
            "updatedAt": end,
            "sessionStartedAt": spec.start,
            "systemSent": true,
            "abortedLastRun": false,
            "model": m.id,
            "modelProvider": m.provider,
            "status": status,
            "startedAt": cur.last_user_t,
            "lastInteractionAt": cur.last_user_t,
            "contextTokens": m.context,
            "inputTokens": u[0],
            "outputTokens": u[1],
            "cacheRead": u[2],
            "cacheWrite": u[3],
            "totalTokens": u[4],
            "totalTokensFresh": true,
            "estimatedCostUsd": cur.cost_total,
        });
        let obj = e.as_object_mut().ok_or("internal: entry is not an object")?;
        if !running {
            obj.insert("endedAt".into(), json!(end));
            obj.insert("runtimeMs".into(), json!(end - cur.last_user_t));
        }
        let (via, actor_type, actor_id, parent, label, display, chat_type, channel, scope) = match &spec.kind {
            Kind::Chat { channel, .. } => {
                let (chat_type, peer) = peer_of(&spec.key);
                obj.insert("chatType".into(), json!(chat_type));
                match channel.name() {
                    Some(ch) => {
                        let to = format!("{ch}:{peer}");
                        obj.insert("channel".into(), json!(ch));
                        obj.insert("lastChannel".into(), json!(ch));
                        obj.insert("lastTo".into(), json!(to));
                        obj.insert("lastAccountId".into(), json!("default"));
                        obj.insert("deliveryContext".into(), json!({"channel": ch, "to": to, "accountId": "default"}));
                        obj.insert(
                            "origin".into(),
                            json!({"label": to, "provider": ch, "surface": ch,
                                       "chatType": chat_type, "from": to, "to": to,
                                       "accountId": "default"}),
                        );
                        if chat_type != "direct" {
                            obj.insert("displayName".into(), json!(to));
                        }
                        let scope = if chat_type == "direct" {
                            "conversation"
                        } else if chat_type == "group" {
                            "group"
                        } else {
                            "channel"
                        };
                        ("channel", Some("human"), None, None, None, Some(to), Some(chat_type), Some(ch), scope)
                    }
                    None => {
                        obj.insert("displayName".into(), json!(agent_id));
                        ("run", None, None, None, None, Some(agent_id.clone()), Some("direct"), None, "shared-main")
                    }
                }
            }
            Kind::Cron { job } => {
                let name = self.agents[spec.agent].jobs[*job].name;
                let cron_label = match spec.store {
                    Store::Jsonl => format!("Cron: {name}"),
                    Store::Sqlite => format!("Automation: {name}"),
                };
                obj.insert("label".into(), json!(cron_label));
                (
                    "cron",
                    Some("system"),
                    None,
                    None,
                    Some(cron_label.clone()),
                    Some(cron_label),
                    None,
                    None,
                    "conversation",
                )
            }
            Kind::Sub { parent, label, .. } => {
                obj.insert("spawnedBy".into(), json!(parent));
                obj.insert("parentSessionKey".into(), json!(parent));
                obj.insert("spawnDepth".into(), json!(1));
                obj.insert("subagentRole".into(), json!("leaf"));
                obj.insert("subagentControlScope".into(), json!("none"));
                obj.insert("spawnedWorkspaceDir".into(), json!(self.agents[spec.agent].workspace));
                obj.insert("label".into(), json!(label));
                (
                    "spawn",
                    Some("agent"),
                    Some(agent_id.clone()),
                    Some(parent.clone()),
                    Some(label.clone()),
                    Some(label.clone()),
                    None,
                    None,
                    "conversation",
                )
            }
        };
        obj.insert("createdVia".into(), json!(via));
        obj.insert("createdAt".into(), json!(spec.start));

        if let Some(arch) = cur.arch {
            // Deleted: in no index (sessions.json, session_nodes, session_windows), only archived.
            return self.archive(spec, cur, arch);
        }
        let ag = &mut self.agents[spec.agent];
        match spec.store {
            Store::Jsonl => {
                let file = ag.sessions_dir.join(format!("{}.jsonl", spec.sid));
                obj.insert("sessionFile".into(), json!(file.to_string_lossy()));
                let mut keys = vec![spec.key.clone()];
                if matches!(spec.kind, Kind::Cron { .. }) {
                    keys.push(format!("{}:run:{}", spec.key, spec.sid));
                }
                for k in keys {
                    let newer = ag.legacy.get(&k).is_none_or(|(t, _)| *t <= end);
                    if newer {
                        ag.legacy.insert(k, (end, e.clone()));
                    }
                }
            }
            Store::Sqlite => {
                let entry = serde_json::to_string(&e)?;
                let prev = ag.nodes.get(&spec.key).map(|n| n.sid.clone());
                let db = ag.db.as_ref().ok_or("internal: SQLite session without a DB")?;
                db.prepare_cached(INSERT_WINDOW)?.execute(params![
                    spec.sid,
                    spec.key,
                    prev,
                    prev.as_ref().map(|_| "reset"),
                    scope,
                    spec.start,
                    end,
                    end,
                    cur.last_user_t,
                    (!running).then_some(end),
                    status,
                    chat_type,
                    channel,
                    m.provider,
                    m.id,
                    parent,
                    display,
                ])?;
                let node_status = (via != "cron").then_some(status);
                match ag.nodes.get_mut(&spec.key) {
                    Some(n) if n.updated_at > end => {}
                    Some(n) => {
                        n.sid = spec.sid.clone();
                        n.entry = entry;
                        n.updated_at = end;
                        n.status = node_status;
                        n.label = label;
                        n.display_name = display;
                        n.last_interaction_at = cur.last_user_t;
                        n.last_activity_at = end;
                    }
                    None => {
                        ag.nodes.insert(
                            spec.key.clone(),
                            Node {
                                sid: spec.sid.clone(),
                                entry,
                                updated_at: end,
                                status: node_status,
                                created_at: spec.start,
                                created_via: via,
                                actor_type,
                                actor_id,
                                parent,
                                label,
                                display_name: display,
                                last_interaction_at: cur.last_user_t,
                                last_activity_at: end,
                            },
                        );
                    }
                }
                if ag.db_pending >= COMMIT_EVERY {
                    db.execute_batch("COMMIT; BEGIN")?;
                    ag.db_pending = 0;
                }
            }
        }
        Ok(())
    }

    /// Writes a deleted session's remains, as OpenClaw 2026.9.6 leaves them (see the module doc).
    fn archive(&mut self, spec: &Spec, cur: &mut Cur, arch: Arch) -> Res<()> {
        let end = cur.t;
        let deleted_ms = (end + self.arch_rng.between(MIN as u64, 3 * DAY as u64) as i64).min(self.end_ms).max(end);
        let ts = archive_ts(deleted_ms);
        let buf = std::mem::take(&mut cur.buf);
        let ag = &mut self.agents[spec.agent];
        let st = &mut self.stats;
        st.sessions_archived += 1;
        match arch {
            Arch::Renamed => {
                let from = ag.sessions_dir.join(format!("{}.jsonl", spec.sid));
                fs::rename(&from, ag.sessions_dir.join(format!("{}.jsonl.deleted.{ts}", spec.sid)))?;
                st.renamed_files += 1;
            }
            Arch::Zst => {
                let z = zstd(&buf);
                fs::write(ag.sessions_dir.join(format!("{}.jsonl.deleted.{ts}.zst", spec.sid)), &z)?;
                st.zst_files += 1;
                st.zst_file_bytes += z.len() as u64;
                st.bytes_archived += buf.len() as u64;
            }
            Arch::Row => {
                let z = zstd(&buf);
                let mut generation = String::with_capacity(32);
                push_hex(&mut generation, self.arch_rng.next_u64(), 16);
                push_hex(&mut generation, self.arch_rng.next_u64(), 16);
                let name = format!("{}.jsonl.deleted.{ts}.{generation}.zst", spec.sid);
                let published = deleted_ms + self.arch_rng.between(5, 900) as i64;
                let db = ag.db.as_ref().ok_or("internal: SQLite session without a DB")?;
                db.prepare_cached(INSERT_ARCHIVE)?.execute(params![
                    spec.sid,
                    generation,
                    spec.key,
                    z,
                    sha256_hex(&z),
                    name,
                    deleted_ms,
                    published,
                ])?;
                fs::write(ag.sessions_dir.join(&name), &z)?;
                st.archive_rows += 1;
                st.zst_row_bytes += z.len() as u64;
                st.zst_file_bytes += z.len() as u64;
                st.bytes_archived += buf.len() as u64;
                ag.db_pending += z.len() as u64;
                if ag.db_pending >= COMMIT_EVERY {
                    db.execute_batch("COMMIT; BEGIN")?;
                    ag.db_pending = 0;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Res<()> {
        for ag in &mut self.agents {
            if ag.legacy.is_empty() && ag.db.is_some() {
                // A SQLite-only install keeps an empty sessions/ directory and no index.
            } else {
                let map: serde_json::Map<String, Value> =
                    std::mem::take(&mut ag.legacy).into_iter().map(|(k, (_, v))| (k, v)).collect();
                let f = File::create(ag.sessions_dir.join("sessions.json"))?;
                let mut w = BufWriter::new(f);
                serde_json::to_writer_pretty(&mut w, &map)?;
                w.flush()?;
            }
            if let Some(db) = ag.db.take() {
                {
                    let mut st = db.prepare_cached(INSERT_NODE)?;
                    for (key, n) in &ag.nodes {
                        st.execute(params![
                            key,
                            n.sid,
                            n.entry,
                            n.updated_at,
                            n.status,
                            n.created_at,
                            n.created_via,
                            n.actor_type,
                            n.actor_id,
                            n.parent,
                            n.label,
                            n.display_name,
                            n.last_interaction_at,
                            n.last_activity_at,
                        ])?;
                    }
                }
                db.execute_batch("COMMIT")?;
                db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                db.close().map_err(|(_, e)| e)?;
            }
        }
        Ok(())
    }
}

fn write_config(out: &Path, gen: &mut Gen) -> Res<()> {
    let mut token = String::new();
    push_hex(&mut token, gen.rng.next_u64(), 16);
    push_hex(&mut token, gen.rng.next_u64(), 16);
    let entries: serde_json::Map<String, Value> = gen
        .agents
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                json!({
                    "name": a.id,
                    "workspace": a.workspace,
                    "agentDir": out.join("agents").join(&a.id).join("agent").to_string_lossy(),
                }),
            )
        })
        .collect();
    let cfg = json!({
        "meta": {"lastTouchedVersion": APP_VERSION},
        "agents": {
            "defaults": {
                "workspace": format!("{HOME}/workspace"),
                "model": {"primary": "anthropic/claude-sonnet-4-5"},
            },
            "entries": entries,
        },
        "gateway": {
            "mode": "local",
            "port": 18789,
            "bind": "loopback",
            "auth": {"mode": "token", "token": token},
        },
    });
    let mut text = serde_json::to_string_pretty(&cfg)?;
    text.push('\n');
    fs::write(out.join("openclaw.json"), text)?;
    Ok(())
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let started = Instant::now();
    if args.out.exists() && fs::read_dir(&args.out)?.next().is_some() {
        return Err(format!("{} exists and is not empty; remove it or pick another --out", args.out.display()).into());
    }
    fs::create_dir_all(&args.out)?;
    let out = fs::canonicalize(&args.out)?;
    let target = args.size_mb * MIB;
    // ~10,000 sessions per GiB, at least 20 (or exactly --sessions).
    let n_plan = args.sessions.unwrap_or(((args.size_mb as f64 / 1024.0 * 10_000.0).round() as u64).max(20));
    let mut gen = Gen::new(&args, &out, n_plan)?;
    gen.avg_budget = target / n_plan;
    write_config(&out, &mut gen)?;
    if args.long_chat > 0 {
        gen.run_long_chats(&args)?;
    } else {
        gen.run(&args, target)?;
    }
    gen.finish()?;
    let st = &gen.stats;
    let mut report = json!({
        "dir": out.to_string_lossy(),
        // Plain transcript bytes: JSONL files (renamed .deleted ones included) and event_json.
        "bytes_jsonl": st.bytes_jsonl - st.arch_jsonl,
        "bytes_sqlite_events": st.bytes_sqlite - st.arch_sqlite,
        "sessions": st.sessions,
        "events": st.events,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "expected": {
            "sessions": st.sessions,
            "calls": st.calls,
            "input": st.input,
            "output": st.output,
            "cacheRead": st.cache_read,
            "cacheWrite": st.cache_write,
            "reasoning": st.reasoning,
            "cost": st.cost,
            "deleted": st.sessions_archived,
            // Archives a reader reads: DB rows and JSONL-era .zst files (not the copy of a row).
            "archives": st.archive_rows + st.zst_files,
        },
    });
    if args.archived_fraction > 0.0 {
        let o = report.as_object_mut().ok_or("internal: report is not an object")?;
        // Inflated JSONL bytes in zstd archives (each once), what they take compressed, and how many.
        o.insert("bytes_archived".into(), json!(st.bytes_archived));
        o.insert("bytes_zst_rows".into(), json!(st.zst_row_bytes));
        o.insert("bytes_zst_files".into(), json!(st.zst_file_bytes));
        o.insert("sessions_deleted".into(), json!(st.sessions_archived));
        o.insert("archive_rows".into(), json!(st.archive_rows));
        o.insert("deleted_jsonl_files".into(), json!(st.renamed_files));
        o.insert("deleted_zst_files".into(), json!(st.zst_files));
    }
    println!("{report}");
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("clawmetry-corpus: {e}");
        std::process::exit(1);
    }
}
