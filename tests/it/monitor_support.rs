//! Helpers for the monitor tests (monitor_*.rs): the lab fixture with a data dir, its
//! transcript rows, and the alert log. The server itself is common.rs's.

use crate::common::{install_fixture, Server, TempDir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// 2026-11-24T22:00:00Z: the evening of the lab fixture's day (all of its usage, $0.5966346,
/// was spent 21:06-21:07 that day).
pub const LAB_EVENING_MS: i64 = 1_795_557_600_000;
pub const LAB_COST: f64 = 0.5966346;

/// A temp copy of tests/fixtures/lab-2026.9: (temp dir, OpenClaw state dir, data dir).
pub fn lab() -> (TempDir, PathBuf, PathBuf) {
    let (tmp, home) = install_fixture("lab-2026.9");
    let data = tmp.path().join("data");
    (tmp, home, data)
}

/// A monitor test's flags: the lab's state dir, a data dir, a fixed clock and a 1 s monitor.
pub fn monitor_args<'a>(home: &'a str, data: &'a str, now: &'a str) -> Vec<&'a str> {
    vec!["--openclaw-dir", home, "--data-dir", data, "--fake-now-ms", now, "--monitor-interval", "1"]
}

// The alert log is only the monitor tests' business: kept here, on the common server.
impl Server {
    /// The alert log, oldest first.
    pub fn alerts(&self) -> Vec<Value> {
        let mut v = self.get("/api/alerts?limit=1000")["alerts"].as_array().unwrap().clone();
        v.reverse();
        v
    }

    pub fn alerts_of(&self, kind: &str) -> Vec<Value> {
        self.alerts().into_iter().filter(|a| a["kind"] == kind).collect()
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
