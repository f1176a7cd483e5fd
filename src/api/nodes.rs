//! Fleet, central side: `POST /api/nodes/register`, `POST /api/nodes/report` (both need the
//! fleet key, compared in constant time) and `GET /api/nodes` (all nodes, online or offline,
//! and the fleet's totals).

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::codec::secret_matches;
use crate::fleet::{Node, KEY_HEADER};
use serde_json::{json, Value};

/// Whether the request carries this central's fleet key (`X-Clawmetry-Fleet-Key`).
pub fn has_fleet_key(req: &Req, ctx: &Ctx) -> bool {
    match (ctx.fleet_key.as_deref(), req.header(KEY_HEADER)) {
        (Some(expected), Some(given)) => secret_matches(expected, given),
        _ => false,
    }
}

fn check_key(req: &Req, ctx: &Ctx) -> Result<(), ApiError> {
    let Some(expected) = ctx.fleet_key.as_deref() else {
        return Err(super::auth::fleet_off());
    };
    let given = req
        .header(KEY_HEADER)
        .or_else(|| req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")))
        .unwrap_or("");
    if secret_matches(expected, given) {
        Ok(())
    } else {
        Err(ApiError::new(401, "wrong or missing fleet key (header X-Clawmetry-Fleet-Key)"))
    }
}

/// A node's JSON body with a valid `nodeId`.
fn node_body(req: &Req) -> Result<Value, ApiError> {
    valid_node(super::body_json(req, super::Empty::Refused)?)
}

fn valid_node(v: Value) -> Result<Value, ApiError> {
    let id = v.get("nodeId").and_then(Value::as_str).unwrap_or("");
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ApiError::bad_request("nodeId: 1-64 letters, digits, '-' or '_'"));
    }
    Ok(v)
}

/// A node as its summary describes it (`reports` so far kept).
fn node_of(v: &Value, now: i64, reports: u64) -> Node {
    Node {
        node_id: text(v, "nodeId", 64),
        name: text(v, "name", 100),
        host: text(v, "host", 200),
        version: text(v, "version", 40),
        openclaw_version: v.get("openclawVersion").and_then(Value::as_str).map(|s| s.chars().take(40).collect()),
        interval_seconds: v.get("intervalSeconds").and_then(Value::as_i64).unwrap_or(60).clamp(1, 86_400),
        registered_ms: now,
        last_seen_ms: now,
        reports,
        summary: v.clone(),
    }
}

/// Fleet over OTLP: the summary a node sent as the resource attribute
/// `clawmetry.fleet.summary` of its metrics export (`otlp_export.rs`), taken as a report (the
/// node is registered by its first one). The caller checked the fleet key.
pub fn accept_otlp(ctx: &Ctx, summary: Value) -> Result<(), ApiError> {
    let mut v = valid_node(summary)?;
    v["via"] = json!("otlp");
    let now = ctx.index.now_ms();
    let id = text(&v, "nodeId", 64);
    let mut nodes = crate::sync::lock(&ctx.fleet);
    let full = nodes.nodes.len() >= crate::fleet::MAX_NODES;
    let event = match nodes.nodes.get_mut(&id) {
        Some(node) => {
            let registered = node.registered_ms;
            *node = node_of(&v, now, node.reports + 1);
            node.registered_ms = registered;
            "report"
        }
        None if full => {
            return Err(ApiError::new(409, format!("the fleet is full: at most {} nodes", crate::fleet::MAX_NODES)));
        }
        None => {
            nodes.nodes.insert(id.clone(), node_of(&v, now, 1));
            eprintln!("clawmetry: fleet node {id} registered over OTLP");
            "registered"
        }
    };
    if let Err(e) = nodes.save_soon() {
        eprintln!("clawmetry: cannot save fleet nodes: {e}");
    }
    drop(nodes);
    ctx.index.hub.publish("fleet", json!({"nodeId": id, "event": event}));
    Ok(())
}

fn text(v: &Value, k: &str, max: usize) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").chars().take(max).collect()
}

