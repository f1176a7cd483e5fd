//! `GET /api/sessions` (filter, sort, paginate; `?format=csv|json` exports every match),
//! `GET /api/sessions/<id>` and `GET /api/subagents`. A session's own export
//! (`/api/sessions/<id>/export`) is streamed from its transcript: `export.rs`.

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
    let model = t.models.last().map(|m| m.to_string()).or_else(|| s.meta.model.as_deref().map(str::to_string));
    let first = s.first_ms();
    let last = s.last_ms();
    json!({
        "id": s.id,
        "agent": s.agent,
        "profile": st.profile_of(&s.agent),
        "key": s.meta.key,
        "kind": s.kind(),
        "label": s.meta.label.as_deref().or_else(|| run.and_then(|r| r.label.as_deref())),
        "channel": s.meta.channel,
        "model": model,
        "models": t.models,
        "status": status.status,
        "statusDetail": status.detail,
        "statusSource": status.source,
        "messages": u64::from(t.user_messages) + u64::from(t.assistant_messages),
        "userMessages": t.user_messages,
        "assistantMessages": t.assistant_messages,
        "toolCalls": t.tool_calls,
        "toolResults": t.tool_results,
        "errors": t.errors(),
        "toolExitFailures": t.tool_exit_failures,
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
        "context": context_json(st, s),
        "live": st.live_flag(s.meta.key.as_deref(), &s.id),
        "guard": st.guard.get(&*s.id).map_or(Value::Null, |f| json!(f)),
    })
}

/// How full the session's context got, and its compactions.
pub fn context_json(st: &State, s: &Session) -> Value {
    let c = st.context_fill(s);
    json!({
        "maxPrompt": c.max_prompt, "model": c.model, "window": c.window.map(|w| w.0),
        "windowSource": c.window.map(|w| w.1), "percent": c.percent.map(|p| (p * 10.0).round() / 10.0),
        "compactions": s.tally.compactions, "compactedTokens": s.tally.compacted_tokens,
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
    Some(crate::model::subagent_task(s.tally.first_user_text.as_deref()?).to_string())
}

/// The numeric sort key of a session, read straight from the index (no JSON built).
fn sort_key(st: &State, s: &Session, by: &str) -> f64 {
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
        "messages" => (u64::from(t.user_messages) + u64::from(t.assistant_messages)) as f64,
        // How full the context got; an unknown window sorts after every known one.
        "context" => st.context_fill(s).percent.unwrap_or(f64::MIN),
        _ => opt(s.last_ms()),
    }
}

/// Whether `hay` contains `needle` (already lowercase) with case folded; ASCII text (most
/// keys, labels and model names) without an allocation.
fn contains_folded(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let n = needle.len();
        return n == 0 || hay.as_bytes().windows(n).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    }
    hay.to_lowercase().contains(needle)
}

/// The text sort key of a session.
fn sort_text(st: &State, s: &Session, by: &str, now: i64) -> String {
    match by {
        "label" => s.meta.label.as_deref().or(s.meta.key.as_deref()).unwrap_or("").to_lowercase(),
        "agent" => s.agent.to_lowercase(),
        "model" => s
            .tally
            .models
            .last()
            .map(|m| m.to_string())
            .or_else(|| s.meta.model.as_deref().map(str::to_string))
            .unwrap_or_default()
            .to_lowercase(),
        _ => st.status_of(s, now).status.to_string(),
    }
}

const SORTS: [&str; 9] = ["last", "cost", "tokens", "started", "first", "duration", "errors", "messages", "context"];

/// What a sessions list asks for: the filters and the order (`?agent=&profile=&status=&state=
/// &kind=&q=&sort=&order=`), validated.
struct Query<'r> {
    by: &'r str,
    asc: bool,
    agents: Vec<&'r str>,
    profiles: Vec<&'r str>,
    statuses: Vec<&'r str>,
    fates: Vec<Fate>,
    kinds: Vec<&'r str>,
    q: Option<String>,
}

