//! Which sessions run now, from the gateway's pushed events, and their copy in the index.

use super::*;
use crate::state::LiveSet;
use foldhash::{HashMap, HashSet};
use serde_json::Value;

/// Which sessions run now, from the gateway's events. Keyed by session key.
#[derive(Debug, Default)]
pub struct Live {
    sessions: HashMap<String, LiveEntry>,
    /// run id -> session key: end events do not always repeat the key.
    runs: HashMap<String, String>,
}

#[derive(Debug, Default)]
pub(super) struct LiveEntry {
    session_id: Option<String>,
    runs: HashSet<String>,
    /// The gateway's own row said it runs (`hasActiveRun` / `status: running`).
    row_running: bool,
}

pub(super) fn row_running(row: &Value) -> bool {
    match row.get("hasActiveRun").and_then(Value::as_bool) {
        Some(b) => b,
        None => row.get("status").and_then(Value::as_str) == Some("running"),
    }
}

impl Live {
    /// Replaces everything with a `sessions.list` answer (rows of running sessions, or all rows).
    pub fn seed(&mut self, rows: &[Value]) {
        self.sessions.clear();
        self.runs.clear();
        for r in rows {
            let Some(key) = r.get("key").and_then(Value::as_str) else { continue };
            if row_running(r) {
                let e = self.sessions.entry(key.to_string()).or_default();
                e.row_running = true;
                e.session_id = r.get("sessionId").and_then(Value::as_str).map(str::to_string);
            }
        }
    }

    /// Applies one pushed event. Returns true when it may have changed the live set.
    pub fn apply(&mut self, event: &str, p: &Value) -> bool {
        let key = p.get("sessionKey").and_then(Value::as_str);
        match event {
            "agent" if p.get("stream").and_then(Value::as_str) == Some("lifecycle") => {
                let Some(run) = p.get("runId").and_then(Value::as_str) else { return false };
                let phase = p.pointer("/data/phase").and_then(Value::as_str).unwrap_or("");
                match phase {
                    "start" => {
                        let Some(key) = key else { return false };
                        self.runs.insert(run.to_string(), key.to_string());
                        let e = self.sessions.entry(key.to_string()).or_default();
                        if let Some(id) = p.get("sessionId").and_then(Value::as_str) {
                            e.session_id = Some(id.to_string());
                        }
                        e.runs.insert(run.to_string());
                        true
                    }
                    "end" | "error" => {
                        let key = self.runs.remove(run).or_else(|| key.map(str::to_string));
                        let Some(key) = key else { return false };
                        if let Some(e) = self.sessions.get_mut(&key) {
                            e.runs.remove(run);
                            // The run's end is authoritative over an older row snapshot.
                            e.row_running = false;
                            if e.runs.is_empty() {
                                self.sessions.remove(&key);
                            }
                        }
                        true
                    }
                    _ => false,
                }
            }
            "sessions.changed" => {
                let Some(key) = key else { return false };
                if p.get("reason").and_then(Value::as_str) == Some("delete") {
                    return self.sessions.remove(key).is_some();
                }
                let Some(row) = p.get("session").filter(|r| r.is_object()) else { return false };
                let running = row_running(row);
                let e = self.sessions.entry(key.to_string()).or_default();
                e.row_running = running;
                if let Some(id) = row.get("sessionId").and_then(Value::as_str) {
                    e.session_id = Some(id.to_string());
                }
                if !running && e.runs.is_empty() {
                    self.sessions.remove(key);
                }
                true
            }
            _ => false,
        }
    }

    pub fn snapshot(&self) -> LiveSet {
        let mut keys: Vec<String> = self.sessions.keys().cloned().collect();
        keys.sort();
        let mut ids: Vec<String> = self.sessions.values().filter_map(|e| e.session_id.clone()).collect();
        ids.sort();
        LiveSet { keys, ids }
    }
}

/// Replaces the live set in the index (`State::live`, None when the gateway is not connected)
/// and its copy for `/api/gateway`; returns the previous set when it changed. Only the gateway
/// thread writes it, so the check under the read lock stays true until the write.
pub(super) fn set_live(ctx: &Ctx, v: Option<LiveSet>) -> Option<Option<LiveSet>> {
    if ctx.index.read().live == v {
        return None;
    }
    let keys = v.as_ref().map(|l| l.keys.clone());
    // The write lock bumps the generation: cached answers carrying `live` are stale now.
    let old = std::mem::replace(&mut ctx.index.write().live, v);
    ctx.gateway.status().live_sessions = keys;
    Some(old)
}
