//! `GET /api/sessions` (filter, sort, paginate), `GET /api/sessions/<id>` and
//! `GET /api/subagents`.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::state::{round_cost, Fate, Session, State, Store};
use serde_json::{json, Value};

/// A session as every endpoint shows it.
pub fn summary(st: &State, s: &Session, now: i64) -> Value {
    let run = s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k));
    let status = s.status(now, run);
    let t = &s.tally;
    let parent_id = s.meta.parent_key.as_deref().and_then(|k| st.by_key.get(k)).cloned();
    let model = t.models.last().cloned().or_else(|| s.meta.model.clone());
    let first = s.first_ms();
    let last = s.last_ms();
    json!({
        "id": s.id,
        "agent": s.agent,
        "profile": st.profile_of(&s.agent),
        "key": s.meta.key,
        "kind": s.kind(),
        "label": s.meta.label.clone().or_else(|| run.and_then(|r| r.label.clone())),
        "channel": s.meta.channel,
        "model": model,
        "models": t.models,
        "status": status.status,
        "statusDetail": status.detail,
        "statusSource": status.source,
        "messages": t.user_messages + t.assistant_messages,
        "userMessages": t.user_messages,
        "assistantMessages": t.assistant_messages,
        "toolCalls": t.tool_calls,
        "toolResults": t.tool_results,
        "errors": t.errors(),
        "events": t.events,
        "tokens": {
            "input": t.usage.input,
            "output": t.usage.output,
            "cacheRead": t.usage.cache_read,
            "cacheWrite": t.usage.cache_write,
            "reasoning": t.usage.reasoning,
            "total": t.usage.total_tokens(),
        },
        "cost": round_cost(t.usage.cost),
        "estimatedCostCalls": t.estimated_cost_calls,
        "firstMs": first,
        "lastMs": last,
        "durationMs": match (first, last) { (Some(f), Some(l)) => Some(l - f), _ => None },
        "parentKey": s.meta.parent_key,
        "parentId": parent_id,
        "task": task(s, run.and_then(|r| r.task.as_deref())),
        "store": s.store,
        "state": s.fate().as_str(),
        "transcriptAvailable": s.store != Store::Ledger && s.store != Store::Otlp,
        "archive": s.archive.as_ref().map(|a| json!({"name": a.name, "reason": a.reason.as_str(), "createdMs": a.created_ms})),
        "tools": t.tools,
        "live": st.live_flag(s.meta.key.as_deref(), &s.id),
    })
}

/// A sub-agent's task: the run record's, else the `[Subagent Task]` part of its first message.
fn task(s: &Session, from_run: Option<&str>) -> Option<String> {
    if let Some(t) = from_run {
        return Some(t.to_string());
    }
    if s.kind() != "subagent" {
        return None;
    }
    let first = s.tally.first_user_text.as_deref()?;
    let body = match first.find("[Subagent Task]") {
        Some(i) => &first[i + "[Subagent Task]".len()..],
        None => first,
    };
    let body = body.trim();
    let body = body.split("\n\nBegin.").next().unwrap_or(body).trim();
    Some(body.to_string())
}

/// The numeric sort key of a session, read straight from the index (no JSON built).
fn sort_key(s: &Session, by: &str) -> f64 {
    let t = &s.tally;
    let opt = |v: Option<i64>| v.map_or(f64::MIN, |x| x as f64);
    match by {
        "cost" => t.usage.cost,
        "tokens" => t.usage.total_tokens() as f64,
        "started" | "first" => opt(s.first_ms()),
        "duration" => match (s.first_ms(), s.last_ms()) {
            (Some(f), Some(l)) => (l - f) as f64,
            _ => f64::MIN,
        },
        "errors" => t.errors() as f64,
        "messages" => (t.user_messages + t.assistant_messages) as f64,
        _ => opt(s.last_ms()),
    }
}

/// The text sort key of a session.
fn sort_text(s: &Session, by: &str, status: &str) -> String {
    match by {
        "label" => s.meta.label.clone().or_else(|| s.meta.key.clone()).unwrap_or_default().to_lowercase(),
        "agent" => s.agent.to_lowercase(),
        "model" => s.tally.models.last().cloned().or_else(|| s.meta.model.clone()).unwrap_or_default().to_lowercase(),
        _ => status.to_string(),
    }
}

const SORTS: [&str; 8] = ["last", "cost", "tokens", "started", "first", "duration", "errors", "messages"];