fn query(req: &Req) -> Result<Query<'_>, ApiError> {
    let by = req.q("sort").unwrap_or("last");
    if !SORTS.contains(&by) && !["label", "agent", "model", "status"].contains(&by) {
        return Err(ApiError::bad_request(format!(
            "sort={by:?}: use one of last, cost, tokens, started, duration, errors, messages, context, label, agent, model, status"
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
    Ok(Query { by, asc, agents, profiles, statuses, fates, kinds, q })
}

/// The sessions that pass the filters, in order, with their status; on the index itself (no
/// JSON built).
/// The sessions matching `f`, in its order; only the first `keep` of them are in order (the
/// rest follow in no order: a page needs its rows sorted, the total only their count). A
/// session's status and kind are worked out only when a filter or the order needs them.
fn select<'s>(st: &'s State, f: &Query, now: i64, keep: usize) -> Vec<&'s Session> {
    let by = f.by;
    let mut rows: Vec<&Session> = Vec::new();
    for s in st.sessions.values() {
        if !f.agents.is_empty() && !f.agents.contains(&&*s.agent) {
            continue;
        }
        if !f.profiles.is_empty() && !f.profiles.contains(&st.profile_of(&s.agent)) {
            continue;
        }
        if !f.fates.is_empty() && !f.fates.contains(&s.fate()) {
            continue;
        }
        if !f.kinds.is_empty() {
            let kind = s.kind();
            if !f.kinds.iter().any(|k| *k == kind || (*k == "top" && kind != "subagent")) {
                continue;
            }
        }
        if let Some(q) = &f.q {
            let hay = [Some(&*s.id), s.meta.key.as_deref(), s.meta.label.as_deref(), s.meta.channel.as_deref()]
                .into_iter()
                .flatten()
                .chain(s.tally.models.iter().map(|m| &**m))
                .any(|h| contains_folded(h, q));
            if !hay {
                continue;
            }
        }
        if !f.statuses.is_empty() && !f.statuses.contains(&st.status_of(s, now).status) {
            continue;
        }
        rows.push(s);
    }
    if SORTS.contains(&by) {
        // Each key once (the context's needs a window lookup); ties by id. Descending is the
        // ascending order reversed, ties included.
        let mut keyed: Vec<(f64, &Session)> = rows.into_iter().map(|s| (sort_key(st, s, by), s)).collect();
        let asc = |a: &(f64, &Session), b: &(f64, &Session)| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id));
        let cmp = |a: &(f64, &Session), b: &(f64, &Session)| if f.asc { asc(a, b) } else { asc(b, a) };
        if keep < keyed.len() {
            // Only the page's rows are sorted: O(n) to find them.
            keyed.select_nth_unstable_by(keep, cmp);
            keyed[..keep].sort_by(cmp);
        } else {
            keyed.sort_by(cmp);
        }
        return keyed.into_iter().map(|(_, s)| s).collect();
    }
    rows.sort_by_cached_key(|s| (sort_text(st, s, by, now), s.id.clone()));
    if !f.asc {
        rows.reverse();
    }
    rows
}

pub fn list(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 50, 1, 1000)? as usize;
    let offset = req.q_num("offset", 0, 0, i64::MAX)? as usize;
    let f = query(req)?;
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let rows = select(&st, &f, now, offset.saturating_add(limit));
    let total = rows.len();
    let page: Vec<Value> = rows.iter().skip(offset).take(limit).map(|s| summary(&st, s, now)).collect();
    drop(st);
    Ok(Resp::json(&json!({"total": total, "offset": offset, "limit": limit, "sort": f.by,
        "order": if f.asc { "asc" } else { "desc" }, "sessions": page})))
}

/// Sessions in one export at most (`?format=`): far more than any installation seen.
pub const EXPORT_MAX: usize = 100_000;

