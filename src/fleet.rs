//! Fleet mode, both halves.
//!
//! The reporter thread (a node started with `--fleet-server URL` and `CLAWMETRY_FLEET_KEY`)
//! registers with the central clawmetry, then posts this node's summary every interval. While
//! the server is unreachable, summaries queue (bounded) and are sent oldest first once it
//! answers again. The central side (`http/nodes.rs`) keeps the nodes in [`Nodes`], saved in the
//! data dir so that a restart keeps them.

use crate::state::Index;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The header that carries the fleet key.
pub const KEY_HEADER: &str = "x-clawmetry-fleet-key";
/// Reports kept while the server is unreachable (two hours at the default interval).
pub const MAX_QUEUED: usize = 120;
/// A node is offline after this many missed reports.
pub const MISSED_FOR_OFFLINE: i64 = 3;

/// A node as the central instance knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub node_id: String,
    pub name: String,
    pub host: String,
    pub version: String,
    pub openclaw_version: Option<String>,
    pub interval_seconds: i64,
    pub registered_ms: i64,
    pub last_seen_ms: i64,
    pub reports: u64,
    /// The newest summary (by its own `atMs`).
    pub summary: Value,
}

/// All nodes, persisted as `<data-dir>/fleet-nodes.json`.
#[derive(Debug, Default)]
pub struct Nodes {
    pub nodes: BTreeMap<String, Node>,
    pub path: Option<PathBuf>,
    /// When the file was last written: reports refresh it at most every [`SAVE_EVERY`].
    last_save: Option<std::time::Instant>,
}

/// Nodes a central keeps at most: a new one beyond is refused (409), so that a client with the
/// fleet key cannot grow the store without bound.
pub const MAX_NODES: usize = 256;
/// Reports change only `lastSeen` and the summary: the file is rewritten at most this often for
/// them (a registration is written at once).
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Nodes {
    pub fn load(data_dir: Option<&Path>) -> Nodes {
        let path = data_dir.map(|d| d.join("fleet-nodes.json"));
        let nodes = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Vec<Node>>(&t).ok())
            .map(|v| v.into_iter().map(|n| (n.node_id.clone(), n)).collect())
            .unwrap_or_default();
        Nodes { nodes, path, last_save: None }
    }

    /// Writes the file atomically (temp file + rename), so a crash never leaves half a file;
    /// readable by its owner only (the summaries name hosts and spend).
    pub fn save(&mut self) -> Result<(), String> {
        let Some(path) = &self.path else { return Ok(()) };
        let text = serde_json::to_vec(&self.nodes.values().collect::<Vec<_>>()).map_err(|e| e.to_string())?;
        crate::codec::write_atomic(path, &text)?;
        self.last_save = Some(std::time::Instant::now());
        Ok(())
    }

    /// [`Nodes::save`] unless the file was written less than [`SAVE_EVERY`] ago.
    pub fn save_soon(&mut self) -> Result<(), String> {
        if self.last_save.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
            return Ok(());
        }
        self.save()
    }

    pub fn online(&self, n: &Node, now_ms: i64) -> bool {
        now_ms - n.last_seen_ms <= MISSED_FOR_OFFLINE * n.interval_seconds.max(1) * 1000
    }
}

/// Configuration of the reporter.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub server: String,
    pub key: String,
    pub interval: Duration,
    pub name: String,
    pub data_dir: Option<PathBuf>,
}

fn hostname() -> String {
    crate::system::host_name().unwrap_or_else(|| "unknown".into())
}

/// A random id, kept in the data dir so a node keeps its identity across restarts. Without OS
/// randomness there is no id (and no report), never an all-zero one shared with other nodes.
pub fn node_id(data_dir: Option<&Path>) -> Result<String, String> {
    let path = data_dir.map(|d| d.join("node-id"));
    if let Some(id) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let id = crate::codec::random_id::<8>().map_err(|e| format!("no node id: {e}"))?;
    if let Some(p) = path {
        // Not kept (a read-only data dir): the node gets a new id at its next start.
        if let Err(e) = crate::codec::write_atomic(&p, id.as_bytes()) {
            eprintln!("clawmetry: fleet: cannot keep the node id: {e}");
        }
    }
    Ok(id)
}