pub fn list(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 50, 1, 1000)? as usize;
    let offset = req.q_num("offset", 0, 0, i64::MAX)? as usize;
    let by = req.q("sort").unwrap_or("last");
    if !SORTS.contains(&by) && !["label", "agent", "model", "status"].contains(&by) {
        return Err(ApiError::bad_request(format!(
            "sort={by:?}: use one of last, cost, tokens, started, duration, errors, messages, label, agent, model, status"
        )));
    }
    let asc = match req.q("order") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => return Err(ApiError::bad_request(format!("order={o:?}: use asc or desc"))),
    };
    let agents: Vec<&str> = req.q("agent").map(|a| a.split(',').collect()).unwrap_or_default();
    let profiles: Vec<&str> = req.q("profile").map(|a| a.split(',').collect()).unwrap_or_default();
    let statuses: Vec<&str> = req.q("status").map(|a| a.split(',').collect()).unwrap_or_default();
    for s in &statuses {
        if !["running", "done", "failed"].contains(s) {
            return Err(ApiError::bad_request(format!("status={s:?}: use running, done or failed")));
        }
    }
    let mut fates: Vec<Fate> = Vec::new();
    for f in req.q("state").map(|a| a.split(',').collect::<Vec<_>>()).unwrap_or_default() {
        match Fate::parse(f) {
            Some(x) => fates.push(x),
            None => {
                return Err(ApiError::bad_request(format!("state={f:?}: use live, reset, archived, deleted or purged")))
            }
        }
    }
    let kinds: Vec<&str> = req.q("kind").map(|a| a.split(',').collect()).unwrap_or_default();
    for k in &kinds {
        if !["main", "subagent", "cron", "chat", "otlp", "top"].contains(k) {
            return Err(ApiError::bad_request(format!(
                "kind={k:?}: use main, subagent, cron, chat, otlp or top (all but sub-agents)"
            )));
        }
    }
    let q = req.q("q").map(str::to_lowercase);
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    // Filter and sort on the index itself; JSON is built for the page only.
    let mut rows: Vec<(&Session, &'static str)> = Vec::new();
    for s in st.sessions.values() {
        if !agents.is_empty() && !agents.contains(&s.agent.as_str()) {
            continue;
        }
        if !profiles.is_empty() && !profiles.contains(&st.profile_of(&s.agent)) {
            continue;
        }
        if !fates.is_empty() && !fates.contains(&s.fate()) {
            continue;
        }
        let kind = s.kind();
        if !kinds.is_empty() && !kinds.iter().any(|k| *k == kind || (*k == "top" && kind != "subagent")) {
            continue;
        }
        if let Some(q) = &q {
            let hay = [Some(&s.id), s.meta.key.as_ref(), s.meta.label.as_ref(), s.meta.channel.as_ref()]
                .into_iter()
                .flatten()
                .chain(s.tally.models.iter())
                .any(|h| h.to_lowercase().contains(q.as_str()));
            if !hay {
                continue;
            }
        }
        let status = s.status(now, s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k))).status;
        if !statuses.is_empty() && !statuses.contains(&status) {
            continue;
        }
        rows.push((s, status));
    }
    if SORTS.contains(&by) {
        rows.sort_by(|a, b| sort_key(a.0, by).total_cmp(&sort_key(b.0, by)).then_with(|| a.0.id.cmp(&b.0.id)));
    } else {
        rows.sort_by_cached_key(|(s, status)| (sort_text(s, by, status), s.id.clone()));
    }
    if !asc {
        rows.reverse();
    }
    let total = rows.len();
    let page: Vec<Value> = rows.iter().skip(offset).take(limit).map(|(s, _)| summary(&st, s, now)).collect();
    drop(st);
    Ok(Resp::json(&json!({"total": total, "offset": offset, "limit": limit, "sort": by,
        "order": if asc { "asc" } else { "desc" }, "sessions": page})))
}

/// One session with its parent and children.
pub fn one(_req: &Req, ctx: &Ctx, id: &str) -> Answer {
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let Some(s) = st.session(id) else {
        return Err(ApiError::not_found(&format!("session {id:?}")));
    };
    let mut v = summary(&st, s, now);
    let children: Vec<Value> = match s.meta.key.as_deref() {
        Some(k) => st
            .sessions
            .values()
            .filter(|c| c.meta.parent_key.as_deref() == Some(k))
            .map(|c| {
                json!({"id": c.id, "key": c.meta.key, "label": c.meta.label,
                "status": c.status(now, c.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k))).status})
            })
            .collect(),
        None => Vec::new(),
    };
    v["children"] = Value::Array(children);
    Ok(Resp::json(&v))
}

/// Sub-agent sessions, newest first, with task, parent, runtime, tokens and tools.
pub fn subagents(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 5000)? as usize;
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let mut rows: Vec<Value> = st
        .sessions
        .values()
        .filter(|s| s.kind() == "subagent")
        .map(|s| {
            let mut v = summary(&st, s, now);
            let parent = v["parentId"].as_str().and_then(|p| st.sessions.get(p));
            v["parentLabel"] = json!(parent.and_then(|p| p.meta.label.clone().or_else(|| p.meta.key.clone())));
            let run = s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k));
            v["run"] = json!(run);
            v
        })
        .collect();
    // Runs whose child transcript is not (or no longer) on disk still count as sub-agents.
    let known: std::collections::HashSet<&str> = st.sessions.values().filter_map(|s| s.meta.key.as_deref()).collect();
    for r in st.subagent_runs.values().filter(|r| !known.contains(r.child_key.as_str())) {
        rows.push(json!({"id": null, "key": r.child_key, "kind": "subagent", "label": r.label, "task": r.task,
            "status": match r.outcome.as_deref() { Some("ok") => "done", Some(_) => "failed", None => "running" },
            "statusSource": "sub-agent run record", "parentKey": r.requester_key,
            "parentId": r.requester_key.as_deref().and_then(|k| st.by_key.get(k)),
            "firstMs": r.created_ms, "lastMs": r.ended_ms, "model": r.model, "run": r}));
    }
    drop(st);
    let last = |v: &Value| v["lastMs"].as_f64().unwrap_or(f64::MIN);
    rows.sort_by(|a, b| last(b).total_cmp(&last(a)));
    let total = rows.len();
    rows.truncate(limit);
    Ok(Resp::json(&json!({"total": total, "subagents": rows})))
}