/// `GET /api/sessions?format=csv|json` with the list's filters and sort: every matching session
/// (up to [`EXPORT_MAX`]) as a file to download. Built from the index, which keeps no text, so
/// it is a plain answer rather than a stream.
pub fn export(req: &Req, ctx: &Ctx) -> Answer {
    let csv = match req.q("format") {
        Some("csv") => true,
        Some("json") => false,
        Some(f) => return Err(ApiError::bad_request(format!("format={f:?}: use csv or json"))),
        None => return list(req, ctx),
    };
    let f = query(req)?;
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let rows = select(&st, &f, now, EXPORT_MAX);
    let total = rows.len();
    let mut body = Vec::new();
    if csv {
        body.extend_from_slice(
            b"id,key,agent,profile,kind,status,state,label,model,started,last,messages,toolCalls,errors,\
              input,output,cacheRead,cacheWrite,cost\r\n",
        );
        for s in rows.iter().take(EXPORT_MAX) {
            csv_row(&mut body, &st, s, st.status_of(s, now).status);
        }
    } else {
        let head = json!({"total": total, "sort": f.by, "order": if f.asc { "asc" } else { "desc" },
            "truncated": total > EXPORT_MAX});
        let head = serde_json::to_vec(&head).unwrap_or_default();
        // The object without its closing brace, then the sessions written one by one.
        body.extend_from_slice(&head[..head.len() - 1]);
        body.extend_from_slice(b",\"sessions\":[");
        for (i, s) in rows.iter().take(EXPORT_MAX).enumerate() {
            if i > 0 {
                body.push(b',');
            }
            let _ = serde_json::to_writer(&mut body, &summary(&st, s, now));
        }
        body.extend_from_slice(b"]}");
    }
    drop(st);
    let ext = if csv { "csv" } else { "json" };
    Ok(Resp {
        status: 200,
        content_type: if csv { "text/csv; charset=utf-8" } else { "application/json" },
        body,
        headers: vec![
            ("Content-Disposition", format!("attachment; filename=\"clawmetry-sessions.{ext}\"")),
            ("Cache-Control", "no-store".into()),
        ],
    })
}

fn csv_row(out: &mut Vec<u8>, st: &State, s: &Session, status: &str) {
    use super::usage::csv_field;
    use std::io::Write;
    let t = &s.tally;
    let iso = |v: Option<i64>| v.map(crate::timefmt::iso).unwrap_or_default();
    let model = t
        .models
        .last()
        .map(|m| m.to_string())
        .or_else(|| s.meta.model.as_deref().map(str::to_string))
        .unwrap_or_default();
    let label = s.meta.label.as_deref().map(crate::redact::text).unwrap_or_default();
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
        csv_field(&s.id),
        csv_field(s.meta.key.as_deref().unwrap_or("")),
        csv_field(&s.agent),
        csv_field(st.profile_of(&s.agent)),
        s.kind(),
        status,
        s.fate().as_str(),
        csv_field(&label),
        csv_field(&model),
        iso(s.first_ms()),
        iso(s.last_ms()),
        u64::from(t.user_messages) + u64::from(t.assistant_messages),
        t.tool_calls,
        t.errors(),
        t.usage.input,
        t.usage.output,
        t.usage.cache_read,
        t.usage.cache_write,
        round_cost(t.usage.cost),
    );
}

/// One session with its parent and children.
pub fn one(_req: &Req, ctx: &Ctx, id: &str) -> Answer {
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let Some(s) = st.session(id) else {
        return Err(ApiError::not_found(&format!("session {id:?}")));
    };
    let mut v = summary(&st, s, now);
    // The sub-agents the tree cost below counts (`State::children_of`), so that the list and
    // the sum agree.
    let children: Vec<Value> = st
        .children_of(&s.id)
        .into_iter()
        .filter_map(|c| st.sessions.get(c))
        .map(|c| {
            json!({"id": c.id, "key": c.meta.key, "label": c.meta.label,
            "status": c.status(now, c.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k))).status})
        })
        .collect();
    v["children"] = Value::Array(children);
    let (cost, sessions) =
        crate::spend::tree_cost(&s.id, &|id| st.sessions.get(id).map_or(0.0, |c| c.tally.usage.cost), &|id| {
            st.children_of(id)
        });
    v["treeCost"] = json!({"cost": round_cost(cost), "sessions": sessions,
        "method": "this session's cost plus that of every sub-agent it spawned, and theirs, each once"});
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
            v["parentLabel"] = json!(parent.and_then(|p| p.meta.label.as_deref().or(p.meta.key.as_deref())));
            let run = s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k));
            v["run"] = json!(run);
            v
        })
        .collect();
    // Runs whose child transcript is not (or no longer) on disk still count as sub-agents.
    let known: foldhash::HashSet<&str> = st.sessions.values().filter_map(|s| s.meta.key.as_deref()).collect();
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

#[cfg(test)]
mod tests {
    use super::contains_folded;

    #[test]
    fn search_folds_case_with_or_without_ascii() {
        assert!(contains_folded("Agent:Main:CRON:x", "cron"));
        assert!(contains_folded("anything", ""));
        assert!(!contains_folded("agent:main", "cron"));
        assert!(!contains_folded("cr", "cron"));
        assert!(contains_folded("Übersicht Cron", "übersicht"));
        assert!(contains_folded("ÜBERSICHT", "über"));
    }
}
