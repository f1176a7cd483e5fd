//! `GET /api/flow`: counts for the Channels -> Gateway -> Models -> Tools graph.
//!
//! Channels come from the sessions' delivery channel (sessions without one are `direct`, `cron`
//! or `sub-agent` by kind), models from the hourly usage cells (model calls, tokens, cost), tools
//! from the sessions' tool-call counts. A model -> tool edge credits a session's tool calls to the
//! model it used last: exact for single-model sessions, approximate when a session switched.
//! A channel node counts sessions, their user messages, tokens and cost.
//! `?since=` (epoch ms, `YYYY-MM-DD` or ISO) keeps sessions active since then and usage after it
//! (a kept session counts whole).

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::state::round_cost;
use crate::timefmt;
use foldhash::HashMap;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Nodes kept per column; the rest are folded into one "other" node.
const MAX_MODELS: usize = 8;
const MAX_TOOLS: usize = 12;
const MAX_CHANNELS: usize = 8;

#[derive(Default)]
struct Node {
    sessions: u64,
    running: u64,
    calls: u64,
    tokens: u64,
    cost: f64,
    last_ms: Option<i64>,
}

impl Node {
    fn add(&mut self, o: &Node) {
        self.sessions += o.sessions;
        self.running += o.running;
        self.calls += o.calls;
        self.tokens += o.tokens;
        self.cost += o.cost;
        self.last_ms = self.last_ms.max(o.last_ms);
    }
    fn json(&self, name: &str) -> Value {
        json!({"name": name, "sessions": self.sessions, "running": self.running, "calls": self.calls,
            "tokens": self.tokens, "cost": round_cost(self.cost), "lastMs": self.last_ms})
    }
}

/// Sorts by `key` descending and folds everything past `max` into `other`; returns the kept
/// names (and "other") in order, so that edges can be remapped.
fn top(map: HashMap<String, Node>, max: usize, key: impl Fn(&Node) -> f64) -> (Vec<Value>, HashMap<String, String>) {
    let mut v: Vec<(String, Node)> = map.into_iter().collect();
    v.sort_by(|a, b| key(&b.1).total_cmp(&key(&a.1)).then_with(|| a.0.cmp(&b.0)));
    let mut rename = HashMap::default();
    let mut out = Vec::new();
    let mut other = Node::default();
    let mut folded = 0;
    for (i, (name, n)) in v.into_iter().enumerate() {
        if i < max {
            out.push(n.json(&name));
            rename.insert(name.clone(), name);
        } else {
            other.add(&n);
            folded += 1;
            rename.insert(name, "other".to_string());
        }
    }
    if folded > 0 {
        let mut j = other.json("other");
        j["folded"] = json!(folded);
        out.push(j);
    }
    (out, rename)
}

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let since = match req.q("since") {
        None => None,
        Some(v) => Some(timefmt::parse_user_time(v).ok_or_else(|| {
            ApiError::bad_request(format!("since={v:?}: use epoch ms, YYYY-MM-DD or an ISO time between 1970 and 9999"))
        })?),
    };
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let mut channels: HashMap<String, Node> = HashMap::default();
    let mut models: HashMap<String, Node> = HashMap::default();
    let mut tools: HashMap<String, Node> = HashMap::default();
    let mut model_tool: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut gateway = Node::default();
    let mut agents: BTreeMap<String, u64> = BTreeMap::new();
    for s in st.sessions.values() {
        let last = s.last_ms();
        if since.is_some_and(|t| last.is_none_or(|l| l < t)) {
            continue;
        }
        let run = s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k));
        let running = s.status(now, run).status == "running";
        let kind = s.kind();
        let channel = s.meta.channel.as_deref().unwrap_or(match kind {
            "cron" => "cron",
            "subagent" => "sub-agent",
            _ => "direct",
        });
        let mut one = Node { sessions: 1, running: running as u64, last_ms: last, ..Default::default() };
        one.calls = u64::from(s.tally.user_messages);
        one.tokens = s.tally.usage.total_tokens();
        one.cost = s.tally.usage.cost;
        channels.entry(channel.to_string()).or_default().add(&one);
        gateway.sessions += 1;
        gateway.running += running as u64;
        gateway.last_ms = gateway.last_ms.max(last);
        *agents.entry(s.agent.to_string()).or_default() += 1;
        let current =
            s.tally.models.last().map(|m| m.to_string()).or_else(|| s.meta.model.as_deref().map(str::to_string));
        for m in &s.tally.models {
            let e = models.entry(m.to_string()).or_default();
            e.sessions += 1;
            e.last_ms = e.last_ms.max(last);
            if running && current.as_deref() == Some(m) {
                e.running += 1;
            }
        }
        for (t, &n) in &s.tally.tools {
            let e = tools.entry(t.to_string()).or_default();
            e.sessions += 1;
            e.calls += n;
            e.running += running as u64;
            e.last_ms = e.last_ms.max(last);
            if let Some(m) = &current {
                *model_tool.entry((m.clone(), t.to_string())).or_default() += n;
            }
        }
    }
    // Model calls, tokens and cost from the usage cells (the same figures as /api/usage).
    let h0 = since.map_or(0, |t| (t.max(0) / 3_600_000) as u32);
    for (&(_, m, _), c) in st.hourly.range((h0, 0, 0)..) {
        let e = models.entry(st.models.name(m).to_string()).or_default();
        e.calls += c.calls;
        e.tokens += c.usage.total_tokens();
        e.cost += c.usage.cost;
        gateway.calls += c.calls;
        gateway.tokens += c.usage.total_tokens();
        gateway.cost += c.usage.cost;
    }
    drop(st);
    let (mut channel_nodes, _) = top(channels, MAX_CHANNELS, |n| n.sessions as f64);
    // A channel node counts user messages, not model calls.
    for c in &mut channel_nodes {
        if let Some(o) = c.as_object_mut() {
            let n = o.remove("calls").unwrap_or(Value::Null);
            o.insert("messages".into(), n);
        }
    }
    let (model_nodes, model_names) = top(models, MAX_MODELS, |n| n.calls as f64 + n.sessions as f64 * 1e-6);
    let (tool_nodes, tool_names) = top(tools, MAX_TOOLS, |n| n.calls as f64);
    let mut edges: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((m, t), n) in model_tool {
        let m = model_names.get(&m).cloned().unwrap_or_else(|| "other".into());
        let t = tool_names.get(&t).cloned().unwrap_or_else(|| "other".into());
        *edges.entry((m, t)).or_default() += n;
    }
    let model_tool: Vec<Value> =
        edges.into_iter().map(|((m, t), n)| json!({"model": m, "tool": t, "calls": n})).collect();
    let mut g = gateway.json("gateway");
    g["agents"] = json!(agents);
    Ok(Resp::json(&json!({
        "nowMs": now,
        "since": since,
        "channels": channel_nodes,
        "gateway": g,
        "models": model_nodes,
        "tools": tool_nodes,
        "modelTool": model_tool,
    })))
}