pub fn register(req: &Req, ctx: &Ctx) -> Answer {
    check_key(req, ctx)?;
    let v = node_body(req)?;
    let now = ctx.index.now_ms();
    let id = text(&v, "nodeId", 64);
    let mut nodes = crate::sync::lock(&ctx.fleet);
    if !nodes.nodes.contains_key(&id) && nodes.nodes.len() >= crate::fleet::MAX_NODES {
        return Err(ApiError::new(
            409,
            format!("the fleet is full: at most {} nodes; remove stale nodes first", crate::fleet::MAX_NODES),
        ));
    }
    let reports = nodes.nodes.get(&id).map_or(0, |n| n.reports);
    nodes.nodes.insert(id.clone(), node_of(&v, now, reports));
    if let Err(e) = nodes.save() {
        eprintln!("clawmetry: cannot save fleet nodes: {e}");
    }
    drop(nodes);
    let from = req.remote.map_or_else(|| "?".to_string(), |a| a.to_string());
    eprintln!("clawmetry: fleet node {id} registered from {from}");
    ctx.index.hub.publish("fleet", json!({"nodeId": id, "event": "registered"}));
    Ok(Resp::json(&json!({"ok": true, "nodeId": id})))
}

pub fn report(req: &Req, ctx: &Ctx) -> Answer {
    check_key(req, ctx)?;
    let v = node_body(req)?;
    let id = text(&v, "nodeId", 64);
    let now = ctx.index.now_ms();
    let mut nodes = crate::sync::lock(&ctx.fleet);
    let Some(node) = nodes.nodes.get_mut(&id) else {
        return Err(ApiError::new(404, format!("node {id:?} is not registered: POST /api/nodes/register first")));
    };
    node.last_seen_ms = now;
    node.reports += 1;
    // Queued reports arrive oldest first; keep the newest summary.
    let at = |s: &Value| s.get("atMs").and_then(Value::as_i64).unwrap_or(0);
    if at(&v) >= at(&node.summary) {
        node.summary = v;
    }
    if let Err(e) = nodes.save_soon() {
        eprintln!("clawmetry: cannot save fleet nodes: {e}");
    }
    drop(nodes);
    ctx.index.hub.publish("fleet", json!({"nodeId": id, "event": "report"}));
    Ok(Resp::json(&json!({"ok": true})))
}

pub fn list(_req: &Req, ctx: &Ctx) -> Answer {
    let now = ctx.index.now_ms();
    let nodes = crate::sync::lock(&ctx.fleet);
    let mut totals = json!({"nodes": 0, "online": 0, "sessions": 0, "running": 0, "costToday": 0.0, "tokensToday": 0});
    let mut rows = Vec::new();
    for n in nodes.nodes.values() {
        let online = nodes.online(n, now);
        totals["nodes"] = json!(totals["nodes"].as_u64().unwrap_or(0) + 1);
        if online {
            totals["online"] = json!(totals["online"].as_u64().unwrap_or(0) + 1);
        }
        let s = &n.summary;
        totals["sessions"] = json!(totals["sessions"]
            .as_u64()
            .unwrap_or(0)
            .saturating_add(s["sessions"]["total"].as_u64().unwrap_or(0)));
        totals["running"] = json!(totals["running"]
            .as_u64()
            .unwrap_or(0)
            .saturating_add(s["sessions"]["running"].as_u64().unwrap_or(0)));
        // A node's figures are its own word: sums saturate and a cost is taken only when sane.
        totals["tokensToday"] = json!(totals["tokensToday"]
            .as_u64()
            .unwrap_or(0)
            .saturating_add(s["today"]["totalTokens"].as_u64().unwrap_or(0)));
        let cost = s["today"]["cost"].as_f64().filter(|c| c.is_finite() && (0.0..1e9).contains(c)).unwrap_or(0.0);
        totals["costToday"] = json!(crate::state::round_cost(totals["costToday"].as_f64().unwrap_or(0.0) + cost));
        let mut row = serde_json::to_value(n).unwrap_or(Value::Null);
        row["status"] = json!(if online { "online" } else { "offline" });
        row["missedReports"] = json!(((now - n.last_seen_ms) / (n.interval_seconds.max(1) * 1000)).max(0));
        // A node's report is another machine's data, shown as it came: redact it here.
        crate::redact::value(&mut row);
        rows.push(row);
    }
    drop(nodes);
    Ok(Resp::json(&json!({"fleetMode": ctx.fleet_key.is_some(), "nodes": rows, "totals": totals})))
}