/// This node's summary for the central view.
pub fn summary(index: &Index, name: &str, node: &str) -> Value {
    let now = index.now_ms();
    let today = crate::tz::zone().day_start(now);
    let st = index.read();
    let (t, _) = st.sum_range(today, i64::MAX / 2);
    let counts = st.status_counts(now);
    let openclaw_version = st
        .install
        .config
        .as_ref()
        .and_then(|c| c.pointer("/meta/lastTouchedVersion"))
        .and_then(Value::as_str)
        .map(str::to_string);
    json!({
        "nodeId": node,
        "name": name,
        "host": hostname(),
        "version": index.version,
        "openclawVersion": openclaw_version,
        "atMs": now,
        "openclawFound": st.install.found,
        "sessions": {"total": st.sessions.len(), "running": counts.running, "failed": counts.failed},
        "today": crate::state::usage_json(&t.usage, t.calls),
        "health": {"indexReady": st.health.ready, "malformedLines": st.health.malformed_lines,
                   "sourceErrors": st.health.source_errors, "uptimeSeconds": index.uptime_seconds()},
    })
}

/// Starts the reporter thread.
pub fn spawn(index: Arc<Index>, cfg: Reporter) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("fleet".into()).spawn(move || run(index, cfg))
}

fn post(agent: &ureq::Agent, url: &str, key: &str, body: &Value) -> Result<(), String> {
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header(KEY_HEADER, key)
        .send(serde_json::to_vec(body).unwrap_or_default())
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        let text = resp.into_body().read_to_string().unwrap_or_default();
        Err(format!("{url}: HTTP {status} {text}"))
    }
}

/// The HTTP client of the threads that report this machine elsewhere (the fleet reporter, the
/// OTLP exporter): 5 s to connect, `total` per request, statuses as answers, and no redirect
/// followed (ureq strips only `Authorization` and `Cookie` on one: the fleet key and other
/// headers would go to the other host).
pub fn outbound_agent(total: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(total))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn run(index: Arc<Index>, cfg: Reporter) {
    let agent = outbound_agent(Duration::from_secs(15));
    let base = cfg.server.trim_end_matches('/').to_string();
    let id = match node_id(cfg.data_dir.as_deref()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("clawmetry: fleet: not reporting: {e}");
            return;
        }
    };
    // A summary taken during the cold index would report a half-counted node.
    let t0 = std::time::Instant::now();
    while !index.read().health.ready && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut queue: VecDeque<Value> = VecDeque::new();
    let mut registered = false;
    let mut backoff = Duration::from_secs(1);
    loop {
        if !registered {
            let mut reg = summary(&index, &cfg.name, &id);
            reg["intervalSeconds"] = json!(cfg.interval.as_secs().max(1));
            match post(&agent, &format!("{base}/api/nodes/register"), &cfg.key, &reg) {
                Ok(()) => {
                    registered = true;
                    backoff = Duration::from_secs(1);
                    eprintln!("clawmetry: registered with fleet server {base} as node {id}");
                }
                Err(e) => {
                    eprintln!("clawmetry: fleet register failed ({e}); retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(cfg.interval.max(Duration::from_secs(1)));
                    continue;
                }
            }
        }
        queue.push_back(summary(&index, &cfg.name, &id));
        while queue.len() > MAX_QUEUED {
            queue.pop_front();
        }
        while let Some(next) = queue.front() {
            match post(&agent, &format!("{base}/api/nodes/report"), &cfg.key, next) {
                Ok(()) => {
                    queue.pop_front();
                }
                Err(e) => {
                    if e.contains("HTTP 404") {
                        registered = false; // the server forgot us: register again
                    }
                    eprintln!("clawmetry: fleet report failed ({e}); {} report(s) queued", queue.len());
                    break;
                }
            }
        }
        std::thread::sleep(cfg.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_survive_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("clawmetry-fleet-{}", std::process::id()));
        let mut n = Nodes::load(Some(&dir));
        n.nodes.insert(
            "a".into(),
            Node {
                node_id: "a".into(),
                name: "pi".into(),
                host: "pi".into(),
                version: "0.1.0".into(),
                openclaw_version: None,
                interval_seconds: 60,
                registered_ms: 1,
                last_seen_ms: 1000,
                reports: 2,
                summary: json!({}),
            },
        );
        n.save().unwrap();
        let back = Nodes::load(Some(&dir));
        assert_eq!(back.nodes, n.nodes);
        assert!(back.online(&back.nodes["a"], 1000 + 180_000));
        assert!(!back.online(&back.nodes["a"], 1000 + 180_001));
        std::fs::remove_dir_all(dir).ok();
    }
}
